"""web forms: a draft may be of a new version of a form (issue 11)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01

The web form's "new version" starts a draft from the form as it stands; the draft remembers which
form, at which revision, so that submitting it makes a new version (If-Match: that revision), not a
new form.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('form_drafts') as batch:
        batch.add_column(sa.Column('amends_form_id', sa.String(length=36), nullable=True))
        batch.add_column(sa.Column('amends_revision', sa.Integer(), nullable=True))
        batch.create_foreign_key('fk_form_drafts_amends_form_id_forms', 'forms', ['amends_form_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('form_drafts') as batch:
        batch.drop_constraint('fk_form_drafts_amends_form_id_forms', type_='foreignkey')
        batch.drop_column('amends_revision')
        batch.drop_column('amends_form_id')
