"""Invoicing: invoices from the order's quantity ledger, posting, credit notes.

* ``create_invoice(env, order)`` makes a **draft** invoice of what may be invoiced now: per
  order line, the shipped quantity (``[addon.sale] invoice_policy = "shipped"``, the default) or
  the ordered quantity (``"ordered"``), less returns, less what is invoiced or already on a draft
  invoice. Nothing to invoice is refused (``TransitionBlocked``, 409) with the reason.
* ``post_invoice(env, invoice)`` fires ``post``: the invoice gets its gap-free number
  (``INV/<year>/<6 digits>``, credit notes ``RINV/...``; numbers are taken only at posting and
  given back when the posting rolls back), its date (today unless set) and due date (the order's
  payment term, else the customer's), its journal entry, and the order lines' ``qty_invoiced``
  grows (one bulk ``UPDATE``). When the order is then fully invoiced it fires ``invoice``.
  A posted invoice is immutable (``Invoice.__posted_states__``): only its settlement changes.
* ``create_credit_note(env, invoice, reason=..., lines=None)`` reverses all or part of a posted
  invoice (never more than a line's untaxed amount and tax, never dated before the invoice):
  a posted credit note with the reverse journal entry; its amount first settles what is
  still open on the invoice, the rest stays as customer credit (``apply_customer_credit``); the
  order lines' ``qty_invoiced`` goes down.

Amounts follow ``core.money``: each line is rounded once (``masterdata.tax_split``), document
totals are sums of lines. A line invoiced in several parts gets, on its last part, exactly what
is left of the order line's amounts, so the invoices of an order always add up to the order,
as long as its earlier parts were invoiced at its current price, discount and tax; after an
amendment changed them, the last part is its quantity x the current price like any other.
The number of SQL statements per call does not depend on the number of lines.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from sqlalchemy import bindparam, case, func, select
from sqlalchemy.orm import aliased
from sqlalchemy.orm.attributes import set_committed_value

from core.errors import TransitionBlocked, ValidationError
from core.money import PRICE_DIGITS, QTY_DIGITS, quantum, round_money, to_decimal

from .. import locks, queries
from . import exchange, journal
from .masterdata import company_currency, currency_digits, due_dates, tax_split

ZERO = Decimal("0")
HUNDRED = Decimal("100")
POLICIES = ("shipped", "ordered")
#: states of a booked (posted) document
BOOKED = ("posted", "paid")
QTY = quantum(QTY_DIGITS)
#: how many reasons a refusal lists before "... and N more"
MAX_REASONS = 20


# -- small helpers ---------------------------------------------------------------------------


def _as(env, record: str, value: Any):
    if isinstance(value, env[record]):
        return value
    return env.get(record, value)


def invoice_policy(env) -> str:
    return env.settings("sale").get("invoice_policy") or "shipped"


def invoiceable_quantity(line, policy: str) -> Decimal:
    """What of an order line may still be invoiced under ``policy`` (never negative)."""
    base = Decimal(line.qty_shipped or 0) if policy == "shipped" else Decimal(line.quantity)
    left = base - Decimal(line.qty_returned or 0) - Decimal(line.qty_invoiced or 0)
    return max(left, ZERO)


def line_amounts(quantity: Decimal, unit_price: Decimal, discount: Decimal, tax,
                 currency: str, digits: int | None = None) -> tuple[Decimal, Decimal, Decimal]:
    """``(untaxed, tax, total)`` of ``quantity`` at ``unit_price`` less ``discount`` percent,
    by the order line's formula (``SaleLine.compute_amounts``)."""
    gross = Decimal(quantity) * Decimal(unit_price) * (HUNDRED - Decimal(discount or 0)) / HUNDRED
    return tax_split(tax, gross, currency, digits)


def _limited(reasons: list[str]) -> list[str]:
    if len(reasons) <= MAX_REASONS:
        return reasons
    return reasons[:MAX_REASONS] + [f"... and {len(reasons) - MAX_REASONS} more"]


def _qty(value: Decimal) -> str:
    return f"{Decimal(value).normalize():f}"


def _taxes(env, ids) -> dict[int, Any]:
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    Tax = env["sale.tax"]
    with env.sudo():
        return {t.id: t for t in env.session.scalars(select(Tax).where(Tax.id.in_(ids)))}


def lock_rows(env, record: str, *criteria, order_by=None) -> list:
    """``SELECT ... FOR UPDATE`` the rows of ``record`` matching ``criteria`` (as the system) and
    reload them, so a decision sees what concurrent transactions committed."""
    return locks.lock_rows(env, record, *criteria, order_by=order_by)


def order_line_rows(env, order_id: int) -> list:
    """The order's lines as plain rows (no ORM objects: cheap for thousands of lines)."""
    SaleLine = env["sale.line"]
    stmt = (select(*_line_columns(SaleLine))
            .where(SaleLine.order_id == order_id).order_by(SaleLine.sequence, SaleLine.id))
    with env.sudo():
        return env.session.execute(stmt).all()


def _line_columns(SaleLine) -> tuple:
    return (SaleLine.id, SaleLine.product_id, SaleLine.description, SaleLine.quantity,
            SaleLine.unit_price, SaleLine.discount, SaleLine.tax_id, SaleLine.amount_untaxed,
            SaleLine.amount_tax, SaleLine.qty_shipped, SaleLine.qty_invoiced, SaleLine.qty_returned)


def _invoiced_columns(env, order_ids):
    """Per order line: the quantity on draft invoices, and the signed quantity and amounts on
    every invoice and credit note that is not cancelled (drafts included): a ``GROUP BY``
    subquery and its four columns."""
    Invoice, Line = env["sale.invoice"], env["sale.invoice.line"]
    sign = case((Invoice.kind == "credit_note", -1), else_=1)
    draft = (Invoice.state == "draft") & (Invoice.kind == "invoice")
    sub = (
        select(Line.sale_line_id.label("sale_line_id"),
               func.sum(case((draft, Line.quantity), else_=0)).label("draft_qty"),
               func.sum(sign * Line.quantity).label("qty"),
               func.sum(sign * Line.amount_untaxed).label("untaxed"),
               func.sum(sign * Line.amount_tax).label("tax"),
               # the terms earlier parts were invoiced at (the rest is what is left only when
               # they are the line's terms still)
               func.min(Line.unit_price).label("price_min"),
               func.max(Line.unit_price).label("price_max"),
               func.min(func.coalesce(Line.discount, 0)).label("discount_min"),
               func.max(func.coalesce(Line.discount, 0)).label("discount_max"),
               func.min(func.coalesce(Line.tax_id, 0)).label("tax_min"),
               func.max(func.coalesce(Line.tax_id, 0)).label("tax_max"))
        .join(Invoice, Line.invoice_id == Invoice.id)
        .where(Invoice.order_id.in_(order_ids), Invoice.state != "cancelled",
               Line.sale_line_id.is_not(None))
        .group_by(Line.sale_line_id)
    ).subquery()
    return sub, (sub.c.draft_qty, sub.c.qty, sub.c.untaxed, sub.c.tax, sub.c.price_min,
                 sub.c.price_max, sub.c.discount_min, sub.c.discount_max, sub.c.tax_min,
                 sub.c.tax_max)


def _invoiced_stats(line, draft_qty, qty, untaxed, tax, *terms) -> dict[str, Any]:
    price = quantum(PRICE_DIGITS)
    prices = {Decimal(p).quantize(price) for p in terms[0:2]}
    discounts = {Decimal(d).quantize(price) for d in terms[2:4]}
    return {
        "draft_qty": Decimal(draft_qty or 0).quantize(QTY),
        "qty": Decimal(qty or 0).quantize(QTY),
        "untaxed": round_money(Decimal(untaxed or 0)),
        "tax": round_money(Decimal(tax or 0)),
        # every earlier part at the line's current price, discount and tax
        "same_terms": (prices == {Decimal(line.unit_price).quantize(price)}
                       and discounts == {Decimal(line.discount or 0).quantize(price)}
                       and set(terms[4:6]) == {line.tax_id or 0}),
    }


def _lines_and_invoiced_statement(env):
    SaleLine = env["sale.line"]
    order_ids = bindparam("order_ids", expanding=True)
    sub, columns = _invoiced_columns(env, order_ids)
    return (select(*_line_columns(SaleLine), SaleLine.order_id, sub.c.sale_line_id, *columns)
            .outerjoin(sub, sub.c.sale_line_id == SaleLine.id)
            .where(SaleLine.order_id.in_(order_ids))
            .order_by(SaleLine.order_id, SaleLine.sequence, SaleLine.id))


def _lines_and_invoiced(env, order_id: int) -> tuple[list, dict[int, dict[str, Decimal]]]:
    """The order's lines (``order_line_rows``) and, per line, what invoices and credit notes
    hold of it (``_invoiced_columns``), in one SELECT (the lines LEFT JOIN the ``GROUP BY``)."""
    return _lines_and_invoiced_many(env, [order_id])[order_id]


def _lines_and_invoiced_many(env, order_ids: list[int]) -> dict[int, tuple[list, dict]]:
    """``_lines_and_invoiced`` of many orders in one SELECT."""
    stmt = queries.built(env, "sale.invoice.lines_and_invoiced", _lines_and_invoiced_statement)
    width = len(_line_columns(env["sale.line"]))
    with env.sudo():
        rows = queries.execute(env, stmt, {"order_ids": list(order_ids)}).all()
    found: dict[int, tuple[list, dict]] = {ident: ([], {}) for ident in order_ids}
    for row in rows:
        lines, done = found[row[width]]
        lines.append(row)
        if row[width + 1] is not None:
            done[row[width + 1]] = _invoiced_stats(row, *row[width + 2:])
    return found


# -- creating invoices -----------------------------------------------------------------------


def create_invoice(env, order, *, date: dt.date | None = None, policy: str | None = None,
                   note: str | None = None):
    """A draft invoice of what ``order`` may be invoiced now (see the module docstring)."""
    env.check_access("sale.invoice", "create")
    # one invoicing of an order at a time (FOR UPDATE): a concurrent draft is seen, not repeated
    order = locks.get_locked(env, "sale.order",
                             order.id if isinstance(order, env["sale.order"]) else order)
    policy = policy or invoice_policy(env)
    if policy not in POLICIES:
        raise ValidationError({"policy": [f"must be one of {', '.join(POLICIES)}"]})
    invoice, lines = _plan_invoice(env, order, policy, date, note)
    insert_with_lines(env, invoice, lines)
    return invoice


def invoice_orders(env, orders, *, date: dt.date | None = None, post: bool = True) -> list:
    """Invoice many orders at once (finance's "invoice selected" action), all or nothing: one
    invoice per order of what it may be invoiced now (``create_invoice``), every order locked
    first (PostgreSQL, in id order) and checked before anything is written; a refusal names
    each order refused. With ``post``, the invoices are then posted together
    (``post_invoices``). Returns the invoices, in the orders' order."""
    env.check_access("sale.invoice", "create")
    orders = distinct(orders)
    if not orders:
        return []
    Order = env["sale.order"]
    if not locks.sqlite_write(env):
        locks.lock_rows(env, "sale.order", Order.id.in_([o.id for o in orders]), order_by=[Order.id])
    policy = invoice_policy(env)
    refused: dict[int, list[str]] = {}
    plans = []
    read = _lines_and_invoiced_many(env, [o.id for o in orders])
    for i, order in enumerate(orders):
        try:
            plans.append(_plan_invoice(env, order, policy, date, None, read[order.id]))
        except TransitionBlocked as exc:
            refused[i] = exc.reasons
    if refused:
        raise TransitionBlocked.many(orders, "create_invoice", refused)
    with env.atomic():  # a refused posting leaves no draft behind
        invoices = insert_with_lines_many(env, plans)
        if post:
            try:
                post_invoices(env, invoices)
            except TransitionBlocked as exc:
                if not exc.refused:
                    raise
                # name the orders the caller gave (the invoices are gone with the rollback)
                raise TransitionBlocked.many(orders, "post", exc.refused) from None
    return invoices


def distinct(records) -> list:
    """``records`` as a list, refused (``ValidationError``) when one is named twice: a batch
    would otherwise do the same document's work twice."""
    records = list(records)
    seen: set[int] = set()
    for record in records:
        if record.id in seen:
            raise ValidationError({"ids": [f"{record.__record__} {record.id} given twice"]})
        seen.add(record.id)
    return records


def _plan_invoice(env, order, policy: str, date, note, read=None) -> tuple[Any, list[dict[str, Any]]]:
    """The draft invoice (not added) and its line values for what ``order`` may be invoiced
    now (``read``: its ``_lines_and_invoiced``, when read with other orders'); ``TransitionBlocked``
    when nothing."""
    if order.state in ("draft", "cancelled"):
        what = "a quotation" if order.state == "draft" else "cancelled"
        raise TransitionBlocked(order, "create_invoice", [
            f"order {order.number or order.id} is {what}: only approved orders are invoiced"])
    Invoice = env["sale.invoice"]
    lines, done = read if read is not None else _lines_and_invoiced(env, order.id)
    taxes = None  # read only when a line is invoiced in part (the last part takes what is left)
    currency = order.currency
    digits = order.currency_digits()
    new_lines = []
    on_drafts = ZERO
    for line in lines:
        stats = done.get(line.id)
        pending = stats["draft_qty"] if stats else ZERO
        on_drafts += pending
        qty = invoiceable_quantity(line, policy) - pending
        if qty <= 0:
            continue
        already_qty = stats["qty"] if stats else ZERO
        if already_qty + qty == Decimal(line.quantity) and (stats is None or stats["same_terms"]):
            # the last part of the line: exactly what is left of its amounts (only when the
            # earlier parts were at its terms: after an amendment of its price, discount or tax
            # the rest is not what the quantity is worth)
            untaxed = Decimal(line.amount_untaxed) - (stats["untaxed"] if stats else ZERO)
            tax = Decimal(line.amount_tax) - (stats["tax"] if stats else ZERO)
            total = untaxed + tax
        else:
            if taxes is None:
                taxes = _taxes(env, (ln.tax_id for ln in lines))
            untaxed, tax, total = line_amounts(qty, line.unit_price, line.discount,
                                               taxes.get(line.tax_id), currency, digits)
        new_lines.append(dict(
            sale_line_id=line.id, product_id=line.product_id, description=line.description,
            quantity=qty, unit_price=line.unit_price, discount=line.discount or ZERO,
            tax_id=line.tax_id, amount_untaxed=untaxed, amount_tax=tax, amount_total=total,
        ))
    if not new_lines:
        if policy == "shipped" and not any(Decimal(line.qty_shipped or 0) > 0 for line in lines):
            reason = "nothing is shipped yet (invoice policy: shipped quantities)"
        else:
            reason = "nothing left to invoice: every " + (
                "shipped" if policy == "shipped" else "ordered") + " quantity is invoiced"
        if on_drafts > 0:
            reason += " or already on a draft invoice"
        raise TransitionBlocked(order, "create_invoice", [reason])
    untaxed = sum((line["amount_untaxed"] for line in new_lines), ZERO)
    tax = sum((line["amount_tax"] for line in new_lines), ZERO)
    term_id = order.payment_term_id
    if term_id is None:
        with env.sudo():
            term_id = order.customer.payment_term_id
    invoice = Invoice(
        kind="invoice", customer_id=order.customer_id, order_id=order.id, currency=currency,
        date=date, payment_term_id=term_id, amount_untaxed=untaxed, amount_tax=tax,
        amount_total=untaxed + tax, amount_residual=ZERO, payment_status="none", note=note,
    )
    return invoice, new_lines


def insert_with_lines(env, invoice, lines: list[dict[str, Any]]) -> None:
    """Insert ``invoice`` (through the session: access, validation, audit) and its lines with
    one bulk INSERT (executemany), whatever their number. The lines were checked by the
    caller; access to create them is checked here."""
    insert_with_lines_many(env, [(invoice, lines)])


def insert_with_lines_many(env, plans: list[tuple[Any, list[dict[str, Any]]]]) -> list:
    """``insert_with_lines`` for many ``(invoice, lines)``: one flush for the invoices, one
    executemany for all their lines. Returns the invoices."""
    env.check_access("sale.invoice.line", "create")
    for _invoice, lines in plans:
        for line in lines:
            if Decimal(line["quantity"]) <= 0 or Decimal(line["unit_price"]) < 0:
                raise ValidationError({"lines": [f"{line['description']}: invalid quantity or price"]})
    invoices = [invoice for invoice, _lines in plans]
    env.session.add_all(invoices)
    env.session.flush()
    now = env.now
    # one executemany: a single cursor call on SQLite, one pipelined batch on PostgreSQL
    defaults = {"sale_line_id": None, "origin_line_id": None, "product_id": None, "tax_id": None,
                "price_adjustment": False}
    env.insert_rows("sale.invoice.line", [
        {**defaults, **line, "invoice_id": invoice.id, "version": 1, "created_at": now,
         "updated_at": now}
        for invoice, lines in plans for line in lines
    ])
    for invoice in invoices:
        env.session.expire(invoice, ["lines"])
    return invoices


def cancel_invoice(env, invoice, *, comment: str | None = None):
    """Cancel a draft invoice (a posted one is corrected by a credit note instead)."""
    invoice = _as(env, "sale.invoice", invoice)
    invoice.fire("cancel", comment=comment)
    return invoice


# -- posting ---------------------------------------------------------------------------------


def post_invoice(env, invoice, *, date: dt.date | None = None):
    """Fire ``post`` on a draft invoice or credit note (see the module docstring). The order is
    locked first so two postings of one order's invoices run one after the other; the posting
    runs in a savepoint, so a refused or failed posting leaves nothing behind (not even a
    number) even when the caller goes on with its transaction."""
    invoice = _as(env, "sale.invoice", invoice)
    if date is not None and invoice.state == "draft":
        invoice.date = date
    if invoice.order_id is not None:
        locks.lock_id(env, "sale.order", invoice.order_id)
    with env.session.begin_nested():
        invoice.fire("post")
    return invoice


def post_invoices(env, invoices, *, date: dt.date | None = None) -> list:
    """Post many draft invoices at once, all or nothing (``fire_many``): their orders locked
    first (in id order), the invoice and journal numbers taken in one block per year, every
    journal entry booked, then the orders' ledgers updated together
    (``Invoice.action_after_post_many``) and the orders fully invoiced moved on. A refusal
    names every invoice refused and leaves nothing behind, not even a number."""
    invoices = list(invoices)
    if not invoices:
        return []
    for invoice in invoices:
        if date is not None and invoice.state == "draft":
            invoice.date = date
    order_ids = sorted({inv.order_id for inv in invoices if inv.order_id is not None})
    if order_ids and not locks.sqlite_write(env):
        Order = env["sale.order"]
        locks.lock_rows(env, "sale.order", Order.id.in_(order_ids), order_by=[Order.id])
    wanted: dict[tuple[str, str], int] = {}
    for invoice in invoices:
        if invoice.state != "draft":
            continue  # refused by fire_many, with the reason
        year = str((invoice.date or env.today()).year)
        code = "sale.credit_note" if invoice.kind == "credit_note" else "sale.invoice"
        for key in ((code, year), ("sale.journal", year)):
            wanted[key] = wanted.get(key, 0) + 1
    with env.numbers_reserved(wanted):
        if len(order_ids) == len(invoices):
            journal.account_ids(env)  # (the chart, created if missing, before any posting)
            queue = env.tx_cache(_ENTRIES_QUEUED)
            queue.update(open=True, entries=[])
            try:
                env.fire_many(invoices, "post")
            finally:
                env.tx_cache(_ENTRIES_QUEUED).clear()  # (a rollback emptied it already)
        else:  # two of one order (or some without one): each checked after the one before
            for invoice in invoices:
                invoice.fire("post")
    return invoices


def postable_blockers(env, invoice) -> list[str]:
    """Guard of ``post``: reasons the invoice cannot be posted now (read-only). The checks are
    SQL aggregates returning only the lines at fault, whatever the number of lines (one
    SELECT for an invoice)."""
    if invoice.kind == "credit_note":
        Line = env["sale.invoice.line"]
        with env.sudo():
            count = env.session.scalar(
                select(func.count(Line.id)).where(Line.invoice_id == invoice.id))
        over: list[str] = []
    else:
        count, over = _count_and_over_invoiced(env, invoice)
    reasons: list[str] = []
    if not count:
        return ["an invoice needs at least one line"]
    if invoice.kind != "credit_note" or invoice.reversed_invoice_id is None:
        # (a credit note takes the rate of the invoice it corrects)
        missing = exchange.missing_rate(env, invoice.currency, invoice.date or env.today())
        if missing:
            reasons.append(missing)
    if Decimal(invoice.amount_total or 0) <= 0:
        reasons.append("the total must be greater than 0")
    if invoice.kind == "credit_note":
        reasons.extend(_over_credited(env, invoice))
    else:
        reasons.extend(over)
    return _limited(reasons)


#: quantities have 3 decimals; SQLite computes with REAL values
_QTY_SLACK = Decimal("0.0005")


_POSTABLE = "sale.invoice.postable"


def prefetch_postable(env, invoices) -> None:
    """``workflow_prefetch`` of ``post``: ``_count_and_over_invoiced`` of every invoice (not
    credit note) in one SELECT, kept for their guards. Only for invoices of distinct orders:
    the answer for one then cannot change by posting another before it."""
    cache = env.tx_cache(_POSTABLE)
    cache.clear()  # answers of an earlier call are not used
    wanted = [inv for inv in invoices
              if inv.kind == "invoice" and inv.state == "draft" and inv.id is not None]
    orders = [inv.order_id for inv in wanted]
    if len(wanted) < 2 or None in orders or len(set(orders)) != len(orders):
        return
    cache.update(_count_and_over_invoiced_many(env, [inv.id for inv in wanted]))


def _count_and_over_invoiced(env, invoice) -> tuple[int, list[str]]:
    """The invoice's number of lines, and the order lines it would invoice beyond what the
    policy allows, from one SELECT: the count LEFT JOINed with the lines at fault (or from
    ``prefetch_postable``, once)."""
    found = env.tx_cache(_POSTABLE).pop(invoice.id, None)
    if found is not None:
        return found
    return _count_and_over_invoiced_many(env, [invoice.id])[invoice.id]


def _count_and_over_invoiced_many(env, invoice_ids: list[int]) -> dict[int, tuple[int, list[str]]]:
    policy = invoice_policy(env)
    stmt = queries.built(env, f"sale.invoice.count_and_over_invoiced.{policy}",
                         lambda env: _count_and_over_invoiced_statement(env, policy))
    with env.sudo():
        rows = queries.execute(env, stmt, {"invoice_ids": invoice_ids}).all()
    found: dict[int, tuple[int, list[str]]] = {ident: (0, []) for ident in invoice_ids}
    basis_text = "shipped and " if policy == "shipped" else ""
    for row in rows:
        count, reasons = found[row.invoice_id]
        found[row.invoice_id] = (int(row.n or 0), reasons)
        if row.id is None:
            continue
        allowed_qty = invoiceable_quantity(row, policy)
        qty = Decimal(row.wanted).quantize(QTY)
        if qty > allowed_qty:
            reasons.append(f"{row.description}: {_qty(qty)} to invoice but only "
                           f"{_qty(allowed_qty)} {basis_text}not invoiced yet")
    return found


def _count_and_over_invoiced_statement(env, policy: str):
    """Per invoice of ``invoice_ids``: its number of lines, LEFT JOINed with its lines at fault."""
    SaleLine, Line = env["sale.line"], env["sale.invoice.line"]
    invoice_ids = bindparam("invoice_ids", expanding=True)
    wanted = func.sum(Line.quantity)
    basis = SaleLine.qty_shipped if policy == "shipped" else SaleLine.quantity
    allowed = (func.coalesce(basis, 0) - func.coalesce(SaleLine.qty_returned, 0)
               - func.coalesce(SaleLine.qty_invoiced, 0))
    columns = (SaleLine.id, SaleLine.description, SaleLine.quantity, SaleLine.qty_shipped,
               SaleLine.qty_returned, SaleLine.qty_invoiced, SaleLine.sequence)
    over = (select(Line.invoice_id.label("over_invoice_id"), *columns, wanted.label("wanted"))
            .select_from(Line).join(SaleLine, SaleLine.id == Line.sale_line_id)
            .where(Line.invoice_id.in_(invoice_ids))
            .group_by(Line.invoice_id, *columns).having(wanted > allowed + _QTY_SLACK)).subquery()
    counted = (select(Line.invoice_id.label("invoice_id"), func.count(Line.id).label("n"))
               .where(Line.invoice_id.in_(invoice_ids)).group_by(Line.invoice_id).subquery())
    return (select(counted.c.invoice_id, counted.c.n, over)
            .select_from(counted.outerjoin(over, over.c.over_invoice_id == counted.c.invoice_id))
            .order_by(counted.c.invoice_id, over.c.sequence, over.c.id))


def _credited_by_origin_line(env, invoice_id: int, exclude_id: int | None = None):
    """Per line of ``invoice_id``: quantity and amounts already on posted credit notes."""
    Invoice, Line = env["sale.invoice"], env["sale.invoice.line"]
    quantity = case((Line.price_adjustment.is_(True), 0), else_=Line.quantity)
    stmt = (select(Line.origin_line_id, func.sum(quantity), func.sum(Line.amount_untaxed),
                   func.sum(Line.amount_tax))
            .join(Invoice, Line.invoice_id == Invoice.id)
            .where(Invoice.reversed_invoice_id == invoice_id, Invoice.kind == "credit_note",
                   Invoice.state.in_(BOOKED))
            .group_by(Line.origin_line_id))
    if exclude_id is not None:
        stmt = stmt.where(Invoice.id != exclude_id)
    with env.sudo():
        rows = env.session.execute(stmt).all()
    return {origin: {"qty": Decimal(q or 0).quantize(QTY), "untaxed": round_money(Decimal(u or 0)),
                     "tax": round_money(Decimal(t or 0))} for origin, q, u, t in rows}


def _over_credited(env, credit_note) -> list[str]:
    """Lines of a credit note that credit more than is invoiced and not credited yet: in
    quantity, in untaxed amount or in tax (price corrections count in the amounts), re-read at
    posting so concurrent credit notes of one invoice cannot together credit too much."""
    Invoice, Line = env["sale.invoice"], env["sale.invoice.line"]
    origin = aliased(Line)
    not_correction = case((Line.price_adjustment.is_(True), 0), else_=Line.quantity)
    before = (select(Line.origin_line_id.label("origin_id"), func.sum(not_correction).label("qty"),
                     func.sum(Line.amount_untaxed).label("untaxed"),
                     func.sum(Line.amount_tax).label("tax"))
              .join(Invoice, Line.invoice_id == Invoice.id)
              .where(Invoice.reversed_invoice_id == credit_note.reversed_invoice_id,
                     Invoice.kind == "credit_note", Invoice.state.in_(BOOKED),
                     Invoice.id != credit_note.id)
              .group_by(Line.origin_line_id).subquery())
    stmt = (select(origin.description, origin.quantity, origin.amount_untaxed, origin.amount_tax,
                   before.c.qty, before.c.untaxed, before.c.tax,
                   func.sum(not_correction).label("wanted"),
                   func.sum(Line.amount_untaxed).label("wanted_untaxed"),
                   func.sum(Line.amount_tax).label("wanted_tax"))
            .select_from(Line).join(origin, origin.id == Line.origin_line_id)
            .outerjoin(before, before.c.origin_id == origin.id)
            .where(Line.invoice_id == credit_note.id)
            .group_by(origin.id, origin.description, origin.quantity, origin.amount_untaxed,
                      origin.amount_tax, before.c.qty, before.c.untaxed, before.c.tax))
    strays = (select(func.count(Line.id)).select_from(Line)
              .outerjoin(origin, origin.id == Line.origin_line_id)
              .where(Line.invoice_id == credit_note.id,
                     (origin.id.is_(None)) | (origin.invoice_id != credit_note.reversed_invoice_id)))
    reasons = []
    digits = currency_digits(env, credit_note.currency)
    with env.sudo():
        if env.session.scalar(strays):
            reasons.append("some lines are not lines of the credited invoice")
        for row in env.session.execute(stmt):
            left_qty = Decimal(row.quantity) - Decimal(row.qty or 0)
            if Decimal(row.wanted or 0) > left_qty + _QTY_SLACK:
                reasons.append(f"{row.description}: {_qty(Decimal(row.wanted))} to credit but only "
                               f"{_qty(left_qty)} invoiced and not credited yet")
                continue
            # (SQLite sums REAL values: rounded back to the currency's unit before comparing)
            untaxed_left, tax_left, untaxed, tax = (round_money(Decimal(v or 0), digits=digits) for v in (
                Decimal(row.amount_untaxed) - Decimal(row.untaxed or 0),
                Decimal(row.amount_tax) - Decimal(row.tax or 0), row.wanted_untaxed, row.wanted_tax))
            if untaxed > untaxed_left or tax > tax_left:
                reasons.append(f"{row.description}: {untaxed} + tax {tax} to credit but only "
                               f"{untaxed_left} + tax {tax_left} invoiced and not credited yet")
    return reasons


def _term_lines(env, term_id: int | None) -> list:
    """The instalments of a payment term (``[]`` without one), read once per transaction
    (posting many invoices reads few terms)."""
    if term_id is None:
        return []
    terms = env.tx_cache("sale.term_lines")
    lines = terms.get(term_id)
    if lines is None:
        stmt = queries.built(env, "sale.invoice.term_lines", _term_lines_statement)
        with env.sudo():
            lines = terms[term_id] = queries.execute(env, stmt, {"term_id": term_id}).all()
    return lines


def instalment_rows(env, invoice, date: dt.date, total_company: Decimal) -> list[dict[str, Any]]:
    """The rows of ``sale.invoice.instalment`` an invoice posted on ``date`` gets: its total
    (and ``total_company``) split by its payment term (``masterdata.due_dates``, each currency
    rounded to its own digits), in due-date order; one instalment due on ``date`` without a
    term."""
    term = SimpleNamespace(lines=_term_lines(env, invoice.payment_term_id))
    company = company_currency(env)
    split = due_dates(term, date, invoice.amount_total, invoice.currency,
                      currency_digits(env, invoice.currency))
    split_company = due_dates(term, date, total_company, company, currency_digits(env, company))
    parts = sorted(zip(split, split_company, strict=True), key=lambda part: part[0][0])
    return [{"invoice_id": invoice.id, "sequence": i, "due_date": due, "amount": amount,
             "amount_company": amount_company}
            for i, ((due, amount), (_due, amount_company)) in enumerate(parts, start=1)]


#: instalments of the invoices posted in this transaction, written by ``_write_instalments``
_INSTALMENTS_QUEUED = "sale.instalments_queued"


def _write_instalments(env) -> None:
    """The instalments ``book_posting`` queued: one executemany INSERT for every invoice posted
    since (a batch's too). Rows of the sale addon's own, written as they were computed (the
    invoice's totals, already checked)."""
    queue = env.tx_cache(_INSTALMENTS_QUEUED)
    rows = queue.pop("rows", None)
    if rows:
        now = env.now
        env.insert_rows("sale.invoice.instalment", [
            {**row, "created_at": now, "updated_at": now, "version": 1} for row in rows])


def _term_lines_statement(env):
    TermLine = env["sale.payment_term.line"]
    return select(TermLine.id, TermLine.sequence, TermLine.days, TermLine.percent).where(
        TermLine.term_id == bindparam("term_id"))


def book_posting(env, invoice) -> None:
    """``before`` action of ``post``: number, dates, residual and the journal entry."""
    with env.session.no_autoflush:
        date = invoice.date or env.today()
        credit = invoice.kind == "credit_note"
        code, prefix = ("sale.credit_note", "RINV") if credit else ("sale.invoice", "INV")
        number = f"{prefix}/{date.year}/{env.next_number(code, str(date.year)):06d}"
        original = None
        if credit:
            original = env.session.get(env["sale.invoice"], invoice.reversed_invoice_id)
        total, untaxed, tax = invoice.amount_total, invoice.amount_untaxed, invoice.amount_tax
        # the rate is fixed now: the invoice date's; a credit note's is its invoice's
        # (crediting the invoice in full then clears exactly its company amount)
        rate = (Decimal(original.currency_rate) if original is not None
                else exchange.rate_on(env, invoice.currency, date))
        total_c = exchange.to_company(env, total, rate)
        if original is not None and rate != 1:
            total_c = _last_credit_company(env, invoice, original, total_c)
        untaxed_c = exchange.to_company(env, untaxed, rate)
        # what is due when: the last instalment is the invoice's due date
        instalments = [] if credit else instalment_rows(env, invoice, date, total_c)
    due = max((row["due_date"] for row in instalments), default=date)
    tax_c = total_c - untaxed_c  # (so the entry balances whatever the rounding)
    if invoice.currency_rate is None or Decimal(invoice.currency_rate) != rate:
        invoice.currency_rate = rate
    if invoice.amount_total_company is None or Decimal(invoice.amount_total_company) != total_c:
        invoice.amount_total_company = total_c

    def cur(value):
        return exchange.in_currency(env, invoice.currency, value)

    receivable = {"account": "receivable", "customer_id": invoice.customer_id, **cur(total)}
    revenue = {"account": "revenue", **cur(untaxed)}
    vat = {"account": "output_vat", "label": f"{number} output VAT", **cur(tax)}
    if credit:
        lines = [{**revenue, "debit": untaxed_c}, {**vat, "debit": tax_c},
                 {**receivable, "credit": total_c}]
        label = f"Credit note {number}" + (f" for {original.number}" if original else "")
    else:
        lines = [{**receivable, "debit": total_c}, {**revenue, "credit": untaxed_c},
                 {**vat, "credit": tax_c}]
        label = f"Invoice {number}"
    spec = {"date": date, "source_record": "sale.invoice", "source_id": invoice.id, "label": label,
            "lines": lines,
            "reversed_entry_id": original.journal_entry_id if original is not None else None}
    invoice.number, invoice.date, invoice.due_date = number, date, due
    if instalments:  # written by the ``after`` action (``_write_instalments``), a batch's together
        env.tx_cache(_INSTALMENTS_QUEUED).setdefault("rows", []).extend(instalments)
    invoice.amount_residual = invoice.amount_total
    invoice.payment_status = "none"
    queue = env.tx_cache(_ENTRIES_QUEUED)
    if queue.get("open"):  # post_invoices: booked together by after_posting_many
        queue["entries"].append((invoice, spec))
    else:
        # the invoice is then written once, with its state change (one UPDATE, one audit row)
        invoice.journal_entry_id = journal.post_entries(env, [spec])[0].id


def _last_credit_company(env, credit_note, original, total_c: Decimal) -> Decimal:
    """The company amount of a foreign credit note: ``total_c``, except on the credit note that
    credits what is left of its invoice, which takes exactly what is left of the invoice's
    company amount (credit notes crediting an invoice in full clear exactly its yuan)."""
    Invoice = env["sale.invoice"]
    with env.sudo(), env.session.no_autoflush:
        before, before_c = env.session.execute(
            select(func.coalesce(func.sum(Invoice.amount_total), 0),
                   func.coalesce(func.sum(Invoice.amount_total_company), 0))
            .where(Invoice.reversed_invoice_id == original.id, Invoice.kind == "credit_note",
                   Invoice.state.in_(BOOKED), Invoice.id != credit_note.id)).one()
    if round_money(Decimal(before)) + Decimal(credit_note.amount_total) == Decimal(original.amount_total):
        return Decimal(original.amount_total_company) - round_money(Decimal(before_c))
    return total_c


#: ``post_invoices``' queue of journal entries of the invoices being posted, booked together
_ENTRIES_QUEUED = "sale.entries_queued"


def _book_queued_entries(env) -> None:
    """The journal entries ``book_posting`` queued for a batch: two INSERTs for them all (in
    the invoices' order, so their numbers follow the invoices'), before the invoices are
    flushed (each is then written once, its entry with its state)."""
    queue = env.tx_cache(_ENTRIES_QUEUED)
    queued = queue.get("entries")
    if not queued:
        return
    queue["entries"] = []
    with env.session.no_autoflush:  # (the invoices are flushed once, with their entries)
        entries = journal.post_entries(env, [spec for _invoice, spec in queued])
    for (invoice, _spec), entry in zip(queued, entries, strict=True):
        invoice.journal_entry_id = entry.id


def after_posting(env, invoice) -> None:
    """``after`` action of ``post``: the order lines' ``qty_invoiced`` (up for an invoice, down
    for a credit note) through the order's ledger (one batched UPDATE, statuses refreshed), and
    ``invoice`` on the order once it is fully invoiced."""
    _book_queued_entries(env)
    _write_instalments(env)
    if invoice.order_id is None:
        return
    sign = -1 if invoice.kind == "credit_note" else 1
    env.session.flush()
    order = env.session.get(env["sale.order"], invoice.order_id)
    stmt = queries.built(env, "sale.invoice.order_lines_invoiced", _order_lines_invoiced_statement)
    with env.sudo():
        rows = env.session.execute(stmt, {"invoice_id": invoice.id, "order_id": order.id}).all()
        set_committed_value(order, "lines", [row[0] for row in rows])
        deltas = {row[0].id: sign * Decimal(row[1]).quantize(QTY) for row in rows
                  if row[1] is not None}
        # the payment figures came with the lines (read after this invoice's posting was
        # flushed; the ledger does not change them)
        figures = order.payment_figures_of(rows[0][2:]) if rows and len(rows[0]) > 2 else None
        if deltas:
            order.ledger_add("qty_invoiced", deltas, refresh=False)
        if invoice.kind == "invoice":
            move_order_on(env, order, touch=bool(deltas), figures=figures)
        else:
            with order.payment_figures_known(figures):
                order.refresh_progress(touch=bool(deltas))


def after_posting_many(env, invoices) -> None:
    """``after_posting`` for many invoices posted by ``fire_many`` (the batch form of the
    ``after`` action): the ledgers of all their orders in one UPDATE, the orders read with
    their payment figures in one SELECT and moved on together. Invoices of one order, or
    credit notes, are done one by one (each must see the one before)."""
    _book_queued_entries(env)
    _write_instalments(env)
    invoices = [inv for inv in invoices if inv.order_id is not None]
    order_ids = [inv.order_id for inv in invoices]
    if len(set(order_ids)) != len(order_ids) or any(inv.kind != "invoice" for inv in invoices):
        for invoice in invoices:
            after_posting(env, invoice)
        return
    if not invoices:
        return
    env.session.flush()
    Order, Line = env["sale.order"], env["sale.invoice.line"]
    with env.sudo():
        stmt = queries.built(env, "sale.invoice.orders_with_figures", _orders_with_figures_statement)
        found = {row[0].id: row for row in env.session.execute(stmt, {"ids": order_ids}).all()}
        orders = [found[i][0] for i in order_ids]
        figures = {i: Order.payment_figures_of(found[i][1:]) if len(found[i]) > 1 else None
                   for i in order_ids}
        Order.prefetch(env, orders, refresh=True)
        quantities: dict[int, dict[int, Decimal]] = {inv.id: {} for inv in invoices}
        for invoice_id, line_id, qty in env.session.execute(
                select(Line.invoice_id, Line.sale_line_id, func.sum(Line.quantity))
                .where(Line.invoice_id.in_(list(quantities)), Line.sale_line_id.is_not(None))
                .group_by(Line.invoice_id, Line.sale_line_id)):
            quantities[invoice_id][line_id] = Decimal(qty).quantize(QTY)
        changes = [(order, quantities[inv.id]) for order, inv in zip(orders, invoices, strict=True)]
        Order.ledger_add_many(env, "qty_invoiced", changes, refresh=False)
        move_orders_on(env, orders, touched={o.id for o, deltas in changes if deltas},
                       figures=figures)


def move_orders_on(env, orders, *, touched: set[int], figures: dict) -> None:
    """``move_order_on`` for many orders: each trigger fired on all the orders it applies to
    at once (``fire_many``; when that is refused, order by order, a refusal leaving that order
    where it is), then the statuses of the orders that did not move stored with one flush."""
    with env.sudo(), contextlib.ExitStack() as stack:
        for order in orders:
            stack.enter_context(order.payment_figures_known(figures.get(order.id)))
        moved: set[int] = set()
        for state, status, trigger in _ADVANCE:
            ready = [o for o in orders if o.state == state and o.progress()[status] == "full"]
            if not ready:
                continue
            try:
                env.fire_many(ready, trigger)
            except TransitionBlocked:
                ready = [o for o in ready if _fired(o, trigger)]
            moved.update(o.id for o in ready)
        for order in orders:
            if order.id not in moved:
                order.store_progress()
                if order.id in touched:
                    order.updated_at = env.now
        env.session.flush()


def _fired(order, trigger: str) -> bool:
    try:  # a refusal changes nothing: the engine decides before it writes
        order.fire(trigger)
    except TransitionBlocked:
        return False
    return True


def _order_lines_invoiced_statement(env):
    """The order's lines, re-read, with the quantity the invoice holds of each (the lines LEFT
    JOIN the invoice's quantities grouped by order line: one pass over each, where a correlated
    subquery per line may scan the invoice's lines once per order line) and the order's
    payment figures (the same on every row): one SELECT."""
    Line, SaleLine = env["sale.invoice.line"], env["sale.line"]
    quantities = (select(Line.sale_line_id.label("sale_line_id"), func.sum(Line.quantity).label("qty"))
                  .where(Line.invoice_id == bindparam("invoice_id"), Line.sale_line_id.is_not(None))
                  .group_by(Line.sale_line_id)).subquery()
    figures = env["sale.order"].payment_figures_columns(env, bindparam("order_id")) or ()
    return (select(SaleLine, quantities.c.qty, *figures)
            .outerjoin(quantities, quantities.c.sale_line_id == SaleLine.id)
            .where(SaleLine.order_id == bindparam("order_id"))
            .order_by(SaleLine.sequence, SaleLine.id)
            .execution_options(populate_existing=True))


#: (state, sub-status, trigger): the order moves on by ``trigger`` when the status is full
_ADVANCE = (("shipped", "invoice_status", "invoice"), ("invoiced", "payment_status", "settle"))


def advance_order(env, order) -> None:
    """Move the order on when its documents say so: ``shipped -invoice-> invoiced`` once every
    line is invoiced, ``invoiced -settle-> paid`` once every invoice is paid (the order's own
    guards decide; call it after ``refresh_progress``). A trigger the current user may not
    fire is left for later."""
    with env.sudo(), order.payment_figures_known():
        # the sub-statuses were just refreshed from the ledger: no need to ask the guards
        # when they already say no
        for state, status, trigger in _ADVANCE:
            if order.state == state and getattr(order, status, "full") == "full":
                try:  # a refusal changes nothing: the engine decides before it writes
                    order.fire(trigger)
                except TransitionBlocked:
                    return


def advance_approved(env, order) -> None:
    """An order just approved whose ledger is already fully shipped (an amendment cut its
    lines down to what had left): ``ship`` is fired, then ``advance_order``, so state and
    ledger agree. The system does it (the seller who approved holds no warehouse or finance
    role; the log names no user); a refusal (another addon's guard) leaves it approved."""
    if order.state != "approved" or order.ledger_statuses()[0] != "full":
        return
    with env.as_system():
        try:  # a refusal changes nothing: the engine decides before it writes
            order.fire("ship")
        except TransitionBlocked:
            return
        advance_order(env, order)


def move_order_on(env, order, *, touch: bool = False, figures=None) -> dict[str, str]:
    """``order.refresh_progress(touch=touch)`` then ``advance_order``, in fewer statements:
    the progress is computed once (the payment figures read once, or given: ``figures``), the
    trigger it allows is fired first (its ``before`` action stores the statuses in the UPDATE
    of the state change) and the statuses are stored on their own only when nothing moved.
    Returns the progress."""
    with env.sudo(), order.payment_figures_known(figures):
        progress = order.progress()
        moved = False
        for state, status, trigger in _ADVANCE:
            if order.state == state and progress[status] == "full":
                try:  # a refusal changes nothing: the engine decides before it writes
                    order.fire(trigger)
                except TransitionBlocked:
                    break
                moved = True
        order.refresh_progress(touch=touch and not moved)  # nothing left to write once moved
    return progress


# -- settlement (shared with services.payment) -------------------------------------------------


def set_residual(document, residual: Decimal) -> None:
    """New open amount of an invoice or credit note, and its payment status."""
    residual = round_money(Decimal(residual))
    if residual < 0:
        raise ValidationError({"amount": [f"more than the {document.amount_residual} open on "
                                          f"{document.number or document.id}"]})
    document.amount_residual = residual
    if residual == 0:
        document.payment_status = "paid"
    elif residual < Decimal(document.amount_total):
        document.payment_status = "partial"
    else:
        document.payment_status = "none"


def settle_documents(env, documents) -> None:
    """Fire ``settle`` on every posted document with nothing left open, then move their orders
    on (``refresh_progress``, ``settle`` when all of an order's invoices are paid)."""
    env.session.flush()
    orders = {}
    settled = [doc for doc in documents if doc.state == "posted" and Decimal(doc.amount_residual) == 0]
    if settled:
        env.fire_many(settled, "settle")
    for doc in documents:
        if doc.order_id is not None and doc.kind == "invoice":
            orders.setdefault(doc.order_id, doc)
    if not orders:
        return
    Order = env["sale.order"]
    unlocked = sorted(i for i in orders if not locks.holds(env, Order, i))
    if unlocked and not locks.sqlite_write(env):
        # lock the orders (invoices were locked first: the one order of locks, see
        # create_credit_note) so two transactions settling an order's last two invoices run
        # one after the other and the second sees the first's payment: the order gets paid
        locks.lock_rows(env, "sale.order", Order.id.in_(unlocked), order_by=[Order.id])
    with env.sudo():
        # the orders with their payment figures, read after the settlements were flushed: one
        # SELECT (their lines, which their progress needs too, are one more each: joined to the
        # orders they would repeat the order and its figures on every line)
        stmt = queries.built(env, "sale.invoice.orders_with_figures", _orders_with_figures_statement)
        rows = env.session.execute(stmt, {"ids": list(orders)}).all()
        found = [row[0] for row in rows]
        Order.prefetch(env, found)
        move_orders_on(env, found, touched=set(), figures={
            row[0].id: Order.payment_figures_of(row[1:]) if len(row) > 1 else None for row in rows})


def _orders_with_figures_statement(env):
    Order = env["sale.order"]
    figures = Order.payment_figures_columns(env, Order.id) or ()
    return select(Order, *figures).where(Order.id.in_(bindparam("ids", expanding=True)))


# -- credit notes ----------------------------------------------------------------------------


def _order_keeps_invoiced(env, order_id: int, requested) -> list[str]:
    """An order that is ``invoiced`` or ``paid`` must stay fully invoiced (its workflow has no
    way back): crediting quantities of it needs the goods returned first (``qty_returned``)."""
    Order, SaleLine = env["sale.order"], env["sale.line"]
    with env.sudo():
        order = env.session.execute(
            select(Order.number, Order.state).where(Order.id == order_id)).one()
        if order.state not in ("invoiced", "paid"):
            return []
        rows = {row.id: row for row in env.session.execute(
            select(SaleLine.id, SaleLine.description, SaleLine.quantity, SaleLine.qty_invoiced,
                   SaleLine.qty_returned).where(SaleLine.order_id == order_id))}
    credited: dict[int, Decimal] = {}
    for origin, qty in requested:
        if origin.sale_line_id is not None:
            credited[origin.sale_line_id] = credited.get(origin.sale_line_id, ZERO) + qty
    reasons = []
    for line_id, qty in credited.items():
        row = rows.get(line_id)
        if row is None:
            continue
        after = Decimal(row.qty_invoiced or 0) - qty
        if after < Decimal(row.quantity) - Decimal(row.qty_returned or 0):
            reasons.append(
                f"order {order.number} is {order.state}: crediting {_qty(qty)} of "
                f"{row.description} would leave it not fully invoiced; record the return of "
                "the goods first")
    return _limited(reasons)


def create_credit_note(env, invoice, *, reason: str, lines: list[dict] | None = None,
                       date: dt.date | None = None):
    """A posted credit note for all or part of a posted invoice. ``lines``: default everything
    not credited yet; else ``[{"invoice_line_id", "quantity"}]`` to take quantities back (the
    order lines' ``qty_invoiced`` goes down) or ``[{"invoice_line_id", "amount"}]`` to credit an
    amount (a price correction, no quantity changes): untaxed with the line's tax added, or, on
    a line whose prices include the tax, tax included and split like the line. Whatever the mix
    of corrections and quantities, a line is never credited more than its untaxed amount and
    its tax (``ValidationError`` naming the line and what is left). ``date`` (default today)
    is not before the invoice's. The credit note settles what is open on the invoice first;
    what is left is customer credit."""
    invoice = _as(env, "sale.invoice", invoice)
    env.check_access("sale.invoice", "create")
    if invoice.kind != "invoice" or invoice.state not in BOOKED:
        raise TransitionBlocked(invoice, "credit_note", [
            f"only posted invoices are credited ({invoice.number or invoice.id} is a "
            f"{invoice.state} {invoice.kind.replace('_', ' ')})"])
    errors: dict[str, list[str]] = {}
    if not isinstance(reason, str) or not reason.strip():
        errors["reason"] = ["say why the invoice is corrected"]
    Line = env["sale.invoice.line"]
    with env.sudo():
        origin_lines = {row.id: row for row in env.session.execute(
            select(Line.id, Line.sale_line_id, Line.product_id, Line.description, Line.quantity,
                   Line.unit_price, Line.discount, Line.tax_id, Line.amount_untaxed,
                   Line.amount_tax)
            .where(Line.invoice_id == invoice.id).order_by(Line.id))}
    credited = _credited_by_origin_line(env, invoice.id)
    digits = currency_digits(env, invoice.currency)
    taxes = _taxes(env, (o.tax_id for o in origin_lines.values()))
    if date is not None and invoice.date is not None and date < invoice.date:
        # a credit note before its invoice would reverse what did not exist yet (statements
        # and the aging would disagree about that period)
        errors["date"] = [f"must not be before the invoice's date {invoice.date.isoformat()}"]
    date = date or env.today()

    def left(origin) -> Decimal:
        return Decimal(origin.quantity) - credited.get(origin.id, {}).get("qty", ZERO)

    def amounts_left(origin) -> tuple[Decimal, Decimal]:
        """What of the line's untaxed amount and tax is not credited yet (price corrections
        and quantities together): the cap of any credit of the line."""
        before = credited.get(origin.id, {})
        return (Decimal(origin.amount_untaxed) - before.get("untaxed", ZERO),
                Decimal(origin.amount_tax) - before.get("tax", ZERO))

    def included(origin) -> bool:
        tax = taxes.get(origin.tax_id)
        return tax is not None and bool(tax.rate) and bool(tax.price_include)

    def correction(origin, amount: Decimal) -> tuple[Decimal, Decimal]:
        """``(untaxed, tax)`` of a price correction of ``amount``: split like the line (tax on
        top, or taken out of ``amount`` when the line's prices include it); its tax never
        exceeds the line's tax left, and the correction of all that is left takes exactly it."""
        untaxed_left, tax_left = amounts_left(origin)
        if amount == (untaxed_left + tax_left if included(origin) else untaxed_left):
            return untaxed_left, tax_left
        untaxed, tax, total = tax_split(taxes.get(origin.tax_id), amount, invoice.currency, digits)
        tax = min(tax, max(tax_left, ZERO))
        return (total - tax if included(origin) else untaxed), tax

    def quantity_credit(origin, qty: Decimal) -> tuple[Decimal, Decimal]:
        if qty == left(origin):  # the rest of the line: exactly what is left of its amounts
            return amounts_left(origin)
        untaxed, tax, _total = line_amounts(qty, origin.unit_price, origin.discount,
                                            taxes.get(origin.tax_id), invoice.currency, digits)
        return untaxed, tax

    def over(origin, untaxed: Decimal, tax: Decimal) -> str | None:
        untaxed_left, tax_left = amounts_left(origin)
        if untaxed > untaxed_left or tax > tax_left:
            return (f"{origin.description}: {untaxed} + tax {tax} to credit but only "
                    f"{untaxed_left} + tax {tax_left} invoiced and not credited yet")
        return None

    requested: list[tuple[Any, Decimal, Decimal, Decimal]] = []  # (origin, qty, untaxed, tax)
    adjustments: list[tuple[Any, Decimal, Decimal, Decimal]] = []  # (origin, amount, untaxed, tax)
    if lines is None:
        requested = [(o, left(o), *amounts_left(o)) for o in origin_lines.values() if left(o) > 0]
    else:
        seen = set()
        for i, spec in enumerate(lines):
            origin = origin_lines.get(spec.get("invoice_line_id"))
            if origin is None:
                errors[f"lines.{i}.invoice_line_id"] = [f"not a line of invoice {invoice.number}"]
                continue
            if origin.id in seen:
                errors[f"lines.{i}.invoice_line_id"] = ["named twice"]
                continue
            seen.add(origin.id)
            if spec.get("amount") is not None:
                if spec.get("quantity") is not None:
                    errors[f"lines.{i}.amount"] = ["give a quantity or an amount, not both"]
                    continue
                try:
                    amount = to_decimal(spec["amount"], "amount")
                except (TypeError, ValueError) as exc:
                    errors[f"lines.{i}.amount"] = [str(exc)]
                    continue
                untaxed_left, tax_left = amounts_left(origin)
                most = untaxed_left + tax_left if included(origin) else untaxed_left
                if amount <= 0:
                    errors[f"lines.{i}.amount"] = ["must be greater than 0"]
                elif amount != round_money(amount, invoice.currency, digits):
                    errors[f"lines.{i}.amount"] = [f"at most {digits} decimals"]
                elif amount > most:
                    errors[f"lines.{i}.amount"] = [f"only {most} left to credit"]
                else:
                    untaxed, tax = correction(origin, amount)
                    if (reason_over := over(origin, untaxed, tax)) is not None:
                        errors[f"lines.{i}.amount"] = [reason_over]
                    else:
                        adjustments.append((origin, amount, untaxed, tax))
                continue
            qty = spec.get("quantity")
            try:
                qty = left(origin) if qty is None else to_decimal(qty, "quantity")
            except (TypeError, ValueError) as exc:
                errors[f"lines.{i}.quantity"] = [str(exc)]
                continue
            if qty <= 0:
                errors[f"lines.{i}.quantity"] = ["must be greater than 0"]
            elif qty > left(origin):
                errors[f"lines.{i}.quantity"] = [f"only {_qty(left(origin))} left to credit"]
            elif qty != qty.quantize(QTY):
                errors[f"lines.{i}.quantity"] = [f"at most {QTY_DIGITS} decimals"]
            else:
                untaxed, tax = quantity_credit(origin, qty)
                if (reason_over := over(origin, untaxed, tax)) is not None:
                    # e.g. price corrections took most of the line: its units are worth less
                    errors[f"lines.{i}.quantity"] = [reason_over]
                else:
                    requested.append((origin, qty, untaxed, tax))
        if not lines:
            errors["lines"] = ["name at least one line (or leave lines out to credit everything)"]
    if errors:
        raise ValidationError(errors)
    if not requested and not adjustments:
        raise TransitionBlocked(invoice, "credit_note", [
            f"everything on {invoice.number} is already credited"])
    if invoice.order_id is not None and requested:
        reasons = _order_keeps_invoiced(env, invoice.order_id, [(o, q) for o, q, *_ in requested])
        if reasons:
            raise TransitionBlocked(invoice, "credit_note", reasons)
    Invoice = env["sale.invoice"]
    cn_lines = []
    for origin, amount, untaxed, tax in adjustments:
        cn_lines.append(dict(
            origin_line_id=origin.id, product_id=origin.product_id, price_adjustment=True,
            description=f"Price correction: {origin.description}"[:300], quantity=Decimal("1"),
            unit_price=amount, discount=ZERO, tax_id=origin.tax_id, amount_untaxed=untaxed,
            amount_tax=tax, amount_total=untaxed + tax,
        ))
    for origin, qty, untaxed, tax in requested:
        cn_lines.append(dict(
            sale_line_id=origin.sale_line_id, origin_line_id=origin.id, product_id=origin.product_id,
            description=origin.description, quantity=qty, unit_price=origin.unit_price,
            discount=origin.discount, tax_id=origin.tax_id, amount_untaxed=untaxed, amount_tax=tax,
            amount_total=untaxed + tax,
        ))
    untaxed = sum((line["amount_untaxed"] for line in cn_lines), ZERO)
    tax = sum((line["amount_tax"] for line in cn_lines), ZERO)
    credit_note = Invoice(
        kind="credit_note", customer_id=invoice.customer_id, order_id=invoice.order_id,
        reversed_invoice_id=invoice.id, currency=invoice.currency, date=date,
        amount_untaxed=untaxed, amount_tax=tax, amount_total=untaxed + tax, amount_residual=ZERO,
        payment_status="none", reason=reason.strip(),
    )
    # the invoice before the order (post_invoice locks it): payments lock invoices, then orders
    (original,) = lock_rows(env, "sale.invoice", Invoice.id == invoice.id)
    insert_with_lines(env, credit_note, cn_lines)
    post_invoice(env, credit_note)
    # what is open on the invoice is settled by the credit note first
    amount = min(Decimal(original.amount_residual), Decimal(credit_note.amount_residual))
    if amount > 0:
        cleared, used = exchange.Allocating(env).amounts(
            original, amount, ZERO, credit_note,
            settles=amount == Decimal(original.amount_residual),
            uses_up=amount == Decimal(credit_note.amount_residual))
        allocation = env["sale.payment.allocation"](
            credit_note_id=credit_note.id, invoice_id=original.id, amount=amount,
            amount_company=cleared, source_amount_company=used, date=credit_note.date)
        env.session.add(allocation)
        set_residual(original, Decimal(original.amount_residual) - amount)
        set_residual(credit_note, Decimal(credit_note.amount_residual) - amount)
        if used != cleared:  # (at one rate: rounding only)
            env.session.flush()
            journal.post_entries(env, [exchange.exchange_entry(
                env, customer_id=original.customer_id, currency=original.currency,
                date=credit_note.date, difference=used - cleared,
                label=f"Exchange difference {credit_note.number} / {original.number}",
                source_record="sale.payment.allocation", source_id=allocation.id)])
    settle_documents(env, [original, credit_note])
    return credit_note
