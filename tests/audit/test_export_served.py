"""The auditor's export through a real server: a stream holds a connection of its own, released however it ends.

Issue 9, item 2: the stream ran on the request's session, which nothing closed after the response
had been sent. On SQLite it kept the write lock (every later write answered 500, the CLI failed);
on PostgreSQL each export left a connection idle in transaction.
"""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from nrm_api import create_app
from nrm_api.audit import events
from nrm_api.audit.actor import Actor
from nrm_api.extensions import db
from tests.conftest import _backends, dispose, settings
from tests.forms.helpers import adult
from tests.serving import Server, call, serve

#: Enough events, each with a long field list, that the export outgrows every socket buffer
#: between server and client (Linux lets one grow to 4 MiB): the hang-up comes mid-stream.
EVENTS, FIELDS = 2500, [f"section_{n:03d}.a_rather_long_field_name" for n in range(100)]


@pytest.fixture(scope="module", params=_backends())
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serve(request.param, tmp_path_factory.mktemp("served")) as running:
        _many_events(running)
        yield running


def _many_events(server: Server) -> None:
    app = create_app(settings(server.database_url, Path(server.env["NRM_KEYRING"]), BASE_URL=server.base))
    try:
        with app.app_context():
            actor = Actor("cli:export-test", role="operator")
            for start in range(0, EVENTS, 500):
                for n in range(start, start + 500):
                    events.record(actor, "test:bulk", "allowed", resource=f"bulk:{n}", fields=FIELDS)
                db.session.commit()
    finally:
        dispose(app)


def _stalled_export(server: Server, token: str) -> socket.socket:
    """Start an export and read no further than its first bytes: the server blocks mid-stream."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: a small window
    sock.settimeout(30)
    port = int(server.base.rsplit(":", 1)[1])
    sock.connect(("127.0.0.1", port))
    sock.sendall(f"GET /api/v1/audit/export?format=jsonl HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                 f"Authorization: Bearer {token}\r\nConnection: close\r\n\r\n".encode())
    first = sock.recv(1024)
    assert first.startswith(b"HTTP/1.1 200"), first[:200]
    return sock


def _hang_up(sock: socket.socket) -> None:
    """Close with a reset, as a client that dies does, with most of the stream unread."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def _submit(server: Server) -> str:
    """A signed form submit; the SDK raises on anything but its 201 with a valid receipt."""
    return str(server.sdk().submit_form(adult())["id"])


def _pg(server: Server, query: str, **params: Any) -> Any:
    url = make_url(server.database_url)
    engine = create_engine(url.set(database="postgres"))
    try:
        with engine.connect() as connection:
            return connection.execute(text(query), {"name": url.database, **params}).scalar_one()
    finally:
        engine.dispose()


def _leaked(server: Server) -> int:
    """Count the connections to its database idle in a transaction begun before now, once the server had a while.

    A stream's transaction began before now; what the sequencer and deliverer begin later does not
    count. The bounded wait lets the server notice a hang-up.
    """
    mark = _pg(server, "SELECT statement_timestamp()")
    deadline = time.monotonic() + 20
    while True:
        count = int(_pg(server, "SELECT count(*) FROM pg_stat_activity WHERE datname = :name"
                                " AND state = 'idle in transaction' AND xact_start < :mark", mark=mark))
        if not count or time.monotonic() > deadline:
            return count
        time.sleep(0.25)


def _is_postgres(server: Server) -> bool:
    return make_url(server.database_url).get_backend_name() == "postgresql"


def test_writes_go_on_while_an_export_streams_and_after_it_is_dropped(server: Server) -> None:
    token = server.login(server.auditor)
    stalled = _stalled_export(server, token)
    try:
        assert _submit(server)  # the stream reads on its own connection; on SQLite (WAL) it blocks no writer
    finally:
        _hang_up(stalled)
    if _is_postgres(server):
        assert _leaked(server) == 0
    assert _submit(server)


def test_a_completed_export_releases_its_connection(server: Server, tmp_path: Path) -> None:
    token = server.login(server.auditor)
    status, body = call(f"{server.base}/api/v1/audit/export?format=jsonl", headers={"Authorization": f"Bearer {token}"},
                        timeout=120)
    assert status == 200
    assert body.count("test:bulk") == EVENTS
    if _is_postgres(server):
        assert _leaked(server) == 0
    assert _submit(server)
    bundle = tmp_path / "audit.bundle"
    exported = server.cli("audit", "export", "--bundle", str(bundle))
    assert exported.returncode == 0, exported.stderr
    verified = server.cli("audit", "verify", "--bundle", str(bundle))
    assert verified.returncode == 0, verified.stderr


def test_the_server_logged_no_error(server: Server) -> None:
    """Last in this module: whatever the exports did, no request failed and no background run failed."""
    errors = server.server_errors()
    for marker in ("Traceback", "unhandled", "run failed", "database is locked"):
        assert marker not in errors, errors[-3000:]
