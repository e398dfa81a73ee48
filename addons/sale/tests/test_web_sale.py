"""The sale addon's web pages (each test on SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from core.web.testing import post_form

pytestmark = pytest.mark.usefixtures("fast_passwords")


def test_order_pages_respect_record_rules(sf, master, make_order, web):
    mine = make_order("sp1")
    theirs = make_order("sp2", customer=master.c2)
    sp1 = web("sp1")
    page = sp1.get(f"/r/sale.order/{mine}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Product 1" in html and "CN¥226.00" in html  # 2 x 100 + 13 % VAT
    assert sp1.get(f"/r/sale.order/{theirs}").status_code == 404
    assert sp1.get(f"/r/sale.order/{theirs}/edit").status_code == 404
    assert sp1.get(f"/r/sale.customer/{master.c2}").status_code == 404
    listing = sp1.get("/r/sale.order").get_data(as_text=True)
    assert "Northwind" not in listing and "上海华东贸易有限公司" in listing
    assert sp1.get("/sale/aging").status_code == 403
    assert web("manager").get(f"/r/sale.order/{theirs}").status_code == 200


def test_approval_reasons_then_manager_approves(sf, make_order, order_of_total, web, flow):
    oid = make_order("sp1", lines=order_of_total("150000"))
    sp1 = web("sp1")
    html = sp1.get(f"/r/sale.order/{oid}").get_data(as_text=True)
    assert "needs approval by sales_manager" in html
    assert f"/r/sale.order/{oid}/fire/approve" not in html
    manager = web("manager")
    html = manager.get(f"/r/sale.order/{oid}").get_data(as_text=True)
    assert f"/r/sale.order/{oid}/fire/approve" in html
    resp = post_form(manager, f"/r/sale.order/{oid}/fire/approve", form_page=f"/r/sale.order/{oid}")
    assert resp.status_code == 302
    assert flow.state("sale.order", oid) == "approved"
    html = manager.get(f"/r/sale.order/{oid}").get_data(as_text=True)
    assert "badge-approved" in html and "Manager" in html  # in the timeline


def test_create_and_edit_a_draft_order(sf, master, web):
    sp1 = web("sp1")
    assert sp1.get("/r/sale.order/new").status_code == 200
    resp = post_form(sp1, "/r/sale.order/new", {
        "customer_id": str(master.c1), "note": "rush",
        "lines-0-product_id": str(master.product_ids[0]), "lines-0-quantity": "3",
        "lines-1-product_id": str(master.product_ids[1]), "lines-1-quantity": "2",
        "lines-1-unit_price": "20",
        "lines-2-product_id": "",
    }, form_page="/r/sale.order/new")
    assert resp.status_code == 302, resp.get_data(as_text=True)
    oid = int(resp.headers["Location"].rsplit("/", 1)[1])
    html = sp1.get(resp.headers["Location"]).get_data(as_text=True)
    assert "CN¥384.20" in html  # (300 + 40) x 1.13
    with sf.transaction() as env:
        order = env.get("sale.order", oid)
        line_ids = [line.id for line in order.lines]
    edit = sp1.get(f"/r/sale.order/{oid}/edit").get_data(as_text=True)
    assert 'value="3' in edit
    resp = post_form(sp1, f"/r/sale.order/{oid}/edit", {
        "customer_id": str(master.c1),
        "lines-0-line_id": str(line_ids[0]), "lines-0-product_id": str(master.product_ids[0]),
        "lines-0-quantity": "1",
    }, form_page=f"/r/sale.order/{oid}/edit")
    assert resp.status_code == 302
    with sf.transaction() as env:
        order = env.get("sale.order", oid)
        assert [str(line.quantity.normalize()) for line in order.lines] == ["1"]
        assert str(order.amount_total) == "113.00"
    # a bad line is shown on the form, nothing saved
    resp = post_form(sp1, "/r/sale.order/new", {
        "customer_id": str(master.c1), "lines-0-product_id": str(master.product_ids[0]),
        "lines-0-quantity": "0"}, form_page="/r/sale.order/new")
    assert resp.status_code == 200 and "lines.0.quantity" in resp.get_data(as_text=True)


def test_customer_page_invoices_payments_aging_and_zh(sf, master, flow, web):
    oid = flow.order()
    iid = flow.invoice(oid)
    pid = flow.pay(master.c1, "100.00")
    finance = web("finance")
    html = finance.get(f"/r/sale.customer/{master.c1}").get_data(as_text=True)
    assert "Open balance" in html and "SO/" in html
    assert finance.get(f"/r/sale.invoice/{iid}").status_code == 200
    assert finance.get(f"/r/sale.payment/{pid}").status_code == 200
    assert finance.get("/r/sale.invoice?state=posted").status_code == 200
    assert finance.get("/r/sale.customer?tier=key&region=East&q=华东").status_code == 200
    aging = finance.get("/sale/aging").get_data(as_text=True)
    assert "C001" in aging
    with sf.transaction() as env:
        from sqlalchemy import select

        User = env["res.user"]
        env.session.scalars(select(User).where(User.login == "finance")).one().lang = "zh_CN"
    html = finance.get("/r/sale.order").get_data(as_text=True)
    assert "<h1>销售订单" in html and "客户" in html and "账龄分析" in html and "订单日期" in html
    html = finance.get(f"/r/sale.customer/{master.c1}").get_data(as_text=True)
    assert "应收账款" in html and "¥" in html


def test_escaping_of_customer_names(sf, users, master, web):
    with sf.transaction() as env:
        env.get("sale.customer", master.c1).name = "<script>alert('x')</script>"
    html = web("sp1").get(f"/r/sale.customer/{master.c1}").get_data(as_text=True)
    assert "<script>alert" not in html and "&lt;script&gt;alert(" in html


def test_aging_refuses_a_bad_date_or_parameter_naming_it(sf, master, flow, web):
    """The aging date is checked: a typo was silently today's aging, 0001-01-01 a 500."""
    finance = web("finance")
    for query, message in (("as_of=garbage", "as_of: not a date (YYYY-MM-DD)"),
                           ("as_of=0001-01-01", "as_of: out of range"),
                           ("colour=red", "colour: not a parameter of this page")):
        resp = finance.get(f"/sale/aging?{query}")
        assert resp.status_code == 400, query
        assert message in resp.get_data(as_text=True), query
    assert finance.get("/sale/aging?as_of=2026-01-31").status_code == 200
    assert finance.get("/sale/aging?as_of=").status_code == 200  # blank: today


def test_api_writes_signed_in_by_the_web_session_need_json_or_the_csrf_token(sf, master, make_order, web):
    """The JSON API is CSRF-exempt because a browser cannot send JSON cross-site; a bodyless
    form POST it can: with only the session cookie it copied an order. Now refused (403);
    JSON requests and requests carrying the session's CSRF token still run."""
    from sqlalchemy import func, select

    from core.web.testing import csrf_token

    def orders() -> int:
        with sf.transaction() as env:
            return env.session.scalar(select(func.count()).select_from(env["sale.order"]))

    sp1 = web("sp1")
    oid = make_order("sp1")
    before = orders()
    resp = sp1.post(f"/api/v1/orders/{oid}/copy", data={},
                    content_type="application/x-www-form-urlencoded")
    assert resp.status_code == 403 and "X-CSRFToken" in resp.get_json()["error"]["message"]
    assert sp1.post(f"/api/v1/orders/{oid}/copy", data="", content_type="text/plain").status_code == 403
    assert orders() == before
    assert sp1.post(f"/api/v1/orders/{oid}/copy", json=None,
                    content_type="application/json").status_code == 201
    token = csrf_token(sp1, "/r/sale.order/new")
    assert sp1.post(f"/api/v1/orders/{oid}/copy", headers={"X-CSRFToken": token}).status_code == 201
    assert orders() == before + 2
    assert sp1.get(f"/api/v1/orders/{oid}").status_code == 200  # reads need nothing more
