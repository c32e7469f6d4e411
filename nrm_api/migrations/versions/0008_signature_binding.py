"""signature binding: remembered write-signature jti (issue 9)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01

A write signature's ``jti`` is kept while its ``iat`` is accepted, so one signature changes one
record once, on every node (contract v1.1, "Binding"). Audit events keep the client's
``X-Request-Id`` (sanitised) beside the service's own request id.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import nrm_api.database

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('used_signatures',
    sa.Column('kid', sa.String(length=200), nullable=False),
    sa.Column('jti', sa.String(length=64), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=True),
    sa.Column('expires_at', nrm_api.database.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('kid', 'jti', name=op.f('pk_used_signatures'))
    )
    with op.batch_alter_table('used_signatures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_used_signatures_expires_at'), ['expires_at'], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("GRANT SELECT, INSERT, UPDATE, DELETE ON used_signatures TO nrm_app")
    # A plain ADD COLUMN (no batch copy), so the append-only triggers on audit_events stay as they are.
    op.add_column('audit_events', sa.Column('client_request_id', sa.String(length=128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_column('client_request_id')
    with op.batch_alter_table('used_signatures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_used_signatures_expires_at'))
    op.drop_table('used_signatures')
