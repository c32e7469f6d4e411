"""On PostgreSQL the web role can reach every table the app uses, and no more than each table allows.

A migration that adds a table must grant it to ``nrm_app`` (0002's ``ON ALL TABLES`` covered only
the tables of its day): without the grant the served app answers 500 where the tests, running as
the owner, pass. This walks every table the models declare, so a new one without its grant fails.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text

import nrm_api.models  # noqa: F401 - every table registered on Base
from nrm_api.database import Base
from nrm_api.extensions import db

#: Tables the web role may read and append to, never change (the log, its queue, signed versions).
APPEND_ONLY = {"audit_events", "audit_queue", "form_versions"}
#: Tables only the sequencer writes; the web role reads them.
READ_ONLY = {"audit_leaves", "audit_nodes", "audit_checkpoints", "audit_log"}
#: The sequencer's lock: the web role may not even read it, so it can never take it.
NONE = {"audit_sequencer_lock"}
ALL = ("SELECT", "INSERT", "UPDATE", "DELETE")


def _expected(table: str) -> set[str]:
    if table in NONE:
        return set()
    if table in READ_ONLY:
        return {"SELECT"}
    if table in APPEND_ONLY:
        return {"SELECT", "INSERT"}
    return set(ALL)


@pytest.mark.parametrize("table", sorted(Base.metadata.tables))
def test_the_web_role_has_exactly_the_privileges_each_table_needs(backend: str, app: object, table: str) -> None:
    if backend != "postgresql":
        pytest.skip("roles and grants exist on PostgreSQL only")
    held = {privilege for privilege in ALL if db.session.execute(
        text("SELECT has_table_privilege('nrm_app', :table, :privilege)"),
        {"table": table, "privilege": privilege}).scalar()}
    assert held == _expected(table)
