"""Fail closed: when the audit event cannot be written, the request fails and nothing is committed or sent."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, text

from nrm_api.accounts.models import User
from nrm_api.agencies.models import Agency
from nrm_api.extensions import db
from tests.conftest import bearer, create_agency, create_user, login_token


def _break_audit_inserts(backend: str) -> None:
    """A real fault in the database: inserts into the audit table fail (undone with the test's transaction)."""
    if backend == "postgresql":
        db.session.execute(text(
            "CREATE FUNCTION nrm_test_refuse() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'injected audit fault'; END $$"))
        db.session.execute(text("CREATE TRIGGER nrm_test_fault BEFORE INSERT ON audit_events "
                                "FOR EACH ROW EXECUTE FUNCTION nrm_test_refuse()"))
    else:
        db.session.execute(text("CREATE TEMP TRIGGER nrm_test_fault BEFORE INSERT ON main.audit_events "
                                "BEGIN SELECT RAISE(ABORT, 'injected audit fault'); END"))


def test_a_write_whose_event_cannot_be_written_is_not_committed(app: Flask, client: FlaskClient,
                                                                backend: str) -> None:
    token = login_token(client, create_user("network_admin"))
    _break_audit_inserts(backend)
    body = {"id": "shelter-mogilev", "kind": "ngo", "name": {"en": "M", "ru": "M", "be": "M"}}
    response = client.post("/api/v1/agencies", json=body, headers=bearer(token))
    assert response.status_code == 500
    assert response.mimetype == "application/problem+json"
    assert db.session.get(Agency, "shelter-mogilev") is None


def test_a_read_whose_event_cannot_be_written_discloses_nothing(app: Flask, client: FlaskClient,
                                                                backend: str) -> None:
    agency = create_agency()
    token = login_token(client, create_user())
    _break_audit_inserts(backend)
    response = client.get(f"/api/v1/agencies/{agency}", headers=bearer(token))
    assert response.status_code == 500
    assert agency not in response.get_data(as_text=True)


def test_no_token_is_issued_without_its_event(app: Flask, client: FlaskClient, backend: str) -> None:
    user = create_user()
    _break_audit_inserts(backend)
    response = client.post("/api/v1/auth/login", json={"username": user["username"], "password": user["password"]})
    assert response.status_code == 500
    assert "access_token" not in response.get_data(as_text=True)
    stored = db.session.scalar(select(User).where(User.username == user["username"]))
    assert stored is not None and stored.totp_last_step is None


def test_an_admin_command_whose_event_cannot_be_written_changes_nothing(app: Flask, backend: str) -> None:
    from nrm_api.cli import main

    before = db.session.scalar(select(func.count()).select_from(Agency))
    _break_audit_inserts(backend)
    with pytest.raises(Exception, match="injected audit fault"):
        app.test_cli_runner().invoke(main, ["agency", "add", "x-agency", "--kind", "ngo", "--name", "X"],
                                     catch_exceptions=False)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Agency)) == before
