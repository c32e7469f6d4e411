"""Cutting off a compromised principal: its tokens stop at once (issue 9, item 21)."""

from __future__ import annotations

from typing import Any

from click.testing import Result
from flask import Flask
from flask.testing import FlaskClient

from nrm_api.accounts import admin
from nrm_api.cli import main
from nrm_api.crypto.jose import generate_private_jwk, public_half
from tests.conftest import (
    OPERATOR,
    assertion,
    audit_events,
    bearer,
    client_token,
    create_client,
    create_user,
    last_event,
    login_token,
    token_form,
)

AGENCIES = "/api/v1/agencies"


def _run(app: Flask, *args: str) -> Result:
    return app.test_cli_runner().invoke(main, args=list(args))


def _works(client: FlaskClient, token: str) -> bool:
    status = client.get(AGENCIES, headers=bearer(token)).status_code
    assert status in (200, 401)
    return status == 200


def _audited(action: str, resource: str) -> None:
    event = audit_events(action=action)[-1]
    assert (event.outcome, event.resource) == ("allowed", resource) and event.actor.startswith("cli:")


def test_a_disabled_user_is_cut_off_and_cannot_sign_in(app: Flask, client: FlaskClient) -> None:
    user = create_user()
    token = login_token(client, user)
    assert _works(client, token)
    result = _run(app, "user", "disable", user["username"])
    assert result.exit_code == 0, result.output
    _audited("user:disable", f"user:{user['username']}")
    assert not _works(client, token)
    assert last_event().reason == "revoked_token"
    answer = client.post("/api/v1/auth/login", json={"username": user["username"], "password": user["password"]})
    assert answer.status_code == 401 and last_event().reason == "disabled"


def test_a_disabled_client_is_cut_off(app: Flask, client: FlaskClient) -> None:
    client_id, private = create_client()
    token = client_token(client, client_id, private)
    assert _works(client, token)
    assert _run(app, "client", "disable", client_id).exit_code == 0
    _audited("client:disable", f"client:{client_id}")
    assert not _works(client, token)
    assert client.post("/api/v1/auth/token", data=token_form(assertion(client_id, private))).status_code == 401


def test_revoking_the_key_that_signed_the_assertion_ends_its_tokens_only(app: Flask, client: FlaskClient) -> None:
    client_id, first = create_client()
    second = generate_private_jwk()
    admin.add_client_key(OPERATOR, client_id, public_half(second))
    by_first, by_second = client_token(client, client_id, first), client_token(client, client_id, second)
    result = _run(app, "client", "revoke-key", "--", client_id, first["kid"])
    assert result.exit_code == 0, result.output
    assert not _works(client, by_first)
    assert _works(client, by_second)


def test_tokens_revoke_ends_every_token_of_a_principal_but_not_new_sign_ins(app: Flask, client: FlaskClient) -> None:
    user = create_user()
    client_id, private = create_client()
    old_user, old_client = login_token(client, user), client_token(client, client_id, private)
    for principal in (f"user:{user['username']}", f"client:{client_id}"):
        result = _run(app, "tokens", "revoke", "--principal", principal)
        assert result.exit_code == 0, result.output
        _audited("tokens:revoke", principal)
    assert not _works(client, old_user) and not _works(client, old_client)
    assert _works(client, login_token(client, user))
    assert _works(client, client_token(client, client_id, private))


def test_a_device_token_dies_with_the_principals_tokens(app: Flask, client: FlaskClient) -> None:
    user = create_user()
    device = client.post("/api/v1/auth/login", json={"username": user["username"], "password": user["password"]}
                         ).get_json()["device_token"]
    assert _run(app, "tokens", "revoke", "--principal", f"user:{user['username']}").exit_code == 0
    answer = client.post("/api/v1/auth/login", json={"username": user["username"], "password": user["password"],
                                                     "device_token": device}).get_json()
    assert answer["device_token"] != device  # not recognised: a new one is issued


def _refused(app: Flask, *args: str, says: str, audited: bool = True) -> None:
    before = len(audit_events())
    result = _run(app, *args)
    assert result.exit_code != 0 and says in result.output and "Traceback" not in result.output, result.output
    # a domain refusal is audited by the command line's boundary; click's usage errors come before any work
    assert len(audit_events()) == before + int(audited)


def test_bad_input_is_a_clear_error_with_a_non_zero_exit(app: Flask) -> None:
    _refused(app, "user", "disable", "nobody-like-this", says="no user 'nobody-like-this'")
    _refused(app, "client", "disable", "no-such-client", says="no client 'no-such-client'")
    _refused(app, "tokens", "revoke", "--principal", "olga", says="user:USERNAME or client:CLIENT_ID")
    _refused(app, "tokens", "revoke", "--principal", "user:nobody-like-this", says="no user 'nobody-like-this'")
    _refused(app, "tokens", "revoke", says="Missing option '--principal'", audited=False)


def test_a_token_without_the_version_claim_is_refused(client: FlaskClient) -> None:
    from tests.accounts.test_access_tokens import _forge

    user = create_user()
    forged: dict[str, Any] = {"sub": f"user:{user['username']}", "agency": user["agency"]}
    assert not _works(client, _forge(forged))
    assert _works(client, _forge({**forged, "ver": 0}))


def test_the_check_on_every_request_is_one_query(client: FlaskClient) -> None:
    from sqlalchemy import event

    from nrm_api.extensions import db

    client_id, private = create_client()
    token = client_token(client, client_id, private)
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        assert _works(client, token)
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    checks = [sql for sql in statements if "revoked_tokens" in sql or "client_keys" in sql]
    assert len(checks) == 1 and "clients" in checks[0]
