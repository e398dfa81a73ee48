"""The credit check on approve and on shipment: pass, review (released or rejected by a credit
manager, never the order's salesperson), refuse with every reason; what each decision saw.

conftest: c1 grade B (limit 100,000, policy review, salesperson sp1), c2 grade A (500,000,
review, sp2), c3 grade C (10,000, policy refuse, salesperson cm_sp); approval levels over
100,000 (sales_manager) and 500,000 (director). Amounts are 13 % VAT included.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest

from core.errors import AccessDenied, TransitionBlocked
from core.testing import CLIENT_TODAY

pytestmark = pytest.mark.usefixtures("fast_passwords")


def _fire(sf, login, oid, trigger, **kw):
    with sf.transaction(login) as env:
        order = env.get("sale.order", oid)
        outcome = order.fire(trigger, **kw)
        return outcome, order.state


def _state(sf, oid):
    with sf.transaction() as env:
        return env.get("sale.order", oid).state


def test_within_limit_passes_and_the_decision_keeps_what_it_saw(sf, master, make_order, flow,
                                                                 exposure, decisions):
    first = flow.order(lines=[(0, "10", None)], ship={0: "4"})   # 1,130.00; 452.00 shipped
    oid = make_order(lines=[(1, "10", None)])                       # 288.15
    outcome, state = _fire(sf, "sp1", oid, "approve")
    assert (outcome.done, state) == (True, "approved")
    assert exposure(master.c1) == {"receivable": D("0"), "shipped_uninvoiced": D("452.00"),
                                   "approved_unshipped": D("966.15"), "oldest_due_date": None}
    (decision,) = decisions(order_id=oid)
    assert {k: decision[k] for k in ("trigger", "outcome", "policy", "grade", "credit_limit",
                                     "receivable", "shipped_uninvoiced", "approved_unshipped",
                                     "own_amount", "exposure", "order_amount", "hold", "reasons",
                                     "state_after", "user_id")} == {
        "trigger": "approve", "outcome": "pass", "policy": "review", "grade": "B",
        "credit_limit": D("100000.00"), "receivable": D("0.00"),
        "shipped_uninvoiced": D("452.00"), "approved_unshipped": D("678.00"),
        "own_amount": D("0.00"), "exposure": D("1130.00"), "order_amount": D("288.15"),
        "hold": False, "reasons": [], "state_after": "approved", "user_id": sf_user(sf, "sp1")}
    assert decision["components"] == ["receivable", "shipped_uninvoiced", "approved_unshipped"]
    # the first order: one decision when approved, one when shipped
    assert [(d["trigger"], d["outcome"]) for d in decisions(order_id=first)] == [
        ("approve", "pass"), ("ship", "pass")]


def sf_user(sf, login):
    from sqlalchemy import select

    with sf.transaction() as env:
        User = env["res.user"]
        return env.session.scalar(select(User.id).where(User.login == login))


def test_over_limit_goes_to_credit_review_and_a_credit_manager_releases_it(
        sf, master, users, make_order, exposure, decisions):
    big = make_order(lines=[(0, "800", None)])                     # 90,400.00
    assert _fire(sf, "sp1", big, "approve")[1] == "approved"
    oid = make_order(lines=[(0, "100", None)])                     # 11,300.00
    outcome, state = _fire(sf, "sp1", oid, "approve")
    assert (outcome.done, outcome.dest, state) == (True, "credit_review", "credit_review")
    assert exposure(master.c1)["approved_unshipped"] == D("90400.00")  # review does not count
    (review,) = decisions(order_id=oid)
    assert review["outcome"] == "review" and review["state_after"] == "credit_review"
    assert review["reasons"] == [
        "credit limit of customer C001 exceeded: exposure 90,400.00 + order 11,300.00 = "
        "101,700.00 is over the limit 100,000.00 (grade B)"]
    assert (review["exposure"], review["order_amount"], review["credit_limit"]) == (
        D("90400.00"), D("11300.00"), D("100000.00"))

    with pytest.raises(TransitionBlocked) as exc:   # the salesperson cannot release it
        _fire(sf, "sp1", oid, "release_credit")
    assert exc.value.reasons == [
        "'release_credit' needs one of the roles credit_manager",
        "the order's own salesperson cannot release or reject its credit review; another "
        "credit manager must"]
    outcome, state = _fire(sf, "cm", oid, "release_credit", comment="pays reliably")
    assert state == "approved"
    assert exposure(master.c1)["approved_unshipped"] == D("101700.00")
    released = decisions(order_id=oid)[-1]
    assert (released["trigger"], released["outcome"], released["user_id"], released["comment"],
            released["state_after"]) == ("release_credit", "released", users.cm, "pays reliably",
                                         "approved")
    assert released["exposure"] == D("90400.00") and released["order_amount"] == D("11300.00")


def test_the_orders_own_salesperson_never_releases_or_rejects(sf, master, users, make_order,
                                                              profile, decisions):
    profile(master.c3, credit_grade="B", credit_limit=D("100"))    # c3 is cm_sp's customer
    oid = make_order(customer=master.c3, lines=[(0, "1", None)])   # 113.00 by cm_sp
    assert _fire(sf, "cm_sp", oid, "approve")[1] == "credit_review"
    for trigger in ("release_credit", "reject_credit"):
        with pytest.raises(TransitionBlocked) as exc:
            _fire(sf, "cm_sp", oid, trigger, comment="mine")
        assert exc.value.reasons == [
            "the order's own salesperson cannot release or reject its credit review; another "
            "credit manager must"]
    with pytest.raises(TransitionBlocked, match="needs a comment"):
        _fire(sf, "cm", oid, "reject_credit")
    assert _fire(sf, "cm", oid, "reject_credit", comment="too risky")[1] == "cancelled"
    assert [(d["trigger"], d["outcome"]) for d in decisions(order_id=oid)] == [
        ("approve", "review"), ("reject_credit", "rejected")]
    assert decisions(order_id=oid)[-1]["comment"] == "too risky"


def test_refuse_policy_refuses_with_every_reason_and_keeps_the_refusal(
        sf, master, make_order, flow, profile, decisions, exposure):
    today = CLIENT_TODAY
    old = flow.order(customer=master.c3, lines=[(0, "10", None)])        # 1,130.00
    flow.invoice(old, date=today - dt.timedelta(days=90))                # due 60 days ago
    profile(master.c3, credit_hold=True, credit_hold_reason="bounced cheque")
    oid = make_order(customer=master.c3, lines=[(0, "80", None)])        # 9,040.00
    with pytest.raises(TransitionBlocked) as exc:
        _fire(sf, "cm_sp", oid, "approve")
    due = (today - dt.timedelta(days=60)).isoformat()
    assert exc.value.reasons == [
        "customer C003 is on credit hold: bounced cheque",
        "credit limit of customer C003 exceeded: exposure 1,130.00 + order 9,040.00 = "
        "10,170.00 is over the limit 10,000.00 (grade C)",
        f"customer C003 has invoices overdue by 60 days (more than 30); the oldest was due {due}"]
    assert _state(sf, oid) == "draft"
    assert exposure(master.c3)["receivable"] == D("1130.00")
    refusal = decisions(order_id=oid)[-1]       # written after the rollback, in its own transaction
    assert (refusal["outcome"], refusal["state_after"], refusal["reasons"]) == (
        "refused", None, exc.value.reasons)
    assert (refusal["receivable"], refusal["hold"], refusal["hold_reason"],
            refusal["days_overdue"], refusal["overdue_days_allowed"]) == (
        D("1130.00"), True, "bounced cheque", 60, 30)
    # nothing else blocks: the hold lifted, the order smaller, overdue allowed -> approved
    profile(master.c3, credit_hold=False, credit_hold_reason=None)
    with pytest.raises(TransitionBlocked) as exc:
        _fire(sf, "cm_sp", oid, "approve")
    assert len(exc.value.reasons) == 2


def test_approval_levels_and_credit_review_together(sf, master, users, make_order, order_of_total,
                                                    decisions):
    oid = make_order(lines=order_of_total("150000"))     # over 100,000 and over c1's limit
    with pytest.raises(TransitionBlocked) as exc:
        _fire(sf, "sp1", oid, "approve")
    assert exc.value.reasons == [
        "needs approval by sales_manager (amount 150,000.00 over 100,000.00)",
        "credit limit of customer C001 exceeded: exposure 0.00 + order 150,000.00 = 150,000.00 "
        "is over the limit 100,000.00 (grade B)"]
    # the manager gives the approval level; credit still fails: to credit review
    outcome, state = _fire(sf, "manager", oid, "approve")
    assert (outcome.approvals_given, state) == (["sales_manager"], "credit_review")
    outcome, state = _fire(sf, "cm", oid, "release_credit")
    assert state == "approved"
    assert [(d["trigger"], d["outcome"]) for d in decisions(order_id=oid)] == [
        ("approve", "refused"), ("approve", "review"), ("release_credit", "released")]
    # within credit, over 100,000: only the level is missing; credit says it would pass
    oid = make_order(customer=master.c2, lines=order_of_total("150000"))
    with pytest.raises(TransitionBlocked) as exc:
        _fire(sf, "sp2", oid, "approve")
    assert exc.value.reasons == [
        "no credit review needed: exposure 0.00 + order 150,000.00 = 150,000.00 within the "
        "limit 500,000.00",
        "needs approval by sales_manager (amount 150,000.00 over 100,000.00)"]
    assert _fire(sf, "manager", oid, "approve")[1] == "approved"


def test_sales_own_guards_still_apply_before_credit_review(sf, master, make_order, profile):
    profile(master.c1, credit_limit=D("10"))
    oid = make_order(lines=[(0, "1", None)], validity_date=CLIENT_TODAY - dt.timedelta(days=1),
                     date_order=CLIENT_TODAY - dt.timedelta(days=5))
    with pytest.raises(TransitionBlocked) as exc:
        _fire(sf, "sp1", oid, "approve")
    assert exc.value.reasons[0].startswith("the quotation expired on")
    assert any("credit limit of customer C001 exceeded" in r for r in exc.value.reasons)
    assert _state(sf, oid) == "draft"


def test_sellers_withdraw_an_order_in_review(sf, master, make_order, profile):
    profile(master.c1, credit_limit=D("10"))
    oid = make_order(lines=[(0, "1", None)])
    assert _fire(sf, "sp1", oid, "approve")[1] == "credit_review"
    assert _fire(sf, "sp1", oid, "cancel", comment="customer withdrew")[1] == "cancelled"


def test_shipment_check_refuse_policy(sf, master, make_order, svc, profile, decisions):
    oid = make_order(customer=master.c3, lines=[(0, "10", None)])
    assert _fire(sf, "cm_sp", oid, "approve")[1] == "approved"
    profile(master.c3, credit_hold=True, credit_hold_reason="legal dispute")
    with pytest.raises(TransitionBlocked) as exc, sf.transaction("warehouse") as env:
        svc.shipment.record_shipment(env, svc.order.get_order(env, oid))
    assert exc.value.reasons == ["customer C003 is on credit hold: legal dispute"]
    with sf.transaction() as env:
        order = env.get("sale.order", oid)
        assert (order.state, order.shipping_status) == ("approved", "none")
    ship = decisions(order_id=oid)[-1]
    assert (ship["trigger"], ship["outcome"], ship["own_amount"], ship["order_amount"],
            ship["exposure"]) == ("ship", "refused", D("1130.00"), D("1130.00"), D("0.00"))


def test_shipment_check_review_policy_needs_a_shipment_release(sf, master, users, make_order, svc,
                                                               profile, decisions, api):
    oid = make_order(lines=[(0, "10", None)])
    assert _fire(sf, "sp1", oid, "approve")[1] == "approved"
    profile(master.c1, credit_hold=True, credit_hold_reason="audit")

    def ship():
        with sf.transaction("warehouse") as env:
            order = svc.order.get_order(env, oid)
            svc.shipment.record_shipment(env, order, {order.lines[0].id: D("4")})

    with pytest.raises(TransitionBlocked) as exc:
        ship()
    assert exc.value.reasons == [
        "customer C001 is on credit hold: audit",
        f"a credit manager must release the shipment of order {_number(sf, oid)} "
        f"(POST /api/v1/credit/orders/{oid}/release-shipment)"]
    resp = api.client.post(f"/api/v1/credit/orders/{oid}/release-shipment", json={},
                           headers=api.h("cm"))
    assert resp.status_code == 422                      # a comment is required
    resp = api.client.post(f"/api/v1/credit/orders/{oid}/release-shipment",
                           json={"comment": "goods already packed"}, headers=api.h("sp1"))
    assert resp.status_code == 403
    resp = api.client.post(f"/api/v1/credit/orders/{oid}/release-shipment",
                           json={"comment": "goods already packed"}, headers=api.h("cm"))
    assert resp.status_code == 201, resp.get_json()
    ship()                                               # released: ships (partially)
    assert [(d["trigger"], d["outcome"]) for d in decisions(order_id=oid)] == [
        ("approve", "pass"), ("ship", "refused"), ("release_shipment", "released"),
        ("ship", "pass")]
    last = decisions(order_id=oid)[-1]
    assert last["reasons"] == ["customer C001 is on credit hold: audit"]
    assert last["comment"] == f"shipment released by decision {resp.get_json()['decision_id']}"


def _number(sf, oid):
    with sf.transaction() as env:
        return env.get("sale.order", oid).number


@pytest.mark.parametrize("credit_settings", [{
    "check_on_ship": False, "policy": "refuse",
    "grades": {g: {"limit": "100000"} for g in ("A", "B", "C")}}])
def test_no_grade_means_no_limit_and_shipments_unchecked(sf, master, make_order, svc, profile,
                                                         decisions):
    profile(master.c1, credit_grade=None)            # no grade, no default grade: no limit
    oid = make_order(lines=[(0, "1000", None)])      # 113,000.00
    assert _fire(sf, "manager", oid, "approve")[1] == "approved"
    assert decisions(order_id=oid)[0]["credit_limit"] is None
    profile(master.c1, credit_hold=True, credit_hold_reason="dispute")
    with sf.transaction("warehouse") as env:         # no check on shipment
        svc.shipment.record_shipment(env, svc.order.get_order(env, oid))
    assert _state(sf, oid) == "shipped"
    other = make_order(lines=[(0, "1", None)])
    with pytest.raises(TransitionBlocked) as exc:    # the global policy: refuse
        _fire(sf, "sp1", other, "approve")
    assert exc.value.reasons == ["customer C001 is on credit hold: dispute"]


def test_only_credit_managers_change_credit_profiles(sf, master, users):
    import importlib

    from core.errors import ValidationError

    profile = importlib.import_module("sale_credit.services.profile")
    for login in ("sp1", "finance"):   # they may write customers, not their credit columns
        with pytest.raises(ValidationError) as exc, sf.transaction(login) as env:
            env.write(env.get("sale.customer", master.c1), credit_limit=D("999999"))
        assert exc.value.errors == {
            "credit_limit": ["only a credit manager may change the credit profile"]}
        with pytest.raises(AccessDenied), sf.transaction(login) as env:
            profile.set_hold(env, master.c1, "because")
    with sf.transaction("sp1") as env:   # other fields: fine
        env.write(env.get("sale.customer", master.c1), notes="met them")
    with pytest.raises(AccessDenied), sf.transaction("cm") as env:   # only through the services
        env.write(env.get("sale.customer", master.c1), notes="x")
    with sf.transaction("cm") as env:
        profile.update_profile(env, master.c1, credit_limit=D("5"), note="why not")
    with sf.transaction() as env:
        assert env.get("sale.customer", master.c1).credit_limit == D("5.00")
