"""Credit exposure (kept up to date as documents change) and the credit check.

Exposure
--------
Per customer, in the company currency (``[addon.sale] company_currency``):

* ``receivable``: the open amounts of posted invoices (credit notes and unallocated payments
  are not deducted: they are customer credit until applied);
* ``shipped_uninvoiced``: what was shipped (and not returned) but not invoiced yet;
* ``approved_unshipped``: what approved orders still have neither shipped nor invoiced.

Per order line, with ``q`` ordered, ``d`` delivered (shipped - returned), ``i`` invoiced,
``r`` returned: ``u = max(0, q - r - i)`` is still to invoice, ``s = min(u, max(0, d - i))`` of
it was shipped, ``u - s`` was not; amounts are ``round(x * line total / q)`` (so an order not
shipped at all counts exactly its total). Orders count while ``approved``, ``shipped`` or
``invoiced`` (not in ``draft`` or ``credit_review``, except what an amended order delivered
and has not invoiced: ``counted_part``). Other currencies are converted at the
rate in force on the order's (invoice's) date: the figures of a document do not move with
today's rate, so keeping them and rebuilding them from scratch always agree.

How it is kept: the ``sale_customer_balance_changed`` hook (called by sale after every change of
an order, shipment, invoice or payment) only *notes* which documents changed. Just before the
commit, the noted documents' items (``sale.credit.exposure_item``: what each open document
adds) are recomputed from the documents as they are then, and the differences are added to
the customers' ``sale.credit.exposure`` rows (``UPDATE ... SET x = x + delta``). Deferring to
the commit means the figures never depend on the order in which sale writes a document's
parts (e.g. a shipment is announced before its quantities reach the order lines). A check
earlier in the same transaction adds the noted, not yet applied, differences in memory.
Cost: a few statements per changed document, whatever the customer's history.

``rebuild`` recomputes every item and row from the documents (``salesflow credit
rebuild-exposure``); ``check_consistency`` compares without writing.

The check
---------
``check_order`` (``approve`` guard and shipments): fails when the customer is on hold, when its
counted exposure (``components``) without this order plus this order's amount (its total at
approval; its uninvoiced rest at shipment) is over the effective limit, or when an open invoice
is overdue by more than ``overdue_days``. It reads one row (the customer's exposure, locked
``FOR UPDATE`` when it decides: ``lock_customer``), never the customer's history.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import weakref
from dataclasses import asdict, dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from types import SimpleNamespace
from typing import Any

from sqlalchemy import bindparam, event, func, insert, or_, select, tuple_

from core.errors import ValidationError

log = logging.getLogger(__name__)

ZERO = Decimal("0")
CENT = Decimal("0.01")
PARTS = ("receivable", "shipped_uninvoiced", "approved_unshipped")
#: order states whose open quantities count
COUNTED_ORDER_STATES = ("approved", "shipped", "invoiced")
#: order states where nothing counts; in the others (draft, credit_review: an amendment took a
#: partly shipped order back) what was delivered and not invoiced still does
NOTHING_COUNTS_STATES = ("paid", "cancelled")

#: session.info keys
_DIRTY = "sale_credit.dirty"          # {"order": set, "invoice": set, "payment": set, "customer": set}
_DECISIONS = "sale_credit.decisions"  # {(order_id, trigger): CreditCheck} decided, not written yet
_CHECKS = "sale_credit.checks"        # {(order_id, trigger): CreditCheck} computed under lock
_REFUSED = "sale_credit.refused"      # failed checks of a rolled-back transaction, to write
SKIP_CHECKS = "sale_credit.skip_checks"  # set (e.g. by the demo loader): checks pass, no decisions


def _money(value) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def company_currency(env) -> str:
    return (env.settings("sale").get("company_currency") or "CNY").upper()


def _rate(env, code: str, date: dt.date | None) -> Decimal:
    """Units of company currency per unit of ``code`` on ``date`` (cached per transaction)."""
    code = (code or "").upper()
    if code == company_currency(env):
        return Decimal(1)
    cache = env.session.info.setdefault("sale_credit.rates", {})
    key = (code, date)
    if key not in cache:
        Currency, Rate = env["sale.currency"], env["sale.currency.rate"]
        with env.sudo():
            rate = env.session.scalar(
                select(Rate.rate).join(Currency, Rate.currency_id == Currency.id)
                .where(Currency.code == code, Rate.date <= (date or env.today()))
                .order_by(Rate.date.desc()).limit(1))
        if rate is None:
            raise ValidationError({"currency": [
                f"no exchange rate for {code} on or before {date}: credit exposure is kept in "
                f"{company_currency(env)}"]})
        cache[key] = Decimal(rate)
    return cache[key]


def to_company(env, amount: Decimal, currency: str, date: dt.date | None) -> Decimal:
    if (currency or "").upper() == company_currency(env) or not amount:
        return _money(amount)
    return _money(Decimal(amount) * _rate(env, currency, date))


# -- what one document adds ----------------------------------------------------------------------


def line_open(quantity, shipped, invoiced, returned, total) -> tuple[Decimal, Decimal]:
    """(shipped not invoiced, neither shipped nor invoiced) of one order line, in the order's
    currency (see the module docstring)."""
    q = Decimal(quantity or 0)
    if q <= 0:
        return ZERO, ZERO
    shipped, invoiced, returned = (Decimal(x or 0) for x in (shipped, invoiced, returned))
    total = Decimal(total or 0)
    u = max(ZERO, q - returned - invoiced)
    s = min(u, max(ZERO, shipped - returned - invoiced))
    if u == 0:
        return ZERO, ZERO
    u_value = total if u == q else _money(u * total / q)
    s_value = ZERO if s == 0 else (total if s == q else _money(s * total / q))
    return s_value, u_value - s_value


def order_open(env, currency, date, lines) -> tuple[Decimal, Decimal]:
    """(shipped_uninvoiced, approved_unshipped) of an order's lines
    ``[(quantity, shipped, invoiced, returned, total)]``, in the company currency."""
    s_sum = a_sum = ZERO
    for line in lines:
        s, a = line_open(*line)
        s_sum += s
        a_sum += a
    s_c = to_company(env, s_sum, currency, date)
    total_c = to_company(env, s_sum + a_sum, currency, date)
    return s_c, total_c - s_c


@dataclass
class Item:
    customer_id: int
    receivable: Decimal = ZERO
    shipped_uninvoiced: Decimal = ZERO
    approved_unshipped: Decimal = ZERO
    due_date: dt.date | None = None
    id: int | None = None  # the stored item's id

    def is_zero(self) -> bool:
        return not (self.receivable or self.shipped_uninvoiced or self.approved_unshipped)

    def same(self, other: Item) -> bool:
        return (self.customer_id == other.customer_id and self.receivable == other.receivable
                and self.shipped_uninvoiced == other.shipped_uninvoiced
                and self.approved_unshipped == other.approved_unshipped
                and self.due_date == other.due_date)


# -- statements (built once per app: they run in every transaction that touches a balance) -----

_statements: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _stmts(env) -> SimpleNamespace:
    found = _statements.get(env.sf)
    if found is None:
        found = _statements.setdefault(env.sf, _build_statements(env))
    return found


def _build_statements(env) -> SimpleNamespace:
    Ord, L = env["sale.order"].__table__, env["sale.line"].__table__
    I_, A = env["sale.invoice"].__table__, env["sale.payment.allocation"].__table__
    Inst = env["sale.invoice.instalment"].__table__
    T, E = env["sale.credit.exposure_item"].__table__, env["sale.credit.exposure"].__table__
    D_ = env["sale.credit.decision"].__table__
    C = env["sale.customer"].__table__
    ids = bindparam("ids", expanding=True)
    item_cols = (T.c.id, T.c.customer_id, T.c.receivable, T.c.shipped_uninvoiced,
                 T.c.approved_unshipped, T.c.due_date)
    cid = bindparam("b_cid")
    add = {p: getattr(E.c, p) + bindparam(f"b_{p}") for p in PARTS}
    add.update(updated_at=bindparam("b_now"), version=E.c.version + 1)
    oldest = select(func.min(T.c.due_date)).where(T.c.customer_id == cid).scalar_subquery()
    row = select(E.c.receivable, E.c.shipped_uninvoiced, E.c.approved_unshipped,
                 E.c.oldest_due_date).where(E.c.customer_id == bindparam("cid"))
    profile = (C.c.code, C.c.credit_grade, C.c.credit_limit, C.c.credit_hold,
               C.c.credit_hold_reason)
    return SimpleNamespace(
        orders=select(Ord.c.id, Ord.c.state, Ord.c.customer_id, Ord.c.currency, Ord.c.date_order,
                      L.c.quantity, L.c.qty_shipped, L.c.qty_invoiced, L.c.qty_returned,
                      L.c.amount_total, *item_cols)
        .select_from(Ord.outerjoin(L, L.c.order_id == Ord.c.id)
                     .outerjoin(T, (T.c.source == "order") & (T.c.source_id == Ord.c.id)))
        .where(Ord.c.id.in_(ids)),
        # (one row per instalment)
        invoices=select(I_.c.id, I_.c.customer_id, I_.c.kind, I_.c.state, I_.c.amount_residual,
                        I_.c.due_date, I_.c.date, I_.c.currency, *item_cols, I_.c.amount_total,
                        I_.c.amount_total_company, I_.c.currency_rate, Inst.c.due_date,
                        Inst.c.amount)
        .select_from(I_.outerjoin(T, (T.c.source == "invoice") & (T.c.source_id == I_.c.id))
                     .outerjoin(Inst, Inst.c.invoice_id == I_.c.id))
        .where(I_.c.id.in_(ids)).order_by(I_.c.id, Inst.c.sequence),
        allocated=select(A.c.invoice_id).where(A.c.payment_id.in_(ids)),
        item_insert=insert(T),
        item_update=T.update().where(T.c.id == bindparam("b_id")).values(
            customer_id=bindparam("b_customer_id"), receivable=bindparam("b_receivable"),
            shipped_uninvoiced=bindparam("b_shipped_uninvoiced"),
            approved_unshipped=bindparam("b_approved_unshipped"),
            due_date=bindparam("b_due_date"), updated_at=bindparam("b_now"),
            version=T.c.version + 1),
        item_delete=T.delete().where(T.c.id.in_(ids)),
        add=E.update().where(E.c.customer_id == cid).values(add),
        add_due=E.update().where(E.c.customer_id == cid).values({**add, "oldest_due_date": oldest}),
        row=row,
        row_locked=row.with_for_update() if env.sf.dialect != "sqlite" else row,
        decision_insert=insert(D_),
        profile=select(*profile).where(C.c.id == bindparam("cid")),
        row_and_profile=select(E.c.receivable, E.c.shipped_uninvoiced, E.c.approved_unshipped,
                               E.c.oldest_due_date, *profile)
        .select_from(C.outerjoin(E, E.c.customer_id == C.c.id)).where(C.c.id == bindparam("cid")),
    )


def _item(row, offset: int) -> Item | None:
    if row[offset] is None:
        return None
    return Item(row[offset + 1], Decimal(row[offset + 2]), Decimal(row[offset + 3]),
                Decimal(row[offset + 4]), row[offset + 5], row[offset])


def _order_items(env, order_ids) -> dict[tuple[str, int], tuple[Item | None, Item]]:
    """{("order", id): (stored item or None, current item)}."""
    head: dict[int, tuple] = {}
    lines: dict[int, list] = {}
    for row in env.session.connection().execute(_stmts(env).orders, {"ids": list(order_ids)}):
        if row[0] not in head:
            head[row[0]] = (row[1:5], _item(row, 10))
        if row[5] is not None:
            lines.setdefault(row[0], []).append(row[5:10])
    out = {}
    for oid, ((state, customer_id, currency, date_order), stored) in head.items():
        item = Item(customer_id)
        if state not in NOTHING_COUNTS_STATES:
            item.shipped_uninvoiced, item.approved_unshipped = order_open(
                env, currency, date_order, lines.get(oid, []))
        out[("order", oid)] = (stored, counted_part(item, state))
    return out


def counted_part(item: Item, state: str) -> Item:
    """What of an order's open value (``item``) counts in its state: all of it while the order
    counts, the delivered and not invoiced part in draft or credit review (the customer has the
    goods), nothing once paid or cancelled."""
    if state in COUNTED_ORDER_STATES:
        return item
    if state in NOTHING_COUNTS_STATES:
        return Item(item.customer_id)
    return Item(item.customer_id, shipped_uninvoiced=item.shipped_uninvoiced)


def _invoice_items(env, invoice_ids) -> dict[tuple[str, int], tuple[Item | None, Item]]:
    """The items of these invoices: what is open of a posted one, due on the due date of its
    earliest instalment still open (what settled it settled its instalments in sequence)."""
    rows: dict[int, list] = {}
    for row in env.session.connection().execute(_stmts(env).invoices, {"ids": list(invoice_ids)}):
        rows.setdefault(row[0], []).append(row)
    out = {}
    for iid, group in rows.items():
        row = group[0]
        _iid, customer_id, kind, state, residual, due, date, currency = row[:8]
        total, total_company, rate = row[14:17]
        item = Item(customer_id)
        if kind == "invoice" and state == "posted" and Decimal(residual or 0) > 0:
            item.receivable = _invoice_open_company(env, Decimal(residual), currency, date,
                                                    total, total_company, rate)
            instalments = [(r[17], Decimal(r[18])) for r in group if r[17] is not None]
            left = _receivables().still_open(instalments, Decimal(total) - Decimal(residual))
            item.due_date = left[0][0] if left else (due or date)
        out[("invoice", iid)] = (_item(row, 8), item)
    return out


def _receivables():
    from sale.services import receivables

    return receivables


def _invoice_open_company(env, residual: Decimal, currency, date, total, total_company,
                          rate) -> Decimal:
    """What is open on a posted invoice in the company currency, at the rate the invoice was
    booked at (sale's ``currency_rate``; all of it: exactly its ``amount_total_company``), so
    exposure agrees with sale's receivables; the invoice date's rate for a row booked without
    one (a company-currency invoice has rate 1)."""
    if (currency or "").upper() == company_currency(env):
        return _money(residual)
    if rate is None or not Decimal(rate) or total_company is None:
        return to_company(env, residual, currency, date)
    if residual == Decimal(total):
        return _money(Decimal(total_company))
    return _money(residual * Decimal(rate))


# -- noting changes (the hook) and applying them (before the commit) ---------------------------


def _dirty(env) -> dict[str, set]:
    dirty = env.session.info.get(_DIRTY)
    if dirty is None:
        dirty = env.session.info[_DIRTY] = {"order": set(), "invoice": set(), "payment": set(),
                                            "resync": set()}
        listen(env)
    return dirty


def note_change(env, record, customer_id: int | None = None, reason: str | None = None) -> None:
    """Note that ``record`` (an order, shipment, invoice or payment) changed what its customer
    owes or has on order; applied before the commit (``apply_changes``). An order's
    ``invoice`` and ``settle`` transitions change nothing here: the posting of its invoices
    (which notes the order) and the payments did."""
    name = getattr(record, "__record__", "")
    if name == "sale.order" and reason in ("invoice", "settle"):
        return
    dirty = _dirty(env)
    if name == "sale.order":
        dirty["order"].add(record.id)
    elif name == "sale.shipment":
        dirty["order"].add(record.order_id)
    elif name == "sale.invoice":
        dirty["invoice"].add(record.id)
        if record.order_id is not None:
            dirty["order"].add(record.order_id)
        if record.reversed_invoice_id is not None:
            dirty["invoice"].add(record.reversed_invoice_id)
    elif name == "sale.payment":
        dirty["payment"].add(record.id)


def note_customers(env, *customer_ids: int) -> None:
    """Recompute these customers' exposure rows from their items before the commit (after a
    merge moved documents between customers)."""
    _dirty(env)["resync"].update(customer_ids)


def _pending(env, *, pop: bool) -> tuple[list[tuple[tuple[str, int], Item | None, Item]], set]:
    """[(key, stored item or None, current item)] for every noted document whose item changed,
    and the customers to resync; ``pop`` takes the notes away (they are being applied)."""
    info = env.session.info
    dirty = info.pop(_DIRTY, None) if pop else info.get(_DIRTY)
    if not dirty:
        return [], set()
    env.session.flush()
    invoices = set(dirty["invoice"])
    if dirty["payment"]:
        invoices.update(env.session.connection().execute(
            _stmts(env).allocated, {"ids": list(dirty["payment"])}).scalars())
    found: dict[tuple[str, int], tuple[Item | None, Item]] = {}
    if dirty["order"]:
        found.update(_order_items(env, dirty["order"]))
    if invoices:
        found.update(_invoice_items(env, invoices))
    changes = []
    for key, (old, item) in found.items():
        if old is None and item.is_zero():
            continue
        if old is not None and old.same(item):
            continue
        changes.append((key, old, item))
    return changes, set(dirty["resync"])


def _deltas(changes) -> dict[int, dict[str, Any]]:
    """Per customer: the differences of the parts, and whether an invoice item changed (the
    oldest due date then has to be looked up again)."""
    out: dict[int, dict[str, Any]] = {}

    def add(cid: int, item: Item, sign: int, source: str) -> None:
        d = out.setdefault(cid, {"receivable": ZERO, "shipped_uninvoiced": ZERO,
                                 "approved_unshipped": ZERO, "due": False, "dues": []})
        for part in PARTS:
            d[part] += sign * getattr(item, part)
        if source == "invoice":
            d["due"] = True
            if sign > 0 and item.due_date is not None:
                d["dues"].append(item.due_date)

    for (source, _sid), old, new in changes:
        if old is not None:
            add(old.customer_id, old, -1, source)
        add(new.customer_id, new, 1, source)
    return out


def apply_changes(env) -> None:
    """Write the noted changes: items, then the exposure rows (``x = x + delta``)."""
    changes, resync = _pending(env, pop=True)
    if not changes and not resync:
        return
    st = _stmts(env)
    conn = env.session.connection()
    now = env.now
    inserts, updates, deletes = [], [], []
    for (source, sid), old, new in changes:
        if new.is_zero():
            deletes.append(old.id)
            continue
        values = {"customer_id": new.customer_id, "receivable": new.receivable,
                  "shipped_uninvoiced": new.shipped_uninvoiced,
                  "approved_unshipped": new.approved_unshipped, "due_date": new.due_date}
        if old is None:
            inserts.append({"source": source, "source_id": sid, **values, "created_at": now,
                            "updated_at": now, "version": 1})
        else:
            updates.append({"b_id": old.id, "b_now": now, **{f"b_{k}": v for k, v in values.items()}})
    if deletes:
        conn.execute(st.item_delete, {"ids": deletes})
    if updates:
        conn.execute(st.item_update, updates)
    if inserts:
        conn.execute(st.item_insert, inserts)
    for cid, d in sorted(_deltas(changes).items()):
        if cid in resync:
            continue
        params = {"b_cid": cid, "b_now": now, **{f"b_{p}": d[p] for p in PARTS}}
        stmt = st.add_due if d["due"] else st.add
        if conn.execute(stmt, params).rowcount == 0:
            ensure_row(env, cid)
            conn.execute(stmt, params)
    for cid in sorted(resync):
        resync_customer(env, cid)


def resync_customer(env, customer_id: int) -> None:
    """Set a customer's exposure row to the sum of its items."""
    T = env["sale.credit.exposure_item"].__table__
    E = env["sale.credit.exposure"].__table__
    conn = env.session.connection()
    row = conn.execute(select(*(func.coalesce(func.sum(getattr(T.c, p)), 0) for p in PARTS),
                              func.min(T.c.due_date)).where(T.c.customer_id == customer_id)).one()
    ensure_row(env, customer_id)
    conn.execute(E.update().where(E.c.customer_id == customer_id).values(
        receivable=row[0], shipped_uninvoiced=row[1], approved_unshipped=row[2],
        oldest_due_date=row[3], updated_at=env.now, version=E.c.version + 1))


def ensure_row(env, customer_id: int) -> None:
    """Create the customer's exposure row (zeros) unless it exists; safe when concurrent
    transactions do the same (``INSERT .. ON CONFLICT DO NOTHING``)."""
    E = env["sale.credit.exposure"].__table__
    now = env.now
    values = {"customer_id": customer_id, "receivable": ZERO, "shipped_uninvoiced": ZERO,
              "approved_unshipped": ZERO, "created_at": now, "updated_at": now, "version": 1}
    if env.sf.dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as upsert
    else:
        from sqlalchemy.dialects.sqlite import insert as upsert
    env.session.connection().execute(
        upsert(E).values(**values).on_conflict_do_nothing(index_elements=["customer_id"]))


# -- session events: apply before the commit, keep refused decisions after a rollback ----------

_listening: weakref.WeakSet = weakref.WeakSet()
_listen_lock = threading.Lock()


def listen(env) -> None:
    """Register the session events of this app's session class (once)."""
    cls = type(env.session)
    if cls in _listening:
        return
    with _listen_lock:
        if cls not in _listening:
            event.listen(cls, "before_commit", _before_commit)
            event.listen(cls, "after_transaction_create", _after_transaction_create)
            event.listen(cls, "after_soft_rollback", _after_soft_rollback)
            event.listen(cls, "after_rollback", _after_rollback)
            event.listen(cls, "after_transaction_end", _after_transaction_end)
            _listening.add(cls)


def _before_commit(session) -> None:
    env = session.info.get("env")
    if env is None or not (session.info.get(_DIRTY) or session.info.get(_DECISIONS)):
        return
    with env.sudo():
        apply_changes(env)
        write_pending_decisions(env)
        session.flush()


_SNAPSHOTS = "sale_credit.savepoint_snapshots"


def _after_transaction_create(session, transaction) -> None:
    """A savepoint begins (``env.atomic``, ``fire_many``): remember the pending notes,
    decisions and checks, to go back to them if it is rolled back."""
    if transaction.nested:
        dirty = session.info.get(_DIRTY)
        session.info.setdefault(_SNAPSHOTS, {})[transaction] = (
            {k: set(v) for k, v in dirty.items()} if dirty is not None else None,
            dict(session.info[_DECISIONS]) if _DECISIONS in session.info else None,
            dict(session.info[_CHECKS]) if _CHECKS in session.info else None)


def _after_soft_rollback(session, previous_transaction) -> None:
    """A savepoint rolled back (a refused batch caught by its caller): undo only what was
    noted inside it, and keep its failed checks to write once the connection is given back
    (``_after_transaction_end``). The transaction's own rollback is ``_after_rollback``."""
    if not previous_transaction.nested:
        return
    before = session.info.get(_SNAPSHOTS, {}).pop(previous_transaction, (None, None, None))
    pending = session.info.get(_DECISIONS) or {}
    failed = [c for key, c in pending.items()
              if not c.ok and (before[1] is None or key not in before[1])]
    for key, value in zip((_DIRTY, _DECISIONS, _CHECKS), before, strict=True):
        if value is None:
            session.info.pop(key, None)
        else:
            session.info[key] = value
    if failed:
        session.info.setdefault(_REFUSED, []).extend(failed)


def _after_rollback(session) -> None:
    """The transaction rolled back (a refused approval or shipment): drop everything noted and
    keep its failed checks to write. This event comes before ``_after_transaction_end`` (the
    soft-rollback event comes after it, too late); a savepoint's rollback, still current
    here, is left to ``_after_soft_rollback``."""
    if session.get_nested_transaction() is not None:
        return
    pending = session.info.pop(_DECISIONS, None) or {}
    session.info.pop(_DIRTY, None)
    session.info.pop(_CHECKS, None)
    session.info.pop(_SNAPSHOTS, None)
    failed = [c for c in pending.values() if not c.ok]
    if failed:
        session.info.setdefault(_REFUSED, []).extend(failed)


def _after_transaction_end(session, transaction) -> None:
    """Write the refused decisions of a rolled-back transaction in a transaction of their own
    (after the first one gave its connection back: one connection per worker at a time), so
    refusals can be explained later. A failure here is logged, never raised over the refusal."""
    if transaction.parent is None:
        # (a savepoint's snapshot stays until then: this event comes before its rollback's)
        session.info.pop(_SNAPSHOTS, None)
    if transaction.parent is not None or not session.info.get(_REFUSED):
        return
    failed = session.info.pop(_REFUSED)
    env = session.info.get("env")
    if env is None:
        return
    try:
        with env.sf.transaction() as other:
            for check in failed:
                _insert_decision(other, check, outcome="refused", state_after=None)
    except Exception:  # the original error matters more; never hide it behind this one
        log.exception("sale_credit: could not record %d refused credit decision(s)", len(failed))


# -- reading exposure -------------------------------------------------------------------------


def _row(env, customer_id: int, *, lock: bool):
    st = _stmts(env)
    conn = env.session.connection()
    if env.sf.dialect == "sqlite":  # the write transaction is the lock: nothing to lock
        return conn.execute(st.row, {"cid": customer_id}).first()
    stmt = st.row_locked if lock else st.row
    row = conn.execute(stmt, {"cid": customer_id}).first()
    if row is None and lock:
        ensure_row(env, customer_id)
        row = conn.execute(stmt, {"cid": customer_id}).first()
    return row


def lock_customer(env, customer_id: int) -> None:
    """Lock the customer's exposure row until the commit (``SELECT .. FOR UPDATE`` on
    PostgreSQL; SQLite's write transaction already admits one writer). One row: checks for
    other customers never wait for this one."""
    _row(env, customer_id, lock=True)


def lock_customers(env, customer_ids) -> None:
    """Lock several customers' exposure rows at once, in customer id order (a batch of orders
    is then checked one by one under these locks): two batches naming the same customers in
    another order wait for each other instead of deadlocking. Nothing to do on SQLite."""
    ids = sorted({cid for cid in customer_ids if cid is not None})
    if len(ids) < 2 or env.sf.dialect == "sqlite":
        return
    with env.sudo():
        for cid in ids:
            lock_customer(env, cid)


def exposure_parts(env, customer_id: int, *, lock: bool = False, row: Any = ...) -> dict[str, Any]:
    """The customer's parts (``receivable``, ``shipped_uninvoiced``, ``approved_unshipped``)
    and ``oldest_due_date``, changes noted in this transaction included (``row``: the
    exposure row already read)."""
    if row is ...:
        row = _row(env, customer_id, lock=lock)
    parts = {p: Decimal(row[i]) if row is not None else ZERO for i, p in enumerate(PARTS)}
    parts["oldest_due_date"] = row[3] if row is not None else None
    changes, _resync = _pending(env, pop=False)
    mine = [c for c in changes if c[2].customer_id == customer_id
            or (c[1] is not None and c[1].customer_id == customer_id)]
    if mine:
        d = _deltas(mine).get(customer_id)
        if d:
            for p in PARTS:
                parts[p] += d[p]
            if d["due"]:
                changed = [k[1] for k, _o, _n in mine if k[0] == "invoice"]
                T = env["sale.credit.exposure_item"].__table__
                others = env.session.connection().execute(
                    select(func.min(T.c.due_date)).where(
                        T.c.customer_id == customer_id,
                        ~tuple_(T.c.source, T.c.source_id).in_([("invoice", i) for i in changed]))
                ).scalar()
                dues = [x for x in [others, *d["dues"]] if x is not None]
                parts["oldest_due_date"] = min(dues) if dues else None
    return parts


def order_item(env, order) -> Item:
    """What ``order`` adds now (from its lines as they are in this transaction), whatever its
    state: its open value, split in shipped/unshipped, in the company currency."""
    lines = [(ln.quantity, ln.qty_shipped, ln.qty_invoiced, ln.qty_returned, ln.amount_total)
             for ln in order.lines]
    item = Item(order.customer_id)
    item.shipped_uninvoiced, item.approved_unshipped = order_open(
        env, order.currency, order.date_order, lines)
    return item


# -- the check --------------------------------------------------------------------------------


@dataclass
class CreditCheck:
    """What a credit check saw and concluded (stored as a ``sale.credit.decision``)."""

    order_id: int | None
    customer_id: int
    customer_code: str
    trigger: str
    policy: str
    grade: str | None
    limit: Decimal | None
    receivable: Decimal
    shipped_uninvoiced: Decimal
    approved_unshipped: Decimal
    components: list[str]
    own_amount: Decimal
    exposure: Decimal
    order_amount: Decimal
    hold: bool
    hold_reason: str | None
    oldest_due_date: dt.date | None
    days_overdue: int | None
    overdue_days_allowed: int | None
    as_of: dt.date
    order_revision: int | None
    user_id: int | None
    reasons: list[str] = field(default_factory=list)
    released_by: int | None = None  # the shipment release decision that lets it pass
    version: tuple = ()
    #: the order's state when checked, then after its transition in this transaction
    state: str | None = None

    @property
    def ok(self) -> bool:
        return not self.reasons or self.released_by is not None

    @property
    def total(self) -> Decimal:
        return self.exposure + self.order_amount

    @property
    def headroom(self) -> Decimal | None:
        return None if self.limit is None else self.limit - self.exposure

    def summary(self) -> str:
        limit = "no limit" if self.limit is None else f"the limit {self.limit:,.2f}"
        return (f"exposure {self.exposure:,.2f} + order {self.order_amount:,.2f} = "
                f"{self.total:,.2f} within {limit}")

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("version")
        data["ok"] = self.ok
        return data


def effective_profile(settings, grade: str | None, limit) -> tuple[str | None, Decimal | None, str]:
    """(grade, limit, policy) in force for a customer with its own ``grade`` and ``limit``
    (None: the grade's default limit; no grade: ``default_grade``; none: no limit)."""
    code = grade or settings["default_grade"]
    conf = settings["grades"].get(code or "")
    if limit is not None:
        limit = Decimal(limit)
    elif conf is not None:
        limit = Decimal(conf["limit"])
    return code, limit, (conf or {}).get("policy") or settings["policy"]


def check_order(env, order, trigger: str, *, lock: bool = False) -> CreditCheck:
    """The credit check of ``order`` for ``trigger`` ("approve" or "ship"); see the module
    docstring. ``lock``: lock the customer's exposure row first (deciding, not displaying).
    The customer's profile is read as committed (a credit manager's change takes the same
    lock), not from the transaction's loaded objects."""
    settings = env.settings("sale_credit")
    with env.sudo():
        if env.sf.dialect == "sqlite":  # one writer at a time: row and profile in one read
            found = env.session.connection().execute(
                _stmts(env).row_and_profile, {"cid": order.customer_id}).one()
            row = found[:4] if found[0] is not None else None
            code, own_grade, own_limit, hold, hold_reason = found[4:]
        else:  # the profile is read after the lock: as committed by whoever held it before
            row = _row(env, order.customer_id, lock=lock)
            code, own_grade, own_limit, hold, hold_reason = env.session.connection().execute(
                _stmts(env).profile, {"cid": order.customer_id}).one()
        grade, limit, policy = effective_profile(settings, own_grade, own_limit)
        parts = exposure_parts(env, order.customer_id, row=row)
        components = list(settings["components"])
        # what this order already adds to the counted parts: its current open value while it
        # counts, what it delivered in draft (the maintained item equals it: nothing of the
        # order changed before the check)
        current = order_item(env, order)
        counted_now = counted_part(current, order.state)
        own = sum((getattr(counted_now, p) for p in components), ZERO)
        if trigger == "ship":
            amount = current.shipped_uninvoiced + current.approved_unshipped
        else:  # approval (or a release of it): the order's total
            amount = to_company(env, Decimal(order.amount_total or 0), order.currency,
                                order.date_order)
        counted = sum((parts[p] for p in components), ZERO)
        as_of = env.today()
        oldest = parts["oldest_due_date"]
        days = (as_of - oldest).days if oldest is not None else None
        allowed = settings["overdue_days"]
        check = CreditCheck(
            order_id=order.id, customer_id=order.customer_id, customer_code=code,
            trigger=trigger, policy=policy, grade=grade, limit=limit,
            receivable=parts["receivable"], shipped_uninvoiced=parts["shipped_uninvoiced"],
            approved_unshipped=parts["approved_unshipped"], components=components,
            own_amount=own, exposure=counted - own, order_amount=amount,
            hold=bool(hold), hold_reason=hold_reason,
            oldest_due_date=oldest, days_overdue=days,
            overdue_days_allowed=None if allowed < 0 else allowed, as_of=as_of,
            order_revision=order.revision, user_id=env.user_id,
            version=(order.version, order.revision, order.amount_total, order.customer_id),
            state=order.state,
        )
    who = f"customer {code}"
    if check.hold:
        check.reasons.append(f"{who} is on credit hold: {check.hold_reason or 'no reason given'}")
    if check.limit is not None and check.total > check.limit:
        check.reasons.append(
            f"credit limit of {who} exceeded: exposure {check.exposure:,.2f} + order "
            f"{check.order_amount:,.2f} = {check.total:,.2f} is over the limit "
            f"{check.limit:,.2f}" + (f" (grade {check.grade})" if check.grade else ""))
    if allowed >= 0 and days is not None and days > allowed:
        check.reasons.append(
            f"{who} has invoices overdue by {days} days (more than {allowed}); the oldest was "
            f"due {oldest.isoformat()}")
    return check


def run_date(env, date: dt.date | None, what: str) -> dt.date:
    """The date of a run that acts now (dunning letters and holds, stored scores): today by
    default, never after it (a mistyped year would act on a day that has not come)."""
    today = env.today()
    if date is not None and date > today:
        raise ValidationError({"date": [f"{date.isoformat()} is after today ({today.isoformat()}): "
                                        f"{what} runs for today or an earlier date"]})
    return date or today


def skipping(env) -> bool:
    return bool(env.session.info.get(SKIP_CHECKS))


def decide(env, order, trigger: str) -> CreditCheck:
    """The check as a decision: computed under the customer's lock, remembered for the guards
    of this ``fire()`` and written as a ``sale.credit.decision`` at the commit (or, refused,
    after the rollback)."""
    check = check_order(env, order, trigger, lock=True)
    env.session.info.setdefault(_CHECKS, {})[(order.id, trigger)] = check
    if trigger in ("approve", "ship"):
        env.session.info.setdefault(_DECISIONS, {})[(order.id, trigger)] = check
        listen(env)
    return check


def current_check(env, order, trigger: str) -> CreditCheck:
    """The check a guard uses: the one ``decide`` made under the lock in this ``fire()`` if the
    order has not changed since, else a fresh one (display: ``env.blockers``)."""
    found = env.session.info.get(_CHECKS, {}).get((order.id, trigger))
    if found is not None and found.version == (order.version, order.revision, order.amount_total,
                                                order.customer_id):
        return found
    return check_order(env, order, trigger)


def forget_check(env, order, trigger: str) -> None:
    env.session.info.get(_CHECKS, {}).pop((order.id, trigger), None)


# -- decisions --------------------------------------------------------------------------------


def _decision_values(env, check: CreditCheck, *, outcome: str, state_after: str | None,
                     trigger: str | None = None, comment: str | None = None,
                     user_id: Any = ...) -> dict[str, Any]:
    now = env.now
    return {
        "order_id": check.order_id, "customer_id": check.customer_id,
        "trigger": trigger or check.trigger, "outcome": outcome, "policy": check.policy,
        "grade": check.grade, "credit_limit": check.limit, "receivable": check.receivable,
        "shipped_uninvoiced": check.shipped_uninvoiced,
        "approved_unshipped": check.approved_unshipped, "components": list(check.components),
        "own_amount": check.own_amount, "exposure": check.exposure,
        "order_amount": check.order_amount, "hold": check.hold, "hold_reason": check.hold_reason,
        "oldest_due_date": check.oldest_due_date, "days_overdue": check.days_overdue,
        "overdue_days_allowed": check.overdue_days_allowed, "as_of": check.as_of,
        "reasons": list(check.reasons), "state_after": state_after,
        "order_revision": check.order_revision,
        "comment": comment if comment is not None else (
            f"shipment released by decision {check.released_by}" if check.released_by else None),
        "user_id": check.user_id if user_id is ... else user_id,
        "created_at": now, "updated_at": now, "version": 1,
    }


def _insert_decision(env, check: CreditCheck, **kwargs) -> int:
    T = env["sale.credit.decision"].__table__
    values = _decision_values(env, check, **kwargs)
    return env.session.connection().execute(insert(T).values(**values).returning(T.c.id)).scalar_one()


def order_moved(env, order, dest: str) -> None:
    """The order went to ``dest`` in this transaction: its pending decisions say so."""
    for (order_id, _trigger), check in env.session.info.get(_DECISIONS, {}).items():
        if order_id == order.id:
            check.state = dest


def write_pending_decisions(env) -> None:
    """The checks decided in this transaction, as decisions (called before the commit)."""
    pending = env.session.info.pop(_DECISIONS, None)
    env.session.info.pop(_CHECKS, None)
    if not pending:
        return
    rows = []
    for (_order_id, trigger), check in pending.items():
        if check.ok:
            outcome = "pass"
        elif trigger == "approve" and (check.state == "credit_review" or check.policy == "review"):
            outcome = "review"
        else:
            outcome = "refused"
        rows.append(_decision_values(env, check, outcome=outcome, state_after=check.state))
    env.session.connection().execute(_stmts(env).decision_insert, rows[0] if len(rows) == 1 else rows)


def record_decision(env, check: CreditCheck, *, outcome: str, trigger: str,
                    state_after: str | None, comment: str | None = None) -> int:
    """A credit manager's decision (release, rejection), written now."""
    return _insert_decision(env, check, outcome=outcome, state_after=state_after,
                            trigger=trigger, comment=comment, user_id=env.user_id)


def shipment_release(env, order) -> int | None:
    """The id of a credit manager's shipment release of this order's current revision."""
    D = env["sale.credit.decision"]
    with env.sudo():
        return env.session.scalar(
            select(D.id).where(D.order_id == order.id, D.trigger == "release_shipment",
                               D.outcome == "released", D.order_revision == (order.revision or 0))
            .order_by(D.id.desc()).limit(1))


# -- rebuilding from scratch -------------------------------------------------------------------


def compute_all(env) -> tuple[dict[tuple[str, int], Item], dict[int, dict[str, Any]]]:
    """Every open document's item and every customer's parts, from the documents alone."""
    Order, Invoice = env["sale.order"], env["sale.invoice"]
    with env.sudo():
        Line = env["sale.line"]
        delivered = select(Line.order_id).where(Line.qty_shipped > 0)
        order_ids = list(env.session.scalars(select(Order.id).where(or_(
            Order.state.in_(COUNTED_ORDER_STATES),
            Order.state.notin_(NOTHING_COUNTS_STATES) & Order.id.in_(delivered)))))
        invoice_ids = list(env.session.scalars(
            select(Invoice.id).where(Invoice.kind == "invoice", Invoice.state == "posted",
                                     Invoice.amount_residual > 0)))
    items: dict[tuple[str, int], Item] = {}
    for start in range(0, len(order_ids), 500):
        items.update((k, new) for k, (_old, new) in
                     _order_items(env, order_ids[start:start + 500]).items())
    for start in range(0, len(invoice_ids), 500):
        items.update((k, new) for k, (_old, new) in
                     _invoice_items(env, invoice_ids[start:start + 500]).items())
    items = {k: v for k, v in items.items() if not v.is_zero()}
    totals: dict[int, dict[str, Any]] = {}
    for item in items.values():
        t = totals.setdefault(item.customer_id, {p: ZERO for p in PARTS} | {"oldest_due_date": None})
        for p in PARTS:
            t[p] += getattr(item, p)
        if item.due_date is not None and (t["oldest_due_date"] is None
                                          or item.due_date < t["oldest_due_date"]):
            t["oldest_due_date"] = item.due_date
    return items, totals


def stored_all(env) -> tuple[dict[tuple[str, int], Item], dict[int, dict[str, Any]]]:
    T = env["sale.credit.exposure_item"].__table__
    E = env["sale.credit.exposure"].__table__
    conn = env.session.connection()
    items = {(r.source, r.source_id): Item(r.customer_id, Decimal(r.receivable),
                                           Decimal(r.shipped_uninvoiced),
                                           Decimal(r.approved_unshipped), r.due_date)
             for r in conn.execute(select(T))}
    rows = {r.customer_id: {p: Decimal(getattr(r, p)) for p in PARTS}
            | {"oldest_due_date": r.oldest_due_date} for r in conn.execute(select(E))}
    return items, rows


def check_consistency(env) -> list[str]:
    """Differences between the maintained exposure and a rebuild from the documents (empty:
    none). Nothing is written."""
    apply_changes(env)
    want_items, want = compute_all(env)
    have_items, have = stored_all(env)
    out = []
    for key in sorted(set(want_items) | set(have_items)):
        w, h = want_items.get(key), have_items.get(key)
        if w is None or h is None or not w.same(h):
            out.append(f"item {key[0]} {key[1]}: stored {h} != computed {w}")
    zero = {p: ZERO for p in PARTS} | {"oldest_due_date": None}
    for cid in sorted(set(want) | set(have)):
        w, h = want.get(cid, zero), have.get(cid, zero)
        if w != h:
            out.append(f"customer {cid}: stored {h} != computed {w}")
    return out


def rebuild(env) -> dict[str, int]:
    """Recompute every item and exposure row from the documents (``salesflow credit
    rebuild-exposure``). Returns counts."""
    apply_changes(env)
    items, totals = compute_all(env)
    T = env["sale.credit.exposure_item"].__table__
    E = env["sale.credit.exposure"].__table__
    conn = env.session.connection()
    now = env.now
    conn.execute(T.delete())
    rows = [{"source": s, "source_id": sid, "customer_id": i.customer_id,
             "receivable": i.receivable, "shipped_uninvoiced": i.shipped_uninvoiced,
             "approved_unshipped": i.approved_unshipped, "due_date": i.due_date,
             "created_at": now, "updated_at": now, "version": 1}
            for (s, sid), i in items.items()]
    for start in range(0, len(rows), 1000):
        conn.execute(insert(T), rows[start:start + 1000])
    existing = set(conn.execute(select(E.c.customer_id)).scalars())
    for cid in sorted(existing - set(totals)):
        conn.execute(E.update().where(E.c.customer_id == cid).values(
            receivable=ZERO, shipped_uninvoiced=ZERO, approved_unshipped=ZERO,
            oldest_due_date=None, updated_at=now, version=E.c.version + 1))
    for cid, t in sorted(totals.items()):
        if cid not in existing:
            ensure_row(env, cid)
        conn.execute(E.update().where(E.c.customer_id == cid).values(
            **{p: t[p] for p in PARTS}, oldest_due_date=t["oldest_due_date"], updated_at=now,
            version=E.c.version + 1))
    return {"items": len(items), "customers": len(totals)}
