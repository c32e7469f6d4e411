"""`nrm-api serve` under load on the embedded default, and against idle connections.

Issue 9, item 3: on SQLite, parallel readers, writers, an export and the CLI get no 500 and no
"database is locked"; a one-shot command runs no sequencer thread to race its own writes. Item 27:
idle half-open connections do not stop a real request being answered.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from tests.forms.helpers import adult
from tests.serving import NRM_API, Server, call, serve

WRITERS, SUBMITS = 3, 6
READERS, READS = 3, 10


@pytest.fixture(scope="module")
def sqlite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serve("sqlite", tmp_path_factory.mktemp("served"), workers=2, systems=WRITERS) as running:
        yield running


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class _Load:
    """Threads that each run a bounded loop, recording every answer and any exception."""

    def __init__(self) -> None:
        self.statuses: list[tuple[str, int]] = []
        self.failures: list[str] = []
        self.threads: list[threading.Thread] = []
        self.lock = threading.Lock()

    def add(self, name: str, count: int, step: Callable[[], int]) -> None:
        def loop() -> None:
            for _ in range(count):
                try:
                    status = step()
                except Exception as error:  # noqa: BLE001 - reported by the test
                    with self.lock:
                        self.failures.append(f"{name}: {error!r}"[:500])
                    return
                with self.lock:
                    self.statuses.append((name, status))

        self.threads.append(threading.Thread(target=loop, name=name))

    def run(self) -> None:
        for thread in self.threads:
            thread.start()
        for thread in self.threads:
            thread.join(timeout=300)
        assert not any(thread.is_alive() for thread in self.threads), "a load thread did not finish"


def _writer(server: Server, index: int) -> Callable[[], int]:
    sdk = server.sdk(index)
    return lambda: 201 if sdk.submit_form(adult()).get("id") else 0  # the SDK raises on anything else


def _reader(server: Server, path: str, token: str) -> Callable[[], int]:
    def step() -> int:
        status, _ = call(f"{server.base}{path}", headers=_bearer(token))
        return status

    return step


def _exporter(server: Server, token: str) -> Callable[[], int]:
    formats = iter(["jsonl", "csv", "jsonl"])

    def step() -> int:
        status, body = call(f"{server.base}/api/v1/audit/export?format={next(formats)}", headers=_bearer(token),
                            timeout=120)
        assert "database is locked" not in str(body)
        return status

    return step


def _cli(server: Server, folder: Path) -> Callable[[], int]:
    commands = iter([["audit", "sequence"], ["audit", "export", "--bundle", str(folder / "one.bundle")],
                     ["audit", "sequence", "--checkpoint"],
                     ["audit", "export", "--bundle", str(folder / "two.bundle")]])

    def step() -> int:
        result = server.cli(*next(commands))
        assert result.returncode == 0 and "database is locked" not in result.stderr, result.stderr[-2000:]
        return 200

    return step


def test_parallel_readers_writers_export_and_cli_on_sqlite(sqlite_server: Server, tmp_path: Path) -> None:
    server = sqlite_server
    auditor = server.login(server.auditor)
    system = server.sdk(0).token()
    load = _Load()
    for index in range(WRITERS):
        load.add(f"writer-{index}", SUBMITS, _writer(server, index))
    for index in range(READERS):
        path = "/api/v1/agencies" if index % 2 else "/api/v1/audit/events?limit=100"
        load.add(f"reader-{index}", READS, _reader(server, path, system if index % 2 else auditor))
    load.add("exporter", 3, _exporter(server, auditor))
    load.add("cli", 4, _cli(server, tmp_path))
    load.run()
    assert not load.failures, load.failures
    assert len(load.statuses) == WRITERS * SUBMITS + READERS * READS + 3 + 4
    assert all(status < 500 for _, status in load.statuses), [s for s in load.statuses if s[1] >= 500]
    errors = server.server_errors()
    for marker in ("database is locked", "unhandled", "run failed", "Traceback"):
        assert marker not in errors, errors[-3000:]


def _idle(port: int, partial: bytes = b"") -> socket.socket:
    """A connection that sends nothing (or half a request) and waits: a half-open or slow client."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    if partial:
        sock.sendall(partial)
    return sock


def test_idle_connections_do_not_stop_a_real_request(sqlite_server: Server) -> None:
    """Two idle connections per worker (sync workers: one each wedged them all), then real requests."""
    port = int(sqlite_server.base.rsplit(":", 1)[1])
    idle = [_idle(port) for _ in range(4)]
    idle += [_idle(port, b"GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\n") for _ in range(2)]
    try:
        for _ in range(3):
            status, _ = call(f"{sqlite_server.base}/readyz", timeout=10)
            assert status == 200
        token = sqlite_server.sdk(0).token()
        status, agencies = call(f"{sqlite_server.base}/api/v1/agencies", headers=_bearer(token), timeout=10)
        assert status == 200 and agencies
    finally:
        for sock in idle:
            sock.close()


def test_a_one_shot_command_leaves_sequencing_to_the_sequencer(tmp_path: Path) -> None:
    """`demo setup` (make run's first step) runs no sequencer thread to race its seeding for SQLite's lock.

    That race printed `nrm-audit-sequencer run failed: OperationalError` on a loaded machine; now every
    event the setup wrote waits, queued, for `serve`'s sequencer process.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("NRM_")}
    env["NRM_INSTANCE_PATH"] = str(tmp_path)
    result = subprocess.run([NRM_API, "demo", "setup"], env=env, capture_output=True, text=True, timeout=300,
                            check=True)
    assert "run failed" not in result.stderr
    with closing(sqlite3.connect(tmp_path / "nrm.db")) as database:
        counts: dict[str, Any] = {table: database.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608
                                  for table in ("audit_events", "audit_queue", "audit_leaves")}
    assert counts["audit_events"] > 0
    assert counts == {"audit_events": counts["audit_events"], "audit_queue": counts["audit_events"],
                      "audit_leaves": 0}
