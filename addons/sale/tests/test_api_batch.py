"""REST API of the batch actions: POST /orders/batch, /orders/batch/triggers/<trigger>,
/orders/batch/shipments, /invoices/batch and /payments/batch. All or nothing: a 409 lists every
order refused by id, a 422 names the field by the item's position, a hidden id is a 404, and
nothing is written by a refused request."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from core.testing import CLIENT_TODAY

pytestmark = pytest.mark.usefixtures("fast_passwords")

URL = "/api/v1/orders"
YEAR = CLIENT_TODAY.year


def _order(master, qty="2", customer=None, **extra):
    return {"customer_id": customer or master.c1,
            "lines": [{"product_id": master.product_ids[0], "quantity": qty}], **extra}


def _count(sf, record):
    with sf.transaction() as env:
        return env.session.scalar(select(func.count()).select_from(env[record]))


def _get(api, login, path):
    r = api.client.get(path, headers=api.h(login))
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def _create(api, master, n=2, login="sp1", **extra):
    r = api.client.post(f"{URL}/batch", json={"orders": [_order(master, **extra) for _ in range(n)]},
                        headers=api.h(login))
    assert r.status_code == 201, r.get_json()
    return [o["id"] for o in r.get_json()["orders"]]


def _approve(api, ids, login="sp1"):
    r = api.client.post(f"{URL}/batch/triggers/approve", json={"ids": ids}, headers=api.h(login))
    assert r.status_code == 200, r.get_json()


def _ship(api, ids):
    r = api.client.post(f"{URL}/batch/shipments", json={"ids": ids}, headers=api.h("warehouse"))
    assert r.status_code == 201, r.get_json()


def test_create_orders_201_and_idempotent_replay(sf, api, master):
    """201 with the orders in the request's order, numbered in one block; the same
    Idempotency-Key and body replays the first answer and creates nothing more."""
    body = {"orders": [_order(master), _order(master, qty="3", note="rush")]}
    headers = api.h("sp1", **{"Idempotency-Key": "import-42"})
    first = api.client.post(f"{URL}/batch", json=body, headers=headers)
    assert first.status_code == 201, first.get_json()
    orders = first.get_json()["orders"]
    assert [(o["number"], o["state"], o["amount_total"], o["note"]) for o in orders] == [
        (f"SO/{YEAR}/000001", "draft", "226.00", None),
        (f"SO/{YEAR}/000002", "draft", "339.00", "rush")]
    again = api.client.post(f"{URL}/batch", json=body, headers=headers)
    assert (again.status_code, again.get_json()) == (201, first.get_json())
    assert again.headers["Idempotent-Replayed"] == "true"
    other = api.client.post(f"{URL}/batch", json={"orders": [_order(master)]}, headers=headers)
    assert other.status_code == 422 and "Idempotency-Key" in other.get_json()["error"]["fields"]
    assert _count(sf, "sale.order") == 2
    got = _get(api, "sp1", f"{URL}/{orders[1]['id']}")
    assert (got["number"], got["lines"][0]["quantity"]) == (f"SO/{YEAR}/000002", "3.000")
    (third,) = _create(api, master, n=1)  # the numbers go on without a gap
    assert _get(api, "sp1", f"{URL}/{third}")["number"] == f"SO/{YEAR}/000003"


def test_create_orders_422_keys_name_the_position_and_nothing_is_created(sf, api, master):
    """Service and schema errors alike are keyed "orders.<position>.<field>"; a customer the
    user may not see is unknown; nothing is created and no number is taken."""
    c, h = api.client, api.h("sp1")
    bad = c.post(f"{URL}/batch", json={"orders": [
        _order(master), _order(master, qty="0")]}, headers=h)
    assert bad.status_code == 422
    assert bad.get_json()["error"]["fields"] == {"orders.1.lines.0.quantity": ["must be positive"]}
    bad = c.post(f"{URL}/batch", json={"orders": [
        _order(master, customer=999999), _order(master), _order(master, customer=master.c2)]}, headers=h)
    assert bad.status_code == 422
    assert bad.get_json()["error"]["fields"] == {
        "orders.0.customer_id": ["no sale.customer 999999"],
        "orders.2.customer_id": [f"no sale.customer {master.c2}"]}
    bad = c.post(f"{URL}/batch", json={"orders": [_order(master), {"lines": []}]}, headers=h)
    assert bad.status_code == 422
    assert set(bad.get_json()["error"]["fields"]) == {"orders.1.customer_id"}
    for body in ({"orders": []}, {}, {"orders": "x"}):
        r = c.post(f"{URL}/batch", json=body, headers=h)
        assert r.status_code == 422 and list(r.get_json()["error"]["fields"]) == ["orders"], body
    assert c.post(f"{URL}/batch", json={"orders": [_order(master)]},
                  headers=api.h("warehouse")).status_code == 403
    assert _count(sf, "sale.order") == 0
    (first,) = _create(api, master, n=1)
    assert _get(api, "sp1", f"{URL}/{first}")["number"] == f"SO/{YEAR}/000001"


def test_batch_trigger_200_409_and_nothing_moves(sf, api, master):
    """approve on many: 200 with one outcome per order; one expired quotation makes it a 409
    whose "refused" is keyed by that order's id, and no order moved."""
    c, h = api.client, api.h("sp1")
    a, b = _create(api, master)
    r = c.post(f"{URL}/batch/triggers/approve", json={"ids": [b, a], "comment": "go"}, headers=h)
    assert r.status_code == 200, r.get_json()
    assert [(o["id"], o["state"], o["done"], o["source"], o["dest"], o["approvals_pending"])
            for o in r.get_json()["outcomes"]] == [
        (b, "approved", True, "draft", "approved", []), (a, "approved", True, "draft", "approved", [])]
    assert [e["comment"] for e in _get(api, "sp1", f"{URL}/{a}/log")] == ["go"]

    past = (CLIENT_TODAY - dt.timedelta(days=2)).isoformat()
    (good,) = _create(api, master, n=1)
    (expired,) = _create(api, master, n=1, date_order=past, validity_date=past)
    number = _get(api, "sp1", f"{URL}/{expired}")["number"]
    r = c.post(f"{URL}/batch/triggers/approve", json={"ids": [good, expired]}, headers=h)
    assert r.status_code == 409
    error = r.get_json()["error"]
    reason = f"the quotation expired on {past}; change its validity date or copy it"
    assert (error["code"], error["trigger"]) == ("transition_refused", "approve")
    assert error["refused"] == {str(expired): [reason]}
    assert error["reasons"] == [f"{number}: {reason}"]
    assert [_get(api, "sp1", f"{URL}/{i}")["state"] for i in (good, expired)] == ["draft", "draft"]
    assert _get(api, "sp1", f"{URL}/{good}/log") == []

    r = c.post(f"{URL}/batch/triggers/approve", json={"ids": [good, good]}, headers=h)
    assert r.status_code == 422 and list(r.get_json()["error"]["fields"]) == ["ids"]
    r = c.post(f"{URL}/batch/triggers/cancel", json={"ids": [good], "comment": "x"}, headers=h)
    assert r.status_code == 422 and list(r.get_json()["error"]["fields"]) == ["trigger"]
    assert c.post(f"{URL}/batch/triggers/approve", json={"ids": []}, headers=h).status_code == 422
    assert c.post(f"{URL}/batch/triggers/approve", json={"ids": [good, 999999]},
                  headers=h).status_code == 404
    assert _get(api, "sp1", f"{URL}/{good}")["state"] == "draft"


def test_batch_trigger_with_approval_levels(sf, api, master):
    """A manager approving a batch with an order over 500,000: that order's outcome is not done
    (the director's level pending), the others are approved; 200."""
    (small,) = _create(api, master, n=1)
    (big,) = _create(api, master, n=1, lines=[  # 600,000.00 with VAT
        {"product_id": master.product_ids[0], "quantity": "1", "unit_price": "530973.451327"}])
    r = api.client.post(f"{URL}/batch/triggers/approve", json={"ids": [big, small]},
                        headers=api.h("manager"))
    assert r.status_code == 200, r.get_json()
    assert [(o["id"], o["state"], o["done"], o["approvals_given"], o["approvals_pending"])
            for o in r.get_json()["outcomes"]] == [
        (big, "draft", False, ["sales_manager"], ["director"]),
        (small, "approved", True, [], [])]


def test_batch_trigger_naming_an_order_hidden_by_record_rules_is_404(sf, api, master):
    """sp2 naming one of sp1's orders among its own: 404, and its own order did not move."""
    (mine,) = _create(api, master, n=1, login="sp2", customer=master.c2)
    (theirs,) = _create(api, master, n=1)
    r = api.client.post(f"{URL}/batch/triggers/approve", json={"ids": [mine, theirs]},
                        headers=api.h("sp2"))
    assert r.status_code == 404
    assert _get(api, "sp2", f"{URL}/{mine}")["state"] == "draft"
    assert _get(api, "sp1", f"{URL}/{theirs}")["state"] == "draft"
    r = api.client.post(f"{URL}/batch/shipments", json={"ids": [mine]}, headers=api.h("sp2"))
    assert r.status_code == 403


def test_batch_shipments_201_and_409(sf, api, master):
    """The warehouse ships what is left of many orders: 201 with one shipment each and the
    orders shipped; a draft among them is a 409 keyed by its id and nothing is shipped."""
    a, b, draft = _create(api, master, n=3)
    _approve(api, [a, b])
    c, h = api.client, api.h("warehouse")
    r = c.post(f"{URL}/batch/shipments", json={"ids": [a, draft, b]}, headers=h)
    assert r.status_code == 409
    assert r.get_json()["error"]["refused"] == {
        str(draft): ["only an approved order can be shipped (it is draft)"]}
    assert _count(sf, "sale.shipment") == 0
    assert [ln["qty_shipped"] for ln in _get(api, "sp1", f"{URL}/{a}")["lines"]] == ["0.000"]
    bad = c.post(f"{URL}/batch/shipments", json={"ids": [a], "reference": "x" * 65}, headers=h)
    assert bad.status_code == 422 and list(bad.get_json()["error"]["fields"]) == ["reference"]
    assert c.post(f"{URL}/batch/shipments", json={"ids": [a]}, headers=api.h("sp1")).status_code == 403
    r = c.post(f"{URL}/batch/shipments", json={"ids": [b, a], "date": "2026-01-05",
                                               "reference": "DN-7"}, headers=h)
    assert r.status_code == 201, r.get_json()
    assert [(s["order_id"], s["kind"], s["date"], s["reference"], s["order_state"])
            for s in r.get_json()["shipments"]] == [
        (b, "delivery", "2026-01-05", "DN-7", "shipped"), (a, "delivery", "2026-01-05", "DN-7", "shipped")]
    got = _get(api, "sp1", f"{URL}/{a}")
    assert (got["state"], got["shipping_status"], got["lines"][0]["qty_shipped"]) == (
        "shipped", "full", "2.000")


def test_invoices_batch_201_409_403(sf, api, master):
    """Finance invoices many shipped orders: 201 with posted invoices numbered in the orders'
    order (or drafts with "post": false); an order not shipped is a 409 keyed by its id and no
    invoice is written; the warehouse gets a 403."""
    a, b, c_, not_shipped = _create(api, master, n=4)
    _approve(api, [a, b, c_, not_shipped])
    _ship(api, [a, b, c_])
    c, h = api.client, api.h("finance")
    r = c.post("/api/v1/invoices/batch", json={"order_ids": [a, not_shipped]}, headers=h)
    assert r.status_code == 409
    assert r.get_json()["error"]["refused"] == {
        str(not_shipped): ["nothing is shipped yet (invoice policy: shipped quantities)"]}
    assert _count(sf, "sale.invoice") == 0
    r = c.post("/api/v1/invoices/batch", json={"order_ids": [a]}, headers=api.h("warehouse"))
    assert r.status_code == 403
    r = c.post("/api/v1/invoices/batch", json={"order_ids": [a, 999999]}, headers=h)
    assert r.status_code == 404
    r = c.post("/api/v1/invoices/batch", json={"order_ids": [b, a], "date": "2026-01-05"}, headers=h)
    assert r.status_code == 201, r.get_json()
    invoices = r.get_json()["invoices"]
    assert [(i["order_id"], i["number"], i["state"], i["amount_total"], i["due_date"])
            for i in invoices] == [(b, "INV/2026/000001", "posted", "226.00", "2026-02-04"),
                                   (a, "INV/2026/000002", "posted", "226.00", "2026-02-04")]
    assert _get(api, "sp1", f"{URL}/{a}")["state"] == "invoiced"
    r = c.post("/api/v1/invoices/batch", json={"order_ids": [c_], "post": False}, headers=h)
    assert r.status_code == 201, r.get_json()
    assert [(i["state"], i["number"]) for i in r.get_json()["invoices"]] == [("draft", None)]
    assert _get(api, "sp1", f"{URL}/{c_}")["state"] == "shipped"


def test_payments_batch_201_and_422(sf, api, master, flow):
    """Two payments of one invoice in one request: 201, the invoice and its order paid. An
    over-allocation is a 422 keyed "payments.<position>...", and nothing is written."""
    oid = flow.order()
    iid = flow.invoice(oid, date=dt.date(2026, 1, 5))  # 226.00
    c, h = api.client, api.h("finance")

    def pay(amount):
        return {"customer_id": master.c1, "amount": amount, "method": "bank_transfer",
                "date": "2026-01-20", "allocations": [{"invoice_id": iid, "amount": amount}]}

    r = c.post("/api/v1/payments/batch", json={"payments": [pay("200.00"), pay("26.01")]}, headers=h)
    assert r.status_code == 422
    assert r.get_json()["error"]["fields"] == {
        "payments.1.allocations.0.amount": ["more than the 26.00 open on INV/2026/000001"]}
    r = c.post("/api/v1/payments/batch", json={"payments": [
        pay("1.00"), {k: v for k, v in pay("1.00").items() if k != "allocations"}]}, headers=h)
    assert r.status_code == 422
    assert r.get_json()["error"]["fields"] == {
        "payments.1.allocations": ["required when payments are registered together"]}
    r = c.post("/api/v1/payments/batch", json={"payments": [pay("1.00"), {**pay("1.00"), "method": "gold"}]},
               headers=h)
    assert r.status_code == 422 and list(r.get_json()["error"]["fields"]) == ["payments.1.method"]
    assert c.post("/api/v1/payments/batch", json={"payments": []}, headers=h).status_code == 422
    assert c.post("/api/v1/payments/batch", json={"payments": [pay("1.00")]},
                  headers=api.h("sp1")).status_code == 403
    assert _count(sf, "sale.payment") == 0
    assert _get(api, "finance", f"/api/v1/invoices/{iid}")["amount_residual"] == "226.00"

    r = c.post("/api/v1/payments/batch", json={"payments": [pay("113.00"), pay("113.00")]},
               headers=h)
    assert r.status_code == 201, r.get_json()
    assert [(p["number"], p["amount"], p["amount_unallocated"]) for p in r.get_json()["payments"]] == [
        ("PAY/2026/000001", "113.00", "0.00"), ("PAY/2026/000002", "113.00", "0.00")]
    invoice = _get(api, "finance", f"/api/v1/invoices/{iid}")
    assert (invoice["state"], invoice["amount_residual"]) == ("paid", "0.00")
    assert _get(api, "sp1", f"{URL}/{oid}")["state"] == "paid"
