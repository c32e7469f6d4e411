"""The storage layer's transactions: readers never take the write lock; on SQLite, WAL lets them overlap writers.

Issue 9, item 3: every SQLite transaction began IMMEDIATE in rollback-journal mode, so a long read
(an export, a verification) held every writer off and writers held every reader off.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from nrm_api.database import make_engine, reader_engine


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'wal.db'}")
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
        connection.exec_driver_sql("INSERT INTO notes (body) VALUES ('first')")
    yield engine
    engine.dispose()


def test_sqlite_databases_are_in_wal_mode(sqlite_engine: Engine) -> None:
    with sqlite_engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_a_reader_in_its_transaction_neither_blocks_a_writer_nor_waits_for_one(sqlite_engine: Engine) -> None:
    engine = make_engine(sqlite_engine.url.render_as_string(), pool_size=2, max_overflow=0)
    try:
        writer_connection, reader_connection = engine.connect(), reader_engine(engine).connect()
        for connection in (writer_connection, reader_connection):
            connection.connection.dbapi_connection.execute("PRAGMA busy_timeout=0")  # type: ignore[union-attr]
        with reader_connection.begin():
            assert reader_connection.exec_driver_sql("SELECT count(*) FROM notes").scalar() == 1
            with writer_connection.begin():  # takes the write lock while the reader reads
                writer_connection.exec_driver_sql("INSERT INTO notes (body) VALUES ('second')")
                assert reader_connection.exec_driver_sql("SELECT count(*) FROM notes").scalar() == 1
            # committed under the reader's open transaction; the reader keeps its snapshot
            assert reader_connection.exec_driver_sql("SELECT count(*) FROM notes").scalar() == 1
        with reader_connection.begin():
            assert reader_connection.exec_driver_sql("SELECT count(*) FROM notes").scalar() == 2
        reader_connection.close()
        writer_connection.close()
    finally:
        engine.dispose()


def test_writers_begin_immediate_so_the_second_waits_at_begin_not_at_its_first_write(sqlite_engine: Engine) -> None:
    engine = make_engine(sqlite_engine.url.render_as_string(), pool_size=2, max_overflow=0)
    try:
        first, second = engine.connect(), engine.connect()
        second.connection.dbapi_connection.execute("PRAGMA busy_timeout=0")  # type: ignore[union-attr]
        with first.begin():
            first.exec_driver_sql("SELECT count(*) FROM notes").scalar()  # a read first: the lock is taken anyway
            with pytest.raises(DBAPIError, match="database is locked"):
                second.begin()
        first.close()
        second.close()
    finally:
        engine.dispose()


def test_a_reader_cannot_write(database_url: str) -> None:
    """A unit of work that declared it only reads fails at once on a write, rather than racing for the lock."""
    engine = make_engine(database_url)
    statement = text("UPDATE agencies SET name_en = name_en WHERE 1 = 0")
    try:
        with reader_engine(engine).connect() as reader, reader.begin(), \
                pytest.raises(DBAPIError, match="(?i)read.?only"):
            reader.execute(statement)
        with engine.connect() as writer, writer.begin():  # the same statement is fine for a writer...
            writer.execute(statement)
        with reader_engine(engine).connect() as reader, reader.begin(), \
                pytest.raises(DBAPIError, match="(?i)read.?only"):  # ...and a pooled reader stays one
            reader.execute(statement)
    finally:
        engine.dispose()
