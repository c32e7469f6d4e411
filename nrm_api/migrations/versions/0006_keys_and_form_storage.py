"""keys and form storage: immutable versions, shredded blind indexes (issue 9)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01

A signed form version never changes: triggers refuse UPDATE and DELETE on ``form_versions`` (and
TRUNCATE on PostgreSQL), for every role, as for the audit tables; the web role loses the grants too. Shredding touches only the wrapped
data key in ``form_keys``. Forms shredded before this revision lose their blind indexes.
"""

from __future__ import annotations

from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

IMMUTABLE_PG = [
    """CREATE FUNCTION nrm_refuse_form_version_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'form versions are immutable: % refused on %', TG_OP, TG_TABLE_NAME
            USING ERRCODE = 'insufficient_privilege';
    END $$""",
    """CREATE TRIGGER form_versions_immutable BEFORE UPDATE OR DELETE ON form_versions
    FOR EACH ROW EXECUTE FUNCTION nrm_refuse_form_version_change()""",
    """CREATE TRIGGER form_versions_no_truncate BEFORE TRUNCATE ON form_versions
    FOR EACH STATEMENT EXECUTE FUNCTION nrm_refuse_form_version_change()""",
    # and the web role is not even granted the change (0003 granted it)
    "REVOKE UPDATE, DELETE, TRUNCATE ON form_versions FROM nrm_app",
]
IMMUTABLE_SQLITE = [
    f"""CREATE TRIGGER form_versions_no_{verb.lower()} BEFORE {verb} ON form_versions
    BEGIN SELECT RAISE(ABORT, 'form versions are immutable: {verb} refused on form_versions'); END"""
    for verb in ("UPDATE", "DELETE")
]
SHREDDED_INDEXES = ("DELETE FROM form_blind_indexes WHERE form_id IN "
                    "(SELECT id FROM forms WHERE status = 'shredded')")


def upgrade() -> None:
    op.execute(SHREDDED_INDEXES)
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in IMMUTABLE_PG if postgres else IMMUTABLE_SQLITE:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("GRANT UPDATE, DELETE ON form_versions TO nrm_app")
        op.execute("DROP TRIGGER form_versions_no_truncate ON form_versions")
        op.execute("DROP TRIGGER form_versions_immutable ON form_versions")
        op.execute("DROP FUNCTION nrm_refuse_form_version_change()")
    else:
        op.execute("DROP TRIGGER form_versions_no_update")
        op.execute("DROP TRIGGER form_versions_no_delete")
