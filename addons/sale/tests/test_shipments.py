"""Shipments and the quantity ledger: partial shipments, over-shipping, sub-statuses, and the
``ship`` / ``invoice`` / ``settle`` transitions that follow the ledger."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from sqlalchemy import func, select, update

from core.errors import AccessDenied, TransitionBlocked, ValidationError

pytestmark = pytest.mark.usefixtures("fast_passwords")


def _approved(sf, svc, make_order, lines=None) -> int:
    oid = make_order(lines=lines or [(0, "10", None), (1, "4", None)])
    with sf.transaction("sp1") as env:
        svc.order.get_order(env, oid).fire("approve")
    return oid


def _shipment_rows(env):
    return env.session.scalar(select(func.count()).select_from(env["sale.shipment.line"]))


def test_partial_then_full_shipment(sf, users, svc, make_order):
    oid = _approved(sf, svc, make_order)
    with sf.transaction("warehouse") as env:
        order = svc.order.get_order(env, oid)
        first, second = order.lines
        shipment = svc.shipment.record_shipment(env, order, {first.id: D("4"), str(second.id): "4"},
                                                reference="DN-1")
        assert [(sl.sale_line_id, sl.quantity) for sl in shipment.lines] == [
            (first.id, D("4")), (second.id, D("4"))]
        assert (shipment.user_id, shipment.reference) == (users.warehouse, "DN-1")
        assert (order.state, order.shipping_status) == ("approved", "partial")
        assert [ln.qty_shipped for ln in order.lines] == [D("4"), D("4")]
    with sf.transaction("sp1") as env:  # stored, and still cancellable? no: goods left
        order = svc.order.get_order(env, oid)
        assert (order.shipping_status, [ln.qty_to_ship for ln in order.lines]) == (
            "partial", [D("6"), D("0")])
        with pytest.raises(TransitionBlocked) as exc:
            svc.order.cancel_order(env, order, "too late")
        assert exc.value.reasons == [
            "goods were already shipped or invoiced (line 10 'Product 1' 4 of 10 shipped; "
            "line 20 'Product 2' 4 of 4 shipped)"]
    with sf.transaction("warehouse") as env:
        order = svc.order.get_order(env, oid)
        svc.shipment.record_shipment(env, order)  # everything left
        assert (order.state, order.shipping_status) == ("shipped", "full")
    with sf.transaction("sp1") as env:
        order = svc.order.get_order(env, oid)
        assert [ln.qty_shipped for ln in order.lines] == [D("10"), D("4")]
        Log = env["workflow.log"]
        log = env.search("workflow.log", Log.record == "sale.order", Log.record_id == oid)
        assert [(r.trigger, r.user_id) for r in log] == [("approve", users.sp1),
                                                         ("ship", users.warehouse)]
        assert _shipment_rows(env) == 3
    with sf.transaction("warehouse") as env:  # goods come back: the ledger, not the state
        order = svc.order.get_order(env, oid)
        first = order.lines[0]
        with pytest.raises(ValidationError, match="only 10 left to take back"):
            svc.shipment.record_return(env, order, {first.id: "11"})
        back = svc.shipment.record_return(env, order, {first.id: "3"}, reference="RMA-1")
        assert (back.kind, order.state, order.shipping_status) == ("return", "shipped", "full")
        assert (first.qty_returned, first.qty_delivered, first.qty_to_invoice()) == (
            D("3"), D("7"), D("7"))
        with pytest.raises(ValidationError, match="only 7 left to take back"):
            svc.shipment.record_return(env, order, {first.id: "8"})


def test_refusals_write_nothing(sf, svc, make_order):
    oid = _approved(sf, svc, make_order)
    with sf.transaction("warehouse") as env:
        order = svc.order.get_order(env, oid)
        first, second = order.lines
        with pytest.raises(ValidationError) as exc:
            svc.shipment.record_shipment(env, order, {first.id: D("11"), second.id: 1.5,
                                                      99999: "1", "x": "1"})
        assert exc.value.errors == {
            f"quantities.{first.id}": ["only 10 left to ship on line 10 'Product 1' (0 of 10 "
                                       "shipped); 11 is too many"],
            f"quantities.{second.id}": ["floats are not accepted; pass a string or a Decimal"],
            "quantities.99999": [f"not a line of order {order.number}"],
            "quantities.x": ["not a line id"],
        }
        with pytest.raises(ValidationError, match="must not be negative"):
            svc.shipment.record_shipment(env, order, {first.id: "-1"})
        with pytest.raises(ValidationError, match="every quantity is 0"):
            svc.shipment.record_shipment(env, order, {first.id: "0"})
        assert _shipment_rows(env) == 0
        assert [ln.qty_shipped for ln in order.lines] == [D("0"), D("0")]
        assert order.shipping_status == "none"
    with sf.transaction("warehouse") as env:
        order = svc.order.get_order(env, oid)
        svc.shipment.record_shipment(env, order)
        with pytest.raises(TransitionBlocked, match="only an approved order can be shipped"):
            svc.shipment.record_shipment(env, order)
    draft = make_order()
    with sf.transaction("warehouse") as env:
        with pytest.raises(TransitionBlocked, match="only an approved order"):
            svc.shipment.record_shipment(env, svc.order.get_order(env, draft))
    oid = _approved(sf, svc, make_order)
    with sf.transaction("sp1") as env:
        with pytest.raises(AccessDenied):
            svc.shipment.record_shipment(env, svc.order.get_order(env, oid))
        order = svc.order.get_order(env, oid)
        with pytest.raises(TransitionBlocked, match="needs one of the roles warehouse"):
            order.fire("ship")


def test_invoice_and_settle_follow_the_ledger(sf, master, svc, make_order):
    oid = _approved(sf, svc, make_order, lines=[(0, "2", None)])
    with sf.transaction("warehouse") as env:
        svc.shipment.record_shipment(env, svc.order.get_order(env, oid))
    with sf.transaction("finance") as env:
        order = svc.order.get_order(env, oid)
        line = order.lines[0]
        assert env.blockers(order, "invoice") == [
            "not everything is invoiced: line 10 'Product 1' 0 of 2"]
        with pytest.raises(ValidationError) as exc:  # invoice policy "shipped": at most shipped
            order.ledger_add("qty_invoiced", {line.id: D("3")})
        assert exc.value.errors == {
            f"lines.{line.id}.qty_invoiced": ["3 invoiced is more than the 2 shipped"]}
        with pytest.raises(ValidationError, match="returned is more than"):
            order.ledger_add("qty_returned", {line.id: D("3")})
        order.ledger_add("qty_invoiced", {line.id: D("1")})
        assert (order.invoice_status, line.qty_to_invoice()) == ("partial", D("1"))
        order.ledger_add("qty_invoiced", {line.id: D("1")})
        assert order.invoice_status == "full"
        order.fire("invoice")
        assert order.state == "invoiced"
        assert env.blockers(order, "settle") == ["the order's invoices are not fully paid"]
        # an invoice of the order, half paid (written directly: invoicing is not under test)
        Invoice = env["sale.invoice"]
        table = Invoice.__table__
        env.session.execute(table.insert().values(
            kind="invoice", state="posted", customer_id=master.c1, order_id=oid, currency="CNY",
            amount_untaxed=D("200"), amount_tax=D("26"), amount_total=D("226"),
            amount_residual=D("100"), version=1))
        assert order.refresh_progress()["payment_status"] == "partial"
        env.session.execute(update(table).where(table.c.order_id == oid)
                            .values(state="paid", amount_residual=D("0")))
        order.fire("settle")
        assert (order.state, order.payment_status) == ("paid", "full")
    with sf.transaction("sp1") as env:
        order = svc.order.get_order(env, oid)
        assert (order.state, order.shipping_status, order.invoice_status, order.payment_status) == (
            "paid", "full", "full", "full")


def test_hook_sale_shipment_blockers(sf, svc, make_order):
    from core.plugins import hookimpl

    class Credit:
        @hookimpl
        def sale_shipment_blockers(self, order, quantities, env):
            total = sum(quantities.values(), D("0"))
            return [f"credit hold: {total:f} units"] if total > 5 else []

    oid = _approved(sf, svc, make_order)
    plugin = Credit()
    sf.pm.register(plugin, name="test-credit")
    try:
        with sf.transaction("warehouse") as env:
            order = svc.order.get_order(env, oid)
            first = order.lines[0]
            with pytest.raises(TransitionBlocked) as exc:
                svc.shipment.record_shipment(env, order)
            assert exc.value.reasons[0].startswith("credit hold: 14")
            assert _shipment_rows(env) == 0
            svc.shipment.record_shipment(env, order, {first.id: "5"})  # allowed
            assert order.shipping_status == "partial"
    finally:
        sf.pm.unregister(plugin)


def test_hook_sale_customer_balance_changed(sf, master, users, svc, make_order):
    """Every document that changes what a customer owes or has on order tells the hook, in the
    transaction, with the reason; a refused change tells nothing."""
    import types

    from core.plugins import hookimpl

    heard = []

    class Listener:
        @hookimpl
        def sale_customer_balance_changed(customer_id, reason, record, env):
            heard.append((customer_id, reason, record.__record__))

    sf.pm.register(types.SimpleNamespace(
        sale_customer_balance_changed=Listener.sale_customer_balance_changed), name="listener")
    try:
        order_id = make_order(lines=[(0, "4", None)])
        with sf.transaction("sp1") as env:
            env.get("sale.order", order_id).fire("approve")
        with sf.transaction("warehouse") as env:
            order = env.get("sale.order", order_id)
            line = order.lines[0]
            svc.shipment.record_shipment(env, order, {line.id: D("1")})
            svc.shipment.record_shipment(env, order)
    finally:
        sf.pm.unregister(name="listener")
    assert heard == [
        (master.c1, "approve", "sale.order"),
        (master.c1, "delivery", "sale.shipment"),
        (master.c1, "delivery", "sale.shipment"),
        (master.c1, "ship", "sale.order"),
    ]


def test_a_return_that_leaves_nothing_to_invoice_moves_the_order_on(sf, master, svc, flow):
    import datetime as dt

    oid = flow.order(lines=[(0, "10", None), (1, "4", None)], ship={0: "10"})
    flow.invoice(oid, date=dt.date(2026, 1, 5))  # the first line, all of it
    with sf.transaction("warehouse") as env:
        order = svc.order.get_order(env, oid)
        svc.shipment.record_shipment(env, order)  # the second line
        assert (order.state, order.invoice_status) == ("shipped", "partial")
    with sf.transaction("warehouse") as env:  # ... comes back whole
        order = svc.order.get_order(env, oid)
        svc.shipment.record_return(env, order, {order.lines[1].id: "4"})
        # was: still "shipped" while its ledger said everything was invoiced
        assert (order.state, order.shipping_status, order.invoice_status) == (
            "invoiced", "full", "full")
    with sf.transaction("sp1") as env:
        assert env.get("sale.order", oid).state == "invoiced"


def test_state_sub_statuses_and_ledger_cannot_disagree(sf, svc, make_order):
    """The sub-statuses are what the ledger says, whoever writes: a line's ledger written
    directly (a salesperson may write lines) without the order following, or a sub-status
    written directly, is refused; written together and in step, it goes in."""
    oid = _approved(sf, svc, make_order)
    with sf.transaction("warehouse") as env:
        svc.shipment.record_shipment(env, svc.order.get_order(env, oid), None)

    def stored():
        with sf.transaction("sp1") as env:
            order = svc.order.get_order(env, oid)
            return (order.state, order.shipping_status, order.invoice_status,
                    [ln.qty_shipped for ln in order.lines])

    shipped = ("shipped", "full", "none", [D("10"), D("4")])
    assert stored() == shipped
    with pytest.raises(ValidationError) as err, sf.transaction("sp1") as env:
        order = svc.order.get_order(env, oid)
        number = order.number
        env.write(order.lines[0], qty_shipped=D("0"))
    assert err.value.errors == {"qty_shipped": [
        f"order {number} is shipped with shipping status 'full', but its lines would say "
        "'partial': the ledger moves through shipments, invoices and returns, which keep the "
        "order in step"]}
    with pytest.raises(ValidationError) as err, sf.transaction("sp1") as env:
        env.write(svc.order.get_order(env, oid), invoice_status="full")
    assert err.value.errors == {"invoice_status": [
        "'full' is not what the lines' ledger says ('none'): it is derived from the ledger"]}
    assert stored() == shipped
    oid = _approved(sf, svc, make_order)
    with sf.transaction("sp1") as env:  # ledger and sub-status together, in step: accepted
        order = svc.order.get_order(env, oid)
        order.lines[0].qty_shipped = D("1")
        order.store_progress()
        env.session.flush()
    with sf.transaction("sp1") as env:
        order = svc.order.get_order(env, oid)
        assert (order.state, order.shipping_status, order.lines[0].qty_shipped) == (
            "approved", "partial", D("1"))
