"""Edges of the batch services found in review: the order of workflow log rows when one
transition fires another, caches that must not outlive a rolled-back savepoint, the first order
of a year numbered in its INSERT, a document named twice in one batch."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.errors import TransitionBlocked, ValidationError

pytestmark = pytest.mark.usefixtures("fast_passwords")


@pytest.fixture
def sf(make_sf):
    """Invoice policy "ordered": an order can be invoiced before it is shipped."""
    return make_sf(["sale"], settings={"sale": {"invoice_policy": "ordered"}})


def test_a_transition_fired_from_another_is_logged_after_it(sf, master, flow, svc):
    """Shipping an order already invoiced fires ``invoice`` from within ``ship``: the log keeps
    ship before invoice."""
    oid = flow.order(ship=None)
    flow.invoice(oid)
    with sf.transaction() as env:
        svc.shipment.record_shipment(env, svc.order.get_order(env, oid))
    with sf.transaction() as env:
        Log = env["workflow.log"]
        rows = env.session.scalars(select(Log).where(Log.record == "sale.order", Log.record_id == oid)
                                   .order_by(Log.id)).all()
        assert [(r.trigger, r.source, r.dest) for r in rows] == [
            ("approve", "draft", "approved"), ("ship", "approved", "shipped"),
            ("invoice", "shipped", "invoiced")]


def test_a_refused_posting_batch_leaves_no_stale_account_ids(sf, master, flow, acc):
    """On a fresh database the first posting creates the chart of accounts; when that posting
    batch is refused (and rolled back), a later posting in the same transaction still books on
    accounts that exist."""
    o1, o2 = flow.order(), flow.order()
    with sf.transaction("finance") as env:
        inv1 = acc.invoice.create_invoice(env, o1)
        inv2 = acc.invoice.create_invoice(env, o2)
        acc.invoice.cancel_invoice(env, inv2)
    with sf.transaction("finance") as env:
        first, cancelled = env.get("sale.invoice", inv1.id), env.get("sale.invoice", inv2.id)
        with pytest.raises(TransitionBlocked):
            acc.invoice.post_invoices(env, [first, cancelled])
        acc.invoice.post_invoice(env, first)
    with sf.transaction() as env:
        Account, Line = env["sale.account"], env["sale.journal.line"]
        booked = set(env.session.scalars(select(Line.account_id)))
        assert booked and booked <= set(env.session.scalars(select(Account.id)))
        assert acc.journal.trial_balance(env)["balanced"]


@pytest.mark.parametrize("batch", [False, True])
def test_the_first_orders_of_a_year_are_numbered_in_their_insert(sf, master, svc, batch):
    """The year's sequence row is created on first use without flushing the orders waiting for
    their number: each order's creation is one audit row that holds its number."""
    spec = {"customer_id": master.c1, "lines": [{"product_id": master.product_ids[0], "quantity": "2"}]}
    with sf.transaction("sp1") as env:
        if batch:
            ids = [o.id for o in svc.order.create_orders(env, [dict(spec), dict(spec)])]
        else:
            ids = [svc.order.create_order(env, **spec).id]
    with sf.transaction() as env:
        A = env["audit.log"]
        rows = env.session.scalars(select(A).where(A.record == "sale.order", A.record_id.in_(ids))
                                   .order_by(A.id)).all()
        assert [r.action for r in rows] == ["create"] * len(ids)
        assert all(r.changes["number"][1].startswith("SO/") for r in rows)


def test_an_order_named_twice_in_a_batch_is_refused(sf, master, flow, acc, svc):
    approved, shippable = flow.order(ship=None), flow.order(ship=None)
    with sf.transaction("finance") as env:
        order = env.get("sale.order", approved)
        with pytest.raises(ValidationError) as exc:
            acc.invoice.invoice_orders(env, [order, order], post=False)
        assert "given twice" in str(exc.value)
    with sf.transaction("warehouse") as env:
        order = env.get("sale.order", shippable)
        with pytest.raises(ValidationError):
            svc.shipment.record_shipments(env, [order, order])
    with sf.transaction() as env:
        assert env.session.scalars(select(env["sale.invoice"].id)).all() == []
        assert env.session.scalars(select(env["sale.shipment"].id)).all() == []
