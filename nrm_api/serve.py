"""Serve the app with gunicorn, configured from code so ``nrm-api serve`` is all it takes.

Beside the workers run one sequencer process (``nrm-api audit sequence --loop``) and one webhook
deliverer (``nrm-api webhooks deliver --loop``): workers only insert audit events and outbox rows,
and a single process gives the events positions in batches. Several nodes may each
run one; the sequencer's lock row lets one work at a time. Only the sequencer process gets
``NRM_SEQUENCER_DATABASE_URL``: the web workers never hold the credentials that give positions.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from gunicorn.app.base import BaseApplication

#: Request line, status, size, time and request id: no headers, so no token reaches the log.
ACCESS_LOG_FORMAT = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(L)ss %({x-request-id}o)s'
#: How often the sequencer process looks for new events.
SEQUENCER_SECONDS = "0.2"
#: How often the webhook deliverer looks for due webhooks (retries; on SQLite, all of them): on
#: PostgreSQL each commit that writes to the outbox wakes it at once.
DELIVERER_SECONDS = "1"
#: Threads per worker (gthread): a connection that sends nothing holds a thread for at most a few
#: seconds (gunicorn >= 25.2 then parks it in its poller), never a whole worker as a sync worker would.
THREADS = 8
#: gunicorn's timings, in seconds. ``timeout``: a worker whose main loop is silent this long is
#: restarted; ``graceful_timeout``: on stop or reload, what requests and export streams in flight
#: get to finish; ``keepalive``: how long an idle kept-alive connection stays open (a reverse
#: proxy in front keeps its own upstream connections open for less).
TIMINGS = {"timeout": 30, "graceful_timeout": 30, "keepalive": 5}


class _Server(BaseApplication):  # type: ignore[misc]
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from . import create_app

        return create_app()


def options(host: str, port: int, workers: int, threads: int = THREADS) -> dict[str, Any]:
    """The gunicorn settings: threaded workers with bounded timings, the access log without headers."""
    return {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "gthread",
        "threads": threads,
        **TIMINGS,
        "accesslog": "-",
        "access_log_format": ACCESS_LOG_FORMAT,
        "limit_request_field_size": 16384,
        # no control socket: gunicorn opens one at a single path per user ($HOME/.gunicorn), which a
        # second server takes over, and nothing here uses it
        "control_socket_disable": True,
    }


def run(host: str, port: int, workers: int, threads: int = THREADS) -> None:
    """Serve on ``host:port`` until interrupted, with the sequencer process beside the workers."""
    sequencer = subprocess.Popen([sys.executable, "-m", "nrm_api.cli", "audit", "sequence", "--loop",  # noqa: S603
                                  SEQUENCER_SECONDS])
    os.environ.pop("NRM_SEQUENCER_DATABASE_URL", None)  # for the sequencer alone: not the deliverer, not the web
    deliverer = subprocess.Popen([sys.executable, "-m", "nrm_api.cli", "webhooks", "deliver", "--loop",  # noqa: S603
                                  DELIVERER_SECONDS])
    os.environ["NRM_AUDIT_SEQUENCER_INTERVAL"] = "0"  # the workers leave sequencing to that process
    os.environ["NRM_WEBHOOK_INTERVAL"] = "0"  # and webhooks to the deliverer
    try:
        _Server(options(host, port, workers, threads)).run()
    finally:
        for process in (sequencer, deliverer):
            process.terminate()
        for process in (sequencer, deliverer):
            process.wait(timeout=30)
