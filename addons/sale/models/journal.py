"""Double-entry journal: balanced entries for posted invoices, credit notes and payments.

Entries and lines are append-only (posted on creation); a mistake is corrected by a reversing
entry (``reversed_entry_id``), never by changing a row. ``services.journal`` creates them.

Whoever writes them, through the session: a line is a part of its entry
(``__posted_parent__``), so it goes in only with its new entry, in the same flush (an entry
in the database takes no more lines), and a new entry is balanced (``imbalance``: debits equal
credits, and the lines in each foreign currency cancel out in that currency).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, Integer, String, inspect
from sqlalchemy.orm import Mapped, mapped_column, orm_insert_sentinel, relationship

from core.registry import model

from ._types import Money

ZERO = Decimal("0")
ACCOUNT_KINDS = ("asset", "liability", "income", "expense", "equity")


def imbalance(lines: Iterable) -> str | None:
    """Why ``lines`` (with ``debit``, ``credit``, ``currency``, ``amount_currency``, as records
    or dicts) do not make a balanced entry, or None: the debits must equal the credits (company
    currency), and in each foreign currency the signed ``amount_currency`` must add up to 0."""
    debit = credit = ZERO
    sides: dict[str, list[Decimal]] = {}
    for line in lines:
        get = line.get if isinstance(line, dict) else lambda key, line=line: getattr(line, key)
        debit += Decimal(get("debit") or 0)
        credit += Decimal(get("credit") or 0)
        currency = get("currency")
        if currency is not None:
            amount = Decimal(get("amount_currency") or 0)
            side = sides.setdefault(currency, [ZERO, ZERO])
            side[0 if amount > 0 else 1] += abs(amount)
    if debit != credit:
        return f"unbalanced entry: debit {debit} != credit {credit}"
    for currency, (in_debit, in_credit) in sorted(sides.items()):
        if in_debit != in_credit:
            return f"unbalanced in {currency}: {in_debit} debit != {in_credit} credit"
    return None


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

    def validate(self) -> dict[str, list[str]]:
        """A new entry (append-only: never a changed one) with its lines, balanced."""
        if not self.lines:
            return {"lines": ["an entry needs at least one line"]}
        problem = imbalance(self.lines)
        return {"lines": [problem]} if problem else {}


@model("sale.journal.line")
class JournalLine:
    __tablename__ = "sale_journal_line"
    __append_only__ = True
    #: goes in only with its entry, while the entry is new (the kernel's ``__posted_parent__``)
    __posted_parent__ = "entry"

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
        if inspect(self).key is None and self.entry is None:
            # an entry_id alone (of an entry not written yet): its entry's balance would not
            # count it
            return {"entry_id": ["a journal line goes in with its entry (entry=...)"]}
        debit, credit = Decimal(self.debit or 0), Decimal(self.credit or 0)
        if debit < 0 or credit < 0:
            return {"debit": ["debit and credit must not be negative"]}
        if (debit == 0) == (credit == 0):
            return {"debit": ["a line has either a debit or a credit"]}
        return {}
