"""Shipments in ``sale``: record shipped quantities per order line (partial allowed), and
returns of goods.

``record_shipment`` is the only writer of ``qty_shipped``: it checks the quantities (no
over-shipping, field-named errors, nothing written when refused), asks the
``sale_shipment_blockers`` hook, records a ``sale.shipment`` with its lines, adds the quantities to
the line ledger in one batched UPDATE, and fires ``ship`` on the order once every line is fully
shipped (so the ``ship`` guards of other addons, e.g. a credit check, apply to the last
shipment; a refusal rolls the whole shipment back). ``sale_logistics`` replaces this with
delivery orders.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from core.errors import TransitionBlocked, ValidationError
from core.money import QTY_DIGITS

from ..locks import lock_row
from ..models.order import FULL, ZERO, norm
from .invoice import distinct, move_order_on
from .order import _date, _decimal


def record_shipment(env, order, quantities=None, date=None, reference=None, note=None):
    """Record a shipment of ``quantities`` ({sale_line_id: qty}; None = everything remaining)
    of an approved ``order``; the warehouse's job. Returns the ``sale.shipment``."""
    env.check_access("sale.shipment", "create")
    lines = _lock(env, order)
    if order.state != "approved":
        raise TransitionBlocked(order, "ship", [
            f"only an approved order can be shipped (order {order.number} is {order.state})"])
    errors: dict[str, list[str]] = {}
    wanted = _quantities(order, lines, quantities, errors)
    ship_date = _date(date, "date", errors) or env.today()
    if reference is not None and (not isinstance(reference, str) or len(reference) > 64):
        errors.setdefault("reference", []).append("a text of at most 64 characters")
    if errors:
        raise ValidationError(errors)
    reasons: list[str] = []
    for answer in env.hook.sale_shipment_blockers(order=order, quantities=dict(wanted), env=env):
        reasons.extend(r for r in answer or [] if r not in reasons)
    if reasons:
        raise TransitionBlocked(order, "ship", reasons)

    # all or nothing, even for a caller that catches a refusal of `ship` and commits
    with env.atomic():
        shipment = _write(env, order, "delivery", wanted, ship_date, reference, note)
        # the order itself is written once: by the `ship` transition (its `before` action
        # stores the statuses) when everything is shipped, else by refresh_progress
        order.ledger_add("qty_shipped", wanted, refresh=False)
        if order.ledger_statuses()[0] != FULL:
            order.refresh_progress(touch=True)
        else:
            order.fire("ship")
    return shipment


def record_shipments(env, orders, date=None, reference=None):
    """Ship everything that remains of each approved order (the warehouse's "ship selected"
    action), all or nothing: every order is checked (state, ``sale_shipment_blockers``) before
    anything is written, and a refusal names each order refused. Then one shipment per order,
    their lines, the ledgers (one UPDATE for all) and ``ship`` fired on all the orders together
    (``fire_many``). Returns the shipments, in the orders' order."""
    env.check_access("sale.shipment", "create")
    orders = distinct(orders)
    if not orders:
        return []
    _lock_many(env, orders)
    errors: dict[str, list[str]] = {}
    ship_date = _date(date, "date", errors) or env.today()
    if reference is not None and (not isinstance(reference, str) or len(reference) > 64):
        errors.setdefault("reference", []).append("a text of at most 64 characters")
    refused: dict[int, list[str]] = {}
    plans = []
    # what the checks of `ship` read, and the rows they lock (in a fixed order: two batches
    # naming the same customers in another order must not deadlock)
    env.hook.workflow_prefetch(records=orders, trigger="ship", env=env)
    for i, order in enumerate(orders):
        if order.state != "approved":
            refused[i] = [f"only an approved order can be shipped (it is {order.state})"]
            continue
        found: dict[str, list[str]] = {}
        wanted = _quantities(order, order.lines, None, found)
        if found:
            errors.update((f"{i}.{key}", messages) for key, messages in found.items())
            continue
        reasons: list[str] = []
        for answer in env.hook.sale_shipment_blockers(order=order, quantities=dict(wanted), env=env):
            reasons.extend(r for r in answer or [] if r not in reasons)
        if reasons:
            refused[i] = reasons
            continue
        plans.append((order, wanted))
    if errors:
        raise ValidationError(errors)
    if refused:
        raise TransitionBlocked.many(orders, "ship", refused)
    with env.atomic():  # a refusal of `ship` itself leaves nothing behind either
        shipments = _write_many(env, "delivery", plans, ship_date, reference, None)
        type(orders[0]).ledger_add_many(env, "qty_shipped", plans, refresh=False)
        env.fire_many([order for order, _wanted in plans], "ship")
    return shipments


def record_return(env, order, quantities, date=None, reference=None, note=None):
    """Record goods that came back: ``quantities`` ({sale_line_id: qty}, at most what was
    shipped and not returned yet) are added to the lines' ``qty_returned`` (the warehouse's job,
    like shipping). The state does not change: the order stays shipped (``shipping_status``
    counts what left), what is left to invoice shrinks (``qty_to_invoice``), and a credit note
    may then take invoiced quantities back. Returns the ``sale.shipment`` of kind "return"."""
    env.check_access("sale.shipment", "create")
    lines = _lock(env, order)
    if order.state in ("draft", "cancelled"):
        raise TransitionBlocked(order, "return", [
            f"nothing was shipped on order {order.number} ({order.state})"])
    errors: dict[str, list[str]] = {}
    back = {ln.id: (ln.qty_shipped or ZERO) - (ln.qty_returned or ZERO) for ln in lines}
    wanted = _quantities(order, lines, quantities, errors, limits=back, what="to take back")
    ship_date = _date(date, "date", errors) or env.today()
    if errors:
        raise ValidationError(errors)
    with env.atomic():  # all or nothing, as a shipment
        shipment = _write(env, order, "return", wanted, ship_date, reference, note)
        order.ledger_add("qty_returned", wanted, refresh=False)
        # goods back shrink what is left to invoice: when that leaves nothing to invoice (or
        # to pay), the order moves on as an invoice would have moved it (by the system: the
        # warehouse user holds no finance role)
        with env.as_system():
            move_order_on(env, order, touch=True)
    return shipment


def _write(env, order, kind, wanted, date, reference, note):
    return _write_many(env, kind, [(order, wanted)], date, reference, note)[0]


def _write_many(env, kind, plans, date, reference, note) -> list:
    """The shipments of ``plans`` (``(order, {sale_line_id: qty})``) through the session
    (access, validation, audit: one flush) and all their lines with one executemany, whatever
    their number (the quantities were checked positive by the caller; the right to create
    lines is checked here), as invoices and their lines are written."""
    Shipment = env["sale.shipment"]
    env.check_access("sale.shipment.line", "create")
    shipments = [Shipment(order_id=order.id, kind=kind, date=date, reference=reference, note=note,
                          user_id=env.user_id) for order, _wanted in plans]
    env.session.add_all(shipments)
    env.session.flush()
    now = env.now
    env.insert_rows("sale.shipment.line", [
        {"shipment_id": shipment.id, "sale_line_id": line_id, "quantity": qty, "version": 1,
         "created_at": now, "updated_at": now}
        for shipment, (_order, wanted) in zip(shipments, plans, strict=True)
        for line_id, qty in wanted.items()])
    for shipment, (order, _wanted) in zip(shipments, plans, strict=True):
        env.session.expire(shipment, ["lines"])
        env.hook.sale_customer_balance_changed(customer_id=order.customer_id, reason=kind,
                                               record=shipment, env=env)
    return shipments


def _lock(env, order) -> list:
    """Lock the order's row until commit and return its lines as committed. Every ledger change
    bumps the order's version, so lines loaded with the version still current are reused."""
    from sqlalchemy import inspect

    loaded = "lines" in inspect(order).dict
    version = order.version
    lock_row(env, order)  # SELECT .. FOR UPDATE, re-read (unless it cannot find anything new)
    return order.load_lines(refresh=not loaded or order.version != version)


def _lock_many(env, orders) -> None:
    """Lock the orders' rows (PostgreSQL, in id order; SQLite's write transaction is the lock)
    and read their lines as committed, in one SELECT each."""
    from .. import locks

    Order = type(orders[0])
    if not locks.sqlite_write(env):
        locks.lock_rows(env, "sale.order", Order.id.in_([o.id for o in orders]), order_by=[Order.id])
    Order.prefetch(env, orders, refresh=True)


def _quantities(order, lines, quantities, errors, *, limits=None,
                what="to ship") -> dict[int, Decimal]:
    """{sale_line_id: qty} in line order, checked against what is left to ship (or against
    ``limits`` {line id: most allowed})."""
    if quantities is None and limits is None:
        wanted = {ln.id: ln.qty_to_ship for ln in lines if ln.qty_to_ship > 0}
        if not wanted:
            errors.setdefault("quantities", []).append("nothing is left to ship")
        return wanted
    if not isinstance(quantities, Mapping) or not quantities:
        errors.setdefault("quantities", []).append(
            "expected {sale_line_id: quantity} with at least one line")
        return {}
    by_id = {ln.id: ln for ln in lines}
    given: dict[int, Decimal] = {}
    for raw_id, raw_qty in quantities.items():
        key = f"quantities.{raw_id}"
        try:
            line_id = int(raw_id)
        except (TypeError, ValueError):
            errors.setdefault(key, []).append("not a line id")
            continue
        line = by_id.get(line_id)
        if line is None:
            errors.setdefault(key, []).append(f"not a line of order {order.number}")
            continue
        qty = _decimal(raw_qty, key, errors, digits=QTY_DIGITS)
        if qty is None:
            continue
        if qty < 0:
            errors.setdefault(key, []).append("must not be negative")
            continue
        if line_id in given:
            errors.setdefault(key, []).append("given twice")
            continue
        limit = line.qty_to_ship if limits is None else limits[line.id]
        if qty > limit:
            errors.setdefault(key, []).append(
                f"only {norm(limit)} left {what} on line {line.sequence} "
                f"{line.description!r} ({norm(line.qty_shipped or ZERO)} of {norm(line.quantity)} "
                f"shipped); {norm(qty)} is too many")
            continue
        if qty > 0:
            given[line_id] = qty
    if not given and not errors:
        errors.setdefault("quantities", []).append(f"nothing {what}: every quantity is 0")
    return {ln.id: given[ln.id] for ln in lines if ln.id in given}
