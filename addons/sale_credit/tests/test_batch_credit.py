"""Credit limits and the batch services of sale: many orders of one customer in one
transaction, and two batches racing for one customer, one invoice or one order.

Customer c1 gets a limit of 500.00; orders of product P0 (100.00 a piece, no VAT) have exact
totals.

* One ``approve_orders`` batch checks each order after the ones before it moved: 300 + 300
  against 500 approves the first and sends the second to ``credit_review`` (policy "review");
  with policy "refuse" the second is refused and, all or nothing, the first is not approved
  either. 200 + 300 fit exactly: both approved.
* Two batches in parallel, each in its own thread, transaction and connection (as two app
  processes), released together by a barrier: two ``approve_orders`` holding one order of c1
  each, only one of which fits; two ``register_payments`` paying one invoice in full; two
  ``record_shipments`` of one order. One wins, the other is refused as a whole; nothing is
  counted, paid or shipped twice. On PostgreSQL the second waits for the first's row locks
  (the customer's exposure row, the invoice, the order), and ``one_holds`` forces that
  interleaving: the first keeps its transaction open until the second is seen waiting for a
  lock. On SQLite, ``BEGIN IMMEDIATE`` admits one writer at a time (the second waits up to the
  busy timeout).
* Two batches holding orders of c1 and c2 in opposite order (PostgreSQL), each paused after
  locking its first customer: both go through (the batch locks its customers' rows up front,
  in customer id order, so the second waits instead of deadlocking).
"""

from __future__ import annotations

import threading
import time
from decimal import Decimal as D

import pytest
from sqlalchemy import func, select, text

from core.errors import TransitionBlocked, ValidationError

pytestmark = pytest.mark.usefixtures("fast_passwords")

LIMIT = D("500")
P0 = 3  # product index of P0: 100.00, no VAT


def _p0(n: int) -> list:
    """``make_order`` lines of ``n`` x P0 (total ``n`` x 100.00)."""
    return [(P0, str(n), None)]


def _over(code: str, exposure: str, order: str, total: str, grade: str) -> str:
    return (f"credit limit of customer {code} exceeded: exposure {exposure} + order {order} = "
            f"{total} is over the limit 500.00 (grade {grade})")


def _states(sf, ids):
    with sf.transaction() as env:
        return [env.get("sale.order", i).state for i in ids]


def _count(env, record, *criteria):
    cls = env[record]
    with env.sudo():
        return env.session.scalar(select(func.count()).select_from(cls).where(*criteria))


def _consistent(sf, svc):
    """The maintained exposure equals a rebuild from the documents."""
    with sf.transaction() as env:
        return svc.credit.check_consistency(env)


# -- running two workers -------------------------------------------------------------------------


def _race(sf, login, jobs, *, mode="together"):
    """Run each ``job(env)`` in its own thread, transaction and connection; returns per job
    ``("ok", what it returned)`` or ``("refused", the TransitionBlocked / ValidationError)``.

    ``together``: a barrier releases them at once. ``one_holds`` (PostgreSQL, two jobs): the
    first runs and keeps its transaction (and locks) open; the second starts then, and once
    it is seen waiting for a lock (``pg_locks``) the first commits."""
    results: list = [None] * len(jobs)
    failures: list[BaseException] = []
    barrier = threading.Barrier(len(jobs))
    first_done, release = threading.Event(), threading.Event()
    second_pid: list[int] = []

    def run(i, job):
        try:
            if mode == "together":
                barrier.wait(timeout=30)
            elif i == 1:
                assert first_done.wait(timeout=60), "the first worker never got through"
            with sf.transaction(login) as env:
                if mode == "one_holds" and i == 1:
                    second_pid.append(env.session.execute(text("select pg_backend_pid()")).scalar())
                results[i] = ("ok", job(env))
                if mode == "one_holds" and i == 0:
                    first_done.set()
                    release.wait(timeout=60)
        except (TransitionBlocked, ValidationError) as exc:
            results[i] = ("refused", exc)
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)
        finally:
            first_done.set()

    threads = [threading.Thread(target=run, args=(i, job), daemon=True)
               for i, job in enumerate(jobs)]
    for t in threads:
        t.start()
    blocked = None
    try:
        if mode == "one_holds":
            blocked = _wait_until_blocked(sf, second_pid, threads[1])
    finally:
        release.set()
        for t in threads:
            t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a worker is stuck"
    assert not failures, failures
    assert blocked is not False, "the second worker never waited for the first one's locks"
    return results


def _wait_until_blocked(sf, pids: list[int], thread) -> bool:
    """Whether the backend in ``pids`` came to wait for a lock (polled for up to 30 s)."""
    deadline = time.monotonic() + 30
    with sf.engine.connect() as conn:
        while time.monotonic() < deadline and thread.is_alive():
            if pids and conn.execute(text("select count(*) from pg_locks where pid = :pid "
                                          "and not granted"), {"pid": pids[0]}).scalar():
                return True
            conn.rollback()
            time.sleep(0.02)
    return False


@pytest.fixture(autouse=True)
def _postgresql_only(request):
    """Skip (before the data is built) what needs row locks: ``one_holds`` and the
    opposite-order batches on SQLite."""
    params = getattr(request.node, "callspec", None)
    params = params.params if params is not None else {}
    if params.get("db_url") == "sqlite":
        if params.get("mode") == "one_holds":
            pytest.skip("SQLite has no row locks: the second writer waits at BEGIN IMMEDIATE")
        if "service" in params:
            pytest.skip("SQLite admits one writer at a time: the batches cannot interleave")


def _one_winner(results):
    """(winner index, the loser's error): exactly one job went through."""
    kinds = [kind for kind, _ in results]
    assert sorted(kinds) == ["ok", "refused"], results
    winner = kinds.index("ok")
    return winner, results[1 - winner][1]


# -- 1. one batch, one customer ------------------------------------------------------------------


def test_one_batch_review_approves_the_first_and_sends_the_second_to_review(
        sf, master, make_order, profile, exposure, decisions, svc):
    """300 + 300 against 500 (policy review) in one batch: the first is approved, the second,
    checked after it, goes to credit review having seen the first's 300; exposure 300."""
    profile(master.c1, credit_limit=LIMIT)  # grade B: policy review
    first, second = make_order(lines=_p0(3)), make_order(lines=_p0(3))
    with sf.transaction("sp1") as env:
        outcomes = svc.order.approve_orders(env, [env.get("sale.order", i) for i in (first, second)])
        assert [(o.done, o.dest) for o in outcomes] == [(True, "approved"), (True, "credit_review")]
    assert _states(sf, [first, second]) == ["approved", "credit_review"]
    assert exposure(master.c1)["approved_unshipped"] == D("300.00")
    assert [(d["order_id"], d["outcome"], d["exposure"], d["order_amount"], d["state_after"])
            for d in decisions(customer_id=master.c1)] == [
        (first, "pass", D("0.00"), D("300.00"), "approved"),
        (second, "review", D("300.00"), D("300.00"), "credit_review")]
    assert _consistent(sf, svc) == []


def test_one_batch_refuse_refuses_the_batch_that_would_pass_the_limit(
        sf, master, make_order, profile, exposure, svc):
    """300 + 300 against 500 (policy refuse) in one batch: the second is refused with the
    exposure the first would have left (300), and, all or nothing, the first is not approved
    either, even when the caller commits. The first alone then passes."""
    profile(master.c1, credit_limit=LIMIT, credit_grade="C")  # policy refuse
    first, second = make_order(lines=_p0(3)), make_order(lines=_p0(3))
    with sf.transaction("sp1") as env:
        orders = [env.get("sale.order", i) for i in (first, second)]
        with pytest.raises(TransitionBlocked) as exc:
            svc.order.approve_orders(env, orders)
        assert exc.value.refused == {1: [_over("C001", "300.00", "300.00", "600.00", "C")]}
        assert [o.state for o in orders] == ["draft", "draft"]
    assert _states(sf, [first, second]) == ["draft", "draft"]
    assert exposure(master.c1)["approved_unshipped"] == D("0.00")
    with sf.transaction("sp1") as env:
        (outcome,) = svc.order.approve_orders(env, [env.get("sale.order", first)])
        assert outcome.dest == "approved"
    assert _states(sf, [first, second]) == ["approved", "draft"]
    assert exposure(master.c1)["approved_unshipped"] == D("300.00")
    assert _consistent(sf, svc) == []


@pytest.mark.parametrize("grade", ["B", "C"])
def test_one_batch_orders_that_fit_together_are_all_approved(
        sf, master, make_order, profile, exposure, decisions, svc, grade):
    """200 + 300 reach the limit of 500 exactly: both approved, exposure 500 (either policy)."""
    profile(master.c1, credit_limit=LIMIT, credit_grade=grade)
    ids = [make_order(lines=_p0(2)), make_order(lines=_p0(3))]
    with sf.transaction("sp1") as env:
        outcomes = svc.order.approve_orders(env, [env.get("sale.order", i) for i in ids])
        assert [o.dest for o in outcomes] == ["approved", "approved"]
    assert _states(sf, ids) == ["approved", "approved"]
    assert exposure(master.c1)["approved_unshipped"] == LIMIT
    assert [(d["outcome"], d["exposure"]) for d in decisions(customer_id=master.c1)] == [
        ("pass", D("0.00")), ("pass", D("200.00"))]


def test_refused_batch_whose_caller_commits_records_no_approval_that_did_not_happen(
        sf, master, make_order, profile, decisions, svc):
    """The refused batch of the test above, caught by the caller whose transaction commits:
    the decisions never say that the first order was approved (it stayed a draft)."""
    profile(master.c1, credit_limit=LIMIT, credit_grade="C")
    first, second = make_order(lines=_p0(3)), make_order(lines=_p0(3))
    with sf.transaction("sp1") as env:
        with pytest.raises(TransitionBlocked):
            svc.order.approve_orders(env, [env.get("sale.order", i) for i in (first, second)])
    assert _states(sf, [first, second]) == ["draft", "draft"]
    made = decisions(customer_id=master.c1)
    assert [d for d in made if d["state_after"] == "approved"] == []
    assert [(d["order_id"], d["outcome"]) for d in made] == [(second, "refused")]


# -- 2. two approve_orders batches, one customer -------------------------------------------------


@pytest.mark.parametrize("mode", ["together", "one_holds"])
@pytest.mark.parametrize("grade", ["B", "C"])
def test_two_parallel_batches_never_both_approve_over_the_limit(
        sf, master, make_order, profile, exposure, decisions, svc, grade, mode):
    """Two batches in parallel, [c2's order, c1's 300] and [c1's 300, c3's order], limit 500:
    one c1 order is approved; the other goes to credit review (policy review: its batch's
    other order is approved) or refuses its whole batch (policy refuse: its other order stays
    a draft). The loser saw the winner's 300; exposure 300."""
    profile(master.c1, credit_limit=LIMIT, credit_grade=grade)
    a_other = make_order(customer=master.c2, lines=_p0(1))
    a_c1, b_c1 = make_order(lines=_p0(3)), make_order(lines=_p0(3))
    b_other = make_order(customer=master.c3, lines=_p0(1))
    batches = [[a_other, a_c1], [b_c1, b_other]]

    def job(ids):
        def approve(env):
            outcomes = svc.order.approve_orders(env, [env.get("sale.order", i) for i in ids])
            return [o.dest for o in outcomes]
        return approve

    results = _race(sf, "manager", [job(ids) for ids in batches], mode=mode)

    c1_pos = [1, 0]  # position of c1's order in each batch
    if grade == "B":  # review: both batches go through
        assert [kind for kind, _ in results] == ["ok", "ok"], results
        c1_dests = [results[i][1][c1_pos[i]] for i in (0, 1)]
        assert sorted(c1_dests) == ["approved", "credit_review"]
        assert [results[i][1][1 - c1_pos[i]] for i in (0, 1)] == ["approved", "approved"]
        winner = c1_dests.index("approved")
        loser = 1 - winner
        assert _states(sf, batches[winner]) == ["approved", "approved"]
        assert _states(sf, [batches[loser][c1_pos[loser]], batches[loser][1 - c1_pos[loser]]]) == [
            "credit_review", "approved"]
    else:  # refuse: the loser's batch is refused as a whole
        winner, error = _one_winner(results)
        loser = 1 - winner
        assert error.refused == {c1_pos[loser]: [_over("C001", "300.00", "300.00", "600.00", "C")]}
        assert _states(sf, batches[winner]) == ["approved", "approved"]
        assert _states(sf, batches[loser]) == ["draft", "draft"]
    if mode == "one_holds":
        assert winner == 0
    assert exposure(master.c1)["approved_unshipped"] == D("300.00")
    made = [(d["order_id"], d["outcome"], d["exposure"]) for d in decisions(customer_id=master.c1)]
    assert sorted(made) == sorted([
        (batches[winner][c1_pos[winner]], "pass", D("0.00")),
        (batches[loser][c1_pos[loser]], "review" if grade == "B" else "refused", D("300.00"))])
    assert _consistent(sf, svc) == []


# -- 3. two register_payments batches, one invoice -----------------------------------------------


@pytest.mark.parametrize("mode", ["together", "one_holds"])
def test_two_parallel_batches_paying_one_invoice_in_full_pay_it_once(
        sf, master, flow, acc, svc, mode):
    """Two bank-statement batches, each paying the same invoice (226.00) in full and 50.00 of
    an invoice of its own: one batch is registered; the other is refused as a whole (the
    invoice is no longer open) and writes nothing. One payment of the shared invoice, its
    residual 0, the journal balanced, the exposure consistent."""
    shared = flow.invoice(flow.order())           # 2 x P1 + 13 % = 226.00
    own = [flow.invoice(flow.order()), flow.invoice(flow.order())]

    def job(mine):
        def pay(env):
            payments = acc.payment.register_payments(env, [
                {"customer_id": master.c1, "amount": "226.00", "method": "bank_transfer",
                 "allocations": [{"invoice_id": shared, "amount": "226.00"}]},
                {"customer_id": master.c1, "amount": "50.00", "method": "cash",
                 "allocations": [{"invoice_id": mine, "amount": "50.00"}]}])
            return [p.id for p in payments]
        return pay

    results = _race(sf, "finance", [job(own[0]), job(own[1])], mode=mode)

    winner, error = _one_winner(results)
    if mode == "one_holds":
        assert winner == 0
    assert error.errors == {"0.allocations.0.invoice_id": [
        "not an open posted invoice of customer C001"]}
    with sf.transaction("finance") as env:
        Alloc = env["sale.payment.allocation"]
        invoice = env.get("sale.invoice", shared)
        assert (invoice.state, invoice.amount_residual) == ("paid", D("0.00"))
        assert _count(env, "sale.payment.allocation", Alloc.invoice_id == shared) == 1
        assert _count(env, "sale.payment") == 2   # the winner's two
        assert [env.get("sale.invoice", i).amount_residual for i in own] == [
            D("176.00") if i == winner else D("226.00") for i in (0, 1)]
        tb = acc.journal.trial_balance(env)
        assert tb["balanced"]
        balances = {row["code"]: row["balance"] for row in tb["rows"]}
        assert balances["1122"] == 3 * D("226.00") - D("276.00")   # receivable
    assert _consistent(sf, svc) == []


# -- 4. two record_shipments batches, one order --------------------------------------------------


@pytest.mark.parametrize("mode", ["together", "one_holds"])
def test_two_parallel_batches_shipping_one_order_ship_it_once(sf, master, flow, svc, mode):
    """Two warehouse batches, each shipping the same approved order (10 of P1) and one order
    of its own: one batch ships; the other is refused as a whole (the order is shipped
    already) and ships nothing. One shipment of the shared order, 10 shipped, never 20."""
    shared = flow.order(lines=[(0, "10", None)], ship=None)
    own = [flow.order(ship=None), flow.order(ship=None)]

    def job(mine):
        def ship(env):
            orders = [env.get("sale.order", i) for i in (shared, mine)]
            return [s.id for s in svc.shipment.record_shipments(env, orders)]
        return ship

    results = _race(sf, "warehouse", [job(own[0]), job(own[1])], mode=mode)

    winner, error = _one_winner(results)
    if mode == "one_holds":
        assert winner == 0
    assert error.refused == {0: ["only an approved order can be shipped (it is shipped)"]}
    with sf.transaction("warehouse") as env:
        Shipment = env["sale.shipment"]
        assert _count(env, "sale.shipment", Shipment.order_id == shared) == 1
        order = env.get("sale.order", shared)
        assert (order.state, [ln.qty_shipped for ln in order.lines]) == ("shipped", [D("10")])
        assert [env.get("sale.order", own[i]).state for i in (0, 1)] == [
            "shipped" if i == winner else "approved" for i in (0, 1)]
        assert _count(env, "sale.shipment") == 2   # the winner's two
    assert _consistent(sf, svc) == []


# -- two batches, two customers in opposite order ------------------------------------------------


def _pause_after_first_lock(sf, hook: str, first_ids: set[int], parties: int):
    """A plugin whose ``hook`` (``workflow_lock_rows`` or ``sale_shipment_blockers``, run after
    sale_credit's, which locks the customer's exposure row) waits, at the first order of each
    batch, until every batch has locked its first customer: then each goes on to its second."""
    from core.plugins import hookimpl

    barrier = threading.Barrier(parties)

    def pause(order_id):
        if order_id in first_ids:
            try:
                barrier.wait(timeout=10)
            except threading.BrokenBarrierError:
                pass  # the other batch waits for a lock before its first check: nothing to force

    if hook == "workflow_lock_rows":
        class Pause:
            @hookimpl(trylast=True)
            def workflow_lock_rows(self, record, trigger, env):
                if getattr(record, "__record__", "") == "sale.order" and trigger == "approve":
                    pause(record.id)
    else:
        class Pause:
            @hookimpl(trylast=True)
            def sale_shipment_blockers(self, order, quantities, env):
                pause(order.id)
                return []

    plugin = Pause()
    sf.pm.register(plugin, name="test-pause")
    return plugin


@pytest.mark.parametrize("service", ["approve_orders", "record_shipments"])
def test_two_batches_with_two_customers_in_opposite_order_both_go_through(
        sf, master, make_order, flow, svc, service):
    """Batch A [c2's order, c1's order] and batch B [c1's order, c2's order], all within
    credit, each locked its first customer before either checks its second: both batches
    go through (no deadlock), every order moves."""
    if service == "approve_orders":
        a = [make_order(customer=master.c2, lines=_p0(1)), make_order(lines=_p0(1))]
        b = [make_order(lines=_p0(1)), make_order(customer=master.c2, lines=_p0(1))]
        login, done = "manager", "approved"

        def job(ids):
            return lambda env: [o.dest for o in svc.order.approve_orders(
                env, [env.get("sale.order", i) for i in ids])]
    else:
        a = [flow.order(customer=master.c2, ship=None), flow.order(ship=None)]
        b = [flow.order(ship=None), flow.order(customer=master.c2, ship=None)]
        login, done = "warehouse", "shipped"

        def job(ids):
            return lambda env: len(svc.shipment.record_shipments(
                env, [env.get("sale.order", i) for i in ids]))
    plugin = _pause_after_first_lock(
        sf, "workflow_lock_rows" if service == "approve_orders" else "sale_shipment_blockers",
        {a[0], b[0]}, 2)
    try:
        results = _race(sf, login, [job(a), job(b)])
    finally:
        sf.pm.unregister(plugin)
    assert [kind for kind, _ in results] == ["ok", "ok"], results
    assert _states(sf, a + b) == [done] * 4
