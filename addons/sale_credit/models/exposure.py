"""Credit exposure, maintained as the documents change (never summed from history at check time).

``sale.credit.exposure``: one row per customer with the three parts (company currency) and the
oldest due date of its open invoices. A credit check reads this one row (and locks it: the
per-customer lock of the check). ``sale.credit.exposure_item``: what each *open* document
(an approved order not fully invoiced, a posted invoice not fully paid) currently adds to its
customer's parts; the exposure row is the sum of its customer's items. When a document changes,
its item is recomputed from the document and the difference is added to the exposure row, so
the cost of keeping exposure is per changed document, whatever the customer's history.
Items of settled documents are deleted: the table holds open documents only.

``customer_id`` of ``sale.credit.exposure`` is deliberately not a foreign key: a customer merge
re-points every foreign key to the merged customer, and two exposure rows cannot belong to one
customer; the items (foreign keys, moved by the merge) are the truth, and both customers'
rows are recomputed from them after a merge (``services.credit``).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, Index, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from core.registry import model

ZERO = Decimal("0")
Money = Numeric(18, 2)

#: the parts of exposure, in the order they are shown
PARTS = ("receivable", "shipped_uninvoiced", "approved_unshipped")


@model("sale.credit.exposure")
class CreditExposure:
    __tablename__ = "sale_credit_exposure"
    __system__ = True  # bookkeeping kept by the system whoever's change caused it

    customer_id: Mapped[int] = mapped_column(Integer, unique=True)
    #: posted invoices not paid yet (their open amounts)
    receivable: Mapped[Decimal] = mapped_column(Money, default=ZERO, server_default="0")
    #: shipped (and not returned) but not invoiced yet
    shipped_uninvoiced: Mapped[Decimal] = mapped_column(Money, default=ZERO, server_default="0")
    #: approved orders' quantities neither shipped nor invoiced
    approved_unshipped: Mapped[Decimal] = mapped_column(Money, default=ZERO, server_default="0")
    #: due date of the oldest open posted invoice (NULL: none open)
    oldest_due_date: Mapped[dt.date | None] = mapped_column(Date)


@model("sale.credit.exposure_item")
class CreditExposureItem:
    __tablename__ = "sale_credit_exposure_item"
    __system__ = True

    @declared_attr.directive
    def __table_args__(cls):  # new objects per app: a schema item belongs to one table
        return (UniqueConstraint("source", "source_id"),
                Index("ix_sale_credit_exposure_item_customer_due", "customer_id", "due_date"))

    customer_id: Mapped[int] = mapped_column(ForeignKey("sale_customer.id"))
    #: "order" (sale.order) or "invoice" (sale.invoice)
    source: Mapped[str] = mapped_column(String(8))
    source_id: Mapped[int] = mapped_column(Integer)
    receivable: Mapped[Decimal] = mapped_column(Money, default=ZERO, server_default="0")
    shipped_uninvoiced: Mapped[Decimal] = mapped_column(Money, default=ZERO, server_default="0")
    approved_unshipped: Mapped[Decimal] = mapped_column(Money, default=ZERO, server_default="0")
    #: an open invoice's due date (NULL for orders)
    due_date: Mapped[dt.date | None] = mapped_column(Date)
