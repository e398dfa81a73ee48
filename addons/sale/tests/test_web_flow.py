"""Order to cash in the browser's pages (``sale.web_flow``): the customer form, recording a
shipment, creating an invoice, registering a payment. Each test on SQLite and PostgreSQL."""

from __future__ import annotations

import html
import json
import re
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from core.testing import CLIENT_TODAY
from core.web.testing import csrf_token, post_form

pytestmark = pytest.mark.usefixtures("fast_passwords")

D = Decimal


def count(sf, record: str, *criteria) -> int:
    with sf.transaction() as env:
        cls = env[record]
        return env.session.scalar(select(func.count()).select_from(cls).where(*criteria))


def set_lang(sf, login: str, lang: str) -> None:
    with sf.transaction() as env:
        User = env["res.user"]
        env.session.scalars(select(User).where(User.login == login)).one().lang = lang


def customer_form(name: str, **extra) -> dict:
    data = {"name": name, "tier": "normal", "currency": "CNY",
            "contacts-0-name": "王经理", "contacts-0-phone": "+86 571 8888 0001",
            "contacts-0-email": "wang@example.cn",
            "addresses-0-kind": "billing", "addresses-0-street": "西湖区文三路 100 号",
            "addresses-0-city": "杭州", "addresses-0-country": "CN"}
    data.update(extra)
    return data


# -- customers -----------------------------------------------------------------------------------


def test_salesperson_creates_a_customer_assigned_to_them(sf, users, web):
    sp1 = web("sp1")
    page = sp1.get("/r/sale.customer/new").get_data(as_text=True)
    # the salesperson field offers (and preselects) the user's own salesperson only
    assert re.search(rf'<option selected value="{users.sp["sp1"]}">SP1</option>', page)
    assert "SP2" not in page
    resp = post_form(sp1, "/r/sale.customer/new", customer_form(
        "杭州西湖茶业有限公司", tax_id="91330100MA2TEA001X",
        salesperson_id=str(users.sp["sp1"]), **{"contacts-1-name": "李会计",
                                                 "contacts-1-phone": "0571-8888 0002"}),
        form_page="/r/sale.customer/new")
    assert resp.status_code == 302, resp.get_data(as_text=True)
    cid = int(resp.headers["Location"].rsplit("/", 1)[1])
    with sf.transaction() as env:
        customer = env.get("sale.customer", cid)
        assert customer.name == "杭州西湖茶业有限公司"
        assert customer.salesperson_id == users.sp["sp1"]
        assert customer.code.startswith("C")
        assert [(c.name, c.phone_key) for c in customer.contacts] == [
            ("王经理", "057188880001"), ("李会计", "057188880002")]
        assert [(a.kind, a.street, a.city) for a in customer.addresses] == [
            ("billing", "西湖区文三路 100 号", "杭州")]
    assert "杭州西湖茶业有限公司" in sp1.get(f"/r/sale.customer/{cid}").get_data(as_text=True)


def test_a_customer_needs_a_contact_and_an_address(sf, web):
    before = count(sf, "sale.customer")
    data = customer_form("Acme Trading", **{"contacts-0-name": "", "contacts-0-phone": "",
                                             "contacts-0-email": "", "addresses-0-street": ""})
    resp = post_form(web("sp1"), "/r/sale.customer/new", data, form_page="/r/sale.customer/new")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "Give at least one contact." in page and "Give at least one address." in page
    # a bad e-mail (the service's check) is shown on its field, nothing saved
    resp = post_form(web("sp1"), "/r/sale.customer/new",
                     customer_form("Acme Trading", **{"contacts-0-email": "not-an-address"}),
                     form_page="/r/sale.customer/new")
    assert resp.status_code == 200
    assert "&#39;not-an-address&#39; is not an e-mail address" in resp.get_data(as_text=True)
    assert count(sf, "sale.customer") == before


def test_a_duplicate_is_refused_naming_the_existing_customer_then_created_anyway(sf, master, web):
    """c2 belongs to sp2 (hidden from sp1): sp1 learns that such a customer exists, not which."""
    sp1 = web("sp1")
    before = count(sf, "sale.customer")
    data = customer_form("Northwind Trading Co.", tax_id="91110000 ma1fl0002y")
    resp = post_form(sp1, "/r/sale.customer/new", data, form_page="/r/sale.customer/new")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "a customer you cannot see" in page and "same tax ID 91110000MA1FL0002Y" in page
    assert "C002" not in page and "Northwind Traders" not in page
    assert 'name="force"' in page
    assert count(sf, "sale.customer") == before
    resp = post_form(sp1, "/r/sale.customer/new", {**data, "force": "y"},
                     form_page="/r/sale.customer/new")
    assert resp.status_code == 302
    assert count(sf, "sale.customer") == before + 1


def test_editing_a_customer_and_who_may(sf, master, users, web):
    sp1 = web("sp1")
    edit = sp1.get(f"/r/sale.customer/{master.c1}/edit")
    assert edit.status_code == 200
    page = edit.get_data(as_text=True)
    assert 'value="上海华东贸易有限公司"' in page
    resp = post_form(sp1, f"/r/sale.customer/{master.c1}/edit", customer_form(
        "上海华东贸易有限公司", tier="key", region="华东", salesperson_id=str(users.sp["sp1"])),
        form_page=f"/r/sale.customer/{master.c1}/edit")
    assert resp.status_code == 302, resp.get_data(as_text=True)
    with sf.transaction() as env:
        customer = env.get("sale.customer", master.c1)
        assert (customer.region, customer.tier) == ("华东", "key")
        assert [c.name for c in customer.contacts] == ["王经理"]
        assert [a.city for a in customer.addresses] == ["杭州"]
    # another salesperson's customer is not found; the warehouse may not create customers
    assert sp1.get(f"/r/sale.customer/{master.c2}/edit").status_code == 404
    assert post_form(sp1, f"/r/sale.customer/{master.c2}/edit", customer_form("X"),
                     form_page="/r/sale.customer/new").status_code == 404
    assert web("warehouse").get("/r/sale.customer/new").status_code == 403


def test_customer_form_without_csrf_token_is_refused(sf, web):
    sp1 = web("sp1")
    before = count(sf, "sale.customer")
    resp = sp1.post("/r/sale.customer/new", data=customer_form("No Token Ltd"))
    assert resp.status_code == 400
    assert count(sf, "sale.customer") == before


def test_customer_form_in_chinese(sf, web):
    set_lang(sf, "sp1", "zh_CN")
    page = web("sp1").get("/r/sale.customer/new").get_data(as_text=True)
    for label in ("联系人", "地址", "销售员", "付款条件", "添加联系人", "开票地址"):
        assert label in page, label


# -- the order form's data for live totals ---------------------------------------------------------


def test_order_form_carries_prices_and_taxes_for_its_script(sf, master, web):
    page = web("sp1").get("/r/sale.order/new").get_data(as_text=True)
    assert "<script>" not in page and "sale_forms.js" in page
    match = re.search(r'data-catalog="([^"]*)"', page)
    catalog = json.loads(html.unescape(match.group(1)))
    p1, p2 = (str(i) for i in master.product_ids[:2])
    assert catalog["products"][p1] == {"price": "100.00", "rate": "0.13", "included": False}
    assert catalog["products"][p2]["price"] == "25.50"
    assert catalog["customers"][str(master.c1)] == {"symbol": "CN¥", "digits": 2}
    assert str(master.c2) not in catalog["customers"]  # sp2's customer
    assert 'data-add-row="order-lines"' in page
    js = web("sp1").get("/sale/static/sale_forms.js")
    assert js.status_code == 200 and "BigInt" in js.get_data(as_text=True)


# -- shipments -----------------------------------------------------------------------------------


def shipped(sf, oid) -> list[str]:
    with sf.transaction() as env:
        order = env.get("sale.order", oid)
        return [format(line.qty_shipped.normalize(), "f") for line in order.lines]


def test_warehouse_records_a_partial_then_the_last_shipment(sf, master, flow, web):
    oid = flow.order(lines=[(0, "10", None), (1, "4", None)], ship=None)
    warehouse = web("warehouse")
    order_page = warehouse.get(f"/r/sale.order/{oid}").get_data(as_text=True)
    assert f"/sale/orders/{oid}/ship" in order_page
    form = warehouse.get(f"/sale/orders/{oid}/ship").get_data(as_text=True)
    with sf.transaction() as env:
        line_ids = [line.id for line in env.get("sale.order", oid).lines]
    assert re.search(r'name="lines-0-quantity"[^>]*value="10', form)
    resp = post_form(warehouse, f"/sale/orders/{oid}/ship", {
        "lines-0-line_id": str(line_ids[0]), "lines-0-quantity": "6",
        "lines-1-line_id": str(line_ids[1]), "lines-1-quantity": "0",
        "reference": "SF1234567"}, form_page=f"/sale/orders/{oid}/ship")
    assert resp.status_code == 302
    assert shipped(sf, oid) == ["6", "0"] and flow.state("sale.order", oid) == "approved"
    # the form now offers what remains
    form = warehouse.get(f"/sale/orders/{oid}/ship").get_data(as_text=True)
    assert re.search(r'name="lines-0-quantity"[^>]*value="4', form)
    resp = post_form(warehouse, f"/sale/orders/{oid}/ship", {
        "lines-0-line_id": str(line_ids[0]), "lines-0-quantity": "4",
        "lines-1-line_id": str(line_ids[1]), "lines-1-quantity": "4"},
        form_page=f"/sale/orders/{oid}/ship")
    assert resp.status_code == 302
    assert shipped(sf, oid) == ["10", "4"] and flow.state("sale.order", oid) == "shipped"


def test_automatic_triggers_have_no_button(sf, master, flow, web):
    """``ship``, ``invoice`` and ``settle`` are fired by the services when the documents say
    so: the order page offers the shipment form, not a disabled "Ship" button with a reason."""
    oid = flow.order(ship=None)
    page = web("warehouse").get(f"/r/sale.order/{oid}").get_data(as_text=True)
    assert f"/sale/orders/{oid}/ship" in page
    assert f"/r/sale.order/{oid}/fire/ship" not in page and "not everything is shipped" not in page
    with sf.transaction() as env:
        wf = env.sf.workflows["sale.order"].markup()
    assert {t["trigger"] for t in wf["transitions"] if t["automatic"]} == {"ship", "invoice", "settle"}


def test_over_shipping_is_refused_on_the_form_and_nothing_changes(sf, master, flow, web):
    oid = flow.order(lines=[(0, "3", None)], ship=None)
    with sf.transaction() as env:
        line_id = env.get("sale.order", oid).lines[0].id
    resp = post_form(web("warehouse"), f"/sale/orders/{oid}/ship", {
        "lines-0-line_id": str(line_id), "lines-0-quantity": "5"},
        form_page=f"/sale/orders/{oid}/ship")
    assert resp.status_code == 200
    assert "only 3 left to ship" in resp.get_data(as_text=True)
    assert shipped(sf, oid) == ["0"] and count(sf, "sale.shipment") == 0


def test_shipment_roles_missing_orders_and_csrf(sf, master, flow, web):
    oid = flow.order(lines=[(0, "3", None)], ship=None)
    assert web("sp1").get(f"/sale/orders/{oid}/ship").status_code == 403
    assert web("finance").get(f"/sale/orders/{oid}/ship").status_code == 403
    assert f"/sale/orders/{oid}/ship" not in web("sp1").get(f"/r/sale.order/{oid}").get_data(as_text=True)
    warehouse = web("warehouse")
    assert warehouse.get("/sale/orders/999999/ship").status_code == 404
    with sf.transaction() as env:
        line_id = env.get("sale.order", oid).lines[0].id
    resp = warehouse.post(f"/sale/orders/{oid}/ship",
                          data={"lines-0-line_id": str(line_id), "lines-0-quantity": "3"})
    assert resp.status_code == 400
    assert shipped(sf, oid) == ["0"] and count(sf, "sale.shipment") == 0


# -- invoices ------------------------------------------------------------------------------------


def test_finance_creates_and_posts_the_invoice_of_a_shipped_order(sf, master, flow, web):
    oid = flow.order(lines=[(0, "2", None), (1, "3", None)])  # 200 + 76.50, 13 % VAT
    finance = web("finance")
    order_page = finance.get(f"/r/sale.order/{oid}").get_data(as_text=True)
    assert f"/sale/orders/{oid}/invoice" in order_page
    resp = post_form(finance, f"/sale/orders/{oid}/invoice", form_page=f"/r/sale.order/{oid}")
    assert resp.status_code == 302 and "/r/sale.invoice/" in resp.headers["Location"]
    iid = int(resp.headers["Location"].rsplit("/", 1)[1])
    with sf.transaction() as env:
        invoice = env.get("sale.invoice", iid)
        assert (invoice.state, str(invoice.amount_total)) == ("draft", "312.45")
    page = finance.get(f"/r/sale.invoice/{iid}").get_data(as_text=True)
    assert f"/r/sale.invoice/{iid}/fire/post" in page
    resp = post_form(finance, f"/r/sale.invoice/{iid}/fire/post", form_page=f"/r/sale.invoice/{iid}")
    assert resp.status_code == 302
    assert flow.state("sale.invoice", iid) == "posted"
    assert flow.state("sale.order", oid) == "invoiced"
    page = finance.get(f"/r/sale.invoice/{iid}").get_data(as_text=True)
    assert f"/sale/payments/new?invoice_id={iid}" in page


def test_nothing_to_invoice_is_refused_and_creates_nothing(sf, master, flow, web):
    oid = flow.order(lines=[(0, "2", None)], ship=None)  # approved, nothing shipped
    finance = web("finance")
    resp = post_form(finance, f"/sale/orders/{oid}/invoice", form_page=f"/r/sale.order/{oid}")
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/r/sale.order/{oid}")
    page = finance.get(resp.headers["Location"]).get_data(as_text=True)
    assert "nothing is shipped yet" in page
    assert count(sf, "sale.invoice") == 0


def test_invoice_creation_roles_and_csrf(sf, master, flow, web):
    oid = flow.order(lines=[(0, "2", None)])
    for login in ("sp1", "warehouse", "manager"):
        resp = post_form(web(login), f"/sale/orders/{oid}/invoice", form_page=f"/r/sale.order/{oid}")
        assert resp.status_code == 403, login
    assert post_form(web("finance"), "/sale/orders/999999/invoice",
                     form_page=f"/r/sale.order/{oid}").status_code == 404
    assert web("finance").post(f"/sale/orders/{oid}/invoice").status_code == 400
    assert count(sf, "sale.invoice") == 0


# -- payments ------------------------------------------------------------------------------------


def test_payment_from_the_invoice_page_settles_invoice_and_order(sf, master, flow, web):
    oid = flow.order(lines=[(0, "2", None)])
    iid = flow.invoice(oid)  # 226.00
    finance = web("finance")
    form = finance.get(f"/sale/payments/new?invoice_id={iid}").get_data(as_text=True)
    assert re.search(r'name="amount"[^>]*value="226.00"', form)
    assert re.search(r'name="allocations-0-amount"[^>]*value="226.00"', form)
    assert re.search(r'checked[^>]*value="manual"|value="manual"[^>]*checked', form)
    resp = post_form(finance, f"/sale/payments/new?invoice_id={iid}", {
        "customer_id": str(master.c1), "date": "2026-03-02", "method": "bank_transfer",
        "amount": "226.00", "reference": "CMB-0042", "allocation": "manual",
        "allocations-0-invoice_id": str(iid), "allocations-0-amount": "226.00"},
        form_page=f"/sale/payments/new?invoice_id={iid}")
    assert resp.status_code == 302, resp.get_data(as_text=True)
    pid = int(resp.headers["Location"].rsplit("/", 1)[1])
    with sf.transaction() as env:
        payment = env.get("sale.payment", pid)
        assert (str(payment.amount), payment.method, payment.reference) == ("226.00", "bank_transfer", "CMB-0042")
        assert str(payment.amount_unallocated) == "0.00"
    assert flow.state("sale.invoice", iid) == "paid"
    assert flow.state("sale.order", oid) == "paid"


def test_payment_oldest_invoice_first_rest_on_the_next(sf, master, flow, web):
    first = flow.invoice(flow.order(lines=[(0, "1", None)]))   # 113.00
    second = flow.invoice(flow.order(lines=[(0, "2", None)]))  # 226.00
    finance = web("finance")
    form = finance.get(f"/sale/payments/new?customer_id={master.c1}").get_data(as_text=True)
    assert re.search(r'name="amount"[^>]*value="339.00"', form)  # everything open
    resp = post_form(finance, "/sale/payments/new", {
        "customer_id": str(master.c1), "date": "2026-03-02", "method": "cash",
        "amount": "150.00", "allocation": "oldest"}, form_page="/sale/payments/new")
    assert resp.status_code == 302, resp.get_data(as_text=True)
    with sf.transaction() as env:
        assert env.get("sale.invoice", first).state == "paid"
        assert str(env.get("sale.invoice", second).amount_residual) == "189.00"


def test_a_refused_payment_is_shown_and_nothing_is_saved(sf, master, flow, web):
    iid = flow.invoice(flow.order(lines=[(0, "1", None)]))  # 113.00
    finance = web("finance")
    resp = post_form(finance, "/sale/payments/new", {
        "customer_id": str(master.c1), "date": "2026-03-02", "method": "cheque",
        "amount": "100.00", "allocation": "manual",
        "allocations-0-invoice_id": str(iid), "allocations-0-amount": "113.00"},
        form_page="/sale/payments/new")
    assert resp.status_code == 200
    assert "allocate at most the amount paid" in resp.get_data(as_text=True)
    resp = post_form(finance, "/sale/payments/new", {
        "customer_id": str(master.c1), "date": "2026-03-02", "method": "cheque",
        "amount": "12.345", "allocation": "oldest"}, form_page="/sale/payments/new")
    assert resp.status_code == 200 and "at most 2 decimals" in resp.get_data(as_text=True)
    assert count(sf, "sale.payment") == 0
    assert str(flow.state("sale.invoice", iid)) == "posted"


def test_payment_roles_hidden_invoices_and_csrf(sf, master, flow, web):
    iid = flow.invoice(flow.order(lines=[(0, "1", None)]))
    for login in ("sp1", "warehouse", "manager"):
        assert web(login).get(f"/sale/payments/new?invoice_id={iid}").status_code == 403, login
    assert web("sp1").get(f"/r/sale.invoice/{iid}").status_code == 200
    assert "/sale/payments/new" not in web("sp1").get(f"/r/sale.invoice/{iid}").get_data(as_text=True)
    finance = web("finance")
    assert finance.get("/sale/payments/new?invoice_id=999999").status_code == 404
    resp = finance.post("/sale/payments/new", data={
        "customer_id": str(master.c1), "date": "2026-03-02", "method": "cash",
        "amount": "113.00", "allocation": "oldest"})
    assert resp.status_code == 400
    assert count(sf, "sale.payment") == 0 and flow.state("sale.invoice", iid) == "posted"


def test_payment_form_in_chinese(sf, master, flow, web):
    iid = flow.invoice(flow.order(lines=[(0, "1", None)]))
    set_lang(sf, "finance", "zh_CN")
    page = web("finance").get(f"/sale/payments/new?invoice_id={iid}").get_data(as_text=True)
    for label in ("登记收款", "银行转账", "现金", "支票", "电子支付", "收款方式", "未结金额"):
        assert label in page, label
    assert csrf_token(web("finance"), f"/sale/payments/new?invoice_id={iid}")


# -- mass actions on the order lists ------------------------------------------------------------


def test_salesperson_approves_the_ticked_quotations_in_one_go(sf, master, make_order, flow, web):
    a, b, untouched = make_order(), make_order(), make_order()
    sp1 = web("sp1")
    page = sp1.get("/r/sale.quotation").get_data(as_text=True)
    assert "/r/sale.quotation/actions/approve" in page and f'name="ids" value="{a}"' in page
    resp = post_form(sp1, "/r/sale.quotation/actions/approve",
                     {"ids": [str(a), str(b)], "back": "/r/sale.quotation?q=SO"},
                     form_page="/r/sale.quotation")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/r/sale.quotation?q=SO")
    assert [flow.state("sale.order", i) for i in (a, b, untouched)] == ["approved", "approved", "draft"]
    assert "2 orders approved" in sp1.get("/r/sale.quotation").get_data(as_text=True)


def test_a_refused_row_refuses_the_whole_mass_action(sf, master, make_order, flow, web):
    import datetime as dt

    good = make_order()
    expired = make_order(date_order=CLIENT_TODAY - dt.timedelta(days=10),
                         validity_date=CLIENT_TODAY - dt.timedelta(days=1))
    sp1 = web("sp1")
    resp = post_form(sp1, "/r/sale.order/actions/approve", {"ids": [str(good), str(expired)]},
                     form_page="/r/sale.order")
    assert resp.status_code == 302
    assert [flow.state("sale.order", i) for i in (good, expired)] == ["draft", "draft"]
    page = html.unescape(sp1.get("/r/sale.order").get_data(as_text=True))
    with sf.transaction() as env:
        number = env.get("sale.order", expired).number
    assert f"{number}: the quotation expired" in page and "Nothing was done." in page


def test_warehouse_ships_and_finance_invoices_the_ticked_orders(sf, master, flow, web):
    a, b = flow.order(ship=None), flow.order(lines=[(1, "3", None)], ship=None)
    warehouse = web("warehouse")
    page = warehouse.get("/r/sale.order").get_data(as_text=True)
    assert "/r/sale.order/actions/ship" in page and "/r/sale.order/actions/approve" not in page
    post_form(warehouse, "/r/sale.order/actions/ship", {"ids": [str(a), str(b)]},
              form_page="/r/sale.order")
    assert [flow.state("sale.order", i) for i in (a, b)] == ["shipped", "shipped"]
    finance = web("finance")
    post_form(finance, "/r/sale.order/actions/invoice", {"ids": [str(a), str(b)]},
              form_page="/r/sale.order")
    assert [flow.state("sale.order", i) for i in (a, b)] == ["invoiced", "invoiced"]
    with sf.transaction() as env:
        Invoice = env["sale.invoice"]
        states = env.session.execute(select(Invoice.order_id, Invoice.state)
                                     .where(Invoice.order_id.in_([a, b]))).all()
    assert sorted(states) == sorted([(a, "posted"), (b, "posted")])


def test_mass_actions_check_roles_rows_and_csrf(sf, master, make_order, flow, web):
    mine = make_order()  # sp1's customer
    other = make_order("sp2", customer=master.c2)
    sp2 = web("sp2")
    # a row the user may not see: 404, nothing done
    resp = post_form(sp2, "/r/sale.order/actions/approve", {"ids": [str(other), str(mine)]},
                     form_page="/r/sale.order")
    assert resp.status_code == 404
    assert [flow.state("sale.order", i) for i in (mine, other)] == ["draft", "draft"]
    # an action of another role: 403
    resp = post_form(web("warehouse"), "/r/sale.order/actions/approve", {"ids": [str(mine)]},
                     form_page="/r/sale.order")
    assert resp.status_code == 403 and flow.state("sale.order", mine) == "draft"
    # no CSRF token: 400
    resp = web("sp1").post("/r/sale.order/actions/approve", data={"ids": [str(mine)]})
    assert resp.status_code == 400 and flow.state("sale.order", mine) == "draft"
    # nothing ticked, and a "back" elsewhere is not followed
    resp = post_form(web("sp1"), "/r/sale.order/actions/approve", {"back": "https://evil.example/"},
                     form_page="/r/sale.order")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/r/sale.order")
    assert "Select at least one row." in web("sp1").get("/r/sale.order").get_data(as_text=True)


def test_tick_all_ticks_the_rows_of_this_page_only_and_keeps_the_filter(sf, master, make_order, flow, web):
    import re

    mine = [make_order() for _ in range(3)]
    other = make_order("sp2", customer=master.c2)  # not sp1's: never listed, never ticked
    sp1 = web("sp1")
    page = html.unescape(sp1.get("/r/sale.quotation?q=SO").get_data(as_text=True))
    assert 'checked' not in page
    link = re.search(r'<th class="pick"><a href="([^"]+)"', page).group(1)
    assert "pick=page" in link and "q=SO" in link
    ticked_page = html.unescape(sp1.get(link).get_data(as_text=True))
    ticked = sorted(int(i) for i in re.findall(r'name="ids" value="(\d+)"[^>]*checked', ticked_page))
    assert ticked == sorted(mine) and other not in ticked
    # the action goes back to the list as filtered, unticked; the pager does not carry the ticks
    assert 'name="back" value="/r/sale.quotation?q=SO"' in ticked_page
    assert "Untick all" in ticked_page
    resp = post_form(sp1, "/r/sale.quotation/actions/approve",
                     {"ids": [str(i) for i in ticked], "back": "/r/sale.quotation?q=SO"},
                     form_page="/r/sale.quotation")
    assert resp.status_code == 302
    assert [flow.state("sale.order", i) for i in mine] == ["approved"] * 3
    assert flow.state("sale.order", other) == "draft"
    assert sp1.get("/r/sale.quotation?pick=everything").status_code == 400
    set_lang(sf, "sp1", "zh_CN")
    assert "全选" in web("sp1").get("/r/sale.order").get_data(as_text=True)


# -- bad input: a message on the field (or a 400 naming a tampered hidden field), never a 500 ------

BIG_ID = "99999999999999999999"


def test_bad_ids_dates_and_amounts_are_refused_naming_the_field(sf, master, users, make_order, flow, web):
    sp1 = web("sp1")
    customers, orders = count(sf, "sale.customer"), count(sf, "sale.order")
    # a select of records given a huge or non-numeric id: the field says so (was a 500)
    for field in ("salesperson_id", "payment_term_id"):
        for value in (BIG_ID, "abc"):
            resp = post_form(sp1, "/r/sale.customer/new", customer_form("Acme", **{field: value}),
                             form_page="/r/sale.customer/new")
            assert resp.status_code == 200, (field, value)
            assert "Invalid Choice: could not coerce." in resp.get_data(as_text=True)
    # a tampered hidden id (contact, order line): 400 naming it
    resp = post_form(sp1, f"/r/sale.customer/{master.c1}/edit",
                     customer_form("上海华东贸易有限公司", **{"contacts-0-contact_id": BIG_ID}),
                     form_page=f"/r/sale.customer/{master.c1}/edit")
    assert resp.status_code == 400 and "contacts-0-contact_id: not a record id" in resp.get_data(as_text=True)
    oid = make_order("sp1")
    product = str(master.product_ids[0])
    for value in ("abc", "1.5", BIG_ID):
        resp = post_form(sp1, f"/r/sale.order/{oid}/edit", {
            "customer_id": str(master.c1), "lines-0-line_id": value, "lines-0-product_id": product,
            "lines-0-quantity": "1", "lines-0-unit_price": "10"}, form_page=f"/r/sale.order/{oid}/edit")
        assert resp.status_code == 400 and "lines-0-line_id: not a record id" in resp.get_data(as_text=True)
    # an order date whose default validity date is past year 9999
    resp = post_form(sp1, "/r/sale.order/new", {
        "customer_id": str(master.c1), "date_order": "9999-12-31", "lines-0-product_id": product,
        "lines-0-quantity": "1", "lines-0-unit_price": "10"}, form_page="/r/sale.order/new")
    assert resp.status_code == 200 and "too late: no validity date after it" in resp.get_data(as_text=True)
    assert (count(sf, "sale.customer"), count(sf, "sale.order")) == (customers, orders + 1)
    # a payment of 1e30 (rounding it raised) and an allocation to a huge invoice id
    finance = web("finance")
    payments = count(sf, "sale.payment")
    data = {"customer_id": str(master.c1), "date": "2026-01-05", "method": "cash",
            "amount": "1e30", "allocation": "oldest"}
    resp = post_form(finance, "/sale/payments/new", data, form_page="/sale/payments/new")
    assert resp.status_code == 200 and "must be less than 10,000,000,000,000,000" in resp.get_data(as_text=True)
    resp = post_form(finance, "/sale/payments/new", {
        **data, "amount": "1", "allocation": "manual", "allocations-0-invoice_id": BIG_ID,
        "allocations-0-amount": "1"}, form_page="/sale/payments/new")
    assert resp.status_code == 400 and "allocations-0-invoice_id: not a record id" in resp.get_data(as_text=True)
    assert count(sf, "sale.payment") == payments
