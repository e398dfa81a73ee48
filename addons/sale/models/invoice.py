"""Customer invoices and credit notes. Posted ones are immutable (``__posted_states__``)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.registry import model

from ._types import Money, Price, Qty, Rate

ZERO = Decimal("0")


@model("sale.invoice")
class Invoice:
    __tablename__ = "sale_invoice"
    __audit__ = True
    __posted_states__ = ("posted", "paid")
    #: what may still change on a posted invoice: its settlement
    __mutable_when_posted__ = frozenset({"state", "amount_residual", "payment_status"})

    #: gap-free per year, given at posting: INV/2026/000001 (credit notes: RINV/...)
    number: Mapped[str | None] = mapped_column(String(32), unique=True)
    kind: Mapped[str] = mapped_column(String(12), default="invoice")  # invoice, credit_note
    state: Mapped[str] = mapped_column(String(12), index=True)  # draft, posted, paid, cancelled
    customer_id: Mapped[int] = mapped_column(ForeignKey("sale_customer.id"), index=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("sale_order.id"), index=True)
    #: the invoice a credit note reverses
    reversed_invoice_id: Mapped[int | None] = mapped_column(ForeignKey("sale_invoice.id"))
    date: Mapped[dt.date | None] = mapped_column(Date, index=True)
    due_date: Mapped[dt.date | None] = mapped_column(Date, index=True)
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    amount_untaxed: Mapped[Decimal] = mapped_column(Money, default=ZERO)
    amount_tax: Mapped[Decimal] = mapped_column(Money, default=ZERO)
    amount_total: Mapped[Decimal] = mapped_column(Money, default=ZERO)
    #: what is still to be paid (0 when paid)
    amount_residual: Mapped[Decimal] = mapped_column(Money, default=ZERO)
    payment_status: Mapped[str] = mapped_column(String(10), default="none")
    note: Mapped[str | None] = mapped_column(Text)

    customer: Mapped[Customer] = relationship()
    order: Mapped[SaleOrder | None] = relationship()
    lines: Mapped[list[InvoiceLine]] = relationship(
        back_populates="invoice", cascade="all, delete-orphan", order_by="InvoiceLine.id"
    )


@model("sale.invoice.line")
class InvoiceLine:
    __tablename__ = "sale_invoice_line"
    __posted_states__ = ()

    invoice_id: Mapped[int] = mapped_column(ForeignKey("sale_invoice.id", ondelete="CASCADE"), index=True)
    sale_line_id: Mapped[int | None] = mapped_column(ForeignKey("sale_line.id"), index=True)
    product_id: Mapped[int | None] = mapped_column(ForeignKey("sale_product.id"))
    description: Mapped[str] = mapped_column(String(300))
    quantity: Mapped[Decimal] = mapped_column(Qty)
    unit_price: Mapped[Decimal] = mapped_column(Price)
    discount: Mapped[Decimal] = mapped_column(Rate, default=ZERO)
    tax_id: Mapped[int | None] = mapped_column(ForeignKey("sale_tax.id"))
    amount_untaxed: Mapped[Decimal] = mapped_column(Money, default=ZERO)
    amount_tax: Mapped[Decimal] = mapped_column(Money, default=ZERO)
    amount_total: Mapped[Decimal] = mapped_column(Money, default=ZERO)
    invoice: Mapped[Invoice] = relationship(back_populates="lines")
