"""One cursor codec for every list: forms and referrals by (moment, id), the audit log by position."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest

from nrm_api import paging
from nrm_api.errors import InvalidError


def test_both_kinds_of_cursor_round_trip_and_keep_the_audit_logs_format() -> None:
    moment = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    assert paging.decode(paging.encode(moment, "form-1")) == (moment, "form-1")
    assert paging.decode_after(paging.encode_after(41)) == 41
    # cursors handed out before the codec was shared still read the same
    earlier = base64.urlsafe_b64encode(json.dumps({"after": 7}).encode()).decode().rstrip("=")
    assert paging.decode_after(earlier) == 7


@pytest.mark.parametrize("cursor", ["not-a-cursor", "", "e30", paging.encode_after(-1), "WzFd",
                                    base64.urlsafe_b64encode(b'{"after": true}').decode(),
                                    base64.urlsafe_b64encode(b'{"after": "3"}').decode()])
def test_a_cursor_this_service_did_not_give_is_refused_by_both_decoders(cursor: str) -> None:
    with pytest.raises(InvalidError):
        paging.decode_after(cursor)
    with pytest.raises(InvalidError):
        paging.decode(cursor)
