"""The sequencer inside the app: a ``Worker`` per process, woken after each audited commit."""

from __future__ import annotations

from flask import Flask
from sqlalchemy.orm import Session

from ..worker import Worker
from . import log as audit_log
from . import sequencer


def _sequence(session: Session) -> int:
    return sequencer.run(session, audit_log.signer())


class Background(Worker):
    """Runs ``sequencer.run``: in a daemon thread, or in the foreground (``nrm-api audit sequence --loop``)."""

    def __init__(self, app: Flask, interval: float) -> None:
        super().__init__(app, interval, _sequence, "nrm-audit-sequencer")
