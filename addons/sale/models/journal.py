"""Double-entry journal: balanced entries for posted invoices, credit notes and payments."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.registry import model

from ._types import Money

ZERO = Decimal("0")


@model("sale.account")
class Account:
    """A ledger account (receivable, revenue, output VAT, bank, cash, sales discount...)."""

    __tablename__ = "sale_account"

    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    #: asset, liability, income, expense, equity
    kind: Mapped[str] = mapped_column(String(16))


@model("sale.journal.entry")
class JournalEntry:
    """Posted on creation; immutable; corrected only by a reversing entry."""

    __tablename__ = "sale_journal_entry"
    __append_only__ = True

    number: Mapped[str] = mapped_column(String(32), unique=True)
    date: Mapped[dt.date] = mapped_column(Date, index=True)
    #: what it books: "sale.invoice", "sale.payment"...
    source_record: Mapped[str] = mapped_column(String(64))
    source_id: Mapped[int] = mapped_column(Integer, index=True)
    label: Mapped[str] = mapped_column(String(200))
    reversed_entry_id: Mapped[int | None] = mapped_column(ForeignKey("sale_journal_entry.id"))
    lines: Mapped[list[JournalLine]] = relationship(back_populates="entry", order_by="JournalLine.id")


@model("sale.journal.line")
class JournalLine:
    __tablename__ = "sale_journal_line"
    __append_only__ = True

    entry_id: Mapped[int] = mapped_column(ForeignKey("sale_journal_entry.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("sale_account.id"), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("sale_customer.id"), index=True)
    debit: Mapped[Decimal] = mapped_column(Money, default=ZERO)
    credit: Mapped[Decimal] = mapped_column(Money, default=ZERO)
    label: Mapped[str] = mapped_column(String(200), default="")
    entry: Mapped[JournalEntry] = relationship(back_populates="lines")
    account: Mapped[Account] = relationship()
