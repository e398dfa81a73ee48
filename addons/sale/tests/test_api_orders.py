"""REST API of sale orders (/api/v1/orders...)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from core.testing import CLIENT_TODAY

pytestmark = pytest.mark.usefixtures("fast_passwords")

URL = "/api/v1/orders"


def _body(master, qty="2", **extra):
    return {"customer_id": master.c1,
            "lines": [{"product_id": master.product_ids[0], "quantity": qty}], **extra}


def _create(api, master, login="sp1", **body):
    r = api.client.post(URL, json={**_body(master), **body}, headers=api.h(login))
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def test_create_with_idempotency_key(sf, api, master):
    headers = api.h("sp1", **{"Idempotency-Key": "order-123"})
    first = api.client.post(URL, json=_body(master), headers=headers)
    assert first.status_code == 201
    data = first.get_json()
    assert (data["state"], data["amount_total"], data["triggers"]) == (
        "draft", "226.00", {"approve": [], "cancel": []})
    assert data["lines"][0]["quantity"] == "2.000" and data["lines"][0]["unit_price"] == "100.000000"
    assert first.headers["ETag"] == f'"{data["version"]}"'
    again = api.client.post(URL, json=_body(master), headers=headers)
    assert (again.status_code, again.get_json()) == (201, data)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["ETag"] == first.headers["ETag"]  # the first response, headers too
    other = api.client.post(URL, json=_body(master, qty="3"), headers=headers)
    assert other.status_code == 422
    assert "Idempotency-Key" in other.get_json()["error"]["fields"]
    with sf.transaction() as env:
        assert env.session.scalar(select(func.count()).select_from(env["sale.order"])) == 1
    bad = api.client.post(URL, json={"customer_id": master.c1, "lines": [
        {"product_id": master.product_ids[0], "quantity": 1.5}]}, headers=api.h("sp1"))
    assert bad.status_code == 422
    assert list(bad.get_json()["error"]["fields"]) == ["lines.0.quantity"]


def test_an_over_long_idempotency_key_is_422_and_creates_nothing(sf, api, master):
    r = api.client.post(URL, json=_body(master), headers=api.h("sp1", **{"Idempotency-Key": "k" * 129}))
    assert r.status_code == 422 and r.get_json()["error"]["fields"] == {
        "Idempotency-Key": ["at most 128 characters, not 129"]}
    with sf.transaction() as env:
        assert env.session.scalar(select(func.count()).select_from(env["sale.order"])) == 0
    longest = api.h("sp1", **{"Idempotency-Key": "k" * 128})
    assert api.client.post(URL, json=_body(master), headers=longest).status_code == 201


def test_get_patch_if_match_and_drafts_only(api, master):
    order = _create(api, master)
    url = f"{URL}/{order['id']}"
    got = api.client.get(url, headers=api.h("sp1"))
    assert got.status_code == 200 and got.get_json()["lines"][0]["description"] == "Product 1"
    etag = got.headers["ETag"]
    line_id = order["lines"][0]["id"]
    change = {"note": "rush", "lines": [{"id": line_id, "quantity": "3"},
                                        {"product_id": master.product_ids[1], "quantity": "1"}]}
    stale = api.client.patch(url, json=change, headers=api.h("sp1", **{"If-Match": '"999"'}))
    assert stale.status_code == 412
    ok = api.client.patch(url, json=change, headers=api.h("sp1", **{"If-Match": etag}))
    assert ok.status_code == 200, ok.get_json()
    data = ok.get_json()
    assert (data["note"], data["amount_untaxed"], len(data["lines"])) == ("rush", "325.50", 2)
    assert ok.headers["ETag"] != etag
    lines = api.client.get(f"{url}/lines", headers=api.h("sp1")).get_json()
    assert [ln["quantity"] for ln in lines] == ["3.000", "1.000"]
    r = api.client.post(f"{url}/triggers/approve", json={}, headers=api.h("sp1"))
    assert r.status_code == 200 and r.get_json()["done"] is True
    refused = api.client.patch(url, json={"note": "x"}, headers=api.h("sp1"))
    assert refused.status_code == 409 and "only a draft" in refused.get_json()["error"]["message"]


def test_order_etag_changes_when_only_a_line_changes(api, master, make_order):
    url = f"{URL}/{make_order()}"
    got = api.client.get(url, headers=api.h("sp1"))
    etag, line_id = got.headers["ETag"], got.get_json()["lines"][0]["id"]
    first = api.client.patch(url, json={"lines": [{"id": line_id, "description": "Blue widget"}]},
                             headers=api.h("sp1", **{"If-Match": etag}))
    assert first.status_code == 200 and first.get_json()["lines"][0]["description"] == "Blue widget"
    assert first.headers["ETag"] != etag
    # another client still holding the ETag read before that change gets a 412
    second = api.client.patch(url, json={"lines": [{"id": line_id, "description": "Red widget"}]},
                              headers=api.h("sp1", **{"If-Match": etag}))
    assert second.status_code == 412
    got = api.client.get(url, headers=api.h("sp1"))
    assert got.get_json()["lines"][0]["description"] == "Blue widget"
    # the same lines again change nothing: the ETag stays
    same = api.client.patch(url, json={"lines": [{"id": line_id, "description": "Blue widget"}]},
                            headers=api.h("sp1", **{"If-Match": got.headers["ETag"]}))
    assert same.status_code == 200 and same.headers["ETag"] == got.headers["ETag"]


def test_triggers_409_202_200(api, master):
    past = (CLIENT_TODAY - dt.timedelta(days=2)).isoformat()
    order = _create(api, master, date_order=past, validity_date=past,
                    lines=[{"product_id": master.product_ids[0], "quantity": "1", "unit_price": "0"}])
    r = api.client.post(f"{URL}/{order['id']}/triggers/approve", json={}, headers=api.h("sp1"))
    assert r.status_code == 409
    error = r.get_json()["error"]
    assert (error["code"], error["trigger"]) == ("transition_refused", "approve")
    assert error["reasons"] == ["the total must be positive (it is 0.00)",
                                f"the quotation expired on {past}; change its validity date or copy it"]
    big = _create(api, master, lines=[{"product_id": master.product_ids[0], "quantity": "1",
                                       "unit_price": "530973.451327"}])  # 600,000.00 with VAT
    url = f"{URL}/{big['id']}/triggers/approve"
    r = api.client.post(url, json={"comment": "ok from me"}, headers=api.h("manager"))
    assert r.status_code == 202
    assert (r.get_json()["done"], r.get_json()["approvals_pending"]) == (False, ["director"])
    assert r.get_json()["order"]["state"] == "draft"
    r = api.client.post(url, json={}, headers=api.h("director"))
    assert r.status_code == 200
    assert (r.get_json()["done"], r.get_json()["dest"]) == (True, "approved")
    r = api.client.post(f"{URL}/{big['id']}/triggers/cancel", json={}, headers=api.h("sp1"))
    assert r.status_code == 409 and r.get_json()["error"]["reasons"] == [
        "'cancel' needs a comment saying why"]
    r = api.client.post(f"{URL}/{big['id']}/triggers/cancel", json={"comment": "budget cut"},
                        headers=api.h("sp1"))
    assert r.status_code == 200
    assert (r.get_json()["order"]["state"], r.get_json()["order"]["cancel_reason"]) == (
        "cancelled", "budget cut")
    log = api.client.get(f"{URL}/{big['id']}/log", headers=api.h("sp1")).get_json()
    assert [(e["trigger"], e["comment"]) for e in log] == [("approve", None),
                                                           ("cancel", "budget cut")]
    r = api.client.post(f"{URL}/{big['id']}/triggers/fly", json={}, headers=api.h("sp1"))
    assert r.status_code == 409


def test_another_salespersons_order_is_not_found(api, master):
    order = _create(api, master)
    url = f"{URL}/{order['id']}"
    for method, path, body in (("get", "", None), ("patch", "", {"note": "x"}),
                               ("get", "/lines", None), ("get", "/log", None),
                               ("get", "/revisions", None), ("post", "/copy", None),
                               ("post", "/triggers/approve", {}), ("post", "/amend", {"reason": "x"})):
        r = getattr(api.client, method)(url + path, json=body, headers=api.h("sp2"))
        assert r.status_code == 404, (method, path, r.status_code)
    assert api.client.get(url, headers=api.h("manager")).status_code == 200
    assert api.client.get(URL, headers=api.h("sp2")).get_json()["total"] == 0


def test_list_filters_and_sorting(api, master, users):
    today = CLIENT_TODAY
    a = _create(api, master, date_order=(today - dt.timedelta(days=10)).isoformat())
    b = _create(api, master, lines=[{"product_id": master.product_ids[2], "quantity": "1"}])
    c = _create(api, master, login="sp2", customer_id=master.c2)
    api.client.post(f"{URL}/{b['id']}/triggers/approve", json={}, headers=api.h("sp1"))

    def ids(login, query):
        r = api.client.get(f"{URL}?{query}", headers=api.h(login))
        assert r.status_code == 200, r.get_json()
        return [o["id"] for o in r.get_json()["items"]]

    assert ids("sp1", "") == [b["id"], a["id"]]  # newest order date first; only sp1's customers
    assert ids("manager", "sort=-amount_total") == [b["id"], c["id"], a["id"]]
    assert ids("manager", "state=approved") == [b["id"]]
    assert ids("manager", f"customer_id={master.c2}") == [c["id"]]
    assert ids("manager", f"salesperson_id={users.sp['sp2']}") == [c["id"]]
    assert ids("manager", f"date_to={(today - dt.timedelta(days=1)).isoformat()}") == [a["id"]]
    assert ids("manager", f"date_from={today.isoformat()}&sort=number") == [b["id"], c["id"]]
    assert ids("manager", "per_page=1&sort=number") == [a["id"]]
    for query in ("colour=red", "sort=note", "date_from=yesterday", "customer_id=x"):
        assert api.client.get(f"{URL}?{query}", headers=api.h("manager")).status_code == 422


def test_shipments_copy_amend_and_revisions(api, master):
    order = _create(api, master, lines=[{"product_id": master.product_ids[0], "quantity": "5"}])
    oid, line_id = order["id"], order["lines"][0]["id"]
    api.client.post(f"{URL}/{oid}/triggers/approve", json={}, headers=api.h("sp1"))
    ships = f"{URL}/{oid}/shipments"
    r = api.client.post(ships, json={"quantities": {str(line_id): "2"}}, headers=api.h("sp1"))
    assert r.status_code == 403
    r = api.client.post(ships, json={"quantities": {str(line_id): "6"}}, headers=api.h("warehouse"))
    assert r.status_code == 422
    assert list(r.get_json()["error"]["fields"]) == [f"quantities.{line_id}"]
    r = api.client.post(ships, json={"quantities": {str(line_id): "2"}, "reference": "DN-7"},
                        headers=api.h("warehouse"))
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["order"] == {"state": "approved", "shipping_status": "partial",
                                     "invoice_status": "none",
                                     "version": r.get_json()["order"]["version"]}
    # amend the partly shipped order: 5 -> 4, back to draft as revision 1
    r = api.client.post(f"{URL}/{oid}/amend", json={
        "reason": "customer needs one less", "changes": {"lines": [{"id": line_id, "quantity": "4"}]}},
        headers=api.h("sp1"))
    assert r.status_code == 200, r.get_json()
    assert (r.get_json()["state"], r.get_json()["revision"]) == ("draft", 1)
    revisions = api.client.get(f"{URL}/{oid}/revisions", headers=api.h("sp1")).get_json()
    assert [(rv["revision"], rv["reason"]) for rv in revisions] == [(0, "customer needs one less")]
    assert revisions[0]["diff"][0]["text"] == "line 10 'Product 1': quantity 5 → 4"
    api.client.post(f"{URL}/{oid}/triggers/approve", json={}, headers=api.h("sp1"))
    r = api.client.post(ships, json={}, headers=api.h("warehouse"))  # everything left
    assert r.status_code == 201 and r.get_json()["order"]["state"] == "shipped"
    r = api.client.post(f"{URL}/{oid}/returns", json={"quantities": {str(line_id): "1"}},
                        headers=api.h("warehouse"))
    assert r.status_code == 201 and r.get_json()["kind"] == "return"
    listed = api.client.get(ships, headers=api.h("sp1")).get_json()
    assert [(s["kind"], [ln["quantity"] for ln in s["lines"]]) for s in listed] == [
        ("delivery", ["2.000"]), ("delivery", ["2.000"]), ("return", ["1.000"])]
    lines = api.client.get(f"{URL}/{oid}/lines", headers=api.h("sp1")).get_json()
    assert (lines[0]["qty_shipped"], lines[0]["qty_returned"]) == ("4.000", "1.000")
    r = api.client.post(f"{URL}/{oid}/copy", headers=api.h("sp1"))
    assert r.status_code == 201
    copy = r.get_json()
    assert (copy["state"], copy["copied_from_id"], copy["lines"][0]["quantity"]) == (
        "draft", oid, "4.000")


def test_shipment_and_return_refuse_a_stale_if_match(sf, api, master, flow):
    oid = flow.order(lines=[(0, "5", None)], ship={0: "2"})
    with sf.transaction() as env:
        line_id = env.get("sale.order", oid).lines[0].id
    stale = api.h("warehouse", **{"If-Match": '"999"'})
    body = {"quantities": {str(line_id): "1"}}
    shipped = api.client.post(f"{URL}/{oid}/shipments", json=body, headers=stale)
    returned = api.client.post(f"{URL}/{oid}/returns", json=body, headers=stale)
    assert (shipped.status_code, returned.status_code) == (412, 412)
    with sf.transaction() as env:  # nothing recorded: only the fixture's shipment
        Shipment = env["sale.shipment"]
        assert len(env.search("sale.shipment", Shipment.order_id == oid)) == 1
    etag = api.client.get(f"{URL}/{oid}", headers=api.h("warehouse")).headers["ETag"]
    fresh = api.h("warehouse", **{"If-Match": etag})
    assert api.client.post(f"{URL}/{oid}/shipments", json=body, headers=fresh).status_code == 201


BIG = 10**20  # a whole number no INTEGER / BIGINT column holds: must never reach the database


@pytest.mark.parametrize("query, field", [(f"page={BIG}", "page"), (f"per_page={BIG}", "per_page"),
                                          (f"page={2**62}", "page"),  # fits, but not its offset
                                          (f"customer_id={BIG}", "customer_id"),
                                          (f"customer_id=-{BIG}", "customer_id")])
def test_out_of_range_list_parameters_are_422(api, master, query, field):
    r = api.client.get(f"{URL}?{query}", headers=api.h("manager"))
    assert r.status_code == 422 and field in r.get_json()["error"]["fields"], r.get_json()


def test_out_of_range_ids_are_not_found_in_the_url_and_422_in_a_body(api, master):
    assert api.client.get(f"{URL}/{BIG}", headers=api.h("manager")).status_code == 404
    assert api.client.get(f"{URL}/{BIG}/log", headers=api.h("manager")).status_code == 404
    for body, field in ((_body(master, customer_id=BIG), "customer_id"),
                        (_body(master, customer_id=str(BIG)), "customer_id"),
                        ({"customer_id": master.c1, "lines": [{"product_id": BIG, "quantity": "1"}]},
                         "lines.0.product_id")):
        r = api.client.post(URL, json=body, headers=api.h("sp1"))
        assert r.status_code == 422 and field in r.get_json()["error"]["fields"], r.get_json()
    r = api.client.post(f"{URL}/batch/triggers/approve", json={"ids": [BIG]}, headers=api.h("sp1"))
    assert r.status_code == 422 and "ids.0" in r.get_json()["error"]["fields"]


def test_a_response_stored_before_headers_were_kept_still_replays(sf, api, master):
    headers = api.h("sp1", **{"Idempotency-Key": "old-row"})
    first = api.client.post(URL, json=_body(master), headers=headers)
    with sf.transaction() as env, env.sudo():  # the row as it was stored before: the bare body
        Key = env["api.idempotency"]
        row = env.session.scalars(select(Key).where(Key.key == "old-row")).one()
        row.body = first.get_json()
    again = api.client.post(URL, json=_body(master), headers=headers)
    assert (again.status_code, again.get_json()) == (201, first.get_json())
    assert again.headers["Idempotent-Replayed"] == "true" and "ETag" not in again.headers


def _count_orders(sf):
    with sf.transaction() as env:
        return env.session.scalar(select(func.count()).select_from(env["sale.order"]))


def test_an_order_belongs_to_its_salesperson_and_cannot_be_handed_away(sf, api, master, users):
    # a salesperson cannot create an order in another salesperson's name ...
    r = api.client.post(URL, json=_body(master, salesperson_id=users.sp["sp2"]), headers=api.h("sp1"))
    assert r.status_code == 403 and "record rules" in r.get_json()["error"]["message"]
    assert _count_orders(sf) == 0
    own = _create(api, master)
    assert own["salesperson_id"] == users.sp["sp1"]
    # ... nor hand one over afterwards: refused, the order unchanged
    url = f"{URL}/{own['id']}"
    r = api.client.patch(url, json={"salesperson_id": users.sp["sp2"]},
                         headers=api.h("sp1", **{"If-Match": f'"{own["version"]}"'}))
    assert r.status_code in (403, 422), r.get_json()
    assert api.client.get(url, headers=api.h("sp1")).get_json()["salesperson_id"] == users.sp["sp1"]
    # nor clear it (the order would pass to whoever gets the customer next)
    r = api.client.patch(url, json={"salesperson_id": None},
                         headers=api.h("sp1", **{"If-Match": f'"{own["version"]}"'}))
    assert r.status_code == 422 and "salesperson_id" in r.get_json()["error"]["fields"]
    assert api.client.get(url, headers=api.h("sp1")).get_json()["salesperson_id"] == users.sp["sp1"]
    # a manager's order for sp1's customer is sp1's (the customer's salesperson)
    by_manager = _create(api, master, login="manager")
    assert by_manager["salesperson_id"] == users.sp["sp1"]
    assert api.client.get(f"{URL}/{by_manager['id']}", headers=api.h("sp1")).status_code == 200


def test_visibility_follows_the_orders_salesperson_after_the_customer_moves(sf, api, master, users):
    order = _create(api, master)
    assert api.client.post(f"{URL}/{order['id']}/triggers/approve", json={},
                           headers=api.h("sp1")).status_code == 200
    with sf.transaction() as env:  # the manager hands customer C001 to sp2
        env.get("sale.customer", master.c1).salesperson_id = users.sp["sp2"]
    url = f"{URL}/{order['id']}"
    # the order is still sp1's, the customer sp2's: neither sees it (never an order without its
    # customer, never another's order), in a list, a report or by id; the manager does
    for login in ("sp1", "sp2"):
        assert api.client.get(url, headers=api.h(login)).status_code == 404
        assert api.client.get(URL, headers=api.h(login)).get_json()["total"] == 0
        for report in ("daily-sales", "sales-by-customer", "sales-by-salesperson"):
            body = api.client.get(f"/api/v1/reports/{report}", headers=api.h(login)).get_json()
            assert body["rows"] == [], (login, report)
    assert api.client.get(f"/api/v1/customers/{master.c1}", headers=api.h("sp1")).status_code == 404
    assert api.client.get(url, headers=api.h("manager")).status_code == 200
    # the manager gives it to sp2: now sp2's, with its customer
    with sf.transaction("manager") as env:
        env.get("sale.order", order["id"]).salesperson_id = users.sp["sp2"]
    assert api.client.get(url, headers=api.h("sp2")).status_code == 200
    assert api.client.get(url, headers=api.h("sp2")).get_json()["customer_id"] == master.c1
    body = api.client.get("/api/v1/reports/sales-by-customer", headers=api.h("sp2")).get_json()
    assert [row["customer"] for row in body["rows"]] == ["上海华东贸易有限公司"]


def test_a_customer_handed_over_takes_its_open_orders_along(sf, api, master, users, flow):
    """Reassigning a customer (PATCH by a manager) moves its open orders to the new
    salesperson; a paid order stays credited to whoever sold it."""
    paid = flow.order()
    flow.invoice(paid)
    flow.pay(master.c1, "226.00")
    assert flow.state("sale.order", paid) == "paid"
    draft = _create(api, master)
    c = api.client
    etag = c.get(f"/api/v1/customers/{master.c1}", headers=api.h("manager")).headers["ETag"]
    r = c.patch(f"/api/v1/customers/{master.c1}", json={"salesperson_id": users.sp["sp2"]},
                headers=api.h("manager", **{"If-Match": etag}))
    assert r.status_code == 200, r.get_json()
    assert c.get(f"{URL}/{draft['id']}", headers=api.h("sp2")).get_json()["salesperson_id"] == \
        users.sp["sp2"]
    assert c.get(f"{URL}/{draft['id']}", headers=api.h("sp1")).status_code == 404
    with sf.transaction() as env:
        assert env.get("sale.order", paid).salesperson_id == users.sp["sp1"]
        Log = env["audit.log"]
        moved = env.search("audit.log", Log.record == "sale.order", Log.record_id == draft["id"],
                           Log.action == "write")
        assert [log.changes["salesperson_id"] for log in moved] == [
            [users.sp["sp1"], users.sp["sp2"]]]
