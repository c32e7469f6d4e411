"""accounts: shared login limits, disabled principals (issue 9)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01

Sign-in throttles live in the database when no Redis is configured (never per process), the
per-account lockout columns go (an account is slowed down per address and device instead), and
users and clients get a token version: raising it revokes every token issued before.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import nrm_api.database

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('login_throttle',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('stamps', sa.JSON(), nullable=False),
    sa.Column('updated_at', nrm_api.database.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_login_throttle'))
    )
    with op.batch_alter_table('login_throttle', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_login_throttle_updated_at'), ['updated_at'], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        # the web role keeps the sign-in windows (0002's grant covered only the tables of its day)
        op.execute("GRANT SELECT, INSERT, UPDATE, DELETE ON login_throttle TO nrm_app")
    for table in ('users', 'clients'):
        op.add_column(table, sa.Column('token_version', sa.Integer(), server_default=sa.text('0'), nullable=False))
    # plain ALTER TABLE … DROP COLUMN (SQLite ≥ 3.35 too): no table rebuild, constraints stay as they are
    op.drop_column('users', 'failed_attempts')
    op.drop_column('users', 'locked_until')


def downgrade() -> None:
    op.add_column('users', sa.Column('locked_until', nrm_api.database.UTCDateTime(timezone=True), nullable=True))
    op.add_column('users', sa.Column('failed_attempts', sa.Integer(), server_default=sa.text('0'), nullable=False))
    for table in ('clients', 'users'):
        op.drop_column(table, 'token_version')
    with op.batch_alter_table('login_throttle', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_login_throttle_updated_at'))
    op.drop_table('login_throttle')
