"""The sequencer inside the app: a ``Worker`` per process, woken after each audited commit.

It connects as ``NRM_SEQUENCER_DATABASE_URL`` when that is set: on PostgreSQL a member of
``nrm_sequencer``, the only role that may give positions, sign checkpoints and empty the queue.
``nrm-api serve`` hands that URL to its sequencer process alone, never to the web workers.
"""

from __future__ import annotations

from flask import Flask, current_app
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from ..database import make_engine
from ..worker import Worker
from . import log as audit_log
from . import sequencer

ENGINE = "nrm_sequencer_engine"


def engine() -> Engine:
    """The sequencer's engine in the current app: its own connection if configured, the app's otherwise."""
    from ..extensions import db

    url = current_app.config.get("SEQUENCER_DATABASE_URL")
    if not url:
        return db.engine
    found: Engine | None = current_app.extensions.get(ENGINE)
    if found is None:
        found = current_app.extensions.setdefault(ENGINE, make_engine(url, pool_pre_ping=True))
    return found


def dispose(app: Flask) -> None:
    """Close the sequencer's own connections, if it has any."""
    own: Engine | None = app.extensions.pop(ENGINE, None)
    if own is not None:
        own.dispose()


def _sequence(session: Session) -> int:
    return sequencer.run(session, audit_log.signer())


class Background(Worker):
    """Runs ``sequencer.run``: in a daemon thread, or in the foreground (``nrm-api audit sequence --loop``)."""

    def __init__(self, app: Flask, interval: float) -> None:
        super().__init__(app, interval, _sequence, "nrm-audit-sequencer")

    def engine(self) -> Engine:
        """The sequencer's connection."""
        return engine()
