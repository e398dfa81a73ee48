"""Batch services of sale: many orders in one transaction, all or nothing (create_orders,
approve_orders, record_shipments, invoice_orders, post_invoices, register_payments).

What a batch must show: the same figures as doing each order alone, numbers consecutive and
gap-free, and a refusal that names every order refused and leaves nothing behind, not even when
the caller catches it and commits its transaction."""

from __future__ import annotations

import datetime as dt
import importlib
from decimal import Decimal as D
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from core.errors import AccessDenied, TransitionBlocked, ValidationError
from core.testing import CLIENT_TODAY

pytestmark = pytest.mark.usefixtures("fast_passwords")

JAN5, JAN20 = dt.date(2026, 1, 5), dt.date(2026, 1, 20)
YEAR = CLIENT_TODAY.year  # orders are dated today unless told
NEEDS_MANAGER = "needs approval by sales_manager (amount 150,000.00 over 100,000.00)"


@pytest.fixture
def bsvc(sf):
    """The services under test, imported as the app imports them."""
    return SimpleNamespace(**{name: importlib.import_module(f"sale.services.{name}")
                              for name in ("order", "shipment", "invoice", "payment", "journal")})


def _lines(master, *items):
    """Line dicts from ``(product index, quantity, unit price or None[, discount])``."""
    out = []
    for index, qty, price, *discount in items:
        line = {"product_id": master.product_ids[index], "quantity": D(qty)}
        if price is not None:
            line["unit_price"] = D(price)
        if discount:
            line["discount"] = D(discount[0])
        out.append(line)
    return out


def _specs(master):
    """Three orders of c1 with taxes, a discount and a price rounded per line."""
    return [
        {"customer_id": master.c1, "lines": _lines(master, (0, "2", None))},  # 226.00
        {"customer_id": master.c1, "lines": _lines(master, (1, "3", "33.335"), (0, "1", None, "10")),
         "note": "rush"},
        {"customer_id": master.c1, "lines": _lines(master, (2, "1", None), (1, "4", None))},
    ]


def _count(env, record, *criteria):
    cls = env[record]
    with env.sudo():
        return env.session.scalar(select(func.count()).select_from(cls).where(*criteria))


def _log(env, order_ids):
    Log = env["workflow.log"]
    with env.sudo():
        return [(r.record_id, r.trigger) for r in env.session.scalars(
            select(Log).where(Log.record == "sale.order", Log.record_id.in_(order_ids))
            .order_by(Log.id))]


def _states(sf, record, ids):
    with sf.transaction() as env:
        found = env.get_many(record, ids)
        return [found[i].state for i in ids]


def _order_figures(order):
    return (order.amount_untaxed, order.amount_tax, order.amount_total, order.state,
            order.shipping_status, order.invoice_status, order.payment_status,
            [(ln.product_id, ln.quantity, ln.unit_price, ln.discount, ln.amount_untaxed,
              ln.amount_tax, ln.amount_total, ln.qty_shipped, ln.qty_invoiced) for ln in order.lines])


def _invoice_figures(invoice):
    return (invoice.state, invoice.date, invoice.due_date, invoice.amount_untaxed,
            invoice.amount_tax, invoice.amount_total, invoice.amount_residual,
            invoice.payment_status,
            sorted((ln.quantity, ln.amount_untaxed, ln.amount_tax, ln.amount_total)
                   for ln in invoice.lines))


def _approved(sf, make_order, n=1, user="sp1", **values):
    ids = [make_order(user, **values) for _ in range(n)]
    with sf.transaction(user) as env:
        for oid in ids:
            env.get("sale.order", oid).fire("approve")
    return ids


@pytest.fixture
def heard(sf):
    """``record_transitioned`` news of sale orders this app sent: ``[(record_id, trigger)]``."""
    from core import signals

    news: list[tuple[int, str]] = []

    def receiver(sender, **kw):
        if kw["record_name"] == "sale.order":
            news.append((kw["record_id"], kw["trigger"]))

    signals.record_transitioned.connect(receiver, sender=sf, weak=False)
    yield news
    signals.record_transitioned.disconnect(receiver, sender=sf)


def _entry_numbers(env):
    Entry = env["sale.journal.entry"]
    with env.sudo():
        return sorted(env.session.scalars(select(Entry.number)))


# -- the whole cycle ---------------------------------------------------------------------------


def test_cycle_in_batches_equals_one_by_one_and_ends_paid(sf, master, bsvc):
    """create -> approve -> ship -> invoice -> pay, once order by order (one transaction each)
    and once in batches: the same totals, invoices, states ("paid") and journal, with every
    number consecutive and gap-free."""
    singles = []
    for spec in _specs(master):
        with sf.transaction("sp1") as env:
            oid = bsvc.order.create_order(env, **spec).id
        with sf.transaction("sp1") as env:
            assert env.get("sale.order", oid).fire("approve").done
        with sf.transaction("warehouse") as env:
            bsvc.shipment.record_shipment(env, bsvc.order.get_order(env, oid))
        with sf.transaction("finance") as env:
            invoice = bsvc.invoice.create_invoice(env, oid)
            bsvc.invoice.post_invoice(env, invoice, date=JAN5)
            iid, total = invoice.id, invoice.amount_total
        with sf.transaction("finance") as env:
            bsvc.payment.register_payment(env, customer_id=master.c1, amount=total, method="cash",
                                          date=JAN20,
                                          allocations=[{"invoice_id": iid, "amount": total}])
        singles.append((oid, iid))

    with sf.transaction("sp1") as env:
        orders = bsvc.order.create_orders(env, _specs(master))
        batch = [o.id for o in orders]
        assert [o.number for o in orders] == [f"SO/{YEAR}/{n:06d}" for n in (4, 5, 6)]
    with sf.transaction("sp1") as env:
        outcomes = bsvc.order.approve_orders(env, [env.get("sale.order", i) for i in batch])
        assert [(o.done, o.source, o.dest) for o in outcomes] == [(True, "draft", "approved")] * 3
    with sf.transaction("warehouse") as env:
        shipments = bsvc.shipment.record_shipments(env, [env.get("sale.order", i) for i in batch])
        assert [s.order_id for s in shipments] == batch
    with sf.transaction("finance") as env:
        invoices = bsvc.invoice.invoice_orders(env, [env.get("sale.order", i) for i in batch],
                                               date=JAN5)
        assert [inv.number for inv in invoices] == [f"INV/2026/{n:06d}" for n in (4, 5, 6)]
        pairs = [(inv.order_id, inv.id, inv.amount_total) for inv in invoices]
    with sf.transaction("finance") as env:
        payments = bsvc.payment.register_payments(env, [
            {"customer_id": master.c1, "amount": total, "method": "cash", "date": JAN20,
             "allocations": [{"invoice_id": iid, "amount": total}]} for _oid, iid, total in pairs])
        assert [p.number for p in payments] == [f"PAY/2026/{n:06d}" for n in (4, 5, 6)]

    with sf.transaction("finance") as env:
        for (single_order, single_invoice), (batch_order, batch_invoice, _total) in zip(
                singles, pairs, strict=True):
            a, b = env.get("sale.order", single_order), env.get("sale.order", batch_order)
            assert _order_figures(a) == _order_figures(b)
            assert a.state == b.state == "paid"
            x, y = env.get("sale.invoice", single_invoice), env.get("sale.invoice", batch_invoice)
            assert _invoice_figures(x) == _invoice_figures(y)
            assert y.state == "paid" and y.amount_total == b.amount_total
        assert [env.get("sale.order", i).amount_total for i in batch] == [
            D("226.00"), D("214.71"), D("2375.25")]
        # every number of the year taken once, in the order the documents were made
        assert sorted(o.number for o in env.search("sale.order")) == [
            f"SO/{YEAR}/{n:06d}" for n in range(1, 7)]
        assert sorted(i.number for i in env.search("sale.invoice")) == [
            f"INV/2026/{n:06d}" for n in range(1, 7)]
        assert sorted(p.number for p in env.search("sale.payment")) == [
            f"PAY/2026/{n:06d}" for n in range(1, 7)]
        assert _entry_numbers(env) == [f"JE/2026/{n:06d}" for n in range(1, 13)]
        # the batch's entries come after the single ones: invoices 7-9, payments 10-12
        invoice_entries = [env.get("sale.journal.entry", env.get("sale.invoice", iid).journal_entry_id)
                           .number for _oid, iid, _t in pairs]
        assert invoice_entries == [f"JE/2026/{n:06d}" for n in (7, 8, 9)]
        payment_entries = [bsvc.journal.entries_of(env, "sale.payment", p.id)[0].number
                           for p in payments]
        assert payment_entries == [f"JE/2026/{n:06d}" for n in (10, 11, 12)]
        tb = bsvc.journal.trial_balance(env)
        assert tb["balanced"]
        balances = {row["code"]: row["balance"] for row in tb["rows"]}
        totals = sum((t for *_ids, t in pairs), D("0")) * 2
        assert balances["1122"] == 0  # everything invoiced was paid
        assert balances["1001"] == totals  # cash received
        assert -(balances["6001"] + balances["22210106"]) == totals  # revenue + output VAT


# -- create_orders -----------------------------------------------------------------------------


def test_create_orders_equal_create_order_and_number_in_one_block(sf, users, master, bsvc):
    """Each order of a batch is what create_order makes of the same spec (defaults, prices,
    totals); numbers follow the specs' order, per year of the order date, with no gap before
    or after."""
    with sf.transaction("sp1") as env:
        alone = [bsvc.order.create_order(env, **spec) for spec in _specs(master)]
        expected = [_order_figures(o) + (o.salesperson_id, o.payment_term_id, o.validity_date, o.note)
                    for o in alone]
    with sf.transaction("sp1") as env:
        specs = _specs(master) + [{"customer_id": master.c1, "lines": _lines(master, (0, "1", None)),
                                   "date_order": dt.date(2025, 12, 30)}]
        orders = bsvc.order.create_orders(env, specs)
        assert [o.number for o in orders] == [f"SO/{YEAR}/000004", f"SO/{YEAR}/000005",
                                              f"SO/{YEAR}/000006", "SO/2025/000001"]
        ids = [o.id for o in orders]
        assert all(o.state == "draft" and o.salesperson_id == users.sp["sp1"] for o in orders)
    with sf.transaction("sp1") as env:  # stored as computed
        stored = [env.get("sale.order", i) for i in ids]
        assert [_order_figures(o) + (o.salesperson_id, o.payment_term_id, o.validity_date, o.note)
                for o in stored[:3]] == expected
        assert stored[3].validity_date == dt.date(2026, 1, 29)  # 30 days after its own date
        assert bsvc.order.create_order(env, customer_id=master.c1,
                                       lines=_lines(master, (0, "1", None))).number == f"SO/{YEAR}/000007"
        assert bsvc.order.create_orders(env, []) == []


def test_create_orders_errors_are_keyed_by_position_and_write_nothing(sf, master, bsvc):
    """Every spec is checked first: errors name the spec's position ("1.lines.0.quantity");
    no order, no line and no number is taken, even when the caller commits afterwards."""
    good = {"customer_id": master.c1, "lines": _lines(master, (0, "2", None))}
    with sf.transaction("sp1") as env:
        with pytest.raises(ValidationError) as exc:
            bsvc.order.create_orders(env, [
                good,
                {"customer_id": master.c1, "lines": [{"product_id": master.product_ids[0],
                                                      "quantity": "0"}]},
                good,
            ])
        assert exc.value.errors == {"1.lines.0.quantity": ["must be positive"]}
        with pytest.raises(ValidationError) as exc:
            bsvc.order.create_orders(env, [
                {"customer_id": 999999, "lines": _lines(master, (0, "1", None))},
                {**good, "colour": "red"},
                {"customer_id": master.c2, "lines": _lines(master, (0, "1", None))},  # sp2's
                {"customer_id": master.c1, "lines": []},
                {**good, "lines": [{"product_id": master.product_ids[0], "quantity": 1.5}]},
            ])
        errors = exc.value.errors
        assert errors["0.customer_id"] == ["no sale.customer 999999"]
        assert errors["1.colour"] == ["unknown field"]
        assert errors["2.customer_id"] == [f"no sale.customer {master.c2}"]
        assert errors["3.lines"] == ["an order needs at least one line"]
        assert "floats are not accepted" in errors["4.lines.0.quantity"][0]
        assert set(errors) == {"0.customer_id", "1.colour", "2.customer_id", "3.lines",
                               "4.lines.0.quantity"}
        with pytest.raises(ValidationError) as exc:
            bsvc.order.create_orders(env, {"customer_id": master.c1})
        assert exc.value.errors == {"orders": ["expected a list of orders"]}
        assert _count(env, "sale.order") == 0
    # the transaction that caught the errors committed: nothing of them was written
    with sf.transaction("sp1") as env:
        assert (_count(env, "sale.order"), _count(env, "sale.line")) == (0, 0)
        orders = bsvc.order.create_orders(env, [good, good])
        assert [o.number for o in orders] == [f"SO/{YEAR}/000001", f"SO/{YEAR}/000002"]
    for login in ("warehouse", "finance"):
        with sf.transaction(login) as env, pytest.raises(AccessDenied):
            bsvc.order.create_orders(env, [good])


# -- approve_orders ----------------------------------------------------------------------------


def test_approve_orders_moves_each_and_logs_it(sf, users, master, bsvc, make_order, heard):
    """A batch approval moves every order as a single approval would: one log row each, by the
    user; the news of each is sent once the transaction committed."""
    ids = [make_order(lines=[(0, str(n), None)]) for n in (1, 2, 3)]
    with sf.transaction("sp1") as env:
        orders = [env.get("sale.order", i) for i in ids]
        outcomes = bsvc.order.approve_orders(env, orders)
        assert [(o.done, o.dest, o.approvals_given, o.approvals_pending) for o in outcomes] == [
            (True, "approved", [], [])] * 3
        assert [o.state for o in orders] == ["approved"] * 3
        assert bsvc.order.approve_orders(env, []) == []
        assert heard == []  # not before the commit
    assert heard == [(i, "approve") for i in ids]
    assert _states(sf, "sale.order", ids) == ["approved"] * 3
    with sf.transaction() as env:
        Log = env["workflow.log"]
        rows = env.search("workflow.log", Log.record == "sale.order")
        assert sorted((r.record_id, r.trigger, r.source, r.dest, r.user_id) for r in rows) == [
            (i, "approve", "draft", "approved", users.sp1) for i in ids]


def test_approve_orders_refusal_names_each_order_and_changes_nothing(sf, master, bsvc, make_order,
                                                                     order_of_total, heard):
    """One expired quotation and one order of an archived customer among good ones: the
    refusal names both (by position, by id, reasons prefixed by their number); every order
    stays a draft, with no log row, no approval and no news, even after the caller commits."""
    past = CLIENT_TODAY - dt.timedelta(days=3)
    big = make_order(lines=order_of_total("600000"))  # the manager's level is recorded first
    good = make_order()
    expired = make_order(date_order=past - dt.timedelta(days=10), validity_date=past)
    archived = make_order("sp2", customer=master.c2)
    ids = [big, good, expired, archived]
    with sf.transaction() as env:
        env.get("sale.customer", master.c2).active = False
    with sf.transaction("manager") as env:
        orders = [env.get("sale.order", i) for i in ids]
        numbers = [o.number for o in orders]
        with pytest.raises(TransitionBlocked) as exc:
            bsvc.order.approve_orders(env, orders)
        error = exc.value
        expired_reason = f"the quotation expired on {past.isoformat()}; change its validity date or copy it"
        archived_reason = "customer C002 (Northwind Traders) is archived"
        assert error.trigger == "approve"
        assert error.refused == {2: [expired_reason], 3: [archived_reason]}
        assert error.refused_ids == {expired: [expired_reason], archived: [archived_reason]}
        assert error.reasons == [f"{numbers[2]}: {expired_reason}", f"{numbers[3]}: {archived_reason}"]
        # the caller's objects are as before, and its transaction goes on (and commits)
        assert [o.state for o in orders] == ["draft"] * 4
        assert _log(env, ids) == [] and _count(env, "approval") == 0
    assert _states(sf, "sale.order", ids) == ["draft"] * 4
    assert heard == []
    with sf.transaction() as env:
        assert _log(env, ids) == [] and _count(env, "approval") == 0
    # the good ones alone go through
    with sf.transaction("manager") as env:
        outcomes = bsvc.order.approve_orders(env, [env.get("sale.order", i) for i in (good, big)])
        assert [(o.done, o.approvals_pending) for o in outcomes] == [(True, []), (False, ["director"])]


def test_approve_orders_with_approval_levels(sf, users, bsvc, make_order, order_of_total):
    """Above a threshold: the approver's level is recorded (done False, the levels still
    pending), the other orders of the batch are approved; a user without the level's role is
    refused for that order and nothing moves."""
    small = make_order()
    over_100k = make_order(lines=order_of_total("150000"))
    over_500k = make_order(lines=order_of_total("600000"))
    with sf.transaction("sp1") as env:
        with pytest.raises(TransitionBlocked) as exc:
            bsvc.order.approve_orders(env, [env.get("sale.order", i) for i in (small, over_100k)])
        assert exc.value.refused == {1: [NEEDS_MANAGER]}
    assert _states(sf, "sale.order", [small, over_100k]) == ["draft", "draft"]
    with sf.transaction("manager") as env:
        outcomes = bsvc.order.approve_orders(
            env, [env.get("sale.order", i) for i in (small, over_500k, over_100k)])
        assert [(o.done, o.dest, o.approvals_given, o.approvals_pending) for o in outcomes] == [
            (True, "approved", [], []),
            (False, None, ["sales_manager"], ["director"]),
            (True, "approved", ["sales_manager"], []),
        ]
    assert _states(sf, "sale.order", [small, over_500k, over_100k]) == ["approved", "draft", "approved"]
    with sf.transaction() as env:
        Approval = env["approval"]
        rows = env.session.scalars(select(Approval).order_by(Approval.id)).all()
        assert [(a.record_id, a.level, a.role, a.user_id) for a in rows] == [
            (over_500k, 1, "sales_manager", users.manager),
            (over_100k, 1, "sales_manager", users.manager)]
        assert sorted(_log(env, [small, over_500k, over_100k])) == [
            (small, "approve"), (over_100k, "approve")]
    with sf.transaction("director") as env:
        (outcome,) = bsvc.order.approve_orders(env, [env.get("sale.order", over_500k)])
        assert (outcome.done, outcome.approvals_given) == (True, ["director"])
    assert _states(sf, "sale.order", [over_500k]) == ["approved"]


# -- record_shipments --------------------------------------------------------------------------


def test_record_shipments_ship_what_is_left_of_each_order(sf, users, master, bsvc, flow):
    """Each order gets one shipment of everything still to ship (an order shipped in part
    before too), its ledger full and its state "shipped", as record_shipment would leave it."""
    partial = flow.order(lines=[(0, "10", None), (1, "4", None)], ship={0: "3"})
    fresh = flow.order(lines=[(2, "2", None)], ship=None)
    alone = flow.order(lines=[(2, "2", None)], ship=None)
    with sf.transaction("warehouse") as env:
        bsvc.shipment.record_shipment(env, bsvc.order.get_order(env, alone))
    with sf.transaction("warehouse") as env:
        orders = [env.get("sale.order", i) for i in (partial, fresh)]
        shipments = bsvc.shipment.record_shipments(env, orders, date=JAN5, reference="DN-7")
        assert [(s.order_id, s.kind, s.date, s.reference, s.user_id) for s in shipments] == [
            (partial, "delivery", JAN5, "DN-7", users.warehouse),
            (fresh, "delivery", JAN5, "DN-7", users.warehouse)]
        assert [sorted(ln.quantity for ln in s.lines) for s in shipments] == [
            [D("4"), D("7")], [D("2")]]
        assert [o.state for o in orders] == ["shipped", "shipped"]
        assert bsvc.shipment.record_shipments(env, []) == []
    with sf.transaction("warehouse") as env:
        first, second, third = (env.get("sale.order", i) for i in (partial, fresh, alone))
        assert [ln.qty_shipped for ln in first.lines] == [D("10"), D("4")]
        assert (first.state, first.shipping_status) == ("shipped", "full")
        assert _order_figures(second)[3:] == _order_figures(third)[3:]  # as shipped alone
        assert _log(env, [partial, fresh]) == [(partial, "approve"), (fresh, "approve"),
                                               (partial, "ship"), (fresh, "ship")]


def test_record_shipments_refusal_changes_nothing(sf, master, bsvc, flow, make_order):
    """A draft and an order already shipped among approved ones: both named, and no shipment,
    no shipped quantity, no state change, even after the caller commits."""
    from core.plugins import hookimpl

    ready = flow.order(ship=None)
    draft = make_order()
    shipped = flow.order()
    other = flow.order(lines=[(1, "7", None)], ship=None)
    ids = [ready, draft, shipped, other]
    with sf.transaction("warehouse") as env:
        orders = [env.get("sale.order", i) for i in ids]
        before = _count(env, "sale.shipment")
        with pytest.raises(TransitionBlocked) as exc:
            bsvc.shipment.record_shipments(env, orders)
        assert exc.value.refused == {1: ["only an approved order can be shipped (it is draft)"],
                                     2: ["only an approved order can be shipped (it is shipped)"]}
        assert exc.value.refused_ids == {draft: ["only an approved order can be shipped (it is draft)"],
                                         shipped: ["only an approved order can be shipped (it is shipped)"]}
        assert exc.value.reasons[0] == (f"{orders[1].number}: only an approved order can be "
                                        "shipped (it is draft)")
        assert _count(env, "sale.shipment") == before == 1
        with pytest.raises(ValidationError) as bad:
            bsvc.shipment.record_shipments(env, [orders[0]], reference="x" * 65)
        assert set(bad.value.errors) == {"reference"}
    with sf.transaction("warehouse") as env:
        assert (_count(env, "sale.shipment"), _count(env, "sale.shipment.line")) == (1, 1)
        assert [env.get("sale.order", i).state for i in ids] == ["approved", "draft", "shipped",
                                                                 "approved"]
        for oid in (ready, draft, other):
            assert [ln.qty_shipped for ln in env.get("sale.order", oid).lines] == [0]

    class Hold:
        @hookimpl
        def sale_shipment_blockers(self, order, quantities, env):
            return ["credit hold"] if order.id == other else []

    plugin = Hold()
    sf.pm.register(plugin, name="test-hold")
    try:
        with sf.transaction("warehouse") as env:
            with pytest.raises(TransitionBlocked) as exc:
                bsvc.shipment.record_shipments(env, [env.get("sale.order", i) for i in (ready, other)])
            assert exc.value.refused == {1: ["credit hold"]}
    finally:
        sf.pm.unregister(plugin)
    assert _states(sf, "sale.order", [ready, other]) == ["approved", "approved"]
    with sf.transaction("sp1") as env, pytest.raises(AccessDenied):
        bsvc.shipment.record_shipments(env, [env.get("sale.order", ready)])
    with sf.transaction("warehouse") as env:
        assert _count(env, "sale.shipment") == 1


# -- invoice_orders / post_invoices ------------------------------------------------------------


def test_invoice_orders_equal_invoicing_each_order(sf, master, bsvc, flow):
    """One posted invoice per order with what it may be invoiced now (a partly shipped order
    only its shipped part), the same amounts, dates and order states as invoicing each alone;
    invoice and journal numbers follow the orders' order."""
    lines = [[(0, "2", None)], [(1, "3", "33.335"), (0, "1", None)], [(0, "10", None)]]
    ship = ["all", "all", {0: "4"}]
    alone = [flow.order(lines=ln, ship=s) for ln, s in zip(lines, ship, strict=True)]
    batch = [flow.order(lines=ln, ship=s) for ln, s in zip(lines, ship, strict=True)]
    single_invoices = [flow.invoice(oid, date=JAN5) for oid in alone]
    with sf.transaction("finance") as env:
        invoices = bsvc.invoice.invoice_orders(env, [env.get("sale.order", i) for i in batch],
                                               date=JAN5)
        assert [inv.order_id for inv in invoices] == batch
        assert [inv.number for inv in invoices] == ["INV/2026/000004", "INV/2026/000005",
                                                    "INV/2026/000006"]
        assert bsvc.invoice.invoice_orders(env, []) == []
    with sf.transaction("finance") as env:
        for single, oid_alone, mine, oid in zip(single_invoices, alone, invoices, batch, strict=True):
            a, b = env.get("sale.invoice", single), env.get("sale.invoice", mine.id)
            assert _invoice_figures(a) == _invoice_figures(b)
            assert b.state == "posted" and b.due_date == dt.date(2026, 2, 4)
            assert _order_figures(env.get("sale.order", oid_alone)) == _order_figures(
                env.get("sale.order", oid))
        assert [env.get("sale.order", i).state for i in batch] == ["invoiced", "invoiced", "approved"]
        partly = env.get("sale.order", batch[2])
        assert (partly.invoice_status, [ln.qty_invoiced for ln in partly.lines]) == (
            "partial", [D("4")])
        assert [env.get("sale.journal.entry", inv.journal_entry_id).number for inv in invoices] == [
            "JE/2026/000004", "JE/2026/000005", "JE/2026/000006"]
        assert _entry_numbers(env) == [f"JE/2026/{n:06d}" for n in range(1, 7)]
        assert bsvc.journal.trial_balance(env)["balanced"]


def test_invoice_orders_refusal_writes_nothing_and_takes_no_number(sf, master, bsvc, flow, make_order):
    """An order not shipped and a quotation among shipped ones: both named, no invoice is
    written and the invoice sequence is untouched (the next invoice is .../000001), even after
    the caller commits."""
    shipped = flow.order()
    not_shipped = flow.order(ship=None)
    quotation = make_order()
    ids = [shipped, not_shipped, quotation]
    with sf.transaction("finance") as env:
        orders = [env.get("sale.order", i) for i in ids]
        with pytest.raises(TransitionBlocked) as exc:
            bsvc.invoice.invoice_orders(env, orders, date=JAN5)
        nothing = "nothing is shipped yet (invoice policy: shipped quantities)"
        draft = f"order {orders[2].number} is a quotation: only approved orders are invoiced"
        assert exc.value.refused == {1: [nothing], 2: [draft]}
        assert exc.value.refused_ids == {not_shipped: [nothing], quotation: [draft]}
        assert exc.value.reasons == [f"{orders[1].number}: {nothing}", f"{orders[2].number}: {draft}"]
        assert _count(env, "sale.invoice") == 0
    with sf.transaction("finance") as env:
        assert (_count(env, "sale.invoice"), _count(env, "sale.invoice.line"),
                _count(env, "sale.journal.entry")) == (0, 0, 0)
        assert [env.get("sale.order", i).state for i in ids] == [
            "shipped", "approved", "draft"]
        (invoice,) = bsvc.invoice.invoice_orders(env, [env.get("sale.order", shipped)], date=JAN5)
        assert invoice.number == "INV/2026/000001"
        assert env.get("sale.journal.entry", invoice.journal_entry_id).number == "JE/2026/000001"
    for login in ("warehouse", "sp1"):
        with sf.transaction(login) as env, pytest.raises(AccessDenied):
            bsvc.invoice.invoice_orders(env, [env.get("sale.order", not_shipped)])
    with sf.transaction() as env:
        assert _count(env, "sale.invoice") == 1


def test_invoice_orders_without_posting_then_post_invoices(sf, master, bsvc, flow):
    """``post=False`` leaves drafts without numbers; ``post_invoices`` posts them together
    with consecutive numbers and moves the orders on."""
    ids = [flow.order(), flow.order(lines=[(1, "2", None)])]
    with sf.transaction("finance") as env:
        drafts = bsvc.invoice.invoice_orders(env, [env.get("sale.order", i) for i in ids], post=False)
        assert [(inv.state, inv.number) for inv in drafts] == [("draft", None)] * 2
        draft_ids = [inv.id for inv in drafts]
    assert _states(sf, "sale.order", ids) == ["shipped", "shipped"]
    with sf.transaction("finance") as env:
        invoices = bsvc.invoice.post_invoices(env, [env.get("sale.invoice", i) for i in draft_ids],
                                              date=JAN20)
        assert [(inv.state, inv.number, inv.date) for inv in invoices] == [
            ("posted", "INV/2026/000001", JAN20), ("posted", "INV/2026/000002", JAN20)]
        assert bsvc.invoice.post_invoices(env, []) == []
    assert _states(sf, "sale.order", ids) == ["invoiced", "invoiced"]


def test_post_invoices_of_one_order_and_refusal_leaves_no_number(sf, master, bsvc, flow, acc):
    """Two invoices of one order posted in one batch: each sees the one before (the order ends
    invoiced, the two add up to it). A refusal names the invoice, posts none and takes no
    number."""
    oid = flow.order(lines=[(0, "10", None), (1, "3", "33.335")], ship={0: "4", 1: "1"})
    other = flow.order()
    with sf.transaction("finance") as env:
        first = acc.invoice.create_invoice(env, oid).id
    with sf.transaction("warehouse") as env:
        bsvc.shipment.record_shipment(env, bsvc.order.get_order(env, oid))
    with sf.transaction("finance") as env:
        second = acc.invoice.create_invoice(env, oid).id
        third = acc.invoice.create_invoice(env, other).id
    posted = flow.invoice(flow.order(lines=[(1, "1", None)]), date=JAN5)  # INV/2026/000001
    with sf.transaction("finance") as env:
        invoices = [env.get("sale.invoice", i) for i in (first, posted, third)]
        with pytest.raises(TransitionBlocked) as exc:
            bsvc.invoice.post_invoices(env, invoices, date=JAN5)
        reason = "'post' is not possible in state 'posted' (only from draft)"
        assert exc.value.refused == {1: [reason]}
        assert exc.value.reasons == [f"INV/2026/000001: {reason}"]
        assert [(inv.state, inv.number) for inv in (invoices[0], invoices[2])] == [
            ("draft", None), ("draft", None)]
    with sf.transaction("finance") as env:
        assert [env.get("sale.invoice", i).state for i in (first, second, third)] == ["draft"] * 3
        assert _entry_numbers(env) == ["JE/2026/000001"]
        invoices = bsvc.invoice.post_invoices(
            env, [env.get("sale.invoice", i) for i in (first, second, third)], date=JAN5)
        assert [inv.number for inv in invoices] == [f"INV/2026/{n:06d}" for n in (2, 3, 4)]
    with sf.transaction("finance") as env:
        order = env.get("sale.order", oid)
        a, b = env.get("sale.invoice", first), env.get("sale.invoice", second)
        assert (order.state, order.invoice_status) == ("invoiced", "full")
        assert a.amount_total + b.amount_total == order.amount_total == D("1243.01")
        assert a.amount_tax + b.amount_tax == order.amount_tax
        assert env.get("sale.order", other).state == "invoiced"
        assert _entry_numbers(env) == [f"JE/2026/{n:06d}" for n in range(1, 5)]
        assert bsvc.journal.trial_balance(env)["balanced"]


# -- register_payments -------------------------------------------------------------------------


def _invoices(sf, flow, master):
    """Posted invoices: two of c1 (226.00, 452.00) and one of c2 (226.00)."""
    a = flow.invoice(flow.order(), date=JAN5)
    b = flow.invoice(flow.order(lines=[(0, "4", None)]), date=JAN5)
    c = flow.invoice(flow.order(customer=master.c2), date=JAN5)
    return a, b, c


def _residuals(sf, ids):
    with sf.transaction("finance") as env:
        return [(env.get("sale.invoice", i).amount_residual, env.get("sale.invoice", i).state)
                for i in ids]


def test_register_payments_equal_registering_each(sf, master, bsvc, flow):
    """Payments of two customers in one batch: numbered in the specs' order, allocated,
    booked (journal numbers after the invoices'), what is not allocated kept as credit,
    invoices and orders paid, the journal balanced."""
    a, b, c = _invoices(sf, flow, master)
    with sf.transaction("finance") as env:
        payments = bsvc.payment.register_payments(env, [
            {"customer_id": master.c1, "amount": "300.00", "method": "cash", "date": JAN20,
             "allocations": [{"invoice_id": a, "amount": "226.00"},
                             {"invoice_id": b, "amount": "52.00"}]},
            {"customer_id": master.c2, "amount": D("226.00"), "method": "cheque", "date": JAN20,
             "reference": "CHQ-9", "allocations": [{"invoice_id": c, "amount": "226.00"}]},
        ])
        assert [(p.number, p.customer_id, p.amount, p.amount_unallocated, p.reference) for p in payments] == [
            ("PAY/2026/000001", master.c1, D("300.00"), D("22.00"), None),
            ("PAY/2026/000002", master.c2, D("226.00"), D("0.00"), "CHQ-9")]
        ids = [p.id for p in payments]
    assert _residuals(sf, [a, b, c]) == [(0, "paid"), (D("400.00"), "posted"), (0, "paid")]
    with sf.transaction("finance") as env:
        first, second = (env.get("sale.payment", i) for i in ids)
        assert sorted((x.invoice_id, x.amount) for x in first.allocations) == [
            (a, D("226.00")), (b, D("52.00"))]
        assert [(x.invoice_id, x.amount) for x in second.allocations] == [(c, D("226.00"))]
        orders = [env.get("sale.invoice", i).order_id for i in (a, b, c)]
        assert [(env.get("sale.order", o).state, env.get("sale.order", o).payment_status)
                for o in orders] == [("paid", "full"), ("invoiced", "partial"), ("paid", "full")]
        assert [bsvc.journal.entries_of(env, "sale.payment", i)[0].number for i in ids] == [
            "JE/2026/000004", "JE/2026/000005"]
        assert bsvc.payment.customer_credit(env, master.c1) == D("22.00")
        tb = bsvc.journal.trial_balance(env)
        assert tb["balanced"]
        balances = {row["code"]: row["balance"] for row in tb["rows"]}
        assert (balances["1001"], balances["1002"], balances["1122"]) == (
            D("300.00"), D("226.00"), D("904.00") - D("526.00"))
    nxt = flow.pay(master.c1, "1.00", date=JAN20)  # the next payment continues the numbers
    with sf.transaction("finance") as env:
        assert env.get("sale.payment", nxt).number == "PAY/2026/000003"


def test_two_payments_of_one_invoice_in_one_batch(sf, master, bsvc, flow):
    """Two payments of one batch paying one invoice in halves: the second sees what the first
    leaves open, the invoice and its order end paid. Paying more than is open across the two
    is refused on the second, and nothing is written."""
    iid = flow.invoice(flow.order(), date=JAN5)  # 226.00
    other = flow.invoice(flow.order(), date=JAN5)  # 226.00
    with sf.transaction("finance") as env:
        with pytest.raises(ValidationError) as exc:
            bsvc.payment.register_payments(env, [
                {"customer_id": master.c1, "amount": "200.00", "method": "cash", "date": JAN20,
                 "allocations": [{"invoice_id": other, "amount": "200.00"}]},
                {"customer_id": master.c1, "amount": "30.00", "method": "cash", "date": JAN20,
                 "allocations": [{"invoice_id": other, "amount": "30.00"}]},
            ])
        assert exc.value.errors == {
            "1.allocations.0.amount": ["more than the 26.00 open on INV/2026/000002"]}
    assert _residuals(sf, [other]) == [(D("226.00"), "posted")]
    with sf.transaction("finance") as env:
        assert _count(env, "sale.payment") == 0
        payments = bsvc.payment.register_payments(env, [
            {"customer_id": master.c1, "amount": "113.00", "method": "cash", "date": JAN20,
             "allocations": [{"invoice_id": iid, "amount": "113.00"}]},
            {"customer_id": master.c1, "amount": "113.00", "method": "bank_transfer", "date": JAN20,
             "allocations": [{"invoice_id": iid, "amount": "113.00"}]},
        ])
        assert [p.number for p in payments] == ["PAY/2026/000001", "PAY/2026/000002"]
    with sf.transaction("finance") as env:
        invoice = env.get("sale.invoice", iid)
        assert (invoice.state, invoice.amount_residual, invoice.payment_status) == ("paid", 0, "paid")
        order = env.get("sale.order", invoice.order_id)
        assert (order.state, order.payment_status) == ("paid", "full")
        allocations = env.search("sale.payment.allocation",
                                 env["sale.payment.allocation"].invoice_id == iid)
        assert sorted(x.amount for x in allocations) == [D("113.00"), D("113.00")]
        assert bsvc.journal.trial_balance(env)["balanced"]


def test_register_payments_refusal_writes_nothing_even_when_the_caller_commits(sf, master, bsvc, flow):
    """One over-allocation among good payments: ``ValidationError`` keyed by its position;
    no payment, allocation or journal entry, the residuals as before (read again in a new
    transaction) and no number taken, although the caller's transaction committed."""
    a, b, c = _invoices(sf, flow, master)
    with sf.transaction("finance") as env:
        with pytest.raises(ValidationError) as exc:
            bsvc.payment.register_payments(env, [
                {"customer_id": master.c1, "amount": "226.00", "method": "cash", "date": JAN20,
                 "allocations": [{"invoice_id": a, "amount": "226.00"}]},
                {"customer_id": master.c1, "amount": "500.00", "method": "cash", "date": JAN20,
                 "allocations": [{"invoice_id": b, "amount": "452.01"}]},
                {"customer_id": master.c2, "amount": "100.00", "method": "cash", "date": JAN20,
                 "allocations": [{"invoice_id": c, "amount": "100.00"}]},
            ])
        assert exc.value.errors == {
            "1.allocations.0.amount": ["more than the 452.00 open on INV/2026/000002"]}
        assert _count(env, "sale.payment") == 0
        # the caller's transaction goes on and commits
    assert _residuals(sf, [a, b, c]) == [(D("226.00"), "posted"), (D("452.00"), "posted"),
                                         (D("226.00"), "posted")]
    with sf.transaction("finance") as env:
        assert (_count(env, "sale.payment"), _count(env, "sale.payment.allocation")) == (0, 0)
        assert _entry_numbers(env) == [f"JE/2026/{n:06d}" for n in (1, 2, 3)]
        invoice = env.get("sale.invoice", a)
        assert (invoice.payment_status, env.get("sale.order", invoice.order_id).state) == (
            "none", "invoiced")
        (payment,) = bsvc.payment.register_payments(env, [
            {"customer_id": master.c1, "amount": "1.00", "method": "cash", "date": JAN20,
             "allocations": [{"invoice_id": a, "amount": "1.00"}]}])
        assert payment.number == "PAY/2026/000001"
        assert bsvc.journal.entries_of(env, "sale.payment", payment.id)[0].number == "JE/2026/000004"


def test_register_payments_input_errors_are_keyed_by_position(sf, master, bsvc, flow):
    """Every spec is checked: allocations are required in a batch, unknown fields, bad amounts
    and methods, other customers' invoices and unknown customers are named by position."""
    a, _b, c = _invoices(sf, flow, master)
    with sf.transaction("finance") as env:
        with pytest.raises(ValidationError) as exc:
            bsvc.payment.register_payments(env, [
                {"customer_id": master.c1, "amount": "10.00", "method": "cash"},
                {"customer_id": master.c1, "amount": "-1", "method": "barter", "colour": "red",
                 "allocations": [{"invoice_id": a, "amount": "1"}]},
                {"customer_id": master.c1, "amount": "10.00", "method": "cash",
                 "allocations": [{"invoice_id": a, "amount": "20.00"}]},
            ])
        errors = exc.value.errors
        assert errors["0.allocations"] == ["required when payments are registered together"]
        assert errors["1.colour"] == ["unknown field"]
        assert set(errors) == {"0.allocations", "1.colour", "1.amount", "1.method", "2.allocations"}
        assert "allocate at most the amount paid" in errors["2.allocations"][0]
        with pytest.raises(ValidationError) as exc:
            bsvc.payment.register_payments(env, [
                {"customer_id": master.c1, "amount": "10.00", "method": "cash",
                 "allocations": [{"invoice_id": c, "amount": "10.00"}]},
                {"customer_id": 999999, "amount": "10.00", "method": "cash",
                 "allocations": [{"invoice_id": a, "amount": "10.00"}]},
            ])
        assert exc.value.errors == {
            "0.allocations.0.invoice_id": ["not an open posted invoice of customer C001"],
            "1.customer_id": ["no sale.customer 999999"]}
        with pytest.raises(ValidationError) as exc:
            bsvc.payment.register_payments(env, {"customer_id": master.c1})
        assert exc.value.errors == {"payments": ["expected a list of payments"]}
    assert _residuals(sf, [a, c]) == [(D("226.00"), "posted"), (D("226.00"), "posted")]
    for login in ("sp1", "warehouse"):
        with sf.transaction(login) as env, pytest.raises(AccessDenied):
            bsvc.payment.register_payments(env, [
                {"customer_id": master.c1, "amount": "1.00", "method": "cash",
                 "allocations": [{"invoice_id": a, "amount": "1.00"}]}])


def test_register_payments_of_nothing_is_nothing(sf, master, bsvc):
    """An empty batch registers nothing and returns [], as every other batch service does."""
    with sf.transaction("finance") as env:
        assert bsvc.payment.register_payments(env, []) == []
        assert _count(env, "sale.journal.entry") == 0


# -- refusals and errors that must leave nothing behind -----------------------------------------


def test_register_payments_refusal_with_a_discount_hook_that_reads(sf, master, bsvc, flow):
    """With a ``sale_payment_discount`` hook that reads the database (as sale_credit's does:
    it reads the invoice's payment term), a refused batch still leaves every invoice as it
    was when the caller commits."""
    from core.plugins import hookimpl

    class Reader:
        @hookimpl
        def sale_payment_discount(self, invoice, date, amount, env):
            env.session.scalar(select(func.count()).select_from(env["sale.payment_term"]))
            return None

    a, b, c = _invoices(sf, flow, master)
    plugin = Reader()
    sf.pm.register(plugin, name="test-reader")
    try:
        with sf.transaction("finance") as env:
            with pytest.raises(ValidationError) as exc:
                bsvc.payment.register_payments(env, [
                    {"customer_id": master.c1, "amount": "226.00", "method": "cash", "date": JAN20,
                     "allocations": [{"invoice_id": a, "amount": "226.00"}]},
                    {"customer_id": master.c1, "amount": "500.00", "method": "cash", "date": JAN20,
                     "allocations": [{"invoice_id": b, "amount": "10.00"},
                                     {"invoice_id": c, "amount": "1.00"}]},  # c2's invoice
                ])
            assert exc.value.errors == {
                "1.allocations.1.invoice_id": ["not an open posted invoice of customer C001"]}
    finally:
        sf.pm.unregister(plugin)
    assert _residuals(sf, [a, b]) == [(D("226.00"), "posted"), (D("452.00"), "posted")]


def test_invoice_orders_posting_refused_leaves_no_draft(sf, master, bsvc, flow):
    """A posting refused for one invoice (an addon's guard) refuses the whole batch: no
    invoice, posted or draft, and no number, even when the caller commits."""
    from core.plugins import hookimpl

    ok, held = flow.order(), flow.order()

    class Hold:
        @hookimpl
        def workflow_transition_blockers(self, record, trigger, source, dest, env):
            if getattr(record, "__record__", "") == "sale.invoice" and record.order_id == held:
                return ["held by the test"]
            return []

    plugin = Hold()
    sf.pm.register(plugin, name="test-hold-post")
    try:
        with sf.transaction("finance") as env:
            with pytest.raises(TransitionBlocked) as exc:
                bsvc.invoice.invoice_orders(env, [env.get("sale.order", i) for i in (ok, held)],
                                            date=JAN5)
            assert exc.value.refused == {1: ["held by the test"]}
    finally:
        sf.pm.unregister(plugin)
    with sf.transaction("finance") as env:
        assert _entry_numbers(env) == []
        assert [env.get("sale.order", i).state for i in (ok, held)] == ["shipped"] * 2
        assert (_count(env, "sale.invoice"), _count(env, "sale.invoice.line")) == (0, 0)


def test_record_shipments_ship_refused_after_the_checks_writes_nothing(sf, master, bsvc, flow):
    """The admin (every access right, but not the warehouse role that ``ship`` needs) is refused
    the batch, and nothing is shipped even when the caller commits."""
    ids = [flow.order(ship=None), flow.order(ship=None)]
    with sf.transaction("admin") as env:
        with pytest.raises(TransitionBlocked) as exc:
            bsvc.shipment.record_shipments(env, [env.get("sale.order", i) for i in ids])
        assert exc.value.refused == {0: ["'ship' needs one of the roles warehouse"],
                                     1: ["'ship' needs one of the roles warehouse"]}
    with sf.transaction() as env:
        assert [env.get("sale.order", i).state for i in ids] == ["approved"] * 2
        assert (_count(env, "sale.shipment"), _count(env, "sale.shipment.line")) == (0, 0)
        assert [ln.qty_shipped for i in ids for ln in env.get("sale.order", i).lines] == [0, 0]


def test_creating_many_orders_takes_the_same_statements_as_creating_few(sf, master, bsvc,
                                                                         count_queries):
    """Statements per batch do not grow with the orders in it (on PostgreSQL the lines' ids
    are reserved once for the batch, not once per order)."""
    def create(n: int) -> int:
        specs = [{"customer_id": master.c1, "lines": _lines(master, (0, "1", None), (1, "2", None))}
                 for _ in range(n)]
        with count_queries(sf.engine) as counted, sf.transaction("sp1") as env:
            orders = bsvc.order.create_orders(env, specs)
            assert len({line.id for order in orders for line in order.lines}) == 2 * n
        return counted.value

    create(1)  # the year's sequence and caches: not counted against either
    assert create(3) == create(12)
