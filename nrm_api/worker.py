"""A unit of background work in a daemon thread, woken after commits, or run in a process of its own.

Requests never run or wait for it: a commit only sets an event. The thread also runs on a timer,
so work left by a process that died is picked up by any other.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from flask import Flask
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

logger = logging.getLogger(__name__)
#: How long a woken worker waits for more commits before it runs.
GATHER_SECONDS = 0.05
#: Settings for a one-shot process (a CLI command): no sequencer or deliverer thread. Their own
#: processes do that work (``serve`` runs both); a thread here would race the command's own writes
#: for SQLite's write lock (``demo setup``'s seeding starved it into "database is locked") and die
#: mid-run when the command exits.
ONE_SHOT = {"AUDIT_SEQUENCER_INTERVAL": 0, "WEBHOOK_INTERVAL": 0}


class Worker:
    """Runs ``work(session)`` in a thread started on first use, or in the foreground with ``run_forever``."""

    def __init__(self, app: Flask, interval: float, work: Callable[[Session], int], name: str) -> None:
        self.app = app
        self.interval = interval
        self.work = work
        self.name = name
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None
        self.lock = threading.Lock()

    def notify(self) -> None:
        """Ask for a run soon (called after a commit that left work)."""
        if self.interval <= 0 or self.stopping.is_set():
            return
        if self.thread is None:
            with self.lock:
                if self.thread is None:
                    self.thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
                    self.thread.start()
        self.wake.set()

    def run_forever(self) -> None:
        """Run in the foreground every ``interval`` seconds until SIGTERM or SIGINT (a process of its own)."""
        import signal

        def _stop(_signum: int, _frame: object) -> None:
            self.stopping.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        while not self.stopping.is_set():
            self.run_once()
            self.stopping.wait(self.interval)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread after its current run (at shutdown, or when an app is thrown away)."""
        self.stopping.set()
        self.wake.set()
        if self.thread is not None:
            self.thread.join(timeout)

    def engine(self) -> Engine | None:
        """The engine to work on; ``None``: the app's."""
        return None

    def _loop(self) -> None:
        while not self.stopping.is_set():
            if self.wake.wait(self.interval):
                # let the commits of the next moment join this run: one batch, not one run per commit
                self.stopping.wait(min(GATHER_SECONDS, self.interval))
            self.wake.clear()
            if not self.stopping.is_set():
                self.run_once()

    def run_once(self) -> int:
        """One pass in a session of its own. Errors are logged by type, never raised: the work stays queued."""
        with self.app.app_context():
            from .extensions import db

            session = Session(self.engine() or db.engine)
            try:
                return self.work(session)
            except Exception as error:  # noqa: BLE001 - the thread must survive; the queue keeps the work
                logger.error("%s run failed: %s", self.name, type(error).__name__)
                return 0
            finally:
                session.close()
