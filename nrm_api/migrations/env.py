"""Alembic environment: runs on the connection ``nrm_api.migrate`` hands it, or on the URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

import nrm_api.models  # noqa: F401 - every table registered on Base
from nrm_api.database import Base, make_engine

config = context.config
target_metadata = Base.metadata


def run() -> None:
    """Run migrations online, on the given connection or a new one."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _migrate(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as new_connection:
        _migrate(new_connection)
    engine.dispose()


def _migrate(connection: Connection) -> None:
    context.configure(
        connection=connection, target_metadata=target_metadata, compare_type=True, render_as_batch=True
    )
    with context.begin_transaction():
        context.run_migrations()


run()
