"""Order to cash in a real browser (Playwright driving Debian's chromium), on SQLite and
PostgreSQL: the real app serves a fresh database from a background thread; a salesperson
working in Chinese creates a customer and a three-line quotation (its live total checked before
saving), the sales manager approves it (it is over the approval threshold), the warehouse ships
it, finance invoices, posts and collects it; the order ends paid, the aging page and the
dashboard show it, and another salesperson cannot open it.

Screenshots of the key pages go to ``$SALESFLOW_SCREENSHOTS`` (default
``artifacts/screenshots/<database>/``). Without chromium (``/usr/bin/chromium``, or
``$SALESFLOW_CHROMIUM``) or Playwright the test is skipped, unless
``SALESFLOW_REQUIRE_BROWSER=1`` (CI), where it fails. ``playwright install`` is never needed:
the system's chromium is launched.
"""

from __future__ import annotations

import os
import re
import threading
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from core.app import create_app
from core.testing import add_user, approval_rule

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("SALESFLOW_CHROMIUM", "/usr/bin/chromium")
REQUIRE_BROWSER = os.environ.get("SALESFLOW_REQUIRE_BROWSER") == "1"
PASSWORD = "browser-test-pw"
D = Decimal
CENT = D("0.01")

#: (sku, name, list price); the quotation: 5 routers, 4 switches, 2 services at 5 % discount
PRODUCTS = [("R-900", "工业路由器 R-900", "12800.00"), ("S-48", "千兆交换机 S-48", "8650.55"),
            ("SVC-1", "安装调试服务", "3200.00")]
LINES = [(0, "5", ""), (1, "4", ""), (2, "2", "5")]


def _unavailable(reason: str):
    if REQUIRE_BROWSER:
        pytest.fail(f"{reason} (SALESFLOW_REQUIRE_BROWSER=1)")
    pytest.skip(reason)


@pytest.fixture
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright is not installed (pip install -e '.[dev]')")
    if not Path(CHROMIUM).exists():
        _unavailable(f"no chromium at {CHROMIUM} (bash scripts/system-deps.sh browser)")
    with sync_playwright() as pw:
        # as root (containers, CI) chromium needs --no-sandbox; /dev/shm may be tiny there
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=["--no-sandbox", "--disable-dev-shm-usage"])
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def shots(request):
    """``shots(page, "01-login")`` saves a full-page screenshot (one folder per database)."""
    base = Path(os.environ.get("SALESFLOW_SCREENSHOTS") or ROOT / "artifacts" / "screenshots")
    folder = base / request.node.callspec.params.get("db_url", "db")
    folder.mkdir(parents=True, exist_ok=True)

    def take(page, name: str) -> None:
        page.screenshot(path=str(folder / f"{name}.png"), full_page=True)

    take.folder = folder
    return take


@pytest.fixture
def live(make_sf):
    """The real app on a free port, on a fresh database: master data, users and salespersons.
    Orders over 100,000 need a sales manager's approval."""
    from werkzeug.serving import make_server

    sf = make_sf(["sale"], locale="zh_CN",
                 approvals=[approval_rule("sale.order", "approve", [("100000", "sales_manager")])])
    langs = {"li": "zh_CN", "manager": "en", "warehouse": "en", "finance": "en", "zhao": "zh_CN"}
    ids = {login: add_user(sf, login, role, password=PASSWORD) for login, role in (
        ("li", "salesperson"), ("manager", "sales_manager"), ("warehouse", "warehouse"),
        ("finance", "finance"), ("zhao", "salesperson"))}
    with sf.transaction() as env:
        from sale.services.masterdata import ensure_defaults

        User = env["res.user"]
        for user in env.session.scalars(select(User)):
            user.lang = langs[user.login]
        env.session.get(User, ids["li"]).name = "李明"
        env.session.get(User, ids["zhao"]).name = "赵雪"
        defaults = ensure_defaults(env)
        vat = defaults["taxes"]["VAT13"]
        team = env.create("sale.team", code="EAST", name="华东销售部")
        for login, name in (("li", "李明"), ("zhao", "赵雪"), ("manager", "Manager")):
            env.create("sale.salesperson", user_id=ids[login], name=name, team_id=team.id)
        products = [env.create("sale.product", sku=sku, name=name, unit="台", list_price=D(price),
                               cost=D(price) * D("0.6"), tax_id=vat.id).id
                    for sku, name, price in PRODUCTS]
        term = defaults["terms"]["NET30"].id
    app = create_app(salesflow=sf)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield type("Live", (), {"sf": sf, "url": f"http://127.0.0.1:{server.server_port}",
                                "products": products, "term": term})
    finally:
        server.shutdown()
        thread.join(timeout=10)


def expected_amounts() -> tuple[Decimal, Decimal, Decimal]:
    """The quotation's totals by docs/sale.md: half up to the cent, once per line, 13 % VAT."""
    untaxed = tax = D(0)
    for index, qty, discount in LINES:
        price = D(PRODUCTS[index][2])
        line = (D(qty) * price * (100 - D(discount or 0)) / 100).quantize(CENT, ROUND_HALF_UP)
        untaxed += line
        tax += (line * D("0.13")).quantize(CENT, ROUND_HALF_UP)
    return untaxed, tax, untaxed + tax


def text_amount(value: Decimal, symbol: str) -> str:
    return f"{symbol}{value:,.2f}"


def sign_in(browser, live, login: str):
    context = browser.new_context(viewport={"width": 1360, "height": 900}, locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(f"{live.url}/login")
    page.fill("#login", login)
    page.fill("#password", PASSWORD)
    page.click("form.login button[type=submit]")
    page.wait_for_load_state()
    assert "/login" not in page.url, f"{login} could not sign in"
    page.errors = errors  # JavaScript errors and CSP refusals of this page, checked at the end
    return page


def state_of(live, record: str, ident: int) -> str:
    with live.sf.transaction() as env:
        return env.get(record, ident).state


def test_order_to_cash_in_the_browser(browser, live, shots):
    from playwright.sync_api import expect

    # -- the login page in Chinese (the company's language) ------------------------------------
    anonymous = browser.new_context(viewport={"width": 1360, "height": 900}).new_page()
    anonymous.goto(f"{live.url}/login")
    expect(anonymous.locator("label[for=password]")).to_have_text("密码")
    expect(anonymous.locator("form.login button")).to_have_text("登录")
    shots(anonymous, "01-login-zh")

    # -- the salesperson (Chinese UI) creates a customer ------------------------------------------
    li = sign_in(browser, live, "li")
    li.goto(f"{live.url}/r/sale.customer/new")
    expect(li.locator("h2.section").first).to_have_text("客户")
    li.fill("#name", "杭州明湖科技有限公司")
    li.fill("#tax_id", "91330106MA2B00042K")
    li.fill("#region", "华东")
    li.select_option("#payment_term_id", str(live.term))
    li.fill("#contacts-0-name", "王芳")
    li.fill("#contacts-0-phone", "+86 138 0013 8000")
    li.fill("#contacts-0-email", "wangfang@minghu.cn")
    li.click("[data-add-row=customer-contacts]")
    li.fill("#contacts-1-name", "陈会计")
    li.fill("#contacts-1-phone", "0571-8765 4321")
    li.fill("#addresses-0-street", "西湖区文三路 398 号 5 楼")
    li.fill("#addresses-0-city", "杭州")
    li.fill("#addresses-0-postcode", "310013")
    shots(li, "02-customer-form")
    li.click("form.form button[type=submit]")
    li.wait_for_url(re.compile(r"/r/sale\.customer/\d+$"))
    customer_id = int(li.url.rsplit("/", 1)[1])
    expect(li.locator("h1")).to_have_text("杭州明湖科技有限公司")
    expect(li.locator("body")).to_contain_text("陈会计")

    # -- a three-line quotation: the live totals before saving ----------------------------------
    untaxed, tax, total = expected_amounts()
    li.goto(f"{live.url}/r/sale.order/new")
    li.select_option("#customer_id", str(customer_id))
    # 3 x 0.335 = 1.005: half up gives 1.01 (in binary floating point it is 1.00499..., 1.00)
    li.select_option("#lines-0-product_id", str(live.products[0]))
    li.fill("#lines-0-unit_price", "0.335")
    li.fill("#lines-0-quantity", "3")
    expect(li.locator("#order-lines [data-untaxed]").first).to_have_text("¥1.01")
    expect(li.locator("#order-lines [data-tax]").first).to_have_text("¥0.13")
    li.fill("#lines-0-unit_price", "")  # back to the list price when the product is chosen
    for i, (index, qty, discount) in enumerate(LINES):
        if i:
            li.click("[data-add-row=order-lines]")
        li.select_option(f"#lines-{i}-product_id", str(live.products[index]))
        expect(li.locator(f"#lines-{i}-unit_price")).to_have_value(
            f"{D(PRODUCTS[index][2]):.2f}")  # the list price, filled in
        li.fill(f"#lines-{i}-quantity", qty)
        if discount:
            li.fill(f"#lines-{i}-discount", discount)
    expect(li.locator("[data-order-untaxed]")).to_have_text(text_amount(untaxed, "¥"))
    expect(li.locator("[data-order-tax]")).to_have_text(text_amount(tax, "¥"))
    expect(li.locator("[data-order-total]")).to_have_text(text_amount(total, "¥"))
    expect(li.locator("tr[data-row]").nth(2).locator("[data-total]")).to_have_text("¥6,870.40")
    shots(li, "03-quotation-live-totals")
    li.click("form.form button[type=submit]")
    li.wait_for_url(re.compile(r"/r/sale\.order/\d+$"))
    order_id = int(li.url.rsplit("/", 1)[1])
    with live.sf.transaction() as env:
        order = env.get("sale.order", order_id)
        assert (order.amount_untaxed, order.amount_tax, order.amount_total) == (untaxed, tax, total)
    # submitting: over 100,000 the salesperson's approval is not enough, the panel says why
    panel = li.locator("section.workflow")
    expect(panel.locator("button[disabled]")).to_have_text("审核")
    expect(panel).to_contain_text("需要销售经理审批")
    shots(li, "04-quotation-needs-approval")

    # -- the sales manager approves -------------------------------------------------------------
    manager = sign_in(browser, live, "manager")
    manager.goto(f"{live.url}/r/sale.order/{order_id}")
    manager.click("section.workflow form[action$='/fire/approve'] button")
    expect(manager.locator("section.workflow .badge").first).to_have_text(re.compile("^approved$", re.I))
    assert state_of(live, "sale.order", order_id) == "approved"
    shots(manager, "05-order-approved-workflow")

    # -- the warehouse records the shipment (everything that remains, the default) ------------
    warehouse = sign_in(browser, live, "warehouse")
    warehouse.goto(f"{live.url}/r/sale.order/{order_id}")
    warehouse.click("#panel-sale_fulfilment a.btn >> text=Record shipment")
    expect(warehouse.locator("#lines-0-quantity")).to_have_value("5")
    warehouse.fill("#reference", "SF1403 2277 0091")
    shots(warehouse, "06-shipment-form")
    warehouse.click("form.form button[type=submit]")
    warehouse.wait_for_url(re.compile(rf"/r/sale\.order/{order_id}$"))
    expect(warehouse.locator(".flash-success")).to_contain_text("The order is fully shipped.")
    assert state_of(live, "sale.order", order_id) == "shipped"

    # -- finance: invoice, post, aging, payment -------------------------------------------------
    finance = sign_in(browser, live, "finance")
    finance.goto(f"{live.url}/r/sale.order/{order_id}")
    finance.click("#panel-sale_fulfilment button >> text=Create invoice")
    finance.wait_for_url(re.compile(r"/r/sale\.invoice/\d+$"))
    invoice_id = int(finance.url.rsplit("/", 1)[1])
    finance.click("section.workflow form[action$='/fire/post'] button")
    expect(finance.locator("section.workflow .badge").first).to_have_text(re.compile("^posted$", re.I))
    expect(finance.locator("h1")).to_contain_text("INV/")
    assert state_of(live, "sale.order", order_id) == "invoiced"
    shots(finance, "07-invoice-posted")
    finance.goto(f"{live.url}/sale/aging")
    row = finance.locator("table.grid tbody tr", has_text="杭州明湖科技有限公司")
    expect(row).to_contain_text(text_amount(total, "CN¥"))
    shots(finance, "08-aging-open")
    finance.goto(f"{live.url}/r/sale.invoice/{invoice_id}")
    finance.click("#panel-sale_collection a >> text=Register payment")
    expect(finance.locator("#amount")).to_have_value(f"{total:.2f}")
    expect(finance.locator("#allocations-0-amount")).to_have_value(f"{total:.2f}")
    finance.select_option("#method", "bank_transfer")
    finance.fill("#reference", "CMB 6225 8801 0042")
    shots(finance, "09-payment-form")
    finance.click("form.form button[type=submit]")
    finance.wait_for_url(re.compile(r"/r/sale\.payment/\d+$"))
    expect(finance.locator(".flash-success")).to_contain_text("registered")
    shots(finance, "10-payment")
    assert state_of(live, "sale.invoice", invoice_id) == "paid"
    assert state_of(live, "sale.order", order_id) == "paid"
    finance.goto(f"{live.url}/r/sale.order/{order_id}")
    expect(finance.locator("section.workflow .badge").first).to_have_text(re.compile("^paid$", re.I))
    shots(finance, "11-order-paid")
    finance.goto(f"{live.url}/sale/aging")
    expect(finance.locator("table.grid tbody")).not_to_contain_text("杭州明湖科技有限公司")
    shots(finance, "12-aging-settled")

    # -- the salesperson's own view: the order paid, in Chinese ---------------------------------
    li.goto(f"{live.url}/r/sale.order/{order_id}")
    expect(li.locator("section.workflow .badge").first).to_have_text("已收款")
    shots(li, "13-order-paid-zh")

    # -- another salesperson may not see it -----------------------------------------------------
    zhao = sign_in(browser, live, "zhao")
    response = zhao.goto(f"{live.url}/r/sale.order/{order_id}")
    assert response.status == 404

    # no script error, nothing refused by the CSP (zhao's console only reports the 404)
    for page in (li, manager, warehouse, finance):
        assert page.errors == [], page.errors
    assert [e for e in zhao.errors if "404" not in e] == []

    # -- the dashboard (another part of the UI; skipped while it does not exist) ---------------
    response = manager.goto(f"{live.url}/sale/dashboard")
    if response.status == 404:
        pytest.skip("the order-to-cash flow passed; /sale/dashboard does not exist yet, so its "
                    "check was skipped")
    expect(manager.locator("#kpi-today")).to_contain_text(text_amount(total, "CN¥"))
    shots(manager, "14-dashboard")
