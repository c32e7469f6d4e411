"""POST /api/v1/auth/login: argon2id passwords, single-use TOTP, one answer, limits that lock nobody out."""

from __future__ import annotations

import time

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from nrm_api.accounts import admin, limits
from nrm_api.accounts.models import LoginThrottle
from nrm_api.crypto.passwords import totp_now
from nrm_api.extensions import db
from tests.conftest import OPERATOR, audit_events, bearer, create_user, last_event

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
    assert status == 401 and body["type"] == "urn:nrm:problem:invalid-credentials"
    assert last_event().reason == "otp_missing"
    status, body, _ = _attempt(client, user, otp=_wrong_code(user))
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


# --- issue 9, items 16, 17, 19: one answer, counted per account, address and device --------------


def _wrong_code(user: dict[str, str]) -> str:
    return "000000" if totp_now(user["secret"]) != "000000" else "111111"


def _without_instance(body: dict[str, object]) -> dict[str, object]:
    return {key: value for key, value in body.items() if key not in ("instance", "request_id")}


def test_an_unknown_account_gets_the_same_answers_as_a_real_one_all_the_way_to_429(client: FlaskClient) -> None:
    real = create_user()
    unknown = {"username": "no-such-person-here", "password": "wrong-password-xx"}
    for n in range(10):
        mine = _attempt(client, real, password="wrong-password-xx", address=f"198.51.100.{n}")
        theirs = _attempt(client, unknown, address=f"198.51.100.{n}")
        assert mine[0] == theirs[0] == 401
        assert _without_instance(mine[1]) == _without_instance(theirs[1])
    mine, theirs = _attempt(client, real, address="198.51.100.99"), _attempt(client, unknown, address="198.51.100.99")
    assert mine[0] == theirs[0] == 429
    assert _without_instance(mine[1]) == _without_instance(theirs[1])
    assert mine[1]["type"] == "urn:nrm:problem:rate-limited"
    assert abs(int(mine[2]["Retry-After"]) - int(theirs[2]["Retry-After"])) <= 2
    assert "account-locked" not in str(mine[1])


def test_every_kind_of_failure_gets_one_answer_and_each_is_counted(client: FlaskClient) -> None:
    enrolled = create_user("auditor", totp=True)
    disabled = create_user()
    admin.disable_user(OPERATOR, disabled["username"])
    tries = [
        (enrolled, {"password": "wrong-password-xx", "otp": totp_now(enrolled["secret"])}, "bad_password"),
        (enrolled, {}, "otp_missing"),
        (enrolled, {"otp": _wrong_code(enrolled)}, "bad_otp"),
        (disabled, {}, "disabled"),
        ({"username": "nobody-at-all", "password": "whatever-password"}, {}, "unknown_user"),
    ]
    answers = []
    for n, (user, change, reason) in enumerate(tries):
        status, body, _ = _attempt(client, user, password=change.get("password"), otp=change.get("otp"),
                                   address=f"203.0.113.{n}")
        assert (status, last_event().reason) == (401, reason)
        answers.append(_without_instance(body))
    assert all(answer == answers[0] for answer in answers)
    # missing, wrong and right-password-wrong-code attempts all count against the account
    for n in range(7):
        change = ({}, {"otp": _wrong_code(enrolled)}, {"password": "wrong-password-xx"})[n % 3]
        assert _attempt(client, enrolled, address=f"203.0.113.{20 + n}", **change)[0] == 401  # type: ignore[arg-type]
    status, body, _ = _attempt(client, enrolled, otp=totp_now(enrolled["secret"]), address="203.0.113.99")
    assert status == 429 and last_event().reason == "rate_limited"


def test_failures_from_one_address_slow_that_address_not_the_account(client: FlaskClient) -> None:
    user = create_user()
    for _ in range(limits.ACCOUNT_ADDRESS_LIMIT):
        assert _attempt(client, user, password="wrong-password-xx", address="192.0.2.50")[0] == 401
    status, body, headers = _attempt(client, user, address="192.0.2.50")
    assert status == 429 and int(headers["Retry-After"]) > 0
    assert _attempt(client, user, address="192.0.2.51")[0] == 200


def test_a_known_device_signs_in_through_a_flood_on_its_account(client: FlaskClient) -> None:
    user, other = create_user(), create_user()
    status, body, _ = _attempt(client, user)
    device = str(body["device_token"])
    for n in range(12):
        _attempt(client, user, password="wrong-password-xx", address=f"198.51.100.{n}")
    assert _attempt(client, user, address="192.0.2.60")[0] == 429
    answer = client.post(LOGIN, json={**_credentials(user), "device_token": device},
                         environ_base={"REMOTE_ADDR": "192.0.2.60"})
    assert answer.status_code == 200 and answer.get_json()["device_token"] == device
    # a device token is good for its own account only
    for n in range(10):
        _attempt(client, other, password="wrong-password-xx", address=f"198.51.100.{n}")
    answer = client.post(LOGIN, json={**_credentials(other), "device_token": device})
    assert answer.status_code == 429


def test_a_known_device_has_its_own_limit(client: FlaskClient) -> None:
    user = create_user()
    device = str(_attempt(client, user)[1]["device_token"])
    wrong = {"username": user["username"], "password": "wrong-password-xx", "device_token": device}
    for _ in range(limits.DEVICE_LIMIT):
        assert client.post(LOGIN, json=wrong).status_code == 401
    assert client.post(LOGIN, json={**_credentials(user), "device_token": device}).status_code == 429
    assert _attempt(client, user, address="192.0.2.70")[0] == 200  # the account itself is not locked


def test_one_address_failures_do_not_block_an_office(client: FlaskClient) -> None:
    office = "192.0.2.7"
    for user in [create_user() for _ in range(12)]:
        assert _attempt(client, user, password="wrong-password-xx", address=office)[0] == 401
    assert _attempt(client, create_user(), address=office)[0] == 200


def test_one_address_still_meets_a_much_higher_ceiling(client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    assert limits.ADDRESS_LIMIT >= 10 * limits.ACCOUNT_LIMIT
    monkeypatch.setattr(limits, "ADDRESS_LIMIT", 12)  # the real ceiling takes 100 password hashes to reach
    for n in range(12):
        assert _attempt(client, {"username": f"sprayed-{n}", "password": "wrong-password-xx"},
                        address="192.0.2.80")[0] == 401
    status, body, headers = _attempt(client, create_user(), address="192.0.2.80")
    assert status == 429 and int(headers["Retry-After"]) > 0


def test_a_flood_on_one_account_from_many_addresses_gets_429(client: FlaskClient) -> None:
    user = create_user()
    for n in range(10):
        _attempt(client, user, password="wrong-password-xx", address=f"198.51.100.{n}")
    assert _attempt(client, user, address="198.51.100.200")[0] == 429


def test_no_typed_username_or_address_is_stored_by_the_limits(client: FlaskClient) -> None:
    _attempt(client, {"username": "my-password-typed-here", "password": "x-password"}, address="192.0.2.90")
    stored = " ".join(f"{row.key} {row.stamps}" for row in db.session.scalars(select(LoginThrottle)))
    assert stored and "my-password-typed-here" not in stored and "192.0.2.90" not in stored


def _credentials(user: dict[str, str]) -> dict[str, str]:
    return {"username": user["username"], "password": user["password"]}


def test_every_attempt_is_audited(client: FlaskClient) -> None:
    user = create_user()
    before = len(audit_events(action="auth:login"))
    _attempt(client, user, password="wrong-password-xx")
    _attempt(client, user)
    for _ in range(6):
        _attempt(client, user, password="wrong-password-xx")
    assert len(audit_events(action="auth:login")) == before + 8
    assert [event.reason for event in audit_events(action="auth:login")][-3:] == [
        "bad_password", "rate_limited", "rate_limited"]


def test_malformed_login_bodies_are_422_problems(client: FlaskClient) -> None:
    response = client.post(LOGIN, json={"username": "x"})
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert "password" in str(response.get_json()["errors"])
    response = client.post(LOGIN, json={"username": "x", "password": "y", "extra": 1})
    assert response.status_code == 422


def test_windows_nobody_touched_for_15_minutes_are_swept(app: object) -> None:
    from datetime import timedelta

    from nrm_api.accounts.throttle_store import _sweep
    from nrm_api.database import utcnow

    now = utcnow()
    db.session.add_all([LoginThrottle(key="a" * 64, stamps=[], updated_at=now - timedelta(minutes=16)),
                        LoginThrottle(key="b" * 64, stamps=[], updated_at=now - timedelta(minutes=14))])
    db.session.commit()
    _sweep(db.session, now.timestamp())
    left = set(db.session.scalars(select(LoginThrottle.key).where(LoginThrottle.key.in_(["a" * 64, "b" * 64]))))
    assert left == {"b" * 64}
