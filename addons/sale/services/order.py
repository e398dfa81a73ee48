"""Sale order services: create, edit (draft), copy, amend (approved), cancel.

Every function takes the request's ``Env`` and works within its transaction; access rights,
record rules, validation and the workflow apply as for the user. Input errors are
``ValidationError`` keyed by field (``lines.2.quantity``); nothing is written when one is raised.

Lines are given as dicts::

    {"product_id": 3, "quantity": "5", "unit_price": None, "discount": "0", "tax_id": None,
     "description": None}

``unit_price`` None: priced by the ``sale_line_price`` hook (default: the product's list
price). ``tax_id`` None: the product's tax; ``False``: no tax. ``description`` None: the product's
name. When editing, a dict with ``"id"`` of an existing line changes that line (keys left out keep
their values; its ledger stays); lines not listed are removed (refused once shipped or invoiced).

Performance: lines are built, priced and inserted in batches (products and taxes are read in one
SELECT each, lines inserted with one multi-row INSERT), so the number of SQL statements does not
grow with the number of lines.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value

from core.db import fits_int_column
from core.errors import ConflictError, NotFound, ValidationError
from core.money import PRICE_DIGITS, QTY_DIGITS, round_price
from core.workflow.engine import Outcome

from .. import queries
from ..models.order import ZERO, norm, reserve_ids

#: order fields ``update_order``/``amend_order`` may change (besides ``lines``)
ORDER_FIELDS = ("customer_id", "date_order", "validity_date", "payment_term_id", "note",
                "salesperson_id")
LINE_KEYS = ("id", "product_id", "quantity", "unit_price", "discount", "tax_id", "description")
NO_TAX = False
_QUANTA = {digits: Decimal(1).scaleb(-digits) for digits in (QTY_DIGITS, PRICE_DIGITS)}


# -- reading -----------------------------------------------------------------------------------


def get_order(env, order_id, *, lock: bool = False):
    """The order by id (record rules apply: hidden = ``NotFound``) with its lines loaded in one
    SELECT. ``lock``: lock its row until commit and re-read it and its lines."""
    if lock:
        order = env.lock(env.get("sale.order", order_id))
        order.load_lines(refresh=True)
        return order
    Order = env["sale.order"]
    try:
        ident = int(order_id)
    except (TypeError, ValueError):
        raise NotFound("sale.order", order_id) from None
    if not fits_int_column(ident):  # no order has it, and the database would overflow
        raise NotFound("sale.order", order_id)
    # the order and its lines in one SELECT (as env.get: access rights, record rules)
    stmt = queries.built(env, "sale.order.with_lines",
                         lambda env: select(Order).where(Order.id == bindparam("order_id"))
                         .options(joinedload(Order.lines)))
    order = env.session.scalars(stmt, {"order_id": ident}).unique().one_or_none()
    if order is None:
        raise NotFound("sale.order", ident)
    return order


def order_number(env, date_order: dt.date) -> str:
    """Next gap-free order number of the order date's year: ``SO/2026/000001``."""
    year = str(date_order.year)
    return f"SO/{year}/{env.next_number('sale.order', year):06d}"


# -- create ------------------------------------------------------------------------------------


def create_order(env, *, customer_id, lines, date_order=None, validity_date=None,
                 payment_term_id=None, note=None, salesperson_id=None):
    """A new draft order (a quotation) with its lines, totals computed and a number given.

    Defaults: ``date_order`` today; ``validity_date`` ``[addon.sale] quotation_validity_days``
    later (every order has one: it can be changed, never cleared);
    ``payment_term_id`` the customer's; ``salesperson_id`` the user's own salesperson, else the
    customer's; currency the customer's.
    """
    env.check_access("sale.order", "create")
    errors: dict[str, list[str]] = {}
    order = _new_order(env, errors, customer_id=customer_id, lines=lines, date_order=date_order,
                       validity_date=validity_date, payment_term_id=payment_term_id, note=note,
                       salesperson_id=salesperson_id)
    if errors:
        raise ValidationError(errors)
    order.number = order_number(env, order.date_order)
    env.session.add(order)
    env.session.flush()
    return order


def create_orders(env, specs: list[dict]) -> list:
    """Many new draft orders at once (an import, a batch of web-shop orders), all or none:
    each spec holds ``create_order``'s keyword arguments. A ``ValidationError`` names the
    spec's position first (``3.lines.0.quantity``). Customers, terms, salespersons, products
    and taxes are read in one SELECT each, the numbers taken in one block per year, and every
    order with its lines inserted by one flush."""
    env.check_access("sale.order", "create")
    if not isinstance(specs, list) or not all(isinstance(spec, dict) for spec in specs):
        raise ValidationError({"orders": ["expected a list of orders"]})
    known = {record: env.get_many(record, {spec.get(key) for spec in specs
                                           if isinstance(spec.get(key), (int, str))
                                           and not isinstance(spec.get(key), bool)})
             for record, key in (("sale.customer", "customer_id"),
                                 ("sale.payment_term", "payment_term_id"),
                                 ("sale.salesperson", "salesperson_id"))}
    _prefetch_products(env, [line.get("product_id") for spec in specs
                             if isinstance(spec.get("lines"), list)
                             for line in spec["lines"] if isinstance(line, dict)])
    # all or nothing (numbers and rows), and the savepoint opens before any order is added:
    # opening it flushes, and the orders are numbered before their one flush
    with env.atomic():
        return _create_orders(env, specs, known)


def _create_orders(env, specs: list[dict], known: dict) -> list:
    errors: dict[str, list[str]] = {}
    with env.session.no_autoflush:
        orders = _new_orders(env, specs, known, errors)
    if errors:
        raise ValidationError(errors)  # the savepoint's rollback takes the orders out again
    by_year: dict[str, list] = {}
    for order in orders:
        by_year.setdefault(str(order.date_order.year), []).append(order)
    for year, group in by_year.items():
        numbers = env.next_numbers("sale.order", year, len(group))
        for order, number in zip(group, numbers, strict=True):
            order.number = f"SO/{year}/{number:06d}"
    env.session.flush()
    return orders


_ORDER_KEYS = frozenset({"customer_id", "lines", "date_order", "validity_date", "payment_term_id",
                         "note", "salesperson_id"})


def _new_orders(env, specs: list[dict], known: dict, errors: dict) -> list:
    own = _UNKNOWN
    orders = []
    for i, spec in enumerate(specs):
        found: dict[str, list[str]] = {}
        for unknown in sorted(set(spec) - _ORDER_KEYS):
            found.setdefault(unknown, []).append("unknown field")
        if own is _UNKNOWN and not spec.get("salesperson_id"):
            own = _own_salesperson_id(env)
        order = _new_order(env, found, known=known, own_salesperson=own,
                           **{k: v for k, v in spec.items() if k in _ORDER_KEYS})
        errors.update((f"{i}.{key}", messages) for key, messages in found.items())
        orders.append(order)
    return orders


_UNKNOWN = object()


def _new_order(env, errors: dict, *, customer_id=None, lines=None, date_order=None, validity_date=None,
               payment_term_id=None, note=None, salesperson_id=None, known=None,
               own_salesperson=_UNKNOWN):
    """A checked draft order with its lines and totals, not numbered nor added to the session
    (None when ``errors`` were found). ``known``: records read beforehand, by record and id."""
    known = known or {}
    Order = env["sale.order"]
    customer = _ref(env, "sale.customer", customer_id, "customer_id", errors, required=True,
                    known=known.get("sale.customer"))
    date_order = _date(date_order, "date_order", errors) or env.today()
    validity = _date(validity_date, "validity_date", errors)
    if validity is None and "validity_date" not in errors:
        try:
            validity = date_order + dt.timedelta(days=env.settings("sale")["quotation_validity_days"])
        except OverflowError:  # 9999-12-31 plus the validity days: a refusal, not a 500
            errors.setdefault("date_order", []).append("too late: no validity date after it")
    term = _ref(env, "sale.payment_term", payment_term_id, "payment_term_id", errors,
                known=known.get("sale.payment_term"))
    salesperson = _ref(env, "sale.salesperson", salesperson_id, "salesperson_id", errors,
                       known=known.get("sale.salesperson"))
    if note is not None and not isinstance(note, str):
        errors.setdefault("note", []).append("expected a text")
    if errors:
        return None
    if salesperson is None:
        # the customer's salesperson owns the order (record rules follow it); a customer
        # with none gets the user's own salesperson, if any
        salesperson_id = customer.salesperson_id
        if salesperson_id is None:
            salesperson_id = (_own_salesperson_id(env) if own_salesperson is _UNKNOWN
                              else own_salesperson)
    order = Order(
        customer=customer, customer_id=customer.id, salesperson_id=salesperson_id,
        date_order=date_order, validity_date=validity, currency=customer.currency or "CNY",
        payment_term_id=term.id if term is not None else customer.payment_term_id,
        note=note, revision=0,
    )
    if not isinstance(lines, list) or not lines:
        errors["lines"] = ["an order needs at least one line"]
        return None
    plan = _plan_lines(env, order, lines, errors, existing={})
    if errors:
        return None
    # a new order and its new lines are inserted by the kernel at the flush, ids included
    order.lines = _apply_lines(env, plan, reserve=False)
    with env.session.no_autoflush:  # not flushed before the caller numbers it
        env.session.add(order)
        order.compute_amounts()
    return order


# -- edit (draft) ------------------------------------------------------------------------------


def update_order(env, order, **changes):
    """Change a draft order: any of ``ORDER_FIELDS`` and ``lines`` (the full new list, see the
    module docstring). Totals are recomputed; approvals given so far no longer match."""
    if order.state != "draft":
        raise ConflictError(f"order {order.number} is {order.state}: only a draft can be changed "
                            "(amend an approved order)")
    env.check_access("sale.order", "write")
    _apply_plan(env, order, _plan_changes(env, order, changes))
    if order.revision:  # an amended order: its kept revision's diff follows the draft
        _refresh_amendment_diff(env, order)
    return order


def _check_change_keys(changes: dict[str, Any]) -> None:
    unknown = sorted(set(changes) - set(ORDER_FIELDS) - {"lines"})
    if unknown:
        raise ValidationError({key: [f"cannot be changed; changeable: "
                                     f"{', '.join((*ORDER_FIELDS, 'lines'))}"] for key in unknown})


def _plan_changes(env, order, changes: dict[str, Any]) -> dict[str, Any]:
    """Check ``changes`` completely without touching the order: ``ValidationError`` or a plan
    for ``_apply_plan``."""
    _check_change_keys(changes)
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    order.load_lines()
    customer = None
    if "customer_id" in changes:
        customer = _ref(env, "sale.customer", changes["customer_id"], "customer_id", errors,
                        required=True)
        if customer is not None and customer.id != order.customer_id:
            if any((ln.qty_shipped or ZERO) > 0 or (ln.qty_invoiced or ZERO) > 0 for ln in order.lines):
                errors.setdefault("customer_id", []).append(
                    "goods were already shipped or invoiced to this customer")
            if customer.currency and customer.currency != order.currency:
                # the prices are in the order's currency: relabelling them would change what
                # they mean (CNY 100.00 as USD 100.00)
                errors.setdefault("customer_id", []).append(
                    f"customer {customer.code} buys in {customer.currency}, this order is in "
                    f"{order.currency}; make a new order for them")
            values.update(customer_id=customer.id, currency=customer.currency or order.currency)
            if "payment_term_id" not in changes:
                values["payment_term_id"] = customer.payment_term_id
        else:
            customer = None
    for key in ("date_order", "validity_date"):
        if key in changes:
            value = _date(changes[key], key, errors)
            if value is None and key not in errors:  # every order has both
                errors[key] = ["required"]
            values[key] = value
    # checked here, not at the flush: an amendment has fired `amend` by then
    date_order = values.get("date_order", order.date_order)
    validity = values.get("validity_date", order.validity_date)
    if (date_order and validity and validity < date_order
            and not {"date_order", "validity_date"} & set(errors)):
        errors["validity_date"] = ["must not be before the order date"]
    if "payment_term_id" in changes:
        term = _ref(env, "sale.payment_term", changes["payment_term_id"], "payment_term_id", errors)
        values["payment_term_id"] = term.id if term is not None else None
    if "salesperson_id" in changes:
        # required once given: an order with none would pass to whoever gets its customer next
        person = _ref(env, "sale.salesperson", changes["salesperson_id"], "salesperson_id", errors,
                      required=order.salesperson_id is not None)
        values["salesperson_id"] = person.id if person is not None else None
    if "note" in changes:
        values["note"] = changes["note"]
    lines = None
    if "lines" in changes:
        if not isinstance(changes["lines"], list) or not changes["lines"]:
            errors["lines"] = ["an order needs at least one line"]
        else:
            lines = _plan_lines(env, order, changes["lines"], errors,
                                existing={ln.id: ln for ln in order.lines})
    if errors:
        raise ValidationError(errors)
    return {"values": values, "customer": customer, "lines": lines}


def _apply_plan(env, order, plan: dict[str, Any]) -> None:
    for key, value in plan["values"].items():
        _set(order, key, value)
    if plan["customer"] is not None:
        order.customer = plan["customer"]
    if plan["lines"] is not None:
        before = list(order.lines)
        order.lines = _apply_lines(env, plan["lines"])
        # the order's version is its ETag: a line added, removed or changed moves it even when
        # the totals (the order's own row) stay the same, so a stale If-Match gets a 412
        if order.lines != before or any(env.session.is_modified(ln) for ln in order.lines):
            order.updated_at = env.now
    order.compute_amounts()
    env.session.flush()
    order.refresh_progress()


# -- copy --------------------------------------------------------------------------------------


def copy_order(env, order):
    """A new draft (quotation) with the same customer, terms and lines at the same prices (in
    the same currency); new number and dates, empty ledger, and no approvals (they belong to
    the original)."""
    lines = [
        {"product_id": ln.product_id, "quantity": ln.quantity, "unit_price": ln.unit_price,
         "discount": ln.discount or ZERO, "tax_id": ln.tax_id if ln.tax_id is not None else NO_TAX,
         "description": ln.description}
        for ln in order.load_lines()
    ]
    new = create_order(env, customer_id=order.customer_id, lines=lines,
                       payment_term_id=order.payment_term_id, note=order.note,
                       salesperson_id=order.salesperson_id)
    new.copied_from_id = order.id
    if new.currency != order.currency:
        # the prices copied are in the original's currency: the customer's currency may have
        # changed since, and the copy must not relabel them (CNY 226.00 as USD 226.00)
        new.currency = order.currency
        new.compute_amounts()
    env.session.flush()
    return new


# -- amend (approved) --------------------------------------------------------------------------


def amend_order(env, order, *, reason, changes):
    """Change an approved order: it goes back to draft by the ``amend`` trigger (sellers, with
    ``reason`` as comment) as revision + 1, ``changes`` (as for ``update_order``) are applied, and
    the previous revision is kept in ``sale.order.revision`` with a readable diff. Approvals
    given before no longer match (the fingerprint includes the revision): the order must be
    approved again, through every guard.

    The amended draft may be edited further (``update_order``: the API's PATCH, the web form,
    the ``amend`` trigger with no changes followed by edits): each edit refreshes the kept
    revision's diff, so it is always the difference between the previous revision and the
    order as it stands, and thus as it is approved again (the diff is frozen then, see
    ``sale.order.revision``)."""
    plan = _plan_changes(env, order, dict(changes or {}))  # refused here: nothing changed
    before = order.snapshot()
    # all or nothing: a refusal at the flush (another addon's validation) must not leave the
    # order back in draft as a new revision with no revision kept
    with env.atomic():
        order.fire("amend", comment=reason)
        _apply_plan(env, order, plan)
        after = order.snapshot()
        with env.sudo():
            env.session.add(env["sale.order.revision"](
                order_id=order.id, revision=before["revision"], snapshot=before,
                diff=diff_snapshots(before, after), reason=(reason or "").strip() or None,
                user_id=env.user_id,
            ))
            env.session.flush()
    return order


def _refresh_amendment_diff(env, order) -> None:
    """After an edit of an amended draft (revision R + 1): the diff of revision R, kept by
    ``amend_order``, becomes the difference between R and the draft as it now is."""
    Revision = env["sale.order.revision"]
    with env.sudo():
        kept = env.session.scalars(select(Revision).where(
            Revision.order_id == order.id, Revision.revision == order.revision - 1)).one_or_none()
        if kept is None:  # pragma: no cover - every amendment keeps one
            return
        diff = diff_snapshots(kept.snapshot, order.snapshot())
        if diff != kept.diff:
            kept.diff = diff
            env.session.flush()


_HEADER = (("customer", "customer"), ("payment_term", "payment term"),
           ("salesperson_id", "salesperson"), ("date_order", "order date"),
           ("validity_date", "validity date"), ("currency", "currency"), ("note", "note"))
_LINE = (("product_id", "product"), ("description", "description"), ("quantity", "quantity"),
         ("unit_price", "unit price"), ("discount", "discount %"), ("tax", "tax"))
_TOTALS = (("amount_untaxed", "untaxed amount"), ("amount_tax", "tax"), ("amount_total", "total"))


def diff_snapshots(before: dict, after: dict) -> list[dict]:
    """What changed between two ``order.snapshot()``s, as entries with a readable ``text``."""
    out: list[dict] = []
    for key, label in _HEADER:
        id_key = f"{key}_id" if f"{key}_id" in before else key
        if before.get(id_key) != after.get(id_key) or before.get(key) != after.get(key):
            out.append({"kind": "order", "field": key, "old": before.get(key), "new": after.get(key),
                        "text": f"{label}: {_show(before.get(key))} → {_show(after.get(key))}"})
    old_lines = {ln["id"]: ln for ln in before["lines"]}
    new_ids = {ln["id"] for ln in after["lines"]}
    for ln in after["lines"]:
        name = f"line {ln['sequence']} {ln['description']!r}"
        old = old_lines.get(ln["id"])
        if old is None:
            out.append({"kind": "line_added", "line_id": ln["id"], "line": ln,
                        "text": f"added {name}: {ln['quantity']} × {ln['unit_price']}"
                                + (f" less {ln['discount']} %" if ln["discount"] != "0" else "")})
            continue
        for key, label in _LINE:
            if old.get(key) != ln.get(key):
                out.append({"kind": "line", "line_id": ln["id"], "sequence": ln["sequence"],
                            "description": ln["description"], "field": key, "old": old.get(key),
                            "new": ln.get(key),
                            "text": f"{name}: {label} {_show(old.get(key))} → {_show(ln.get(key))}"})
    for ln in before["lines"]:
        if ln["id"] not in new_ids:
            out.append({"kind": "line_removed", "line_id": ln["id"], "line": ln,
                        "text": f"removed line {ln['sequence']} {ln['description']!r}: "
                                f"{ln['quantity']} × {ln['unit_price']}"})
    for key, label in _TOTALS:
        if before[key] != after[key]:
            out.append({"kind": "total", "field": key, "old": before[key], "new": after[key],
                        "text": f"{label}: {_show(before[key])} → {_show(after[key])}"})
    return out


def _show(value) -> str:
    return "(none)" if value is None or value == "" else str(value)


# -- cancel ------------------------------------------------------------------------------------


def cancel_order(env, order, reason):
    """Cancel a draft or approved order with nothing shipped; ``reason`` is required (it is the
    transition's comment and is kept in ``cancel_reason``). Returns the ``Outcome``."""
    order.load_lines()
    outcome = order.fire("cancel", comment=reason)
    with env.sudo():
        order.cancel_reason = reason.strip()
        env.session.flush()
    return outcome


# -- firing any trigger ------------------------------------------------------------------------


def fire_order_trigger(env, order, trigger: str, comment: str | None = None):
    """Fire ``trigger`` the way the UI and API do: ``cancel`` and ``amend`` go through their
    services (reason kept, revision recorded); anything else through the workflow. Returns the
    ``Outcome``; raises ``TransitionBlocked`` with every reason when refused."""
    order.load_lines()
    if trigger == "cancel":
        return cancel_order(env, order, comment)
    if trigger == "amend":
        source = order.state
        amend_order(env, order, reason=comment, changes={})
        return Outcome("amend", source, order.state, True)
    return order.fire(trigger, comment=comment)


def approve_orders(env, orders) -> list[Outcome]:
    """Approve many orders at once (the list's "approve" action): each is checked as alone,
    after the ones before it (a credit limit shared by two of them is not passed twice), and
    either all move or none does: ``TransitionBlocked`` names every order refused and why.
    An order that still needs an approval level gets it recorded (``done`` False)."""
    return env.fire_many(list(orders), "approve")


# -- input parsing -----------------------------------------------------------------------------


def _own_salesperson_id(env) -> int | None:
    if env.user_id is None:
        return None
    stmt = queries.built(env, "sale.salesperson.of_user", _own_salesperson_statement)
    with env.sudo():
        return queries.execute(env, stmt, {"user_id": env.user_id}).scalar()


def _own_salesperson_statement(env):
    Salesperson = env["sale.salesperson"]
    return select(Salesperson.id).where(Salesperson.user_id == bindparam("user_id"))


def _ref(env, record: str, ident, key: str, errors: dict, *, required: bool = False,
         known: dict | None = None):
    """The record ``ident`` names (``known``: read beforehand by ``env.get_many``)."""
    if ident is None or ident == "":
        if required:
            errors.setdefault(key, []).append("required")
        return None
    number = _int(ident, key, errors)
    if number is None:
        return None
    if known is not None:
        if number not in known:
            errors.setdefault(key, []).append(f"no {record} {number}")
        return known.get(number)
    try:
        return env.get(record, number)
    except NotFound:
        errors.setdefault(key, []).append(f"no {record} {number}")
        return None


def _int(value, key: str, errors: dict) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        errors.setdefault(key, []).append("expected a whole number")
        return None
    try:
        number = int(value)
    except ValueError:
        errors.setdefault(key, []).append("expected a whole number")
        return None
    if not fits_int_column(number):  # would overflow in the statement
        errors.setdefault(key, []).append("out of range")
        return None
    return number


def _date(value, key: str, errors: dict) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    errors.setdefault(key, []).append("expected a date (YYYY-MM-DD)")
    return None


def _decimal(value, key: str, errors: dict, *, digits: int) -> Decimal | None:
    if isinstance(value, float):
        errors.setdefault(key, []).append("floats are not accepted; pass a string or a Decimal")
        return None
    if isinstance(value, bool):
        errors.setdefault(key, []).append("not a number")
        return None
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        errors.setdefault(key, []).append(f"{value!r} is not a number")
        return None
    if not number.is_finite():
        errors.setdefault(key, []).append("must be a finite number")
        return None
    try:
        exact = number == number.quantize(_QUANTA[digits])
    except InvalidOperation:  # too many digits for any column
        exact = False
    if not exact:
        errors.setdefault(key, []).append(f"at most {digits} decimals")
        return None
    return number


def _plan_lines(env, order, specs: list, errors: dict, *, existing: dict[int, Any]) -> list:
    """Check line dicts completely and return the plan of the order's new list of lines:
    ``(line, values)`` pairs, existing lines (by ``id``) with the values to change, new lines
    built (not yet in the session) and priced. Nothing of the order changes here. Products and
    taxes are read in one SELECT each."""
    Line, Tax = env["sale.line"], env["sale.tax"]
    parsed = []
    for i, spec in enumerate(specs):
        key = f"lines.{i}"
        if not isinstance(spec, dict):
            errors.setdefault(key, []).append("expected an object")
            continue
        for unknown in sorted(set(spec) - set(LINE_KEYS)):
            errors.setdefault(f"{key}.{unknown}", []).append("unknown field")
        current = None
        if spec.get("id") is not None:
            line_id = _int(spec["id"], f"{key}.id", errors)
            current = existing.get(line_id)
            if current is None:
                if line_id is not None:
                    errors.setdefault(f"{key}.id", []).append("not a line of this order")
                continue
        item: dict[str, Any] = {"key": key, "current": current, "spec": spec}
        if current is not None and "product_id" not in spec:
            item["product_id"] = current.product_id
        elif spec.get("product_id") is None:
            errors.setdefault(f"{key}.product_id", []).append("required")
        else:
            item["product_id"] = _int(spec["product_id"], f"{key}.product_id", errors)
        if current is not None and "quantity" not in spec:
            item["quantity"] = current.quantity
        elif spec.get("quantity") is None:
            errors.setdefault(f"{key}.quantity", []).append("required")
        else:
            qty = _decimal(spec["quantity"], f"{key}.quantity", errors, digits=QTY_DIGITS)
            if qty is not None and qty <= 0:
                errors.setdefault(f"{key}.quantity", []).append("must be positive")
            item["quantity"] = qty
        if spec.get("unit_price") is not None:
            price = _decimal(spec["unit_price"], f"{key}.unit_price", errors, digits=PRICE_DIGITS)
            if price is not None and price < 0:
                errors.setdefault(f"{key}.unit_price", []).append("must not be negative")
            item["unit_price"] = price
        if spec.get("discount") not in (None, ""):
            discount = _decimal(spec["discount"], f"{key}.discount", errors, digits=PRICE_DIGITS)
            if discount is not None and not (ZERO <= discount <= 100):
                errors.setdefault(f"{key}.discount", []).append("must be between 0 and 100")
            item["discount"] = discount
        tax_id = spec.get("tax_id")
        if tax_id is NO_TAX:
            item["tax_id"] = NO_TAX
        elif tax_id is not None:
            item["tax_id"] = _int(tax_id, f"{key}.tax_id", errors)
        description = spec.get("description")
        if description is not None and (not isinstance(description, str) or len(description) > 300):
            errors.setdefault(f"{key}.description", []).append("a text of at most 300 characters")
        parsed.append(item)

    product_ids = {item["product_id"] for item in parsed if item.get("product_id") is not None}
    # the taxes read are kept for the transaction: order.compute_amounts() finds them in the
    # session instead of reading them again
    taxes = env.tx_cache("sale.taxes_read")
    read = env.tx_cache("sale.products_read")
    products: dict[int, Any] = {i: read[i] for i in product_ids if i in read}
    if product_ids - set(products):  # the products with their taxes: one SELECT
        products.update(_prefetch_products(env, product_ids - set(products)))
    tax_ids = {item["tax_id"] for item in parsed
               if item.get("tax_id") is not None and item["tax_id"] is not NO_TAX}
    tax_ids |= {p.tax_id for p in products.values() if p.tax_id is not None}
    tax_ids |= {ln.tax_id for ln in existing.values() if ln.tax_id is not None}
    missing = tax_ids - set(taxes)
    if missing:
        taxes.update((t.id, t) for t in env.session.scalars(select(Tax).where(Tax.id.in_(missing))))

    plan = []
    kept: set[int] = set()
    for position, item in enumerate(parsed):
        key, current, spec = item["key"], item["current"], item["spec"]
        product = products.get(item.get("product_id"))
        if product is None:
            if item.get("product_id") is not None:
                errors.setdefault(f"{key}.product_id", []).append(f"no product {item['product_id']}")
            continue
        if current is not None:
            if id(current) in kept:
                errors.setdefault(f"{key}.id", []).append("listed twice")
                continue
            kept.add(id(current))
        product_changed = current is None or current.product_id != product.id
        if product_changed and not product.active:
            errors.setdefault(f"{key}.product_id", []).append(f"product {product.sku} is archived")
        if current is not None:
            done = max(current.qty_shipped or ZERO, current.qty_invoiced or ZERO)
            if product_changed and done > 0:
                errors.setdefault(f"{key}.product_id", []).append(
                    "cannot change once shipped or invoiced")
            qty = item.get("quantity")
            if qty is not None and qty < done:
                errors.setdefault(f"{key}.quantity", []).append(
                    f"{norm(done)} are already shipped or invoiced")
        if "tax_id" in item:
            tax_id = item["tax_id"]
        elif current is not None and not product_changed:
            tax_id = current.tax_id
        else:
            tax_id = product.tax_id
        tax = None
        if tax_id is not NO_TAX and tax_id is not None:
            tax = taxes.get(tax_id)
            if tax is None:
                errors.setdefault(f"{key}.tax_id", []).append(f"no tax {tax_id}")
                continue
        values: dict[str, Any] = {"sequence": 10 * (position + 1), "product_id": product.id,
                                  "quantity": item["quantity"], "tax_id": tax.id if tax else None}
        if "discount" in item:
            values["discount"] = item["discount"]
        elif current is None:
            values["discount"] = ZERO
        if spec.get("description"):
            values["description"] = spec["description"]
        elif product_changed:
            values["description"] = product.name
        line = Line(**values) if current is None else None
        if item.get("unit_price") is not None:
            values["unit_price"] = item["unit_price"]
            if line is not None:
                line.unit_price = item["unit_price"]
        elif product_changed:
            # the hook sees an unsaved line with its product and tax. A new line is its own
            # probe: product and tax are set as loaded values, which the flush ignores (set as
            # changes, relationships on 1,000 new lines cost it dearly); it carries their ids
            if line is not None:
                probe = line
                set_committed_value(probe, "product", product)
                set_committed_value(probe, "tax", tax)
            else:
                probe = Line(product=product, tax=tax, quantity=item["quantity"],
                             discount=values.get("discount", current.discount),
                             description=values.get("description"), sequence=values["sequence"])
            price = env.hook.sale_line_price(line=probe, order=order, env=env)
            if price is None:
                errors.setdefault(f"{key}.unit_price", []).append(
                    f"no price for product {product.sku}; give a unit price")
                continue
            values["unit_price"] = round_price(Decimal(price))
            if line is not None:
                line.unit_price = values["unit_price"]
        if line is not None:
            plan.append((line, None))
        else:
            values["_refs"] = (product if product_changed else None, tax)
            plan.append((current, values))
    for old in existing.values():
        if id(old) not in kept and ((old.qty_shipped or ZERO) > 0 or (old.qty_invoiced or ZERO) > 0):
            errors.setdefault("lines", []).append(
                f"line {old.sequence} {old.description!r} was shipped or invoiced and cannot be "
                "removed")
    return plan


def _prefetch_products(env, idents) -> dict[int, Any]:
    """Read products with their taxes in one SELECT (as the user) and keep them for the
    transaction (``create_orders`` reads every order's products at once)."""
    wanted = {i for i in idents if isinstance(i, int) and not isinstance(i, bool)}
    read = env.tx_cache("sale.products_read")
    taxes = env.tx_cache("sale.taxes_read")
    found = {}
    if wanted:
        stmt = queries.built(env, "sale.product.with_tax", _products_statement)
        for product, tax in env.session.execute(stmt, {"ids": list(wanted)}):
            found[product.id] = read[product.id] = product
            if tax is not None:
                taxes[tax.id] = tax
    return found


def _products_statement(env):
    Product, Tax = env["sale.product"], env["sale.tax"]
    return (select(Product, Tax).outerjoin(Tax, Tax.id == Product.tax_id)
            .where(Product.id.in_(bindparam("ids", expanding=True))))


def _apply_lines(env, plan: list, *, reserve: bool = True) -> list:
    """Carry out a ``_plan_lines`` plan; returns the order's new list of lines (``reserve``:
    their ids now, for the lines the ORM inserts into an existing order)."""
    if reserve:
        reserve_ids(env, [line for line, values in plan if values is None])
    lines = []
    for line, values in plan:
        if values is None:  # a new line, built by the plan
            lines.append(line)
            continue
        refs = values.pop("_refs", None)
        for name, value in values.items():
            _set(line, name, value)
        if refs is not None:
            product, tax = refs
            if product is not None:
                line.product = product
            if line.tax is not tax:
                line.tax = tax
        lines.append(line)
    return lines


def _set(obj, key: str, value) -> None:
    if getattr(obj, key) != value:
        setattr(obj, key, value)


__all__ = ["create_order", "create_orders", "approve_orders", "update_order", "copy_order", "amend_order", "cancel_order",
           "fire_order_trigger", "get_order", "diff_snapshots"]
