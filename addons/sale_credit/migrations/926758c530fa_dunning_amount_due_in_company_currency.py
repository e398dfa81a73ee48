"""dunning amount due in company currency

A dunning letter keeps what was open on its invoice in the company currency too, at the rate
the invoice was booked at (``amount_due_company``). The letters written before this revision
get ``round(amount_due x the invoice's currency_rate)``: exact for the company currency (rate
1); for another currency it may differ by a cent from what the receivables counted then.

Revision ID: 926758c530fa
Revises: 6c71cadd9b54
Create Date: 2026-11-23 23:25:21.527649
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa
from alembic import op

revision = '926758c530fa'
down_revision = '6c71cadd9b54'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sale_credit_dunning', schema=None) as batch_op:
        batch_op.add_column(sa.Column('amount_due_company', sa.Numeric(precision=18, scale=2), server_default='0', nullable=False))

    dunning = sa.table('sale_credit_dunning', sa.column('id', sa.Integer()),
                       sa.column('invoice_id', sa.Integer()),
                       sa.column('amount_due', sa.Numeric(18, 2)),
                       sa.column('amount_due_company', sa.Numeric(18, 2)))
    invoice = sa.table('sale_invoice', sa.column('id', sa.Integer()),
                       sa.column('currency_rate', sa.Numeric(18, 6)))
    conn = op.get_bind()
    rows = conn.execute(sa.select(dunning.c.id, dunning.c.amount_due, invoice.c.currency_rate)
                        .join(invoice, invoice.c.id == dunning.c.invoice_id)).all()
    cent = Decimal('0.01')
    values = [{'letter_id': ident, 'company': (Decimal(amount or 0) * Decimal(rate or 1))
               .quantize(cent, rounding=ROUND_HALF_UP)} for ident, amount, rate in rows]
    if values:
        conn.execute(dunning.update().where(dunning.c.id == sa.bindparam('letter_id'))
                     .values(amount_due_company=sa.bindparam('company')), values)


def downgrade() -> None:
    with op.batch_alter_table('sale_credit_dunning', schema=None) as batch_op:
        batch_op.drop_column('amount_due_company')
