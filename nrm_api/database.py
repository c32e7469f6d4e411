"""The storage layer: declarative base, UTC timestamps and the per-app session."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from flask import Flask, current_app
from sqlalchemy import JSON, DateTime, MetaData, Table, create_engine, event, insert
from sqlalchemy.engine import Connection, Dialect, Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Session, scoped_session, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """Return the current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware.

    SQLite keeps no zone, PostgreSQL's ``timestamptz`` does: this makes both behave alike.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Store in UTC; refuse naive datetimes, whose zone nobody knows."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where UTC is required")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Read back as aware UTC."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """The declarative base of every table."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {
        datetime: UTCDateTime(), dict[str, Any]: JSON(), dict[str, str]: JSON(), list[str]: JSON(),
    }


#: The execution option a read-only unit of work carries (``Database.reader``).
READ_ONLY = "nrm_read_only"
#: How long a SQLite writer waits for the write lock. Under WAL only writers ever wait, one behind
#: the other, so a burst queues for a while rather than failing; still well under gunicorn's timeout.
BUSY_TIMEOUT_MS = 15000


#: How long a new PostgreSQL connection may take (libpq's ``connect_timeout``) unless the URL says:
#: while the database is away a request fails with 503 within this, never hangs (``observe``).
CONNECT_TIMEOUT_SECONDS = 5


def insert_new(session: Session, *rows: Base) -> None:
    """Insert new ``rows`` by Core statements in the session's transaction, in the order given.

    For rows written once and not changed again in the transaction (a new form's four): the ORM's
    unit of work would track, sort and flush them, for a sixth of a submit's CPU. They stay
    transient objects: what the caller reads of them afterwards is what it set, so every column it
    reads must be set, defaults included. Consecutive rows of one table go as one executemany.
    """
    index = 0
    while index < len(rows):
        model = type(rows[index])
        batch = []
        while index < len(rows) and type(rows[index]) is model:
            state = rows[index].__dict__
            batch.append({column.key: state[column.key] for column in model.__mapper__.column_attrs
                          if column.key in state})
            index += 1
        session.execute(insert(cast(Table, model.__table__)), batch)  # Core: no ORM bulk path either


def make_engine(url: str, **options: Any) -> Engine:
    """Create an engine; on SQLite, in WAL mode, with real transactions and foreign keys enforced.

    On PostgreSQL a new connection gives up after ``CONNECT_TIMEOUT_SECONDS``.
    """
    if make_url(url).get_backend_name() == "postgresql" and "connect_timeout" not in make_url(url).query:
        options["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT_SECONDS, **options.get("connect_args", {})}
    engine = create_engine(url, future=True, **options)
    if engine.dialect.name == "sqlite":
        _fix_sqlite(engine)
    return engine


def reader_engine(engine: Engine) -> Engine:
    """The same engine and pool, for units of work that only read: they never take the write lock."""
    if engine.dialect.name == "postgresql":
        return engine.execution_options(**{READ_ONLY: True, "postgresql_readonly": True})
    return engine.execution_options(**{READ_ONLY: True})


def _fix_sqlite(engine: Engine) -> None:
    # pysqlite's own transaction handling defers BEGIN and breaks SAVEPOINT; take it over,
    # as SQLAlchemy's documentation advises, and enforce foreign keys.
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        # WAL: readers never block the writer nor wait for it (a long export holds no lock on
        # anyone); the mode is stored in the file, so only the first connection changes it
        if cursor.execute("PRAGMA journal_mode").fetchone()[0] not in ("wal", "memory"):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        # A transaction that may write takes the write lock at BEGIN, where busy_timeout waits
        # for it: a deferred one upgrading later gets SQLITE_BUSY at once (busy_timeout does not
        # apply to the upgrade, and under WAL a snapshot older than the last commit can never
        # write). Almost every unit of work writes (each request records an audit event), so
        # writing is the default; readers say so and begin DEFERRED, with query_only making an
        # accidental write fail at once instead of racing for the lock.
        reading = bool(conn.get_execution_options().get(READ_ONLY))
        conn.exec_driver_sql(f"PRAGMA query_only={int(reading)}")  # first: the pooled connection may have read
        conn.exec_driver_sql("BEGIN DEFERRED" if reading else "BEGIN IMMEDIATE")


@dataclass
class _State:
    engine: Engine
    session: scoped_session[Session]
    bind: Engine | Connection
    bind_options: dict[str, Any]


class Database:
    """The app's engine and request-scoped session, created unbound and bound by ``init_app``."""

    def init_app(self, app: Flask) -> None:
        """Create the engine for ``NRM_DATABASE_URL`` and close the session after each request."""
        engine = make_engine(app.config["DATABASE_URL"], pool_pre_ping=True)
        factory = sessionmaker(bind=engine, expire_on_commit=False)
        app.extensions["nrm_db"] = _State(engine, scoped_session(factory), engine, {})

        def _remove(_exc: BaseException | None) -> None:
            app.extensions["nrm_db"].session.remove()

        # after each request, even one that shares an app context (as tests and CLI runners do),
        # so a failed transaction never leaks into the next unit of work
        app.teardown_request(_remove)
        app.teardown_appcontext(_remove)

    @property
    def _state(self) -> _State:
        state: _State = current_app.extensions["nrm_db"]
        return state

    @property
    def session(self) -> Session:
        """The session of the current app context."""
        return self._state.session()

    @property
    def engine(self) -> Engine:
        """The engine of the current app."""
        return self._state.engine

    def reader(self) -> Session:
        """A new session of its own for a unit of work that only reads (a stream, an export); close it.

        It needs no app context once made, so a streamed response can use it after the request's
        own session is gone. It begins read-only (``BEGIN DEFERRED`` on SQLite).
        """
        state = self._state
        if isinstance(state.bind, Connection):  # tests: the one connection of the test's transaction
            return Session(bind=state.bind, expire_on_commit=False, **state.bind_options)
        return Session(bind=reader_engine(state.engine), expire_on_commit=False)

    def rebind(self, bind: Any, **options: Any) -> None:
        """Bind the session to another engine or connection (tests bind to one transaction)."""
        self._state.session.remove()
        self._state.session.configure(bind=bind, **options)
        self._state.bind, self._state.bind_options = bind, options
