"""invoice early discount terms

Posted invoices keep the early-payment discount terms of their payment term (percent, days) as
they were at posting, so that editing a term no longer changes the discount of invoices already
posted. The invoices posted before this revision get their term's terms as they are now (the
best record there is of what applied to them).

Revision ID: 6c71cadd9b54
Revises: 9947d0b833d4
Depends on: 96cc235cc7bd
Create Date: 2026-11-23 23:16:56.749917
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '6c71cadd9b54'
down_revision = '9947d0b833d4'
branch_labels = None
depends_on = '96cc235cc7bd'  # sale's head (foreign-currency accounting)


def upgrade() -> None:
    with op.batch_alter_table('sale_invoice', schema=None) as batch_op:
        batch_op.add_column(sa.Column('early_discount_percent', sa.Numeric(precision=12, scale=6), nullable=True))
        batch_op.add_column(sa.Column('early_discount_days', sa.Integer(), nullable=True))

    # the posted invoices: their term's discount now (0 and 0 without a term or a discount),
    # as services.discount.terms_at_posting stores it at posting
    invoice = sa.table('sale_invoice', sa.column('kind'), sa.column('state'),
                       sa.column('payment_term_id'), sa.column('early_discount_percent'),
                       sa.column('early_discount_days'))
    term = sa.table('sale_payment_term', sa.column('id'), sa.column('discount_percent'),
                    sa.column('discount_days'))

    def of_term(value):
        return sa.func.coalesce(
            sa.select(sa.case((term.c.discount_percent > 0, value), else_=0))
            .where(term.c.id == invoice.c.payment_term_id).scalar_subquery(), 0)

    op.execute(invoice.update()
               .where(invoice.c.kind == 'invoice', invoice.c.state.in_(('posted', 'paid')))
               .values(early_discount_percent=of_term(term.c.discount_percent),
                       early_discount_days=of_term(term.c.discount_days)))


def downgrade() -> None:
    with op.batch_alter_table('sale_invoice', schema=None) as batch_op:
        batch_op.drop_column('early_discount_days')
        batch_op.drop_column('early_discount_percent')
