"""Payments received, allocated to one or more invoices; the unallocated rest is customer credit."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.registry import model

from ._types import Money

ZERO = Decimal("0")
METHODS = ("cash", "cheque", "bank_transfer", "electronic")


@model("sale.payment")
class Payment:
    __tablename__ = "sale_payment"
    __audit__ = True
    __posted_states__ = ("posted",)
    __mutable_when_posted__ = frozenset({"amount_unallocated"})

    number: Mapped[str | None] = mapped_column(String(32), unique=True)
    state: Mapped[str] = mapped_column(String(12), default="posted")
    customer_id: Mapped[int] = mapped_column(ForeignKey("sale_customer.id"), index=True)
    method: Mapped[str] = mapped_column(String(16))
    date: Mapped[dt.date] = mapped_column(Date, index=True)
    amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    reference: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)
    #: the part not allocated to invoices yet: customer credit
    amount_unallocated: Mapped[Decimal] = mapped_column(Money, default=ZERO)
    customer: Mapped[Customer] = relationship()
    allocations: Mapped[list[PaymentAllocation]] = relationship(
        back_populates="payment", cascade="all, delete-orphan"
    )


@model("sale.payment.allocation")
class PaymentAllocation:
    __tablename__ = "sale_payment_allocation"
    __append_only__ = True

    payment_id: Mapped[int] = mapped_column(ForeignKey("sale_payment.id"), index=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("sale_invoice.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Money)
    date: Mapped[dt.date] = mapped_column(Date)
    payment: Mapped[Payment] = relationship(back_populates="allocations")
    invoice: Mapped[Invoice] = relationship()
