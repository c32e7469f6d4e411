"""The migrations build exactly what the models declare; the audit table refuses change."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from nrm_api.extensions import db
from nrm_api.migrate import differences
from tests.conftest import last_event


def test_models_and_migrations_agree(app: Flask) -> None:
    assert differences(db.session.connection()) == []


@pytest.mark.parametrize("statement", [
    "UPDATE audit_events SET actor = 'someone-else'",
    "DELETE FROM audit_events",
])
def test_the_audit_table_refuses_update_and_delete(app: Flask, statement: str) -> None:
    from tests.conftest import create_agency

    create_agency()
    assert last_event() is not None
    with pytest.raises(DatabaseError, match="append-only"), db.session.begin_nested():
        db.session.execute(text(statement))


def test_the_audit_table_refuses_truncate_on_postgresql(app: Flask, backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("TRUNCATE exists on PostgreSQL only")
    with pytest.raises(DatabaseError, match="append-only"), db.session.begin_nested():
        db.session.execute(text("TRUNCATE audit_events"))
