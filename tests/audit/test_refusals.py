"""Unauthenticated refusals cannot flood the log: limited per address, repeats logged as one count."""

from __future__ import annotations

import json
from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, text, update

from nrm_api.audit import log as audit_log
from nrm_api.audit.models import AuditRefusalTally
from nrm_api.database import utcnow
from nrm_api.extensions import db
from tests.audit.helpers import sequence
from tests.audit.test_sequencer import _without_triggers
from tests.conftest import audit_events, bearer, create_user, login_token

ACTION = "request:authenticate"
BAD = bearer("not.a.token")


def _close_windows() -> None:
    """Let every counting window end, as a minute's wait would."""
    db.session.execute(update(AuditRefusalTally).values(window_started_at=utcnow() - timedelta(minutes=5)))
    db.session.commit()


def test_two_hundred_bad_tokens_are_limited_and_logged_as_one_count(app: Flask, client: FlaskClient) -> None:
    before = len(audit_events(action=ACTION))
    statuses = [client.get("/api/v1/forms", headers=BAD).status_code for _ in range(200)]
    assert statuses.count(401) == 60 and statuses.count(429) == 140
    limited = client.get("/api/v1/forms", headers=BAD)
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    events = audit_events(action=ACTION)[before:]
    assert [(e.reason, e.count, e.client_address) for e in events] == [("invalid_token", None, "127.0.0.1")]

    _close_windows()
    assert client.get("/api/v1/forms", headers=BAD).status_code == 401
    events = audit_events(action=ACTION)[before:]
    assert [(e.reason, e.count) for e in events] == [("invalid_token", None), ("invalid_token", 200),
                                                     ("invalid_token", None)]
    aggregate = json.loads(events[1].body)
    assert aggregate["count"] == 200 and aggregate["client_address"] == "127.0.0.1"
    assert "count" not in json.loads(events[0].body)  # a single refusal keeps the usual bytes
    sequence(checkpoint=True)
    report = audit_log.verify_live(db.session)
    assert report.valid, report.as_dict()


def test_reasons_and_addresses_are_counted_apart_and_closed_windows_are_swept(app: Flask,
                                                                            client: FlaskClient) -> None:
    before = len(audit_events(action=ACTION))
    elsewhere = {"REMOTE_ADDR": "192.0.2.7"}
    for _ in range(3):
        client.get("/api/v1/forms", headers=BAD)
        client.get("/api/v1/forms")
        client.get("/api/v1/forms", headers=BAD, environ_base=elsewhere)
    seen = {(e.client_address, e.reason, e.count) for e in audit_events(action=ACTION)[before:]}
    assert seen == {("127.0.0.1", "invalid_token", None), ("127.0.0.1", "missing_token", None),
                    ("192.0.2.7", "invalid_token", None)}
    _close_windows()
    client.get("/api/v1/forms", headers=BAD, environ_base=elsewhere)  # logs its own count and sweeps the others
    counts = {(e.client_address, e.reason): e.count for e in audit_events(action=ACTION)[before:] if e.count}
    assert counts == {("127.0.0.1", "invalid_token"): 2, ("127.0.0.1", "missing_token"): 2,
                      ("192.0.2.7", "invalid_token"): 2}
    left = db.session.scalars(select(AuditRefusalTally.address)).all()
    assert left == ["192.0.2.7"]  # a new window for the last one; the others' closed windows are gone
    assert audit_log.verify_live(db.session).valid


def test_an_auditor_reading_the_log_sees_every_closed_windows_count(app: Flask, client: FlaskClient) -> None:
    auditor = bearer(login_token(client, create_user("auditor")))
    for _ in range(5):
        client.get("/api/v1/forms", headers=BAD, environ_base={"REMOTE_ADDR": "198.51.100.9"})
    _close_windows()
    page = client.get(f"/api/v1/audit/events?action={ACTION}&limit=1000", headers=auditor).get_json()
    counted = [item for item in page["items"] if item["client_address"] == "198.51.100.9" and item["count"]]
    assert [item["count"] for item in counted] == [4]
    assert db.session.scalars(select(AuditRefusalTally)).all() == []


def test_a_forged_count_fails_verification(app: Flask, client: FlaskClient, backend: str) -> None:
    for _ in range(4):
        client.get("/api/v1/forms", headers=BAD)
    _close_windows()
    client.get("/api/v1/forms", headers=BAD)
    aggregate = next(e for e in audit_events(action=ACTION) if e.count == 3)
    sequence(checkpoint=True)
    assert audit_log.verify_live(db.session).valid
    _without_triggers(backend, "audit_events")
    db.session.execute(text("UPDATE audit_events SET count = 1 WHERE id = :id"), {"id": aggregate.id})
    report = audit_log.verify_live(db.session)
    assert (report.valid, report.problem) == (False, "altered")
    assert "count" in str(report.detail)
