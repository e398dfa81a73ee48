"""The sales journal: a default chart of accounts, balanced double-entry postings, trial balance.

Every posted invoice, credit note and payment books one entry in the same transaction:

=============  ==========================================  ======================================
document       debit                                       credit
=============  ==========================================  ======================================
invoice        1122 receivable (total, per customer)       6001 revenue (untaxed), 22210106 VAT
credit note    6001 revenue, 22210106 output VAT           1122 receivable (total, per customer)
payment        1001 cash (cash) / 1002 bank (other methods) 1122 receivable (amount, per customer)
=============  ==========================================  ======================================

Entries and lines are append-only (``__append_only__``): the kernel refuses any change or
delete, a mistake is corrected by a reversing entry (``reversed_entry_id``). Entry numbers are
gap-free per year (``JE/2026/000001``). An entry whose debits and credits differ, or whose
lines in a foreign currency do not cancel out in it, is refused (``models.journal.imbalance``,
which the model applies to entries written through the session).

The journal is kept in the company currency (``masterdata.company_currency``, CNY). A document
in another currency is booked at the rate fixed when it is booked (``services.exchange``): an
invoice at its date's rate, a credit note at its invoice's, a payment at its date's. Its lines
keep the document's ``currency`` and ``amount_currency`` (signed: debit positive). A foreign
invoice debits the receivable ``round(total x rate)`` and credits revenue ``round(untaxed x
rate)``, VAT the difference, so it always balances. At settlement the receivable is cleared at
the invoice's rate and the money counted at the payment's: the difference is an exchange gain or
loss (660302), on the payment's entry, or on an entry of its own when credit (an earlier payment,
a credit note) is applied later.
"""

from __future__ import annotations

import datetime as dt
import weakref
from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert, select, type_coerce
from sqlalchemy.orm import make_transient_to_detached

from core.errors import ValidationError

from .. import queries
from ..models._types import Money
from ..models.journal import imbalance

ZERO = Decimal("0.00")

#: role -> (code, English name, Chinese name, kind)
ACCOUNTS: dict[str, tuple[str, str, str, str]] = {
    "receivable": ("1122", "Accounts receivable", "应收账款", "asset"),
    "revenue": ("6001", "Sales revenue", "主营业务收入", "income"),
    "output_vat": ("22210106", "Output VAT", "应交税费-销项税额", "liability"),
    "bank": ("1002", "Bank", "银行存款", "asset"),
    "cash": ("1001", "Cash", "库存现金", "asset"),
    "sales_discount": ("6603", "Sales discount", "财务费用-现金折扣", "expense"),
    "exchange": ("660302", "Exchange gains and losses", "财务费用-汇兑损益", "expense"),
}

#: payment method -> account role
METHOD_ACCOUNT = {"cash": "cash", "cheque": "bank", "bank_transfer": "bank", "electronic": "bank"}


def ensure_accounts(env) -> dict[str, Any]:
    """Create the missing accounts of the default chart (idempotent); ``{role: account}``.

    Accounts are found by code, so a chart an installation already has (same codes, its own
    names) is used as it is."""
    Account = env["sale.account"]
    codes = {code: role for role, (code, *_rest) in ACCOUNTS.items()}
    with env.sudo():
        found = {a.code: a for a in env.session.scalars(select(Account).where(Account.code.in_(codes)))}
        missing = [Account(code=code, name=name, name_zh=name_zh, kind=kind)
                   for code, name, name_zh, kind in ACCOUNTS.values() if code not in found]
        if missing:
            env.session.add_all(missing)
            env.session.flush()
            found.update({a.code: a for a in missing})
    return {codes[code]: account for code, account in found.items()}


#: per app: {role or code: account id}, once every account of the chart is known to exist
#: (accounts are never deleted: nobody has the right)
_ACCOUNT_IDS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def account_ids(env) -> dict[str, int]:
    """``{role: id, code: id}`` of the default chart, created when missing; cached per app
    after the transaction that saw (or created) them commits."""
    cached = _ACCOUNT_IDS.get(env.sf) or env.tx_cache("sale.account_ids").get("ids")
    if cached is not None:
        return cached
    ids: dict[str, int] = {}
    for role, account in ensure_accounts(env).items():
        ids[role] = ids[account.code] = account.id
    sf = env.sf
    env.tx_cache("sale.account_ids")["ids"] = ids  # the rest of this transaction
    env.after_commit(lambda: _ACCOUNT_IDS.__setitem__(sf, ids))
    return ids


def post_entry(env, *, date: dt.date, source_record: str, source_id: int, label: str,
               lines: list[dict[str, Any]], reversed_entry_id: int | None = None):
    """Book one balanced entry. ``lines``: ``{"account": role or code, "debit"|"credit": Decimal,
    "customer_id": int | None, "label": str}``, and on a foreign document's lines ``"currency"``
    and ``"amount_currency"`` (the same side's amount in that currency: stored signed, debit
    positive); zero lines are left out, a negative amount goes to the other side. Runs as the system (booking follows from a document the user was allowed
    to post). The entry and its lines are two INSERTs whatever the number of lines."""
    return post_entries(env, [{"date": date, "source_record": source_record, "source_id": source_id,
                               "label": label, "lines": lines,
                               "reversed_entry_id": reversed_entry_id}])[0]


def post_entries(env, specs: list[dict[str, Any]]) -> list:
    """``post_entry`` for many entries (each spec holds its keyword arguments), all checked
    first: one INSERT for the entries, one for all their lines, the numbers in one block per
    year (in the specs' order)."""
    accounts = account_ids(env)
    JournalEntry = env["sale.journal.entry"]
    checked = [_entry_rows(accounts, spec["lines"], spec["label"]) for spec in specs]
    now = env.now
    values = []
    by_year: dict[int, list[int]] = {}
    for i, spec in enumerate(specs):
        by_year.setdefault(spec["date"].year, []).append(i)
    numbers: dict[int, int] = {}
    with env.sudo():
        for year, indexes in by_year.items():
            if len(indexes) == 1:
                numbers[indexes[0]] = env.next_number("sale.journal", str(year))
            else:
                numbers.update(zip(indexes, env.next_numbers("sale.journal", str(year), len(indexes)),
                                   strict=True))
    for i, spec in enumerate(specs):
        date = spec["date"]
        values.append({"number": f"JE/{date.year}/{numbers[i]:06d}", "date": date,
                       "source_record": spec["source_record"], "source_id": spec["source_id"],
                       "label": spec["label"][:200],
                       "reversed_entry_id": spec.get("reversed_entry_id"),
                       "created_at": now, "updated_at": now, "version": 1})
    conn = env.session.connection()
    # the entries and their lines go in with Core, like any append-only system row written only
    # here (no ORM flush: no record_validate or record_created for them); the entries come back
    # as persistent records without another SELECT
    if len(values) == 1:
        ids = [conn.execute(queries.built(env, "sale.journal.entry.insert", _entry_insert),
                            values[0]).scalar_one()]
    else:
        ids = list(conn.execute(queries.built(env, "sale.journal.entry.insert_many", _entries_insert),
                                values).scalars())
    # one executemany: a single cursor call on SQLite, one pipelined batch on PostgreSQL
    env.insert_rows("sale.journal.line", [
        {**row, "entry_id": entry_id, "version": 1, "created_at": now, "updated_at": now}
        for entry_id, rows in zip(ids, checked, strict=True) for row in rows])
    entries = []
    for entry_id, row in zip(ids, values, strict=True):
        entry = JournalEntry(id=entry_id, **row)
        make_transient_to_detached(entry)
        env.session.add(entry)
        entries.append(entry)
    return entries


def _entry_rows(accounts: dict[str, int], lines: list[dict[str, Any]], label: str) -> list[dict]:
    """The entry's line rows, checked (balanced, known accounts, one side per line)."""
    rows = []
    debit_total = credit_total = ZERO
    foreign = False
    for i, line in enumerate(lines):
        debit = Decimal(line.get("debit") or 0)
        credit = Decimal(line.get("credit") or 0)
        amount_currency = line.get("amount_currency")
        if amount_currency is not None:  # signed: debit positive, whatever side it ends on
            amount_currency = Decimal(amount_currency) * (1 if debit else -1)
        if debit and credit:
            raise ValidationError({f"lines.{i}": ["a line has either a debit or a credit"]})
        if debit == 0 and credit == 0:
            continue
        if debit < 0:  # a negative amount goes to the other side
            debit, credit = ZERO, -debit
        if credit < 0:
            debit, credit = -credit, ZERO
        account_id = accounts.get(line["account"])
        if account_id is None:
            raise ValidationError({f"lines.{i}.account": [f"no account {line['account']!r}"]})
        debit_total += debit
        credit_total += credit
        foreign = foreign or line.get("currency") is not None
        rows.append({"account_id": account_id, "customer_id": line.get("customer_id"),
                     "debit": debit, "credit": credit, "label": (line.get("label") or label)[:200],
                     "currency": line.get("currency"), "amount_currency": amount_currency})
    if debit_total != credit_total:
        raise ValidationError({"lines": [f"unbalanced entry: debit {debit_total} != credit {credit_total}"]})
    if foreign and (problem := imbalance(rows)):  # the lines in each currency cancel out too
        raise ValidationError({"lines": [problem]})
    if not rows:
        raise ValidationError({"lines": ["an entry needs at least one non-zero line"]})
    return rows


def _entries_insert(env):
    """Multi-row ``INSERT .. RETURNING id`` of journal entries, ids in the rows' order."""
    table = env["sale.journal.entry"].__table__
    return insert(table).returning(table.c.id, sort_by_parameter_order=True)


def _entry_insert(env):
    """``INSERT .. RETURNING id`` of a journal entry (built once per app)."""
    table = env["sale.journal.entry"].__table__
    return insert(table).returning(table.c.id)


def entries_of(env, source_record: str, source_id: int) -> list:
    JournalEntry = env["sale.journal.entry"]
    return env.search("sale.journal.entry", JournalEntry.source_record == source_record,
                      JournalEntry.source_id == source_id)


def trial_balance(env, date_from: dt.date | None = None, date_to: dt.date | None = None) -> dict:
    """Debits, credits and balance (debit - credit) per account over the entries dated in
    ``[date_from, date_to]`` (open ends when None), from one ``GROUP BY``. The totals of debits
    and credits are equal: ``balanced`` says so."""
    if date_from is not None and date_to is not None and date_from > date_to:
        raise ValidationError({"date_from": ["must be on or before date_to"]})
    Account, Entry, Line = env["sale.account"], env["sale.journal.entry"], env["sale.journal.line"]
    debit = type_coerce(func.coalesce(func.sum(Line.debit), 0), Money)
    credit = type_coerce(func.coalesce(func.sum(Line.credit), 0), Money)
    stmt = (select(Account.id, Account.code, Account.name, Account.name_zh, Account.kind, debit, credit)
            .select_from(Line).join(Entry, Line.entry_id == Entry.id)
            .join(Account, Line.account_id == Account.id)
            .group_by(Account.id, Account.code, Account.name, Account.name_zh, Account.kind)
            .order_by(Account.code))
    if date_from is not None:
        stmt = stmt.where(Entry.date >= date_from)
    if date_to is not None:
        stmt = stmt.where(Entry.date <= date_to)
    rows = []
    total_debit = total_credit = ZERO
    for account_id, code, name, name_zh, kind, d, c in env.session.execute(stmt):
        d, c = Decimal(d), Decimal(c)
        total_debit += d
        total_credit += c
        rows.append({"account_id": account_id, "code": code, "name": name, "name_zh": name_zh,
                     "kind": kind, "debit": d, "credit": c, "balance": d - c})
    return {"date_from": date_from, "date_to": date_to, "rows": rows, "debit": total_debit,
            "credit": total_credit, "balanced": total_debit == total_credit}
