"""Two workers at once on the same documents, each in its own transaction on its own
connection (as two app processes): the outcome is the one a serial run would give.

On PostgreSQL the workers queue on row locks (``SELECT .. FOR UPDATE``: invoices, then their
orders); on SQLite on the one writer that ``BEGIN IMMEDIATE`` admits (busy timeout). Every
test starts the workers together at a barrier and runs on both databases.
"""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal as D

import pytest

from core.errors import TransitionBlocked, ValidationError

pytestmark = pytest.mark.usefixtures("fast_passwords")


def _at_once(*work):
    """Run the callables in parallel threads started together; ``[(result, error)]``."""
    barrier = threading.Barrier(len(work))
    outcomes: list = [None] * len(work)

    def run(index, fn):
        try:
            barrier.wait(timeout=30)
            outcomes[index] = (fn(), None)
        except BaseException as exc:  # noqa: BLE001 - returned to the test
            outcomes[index] = (None, exc)

    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(work)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads), "a worker hung"
    return outcomes


def _two_invoices(sf, flow, svc, acc):
    """An order of 10 x P0 shipped and invoiced in two parts (4, then 6): ``(order, [invoices])``."""
    oid = flow.order(lines=[(0, "10", None)], ship={0: "4"})
    first = flow.invoice(oid)
    with sf.transaction("warehouse") as env:
        svc.shipment.record_shipment(env, svc.order.get_order(env, oid))
    return oid, [first, flow.invoice(oid)]


def test_two_payments_settling_an_orders_last_invoices_at_once_leave_it_paid(
        sf, master, flow, svc, acc):
    """Each payment settles one of the order's two invoices; each then asks whether all of
    the order's invoices are paid. They must not both answer "not yet" from what they saw
    before the other committed: the second waits (payment number, then the order's row)
    and sees the first's payment."""
    cases = [_two_invoices(sf, flow, svc, acc) for _ in range(3)]
    for oid, invoice_ids in cases:
        with sf.transaction() as env:
            residuals = [env.get("sale.invoice", i).amount_residual for i in invoice_ids]

        def pay(invoice_id, amount):
            def run():
                with sf.transaction("finance") as env:
                    return acc.payment.register_payment(
                        env, customer_id=master.c1, amount=amount, method="bank_transfer",
                        allocations=[{"invoice_id": invoice_id, "amount": amount}]).id
            return run

        outcomes = _at_once(*(pay(i, r) for i, r in zip(invoice_ids, residuals, strict=True)))
        assert [error for _, error in outcomes] == [None, None]
        with sf.transaction() as env:
            assert [env.get("sale.invoice", i).state for i in invoice_ids] == ["paid", "paid"]
            order = env.get("sale.order", oid)
            assert (order.state, order.payment_status) == ("paid", "full")


def test_two_payments_of_one_invoices_whole_residual_at_once_allocate_it_once(
        sf, master, flow, acc):
    """Both offer the full 1,130.00: the first settles it, the second is refused (nothing
    open is left for it) and leaves no payment behind."""
    oid = flow.order(lines=[(0, "10", None)])
    iid = flow.invoice(oid)
    with sf.transaction() as env:
        total = env.get("sale.invoice", iid).amount_total

    def pay():
        with sf.transaction("finance") as env:
            return acc.payment.register_payment(
                env, customer_id=master.c1, amount=total, method="bank_transfer",
                allocations=[{"invoice_id": iid, "amount": total}]).id

    outcomes = _at_once(pay, pay)
    done = [result for result, error in outcomes if error is None]
    refused = [error for _, error in outcomes if error is not None]
    assert len(done) == 1 and len(refused) == 1
    assert isinstance(refused[0], ValidationError)
    assert "allocations.0" in " ".join(refused[0].errors)
    with sf.transaction() as env:
        invoice = env.get("sale.invoice", iid)
        assert (invoice.state, invoice.amount_residual) == ("paid", D("0.00"))
        Allocation = env["sale.payment.allocation"]
        allocated = env.search("sale.payment.allocation", Allocation.invoice_id == iid)
        assert [a.amount for a in allocated] == [total]
        assert [p.id for p in env.search("sale.payment")] == done
        assert env.get("sale.order", oid).state == "paid"


def test_two_invoicings_of_one_order_at_once_invoice_it_once(sf, master, flow, acc):
    """Finance invoices a shipped order twice at the same moment: one invoice of all of it;
    the other is refused, as it would be after the first (nothing is left to invoice)."""
    oid = flow.order(lines=[(0, "10", None), (1, "3", None)])

    def invoice():
        with sf.transaction("finance") as env:
            return acc.invoice.invoice_orders(env, [env.get("sale.order", oid)])[0].id

    outcomes = _at_once(invoice, invoice)
    done = [result for result, error in outcomes if error is None]
    refused = [error for _, error in outcomes if error is not None]
    assert len(done) == 1 and len(refused) == 1, outcomes
    assert isinstance(refused[0], (TransitionBlocked, ValidationError))
    with sf.transaction() as env:
        assert [i.id for i in env.search("sale.invoice")] == done
        order = env.get("sale.order", oid)
        assert order.state == "invoiced"
        assert [line.qty_invoiced for line in order.lines] == [line.quantity for line in order.lines]


def test_numbers_stay_gap_free_when_six_postings_and_five_payments_race(sf, master, flow, acc):
    """Six finance workers post six invoices at once; one fails after taking its number and
    rolls back: the other five are numbered 1-5 with no gap and no repeat, as are their
    journal entries. Five payments at once get five distinct numbers."""
    drafts = [flow.invoice(flow.order(), post=False) for _ in range(6)]

    def post(invoice_id, fail):
        def work():
            with sf.transaction("finance") as env:
                invoice = env.get("sale.invoice", invoice_id)
                acc.invoice.post_invoice(env, invoice, date=dt.date(2026, 3, 1))
                if fail:
                    raise RuntimeError("the client went away after numbering")
                return invoice.number
        return work

    outcomes = _at_once(*[post(i, fail=(k == 2)) for k, i in enumerate(drafts)])
    errors = [error for _, error in outcomes if error is not None]
    assert len(errors) == 1 and isinstance(errors[0], RuntimeError), outcomes
    with sf.transaction() as env:
        numbers = sorted(env.get("sale.invoice", i).number or "-" for i in drafts)
        entries = sorted(e.number for e in env.search("sale.journal.entry"))
        assert env.get("sale.invoice", drafts[2]).state == "draft"
    assert numbers == ["-"] + [f"INV/2026/{n:06d}" for n in range(1, 6)]
    assert len(entries) == 5 == len(set(entries))
    outcomes = _at_once(*[(lambda: flow.pay(master.c1, "10.00", date=dt.date(2026, 3, 1)))
                          for _ in range(5)])
    assert all(error is None for _, error in outcomes), outcomes
    with sf.transaction() as env:
        payments = sorted(p.number for p in env.search("sale.payment"))
    assert len(payments) == 5 == len(set(payments))


# -- one Idempotency-Key, requests at once ---------------------------------------------------


def _posts_at_once(sf, make_client, url, headers, bodies):
    """``bodies`` posted to ``url`` at once, each by its own client (its own connection):
    ``[(status, replayed header, JSON)]`` in the bodies' order."""
    clients = [make_client(sf) for _ in bodies]

    def post(i):
        return lambda: clients[i].post(url, json=bodies[i], headers=headers)

    out = []
    for response, error in _at_once(*(post(i) for i in range(len(bodies)))):
        assert error is None, error
        out.append((response.status_code, response.headers.get("Idempotent-Replayed"),
                    response.get_json()))
    return out


def test_requests_with_one_idempotency_key_at_once_all_get_the_first_response(
        sf, master, api, make_client):
    """Three creations of one order with one key at once: one order, and every request answers
    with its response (two of them replayed), never a 409 from the key's unique constraint."""
    body = {"customer_id": master.c1, "lines": [{"product_id": master.product_ids[0], "quantity": "1"}]}
    out = _posts_at_once(sf, make_client, "/api/v1/orders",
                         api.h("sp1", **{"Idempotency-Key": "k-1"}), [body] * 3)
    assert sorted(status for status, _r, _j in out) == [201, 201, 201], out
    assert sorted(replayed or "" for _s, replayed, _j in out) == ["", "true", "true"]
    assert len({j["id"] for _s, _r, j in out}) == 1 and all(j == out[0][2] for _s, _r, j in out)
    with sf.transaction() as env:
        assert len(env.search("sale.order")) == 1


def test_a_payment_replayed_at_once_is_not_refused_for_what_the_first_one_paid(
        sf, master, flow, api, make_client):
    """Two payments of an invoice's whole residual with one key at once: the second answers the
    first's 201, not a 422 "not an open invoice" (what redoing it after the first would say)."""
    iid = flow.invoice(flow.order())  # 226.00
    body = {"customer_id": master.c1, "amount": "226.00", "method": "bank_transfer",
            "allocations": [{"invoice_id": iid, "amount": "226.00"}]}
    out = _posts_at_once(sf, make_client, "/api/v1/payments",
                         api.h("finance", **{"Idempotency-Key": "pay-1"}), [body] * 2)
    assert [s for s, _r, _j in out] == [201, 201], out
    assert out[0][2] == out[1][2]
    with sf.transaction() as env:
        assert len(env.search("sale.payment")) == 1
        assert env.get("sale.invoice", iid).state == "paid"


def test_one_idempotency_key_with_two_bodies_at_once_is_one_201_and_one_422(
        sf, master, api, make_client):
    bodies = [{"customer_id": master.c1,
               "lines": [{"product_id": master.product_ids[0], "quantity": qty}]} for qty in "12"]
    out = _posts_at_once(sf, make_client, "/api/v1/orders",
                         api.h("sp1", **{"Idempotency-Key": "k-2"}), bodies)
    assert sorted(s for s, _r, _j in out) == [201, 422], out
    refused = next(j for s, _r, j in out if s == 422)
    assert list(refused["error"]["fields"]) == ["Idempotency-Key"]
    with sf.transaction() as env:
        assert len(env.search("sale.order")) == 1
