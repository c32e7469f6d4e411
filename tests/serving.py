"""A real `nrm-api serve` (gunicorn, its sequencer and deliverer) on a free port, with its own everything.

The in-process fixtures bind every session to one connection, so they cannot see what a server's
own connections do (a lock held, a transaction left open). These tests can: each server gets its own
instance folder, keyring, secret and database (a SQLite file, or a new PostgreSQL database), and is
always stopped at the end.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask

from nrm_api import create_app
from nrm_api.client import NrmClient
from nrm_api.crypto.keyring import Keyring
from tests.conftest import create_agency, create_client, create_user, dispose, settings
from tests.databases import database

NRM_API = str(Path(sys.executable).with_name("nrm-api"))
#: How long a server may take to answer /readyz (a loaded CI machine is slow, never this slow).
START_SECONDS = 60


def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A running server and what its principals need to talk to it."""

    base: str
    database_url: str
    env: dict[str, str]
    stderr: Path
    stdout: Path | None = None
    auditor: dict[str, Any] = field(default_factory=dict)
    systems: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    process: subprocess.Popen[bytes] | None = None

    def start(self, workers: int = 2) -> None:
        """Start `nrm-api serve` on the base URL's port and wait until it is ready (its stderr appended)."""
        stdout_path = self.stdout or Path(os.devnull)
        with self.stderr.open("ab") as stderr, stdout_path.open("ab") as stdout:
            self.process = subprocess.Popen([NRM_API, "serve", "--port", self.base.rsplit(":", 1)[1],  # noqa: S603
                                             "--workers", str(workers)],
                                            env=self.env, stdout=stdout, stderr=stderr)
        _wait_ready(self.process, self.base)

    def stop(self) -> None:
        """Stop the server if it runs (its database and keyring stay: it can start again)."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run an `nrm-api` command against this server's instance."""
        return subprocess.run([NRM_API, *args], env=self.env, capture_output=True, text=True, timeout=timeout,
                              check=False)

    def sdk(self, index: int = 0) -> NrmClient:
        """An SDK session for one of the agency systems."""
        client_id, private = self.systems[index]
        return NrmClient(self.base, client_id, private)

    def login(self, user: dict[str, Any]) -> str:
        """A person's access token."""
        status, body = call(f"{self.base}/api/v1/auth/login", json.dumps(
            {"username": user["username"], "password": user["password"]}).encode(),
            {"Content-Type": "application/json"})
        assert status == 200, body
        return str(body["access_token"])

    @contextmanager
    def beside(self) -> Iterator[Flask]:
        """An app on this server's database and keyring, inside its app context: for the factories."""
        app = create_app(settings(self.database_url, Path(self.env["NRM_KEYRING"]), BASE_URL=self.base))
        try:
            with app.app_context():
                yield app
        finally:
            dispose(app)

    def server_errors(self) -> str:
        """What the server and its processes wrote to standard error (no access log: that goes to stdout)."""
        return self.stderr.read_text(errors="replace")

    def request_log(self) -> list[dict[str, Any]]:
        """The server's request lines so far (JSON, one a line on stdout): only with ``serve(..., stdout=True)``."""
        assert self.stdout is not None, "serve(..., stdout=True) keeps the request log"
        return [json.loads(line) for line in self.stdout.read_text(errors="replace").splitlines() if line.strip()]


def call(url: str, data: bytes | None = None, headers: dict[str, str] | None = None, method: str | None = None,
         timeout: float = 30) -> tuple[int, Any]:
    """One HTTP request; the status and the JSON answer (or the raw text if it is not JSON)."""
    request = urllib.request.Request(url, data=data, headers=headers or {}, method=method)  # noqa: S310 - loopback
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            raw = response.read()
            status = response.status
    except urllib.error.HTTPError as error:
        with error:
            raw, status = error.read(), error.code
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")


def _environment(folder: Path, url: str, base: str) -> dict[str, str]:
    keyring = Keyring.create(folder / "keyring.json").path
    env = {k: v for k, v in os.environ.items() if not k.startswith("NRM_")}
    env.update({"NRM_INSTANCE_PATH": str(folder), "NRM_SECRET_KEY": secrets.token_urlsafe(48),
                "NRM_KEYRING": str(keyring), "NRM_DATABASE_URL": url, "NRM_BASE_URL": base})
    return env


def _principals(server: Server, systems: int) -> None:
    with server.beside():
        server.auditor = create_user("auditor", create_agency(kind="authority"))
        server.systems = [create_client(create_agency()) for _ in range(systems)]


def _wait_ready(process: subprocess.Popen[bytes], base: str) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited with {process.returncode}")
        try:
            urllib.request.urlopen(f"{base}/readyz", timeout=2).close()  # noqa: S310 - our own loopback server
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("the server did not answer /readyz in time")


@contextmanager
def serve(backend: str, folder: Path, *, workers: int = 2, systems: int = 2,
          extra_env: Callable[[str], dict[str, str]] | None = None, stdout: bool = False) -> Iterator[Server]:
    """Serve a new instance on ``backend`` until the block ends; the server is always stopped.

    ``extra_env`` gives more ``NRM_*`` settings from the new database's URL (e.g. other logins to it);
    ``stdout`` keeps the request log in a file (``Server.request_log``) rather than dropping it.
    """
    base = f"http://127.0.0.1:{free_port()}"
    with database(backend, folder, "nrm_serve") as url:
        server = Server(base, url, _environment(folder, url, base), folder / "server.stderr",
                        folder / "server.stdout" if stdout else None)
        server.env.update(extra_env(url) if extra_env else {})
        _principals(server, systems)
        try:
            server.start(workers)
            yield server
        finally:
            server.stop()
