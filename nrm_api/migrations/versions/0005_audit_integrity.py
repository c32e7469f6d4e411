"""audit log integrity: fixed origin, roles, aggregated refusals (issue 9)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01

- ``audit_log`` holds the log's origin, fixed when the log is created (an existing log keeps the
  origin its checkpoints already carry), so a new ``NRM_BASE_URL`` no longer breaks verification.
- Events get a ``count`` (aggregated refusals) and an index on ``sha256`` (receipts name it).
- On PostgreSQL the sequencer has its own role, ``nrm_sequencer`` (NOLOGIN; log in as a member):
  only it gives positions, signs checkpoints, empties the queue and may lock
  ``audit_sequencer_lock``. The web role ``nrm_app`` may only insert events and queue entries.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
import nrm_api.database

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

APP_ROLE = "nrm_app"
SEQUENCER_ROLE = "nrm_sequencer"
INSERT_ONLY = ("audit_log",)
LOCK_TABLE = "audit_sequencer_lock"
TALLIES = "audit_refusal_tallies"


def upgrade() -> None:
    op.create_table('audit_log',
    sa.Column('id', sa.SmallInteger(), autoincrement=False, nullable=False),
    sa.Column('origin', sa.String(length=200), nullable=False),
    sa.Column('created_at', nrm_api.database.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    op.create_table('audit_sequencer_lock',
    sa.Column('id', sa.SmallInteger(), autoincrement=False, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_sequencer_lock'))
    )
    op.create_table('audit_refusal_tallies',
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.String(length=64), nullable=False),
    sa.Column('window_started_at', nrm_api.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('address', 'action', 'reason', name=op.f('pk_audit_refusal_tallies'))
    )
    with op.batch_alter_table('audit_refusal_tallies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_refusal_tallies_window_started_at'), ['window_started_at'],
                              unique=False)
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('count', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_audit_events_sha256'), ['sha256'], unique=False)
    op.execute(f"INSERT INTO {LOCK_TABLE} (id) VALUES (1)")
    _keep_existing_origin()
    _append_only()
    _grant_roles()


def _keep_existing_origin() -> None:
    """A log that already has checkpoints keeps the origin they were signed with."""
    bind = op.get_bind()
    note = bind.execute(sa.text("SELECT note FROM audit_checkpoints ORDER BY tree_size LIMIT 1")).scalar()
    if note:
        bind.execute(sa.text("INSERT INTO audit_log (id, origin, created_at) VALUES (1, :origin, :now)"),
                     {"origin": str(note).split("\n", 1)[0], "now": nrm_api.database.utcnow()})


def _append_only() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in (*INSERT_ONLY, LOCK_TABLE):
        if postgres:
            op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                       "FOR EACH ROW EXECUTE FUNCTION nrm_refuse_audit_change()")
            op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                       "FOR EACH STATEMENT EXECUTE FUNCTION nrm_refuse_audit_change()")
        else:
            for verb in ("UPDATE", "DELETE"):
                op.execute(f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} BEGIN "
                           f"SELECT RAISE(ABORT, 'the audit log is append-only: {verb} refused on {table}'); END")


def _grant_roles() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    # roles belong to the cluster, not the database: two databases migrated at once (two nodes, or two
    # test workers) may both find it missing, and the second CREATE then fails; that one finds it made
    op.execute(f"""DO $$ BEGIN
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{SEQUENCER_ROLE}') THEN
            CREATE ROLE {SEQUENCER_ROLE} NOLOGIN;
        END IF;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
    END $$""")
    # the web role writes events and their queue entries, and reads the log; nothing else
    op.execute(f"REVOKE DELETE ON audit_queue FROM {APP_ROLE}")
    op.execute(f"REVOKE INSERT ON audit_leaves, audit_nodes, audit_checkpoints FROM {APP_ROLE}")
    op.execute(f"GRANT SELECT ON audit_log TO {APP_ROLE}")
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {TALLIES} TO {APP_ROLE}")
    # the sequencer reads events, empties the queue, extends the tree and signs
    op.execute(f"GRANT USAGE ON SCHEMA public TO {SEQUENCER_ROLE}")
    op.execute(f"GRANT SELECT ON audit_events TO {SEQUENCER_ROLE}")
    op.execute(f"GRANT SELECT, DELETE ON audit_queue TO {SEQUENCER_ROLE}")
    op.execute(f"GRANT SELECT, INSERT ON audit_leaves, audit_nodes, audit_checkpoints, audit_log TO {SEQUENCER_ROLE}")
    # SELECT … FOR UPDATE needs UPDATE; the trigger still refuses a real UPDATE
    op.execute(f"GRANT SELECT, UPDATE ON {LOCK_TABLE} TO {SEQUENCER_ROLE}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"REVOKE ALL ON audit_events, audit_queue, audit_leaves, audit_nodes, audit_checkpoints, "
                   f"audit_log, {LOCK_TABLE} FROM {SEQUENCER_ROLE}")
        op.execute(f"REVOKE USAGE ON SCHEMA public FROM {SEQUENCER_ROLE}")
        op.execute(f"GRANT DELETE ON audit_queue TO {APP_ROLE}")
        op.execute(f"GRANT INSERT ON audit_leaves, audit_nodes, audit_checkpoints TO {APP_ROLE}")
        for table in (*INSERT_ONLY, LOCK_TABLE):
            op.execute(f"DROP TRIGGER {table}_no_truncate ON {table}")
            op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_events_sha256'))
        batch_op.drop_column('count')
    with op.batch_alter_table('audit_refusal_tallies', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_refusal_tallies_window_started_at'))
    op.drop_table('audit_refusal_tallies')
    op.drop_table('audit_sequencer_lock')
    op.drop_table('audit_log')
