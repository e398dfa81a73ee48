"""Edges of batches with credit checks, found in review: a refused batch the caller catches
keeps what the transaction noted before it; two approval levels given at the same time; two
credit managers releasing batches that name two customers in opposite order."""

from __future__ import annotations

import threading
import time
from decimal import Decimal as D

import pytest
from sqlalchemy import select, text

from core.errors import TransitionBlocked
from core.plugins import hookimpl

pytestmark = pytest.mark.usefixtures("fast_passwords")


def _p0(n):
    return [(3, str(n), None)]


def test_a_caught_refused_batch_keeps_what_the_transaction_noted_before(
        sf, master, make_order, profile, exposure, decisions, svc):
    """Order A approved alone, then a batch refused (grade C refuses) and caught, then the
    commit: A counts in the exposure and keeps its decision."""
    profile(master.c1, credit_limit=D("500"), credit_grade="C")
    a = make_order(lines=_p0(1))
    b, c = make_order(lines=_p0(3)), make_order(lines=_p0(3))
    with sf.transaction("sp1") as env:
        env.get("sale.order", a).fire("approve")
        with pytest.raises(TransitionBlocked):
            svc.order.approve_orders(env, [env.get("sale.order", i) for i in (b, c)])
    assert exposure(master.c1)["approved_unshipped"] == D("100.00")
    assert [(d["order_id"], d["outcome"]) for d in decisions(customer_id=master.c1)
            if d["order_id"] == a] == [(a, "pass")]
    with sf.transaction() as env:
        assert svc.credit.check_consistency(env) == []
def test_two_levels_given_at_the_same_time_approve_the_order(
        sf, db_url, master, make_order, profile, order_of_total):
    """The manager gives level 1 and keeps the transaction open; the director's approval waits
    for the customer's lock and then sees level 1: it gives level 2 (PostgreSQL)."""
    if db_url.startswith("sqlite"):
        pytest.skip("SQLite has no row locks: the second writer waits at BEGIN IMMEDIATE")
    profile(master.c1, credit_limit=D("100000000"))
    oid = make_order(lines=order_of_total("600000"))
    first_done, release = threading.Event(), threading.Event()
    pid = []
    out = {}

    def manager():
        with sf.transaction("manager") as env:
            out["m"] = env.get("sale.order", oid).fire("approve")
            first_done.set()
            release.wait(30)

    def director():
        first_done.wait(30)
        with sf.transaction("director") as env:
            pid.append(env.session.execute(text("select pg_backend_pid()")).scalar())
            try:
                out["d"] = env.get("sale.order", oid).fire("approve")
            except Exception as exc:
                out["d"] = exc

    t1, t2 = threading.Thread(target=manager), threading.Thread(target=director)
    t1.start()
    t2.start()
    deadline = time.monotonic() + 20
    blocked = False
    with sf.engine.connect() as conn:
        while time.monotonic() < deadline:
            if pid and conn.execute(text("select count(*) from pg_locks where pid=:p and not granted"), {"p": pid[0]}).scalar():
                blocked = True
                break
            conn.rollback()
            time.sleep(0.02)
    release.set()
    t1.join(30)
    t2.join(30)
    with sf.transaction() as env:
        A = env["approval"]
        levels = sorted(a.level for a in env.session.scalars(select(A).where(A.record_id == oid)))
        state = env.get("sale.order", oid).state
    assert blocked
    assert state == "approved" and levels == [1, 2]


def test_release_batches_naming_two_customers_in_opposite_order_both_go_through(
        sf, db_url, master, make_order, profile, svc):
    """Each batch pauses after locking its first customer: without locking them all up front,
    in customer id order, the two would deadlock (PostgreSQL)."""
    if db_url.startswith("sqlite"):
        pytest.skip("SQLite admits one writer at a time: the batches cannot interleave")
    profile(master.c1, credit_limit=D("50"))
    profile(master.c2, credit_limit=D("50"))
    ids = {}
    for name, cust in (("a1", master.c2), ("a2", master.c1), ("b1", master.c1), ("b2", master.c2)):
        ids[name] = make_order(customer=cust, lines=_p0(1))
    for name, cust in (("a1", master.c2), ("a2", master.c1), ("b1", master.c1), ("b2", master.c2)):
        user = "sp2" if cust == master.c2 else "sp1"
        with sf.transaction(user) as env:
            env.get("sale.order", ids[name]).fire("approve")  # over the limit: to review
    with sf.transaction() as env:
        assert {env.get("sale.order", i).state for i in ids.values()} == {"credit_review"}
    barrier = threading.Barrier(2)
    firsts = {ids["a1"], ids["b1"]}

    class Pause:
        @hookimpl(trylast=True)
        def workflow_lock_rows(self, record, trigger, env):
            if trigger == "release_credit" and record.id in firsts:
                try:
                    barrier.wait(timeout=10)
                except threading.BrokenBarrierError:
                    pass
    sf.pm.register(Pause(), name="pause")
    results = {}

    def run(key, order_ids):
        try:
            with sf.transaction("cm") as env:
                out = env.fire_many([env.get("sale.order", i) for i in order_ids], "release_credit",
                                    comment="ok")
                results[key] = [o.dest for o in out]
        except Exception as exc:
            results[key] = repr(exc)[:300]

    ts = [threading.Thread(target=run, args=("A", [ids["a1"], ids["a2"]])),
          threading.Thread(target=run, args=("B", [ids["b1"], ids["b2"]]))]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    assert all(isinstance(v, list) for v in results.values()), results
    with sf.transaction() as env:
        assert {env.get("sale.order", i).state for i in ids.values()} == {"approved"}
