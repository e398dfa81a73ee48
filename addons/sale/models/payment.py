"""Payments received, allocated to one or more invoices; the unallocated rest is customer credit.

An allocation settles part of an invoice either from a payment (``payment_id``) or from the
unused credit of a credit note (``credit_note_id``). Allocations are append-only and dated, so
receivables can be computed as of any date.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, orm_insert_sentinel, relationship

from core.registry import model

from ._types import Money, Rate

ZERO = Decimal("0")
METHODS = ("cash", "cheque", "bank_transfer", "electronic")


@model("sale.payment")
class Payment:
    __tablename__ = "sale_payment"
    __audit__ = True
    __posted_states__ = ("posted",)
    __mutable_when_posted__ = frozenset({"amount_unallocated"})
    #: lets SQLite insert many in one INSERT .. RETURNING (batches); NULL otherwise
    _sentinel: Mapped[int | None] = orm_insert_sentinel()

    #: gap-free per year: PAY/2026/000001
    number: Mapped[str | None] = mapped_column(String(32), unique=True)
    state: Mapped[str] = mapped_column(String(12), default="posted")
    customer_id: Mapped[int] = mapped_column(ForeignKey("sale_customer.id"), index=True)
    method: Mapped[str] = mapped_column(String(16))
    date: Mapped[dt.date] = mapped_column(Date, index=True)
    amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    #: company-currency units per unit of ``currency`` on the payment's date (1 in the
    #: company currency), fixed when the payment is registered
    currency_rate: Mapped[Decimal] = mapped_column(Rate, default=Decimal("1"), server_default="1")
    #: ``amount`` in the company currency at ``currency_rate``: what reached the bank
    amount_company: Mapped[Decimal] = mapped_column(Money, default=ZERO, server_default="0")
    reference: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)
    #: the part not allocated to invoices yet: customer credit
    amount_unallocated: Mapped[Decimal] = mapped_column(Money, default=ZERO)
    # its journal entry: sale.journal.entry with source_record "sale.payment", source_id = id
    customer: Mapped[Customer] = relationship()
    allocations: Mapped[list[PaymentAllocation]] = relationship(
        back_populates="payment", order_by="PaymentAllocation.id"
    )

    def company_currency(self) -> str:
        """The currency of ``amount_company`` (pages show it next to the amount)."""
        from ..services.masterdata import company_currency

        return company_currency(self.env)

    def validate(self) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = {}
        if self.method not in METHODS:
            errors["method"] = [f"must be one of {', '.join(METHODS)}"]
        if self.amount is None or Decimal(self.amount) <= 0:
            errors["amount"] = ["must be greater than 0"]
        elif self.amount_unallocated is not None and not (
            ZERO <= Decimal(self.amount_unallocated) <= Decimal(self.amount)
        ):
            errors["amount_unallocated"] = ["must be between 0 and the amount"]
        return errors


@model("sale.payment.allocation")
class PaymentAllocation:
    __tablename__ = "sale_payment_allocation"
    __append_only__ = True
    #: lets SQLite insert many in one INSERT .. RETURNING (batches); NULL otherwise
    _sentinel: Mapped[int | None] = orm_insert_sentinel()

    #: the payment whose money settles the invoice (or None: a credit note's credit does)
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("sale_payment.id"), index=True)
    #: the credit note whose credit settles the invoice
    credit_note_id: Mapped[int | None] = mapped_column(ForeignKey("sale_invoice.id"), index=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("sale_invoice.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Money)
    #: settled on top of ``amount`` without money: an early-payment discount
    #: (hook ``sale_payment_discount``); booked on the payment's journal entry
    discount: Mapped[Decimal] = mapped_column(Money, default=ZERO, server_default="0")
    #: the receivable cleared on the invoice, in the company currency: ``amount + discount``
    #: at the invoice's rate (the allocation that settles the invoice: exactly what is left)
    amount_company: Mapped[Decimal] = mapped_column(Money, default=ZERO, server_default="0")
    #: what the allocation uses of its payment or credit note, in the company currency:
    #: ``amount`` at the source's rate (the one that uses the source up: exactly what is left);
    #: the difference with ``amount_company`` is an exchange gain (more) or loss (less)
    source_amount_company: Mapped[Decimal] = mapped_column(Money, default=ZERO, server_default="0")
    date: Mapped[dt.date] = mapped_column(Date, index=True)
    payment: Mapped[Payment | None] = relationship(back_populates="allocations")
    invoice: Mapped[Invoice] = relationship(foreign_keys="PaymentAllocation.invoice_id")

    def validate(self) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = {}
        from_payment = self.payment_id is not None or self.payment is not None
        if from_payment == (self.credit_note_id is not None):
            errors["payment_id"] = ["an allocation comes from exactly one payment or credit note"]
        if self.amount is None or Decimal(self.amount) <= 0:
            errors["amount"] = ["must be greater than 0"]
        if self.discount is not None and Decimal(self.discount) < 0:
            errors["discount"] = ["must not be negative"]
        return errors
