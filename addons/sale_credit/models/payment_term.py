"""Early-payment (cash) discount on payment terms (现金折扣): "2/10 net 30" is a term with
one line (100 % at 30 days), ``discount_percent = 2`` and ``discount_days = 10``: a payment
made within 10 days of the invoice date settles the invoice with 2 % off. The computation and
its journal entry: ``services.discount``.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Integer, Numeric
from sqlalchemy.orm import Mapped, mapped_column

from core.registry import extends

ZERO = Decimal("0")
HUNDRED = Decimal("100")


@extends("sale.payment_term")
class PaymentTermDiscount:
    #: days after the invoice date within which the discount is earned (0 with percent 0: none)
    discount_days: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: percent off the amount open, e.g. 2 for "2/10 net 30"
    discount_percent: Mapped[Decimal] = mapped_column(Numeric(12, 6), default=ZERO,
                                                      server_default="0")

    def has_early_discount(self) -> bool:
        return Decimal(self.discount_percent or 0) > 0

    def validate(self) -> dict[str, list[str]]:
        errors = super().validate() or {}
        percent = Decimal(self.discount_percent or 0)
        days = self.discount_days or 0
        if not (ZERO <= percent < HUNDRED):
            errors.setdefault("discount_percent", []).append(
                f"must be from 0 to below 100 (got {percent})")
        if days < 0:
            errors.setdefault("discount_days", []).append(f"must not be negative (got {days})")
        if percent > 0 and days <= 0:
            errors.setdefault("discount_days", []).append(
                "a discount needs the number of days it is earned within")
        return errors
