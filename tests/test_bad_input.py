"""Bad input that used to reach a 500 or slip through gets a clear 4xx and an audit event (issue 9, item 22)."""

from __future__ import annotations

import math
import uuid
from dataclasses import replace
from typing import Any

import pytest
from flask.testing import FlaskClient

from nrm_api.crypto.canonical import MAX_DEPTH, TooDeepError, loads_strict
from tests.conftest import assertion, audit_events, bearer, create_client, last_event, token_form
from tests.forms.helpers import agency


def _problem(response: object, status: int, slug: str) -> None:
    assert response.status_code == status, response.get_json()  # type: ignore[attr-defined]
    assert response.get_json()["type"] == f"urn:nrm:problem:{slug}"  # type: ignore[attr-defined]


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def test_nesting_is_bounded_without_exhausting_the_stack() -> None:
    assert loads_strict(_nested(MAX_DEPTH)) is not None
    for depth in (MAX_DEPTH + 1, 100_000):
        with pytest.raises(TooDeepError):
            loads_strict(_nested(depth))
    with pytest.raises(TooDeepError):
        loads_strict(b'{"a":' * 200_000 + b"1" + b"}" * 200_000)


def test_numbers_beyond_a_double_are_refused() -> None:
    for text in (b"1e400", b"-1e400", b"NaN", b"Infinity", b'{"exp": NaN}'):
        with pytest.raises(ValueError, match="not"):
            loads_strict(text)


@pytest.mark.parametrize("body", [_nested(100_000), b'{"a":' * 50_000 + b"1" + b"}" * 50_000, _nested(MAX_DEPTH + 1)])
def test_deeply_nested_json_is_a_400_and_audited(client: FlaskClient, body: bytes) -> None:
    ngo = agency(client)
    response = client.post("/api/v1/forms", data=body, content_type="application/json",
                           headers={**bearer(ngo.sdk.token()), "Idempotency-Key": str(uuid.uuid4())})
    _problem(response, 400, "json-too-deep")
    event = last_event()
    assert (event.action, event.outcome, event.reason) == ("request:refuse", "denied", "json_too_deep")


@pytest.mark.parametrize("claim", ["exp", "iat", "nbf"])
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_an_assertion_with_a_non_finite_time_gets_no_token(client: FlaskClient, claim: str, value: float) -> None:
    client_id, private = create_client()
    response = client.post("/api/v1/auth/token", data=token_form(assertion(client_id, private, **{claim: value})))
    assert response.status_code == 401, response.get_json()
    assert response.get_json()["error"] == "invalid_client"
    assert "access_token" not in response.get_json()
    event = last_event()
    assert (event.action, event.outcome, event.reason) == ("auth:token", "denied", "malformed")


@pytest.mark.parametrize("path", ["/api/v1/forms/{id}", "/api/v1/referrals/{id}", "/api/v1/referrals/{id}/history",
                                  "/api/v1/agencies/{id}", "/api/v1/forms/{id}/access-log"])
@pytest.mark.parametrize("length", [65, 196, 400])
def test_an_overlong_id_in_a_path_is_a_400_and_audited(client: FlaskClient, path: str, length: int) -> None:
    ngo = agency(client)
    before = len(audit_events(reason="id_too_long"))
    response = client.get(path.format(id="a" * length), headers=bearer(ngo.sdk.token()))
    _problem(response, 400, "invalid-id")
    assert len(audit_events(reason="id_too_long")) == before + 1
    assert last_event().resource is None


def test_an_overlong_id_in_a_signed_write_is_a_400_and_audited(client: FlaskClient) -> None:
    ngo = agency(client)
    response = client.post(f"/api/v1/referrals/{'r' * 250}/status", json={"status": "cancelled"},
                           headers={**bearer(ngo.sdk.token()), "If-Match": '"1"', "X-JWS-Signature": "x..y"})
    _problem(response, 400, "invalid-id")
    assert last_event().reason == "id_too_long"


def test_an_id_of_the_longest_allowed_length_is_simply_not_found(client: FlaskClient) -> None:
    ngo = agency(client)
    _problem(client.get(f"/api/v1/forms/{'a' * 64}", headers=bearer(ngo.sdk.token())), 404, "not-found")


def test_a_flood_of_refused_requests_is_one_event_and_then_429(client: FlaskClient, app: Any,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    lowered = replace(app.extensions["nrm_settings"], unauthenticated_limit=5)
    monkeypatch.setitem(app.extensions, "nrm_settings", lowered)
    answers = [client.post("/api/v1/forms", data=_nested(1000), content_type="application/json").status_code
               for _ in range(8)]
    ids = [client.get(f"/api/v1/forms/{'a' * 100}").status_code for _ in range(3)]
    assert answers == [400] * 5 + [429] * 3
    assert len(audit_events(reason="json_too_deep")) == 1
    assert ids == [400] * 3 and len(audit_events(reason="id_too_long")) == 1
