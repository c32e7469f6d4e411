"""The database away and back: a real `nrm-api serve` on its own PostgreSQL database.

While the database refuses connections (``ALLOW_CONNECTIONS false`` and its backends terminated,
the shared server left running), every request answers 503 problem+json with Retry-After within
10 s, /readyz says so and /metrics reports the database down; once connections are allowed again
the service recovers by itself: no restart, the sequencer and deliverer processes still running,
events written after the outage sequenced.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.databases import postgres_server
from tests.forms.helpers import adult
from tests.serving import Server, call, serve

pytestmark = pytest.mark.skipif(postgres_server() is None, reason="PostgreSQL does not answer")

#: The bound the issue sets on an answer while the database is away.
ANSWER_SECONDS = 10
#: How long the service may take to notice the database is back (pre-ping on the next checkout).
RECOVER_SECONDS = 60


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serve("postgresql", tmp_path_factory.mktemp("outage"), workers=2) as running:
        yield running


def _admin(statement: str, **params: Any) -> None:
    engine = create_engine(postgres_server() or "", isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text(statement), params)
    finally:
        engine.dispose()


def _refuse(name: str) -> None:
    _admin(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
    _admin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name AND pid <> pg_backend_pid()",
           name=name)


def _allow(name: str) -> None:
    _admin(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')


def _answer(url: str, data: bytes | None = None, headers: dict[str, str] | None = None,
            method: str | None = None) -> tuple[int, str, dict[str, str], bytes]:
    """One request that must be answered within ANSWER_SECONDS (urllib raises on a longer silence)."""
    request = urllib.request.Request(url, data=data, headers=headers or {}, method=method)  # noqa: S310 - loopback
    try:
        with urllib.request.urlopen(request, timeout=ANSWER_SECONDS) as response:  # noqa: S310
            return response.status, response.headers.get_content_type(), dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers.get_content_type(), dict(error.headers), error.read()


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found.update(int(child) for child in (task / "children").read_text().split())
    return found


def test_requests_fail_fast_with_503_while_the_database_is_away_and_recover(server: Server) -> None:
    name = make_url(server.database_url).database or ""
    sdk = server.sdk(0)
    system = {"Authorization": f"Bearer {sdk.token()}"}
    assert sdk.submit_form(adult())["id"]
    assert server.process is not None
    processes = _children(server.process.pid)
    assert len(processes) >= 4  # two workers, the sequencer, the deliverer
    form = json.dumps(adult()).encode()
    try:
        _refuse(name)
        requests = [
            ("an authenticated read", f"{server.base}/api/v1/agencies", None, system, None),
            ("a call without a token (its refusal is audited)", f"{server.base}/api/v1/agencies", None, {}, None),
            ("an unsigned write", f"{server.base}/api/v1/forms", form, {**system, "Content-Type": "application/json"},
             "POST"),
        ]
        for _ in range(2):  # each worker, its pool emptied by the first failure or not
            for what, url, data, headers, method in requests:
                status, media, answer_headers, body = _answer(url, data, headers, method)
                assert (status, media) == (503, "application/problem+json"), (what, status, body[:300])
                assert json.loads(body)["type"] == "urn:nrm:problem:unavailable", what
                assert int(answer_headers["Retry-After"]) > 0, what
            status, _, _, body = _answer(f"{server.base}/readyz")
            assert status == 503 and json.loads(body)["checks"]["database"] is False, body
        status, _, _, body = _answer(f"{server.base}/metrics")
        assert status == 200 and "nrm_database_up 0.0" in body.decode(), body[-500:]
        assert _answer(f"{server.base}/healthz")[0] == 200  # alive: restarting it would not bring the database back
        # the background loops notice too, log it by type, and keep going
        deadline = time.monotonic() + RECOVER_SECONDS
        while time.monotonic() < deadline and not all(
                marker in server.server_errors() for marker in ("nrm-audit-sequencer run failed: OperationalError",
                                                                "nrm-webhooks: listening for commits failed")):
            time.sleep(0.5)
        errors = server.server_errors()
        assert "nrm-audit-sequencer run failed: OperationalError" in errors, errors[-2000:]
        assert "nrm-webhooks: listening for commits failed" in errors, errors[-2000:]
    finally:
        _allow(name)

    deadline = time.monotonic() + RECOVER_SECONDS
    while time.monotonic() < deadline and call(f"{server.base}/readyz", timeout=ANSWER_SECONDS)[0] != 200:
        time.sleep(0.5)
    for _ in range(4):  # both workers, every pooled connection replaced
        assert call(f"{server.base}/api/v1/agencies", headers=system)[0] == 200
    written = sdk.submit_form(adult())
    assert sdk.read_form(written["id"])["id"] == written["id"]
    assert server.process.poll() is None
    assert _children(server.process.pid) == processes, "a worker, the sequencer or the deliverer was restarted"

    deadline = time.monotonic() + RECOVER_SECONDS  # the sequencer, through the outage, sequences what came after
    depth = None
    while time.monotonic() < deadline:
        _, metrics = call(f"{server.base}/metrics")
        depth = next(line for line in str(metrics).splitlines() if line.startswith("nrm_audit_queue_depth "))
        if depth.endswith(" 0.0"):
            break
        time.sleep(0.5)
    assert depth == "nrm_audit_queue_depth 0.0", depth
    errors = server.server_errors()
    assert "database unavailable" in errors
    assert "Traceback" not in errors and "unhandled" not in errors, errors[-3000:]
    assert name not in errors, "a database error's message reached the log"
    for line in errors.splitlines():
        json.loads(line)  # every process logs JSON lines: the workers, the sequencer and the deliverer
