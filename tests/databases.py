"""New, migrated databases of their own: for the test session, a served instance, or a benchmark.

Plain functions (no pytest), so the benchmarks take their throwaway PostgreSQL database from here too.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from nrm_api.migrate import upgrade


def postgres_server() -> str | None:
    """The PostgreSQL server the tests use: ``NRM_TEST_DATABASE_URL``, else the local one if it answers."""
    url = os.environ.get("NRM_TEST_DATABASE_URL")
    if url:
        return url
    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=1).close()
    except OSError:
        return None
    return "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@contextmanager
def postgres_database(server_url: str, prefix: str) -> Iterator[str]:
    """A new, migrated database on the server at ``server_url``, named ``prefix_…``; dropped afterwards."""
    server = make_url(server_url)
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = server.set(database=name).render_as_string(hide_password=False)
        upgrade(url)
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def database(backend: str, folder: Path, prefix: str = "nrm_test") -> Iterator[str]:
    """A new, migrated database on ``backend``: a file in ``folder`` for SQLite, a new one on PostgreSQL."""
    if backend == "sqlite":
        url = f"sqlite:///{folder / 'nrm.db'}"
        upgrade(url)
        yield url
        return
    with postgres_database(postgres_server() or "", prefix) as url:
        yield url


@contextmanager
def empty_database(backend: str, folder: Path) -> Iterator[str]:
    """A database with nothing in it (not migrated): a restore's target."""
    if backend == "sqlite":
        yield f"sqlite:///{folder / f'restored-{uuid.uuid4().hex[:6]}.db'}"
        return
    server = make_url(postgres_server() or "")
    name = f"nrm_restore_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
