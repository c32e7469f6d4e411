"""Serve the app with gunicorn, configured from code so ``nrm-api serve`` is all it takes.

Beside the workers run one sequencer process (``nrm-api audit sequence --loop``) and one webhook
deliverer (``nrm-api webhooks deliver --loop``): workers only insert audit events and outbox rows,
and a single process gives the events positions in batches. Several nodes may each
run one; the sequencer's lock row lets one work at a time. Only the sequencer process gets
``NRM_SEQUENCER_DATABASE_URL``: the web workers never hold the credentials that give positions.
``nrm-api serve --no-background`` (or ``NRM_SERVE_BACKGROUND=0``) starts neither, for deployments that
run them as services of their own; ``deploy/gunicorn.conf.py`` gives gunicorn these same settings.

Metrics: the workers count into ``PROMETHEUS_MULTIPROC_DIR`` (prometheus-client's multiprocess
mode), which ``run`` empties at start, or creates private (mode 0700) when unset and removes at the
end; a worker that exits is marked dead there (``child_exit``). Logs: one line per request from the
app (``nrm_api.requests``) on standard output, everything else on standard error, as JSON objects
(``NRM_LOG_FORMAT=json``, the default) or plain text; gunicorn's own access log is off, as it would
write each path as requested, ids and all.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication

from .config import logging_config

#: The variable prometheus-client's multiprocess mode reads (in each worker, before its first import).
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
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


def _worker_exited(_server: Any, worker: Any) -> None:
    """Gunicorn's ``child_exit``: a dead worker's live gauges leave the multiprocess files."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


def options(host: str, port: int, workers: int, threads: int = THREADS, log_format: str = "json") -> dict[str, Any]:
    """The gunicorn settings: threaded workers with bounded timings, the app's own request log."""
    return {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "gthread",
        "threads": threads,
        **TIMINGS,
        "accesslog": None,  # the app logs each request (observe): route templates, never paths with ids
        "errorlog": "-",
        "logconfig_dict": logging_config(log_format),
        "child_exit": _worker_exited,
        "limit_request_field_size": 16384,
        # no control socket: gunicorn opens one at a single path per user ($HOME/.gunicorn), which a
        # second server takes over, and nothing here uses it
        "control_socket_disable": True,
    }


def metrics_folder() -> tuple[Path, bool]:
    """The multiprocess folder, emptied (``PROMETHEUS_MULTIPROC_DIR``) or new and private; whether it is ours."""
    given = os.environ.get(MULTIPROC_ENV)
    if not given:
        folder = Path(tempfile.mkdtemp(prefix="nrm-metrics-"))  # mode 0700
        os.environ[MULTIPROC_ENV] = str(folder)
        return folder, True
    folder = Path(given)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):  # a previous run's counts (its workers' pids may be reused)
        stale.unlink()
    return folder, False


def web_environment(environ: MutableMapping[str, str] = os.environ) -> None:
    """Make ``environ`` the web workers': no sequencer credentials, sequencing and delivery left to their processes."""
    environ.pop("NRM_SEQUENCER_DATABASE_URL", None)  # for the sequencer alone: not the deliverer, not the web
    environ["NRM_AUDIT_SEQUENCER_INTERVAL"] = "0"  # the workers leave sequencing to the sequencer process
    environ["NRM_WEBHOOK_INTERVAL"] = "0"  # and webhooks to the deliverer


def run(host: str, port: int, workers: int, threads: int = THREADS, log_format: str = "json",
        background: bool = True) -> None:
    """Serve on ``host:port`` until interrupted, with the sequencer and deliverer processes beside the workers.

    ``background=False`` starts neither: where they run as services of their own (compose, Kubernetes,
    systemd), a node serves requests only; the workers still leave sequencing and delivery to them.
    """
    folder, ours = metrics_folder()
    processes: list[subprocess.Popen[bytes]] = []
    if background:
        processes.append(subprocess.Popen([sys.executable, "-m", "nrm_api.cli", "audit", "sequence",  # noqa: S603
                                           "--loop", SEQUENCER_SECONDS]))
    web_environment()
    if background:
        processes.append(subprocess.Popen([sys.executable, "-m", "nrm_api.cli", "webhooks", "deliver",  # noqa: S603
                                           "--loop", DELIVERER_SECONDS]))
    try:
        _Server(options(host, port, workers, threads, log_format)).run()
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
        if ours:
            shutil.rmtree(folder, ignore_errors=True)
