"""Serve the app with gunicorn, configured from code so ``nrm-api serve`` is all it takes."""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication

#: Request line, status, size, time and request id: no headers, so no token reaches the log.
ACCESS_LOG_FORMAT = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(L)ss %({x-request-id}o)s'


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


def run(host: str, port: int, workers: int) -> None:
    """Serve on ``host:port`` until interrupted."""
    _Server({
        "bind": f"{host}:{port}",
        "workers": workers,
        "accesslog": "-",
        "access_log_format": ACCESS_LOG_FORMAT,
        "limit_request_field_size": 16384,
        "timeout": 60,
    }).run()
