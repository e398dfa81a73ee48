"""Approval of sale orders through the configured levels (conftest: over 100,000 a sales manager,
over 500,000 also a director), bound to what was approved by the order's fingerprint."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from sqlalchemy import select

from core.errors import TransitionBlocked

pytestmark = pytest.mark.usefixtures("fast_passwords")

NEEDS_MANAGER = "needs approval by sales_manager (amount 150,000.00 over 100,000.00)"


def _approvals(env, order_id):
    Approval = env["approval"]
    with env.sudo():
        return [(a.level, a.role, a.user_id) for a in env.session.scalars(
            select(Approval).where(Approval.record == "sale.order", Approval.record_id == order_id)
            .order_by(Approval.id))]


def test_salesperson_below_100k_manager_over_it(sf, users, svc, make_order, order_of_total):
    oid = make_order(lines=order_of_total("150000"))
    with sf.transaction("sp1") as env:
        order = svc.order.get_order(env, oid)
        assert env.blockers(order, "approve") == [NEEDS_MANAGER]
        with pytest.raises(TransitionBlocked) as exc:
            order.fire("approve")
        assert exc.value.reasons == [NEEDS_MANAGER]
    with sf.transaction("manager") as env:
        order = svc.order.get_order(env, oid)
        assert order.state == "draft"
        outcome = order.fire("approve", comment="fine")
        assert (outcome.done, outcome.approvals_given, order.state) == (
            True, ["sales_manager"], "approved")
        assert _approvals(env, oid) == [(1, "sales_manager", users.manager)]
    oid = make_order(lines=order_of_total("99999.99"))
    with sf.transaction("sp1") as env:
        order = svc.order.get_order(env, oid)
        assert order.amount_total == D("99999.99")
        outcome = order.fire("approve")
        assert (outcome.done, order.state, outcome.approvals_given) == (True, "approved", [])
        assert _approvals(env, oid) == []


def test_over_500k_needs_manager_then_director_two_people(sf, users, svc, make_order, order_of_total):
    oid = make_order(lines=order_of_total("600000"))
    with sf.transaction("manager") as env:
        order = svc.order.get_order(env, oid)
        outcome = order.fire("approve")
        assert (outcome.done, outcome.approvals_given, outcome.approvals_pending) == (
            False, ["sales_manager"], ["director"])
        assert order.state == "draft"
    with sf.transaction("manager") as env:  # the manager cannot give the director's level
        order = svc.order.get_order(env, oid)
        with pytest.raises(TransitionBlocked, match="needs approval by director"):
            order.fire("approve")
    with sf.transaction("director") as env:
        order = svc.order.get_order(env, oid)
        outcome = order.fire("approve")
        assert (outcome.done, outcome.approvals_given, order.state) == (True, ["director"], "approved")
        assert _approvals(env, oid) == [(1, "sales_manager", users.manager),
                                        (2, "director", users.director)]
    # the same user cannot give both levels (the director is a sales manager too)
    other = make_order(lines=order_of_total("600000"))
    with sf.transaction("director") as env:
        order = svc.order.get_order(env, other)
        assert order.fire("approve").approvals_pending == ["director"]
        with pytest.raises(TransitionBlocked, match="from another user"):
            order.fire("approve")
        assert order.state == "draft"


def test_editing_voids_given_levels_and_a_copy_carries_none(sf, users, master, svc, make_order, order_of_total):
    oid = make_order(lines=order_of_total("600000"))
    with sf.transaction("manager") as env:
        assert not svc.order.get_order(env, oid).fire("approve").done
    with sf.transaction("sp1") as env:
        order = svc.order.get_order(env, oid)
        line = order.lines[0]
        svc.order.update_order(env, order, lines=[{"id": line.id, "discount": "1"}])
    with sf.transaction("director") as env:
        order = svc.order.get_order(env, oid)
        # the manager's approval no longer counts: the director gives the first level again
        outcome = order.fire("approve")
        assert (outcome.done, outcome.approvals_given, outcome.approvals_pending) == (
            False, ["sales_manager"], ["director"])
    with sf.transaction("manager2") as env:  # a second manager cannot give the director level
        with pytest.raises(TransitionBlocked, match="needs approval by director"):
            svc.order.get_order(env, oid).fire("approve")
    oid = make_order(lines=order_of_total("600000"))
    with sf.transaction("manager") as env:
        order = svc.order.get_order(env, oid)
        order.fire("approve")
        copy_id = svc.order.copy_order(env, order).id
    with sf.transaction("director") as env:
        copy = svc.order.get_order(env, copy_id)
        assert _approvals(env, copy_id) == []
        outcome = copy.fire("approve")  # starts again at the first level
        assert (outcome.done, outcome.approvals_given) == (False, ["sales_manager"])


def test_fingerprint_covers_what_is_approved(sf, master, svc, make_order):
    oid = make_order(lines=[(0, "2", "100"), (1, "3", "25.5")])
    with sf.transaction() as env:
        other_term = env.create("sale.payment_term", code="NET60", name="Net 60").id
        vat6 = env.create("sale.tax", code="VAT6", name="VAT 6%", rate=D("0.06")).id
        c1 = env.get("sale.customer", master.c1)
        other_customer = env.create("sale.customer", code="C003", name="Third", name_key="third",
                                    salesperson_id=c1.salesperson_id,
                                    payment_term_id=c1.payment_term_id).id

    def fingerprint(env, order):
        return env.hook.approval_fingerprint(record=order, env=env)

    with sf.transaction("sp1") as env:
        order = svc.order.get_order(env, oid)
        base = fingerprint(env, order)
        assert base == fingerprint(env, order)
        first = order.lines[0].id
        seen = {base}
        for change in ({"lines": [{"id": first, "quantity": "3"}, {"id": order.lines[1].id}]},
                       {"lines": [{"id": first, "unit_price": "99"}, {"id": order.lines[1].id}]},
                       {"lines": [{"id": first, "discount": "5"}, {"id": order.lines[1].id}]},
                       {"lines": [{"id": first, "tax_id": vat6}, {"id": order.lines[1].id}]},
                       {"lines": [{"id": first}]},
                       {"payment_term_id": other_term},
                       {"customer_id": other_customer, "payment_term_id": other_term}):
            svc.order.update_order(env, order, **change)
            current = fingerprint(env, order)
            assert current not in seen, change
            seen.add(current)
        unchanged = fingerprint(env, order)
        svc.order.update_order(env, order, note="a note is not approved")
        assert fingerprint(env, order) == unchanged
    with sf.transaction("sp1") as env:  # reloaded Decimals ("99.000000") hash like fresh ones ("99")
        assert fingerprint(env, svc.order.get_order(env, oid)) == unchanged
