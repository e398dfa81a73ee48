"""``sale.credit.decision``: every credit decision with what it saw, so it can be explained later.

One row per credit check of an order that mattered (``approve`` and shipments, passed or not),
per credit-manager release or rejection, and per shipment release. Append-only.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.registry import model

Money = Numeric(18, 2)

#: what a decision concluded
OUTCOMES = (
    "pass",        # the check passed
    "review",      # the check failed; the order went (or waits to go) to credit review
    "refused",     # the check failed; the transition or shipment was refused
    "released",    # a credit manager released the order (or its shipment)
    "rejected",    # a credit manager rejected the order
)


@model("sale.credit.decision")
class CreditDecision:
    __tablename__ = "sale_credit_decision"
    __append_only__ = True
    __system__ = True

    order_id: Mapped[int | None] = mapped_column(ForeignKey("sale_order.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("sale_customer.id"), index=True)
    #: approve, ship, release_credit, reject_credit, release_shipment
    trigger: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(16), index=True)
    #: review or refuse (the policy in force)
    policy: Mapped[str | None] = mapped_column(String(8))
    grade: Mapped[str | None] = mapped_column(String(16))
    #: the effective limit (NULL: none)
    credit_limit: Mapped[Decimal | None] = mapped_column(Money)
    #: the exposure parts as read (this order's own contribution included, see ``own_amount``)
    receivable: Mapped[Decimal] = mapped_column(Money)
    shipped_uninvoiced: Mapped[Decimal] = mapped_column(Money)
    approved_unshipped: Mapped[Decimal] = mapped_column(Money)
    #: the parts counted (``[addon.sale_credit] components``)
    components: Mapped[list] = mapped_column(JSON)
    #: what this order already contributed to the counted parts (0 at approval)
    own_amount: Mapped[Decimal] = mapped_column(Money)
    #: counted exposure without this order
    exposure: Mapped[Decimal] = mapped_column(Money)
    #: what the order adds (company currency): its total at approval, its uninvoiced rest later
    order_amount: Mapped[Decimal] = mapped_column(Money)
    hold: Mapped[bool] = mapped_column(Boolean, default=False)
    hold_reason: Mapped[str | None] = mapped_column(Text)
    oldest_due_date: Mapped[dt.date | None] = mapped_column(Date)
    days_overdue: Mapped[int | None] = mapped_column(Integer)
    overdue_days_allowed: Mapped[int | None] = mapped_column(Integer)
    #: the date the check was made for (overdue days are counted to it)
    as_of: Mapped[dt.date] = mapped_column(Date)
    reasons: Mapped[list] = mapped_column(JSON)
    #: the order's state after the decision (NULL: the transaction was rolled back)
    state_after: Mapped[str | None] = mapped_column(String(20))
    order_revision: Mapped[int | None] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("res_user.id"), index=True)
