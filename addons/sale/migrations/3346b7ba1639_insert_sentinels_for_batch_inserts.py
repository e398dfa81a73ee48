"""insert sentinels for batch inserts

An always-NULL ``_sentinel`` column on the documents the batch services create many of at once,
so SQLAlchemy inserts them on SQLite with one multi-row ``INSERT .. RETURNING`` (ids in the rows'
order) instead of one statement per row.

Revision ID: 3346b7ba1639
Revises: c40a465e9214
Create Date: 2026-11-23 12:16:31.706392
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '3346b7ba1639'
down_revision = 'c40a465e9214'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sale_invoice', schema=None) as batch_op:
        batch_op.add_column(sa.Column('_sentinel', sa.Integer(), nullable=True))

    with op.batch_alter_table('sale_journal_entry', schema=None) as batch_op:
        batch_op.add_column(sa.Column('_sentinel', sa.Integer(), nullable=True))

    with op.batch_alter_table('sale_order', schema=None) as batch_op:
        batch_op.add_column(sa.Column('_sentinel', sa.Integer(), nullable=True))

    with op.batch_alter_table('sale_payment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('_sentinel', sa.Integer(), nullable=True))

    with op.batch_alter_table('sale_payment_allocation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('_sentinel', sa.Integer(), nullable=True))

    with op.batch_alter_table('sale_shipment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('_sentinel', sa.Integer(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('sale_shipment', schema=None) as batch_op:
        batch_op.drop_column('_sentinel')

    with op.batch_alter_table('sale_payment_allocation', schema=None) as batch_op:
        batch_op.drop_column('_sentinel')

    with op.batch_alter_table('sale_payment', schema=None) as batch_op:
        batch_op.drop_column('_sentinel')

    with op.batch_alter_table('sale_order', schema=None) as batch_op:
        batch_op.drop_column('_sentinel')

    with op.batch_alter_table('sale_journal_entry', schema=None) as batch_op:
        batch_op.drop_column('_sentinel')

    with op.batch_alter_table('sale_invoice', schema=None) as batch_op:
        batch_op.drop_column('_sentinel')

