"""REST API of the master data: customers, products, taxes, currencies, terms, salespersons."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
from sqlalchemy import func, select, update

pytestmark = pytest.mark.usefixtures("fast_passwords")

NEW = {
    "code": "C100", "name": "深圳前海科技有限公司", "tax_id": "91440300MA5F00001A", "region": "South",
    "tier": "normal", "category": "distributor", "industry": "electronics", "lang": "zh_CN",
    "contacts": [{"name": "陈", "phone": "+86 135 0000 0001", "email": "chen@qh.cn"}],
    "addresses": [{"street": "前海路 8 号", "city": "深圳"}],
}


def _codes(resp) -> list[str]:
    return [c["code"] for c in resp.get_json()["items"]]


def test_create_get_and_per_field_errors(api, master, users):
    c = api.client
    resp = c.post("/api/v1/customers", json={**NEW, "salesperson_id": users.sp["sp1"]},
                  headers=api.h("manager"))
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["code"] == "C100" and body["contacts"][0]["email"] == "chen@qh.cn"
    assert body["addresses"][0]["country"] == "CN" and body["tier"] == "normal"
    assert resp.headers["ETag"] == f'"{body["version"]}"'
    got = c.get(f"/api/v1/customers/{body['id']}", headers=api.h("sp1"))
    assert got.status_code == 200 and got.get_json()["name"] == NEW["name"]

    resp = c.post("/api/v1/customers", headers=api.h("manager"), json={
        "name": "", "tier": "gold", "currency": "XXX", "colour": "red",
        "contacts": [{"name": "x", "email": "nope"}], "salesperson_id": 999})
    assert resp.status_code == 422
    fields = resp.get_json()["error"]["fields"]
    assert set(fields) == {"name", "tier", "colour", "contacts.0.email"}  # schema errors first
    resp = c.post("/api/v1/customers", headers=api.h("manager"),
                  json={"name": "Valid", "currency": "XXX", "salesperson_id": 999})
    assert resp.status_code == 422
    assert resp.get_json()["error"]["fields"] == {
        "currency": ["unknown currency 'XXX' (create it first)"],
        "salesperson_id": ["no active salesperson 999"]}
    assert c.post("/api/v1/customers", json={"name": "X"}).status_code == 401
    assert c.post("/api/v1/customers", json={"name": "X"},
                  headers=api.h("warehouse")).status_code == 403


def test_duplicates_conflict_names_the_existing_customer(api, master):
    c = api.client
    dup = {"name": "Other name", "tax_id": "91310000MA1FL0001X"}  # C001's, which sp2 cannot see
    resp = c.post("/api/v1/customers", json=dup, headers=api.h("sp2"))
    assert resp.status_code == 409
    error = resp.get_json()["error"]
    assert error["code"] == "duplicate" and error["field"] == "tax_id"
    # sp2 learns that the customer exists, not whose or who it is
    assert error["existing"] == [{"code": None, "name": "a customer you cannot see (ask a sales manager)",
                                  "reason": "same tax id 91310000MA1FL0001X"}]
    assert "C001" not in error["message"] and "上海华东" not in error["message"]
    assert c.get("/api/v1/customers", headers=api.h("manager")).get_json()["total"] == 2
    check = c.get("/api/v1/customers/duplicates", query_string={"tax_id": "91310000ma1fl0001x"},
                  headers=api.h("sp2"))
    assert check.status_code == 200 and check.get_json()["duplicates"][0]["code"] is None
    resp = c.post("/api/v1/customers", json=dup, headers=api.h("manager"))  # a manager sees it
    assert resp.status_code == 409 and resp.get_json()["error"]["existing"] == [
        {"code": "C001", "name": "上海华东贸易有限公司", "reason": "same tax id 91310000MA1FL0001X"}]
    assert "C001" in resp.get_json()["error"]["message"]
    assert c.get("/api/v1/customers/duplicates?bogus=1", headers=api.h("sp2")).status_code == 422
    resp = c.post("/api/v1/customers", json={**dup, "force": True}, headers=api.h("sp2"))
    assert resp.status_code == 201 and "force" not in resp.get_json()
    # a taken code is a conflict on the field "code"
    resp = c.post("/api/v1/customers", json={"code": "c002", "name": "Clash"}, headers=api.h("manager"))
    assert resp.status_code == 409 and resp.get_json()["error"]["field"] == "code"


def test_salesperson_sees_only_own_customers(api, master):
    c = api.client
    sp1 = api.h("sp1")
    resp = c.get("/api/v1/customers", headers=sp1)
    assert _codes(resp) == ["C001"] and resp.get_json()["total"] == 1
    assert _codes(c.get("/api/v1/customers?region=North", headers=sp1)) == []
    for method, path in (("get", f"/customers/{master.c2}"), ("get", f"/customers/{master.c2}/history"),
                         ("patch", f"/customers/{master.c2}"), ("delete", f"/customers/{master.c2}")):
        kwargs = {"json": {"notes": "x"}} if method == "patch" else {}
        resp = getattr(c, method)(f"/api/v1{path}", headers=sp1, **kwargs)
        assert resp.status_code == 404, (method, path)
    assert c.get("/api/v1/customers/999999", headers=api.h("manager")).status_code == 404
    assert _codes(c.get("/api/v1/customers", headers=api.h("manager"))) == ["C001", "C002"]


def test_patch_if_match_and_delete(api, master, sf):
    c = api.client
    url = f"/api/v1/customers/{master.c1}"
    etag = c.get(url, headers=api.h("sp1")).headers["ETag"]
    stale = c.patch(url, json={"notes": "late"}, headers=api.h("sp1", **{"If-Match": '"999"'}))
    assert stale.status_code == 412
    assert c.get(url, headers=api.h("sp1")).get_json()["notes"] is None  # unchanged
    ok = c.patch(url, json={"notes": "called", "contacts": [{"name": "Li", "phone": "123"}]},
                 headers=api.h("sp1", **{"If-Match": etag}))
    assert ok.status_code == 200 and ok.get_json()["notes"] == "called"
    assert ok.headers["ETag"] != etag
    again = c.patch(url, json={"notes": "again"}, headers=api.h("sp1", **{"If-Match": etag}))
    assert again.status_code == 412
    bad = c.patch(url, json={"tier": "vip", "contacts": [{"id": 0, "name": "x"}]},
                  headers=api.h("sp1"))
    assert bad.status_code == 422 and set(bad.get_json()["error"]["fields"]) == {"tier"}
    with sf.transaction() as env:
        env.create("sale.order", customer_id=master.c1, date_order=dt.date(2026, 1, 5),
                   validity_date=dt.date(2026, 2, 4))
    gone = c.delete(url, headers=api.h("manager"))
    assert gone.status_code == 409 and "sale_order.customer_id" in gone.get_json()["error"]["message"]
    fresh = c.post("/api/v1/customers", json={"name": "Temp"}, headers=api.h("manager")).get_json()
    assert c.delete(f"/api/v1/customers/{fresh['id']}", headers=api.h("manager")).status_code == 204
    assert c.get(f"/api/v1/customers/{fresh['id']}", headers=api.h("manager")).status_code == 404


def test_list_pagination_sort_and_filter_allow_list(api, master, users, sf, mdsvc):
    with sf.transaction() as env:
        for i, (name, tier, region) in enumerate([("Alpha", "key", "West"), ("Beta", "normal", "West"),
                                                  ("Gamma", "key", "East")]):
            mdsvc.partner.create_customer(env, {"code": f"X{i}", "name": name, "tier": tier,
                                                "region": region, "category": "retail"})
        mdsvc.partner.create_customer(env, {"code": "X9", "name": "Old", "active": False})
    c, h = api.client, api.h("manager")
    page = c.get("/api/v1/customers?sort=-code&per_page=2&page=2", headers=h).get_json()
    assert [x["code"] for x in page["items"]] == ["X0", "C002"] and page["total"] == 5
    assert _codes(c.get("/api/v1/customers?tier=key&sort=name", headers=h)) == ["X0", "X2", "C001"]
    assert _codes(c.get("/api/v1/customers?region=West&category=retail", headers=h)) == ["X0", "X1"]
    assert _codes(c.get("/api/v1/customers?q=ORTHW", headers=h)) == ["C002"]
    assert _codes(c.get("/api/v1/customers?q=%25", headers=h)) == []  # literal, not a wildcard
    assert _codes(c.get("/api/v1/customers?active=false", headers=h)) == ["X9"]
    by_sp = c.get(f"/api/v1/customers?salesperson_id={users.sp['sp2']}", headers=h)
    assert _codes(by_sp) == ["C002"]
    for query, field in (("sort=tax_id", "sort"), ("colour=red", "colour"), ("tier=gold", "tier"),
                         ("salesperson_id=abc", "salesperson_id"), ("active=maybe", "active"),
                         ("page=x", "page")):
        resp = c.get(f"/api/v1/customers?{query}", headers=h)
        assert resp.status_code == 422 and field in resp.get_json()["error"]["fields"], query


def _post_documents(sf, customer_id: int) -> None:
    day = dt.date(2026, 2, 1)
    with sf.transaction() as env:
        env.create("sale.order", customer_id=customer_id, date_order=day, validity_date=day)
        inv = env.create("sale.invoice", customer_id=customer_id, kind="invoice", date=day,
                         amount_total=D("226.00"), amount_residual=D("200.00"))
        table = type(inv).__table__  # test set-up: posted without running the workflow
        env.session.connection().execute(update(table).where(table.c.id == inv.id)
                                         .values(state="posted"))
        env.create("sale.payment", customer_id=customer_id, method="cash", date=day,
                   amount=D("30.00"), amount_unallocated=D("30.00"))


@pytest.mark.parametrize("url, field", [("/api/v1/orders?state=%00", "state"),
                                        ("/api/v1/customers?q=a%00b", "q"),
                                        ("/api/v1/customers/duplicates?tax_id=%00", "tax_id")])
def test_a_nul_character_in_a_query_parameter_is_422(api, master, url, field):
    r = api.client.get(url, headers=api.h("manager"))
    assert r.status_code == 422 and field in r.get_json()["error"]["fields"], r.get_json()


def test_a_nul_character_in_a_json_string_is_422_and_creates_nothing(api, master):
    r = api.client.post("/api/v1/customers", json={"code": "C900", "name": "Nul\x00Co"},
                        headers=api.h("manager"))
    assert r.status_code == 422 and r.get_json()["error"]["fields"] == {
        "name": ["must not contain a NUL character"]}
    listed = api.client.get("/api/v1/customers?q=C900", headers=api.h("manager")).get_json()
    assert listed["total"] == 0


def test_history_and_merge_endpoints(api, master, sf):
    _post_documents(sf, master.c1)
    c = api.client
    hist = c.get(f"/api/v1/customers/{master.c1}/history?limit=5", headers=api.h("sp1"))
    assert hist.status_code == 200
    body = hist.get_json()
    assert body["customer"]["code"] == "C001" and body["orders_count"] == 1
    assert body["invoices"][0]["amount_residual"] == "200.00" and body["payments"][0]["method"] == "cash"
    assert (body["receivable"], body["unallocated"], body["open_balance"]) == ("200.00", "30.00", "170.00")
    assert c.get(f"/api/v1/customers/{master.c1}/history?limit=0",
                 headers=api.h("sp1")).status_code == 422

    url = f"/api/v1/customers/{master.c1}/merge"
    assert c.post(url, json={"into": master.c2}, headers=api.h("sp1")).status_code == 403
    assert c.post(url, json={"into": 424242}, headers=api.h("manager")).status_code == 422
    resp = c.post(url, json={"into": master.c2}, headers=api.h("manager"))
    assert resp.status_code == 200 and resp.get_json()["code"] == "C002"
    source = c.get(f"/api/v1/customers/{master.c1}", headers=api.h("manager")).get_json()
    assert source["active"] is False and source["merged_into_id"] == master.c2
    moved = c.get(f"/api/v1/customers/{master.c2}/history", headers=api.h("manager")).get_json()
    assert moved["orders_count"] == 1 and moved["open_balance"] == "170.00"
    assert c.post(url, json={"into": master.c2}, headers=api.h("manager")).status_code == 409


def test_products_api(api, master):
    c, h = api.client, api.h("manager")
    resp = c.post("/api/v1/products", json={"sku": "NEW-1", "name": "Widget", "list_price": "9.90"},
                  headers=h)
    assert resp.status_code == 201, resp.get_json()
    product = resp.get_json()
    assert product["list_price"] == "9.900000" and product["tax_id"] == master.tax_id
    clash = c.post("/api/v1/products", json={"sku": "P1", "name": "x", "list_price": "1"}, headers=h)
    assert clash.status_code == 409 and clash.get_json()["error"]["field"] == "sku"
    assert "P1" in clash.get_json()["error"]["message"]
    floats = c.post("/api/v1/products", json={"sku": "F", "name": "x", "list_price": 1.5}, headers=h)
    assert floats.status_code == 422 and "list_price" in floats.get_json()["error"]["fields"]
    assert c.post("/api/v1/products", json={"sku": "S", "name": "x", "list_price": "1"},
                  headers=api.h("sp1")).status_code == 403
    listed = c.get("/api/v1/products?q=widget", headers=api.h("sp1")).get_json()
    assert [p["sku"] for p in listed["items"]] == ["NEW-1"]
    assert c.get("/api/v1/products?sort=cost", headers=h).status_code == 422
    url = f"/api/v1/products/{product['id']}"
    assert c.patch(url, json={"active": False}, headers=api.h("manager", **{"If-Match": '"7"'})
                   ).status_code == 412
    ok = c.patch(url, json={"active": False, "sku": "NEW-2"}, headers=api.h(
        "manager", **{"If-Match": f'"{product["version"]}"'}))
    assert ok.status_code == 200 and ok.get_json()["sku"] == "NEW-2"
    assert [p["sku"] for p in c.get("/api/v1/products", headers=h).get_json()["items"]] == [
        "P1", "P2", "P3"]  # archived products are listed with ?active=false


def test_taxes_currencies_terms_and_salespersons_api(api, master, users):
    c, fin = api.client, api.h("finance")
    assert c.post("/api/v1/currencies", json={"code": "usd", "name": "US Dollar"},
                  headers=fin).status_code == 201
    assert c.post("/api/v1/currencies/USD/rates", json={"date": "2026-01-01", "rate": "7.1000"},
                  headers=fin).status_code == 201
    again = c.post("/api/v1/currencies/USD/rates", json={"date": "2026-01-01", "rate": "7.2"},
                   headers=fin)
    assert again.status_code == 409 and again.get_json()["error"]["field"] == "date"
    rate = c.get("/api/v1/currencies/USD/rate?date=2026-06-30", headers=api.h("sp1")).get_json()
    assert rate == {"currency": "USD", "date": "2026-06-30", "rate": "7.100000"}
    early = c.get("/api/v1/currencies/USD/rate?date=2025-01-01", headers=api.h("sp1"))
    assert early.status_code == 422 and "currency" in early.get_json()["error"]["fields"]
    assert c.get("/api/v1/currencies/EUR", headers=fin).status_code == 404

    bad = c.post("/api/v1/payment-terms", headers=fin, json={
        "code": "HALF", "name": "Half", "lines": [{"percent": "50", "days": 30}]})
    assert bad.status_code == 422 and "must sum to 100" in bad.get_json()["error"]["fields"]["lines"][0]
    term = c.post("/api/v1/payment-terms", headers=fin, json={
        "code": "3X", "name": "Thirds", "lines": [{"percent": "33.33", "days": 0},
                                                  {"percent": "33.33", "days": 30},
                                                  {"percent": "33.34", "days": 60}]}).get_json()
    dues = c.get(f"/api/v1/payment-terms/{term['id']}/due-dates?date=2026-01-01&total=100.00",
                 headers=api.h("sp1")).get_json()
    assert [d["amount"] for d in dues] == ["33.33", "33.33", "33.34"]
    assert dues[-1]["date"] == "2026-03-02"

    taxes = c.get("/api/v1/taxes", headers=api.h("sp1")).get_json()
    assert [(t["code"], t["rate"]) for t in taxes["items"]] == [("VAT13", "0.130000")]
    assert c.post("/api/v1/taxes", json={"code": "VAT9", "name": "VAT 9%", "rate": "0.09"},
                  headers=api.h("manager")).status_code == 403

    mgr = api.h("manager")
    team = c.post("/api/v1/teams", json={"code": "WEST", "name": "West"}, headers=mgr)
    assert team.status_code == 201
    sp = c.post("/api/v1/salespersons", json={"user_id": users.manager2,
                                              "team_id": team.get_json()["id"]}, headers=mgr)
    assert sp.status_code == 201 and sp.get_json()["name"] == "Manager2"
    taken = c.post("/api/v1/salespersons", json={"user_id": users.sp1}, headers=mgr)
    assert taken.status_code == 409 and taken.get_json()["error"]["field"] == "user_id"
    names = [s["name"] for s in c.get("/api/v1/salespersons?sort=name", headers=api.h("sp1"))
             .get_json()["items"]]
    assert names == ["MANAGER", "Manager2", "SP1", "SP2"]

    spec = c.get("/api/v1/openapi.json").get_json()
    for path, tag in (("/api/v1/customers/{customer_id}/merge", "customers"),
                      ("/api/v1/products", "products"), ("/api/v1/payment-terms", "payment-terms"),
                      ("/api/v1/currencies/{code}/rates", "currencies")):
        assert tag in next(iter(spec["paths"][path].values()))["tags"], path


def test_import_over_the_api_is_all_or_nothing_and_names_duplicates(sf, api, master):
    c, url = api.client, "/api/v1/customers/import"
    rows = [{"name": "Alpha Trading", "tax_id": "91440000MA1FL0100A"},
            {"name": "Beta Trading", "tax_id": "91310000ma1fl0001x"},   # C001's tax id
            {"name": "Gamma Trading", "tax_id": "91440000MA1FL0100A"}]  # row 0's
    resp = c.post(url, json={"rows": rows}, headers=api.h("manager"))
    assert resp.status_code == 409, resp.get_json()
    existing = resp.get_json()["error"]["existing"]
    assert [(e["row"], e["code"], e["reason"]) for e in existing] == [
        (1, "C001", "same tax id 91310000MA1FL0001X"), (2, "row 0", "same tax id as row 0")]
    resp = c.post(url, json={"rows": [{"name": "Delta"}, {"name": ""}]}, headers=api.h("manager"))
    assert resp.status_code == 422 and "rows.1.name" in resp.get_json()["error"]["fields"]
    with sf.transaction() as env:
        assert env.session.scalar(select(func.count()).select_from(env["sale.customer"])) == 2
    resp = c.post(url, json={"rows": rows, "force": True}, headers=api.h("manager"))
    assert resp.status_code == 201 and resp.get_json()["created"] == 3
    with sf.transaction() as env:
        assert env.session.scalar(select(func.count()).select_from(env["sale.customer"])) == 5
