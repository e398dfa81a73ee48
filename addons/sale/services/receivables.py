"""Receivables: open items, aging and customer statements, as of any date.

What is open on a date is computed from the documents and their dated allocations, not from the
current ``amount_residual``: an invoice is open on ``as_of`` for its total less what was
allocated to it on or before ``as_of`` (payments, credit notes, applied credit). Likewise a
payment's unallocated part and a credit note's unused part are customer **credit** on that
date. So a report for last month end is the same today as it was then. A document settled now
(an invoice or credit note ``paid``, a payment fully allocated) that got no allocation after
``as_of`` was settled on ``as_of`` too: the aging skips those (``_maybe_open``), so its cost
follows what is open, not the whole history.

**Instalments.** What is aged is each instalment of an invoice (``sale.invoice.instalment``:
the amounts and due dates its payment term gave it at posting; one, all of it on the invoice's
due date, without instalment terms). What settled an invoice by ``as_of`` settles its
instalments in sequence, the earliest first (``instalment_open``), so on any date the
instalments' open amounts add up to the invoice's. An open item is an open instalment.

Aging buckets are by days overdue, ``as_of - due_date`` of each instalment: ``not_due`` (0 or
less), ``1_30``, ``31_60``, ``61_90``, ``over_90``. Credit is not aged; it is shown apart (``credit``) and
``balance = total - credit`` is what the customer owes (the receivable account's balance).

**Currencies.** The aging (by customer, by salesperson, in total), open-item totals and
``balance`` are in the **company currency**, at the rates fixed when each document was booked
(``services.exchange``): an invoice is open for ``amount_total_company`` less its allocations'
``amount_company``, a payment is credit for ``amount_company`` less its allocations'
``source_amount_company`` (a credit note likewise). So on any date the aging's balance is the
balance of the receivable account (1122) in the trial balance up to that date: the exchange
differences realised at settlement are what the journal adds to make the two agree. Open
receivables are not revalued at later rates (no unrealised exchange difference is booked).
Open items show each document in its own currency as well; a **customer statement** is in one
document currency (default the customer's), as the customer sees it.

Every figure is one or a few SQL aggregates (``SUM(CASE ...)`` with ``GROUP BY``), made through
``env.session``: a salesperson's reports cover the invoices and payments of their own customers
only, like their lists. Salespersons are those of the customers (who collects).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import and_, case, func, literal, or_, select, type_coerce

from core.errors import ValidationError
from core.money import round_money

from ..models._types import Money
from .masterdata import company_currency

ZERO = Decimal("0.00")
BUCKETS = ("not_due", "1_30", "31_60", "61_90", "over_90")
GROUPS = ("customer", "salesperson", None)
BOOKED = ("posted", "paid")
#: an amount below this (half a cent) is nothing (SQLite sums REAL values)
EPSILON = Decimal("0.005")


def bucket_of(days_overdue: int) -> str:
    if days_overdue <= 0:
        return "not_due"
    if days_overdue <= 30:
        return "1_30"
    if days_overdue <= 60:
        return "31_60"
    if days_overdue <= 90:
        return "61_90"
    return "over_90"


def _money(expr):
    return type_coerce(expr, Money)


def _allocated(env, key: str, as_of: dt.date, among=None, *, company: bool = False):
    """Subquery: per invoice / payment / credit note (``key`` column of the allocation), the
    amount allocated on or before ``as_of`` (``amount``), and in the company currency
    (``amount_company``). What settles an invoice includes the allocations' early-payment
    discounts; what a payment or credit note gave is the money only. ``among``: a select of the
    documents' ids to sum for (the others are left out)."""
    Allocation = env["sale.payment.allocation"]
    column = getattr(Allocation, key)
    stmt = select(column.label("ref_id"), func.sum(_settled(Allocation, key)).label("amount"),
                  func.sum(_settled(Allocation, key, company=True)).label("amount_company")
                  ).where(Allocation.date <= as_of, column.is_not(None))
    if among is not None:
        stmt = stmt.where(column.in_(among))
    return stmt.group_by(column).subquery()


def _settled(Allocation, key: str, *, company: bool = False):
    """What an allocation settled of the document its ``key`` names: an invoice's includes
    the early-payment discount; a payment or credit note gave the money only. ``company``: in
    the company currency (at the invoice's rate on the invoice, at the source's on the source)."""
    if company:
        return Allocation.amount_company if key == "invoice_id" else Allocation.source_amount_company
    return Allocation.amount + Allocation.discount if key == "invoice_id" else Allocation.amount


def _maybe_open(env, document, key: str, open_now, as_of: dt.date):
    """Criterion: the documents that may have something open on ``as_of``: open now
    (``open_now``: an invoice or credit note still ``posted``, not ``paid``; a payment with an
    unallocated part) or given an allocation after ``as_of``. A document settled now that got
    nothing since ``as_of`` was settled then too, so the statements skip the settled history
    (most documents) instead of summing it."""
    Allocation = env["sale.payment.allocation"]
    column = getattr(Allocation, key)
    later = select(column).where(Allocation.date > as_of, column.is_not(None)).correlate(None)
    return or_(open_now, document.id.in_(later))


def _group_columns(env, group_by: str | None):
    Customer, Salesperson = env["sale.customer"], env["sale.salesperson"]
    if group_by == "customer":
        return [Customer.id.label("customer_id"), Customer.code.label("customer_code"),
                Customer.name.label("customer_name")]
    if group_by == "salesperson":
        return [Customer.salesperson_id.label("salesperson_id"),
                Salesperson.name.label("salesperson_name")]
    return []


def _with_groups(env, stmt, group_by: str | None, customer_fk):
    Customer, Salesperson = env["sale.customer"], env["sale.salesperson"]
    stmt = stmt.join(Customer, Customer.id == customer_fk)
    if group_by == "salesperson":
        stmt = stmt.outerjoin(Salesperson, Salesperson.id == Customer.salesperson_id)
    return stmt


def aging(env, as_of: dt.date | None = None, group_by: str | None = "customer", *,
          customer_id: int | None = None, salesperson_id: int | None = None,
          credit: bool = True) -> list[dict[str, Any]]:
    """Aged receivables on ``as_of`` (default today), in the company currency, one row per
    customer, per salesperson or (``group_by=None``) one row in total. Each row: the group's keys, the five buckets,
    ``total`` (open invoices), ``credit`` (unused customer credit) and ``balance``.
    Rows with nothing open and no credit are left out (except the single total row).
    ``credit=False``: the open invoices only, in one statement (``credit`` 0)."""
    if group_by not in GROUPS:
        raise ValidationError({"group_by": ["must be customer, salesperson or empty"]})
    as_of = as_of or env.today()
    Customer = env["sale.customer"]
    groups = _group_columns(env, group_by)
    keys = [c.name for c in groups]
    extra = []
    if customer_id is not None:
        extra.append(Customer.id == customer_id)
    if salesperson_id is not None:
        extra.append(Customer.salesperson_id == salesperson_id)

    # open instalments per bucket
    instalments = open_instalments(env, as_of, customer_id)
    residual, due = instalments.c.open, instalments.c.due
    d30, d60, d90 = (as_of - dt.timedelta(days=n) for n in (30, 60, 90))
    conditions = [due >= as_of, and_(due < as_of, due >= d30), and_(due < d30, due >= d60),
                  and_(due < d60, due >= d90), due < d90]
    sums = [_money(func.coalesce(func.sum(case((cond, residual), else_=0)), 0)).label(name)
            for cond, name in zip(conditions, BUCKETS, strict=True)]
    stmt = select(*groups, *sums).select_from(instalments)
    stmt = _with_groups(env, stmt, group_by, instalments.c.customer_fk).where(*extra)
    if groups:
        stmt = stmt.group_by(*groups)
    rows: dict[tuple, dict[str, Any]] = {}
    for row in env.session.execute(stmt).mappings():
        key = tuple(row[k] for k in keys)
        rows[key] = {**{k: row[k] for k in keys}, **{b: Decimal(row[b] or 0) for b in BUCKETS},
                     "credit": ZERO}

    # customer credit: unallocated payments and unused credit notes on that date
    for amount_expr, credit_stmt in _credit_statements(env, as_of) if credit else ():
        credit_stmt = _with_groups(env, credit_stmt, group_by, credit_stmt.selected_columns.customer_fk)
        credit_stmt = credit_stmt.where(*extra)
        credit_stmt = credit_stmt.with_only_columns(
            *groups, _money(func.coalesce(func.sum(amount_expr), 0)).label("credit"))
        if groups:
            credit_stmt = credit_stmt.group_by(*groups)
        for row in env.session.execute(credit_stmt).mappings():
            key = tuple(row[k] for k in keys)
            target = rows.setdefault(key, {**{k: row[k] for k in keys}, **dict.fromkeys(BUCKETS, ZERO),
                                           "credit": ZERO})
            target["credit"] += Decimal(row["credit"] or 0)
    out = []
    for row in rows.values():
        for b in BUCKETS:
            row[b] = round_money(row[b])
        row["credit"] = round_money(row["credit"])
        row["total"] = sum((row[b] for b in BUCKETS), ZERO)
        row["balance"] = row["total"] - row["credit"]
        if groups and row["total"] == 0 and row["credit"] == 0:
            continue
        out.append(row)
    if not groups and not out:
        out.append({**dict.fromkeys(BUCKETS, ZERO), "credit": ZERO, "total": ZERO, "balance": ZERO})
    if group_by == "customer":
        out.sort(key=lambda r: r["customer_code"] or "")
    elif group_by == "salesperson":
        out.sort(key=lambda r: (r["salesperson_name"] is None, r["salesperson_name"] or ""))
    return out


def open_instalments(env, as_of: dt.date, customer_id: int | None = None):
    """Subquery: the instalments of the invoices open on ``as_of``, in the company currency,
    each with ``customer_fk``, ``invoice_id``, ``due`` (its due date), ``amount`` and ``open``
    (what is open of it on ``as_of``: what was allocated to its invoice by then settled its
    instalments in sequence, the earliest first). The invoices that may be open (``_maybe_open``)
    are each read once with what was allocated to them by then; their instalments' ``open``
    add up to what is open of them. ``customer_id``: that customer's invoices only."""
    Invoice, Allocation = env["sale.invoice"], env["sale.payment.allocation"]
    Instalment = env["sale.invoice.instalment"]
    settled_invoices = (
        select(Invoice.id.label("invoice_id"), Invoice.customer_id.label("customer_fk"),
               func.coalesce(func.sum(_settled(Allocation, "invoice_id", company=True)), 0)
               .label("settled"))
        .select_from(Invoice)
        .outerjoin(Allocation, and_(Allocation.invoice_id == Invoice.id, Allocation.date <= as_of))
        .where(Invoice.kind == "invoice", Invoice.state.in_(BOOKED), Invoice.date <= as_of,
               _maybe_open(env, Invoice, "invoice_id", Invoice.state == "posted", as_of),
               *([] if customer_id is None else [Invoice.customer_id == customer_id]))
        .group_by(Invoice.id, Invoice.customer_id)
        .subquery())
    parts = (
        select(settled_invoices.c.customer_fk, settled_invoices.c.invoice_id,
               Instalment.due_date.label("due"), Instalment.amount_company.label("amount"),
               _cumulative(Instalment, Instalment.amount_company).label("upto"),
               settled_invoices.c.settled)
        .select_from(settled_invoices)
        .join(Instalment, Instalment.invoice_id == settled_invoices.c.invoice_id)
        .subquery())
    return select(parts.c.customer_fk, parts.c.invoice_id, parts.c.due, parts.c.amount,
                  instalment_open(parts.c.amount, parts.c.upto, parts.c.settled).label("open")
                  ).subquery()


def overdue(env, customer_id: int, as_of: dt.date | None = None, days: int = 0) -> dict[str, Any]:
    """What of a customer's invoices is overdue on ``as_of`` (default today) by more than
    ``days`` days, in the company currency: ``amount`` (the instalments due before ``as_of -
    days`` and still open) and ``count`` (the invoices they belong to)."""
    as_of = as_of or env.today()
    parts = open_instalments(env, as_of, customer_id)
    limit = as_of - dt.timedelta(days=max(days, 0))
    count, amount = env.session.execute(
        select(func.count(func.distinct(parts.c.invoice_id)), func.coalesce(func.sum(parts.c.open), 0))
        .where(parts.c.customer_fk == customer_id, parts.c.due < limit,
               parts.c.open >= EPSILON)).one()
    return {"count": count, "amount": round_money(Decimal(amount))}


def _cumulative(Instalment, amount):
    """What an invoice's instalments up to this one add up to (a window over its instalments,
    in sequence)."""
    return func.sum(amount).over(partition_by=Instalment.invoice_id, order_by=Instalment.sequence)


def instalment_open(amount, upto, settled):
    """SQL: what is open of an instalment of ``amount`` whose invoice's instalments up to it
    add up to ``upto``, when ``settled`` of the invoice was settled: what settled the invoice
    settles its instalments in sequence, the earliest first, so the instalments' open amounts
    add up to the invoice's (``total - settled``)."""
    return case((settled >= upto, 0), (settled <= upto - amount, amount), else_=upto - settled)


def instalments_of(env, invoice_ids) -> dict[int, list[tuple[dt.date, Decimal, Decimal]]]:
    """``{invoice id: [(due date, amount, amount in the company currency)]}`` in sequence, of
    the posted invoices ``invoice_ids`` (a few SELECTs of 500 ids), for code that works out
    what is due per invoice in Python (``still_open``, ``settle_instalments``)."""
    Instalment = env["sale.invoice.instalment"]
    ids = sorted(set(invoice_ids))
    found: dict[int, list[tuple[dt.date, Decimal, Decimal]]] = {}
    for start in range(0, len(ids), 500):
        for row in env.session.execute(
                select(Instalment.invoice_id, Instalment.due_date, Instalment.amount,
                       Instalment.amount_company)
                .where(Instalment.invoice_id.in_(ids[start:start + 500]))
                .order_by(Instalment.invoice_id, Instalment.sequence)):
            found.setdefault(row.invoice_id, []).append(
                (row.due_date, Decimal(row.amount), Decimal(row.amount_company)))
    return found


def still_open(instalments: list[tuple[dt.date, Decimal]], settled: Decimal
               ) -> list[tuple[dt.date, Decimal]]:
    """``[(due date, open)]`` of the instalments (``[(due date, amount)]``, in sequence) still
    open once ``settled`` of their invoice was settled, the earliest first (as
    ``instalment_open``)."""
    out = []
    upto = Decimal(0)
    for due, amount in instalments:
        upto += amount
        left = min(amount, upto - settled)
        if left > 0:
            out.append((due, left))
    return out


def settle_instalments(instalments: list[tuple[dt.date, Decimal]],
                       settlements: list[tuple[dt.date, Decimal]]
                       ) -> list[tuple[dt.date, dt.date | None, Decimal]]:
    """How ``settlements`` (``[(date, amount)]``, in date order) settled ``instalments``
    (``[(due date, amount)]``, in sequence), the earliest instalment first: ``[(due date,
    settlement date or None for what is still open, amount)]`` (``instalment_open`` in
    Python, with the dates: how late each part was paid)."""
    parts: list[tuple[dt.date, dt.date | None, Decimal]] = []
    pending = [[date, Decimal(amount)] for date, amount in settlements]
    index = 0
    for due, amount in instalments:
        left = Decimal(amount)
        while left > 0 and index < len(pending):
            date, available = pending[index]
            used = min(left, available)
            if used > 0:
                parts.append((due, date, used))
            left -= used
            pending[index][1] = available - used
            if pending[index][1] <= 0:
                index += 1
        if left > 0:
            parts.append((due, None, left))
    return parts


def aging_totals(rows: list[dict[str, Any]]) -> dict[str, Decimal]:
    keys = (*BUCKETS, "total", "credit", "balance")
    return {k: sum((r[k] for r in rows), ZERO) for k in keys}


def _credit_statements(env, as_of: dt.date):
    """[(amount expression, statement)] of the credit open on ``as_of``, in the company
    currency: payments' unallocated part and credit notes' unused part. Each statement selects
    ``customer_fk``."""
    Invoice, Payment = env["sale.invoice"], env["sale.payment"]
    maybe_pay = _maybe_open(env, Payment, "payment_id", Payment.amount_unallocated != 0, as_of)
    pay_ids = select(Payment.id).where(maybe_pay).correlate(None)
    palloc = _allocated(env, "payment_id", as_of, pay_ids)
    pay_left = Payment.amount_company - func.coalesce(palloc.c.amount_company, 0)
    pay = (select(Payment.customer_id.label("customer_fk")).select_from(Payment)
           .outerjoin(palloc, palloc.c.ref_id == Payment.id)
           .where(Payment.id.in_(pay_ids), Payment.state == "posted", Payment.date <= as_of))
    maybe_note = and_(Invoice.kind == "credit_note", _maybe_open(
        env, Invoice, "credit_note_id", Invoice.state == "posted", as_of))
    note_ids = select(Invoice.id).where(maybe_note).correlate(None)
    calloc = _allocated(env, "credit_note_id", as_of, note_ids)
    note_left = Invoice.amount_total_company - func.coalesce(calloc.c.amount_company, 0)
    notes = (select(Invoice.customer_id.label("customer_fk")).select_from(Invoice)
             .outerjoin(calloc, calloc.c.ref_id == Invoice.id)
             .where(Invoice.id.in_(note_ids), Invoice.state.in_(BOOKED), Invoice.date <= as_of))
    return [(pay_left, pay), (note_left, notes)]


def open_items(env, customer_id: int, as_of: dt.date | None = None) -> dict[str, Any]:
    """What is open for one customer on ``as_of`` (default today): the open instalments of its
    invoices (an invoice without instalment terms is one), each with its due date, days
    overdue and bucket (oldest due first; ``instalment`` of ``instalments``), and the credit
    (payments, credit notes). Each item in its own ``currency`` (``amount``, ``open``: the
    instalment's) and in the company currency (``amount_company``, ``open_company``), with its
    invoice's ``invoice_amount``; ``total``, ``credit`` and ``balance`` are in the company
    currency (``currency``)."""
    customer = env.get("sale.customer", customer_id)
    as_of = as_of or env.today()
    Invoice, Payment = env["sale.invoice"], env["sale.payment"]
    Instalment = env["sale.invoice.instalment"]
    alloc = _allocated(env, "invoice_id", as_of)
    settled = func.coalesce(alloc.c.amount, 0)
    residual = _money(Invoice.amount_total - settled)
    rows = (select(Invoice.id, Invoice.number, Invoice.date, Invoice.currency,
                   Invoice.amount_total, settled.label("settled"),
                   func.coalesce(alloc.c.amount_company, 0).label("settled_company"),
                   Instalment.sequence, Instalment.due_date, Instalment.amount,
                   Instalment.amount_company,
                   _cumulative(Instalment, Instalment.amount).label("upto"),
                   _cumulative(Instalment, Instalment.amount_company).label("upto_company"),
                   func.count().over(partition_by=Instalment.invoice_id).label("instalments"))
            .select_from(Invoice).outerjoin(alloc, alloc.c.ref_id == Invoice.id)
            .join(Instalment, Instalment.invoice_id == Invoice.id)
            .where(Invoice.customer_id == customer.id, Invoice.kind == "invoice",
                   Invoice.state.in_(BOOKED), Invoice.date <= as_of, residual >= EPSILON)
            .subquery())
    left = _money(instalment_open(rows.c.amount, rows.c.upto, rows.c.settled))
    left_company = _money(instalment_open(rows.c.amount_company, rows.c.upto_company,
                                          rows.c.settled_company))
    stmt = (select(rows, left.label("open"), left_company.label("open_company"))
            .where(or_(left >= EPSILON, left_company >= EPSILON))
            .order_by(rows.c.due_date, rows.c.date, rows.c.id, rows.c.sequence))
    items = []
    for row in env.session.execute(stmt):
        days = (as_of - row.due_date).days
        items.append({"kind": "invoice", "id": row.id, "number": row.number, "date": row.date,
                      "due_date": row.due_date, "instalment": row.sequence,
                      "instalments": row.instalments, "currency": row.currency,
                      "invoice_amount": Decimal(row.amount_total),
                      "amount": Decimal(row.amount), "open": Decimal(row.open),
                      "amount_company": Decimal(row.amount_company),
                      "open_company": Decimal(row.open_company),
                      "days_overdue": max(days, 0), "bucket": bucket_of(days)})
    credits = []
    palloc = _allocated(env, "payment_id", as_of)
    pay_left = _money(Payment.amount - func.coalesce(palloc.c.amount, 0))
    pay_left_company = _money(Payment.amount_company - func.coalesce(palloc.c.amount_company, 0))
    calloc = _allocated(env, "credit_note_id", as_of)
    note_left = _money(Invoice.amount_total - func.coalesce(calloc.c.amount, 0))
    note_left_company = _money(Invoice.amount_total_company
                               - func.coalesce(calloc.c.amount_company, 0))
    pay_stmt = (select(literal("payment").label("kind"), Payment.id, Payment.number, Payment.date,
                       Payment.amount.label("amount"), pay_left.label("open"), Payment.currency,
                       Payment.amount_company.label("amount_company"),
                       pay_left_company.label("open_company"))
                .select_from(Payment).outerjoin(palloc, palloc.c.ref_id == Payment.id)
                .where(Payment.customer_id == customer.id, Payment.state == "posted",
                       Payment.date <= as_of, pay_left >= EPSILON))
    note_stmt = (select(literal("credit_note").label("kind"), Invoice.id, Invoice.number, Invoice.date,
                        Invoice.amount_total.label("amount"), note_left.label("open"),
                        Invoice.currency, Invoice.amount_total_company.label("amount_company"),
                        note_left_company.label("open_company"))
                 .select_from(Invoice).outerjoin(calloc, calloc.c.ref_id == Invoice.id)
                 .where(Invoice.customer_id == customer.id, Invoice.kind == "credit_note",
                        Invoice.state.in_(BOOKED), Invoice.date <= as_of, note_left >= EPSILON))
    for stmt in (pay_stmt, note_stmt):
        for row in env.session.execute(stmt):
            credits.append({"kind": row.kind, "id": row.id, "number": row.number, "date": row.date,
                            "currency": row.currency, "amount": Decimal(row.amount),
                            "open": Decimal(row.open),
                            "amount_company": Decimal(row.amount_company),
                            "open_company": Decimal(row.open_company)})
    credits.sort(key=lambda c: (c["date"], c["kind"], c["id"]))
    total = sum((i["open_company"] for i in items), ZERO)
    credit = sum((c["open_company"] for c in credits), ZERO)
    return {"customer_id": customer.id, "customer_code": customer.code,
            "customer_name": customer.name, "as_of": as_of, "items": items, "credits": credits,
            "currency": company_currency(env), "total": total, "credit": credit,
            "balance": total - credit}


class CreditSource(NamedTuple):
    """A payment's unallocated part or a credit note's unused part (``credit_sources``)."""

    kind: str  # "payment" or "credit_note"
    id: int
    currency: str
    #: what is left, in ``currency``
    amount: Decimal
    #: what is left in the company currency, at the document's booked rate: its company amount
    #: less what its allocations used of it (``source_amount_company``), as ``open_company``
    amount_company: Decimal


def credit_sources(env, customer_id: int, currency: str | None = None) -> list[CreditSource]:
    """The customer's unused credit now, oldest first (then credit notes before payments): each
    unallocated payment and unused credit note with its currency, what is left in it and in the
    company currency. ``currency``: that currency's sources only."""
    Invoice, Payment = env["sale.invoice"], env["sale.payment"]
    Allocation = env["sale.payment.allocation"]

    def used(key, document):
        return (select(func.coalesce(func.sum(Allocation.source_amount_company), 0))
                .where(getattr(Allocation, key) == document.id).correlate(document)
                .scalar_subquery())

    pay_criteria = [Payment.customer_id == customer_id, Payment.state == "posted",
                    Payment.amount_unallocated >= EPSILON]
    note_criteria = [Invoice.customer_id == customer_id, Invoice.kind == "credit_note",
                     Invoice.state == "posted", Invoice.amount_residual >= EPSILON]
    if currency is not None:
        pay_criteria.append(Payment.currency == currency.upper())
        note_criteria.append(Invoice.currency == currency.upper())
    pays = env.session.execute(
        select(Payment.date, Payment.id, Payment.currency, _money(Payment.amount_unallocated),
               _money(Payment.amount_company - used("payment_id", Payment)))
        .where(*pay_criteria)).all()
    notes = env.session.execute(
        select(Invoice.date, Invoice.id, Invoice.currency, _money(Invoice.amount_residual),
               _money(Invoice.amount_total_company - used("credit_note_id", Invoice)))
        .where(*note_criteria)).all()
    out = sorted([(row[0], "payment", *row[1:]) for row in pays]
                 + [(row[0], "credit_note", *row[1:]) for row in notes])
    return [CreditSource(kind, ident, code, Decimal(left), Decimal(left_company))
            for _d, kind, ident, code, left, left_company in out]


def balance(env, customer_id: int, as_of: dt.date | None = None,
            currency: str | None = None) -> Decimal:
    """What the customer owes on ``as_of``: invoices less credit notes less payments, in the
    company currency (the customer's balance on the receivable account); with ``currency``,
    what the documents in that currency leave owed, in it."""
    return _balance_before(env, customer_id, (as_of or env.today()) + dt.timedelta(days=1),
                           currency)


def _balance_before(env, customer_id: int, date: dt.date, currency: str | None = None) -> Decimal:
    """The balance before ``date``: in ``currency`` (its documents only), or in the company
    currency (every document at its booked rate; an allocation's ``amount_company -
    source_amount_company`` is what it settled without money on top of what it used: its
    early-payment discount and its exchange difference)."""
    Invoice, Payment = env["sale.invoice"], env["sale.payment"]
    Allocation = env["sale.payment.allocation"]
    company = currency is None
    total = Invoice.amount_total_company if company else Invoice.amount_total
    signed = case((Invoice.kind == "credit_note", -total), else_=total)
    documents = select(_money(func.coalesce(func.sum(signed), 0))).where(
        Invoice.customer_id == customer_id, Invoice.state.in_(BOOKED), Invoice.date < date)
    paid = select(_money(func.coalesce(func.sum(
        Payment.amount_company if company else Payment.amount), 0))).where(
        Payment.customer_id == customer_id, Payment.state == "posted", Payment.date < date)
    if company:
        settled = Allocation.amount_company - Allocation.source_amount_company
        without_money = (select(_money(func.coalesce(func.sum(settled), 0)))
                         .join(Invoice, Invoice.id == Allocation.invoice_id)
                         .where(Invoice.customer_id == customer_id, Allocation.date < date,
                                settled != 0))
    else:
        documents = documents.where(Invoice.currency == currency)
        paid = paid.where(Payment.currency == currency)
        without_money = (select(_money(func.coalesce(func.sum(Allocation.discount), 0)))
                         .join(Invoice, Invoice.id == Allocation.invoice_id)
                         .where(Invoice.customer_id == customer_id, Allocation.discount > 0,
                                Allocation.date < date, Invoice.currency == currency))
    values = [Decimal(env.session.scalar(stmt) or 0) for stmt in (documents, paid, without_money)]
    return round_money(values[0] - values[1] - values[2])


def customer_statement(env, customer_id: int, date_from: dt.date, date_to: dt.date,
                       currency: str | None = None) -> dict[str, Any]:
    """Opening balance on ``date_from``, every invoice (with its ``instalments``: the due date
    and amount of each), credit note and payment dated in ``[date_from, date_to]`` with a
    running balance, and the closing balance: in one document
    ``currency`` (default the customer's), as the customer sees it (its documents only, their
    own amounts; no exchange difference: that is the company's)."""
    if date_from is None or date_to is None:
        raise ValidationError({"date_from": ["date_from and date_to are required"]})
    if date_from > date_to:
        raise ValidationError({"date_from": [f"must be on or before date_to ({date_to.isoformat()})"]})
    customer = env.get("sale.customer", customer_id)
    currency = (currency or customer.currency or company_currency(env)).upper()
    Invoice, Payment = env["sale.invoice"], env["sale.payment"]
    opening = _balance_before(env, customer.id, date_from, currency)
    docs = env.session.execute(
        select(Invoice.id, Invoice.kind, Invoice.number, Invoice.date, Invoice.due_date,
               Invoice.amount_total, Invoice.reason)
        .where(Invoice.customer_id == customer.id, Invoice.state.in_(BOOKED),
               Invoice.currency == currency,
               Invoice.date >= date_from, Invoice.date <= date_to)).all()
    pays = env.session.execute(
        select(Payment.id, Payment.number, Payment.date, Payment.amount, Payment.method,
               Payment.reference)
        .where(Payment.customer_id == customer.id, Payment.state == "posted",
               Payment.currency == currency,
               Payment.date >= date_from, Payment.date <= date_to)).all()
    Allocation = env["sale.payment.allocation"]
    discounts = env.session.execute(
        select(Allocation.id, Allocation.date, Allocation.discount, Invoice.number)
        .join(Invoice, Invoice.id == Allocation.invoice_id)
        .where(Invoice.customer_id == customer.id, Allocation.discount > 0,
               Invoice.currency == currency,
               Allocation.date >= date_from, Allocation.date <= date_to)).all()
    Instalment = env["sale.invoice.instalment"]
    due: dict[int, list[dict[str, Any]]] = {}
    invoice_ids = [d.id for d in docs if d.kind == "invoice"]
    for start in range(0, len(invoice_ids), 500):
        for row in env.session.execute(
                select(Instalment.invoice_id, Instalment.due_date, Instalment.amount)
                .where(Instalment.invoice_id.in_(invoice_ids[start:start + 500]))
                .order_by(Instalment.invoice_id, Instalment.sequence)):
            due.setdefault(row.invoice_id, []).append(
                {"due_date": row.due_date, "amount": Decimal(row.amount)})
    movements = []
    for a in discounts:  # settled without money: an early-payment discount
        movements.append({"date": a.date, "kind": "discount", "id": a.id, "number": None,
                          "due_date": None, "instalments": [], "reference": a.number,
                          "debit": ZERO,
                          "credit": Decimal(a.discount), "_order": 3})
    for d in docs:
        amount = Decimal(d.amount_total)
        credit_note = d.kind == "credit_note"
        movements.append({"date": d.date, "kind": d.kind, "id": d.id, "number": d.number,
                          "due_date": d.due_date, "instalments": due.get(d.id, []),
                          "reference": d.reason if credit_note else None,
                          "debit": ZERO if credit_note else amount,
                          "credit": amount if credit_note else ZERO, "_order": 1 if credit_note else 0})
    for p in pays:
        movements.append({"date": p.date, "kind": "payment", "id": p.id, "number": p.number,
                          "due_date": None, "instalments": [],
                          "reference": p.reference or p.method, "debit": ZERO,
                          "credit": Decimal(p.amount), "_order": 2})
    movements.sort(key=lambda m: (m["date"], m["_order"], m["number"] or "", m["id"]))
    running = opening
    for m in movements:
        del m["_order"]
        running += m["debit"] - m["credit"]
        m["balance"] = running
    debit = sum((m["debit"] for m in movements), ZERO)
    credit = sum((m["credit"] for m in movements), ZERO)
    return {"customer_id": customer.id, "customer_code": customer.code,
            "customer_name": customer.name, "date_from": date_from, "date_to": date_to,
            "currency": currency, "opening_balance": opening, "movements": movements, "debit": debit, "credit": credit,
            "closing_balance": opening + debit - credit}
