"""tag.note_id: mig_c's glue for mig_b, applied only when both are enabled

Written by hand (the glue of an optional dependency has a branch of its own).

Revision ID: c0b0c0b0c0b0
Depends on: 6117b83b449d, 39c30fb2a2b4
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = 'c0b0c0b0c0b0'
down_revision = None
branch_labels = ('mig_c_mig_b',)
depends_on = ['6117b83b449d', '39c30fb2a2b4']


def upgrade() -> None:
    with op.batch_alter_table('mig_tag', schema=None) as batch_op:
        batch_op.add_column(sa.Column('note_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_mig_tag_note_id_mig_note'), 'mig_note', ['note_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('mig_tag', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_mig_tag_note_id_mig_note'), type_='foreignkey')
        batch_op.drop_column('note_id')
