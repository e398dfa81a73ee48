"""Amendments: an approved order changes only through ``amend_order``, which keeps the previous
revision with a readable diff and sends the order back through approval and every guard."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest

from core.errors import TransitionBlocked, ValidationError
from core.testing import CLIENT_TODAY

pytestmark = pytest.mark.usefixtures("fast_passwords")


def _revisions(env, order_id):
    Revision = env["sale.order.revision"]
    return env.search("sale.order.revision", Revision.order_id == order_id, order_by=Revision.revision)


def test_amendment_keeps_the_previous_revision_with_a_diff(sf, users, master, svc, make_order):
    oid = make_order(lines=[(0, "2", None), (1, "4", None)])
    with sf.transaction("sp1") as env:
        order = svc.order.get_order(env, oid)
        order.fire("approve")
        first, second = order.lines
        svc.order.amend_order(env, order, reason="customer wants more", changes={"lines": [
            {"id": first.id, "quantity": "5"},
            {"product_id": master.product_ids[2], "quantity": "1", "unit_price": "1999.99"},
        ]})
        assert (order.state, order.revision) == ("draft", 1)
        assert order.amount_untaxed == D("2499.99")
    with sf.transaction("sp1") as env:
        (rev,) = _revisions(env, oid)
        assert (rev.revision, rev.reason, rev.user_id) == (0, "customer wants more", users.sp1)
        assert rev.snapshot["revision"] == 0
        assert [(ln["description"], ln["quantity"]) for ln in rev.snapshot["lines"]] == [
            ("Product 1", "2"), ("Product 2", "4")]
        assert rev.snapshot["amount_total"] == "341.26"
        assert [d["text"] for d in rev.diff] == [
            "line 10 'Product 1': quantity 2 → 5",
            "added line 20 'Product 3': 1 × 1999.99",
            "removed line 20 'Product 2': 4 × 25.5",
            "untaxed amount: 302.00 → 2499.99",
            "tax: 39.26 → 325.00",
            "total: 341.26 → 2824.99",
        ]
        assert rev.diff[0] == {"kind": "line", "line_id": first.id, "field": "quantity", "old": "2",
                               "new": "5", "text": "line 10 'Product 1': quantity 2 → 5"}
        Log = env["workflow.log"]
        log = env.search("workflow.log", Log.record == "sale.order", Log.record_id == oid)
        assert [(r.trigger, r.comment) for r in log] == [("approve", None),
                                                         ("amend", "customer wants more")]
        # a second amendment keeps the first one's content too
        order = svc.order.get_order(env, oid)
        order.fire("approve")
        svc.order.amend_order(env, order, reason="new term", changes={"note": "second"})
        assert [r.revision for r in _revisions(env, oid)] == [0, 1]
        assert [d["text"] for d in _revisions(env, oid)[1].diff] == ["note: (none) → second"]


def test_amended_orders_go_through_every_guard_and_approval_again(sf, svc, make_order, order_of_total):
    oid = make_order()
    with sf.transaction("sp1") as env:
        order = svc.order.get_order(env, oid)
        with pytest.raises(TransitionBlocked, match="'amend' is not possible in state 'draft'"):
            svc.order.amend_order(env, order, reason="x", changes={})
        order.fire("approve")
        with pytest.raises(TransitionBlocked, match="needs a comment"):
            svc.order.amend_order(env, order, reason="", changes={"note": "x"})
        with pytest.raises(ValidationError) as exc:
            svc.order.amend_order(env, order, reason="x", changes={"number": "SO/1"})
        assert "number" in exc.value.errors
        assert (order.state, order.revision) == ("approved", 0)
    past = CLIENT_TODAY - dt.timedelta(days=1)
    with sf.transaction("sp1") as env:
        order = svc.order.get_order(env, oid)
        svc.order.amend_order(env, order, reason="backdated",
                              changes={"date_order": past - dt.timedelta(days=5), "validity_date": past})
        with pytest.raises(TransitionBlocked, match="expired"):
            order.fire("approve")
    with sf.transaction("finance") as env:  # sellers only
        order = svc.order.get_order(env, oid)
        with pytest.raises(TransitionBlocked, match="needs one of the roles"):
            order.fire("approve")
    oid = make_order(lines=order_of_total("150000"))
    with sf.transaction("manager") as env:
        assert svc.order.get_order(env, oid).fire("approve").done
    with sf.transaction("sp1") as env:
        order = svc.order.get_order(env, oid)
        # even a change outside the fingerprinted fields voids the approval (new revision)
        svc.order.amend_order(env, order, reason="typo in the note", changes={"note": "fixed"})
        with pytest.raises(TransitionBlocked, match="needs approval by sales_manager"):
            order.fire("approve")
    with sf.transaction("manager") as env:
        order = svc.order.get_order(env, oid)
        outcome = order.fire("approve")
        assert (outcome.done, order.state, order.revision) == (True, "approved", 1)


def _approved_and_partly_shipped(sf, svc, make_order):
    """An approved order of 10 and 4, with 6 and 4 shipped: ``(order id, line 1, line 2)``."""
    oid = make_order(lines=[(0, "10", None), (1, "4", None)])
    with sf.transaction("sp1") as env:
        svc.order.get_order(env, oid).fire("approve")
    with sf.transaction("warehouse") as env:
        order = svc.order.get_order(env, oid)
        first, second = order.lines
        svc.shipment.record_shipment(env, order, {first.id: D("6"), second.id: D("4")})
    return oid, first, second


def test_amending_a_partly_shipped_order_keeps_its_ledger(sf, master, svc, make_order):
    oid, first, second = _approved_and_partly_shipped(sf, svc, make_order)
    with sf.transaction("sp1") as env:
        order = svc.order.get_order(env, oid)
        with pytest.raises(ValidationError) as exc:
            svc.order.amend_order(env, order, reason="less", changes={"lines": [
                {"id": first.id, "quantity": "5"}]})
        assert exc.value.errors == {
            "lines.0.quantity": ["6 are already shipped or invoiced"],
            "lines": ["line 20 'Product 2' was shipped or invoiced and cannot be removed"]}
        with pytest.raises(TransitionBlocked, match="already shipped"):
            svc.order.cancel_order(env, order, "too late")
    with sf.transaction("sp1") as env:
        order = svc.order.get_order(env, oid)
        svc.order.amend_order(env, order, reason="one more", changes={"lines": [
            {"id": first.id, "quantity": "8"}, {"id": second.id},
            {"product_id": master.product_ids[2], "quantity": "1"}]})
        assert [ln.qty_shipped for ln in order.lines] == [D("6"), D("4"), D("0")]
        assert order.shipping_status == "partial"
        order.fire("approve")
    with sf.transaction("warehouse") as env:
        order = svc.order.get_order(env, oid)
        svc.shipment.record_shipment(env, order)
        assert (order.state, order.shipping_status) == ("shipped", "full")
        assert [ln.qty_shipped for ln in order.lines] == [D("8"), D("4"), D("1")]


JAN5 = dt.date(2026, 1, 5)


def _amend_after_half_invoiced(sf, svc, flow, price):
    oid = flow.order(lines=[(0, "10", None)], ship={0: "5"})  # 10 x 100.00
    flow.invoice(oid, date=JAN5)  # 5 x 100.00 = 500.00 + 65.00
    with sf.transaction("sp1") as env:
        order = svc.order.get_order(env, oid)
        svc.order.amend_order(env, order, reason="new price for the rest", changes={
            "lines": [{"id": order.lines[0].id, "quantity": "10", "unit_price": price}]})
        order.fire("approve")
    with sf.transaction("warehouse") as env:
        svc.shipment.record_shipment(env, svc.order.get_order(env, oid), None)
    return oid


@pytest.mark.parametrize(("price", "untaxed", "tax"), [
    ("150", D("750.00"), D("97.50")),  # not the line's 1500.00 less the 500.00 invoiced
    ("40", D("200.00"), D("26.00")),   # not 400.00 - 500.00 = -100.00 (never invoiceable)
])
def test_last_invoice_after_a_price_amendment_is_quantity_times_price(
        sf, master, svc, flow, acc, price, untaxed, tax):
    oid = _amend_after_half_invoiced(sf, svc, flow, price)
    with sf.transaction("finance") as env:
        invoice = acc.invoice.create_invoice(env, oid)
        (line,) = invoice.lines
        assert (line.quantity, line.unit_price) == (D("5"), D(price))
        assert (line.amount_untaxed, line.amount_tax) == (untaxed, tax)
        acc.invoice.post_invoice(env, invoice, date=JAN5)
        assert env.get("sale.order", oid).state == "invoiced"


def test_last_invoice_of_an_unchanged_line_takes_what_is_left(sf, master, svc, flow, acc):
    # 3 x 0.35 = 1.05 + 0.14 (0.1365); 1 x 0.35 = 0.35 + 0.05 (0.0455) per part
    oid = flow.order(lines=[(0, "3", "0.35")], ship={0: "1"})
    flow.invoice(oid, date=JAN5)
    with sf.transaction("warehouse") as env:
        svc.shipment.record_shipment(env, svc.order.get_order(env, oid), None)
    with sf.transaction("finance") as env:
        invoice = acc.invoice.create_invoice(env, oid)
        # the rest of the line's amounts, so the invoices add up to the order: 0.70 + 0.09
        assert (invoice.amount_untaxed, invoice.amount_tax) == (D("0.70"), D("0.09"))
        order = env.get("sale.order", oid)
        assert (order.amount_untaxed, order.amount_tax) == (D("1.05"), D("0.14"))


def test_amending_down_to_what_was_shipped_moves_the_order_on(sf, users, svc, make_order):
    oid, first, second = _approved_and_partly_shipped(sf, svc, make_order)
    with sf.transaction("sp1") as env:  # the customer does not want the rest
        order = svc.order.get_order(env, oid)
        svc.order.amend_order(env, order, reason="no more", changes={"lines": [
            {"id": first.id, "quantity": "6"}, {"id": second.id}]})
        assert (order.state, order.shipping_status) == ("draft", "full")
        order.fire("approve")
        # was: approved and fully shipped, with no shipment left to fire `ship`
        assert (order.state, order.shipping_status) == ("shipped", "full")
    with sf.transaction("sp1") as env:
        order = svc.order.get_order(env, oid)
        assert order.state == "shipped"
        Log = env["workflow.log"]
        log = env.search("workflow.log", Log.record == "sale.order", Log.record_id == oid,
                         order_by=Log.id)
        assert [(r.trigger, r.user_id) for r in log][-2:] == [("approve", users.sp1), ("ship", None)]


def test_a_refused_amendment_changes_nothing(sf, svc, make_order):
    oid = make_order()
    with sf.transaction("sp1") as env:
        svc.order.get_order(env, oid).fire("approve")
    with sf.transaction("sp1") as env:  # the caller catches the refusal and commits
        order = svc.order.get_order(env, oid)
        with pytest.raises(ValidationError) as exc:
            svc.order.amend_order(env, order, reason="x", changes={
                "validity_date": order.date_order - dt.timedelta(days=1)})
        assert exc.value.errors == {"validity_date": ["must not be before the order date"]}
        # was: back to draft as revision 1, with no revision kept
        assert (order.state, order.revision) == ("approved", 0)
    with sf.transaction("sp1") as env:
        order = svc.order.get_order(env, oid)
        assert (order.state, order.revision, _revisions(env, oid)) == ("approved", 0, [])


def test_an_approved_orders_lines_change_only_through_an_amendment(sf, master, svc, make_order):
    """A salesperson may write order lines, but not those of an order past draft: no line is
    changed in what was approved, added, removed or deleted, by the session or a bulk statement
    (the lines are parts of their order, ``__posted_parent__``); the ledger stays open."""
    from sqlalchemy import update

    from core.errors import ImmutableRecord

    oid = make_order(lines=[(0, "2", None), (1, "4", None)])
    with sf.transaction("sp1") as env:
        svc.order.get_order(env, oid).fire("approve")

    def stored():
        with sf.transaction("sp1") as env:
            order = svc.order.get_order(env, oid)
            return (order.state, order.revision, order.amount_total,
                    [(ln.product_id, ln.quantity, ln.unit_price, ln.description) for ln in order.lines])

    before = stored()
    with sf.transaction("sp1") as env:
        first, second = svc.order.get_order(env, oid).lines
        first_id, second_id = first.id, second.id
    reason = "approved (its lines change in draft only: amend it)"
    with pytest.raises(ImmutableRecord) as err, sf.transaction("sp1") as env:
        env.write(env.get("sale.line", first_id), unit_price=D("1"), quantity=D("1000"))
    assert str(err.value) == (f"sale.line {first_id} is part of sale.order {oid}, which is "
                              f"{reason}; quantity, unit_price cannot change")
    with pytest.raises(ImmutableRecord) as err, sf.transaction("sp1") as env:
        env.create("sale.line", order_id=oid, product_id=master.product_ids[2], description="more",
                   quantity=D("1"), unit_price=D("1"))
    assert str(err.value) == f"sale.order {oid} is {reason}: no sale.line can be added to it"
    with pytest.raises(ImmutableRecord) as err, sf.transaction("sp1") as env:
        env.delete(env.get("sale.line", second_id))
    assert str(err.value) == f"sale.line {second_id} cannot be deleted: sale.order {oid} is {reason}"
    with pytest.raises(ImmutableRecord, match=f"sale.line {second_id} is part of .* order_id cannot"):
        with sf.transaction("sp1") as env:
            order = svc.order.get_order(env, oid)
            order.lines = order.lines[:1]
            env.session.flush()
    with pytest.raises(ImmutableRecord, match="bulk update of sale.line is not allowed"):
        with sf.transaction("sp1") as env:
            Line = env["sale.line"]
            env.session.execute(update(Line).where(Line.order_id == oid).values(quantity=D("1")))
    assert stored() == before
    with sf.transaction("sp1") as env:  # the amendment is the way (and the order is draft again)
        order = svc.order.get_order(env, oid)
        svc.order.amend_order(env, order, reason="price", changes={"lines": [
            {"id": first_id, "unit_price": "1"}, {"id": second_id}]})
        assert (order.state, order.revision, order.lines[0].unit_price) == ("draft", 1, D("1"))
