"""Amounts, prices and quantities beyond what the columns store exactly (the kernel's numeric
limits, docs/sale.md "Money"): refused with a 422 naming the field (the API) or an error on the
form (web), computed totals included; nothing is written (each test on SQLite and
PostgreSQL)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from core.web.testing import post_form

pytestmark = pytest.mark.usefixtures("fast_passwords")

#: fits Qty (16, 3) and Price (18, 6); their product does not fit Money (18, 2)
HUGE_QTY, HUGE_PRICE = "999999999999.999", "999999999.999999"
TOO_LARGE = "is too large: at most 9999999999999.99"


def _counts(sf):
    with sf.transaction() as env:
        return {name: len(env.search(name)) for name in ("sale.order", "sale.line", "sale.product")}


def test_a_line_total_too_large_is_a_422_naming_the_field(sf, master, api):
    before = _counts(sf)
    r = api.client.post("/api/v1/orders", headers=api.h("sp1"), json={
        "customer_id": master.c1,
        "lines": [{"product_id": master.product_ids[0], "quantity": HUGE_QTY,
                   "unit_price": HUGE_PRICE}]})
    assert r.status_code == 422, r.get_json()
    fields = r.get_json()["error"]["fields"]
    assert fields and set(fields) <= {"amount_untaxed", "amount_tax", "amount_total"}, fields
    assert all(TOO_LARGE in messages[0] for messages in fields.values())
    assert _counts(sf) == before
    # the largest line that fits goes through, and reads back exactly
    r = api.client.post("/api/v1/orders", headers=api.h("sp1"), json={
        "customer_id": master.c1, "lines": [{"product_id": master.product_ids[0],
                                             "quantity": "1", "unit_price": HUGE_PRICE}]})
    assert r.status_code == 201, r.get_json()
    got = api.client.get(f"/api/v1/orders/{r.get_json()['id']}", headers=api.h("sp1")).get_json()
    assert (got["lines"][0]["unit_price"], got["amount_untaxed"], got["amount_total"]) == (
        HUGE_PRICE, "1000000000.00", "1130000000.00")


def test_a_change_making_an_order_too_large_leaves_it_as_it_was(sf, master, api, make_order):
    oid = make_order()
    url = f"/api/v1/orders/{oid}"
    first = api.client.get(url, headers=api.h("sp1")).get_json()
    r = api.client.patch(url, headers=api.h("sp1"), json={"lines": [
        {"id": first["lines"][0]["id"], "quantity": HUGE_QTY, "unit_price": HUGE_PRICE}]})
    assert r.status_code == 422 and TOO_LARGE in str(r.get_json()["error"]["fields"])
    after = api.client.get(url, headers=api.h("sp1")).get_json()
    assert after == first


def test_a_price_beyond_15_digits_is_refused_not_stored_as_another_number(sf, master, api):
    """SQLite would keep 9999999999.999999 as 9999999999.999998."""
    before = _counts(sf)
    body = {"sku": "BIG", "name": "Big", "list_price": "9999999999.999999"}
    r = api.client.post("/api/v1/products", headers=api.h("manager"), json=body)
    assert r.status_code == 422
    assert r.get_json()["error"]["fields"] == {"list_price": [
        "9999999999.999999 is too large: at most 999999999.999999 in absolute value (9 digits "
        "before the decimal point, 6 after)"]}
    assert _counts(sf) == before
    r = api.client.post("/api/v1/products", headers=api.h("manager"),
                        json={**body, "list_price": "999999999.999999"})
    assert r.status_code == 201
    with sf.transaction() as env:
        assert env.get("sale.product", r.get_json()["id"]).list_price == D("999999999.999999")


def test_the_order_form_shows_a_total_too_large_and_saves_nothing(sf, master, web):
    before = _counts(sf)
    sp1 = web("sp1")
    resp = post_form(sp1, "/r/sale.order/new", {
        "customer_id": str(master.c1), "lines-0-product_id": str(master.product_ids[0]),
        "lines-0-quantity": HUGE_QTY, "lines-0-unit_price": HUGE_PRICE},
        form_page="/r/sale.order/new")
    assert resp.status_code == 200
    assert TOO_LARGE in resp.get_data(as_text=True)
    assert _counts(sf) == before
