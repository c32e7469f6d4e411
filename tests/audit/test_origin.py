"""The log's origin is fixed when the log is created: a new NRM_BASE_URL leaves every signature valid."""

from __future__ import annotations

import io

import pytest
from flask import Flask
from flask.testing import FlaskClient

from nrm_api import config
from nrm_api.audit import bundle, origin, sequencer
from nrm_api.audit import log as audit_log
from nrm_api.extensions import db
from tests.audit.helpers import add_events, sequence
from tests.conftest import bearer, create_user, login_token

NEW_BASE_URL = "https://nrm.moved.example"


def _move(app: Flask, monkeypatch: pytest.MonkeyPatch) -> str:
    """Change the service's address the way an operator does: a new NRM_BASE_URL, the origin derived from it."""
    moved = config.from_environ({"NRM_BASE_URL": NEW_BASE_URL})
    monkeypatch.setitem(app.config, "BASE_URL", moved["BASE_URL"])
    monkeypatch.setitem(app.config, "AUDIT_ORIGIN", moved["AUDIT_ORIGIN"])
    monkeypatch.setitem(app.extensions, "nrm_settings", config.Settings.of(app.config))
    return str(moved["AUDIT_ORIGIN"])


def test_a_new_base_url_leaves_the_log_valid(app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
                                             ) -> None:
    add_events(5, label="before")
    sequence(checkpoint=True)
    add_events(3, label="unsigned-tail")
    sequence()
    created_with = app.config["AUDIT_ORIGIN"]
    assert _move(app, monkeypatch) != created_with

    assert audit_log.log_origin(db.session) == created_with
    report = audit_log.verify_live(db.session)
    assert report.valid, report.as_dict()
    add_events(4, label="after")
    sequence(checkpoint=True)
    report = audit_log.verify_live(db.session)
    assert report.valid, report.as_dict()
    newest = sequencer.latest_checkpoint(db.session)
    assert newest is not None and newest.note.startswith(created_with + "\n")
    assert {note.split("\n", 1)[0] for note in audit_log.checkpoint_notes(db.session)} == {created_with}

    token = login_token(client, create_user("auditor"))
    assert client.get("/api/v1/audit/verify", headers=bearer(token)).get_json()["valid"] is True
    assert client.get("/api/v1/audit/checkpoints", headers=bearer(token)).get_json()["origin"] == created_with


def test_the_offline_bundle_verifies_after_a_new_base_url(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    add_events(6, label="bundled")
    sequence(checkpoint=True)
    created_with = app.config["AUDIT_ORIGIN"]
    _move(app, monkeypatch)
    add_events(2, label="bundled-after")
    sequence(checkpoint=True)
    out = io.StringIO()
    audit_log.export_bundle(db.session, out)
    report = bundle.verify_file(io.StringIO(out.getvalue()), audit_log.public_keys())
    assert report.valid, report.as_dict()
    assert report.extra["origin"] == created_with


def test_the_first_run_fixes_the_configured_origin(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    fresh = origin.stored(db.session) is None
    add_events(1)
    sequence(checkpoint=True)
    stored = origin.stored(db.session)
    assert stored is not None
    if fresh:
        assert stored == app.config["AUDIT_ORIGIN"]
    moved = _move(app, monkeypatch)
    assert origin.fix(db.session, moved) == stored
