"""Dunning (催款): one ``sale.credit.dunning_run`` per run, one ``sale.credit.dunning`` per
reminder letter. See ``services.dunning`` and docs/sale_credit.md#collections.

A dunning row is the letter as it was written (level, text, language, amount due), kept as
history: append-only. ``UNIQUE (invoice_id, level)`` makes "each level once per invoice" a
property of the database, so two runs racing each other cannot both write the same level.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship

from core.registry import model

ZERO = Decimal("0")


@model("sale.credit.dunning_run")
class DunningRun:
    """One run of ``salesflow credit dunning --date D`` (or ``POST /api/v1/credit/dunning-runs``)."""

    __tablename__ = "sale_credit_dunning_run"

    #: the date the run looked at (days overdue are counted to it)
    date: Mapped[dt.date] = mapped_column(Date, index=True)
    #: who ran it (None: the system, e.g. a scheduled CLI run)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("res_user.id"), index=True)
    #: open invoices examined
    invoice_count: Mapped[int] = mapped_column(Integer, default=0)
    #: dunning letters written by this run
    dunning_count: Mapped[int] = mapped_column(Integer, default=0)
    #: letters without any e-mail address (outbox state "no_recipient")
    no_recipient_count: Mapped[int] = mapped_column(Integer, default=0)
    #: customers put on credit hold by a final notice
    hold_count: Mapped[int] = mapped_column(Integer, default=0)
    dunnings: Mapped[list[Dunning]] = relationship(back_populates="run", order_by="Dunning.id")


@model("sale.credit.dunning")
class Dunning:
    """One reminder letter: ``level`` of the configured levels for one invoice."""

    __tablename__ = "sale_credit_dunning"
    __append_only__ = True

    @declared_attr.directive
    def __table_args__(cls):  # new objects per app: a schema item belongs to one table
        return (UniqueConstraint("invoice_id", "level"),)

    run_id: Mapped[int] = mapped_column(ForeignKey("sale_credit_dunning_run.id"), index=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("sale_invoice.id"), index=True)
    #: the invoice's number as printed in the letter (kept: readable without access to invoices)
    invoice_number: Mapped[str] = mapped_column(String(32), default="")
    customer_id: Mapped[int] = mapped_column(ForeignKey("sale_customer.id"), index=True)
    #: the level's code ([addon.sale_credit.dunning] levels), e.g. "reminder"
    level: Mapped[str] = mapped_column(String(32))
    #: the level's position in the configured levels (0 = first), for "the highest level sent"
    level_index: Mapped[int] = mapped_column(Integer)
    date: Mapped[dt.date] = mapped_column(Date, index=True)
    #: days after the due date on ``date`` (negative: before it)
    days_overdue: Mapped[int] = mapped_column(Integer)
    #: what was open on the invoice when the letter was written, in its ``currency`` (what the
    #: letter quotes)
    amount_due: Mapped[Decimal] = mapped_column(Numeric(18, 2), default=ZERO)
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    #: the same in the company currency, at the rate the invoice was booked at (its
    #: ``amount_total_company`` less what its allocations cleared: sale's ``open_company``,
    #: what the receivables and the credit exposure count)
    amount_due_company: Mapped[Decimal] = mapped_column(Numeric(18, 2), default=ZERO,
                                                        server_default="0")
    #: the language the letter is written in (the customer's ``lang``: zh_CN or en)
    lang: Mapped[str] = mapped_column(String(8))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    #: this letter put the customer on credit hold (a final notice with auto_hold)
    put_on_hold: Mapped[bool] = mapped_column(default=False)
    run: Mapped[DunningRun] = relationship(back_populates="dunnings")
    invoice: Mapped[Invoice] = relationship()
    customer: Mapped[Customer] = relationship()

    def company_currency(self) -> str:
        """The currency of ``amount_due_company`` (lists show it next to the amount)."""
        from ..services.credit import company_currency

        return company_currency(self.env)
