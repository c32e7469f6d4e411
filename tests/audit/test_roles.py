"""The log's own integrity on PostgreSQL: the web role only inserts, the sequencer has a role and a lock of its own.

And on both backends: verification names any committed event with neither a position nor a
queue entry, the trace of a queue entry made to vanish.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DatabaseError
from sqlalchemy.orm import Session

from nrm_api import create_app
from nrm_api.audit import background, sequencer
from nrm_api.audit import log as audit_log
from nrm_api.audit.models import AuditQueue
from nrm_api.crypto.jose import verify_jwt
from nrm_api.extensions import db
from nrm_api.migrate import upgrade
from tests.audit.helpers import add_events, sequence
from tests.conftest import audit_events, create_agency, dispose, settings
from tests.forms.helpers import adult
from tests.serving import call, serve

LOCK = "SELECT id FROM audit_sequencer_lock WHERE id = 1 FOR UPDATE SKIP LOCKED"


@pytest.fixture
def postgres(backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("roles and grants exist on PostgreSQL only")


def _refused(statement: str) -> None:
    with pytest.raises(DatabaseError, match="permission denied"), db.session.begin_nested():
        db.session.execute(text(statement))


@pytest.mark.usefixtures("postgres")
@pytest.mark.parametrize("statement", [
    "DELETE FROM audit_queue",
    "UPDATE audit_queue SET event_id = event_id",
    LOCK,
    "INSERT INTO audit_leaves (seq, event_id, leaf_hash, signature) SELECT 100000, id, '', '' FROM audit_events "
    "LIMIT 1",
    "INSERT INTO audit_checkpoints (tree_size, root_hash, note, created_at) VALUES (100000, '', 'forged', now())",
    "INSERT INTO audit_nodes (level, index, hash) VALUES (30, 0, '')",
    "INSERT INTO audit_log (id, origin, created_at) VALUES (2, 'forged', now())",
])
def test_the_web_role_may_not_touch_what_only_the_sequencer_does(statement: str) -> None:
    add_events(1, label="queued")
    db.session.execute(text("SET ROLE nrm_app"))  # undone with the test's transaction
    _refused(statement)


@pytest.mark.usefixtures("postgres")
def test_the_web_role_cannot_run_the_sequencer_nor_stall_it_with_the_old_advisory_lock() -> None:
    add_events(2, label="queued")
    db.session.execute(text("SET ROLE nrm_app"))
    with pytest.raises(DatabaseError, match="permission denied"), db.session.begin_nested():
        sequencer.run(db.session, audit_log.signer())
    # the advisory lock the sequencer took before: anyone may take it, and it no longer stops a run
    db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": 0x6E726D5F6C6F67})
    db.session.execute(text("RESET ROLE"))
    db.session.execute(text("SET ROLE nrm_sequencer"))
    assert sequencer.run(db.session, audit_log.signer()) >= 2


def test_a_queue_entry_for_a_sequenced_event_does_not_stop_the_sequencer(app: Flask, backend: str) -> None:
    add_events(2, label="once")
    sequence(checkpoint=True)
    again = audit_events(resource="once:0")[0]
    if backend == "postgresql":
        db.session.execute(text("SET ROLE nrm_app"))  # the web role may insert queue entries
    db.session.add(AuditQueue(event_id=again.id))
    db.session.flush()
    if backend == "postgresql":
        db.session.execute(text("RESET ROLE"))
    add_events(1, label="after")
    assert sequence(checkpoint=True) == 1
    report = audit_log.verify_live(db.session)
    assert report.valid and report.extra["pending"] == 0, report.as_dict()


@pytest.mark.usefixtures("postgres")
@pytest.mark.parametrize("statement", [
    "INSERT INTO audit_events (occurred_at, actor, action, fields, outcome, body, sha256) "
    "VALUES (now(), 'x', 'x', '[]', 'allowed', '', '')",
    "DELETE FROM audit_leaves", "UPDATE audit_log SET origin = 'forged'", "DELETE FROM audit_events",
])
def test_the_sequencer_role_gives_positions_and_nothing_else(statement: str) -> None:
    add_events(1)
    db.session.execute(text("SET ROLE nrm_sequencer"))
    sequence(checkpoint=True)
    with pytest.raises(DatabaseError, match="permission denied|append-only"), db.session.begin_nested():
        db.session.execute(text(statement))


def test_verification_names_an_event_whose_queue_entry_vanished(app: Flask) -> None:
    add_events(3, label="kept")
    sequence(checkpoint=True)
    add_events(1, label="read-to-hide")
    hidden = audit_events(resource="read-to-hide:0")[0]
    assert audit_log.verify_live(db.session).valid  # pending, and accounted for
    db.session.query(AuditQueue).filter(AuditQueue.event_id == hidden.id).delete()  # as the owner could
    db.session.commit()
    report = audit_log.verify_live(db.session)
    assert not report.valid
    assert report.problem == "unsequenced"
    assert report.extra["unsequenced"] == 1
    assert report.extra["unsequenced_events"] == [hidden.sha256]
    sequence(checkpoint=True)  # later runs cannot hide it either
    assert audit_log.verify_live(db.session).problem == "unsequenced"


# --- the roles as a deployment logs in with them: a login per role, a database of its own ---------------------


@pytest.fixture
def deployment(backend: str, database_url: str, keyring_path: Path) -> Iterator[dict[str, str]]:
    """A fresh database and two login roles: a member of ``nrm_app`` (web), one of ``nrm_sequencer``."""
    if backend != "postgresql":
        pytest.skip("roles and grants exist on PostgreSQL only")
    server = make_url(database_url)
    suffix = uuid.uuid4().hex[:10]
    name, web, seq = f"nrm_roles_{suffix}", f"nrm_t_web_{suffix}", f"nrm_t_seq_{suffix}"
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
        connection.execute(text(f"CREATE ROLE {web} LOGIN"))
        connection.execute(text(f"CREATE ROLE {seq} LOGIN"))
    upgrade(server.set(database=name).render_as_string(hide_password=False))
    with admin.connect() as connection:
        connection.execute(text(f"GRANT nrm_app TO {web}"))
        connection.execute(text(f"GRANT nrm_sequencer TO {seq}"))
    try:
        yield {"web": server.set(database=name, username=web).render_as_string(hide_password=False),
               "sequencer": server.set(database=name, username=seq).render_as_string(hide_password=False)}
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(text(f"DROP ROLE IF EXISTS {web}"))
            connection.execute(text(f"DROP ROLE IF EXISTS {seq}"))
        admin.dispose()


def test_the_sequencer_connects_as_its_own_role(deployment: dict[str, str], keyring_path: Path) -> None:
    app = create_app(settings(deployment["web"], keyring_path, SEQUENCER_DATABASE_URL=deployment["sequencer"]))
    try:
        with app.app_context():
            create_agency()
            web = Session(db.engine)
            with pytest.raises(DatabaseError, match="permission denied"):
                web.execute(text("DELETE FROM audit_queue"))
            web.rollback()
            with pytest.raises(DatabaseError, match="permission denied"):
                sequencer.run(web, audit_log.signer())
            web.close()
            assert app.extensions["nrm_audit_background"].run_once() >= 1
            assert background.engine().url.username == make_url(deployment["sequencer"]).username
            check = Session(db.engine)
            report = audit_log.verify_live(check)
            check.close()
            assert report.valid and report.events_checked >= 1 and report.extra["pending"] == 0, report.as_dict()
    finally:
        background.dispose(app)
        dispose(app)


@pytest.fixture
def logins(database_url: str) -> Iterator[tuple[str, str]]:
    """Two login roles, a member of ``nrm_app`` (web) and one of ``nrm_sequencer``, dropped after."""
    if make_url(database_url).get_backend_name() != "postgresql":
        pytest.skip("roles and grants exist on PostgreSQL only")
    suffix = uuid.uuid4().hex[:10]
    web, seq = f"nrm_t_web_{suffix}", f"nrm_t_seq_{suffix}"
    admin = create_engine(make_url(database_url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE ROLE {web} LOGIN IN ROLE nrm_app"))
        connection.execute(text(f"CREATE ROLE {seq} LOGIN IN ROLE nrm_sequencer"))
    try:
        yield web, seq
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP ROLE IF EXISTS {web}"))
            connection.execute(text(f"DROP ROLE IF EXISTS {seq}"))
        admin.dispose()


def test_serve_gives_the_sequencer_role_to_its_sequencer_process_alone(logins: tuple[str, str],
                                                                        tmp_path: Path) -> None:
    web, seq = logins

    def as_roles(url: str) -> dict[str, str]:
        return {"NRM_DATABASE_URL": make_url(url).set(username=web).render_as_string(hide_password=False),
                "NRM_SEQUENCER_DATABASE_URL": make_url(url).set(username=seq).render_as_string(hide_password=False)}

    with serve("postgresql", tmp_path, workers=1, systems=1, extra_env=as_roles) as server:
        receipt = server.sdk(0).submit_form(adult())["receipt"]  # the web role writes the form and its event
        event = verify_jwt(receipt, server.sdk(0).jwks())[1]["event"]
        engine = create_engine(server.database_url)
        try:
            position = None
            deadline = time.monotonic() + 60
            while position is None and time.monotonic() < deadline:
                with engine.connect() as connection:
                    position = connection.scalar(text(
                        "SELECT l.seq FROM audit_leaves l JOIN audit_events e ON e.id = l.event_id "
                        "WHERE e.sha256 = :event"), {"event": event})
                    users = set(connection.scalars(text(
                        "SELECT usename FROM pg_stat_activity WHERE datname = current_database()")))
                time.sleep(0.2)
        finally:
            engine.dispose()
        assert position is not None, "the sequencer process did not sequence the event"
        assert seq in users and web in users
        assert "run failed" not in server.server_errors()
        verified = server.cli("audit", "verify")  # as the web role: it reads the whole log
        assert verified.returncode == 0, verified.stderr
        assert '"valid": true' in verified.stdout
        status, metrics = call(f"{server.base}/metrics")  # the web role reads the queue and outbox it counts
        assert status == 200 and "nrm_database_up 1.0" in metrics and "nrm_audit_queue_depth " in metrics
