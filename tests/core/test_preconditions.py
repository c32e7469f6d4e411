"""If-Match, one rule for every versioned record (RFC 9110 §13.1.1): ``*`` matches any current representation."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from nrm_api import preconditions
from nrm_api.client import NrmError
from tests.conftest import audit_events
from tests.forms.helpers import adult
from tests.referrals.helpers import network


@pytest.mark.parametrize(("if_match", "matches"), [
    ('"3"', True), ("3", True), ("*", True), (" * ", True), ('"1", "3"', True),
    ('"4"', False), ('W/"3"', False), ('"1", "2"', False), ('"33"', False),
])
def test_if_match_names_the_current_etag_by_strong_comparison(if_match: str, matches: bool) -> None:
    assert preconditions.matches(preconditions.etag(3), if_match) is matches


@pytest.mark.parametrize("revision", [1, 2, 41, 2**31])
def test_an_etag_gives_back_its_revision(revision: int) -> None:
    assert preconditions.revision_of(preconditions.etag(revision)) == revision


def test_a_missing_or_blank_if_match_is_428_and_a_stale_one_412() -> None:
    for missing in (None, "", "  "):
        with pytest.raises(preconditions.IfMatchMissing) as caught:
            preconditions.check_if_match('"1"', missing)
        assert (caught.value.status, caught.value.reason) == (428, "precondition_required")
    with pytest.raises(preconditions.IfMatchStale) as stale:
        preconditions.check_if_match('"2"', '"1"')
    assert (stale.value.status, stale.value.reason) == (412, "stale_etag")


def test_if_match_star_changes_a_referral_a_form_and_a_transfer_alike(client: FlaskClient) -> None:
    net = network(client)
    form_id = net.ngo.sdk.submit_form(adult())["id"]
    referral_id = net.ngo.sdk.refer(form_id, net.moi.id, "identification")["id"]
    headers, body = net.moi.sdk.signed_write("POST", f"/api/v1/referrals/{referral_id}/status",
                                             {"status": "received"}, {"If-Match": "*"})
    assert body["status"] == "received" and headers["ETag"] == '"2"'
    headers, body = net.ngo.sdk.signed_write("PUT", f"/api/v1/forms/{form_id}", adult(), {"If-Match": "*"})
    assert body["version"] == 2
    with pytest.raises(NrmError) as weak:
        net.moi.sdk.signed_write("POST", f"/api/v1/referrals/{referral_id}/status", {"status": "accepted"},
                                 {"If-Match": 'W/"2"'})
    assert weak.value.status == 412
    # by resource: the race tests commit refusals of their own outside any test's transaction
    denied = audit_events(action="referral:update", outcome="denied", resource=f"referral:{referral_id}")
    assert [e.reason for e in denied] == ["stale_etag"]
