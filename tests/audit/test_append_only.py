"""The audit tables refuse change: triggers for everyone, and on PostgreSQL the app role's grants."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from nrm_api.audit import log as audit_log
from nrm_api.audit import sequencer
from nrm_api.extensions import db
from tests.conftest import create_agency

CHANGES = [
    "UPDATE audit_events SET actor = 'someone-else'",
    "DELETE FROM audit_events",
    "UPDATE audit_leaves SET seq = seq + 1000",
    "DELETE FROM audit_leaves",
    "DELETE FROM audit_nodes",
    "UPDATE audit_checkpoints SET note = 'forged'",
    "DELETE FROM audit_checkpoints",
]


@pytest.fixture
def sequenced(app: Flask) -> None:
    for _ in range(3):
        create_agency()
    assert sequencer.run(db.session, audit_log.signer()) >= 3


@pytest.mark.usefixtures("sequenced")
@pytest.mark.parametrize("statement", CHANGES)
def test_even_the_owner_cannot_change_the_log(statement: str) -> None:
    with pytest.raises(DatabaseError, match="append-only"), db.session.begin_nested():
        db.session.execute(text(statement))


@pytest.mark.usefixtures("sequenced")
@pytest.mark.parametrize("table", ["audit_events", "audit_leaves", "audit_nodes", "audit_checkpoints"])
def test_even_the_owner_cannot_truncate_the_log(backend: str, table: str) -> None:
    if backend != "postgresql":
        pytest.skip("TRUNCATE exists on PostgreSQL only")
    with pytest.raises(DatabaseError, match="append-only"), db.session.begin_nested():
        db.session.execute(text(f"TRUNCATE {table} CASCADE"))


@pytest.mark.usefixtures("sequenced")
@pytest.mark.parametrize("statement", [*CHANGES, "TRUNCATE audit_events CASCADE"])
def test_the_app_role_may_not_change_the_log(backend: str, statement: str) -> None:
    if backend != "postgresql":
        pytest.skip("roles and grants exist on PostgreSQL only")
    db.session.execute(text("SET ROLE nrm_app"))  # undone with the test's transaction
    with pytest.raises(DatabaseError, match="permission denied"), db.session.begin_nested():
        db.session.execute(text(statement))


@pytest.mark.usefixtures("sequenced")
def test_the_app_role_writes_events_and_the_sequencer_role_sequences_them(backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("roles and grants exist on PostgreSQL only")
    db.session.execute(text("SET ROLE nrm_app"))  # undone with the test's transaction
    create_agency()
    db.session.execute(text("SET ROLE nrm_sequencer"))
    assert sequencer.run(db.session, audit_log.signer(), force_checkpoint=True) == 1
    assert db.session.execute(text("SELECT current_user")).scalar() == "nrm_sequencer"
