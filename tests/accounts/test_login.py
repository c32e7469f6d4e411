"""POST /api/v1/auth/login: argon2id passwords, single-use TOTP, lockout and flood limits."""

from __future__ import annotations

import time

from flask.testing import FlaskClient

from nrm_api.crypto.passwords import totp_now
from tests.conftest import audit_events, bearer, create_user, last_event

LOGIN = "/api/v1/auth/login"


def _attempt(client: FlaskClient, user: dict[str, str], password: str | None = None, otp: str | None = None,
             address: str = "10.0.0.1") -> tuple[int, dict[str, object], dict[str, str]]:
    body = {"username": user["username"], "password": password or user["password"]}
    if otp is not None:
        body["otp"] = otp
    response = client.post(LOGIN, json=body, environ_base={"REMOTE_ADDR": address})
    return response.status_code, response.get_json(), dict(response.headers)


def test_a_person_signs_in_and_reads_the_directory(client: FlaskClient) -> None:
    user = create_user("caseworker")
    status, body, headers = _attempt(client, user)
    assert status == 200
    assert body["token_type"] == "Bearer" and 0 < int(body["expires_in"]) <= 600  # type: ignore[call-overload]
    assert headers["Cache-Control"] == "no-store"
    event = last_event()
    assert (event.action, event.outcome, event.actor, event.agency) == (
        "auth:login", "allowed", f"user:{user['username']}", user["agency"])
    assert client.get("/api/v1/agencies", headers=bearer(str(body["access_token"]))).status_code == 200


def test_a_wrong_password_is_refused_and_audited_without_the_password(client: FlaskClient) -> None:
    user = create_user()
    status, body, _ = _attempt(client, user, password="not-the-password-123")
    assert status == 401
    assert body["type"] == "urn:nrm:problem:invalid-credentials"
    event = last_event()
    assert (event.outcome, event.reason) == ("denied", "bad_password")
    assert b"not-the-password-123" not in event.body


def test_an_unknown_user_gets_the_same_answer(client: FlaskClient) -> None:
    status, body, _ = _attempt(client, {"username": "nobody-here", "password": "whatever-password"})
    assert status == 401 and body["type"] == "urn:nrm:problem:invalid-credentials"
    event = last_event()
    assert (event.actor, event.reason) == ("anonymous", "unknown_user")
    assert b"nobody-here" not in event.body


def test_an_enrolled_user_needs_a_current_single_use_code(client: FlaskClient) -> None:
    user = create_user("auditor", totp=True)
    status, body, _ = _attempt(client, user)
    assert status == 401 and body["type"] == "urn:nrm:problem:otp-required"
    status, body, _ = _attempt(client, user, otp="000000" if totp_now(user["secret"]) != "000000" else "111111")
    assert status == 401 and last_event().reason == "bad_otp"
    code = totp_now(user["secret"])
    status, _, _ = _attempt(client, user, otp=code)
    assert status == 200
    status, _, _ = _attempt(client, user, otp=code)
    assert status == 401 and last_event().reason == "reused_otp"


def test_a_code_from_long_ago_is_refused(client: FlaskClient) -> None:
    user = create_user(totp=True)
    old = totp_now(user["secret"], at=time.time() - 3600)
    status, _, _ = _attempt(client, user, otp=old)
    assert status == 401


def test_repeated_failures_lock_the_account_even_for_the_right_password(client: FlaskClient) -> None:
    user = create_user()
    for _ in range(5):
        assert _attempt(client, user, password="wrong-password-xx")[0] == 401
    status, body, headers = _attempt(client, user)
    assert status == 401
    assert body["type"] == "urn:nrm:problem:account-locked"
    assert int(headers["Retry-After"]) > 0
    assert last_event().reason == "locked"


def test_a_flood_from_one_address_gets_429_with_retry_after(client: FlaskClient) -> None:
    users = [create_user() for _ in range(11)]
    for user in users[:10]:
        assert _attempt(client, user, password="wrong-password-xx", address="192.0.2.7")[0] == 401
    status, body, headers = _attempt(client, users[10], address="192.0.2.7")
    assert status == 429
    assert body["type"] == "urn:nrm:problem:rate-limited"
    assert int(headers["Retry-After"]) > 0
    assert last_event().reason == "rate_limited"
    assert _attempt(client, users[10], address="192.0.2.8")[0] == 200


def test_a_flood_on_one_account_from_many_addresses_gets_429(client: FlaskClient) -> None:
    user = create_user()
    for n in range(10):
        _attempt(client, user, password="wrong-password-xx", address=f"198.51.100.{n}")
    assert _attempt(client, user, address="198.51.100.200")[0] == 429


def test_every_attempt_is_audited(client: FlaskClient) -> None:
    user = create_user()
    before = len(audit_events(action="auth:login"))
    _attempt(client, user, password="wrong-password-xx")
    _attempt(client, user)
    assert len(audit_events(action="auth:login")) == before + 2


def test_malformed_login_bodies_are_422_problems(client: FlaskClient) -> None:
    response = client.post(LOGIN, json={"username": "x"})
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert "password" in str(response.get_json()["errors"])
    response = client.post(LOGIN, json={"username": "x", "password": "y", "extra": 1})
    assert response.status_code == 422
