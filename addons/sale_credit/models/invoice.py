"""The early-payment discount terms an invoice was posted with (``@extends("sale.invoice")``).

A payment term's discount (``models.payment_term``) may be edited at any time; what a posted
invoice earns must not change with it: the customer was invoiced on the terms of that day.
Posting an invoice (sale's ``post``, whichever route fires it: one invoice, a batch, the API)
copies its term's ``discount_percent`` and ``discount_days`` here, and payments read these
(``services.discount``). They are frozen with the rest of the posted invoice.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Integer, Numeric
from sqlalchemy.orm import Mapped, mapped_column

from core.registry import extends


@extends("sale.invoice")
class InvoiceEarlyDiscount:
    #: percent off for paying early, as the term said when the invoice was posted (0: none;
    #: NULL: a credit note, a draft, or posted while sale_credit was not enabled: none)
    early_discount_percent: Mapped[Decimal | None] = mapped_column(Numeric(12, 6))
    #: days after the invoice date within which it is earned, likewise
    early_discount_days: Mapped[int | None] = mapped_column(Integer)

    def action_post(self, **params) -> None:
        super().action_post(**params)
        if self.kind == "invoice":
            from ..services.discount import terms_at_posting

            self.early_discount_percent, self.early_discount_days = terms_at_posting(
                self.env, self)
