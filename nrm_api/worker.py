"""A unit of background work in a daemon thread, woken after commits, or run in a process of its own.

Requests never run or wait for it: a commit only sets an event. On PostgreSQL a worker given a
channel also LISTENs on a connection of its own, so a commit in any process that NOTIFYs the channel
wakes it at once. The work itself is always found in the database: a notification is only a
wake-up, and the worker also runs on a timer and when it starts, so work whose notification was
missed, or that a process left when it died, is picked up all the same.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import closing

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
#: How often a listener looks up from its connection to see whether it should stop.
LISTEN_SECONDS = 1.0
#: How long a listener whose connection failed waits before it connects again (the timer runs meanwhile).
RECONNECT_SECONDS = 5.0


class Worker:
    """Runs ``work(session)`` in a thread started on first use, or in the foreground with ``run_forever``."""

    def __init__(self, app: Flask, interval: float, work: Callable[[Session], int], name: str,
                 channel: str | None = None) -> None:
        self.app = app
        self.interval = interval
        self.work = work
        self.name = name
        #: The PostgreSQL channel whose notifications wake this worker (``None``: commits here and the timer only).
        self.channel = channel
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
        """Run now, then when woken or every ``interval`` seconds, until SIGTERM or SIGINT (a process of its own)."""
        import logging.config
        import signal

        from .config import logging_config

        # a process of its own (``nrm-api serve`` starts it): its lines in the server's format, on stderr
        logging.config.dictConfig(logging_config(str(self.app.config.get("LOG_FORMAT", "json"))))

        def _stop(_signum: int, _frame: object) -> None:
            self.stopping.set()
            self.wake.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        self.wake.set()  # at once: what was committed while no worker ran
        # the loop in a thread of its own: a signal handler that sets an event the interrupted thread
        # itself was holding the lock of would wait for it for ever
        self.thread = threading.Thread(target=self._loop, name=self.name)
        self.thread.start()
        while self.thread.is_alive():
            self.thread.join(LISTEN_SECONDS)

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
        listener = self._listener()
        try:
            while not self.stopping.is_set():
                if self.wake.wait(self.interval):
                    # let the commits of the next moment join this run: one batch, not one run per commit
                    self.stopping.wait(min(GATHER_SECONDS, self.interval))
                self.wake.clear()  # before the run: a wake-up during it brings another
                if not self.stopping.is_set():
                    self.run_once()
        finally:
            if listener is not None:
                listener.join(LISTEN_SECONDS + 5)

    def _listener(self) -> threading.Thread | None:
        """Start listening on the channel, if there is one and the database is PostgreSQL (with psycopg)."""
        if self.channel is None:
            return None
        with self.app.app_context():
            from .extensions import db

            engine = self.engine() or db.engine
        if engine.dialect.name != "postgresql" or engine.dialect.driver != "psycopg":
            return None
        thread = threading.Thread(target=self._listen, args=(engine, self.channel), name=f"{self.name}-listen",
                                  daemon=True)
        thread.start()
        return thread

    def _listen(self, engine: Engine, channel: str) -> None:
        """Turn each notification on ``channel`` into a wake-up, until stopped; reconnect when the connection fails."""
        from psycopg import sql

        from .database import CONNECT_TIMEOUT_SECONDS

        while not self.stopping.is_set():
            try:
                cargs, cparams = engine.dialect.create_connect_args(engine.url)
                cparams.setdefault("connect_timeout", CONNECT_TIMEOUT_SECONDS)
                with closing(engine.dialect.connect(*cargs, **cparams)) as connection:
                    connection.autocommit = True
                    connection.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
                    self.wake.set()  # what was committed while not listening: one run finds it
                    while not self.stopping.is_set():
                        for _ in connection.notifies(timeout=LISTEN_SECONDS):
                            self.wake.set()
            except Exception as error:  # noqa: BLE001 - the timer goes on; the listener tries again
                logger.warning("%s: listening for commits failed (%s); polling until it reconnects", self.name,
                               type(error).__name__)
                self.stopping.wait(RECONNECT_SECONDS)

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
