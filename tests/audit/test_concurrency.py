"""Concurrent writers and sequencers: positions stay gapless and in commit order; no request waits."""

from __future__ import annotations

import itertools
import threading
import time
from pathlib import Path

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from nrm_api import create_app
from nrm_api.audit import events, sequencer
from nrm_api.audit import log as audit_log
from nrm_api.audit.actor import Actor
from nrm_api.audit.models import AuditEvent, AuditLeaf
from nrm_api.extensions import db
from tests.conftest import dispose, settings

WRITERS = 8
TRANSACTIONS = 20


def test_concurrent_writers_get_gapless_positions_in_commit_order(session_app: Flask) -> None:
    """Eight writers commit while a sequencer runs.

    Whenever one commit returned before another began, its events come first in the log.
    """
    ticks = itertools.count()
    timing: dict[str, tuple[int, int]] = {}
    errors: list[BaseException] = []
    stop = threading.Event()

    def writer(number: int) -> None:
        with session_app.app_context(), Session(db.engine) as session:
            try:
                for n in range(TRANSACTIONS):
                    marker = f"concurrency:{number}:{n}"
                    events.record(Actor(f"user:writer-{number}"), "test:event", "allowed", resource=marker,
                                   session=session)
                    begun = next(ticks)
                    session.commit()
                    timing[marker] = (begun, next(ticks))
            except BaseException as error:  # noqa: BLE001 - reported by the main thread
                errors.append(error)

    def sequencing() -> None:
        with session_app.app_context(), Session(db.engine) as session:
            while not stop.is_set():
                sequencer.run(session, audit_log.signer())
                time.sleep(0.005)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    runner = threading.Thread(target=sequencing)
    runner.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stop.set()
    runner.join()
    assert not errors
    with session_app.app_context(), Session(db.engine) as session:
        sequencer.run(session, audit_log.signer(), force_checkpoint=True)
        all_positions = list(session.scalars(select(AuditLeaf.seq).order_by(AuditLeaf.seq)))
        assert all_positions == list(range(len(all_positions)))
        rows = session.execute(select(AuditEvent.resource, AuditLeaf.seq).join(
            AuditLeaf, AuditLeaf.event_id == AuditEvent.id).where(AuditEvent.resource.like("concurrency:%"))).all()
        assert audit_log.verify_live(session).valid
    position = dict(rows)
    assert len(position) == WRITERS * TRANSACTIONS
    ordered = sorted(timing.items(), key=lambda item: item[1][1])
    for (first, (_, first_end)), (second, (second_begin, _)) in itertools.combinations(ordered, 2):
        if first_end < second_begin:
            assert position[first] < position[second], (first, second)


def test_the_app_sequences_in_the_background_after_commits(database_url: str, keyring_path: Path) -> None:
    app = create_app(settings(database_url, keyring_path, AUDIT_SEQUENCER_INTERVAL=0.05))
    try:
        with app.app_context():
            events.record(Actor("user:background"), "test:event", "allowed", resource="background:1")
            db.session.commit()
            event_id = db.session.scalar(select(AuditEvent.id).where(AuditEvent.resource == "background:1"))
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                found = db.session.scalar(select(AuditLeaf.seq).where(AuditLeaf.event_id == event_id))
                db.session.rollback()  # end the read before sleeping: on SQLite it holds the write lock
                if found is not None:
                    break
                time.sleep(0.05)
            else:
                raise AssertionError("the background sequencer did not give the event a position")
    finally:
        dispose(app)
