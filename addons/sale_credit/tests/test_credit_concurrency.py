"""Concurrent approvals for one customer never both pass a limit only one of them fits.

20 orders of exactly 100.00 (product P0, no VAT) against a limit of 500.00, approved at once
from 20 threads, each in its own transaction on its own connection (as 20 app processes
would): exactly 5 are approved, the 15 others refused (policy "refuse") or sent to credit review
(policy "review"), and the exposure is exactly 500.00. On PostgreSQL the approvals queue on the
customer's exposure row (``SELECT .. FOR UPDATE``); on SQLite on the one writer that
``BEGIN IMMEDIATE`` admits (waiting up to the busy timeout). On PostgreSQL, approvals for
another customer do not wait for a customer's lock.
"""

from __future__ import annotations

import threading
from decimal import Decimal as D

import pytest
from sqlalchemy import text

from core.errors import TransitionBlocked

pytestmark = pytest.mark.usefixtures("fast_passwords")

N, LIMIT = 20, D("500")


def _approve_all_at_once(sf, order_ids, login):
    barrier = threading.Barrier(len(order_ids))
    results: dict[int, str] = {}
    errors: list[BaseException] = []

    def approve(oid):
        try:
            barrier.wait(timeout=30)
            with sf.transaction(login) as env:
                order = env.get("sale.order", oid)
                results[oid] = order.fire("approve").dest
        except TransitionBlocked:
            results[oid] = "refused"
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=approve, args=(oid,)) for oid in order_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    return results


@pytest.mark.parametrize("policy", ["refuse", "review"])
def test_twenty_parallel_approvals_against_a_limit_of_five(sf, master, make_order, profile,
                                                           exposure, decisions, policy):
    profile(master.c1, credit_limit=LIMIT, credit_grade="C" if policy == "refuse" else "B")
    orders = [make_order(lines=[(3, "1", None)]) for _ in range(N)]   # P0: 100.00, no VAT
    with sf.transaction() as env:
        assert {env.get("sale.order", oid).amount_total for oid in orders} == {D("100.00")}

    results = _approve_all_at_once(sf, orders, "sp1")

    other = "refused" if policy == "refuse" else "credit_review"
    assert sorted(results.values()).count("approved") == 5
    assert sorted(results.values()).count(other) == 15
    with sf.transaction() as env:
        states = [env.get("sale.order", oid).state for oid in orders]
    assert states.count("approved") == 5
    assert states.count("draft" if policy == "refuse" else "credit_review") == 15
    assert exposure(master.c1)["approved_unshipped"] == D("500.00")
    # every decision was taken in turn: the passes saw 0, 100, ... 400; the others 500
    made = decisions(customer_id=master.c1)
    assert len(made) == N
    passed = sorted(d["exposure"] for d in made if d["outcome"] == "pass")
    assert passed == [D("0.00"), D("100.00"), D("200.00"), D("300.00"), D("400.00")]
    assert {d["exposure"] for d in made if d["outcome"] != "pass"} == {D("500.00")}
    assert {d["outcome"] for d in made if d["outcome"] != "pass"} == {
        "refused" if policy == "refuse" else "review"}


def test_other_customers_do_not_wait_for_a_customers_lock(sf, master, make_order, profile):
    if sf.dialect != "postgresql":
        pytest.skip("SQLite admits one writer at a time: every write waits (busy timeout)")
    a1 = make_order(lines=[(3, "1", None)])                       # customer c1 (sp1)
    a2 = make_order(lines=[(3, "1", None)])
    b = make_order(customer=master.c2, lines=[(3, "1", None)])    # customer c2 (sp2)
    locked, release = threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def hold_c1():
        try:
            with sf.transaction("sp1") as env:
                env.get("sale.order", a1).fire("approve")   # holds c1's exposure row
                locked.set()
                release.wait(timeout=30)
        except BaseException as exc:  # noqa: BLE001
            failures.append(exc)
            locked.set()

    holder = threading.Thread(target=hold_c1)
    holder.start()
    try:
        assert locked.wait(timeout=30) and not failures
        # another customer's approval goes through at once
        with sf.transaction("sp2") as env:
            env.session.execute(text("SET LOCAL lock_timeout = '2s'"))
            assert env.get("sale.order", b).fire("approve").dest == "approved"
        # the same customer's approval waits for the lock (here: gives up after 0.3 s)
        from sqlalchemy.exc import OperationalError

        with pytest.raises(OperationalError, match="lock timeout"), \
                sf.transaction("sp1") as env:
            env.session.execute(text("SET LOCAL lock_timeout = '300ms'"))
            env.get("sale.order", a2).fire("approve")
    finally:
        release.set()
        holder.join(timeout=30)
    assert not failures
    with sf.transaction() as env:
        assert [env.get("sale.order", i).state for i in (a1, a2, b)] == ["approved", "draft", "approved"]
