"""fails midway: creates its table, changes mig_a's rows, then runs invalid SQL

Written by hand for tests/test_migrations.py: upgrading must leave the database as it was.

Revision ID: b0b0b0b0b0b0
Depends on: 5208e55eb9b6
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = 'b0b0b0b0b0b0'
down_revision = None
branch_labels = ('mig_broken',)
depends_on = '5208e55eb9b6'


def upgrade() -> None:
    op.create_table('mig_broken',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mig_broken'))
    )
    with op.batch_alter_table('mig_thing', schema=None) as batch_op:
        batch_op.add_column(sa.Column('broken_flag', sa.Boolean(), nullable=True))
    op.execute("UPDATE mig_thing SET name = 'changed by mig_broken'")
    op.execute("INSERT INTO mig_no_such_table (id) VALUES (1)")  # fails here


def downgrade() -> None:
    op.drop_table('mig_broken')
