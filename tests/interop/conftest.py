"""One served nrm-api for the interop tests, an authority system beside the harness's NGO system, a webhook receiver."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.conftest import create_agency, create_client
from tests.serving import Server, serve

#: How long a webhook may take to arrive (the deliverer polls every fraction of a second here).
DELIVERY_SECONDS = 60


@dataclass
class Receiver:
    """A loopback webhook endpoint that keeps every delivery (headers and raw body)."""

    deliveries: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)
    server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.deliveries.append(({k.lower(): v for k, v in self.headers.items()}, body))
                receiver.arrived.set()
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


@dataclass
class Interop:
    """The served app, its NGO system (harness) and an authority system that receives webhooks."""

    server: Server
    authority: tuple[str, str, dict[str, str]]
    receiver: Receiver


def _authority(server: Server) -> tuple[str, str, dict[str, str]]:
    """An authority agency and its system: (agency id, client id, private JWK)."""
    with server.beside():
        agency = create_agency(kind="authority")
        return (agency, *create_client(agency))


@pytest.fixture(scope="package")
def interop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Interop]:
    """A real ``nrm-api serve`` (SQLite), always stopped; webhooks to loopback allowed, delivered promptly."""
    receiver = Receiver()
    receiver.start()
    extra = {"NRM_WEBHOOK_ALLOW_PRIVATE": "1", "NRM_WEBHOOK_INTERVAL": "0.2"}
    try:
        with serve("sqlite", tmp_path_factory.mktemp("interop"), workers=1, systems=1,
                   extra_env=lambda _url: extra) as server:
            yield Interop(server, _authority(server), receiver)
    finally:
        receiver.stop()
