"""Making a real log to test: events committed, sequenced and checkpointed."""

from __future__ import annotations

from sqlalchemy.orm import Session

from nrm_api.audit import events, sequencer
from nrm_api.audit import log as audit_log
from nrm_api.audit.actor import Actor
from nrm_api.extensions import db

WRITER = Actor("user:log-writer", "moi", "caseworker", "req-1", "127.0.0.1")


def add_events(count: int, session: Session | None = None, label: str = "test") -> None:
    """Commit ``count`` events, one transaction each."""
    session = session or db.session
    for n in range(count):
        events.record(WRITER, "test:event", "allowed", resource=f"{label}:{n}", session=session)
        session.commit()


def sequence(session: Session | None = None, checkpoint: bool = False) -> int:
    """Run the sequencer to the end of the queue."""
    return sequencer.run(session or db.session, audit_log.signer(), force_checkpoint=checkpoint)


def build_log() -> int:
    """A log whose last 50 positions are: 20 events, a checkpoint, 20, a checkpoint, 10 unsigned.

    Returns the size before them, so positions can be named relative to it.
    """
    sequence(checkpoint=True)
    base = sequencer.size(db.session)
    add_events(20, label="a")
    sequence(checkpoint=True)
    add_events(20, label="b")
    sequence(checkpoint=True)
    add_events(10, label="c")
    sequence()
    return base
