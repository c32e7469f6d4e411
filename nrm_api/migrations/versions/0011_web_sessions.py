"""web form: people's browser sessions (issue 11)

Revision ID: 0011
Revises: 0009
Create Date: 2026-12-01

A signed-in browser holds a secret; its hash names a row here, so sign-out ends the session for
every copy of the cookie, and the idle and absolute limits are the server's, not the browser's.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import nrm_api.database

revision = '0011'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('web_sessions',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('token_version', sa.Integer(), nullable=False),
    sa.Column('created_at', nrm_api.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', nrm_api.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ended_at', nrm_api.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('totp_pending', sa.LargeBinary(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_web_sessions_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_web_sessions'))
    )
    with op.batch_alter_table('web_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_web_sessions_user_id'), ['user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_web_sessions_last_seen_at'), ['last_seen_at'], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("GRANT SELECT, INSERT, UPDATE, DELETE ON web_sessions TO nrm_app")


def downgrade() -> None:
    with op.batch_alter_table('web_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_web_sessions_last_seen_at'))
        batch_op.drop_index(batch_op.f('ix_web_sessions_user_id'))
    op.drop_table('web_sessions')
