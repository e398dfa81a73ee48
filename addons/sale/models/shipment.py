"""Shipments recorded in ``sale``: quantities per order line (partial allowed).

``services/shipment.py``: ``record_shipment`` writes them and the order lines' ``qty_shipped``,
``record_return`` the goods that came back (``qty_returned``).
``sale_logistics`` will replace these with delivery orders.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, orm_insert_sentinel, relationship

from core.registry import model

from ._types import Qty


@model("sale.shipment")
class Shipment:
    __tablename__ = "sale_shipment"
    __audit__ = True
    #: lets SQLite insert many in one INSERT .. RETURNING (batches); NULL otherwise
    _sentinel: Mapped[int | None] = orm_insert_sentinel()

    order_id: Mapped[int] = mapped_column(ForeignKey("sale_order.id"), index=True)
    #: "delivery" (goods out: ``qty_shipped``) or "return" (goods back: ``qty_returned``)
    kind: Mapped[str] = mapped_column(String(10), default="delivery")
    date: Mapped[dt.date] = mapped_column(Date)
    reference: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("res_user.id"))
    order: Mapped[SaleOrder] = relationship()
    lines: Mapped[list[ShipmentLine]] = relationship(
        back_populates="shipment", cascade="all, delete-orphan"
    )


@model("sale.shipment.line")
class ShipmentLine:
    """A shipped (or, in a return, returned) quantity of one order line: a ledger entry
    (``qty_shipped`` / ``qty_returned`` are their sums), so append-only; goods coming back are
    recorded as a return, never by editing a shipment."""

    __tablename__ = "sale_shipment_line"
    __append_only__ = True

    shipment_id: Mapped[int] = mapped_column(ForeignKey("sale_shipment.id", ondelete="CASCADE"), index=True)
    sale_line_id: Mapped[int] = mapped_column(ForeignKey("sale_line.id"), index=True)
    quantity: Mapped[Decimal] = mapped_column(Qty)
    #: lets SQLite insert many lines in one statement (see sale.line)
    _sentinel: Mapped[int | None] = orm_insert_sentinel()
    shipment: Mapped[Shipment] = relationship(back_populates="lines")
    sale_line: Mapped[SaleLine] = relationship()

    def validate(self) -> dict[str, list[str]]:
        if self.quantity is not None and self.quantity <= 0:
            return {"quantity": ["must be positive"]}
        return {}
