"""REST API of invoicing: invoices, credit notes, payments (idempotent), receivables, journal."""

import datetime as dt

import pytest

from core.testing import CLIENT_TODAY

pytestmark = pytest.mark.usefixtures("fast_passwords")

JAN5 = dt.date(2026, 1, 5)


def test_invoice_lifecycle_over_the_api(sf, master, flow, api):
    oid = flow.order(lines=[(0, "10", None)], ship={0: "4"})
    c, fin = api.client, api.h("finance")
    assert c.post("/api/v1/invoices", json={"order_id": oid}, headers=api.h("sp1")).status_code == 403
    assert c.post("/api/v1/invoices", json={"order_id": 999999}, headers=fin).status_code == 404
    bad = c.post("/api/v1/invoices", json={"order_id": "x", "date": "soon"}, headers=fin)
    assert bad.status_code == 422 and set(bad.json["error"]["fields"]) == {"order_id", "date"}

    created = c.post("/api/v1/invoices", json={"order_id": oid}, headers=fin)
    assert created.status_code == 201, created.json
    body = created.json
    assert (body["state"], body["number"], body["amount_total"]) == ("draft", None, "452.00")
    assert [(ln["quantity"], ln["amount_total"]) for ln in body["lines"]] == [("4.000", "452.00")]
    url = f"/api/v1/invoices/{body['id']}"
    again = c.post("/api/v1/invoices", json={"order_id": oid}, headers=fin)
    assert again.status_code == 409 and again.json["error"]["reasons"] == [
        "nothing left to invoice: every shipped quantity is invoiced or already on a draft invoice"]

    stale = c.post(f"{url}/post", json={"date": "2026-01-05"}, headers=api.h("finance", **{"If-Match": '"99"'}))
    assert stale.status_code == 412
    posted = c.post(f"{url}/post", json={"date": "2026-01-05"},
                    headers=api.h("finance", **{"If-Match": created.headers["ETag"]}))
    assert posted.status_code == 200, posted.json
    assert (posted.json["number"], posted.json["state"], posted.json["due_date"]) == (
        "INV/2026/000001", "posted", "2026-02-04")
    refused = c.post(f"{url}/post", headers=fin)
    assert refused.status_code == 409
    assert refused.json["error"]["reasons"] == ["'post' is not possible in state 'posted' (only from draft)"]
    assert c.post(f"{url}/cancel", headers=fin).status_code == 409

    line_id = posted.json["lines"][0]["id"]
    bad = c.post(f"{url}/credit-notes", json={"reason": "", "lines": [{"invoice_line_id": line_id,
                                                                        "quantity": 1.5}]}, headers=fin)
    assert bad.status_code == 422 and set(bad.json["error"]["fields"]) == {"reason", "lines.0.quantity"}
    credit = c.post(f"{url}/credit-notes", json={"reason": "1 damaged", "lines": [
        {"invoice_line_id": line_id, "quantity": "1"}]}, headers=fin)
    assert credit.status_code == 201, credit.json
    assert (credit.json["kind"], credit.json["number"], credit.json["amount_total"]) == (
        "credit_note", f"RINV/{CLIENT_TODAY.year}/000001", "113.00")
    got = c.get(url, headers=api.h("manager")).json
    assert (got["amount_residual"], got["payment_status"]) == ("339.00", "partial")
    listed = c.get("/api/v1/invoices?kind=credit_note", headers=fin).json
    assert [i["id"] for i in listed["items"]] == [credit.json["id"]] and listed["total"] == 1
    assert c.get("/api/v1/invoices?state=lost", headers=fin).status_code == 422
    assert c.get("/api/v1/invoices?colour=red", headers=fin).status_code == 422


@pytest.mark.parametrize("data, content_type", [
    ('{"date": "2026-01-05"', "application/json"),  # cut short
    ('["2026-01-05"]', "application/json"),         # not an object
    ('date=2026-01-05', "application/x-www-form-urlencoded"),
])
def test_a_body_that_is_not_a_json_object_is_422_and_posts_nothing(api, master, flow, data,
                                                                    content_type):
    iid = flow.invoice(flow.order(), post=False)
    r = api.client.post(f"/api/v1/invoices/{iid}/post", data=data, content_type=content_type,
                        headers=api.h("finance"))
    assert r.status_code == 422 and "_body" in r.get_json()["error"]["fields"], r.get_json()
    assert flow.state("sale.invoice", iid) == "draft"


@pytest.mark.parametrize("url, field", [("/api/v1/receivables/aging?as_of=0001-01-01", "as_of"),
                                        ("/api/v1/receivables/aging?as_of=9999-12-31", "as_of"),
                                        ("/api/v1/invoices?date_from=1899-12-31", "date_from"),
                                        ("/api/v1/orders?date_to=9001-01-01", "date_to")])
def test_a_date_out_of_range_in_a_query_is_422(api, master, url, field):
    r = api.client.get(url, headers=api.h("finance"))
    assert r.status_code == 422, r.get_json()
    assert "out of range (1900-01-01..9000-12-31)" in r.get_json()["error"]["fields"][field][0]


def test_a_date_out_of_range_in_a_body_is_422_and_posts_nothing(api, master, flow):
    iid = flow.invoice(flow.order(), post=False)
    r = api.client.post(f"/api/v1/invoices/{iid}/post", json={"date": "9999-12-31"},
                        headers=api.h("finance"))
    assert r.status_code == 422 and "date" in r.get_json()["error"]["fields"], r.get_json()
    assert flow.state("sale.invoice", iid) == "draft"


def test_salesperson_sees_only_their_customers_documents(sf, master, flow, api):
    mine = flow.invoice(flow.order(), date=JAN5)
    theirs = flow.invoice(flow.order(customer=master.c2), date=JAN5)
    my_pay = flow.pay(master.c1, "10.00")
    their_pay = flow.pay(master.c2, "10.00")
    c, sp1 = api.client, api.h("sp1")
    assert [i["id"] for i in c.get("/api/v1/invoices", headers=sp1).json["items"]] == [mine]
    assert c.get(f"/api/v1/invoices/{mine}", headers=sp1).status_code == 200
    assert c.get(f"/api/v1/invoices/{theirs}", headers=sp1).status_code == 404
    assert [p["id"] for p in c.get("/api/v1/payments", headers=sp1).json["items"]] == [my_pay]
    assert c.get(f"/api/v1/payments/{their_pay}", headers=sp1).status_code == 404
    aging = c.get("/api/v1/receivables/aging", headers=sp1).json  # as of today
    assert [r["customer_code"] for r in aging["rows"]] == ["C001"]
    assert aging["totals"]["balance"] == "216.00"
    assert c.get(f"/api/v1/customers/{master.c2}/statement?date_from=2026-01-01",
                 headers=sp1).status_code == 404
    assert c.get(f"/api/v1/customers/{master.c2}/open-items", headers=sp1).status_code == 404
    assert c.get("/api/v1/journal/trial-balance", headers=sp1).status_code == 403
    both = c.get("/api/v1/invoices", headers=api.h("manager")).json
    assert sorted(i["id"] for i in both["items"]) == sorted([mine, theirs])


def test_payment_creation_is_idempotent(sf, master, flow, api):
    iid = flow.invoice(flow.order(), date=JAN5)  # 226.00
    c = api.client
    body = {"customer_id": master.c1, "amount": "300.00", "method": "bank_transfer",
            "reference": "TX-1", "allocations": [{"invoice_id": iid, "amount": "226.00"}]}
    headers = api.h("finance", **{"Idempotency-Key": "pay-001"})
    first = c.post("/api/v1/payments", json=body, headers=headers)
    assert first.status_code == 201, first.json
    assert (first.json["amount_unallocated"], first.json["allocations"][0]["amount"]) == ("74.00", "226.00")
    replay = c.post("/api/v1/payments", json=body, headers=headers)
    assert replay.status_code == 201 and replay.json == first.json
    assert replay.headers.get("Idempotent-Replayed") == "true"
    other = c.post("/api/v1/payments", json={**body, "amount": "301.00"}, headers=headers)
    assert other.status_code == 422 and "Idempotency-Key" in other.json["error"]["fields"]
    with sf.transaction("finance") as env:
        assert len(env.search("sale.payment")) == 1
        assert env.get("sale.invoice", iid).state == "paid"

    bad = c.post("/api/v1/payments", json={"customer_id": master.c1, "amount": 12.5, "method": "gold",
                                           "allocations": [{"invoice_id": iid}]},
                 headers=api.h("finance"))
    assert bad.status_code == 422
    assert set(bad.json["error"]["fields"]) == {"amount", "method", "allocations.0.amount"}
    over = c.post("/api/v1/payments", json={**body, "reference": "TX-2"}, headers=api.h("finance"))
    assert over.status_code == 422 and over.json["error"]["fields"] == {
        "allocations.0.invoice_id": ["not an open posted invoice of customer C001"]}
    assert c.post("/api/v1/payments", json=body, headers=api.h("sp1")).status_code == 403
    got = c.get(f"/api/v1/payments/{first.json['id']}", headers=api.h("sp1"))
    assert got.status_code == 200 and got.headers["ETag"] == f'"{got.json["version"]}"'


def test_receivables_and_journal_reports(sf, master, flow, api):
    a = flow.invoice(flow.order(), date=JAN5)
    flow.invoice(flow.order(customer=master.c2), date=dt.date(2026, 2, 1))
    flow.pay(master.c1, "300.00", method="cash", date=dt.date(2026, 2, 10))  # 74.00 credit
    c, fin = api.client, api.h("finance")
    aging = c.get("/api/v1/receivables/aging?as_of=2026-03-01&group_by=salesperson", headers=fin)
    assert aging.status_code == 200, aging.json
    assert [(r["salesperson_name"], r["not_due"], r["credit"], r["balance"]) for r in aging.json["rows"]] == [
        ("SP1", "0.00", "74.00", "-74.00"), ("SP2", "226.00", "0.00", "226.00")]
    assert aging.json["buckets"] == ["not_due", "1_30", "31_60", "61_90", "over_90"]
    total = c.get("/api/v1/receivables/aging?as_of=2026-03-01&group_by=total", headers=fin).json
    assert total["rows"][0]["balance"] == total["totals"]["balance"] == "152.00"
    for bad in ("as_of=yesterday", "group_by=region", "colour=red"):
        assert c.get(f"/api/v1/receivables/aging?{bad}", headers=fin).status_code == 422

    items = c.get(f"/api/v1/customers/{master.c1}/open-items?as_of=2026-03-01", headers=fin).json
    assert items["items"] == [] and [(x["kind"], x["open"]) for x in items["credits"]] == [
        ("payment", "74.00")]
    statement = c.get(f"/api/v1/customers/{master.c1}/statement?date_from=2026-01-01&date_to=2026-02-28",
                      headers=fin).json
    assert (statement["opening_balance"], statement["closing_balance"]) == ("0.00", "-74.00")
    assert [(m["kind"], m["debit"], m["credit"]) for m in statement["movements"]] == [
        ("invoice", "226.00", "0.00"), ("payment", "0.00", "300.00")]
    assert c.get(f"/api/v1/customers/{master.c1}/statement", headers=fin).status_code == 422

    tb = c.get("/api/v1/journal/trial-balance?date_to=2026-02-28", headers=fin).json
    assert tb["balanced"] is True and tb["debit"] == tb["credit"] == "752.00"
    entries = c.get("/api/v1/journal/entries?source_record=sale.invoice&sort=number", headers=fin).json
    assert [e["source_id"] for e in entries["items"]][:1] == [a] and entries["total"] == 2
    entry = c.get(f"/api/v1/journal/entries/{entries['items'][0]['id']}", headers=api.h("director")).json
    assert sorted((ln["account_code"], ln["debit"], ln["credit"]) for ln in entry["lines"]) == [
        ("1122", "226.00", "0.00"), ("22210106", "0.00", "26.00"), ("6001", "0.00", "200.00")]
    accounts = c.get("/api/v1/accounts", headers=fin).json
    assert [a["code"] for a in accounts] == ["1001", "1002", "1122", "22210106", "6001", "6603",
                                              "660302"]
    assert c.get("/api/v1/journal/entries", headers=api.h("manager")).status_code == 403
