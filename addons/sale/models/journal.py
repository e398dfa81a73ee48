"""Double-entry journal: balanced entries for posted invoices, credit notes and payments.

Entries and lines are append-only (posted on creation); a mistake is corrected by a reversing
entry (``reversed_entry_id``), never by changing a row. ``services.journal`` creates them.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, orm_insert_sentinel, relationship

from core.registry import model

from ._types import Money

ZERO = Decimal("0")
ACCOUNT_KINDS = ("asset", "liability", "income", "expense", "equity")


@model("sale.account")
class Account:
    """A ledger account (receivable, revenue, output VAT, bank, cash, sales discount...)."""

    __tablename__ = "sale_account"

    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    #: the Chinese name (科目名称)
    name_zh: Mapped[str | None] = mapped_column(String(128))
    #: asset, liability, income, expense, equity
    kind: Mapped[str] = mapped_column(String(16))

    def validate(self) -> dict[str, list[str]]:
        if self.kind not in ACCOUNT_KINDS:
            return {"kind": [f"must be one of {', '.join(ACCOUNT_KINDS)}"]}
        return {}


@model("sale.journal.entry")
class JournalEntry:
    """Posted on creation; immutable; corrected only by a reversing entry."""

    __tablename__ = "sale_journal_entry"
    __append_only__ = True
    #: lets SQLite insert many in one INSERT .. RETURNING (batches); NULL otherwise
    _sentinel: Mapped[int | None] = orm_insert_sentinel()

    #: gap-free per year: JE/2026/000001
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
    #: the document's currency, on the lines of a document in another currency than the
    #: company's (None: a company-currency line)
    currency: Mapped[str | None] = mapped_column(String(3))
    #: the line in ``currency``, signed: debit positive, credit negative (0 on an exchange
    #: difference: it exists only in the company currency)
    amount_currency: Mapped[Decimal | None] = mapped_column(Money)
    entry: Mapped[JournalEntry] = relationship(back_populates="lines")
    account: Mapped[Account] = relationship()

    def validate(self) -> dict[str, list[str]]:
        debit, credit = Decimal(self.debit or 0), Decimal(self.credit or 0)
        if debit < 0 or credit < 0:
            return {"debit": ["debit and credit must not be negative"]}
        if (debit == 0) == (credit == 0):
            return {"debit": ["a line has either a debit or a credit"]}
        return {}
