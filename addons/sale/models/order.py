"""The sale order: one document from quotation (draft) to paid, with its lines and revisions.

The per-line quantity ledger (ordered, shipped, invoiced, returned) is the single source of the
order's progress; the order's sub-statuses are derived from it (see ``refresh_progress``).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import JSON, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.registry import model

from ._types import Money, Price, Qty, Rate

ZERO = Decimal("0")


@model("sale.order")
class SaleOrder:
    __tablename__ = "sale_order"
    __audit__ = True

    number: Mapped[str | None] = mapped_column(String(32), unique=True)
    state: Mapped[str] = mapped_column(String(20), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("sale_customer.id"), index=True)
    salesperson_id: Mapped[int | None] = mapped_column(ForeignKey("sale_salesperson.id"), index=True)
    date_order: Mapped[dt.date] = mapped_column(Date, index=True)
    #: a quotation (draft) past this date cannot be approved
    validity_date: Mapped[dt.date | None] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    payment_term_id: Mapped[int | None] = mapped_column(ForeignKey("sale_payment_term.id"))
    amount_untaxed: Mapped[Decimal] = mapped_column(Money, default=ZERO)
    amount_tax: Mapped[Decimal] = mapped_column(Money, default=ZERO)
    amount_total: Mapped[Decimal] = mapped_column(Money, default=ZERO)
    #: amendment counter: 0 for the original, +1 for each amendment of an approved order
    revision: Mapped[int] = mapped_column(Integer, default=0)
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    #: derived from the line ledger: none / partial / full
    shipping_status: Mapped[str] = mapped_column(String(10), default="none")
    invoice_status: Mapped[str] = mapped_column(String(10), default="none")
    payment_status: Mapped[str] = mapped_column(String(10), default="none")
    #: the order this one was copied from (a copy never carries approvals)
    copied_from_id: Mapped[int | None] = mapped_column(ForeignKey("sale_order.id"))

    customer: Mapped[Customer] = relationship()
    salesperson: Mapped[Salesperson | None] = relationship()
    payment_term: Mapped[PaymentTerm | None] = relationship()
    lines: Mapped[list[SaleLine]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="SaleLine.sequence"
    )


@model("sale.line")
class SaleLine:
    __tablename__ = "sale_line"
    __audit__ = True

    order_id: Mapped[int] = mapped_column(ForeignKey("sale_order.id", ondelete="CASCADE"), index=True)
    sequence: Mapped[int] = mapped_column(Integer, default=10)
    product_id: Mapped[int] = mapped_column(ForeignKey("sale_product.id"), index=True)
    description: Mapped[str] = mapped_column(String(300))
    quantity: Mapped[Decimal] = mapped_column(Qty)
    unit_price: Mapped[Decimal] = mapped_column(Price)
    #: percent, 0..100
    discount: Mapped[Decimal] = mapped_column(Rate, default=ZERO)
    tax_id: Mapped[int | None] = mapped_column(ForeignKey("sale_tax.id"))
    amount_untaxed: Mapped[Decimal] = mapped_column(Money, default=ZERO)
    amount_tax: Mapped[Decimal] = mapped_column(Money, default=ZERO)
    amount_total: Mapped[Decimal] = mapped_column(Money, default=ZERO)
    # the quantity ledger
    qty_shipped: Mapped[Decimal] = mapped_column(Qty, default=ZERO)
    qty_invoiced: Mapped[Decimal] = mapped_column(Qty, default=ZERO)
    qty_returned: Mapped[Decimal] = mapped_column(Qty, default=ZERO)

    order: Mapped[SaleOrder] = relationship(back_populates="lines")
    product: Mapped[Product] = relationship()
    tax: Mapped[Tax | None] = relationship()


@model("sale.order.revision")
class OrderRevision:
    """An approved order's content before an amendment, with a readable diff. Append-only."""

    __tablename__ = "sale_order_revision"
    __append_only__ = True

    order_id: Mapped[int] = mapped_column(ForeignKey("sale_order.id", ondelete="CASCADE"), index=True)
    revision: Mapped[int] = mapped_column(Integer)
    snapshot: Mapped[dict] = mapped_column(JSON)
    diff: Mapped[list] = mapped_column(JSON)
    reason: Mapped[str | None] = mapped_column(Text)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("res_user.id"))
