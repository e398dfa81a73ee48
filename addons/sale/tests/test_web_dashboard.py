"""The sales dashboard (/sale/dashboard) and the landing page (each test on SQLite and
PostgreSQL): figures equal the documents created, record rules, charts, zh_CN."""

from __future__ import annotations

import datetime as dt
import importlib
import re
from decimal import Decimal

import pytest

from core.testing import CLIENT_TODAY

pytestmark = pytest.mark.usefixtures("fast_passwords")

D = Decimal


@pytest.fixture
def dash(sf):
    return importlib.import_module("sale.dashboard")


@pytest.fixture
def book(sf, master, flow, make_order, dash):
    """Orders of c1 (sp1) and c2 (sp2) around today, in every state, with invoices and a
    payment; returns what each figure must be, for the manager and for sp1."""
    today = CLIENT_TODAY
    this_start = dash.month_start(today)
    last_start = dash.add_months(this_start, -1)
    last_end = this_start - dt.timedelta(days=1)
    long_ago = dash.add_months(this_start, -3)  # in the trend, invoiced then, overdue now
    valid = {"validity_date": today + dt.timedelta(days=30)}

    def sale(customer, total_untaxed, date, **kw):
        return flow.order([(0, "1", total_untaxed)], customer=customer, date_order=date,
                          **valid, **kw)

    # today: a sale of each salesperson (226.00 and 56.50), a quotation, a cancelled order
    a = sale(master.c1, "200", today, ship=None)                 # approved, 226.00
    b = sale(master.c2, "50", today)                             # shipped, 56.50
    make_order("sp1", lines=[(0, "1", "1000")], date_order=today, **valid)  # draft: no sale
    cancelled = make_order("sp1", lines=[(0, "1", "3000")], date_order=today, **valid)
    with sf.transaction("sp1") as env:
        importlib.import_module("sale.services.order").fire_order_trigger(
            env, env.get("sale.order", cancelled), "cancel", "customer changed their mind")
    # last month: on its 1st (always in the same days) and on its last day (in them only when
    # today's day is at least last month's length)
    c = sale(master.c1, "100", last_start)                       # 113.00
    d = sale(master.c2, "300", last_end)                         # 339.00
    # three months ago: invoiced on the order date (due 30 days later: overdue), partly paid
    e = sale(master.c1, "1000", long_ago)                        # 1,130.00
    f = sale(master.c2, "2000", long_ago)                        # 2,260.00
    ie = flow.invoice(e, date=long_ago)
    flow.invoice(f, date=long_ago)
    flow.pay(master.c1, "130.00", date=today, allocations=[{"invoice_id": ie, "amount": D("130.00")}])
    # a year and more ago: outside everything
    sale(master.c1, "5000", dash.add_months(this_start, -12))
    # this month, before today (when today is not the 1st)
    extra = []
    if today.day > 1:
        extra.append(sale(master.c2, "10", this_start))          # 11.30
    overdue_bucket = importlib.import_module("sale.services.receivables").bucket_of(
        (today - (long_ago + dt.timedelta(days=30))).days)
    same_days_d = last_end.day <= today.day
    return {
        "today": today, "bucket": overdue_bucket, "ids": [a, b, c, d, e, f, *extra],
        "manager": {
            "today": (2, D("282.50")),
            "month": (2 + len(extra), D("282.50") + (D("11.30") if extra else 0)),
            "last_same": (1 + same_days_d, D("113.00") + (D("339.00") if same_days_d else 0)),
            "last_month": (2, D("452.00")),
            "receivables": D("1000.00") + D("2260.00"),
            "status": {"draft": 1, "approved": 1, "shipped": 3 + len(extra), "invoiced": 2,
                       "paid": 0, "cancelled": 1},
        },
        "sp1": {
            "today": (1, D("226.00")),
            "month": (1, D("226.00")),
            "last_same": (1, D("113.00")),
            "last_month": (1, D("113.00")),
            "receivables": D("1000.00"),
            "status": {"draft": 1, "approved": 1, "shipped": 1, "invoiced": 1, "paid": 0,
                       "cancelled": 1},
        },
    }


@pytest.mark.parametrize("login", ["manager", "sp1"])
def test_figures_equal_the_documents_and_follow_record_rules(sf, book, dash, login):
    want = book[login]
    with sf.transaction(login) as env:
        d = dash.dashboard(env, book["today"])
    assert (d.today_sales.orders, d.today_sales.amount) == want["today"]
    assert (d.month.orders, d.month.amount) == want["month"]
    assert (d.last_month_same.orders, d.last_month_same.amount) == want["last_same"]
    assert (d.last_month.orders, d.last_month.amount) == want["last_month"]
    assert d.month_change == dash.change(want["month"][1], want["last_same"][1])
    assert d.open_receivables == want["receivables"]
    assert d.overdue == want["receivables"]  # both invoices are past due
    assert d.receivables[book["bucket"]] == want["receivables"]
    assert dict(d.status) == want["status"]
    # the trend: 12 months, this one last, the sales of each month
    assert len(d.trend) == 12 and d.trend[-1][0] == dash.month_start(book["today"])
    trend = dict(d.trend)
    assert trend[dash.add_months(d.trend[-1][0], -1)].amount == want["last_month"][1]
    assert sum(p.amount for p in trend.values()) == (
        want["month"][1] + want["last_month"][1] + want["receivables"]
        + D("130.00"))


def test_dashboard_page_figures_and_charts(sf, book, web):
    html = web("manager").get("/sale/dashboard")
    assert html.status_code == 200
    page = html.get_data(as_text=True)
    assert "Content-Security-Policy" in html.headers and "style=" not in page
    kpi = {key: re.search(rf'id="kpi-{key}">(.*?)</div>\s*</div>', page, re.S).group(1)
           for key in ("today", "month", "receivables", "overdue")}
    assert "CN¥282.50" in kpi["today"] and "2 orders" in kpi["today"]
    assert "CN¥3,260.00" in kpi["receivables"] and "CN¥3,260.00" in kpi["overdue"]
    # the order-status chart: one bar per state with its count
    status = re.search(r'<svg[^>]*id="sale-status".*?</svg>', page, re.S).group(0)
    assert "<title>Draft: 1</title>" in status and "<title>Cancelled: 1</title>" in status
    assert "<title>Invoiced: 2</title>" in status and "<title>Paid: 0</title>" in status
    assert 'class="bar tone-muted"' in status  # drafts are grey
    # the aging chart: the overdue amount in its bucket, the others empty
    aging = re.search(r'<svg[^>]*id="sale-aging".*?</svg>', page, re.S).group(0)
    labels = {"1_30": "1–30 days", "31_60": "31–60 days", "61_90": "61–90 days"}
    assert f"<title>{labels[book['bucket']]}: CN¥3,260.00</title>" in aging
    assert "<title>Not due: CN¥0.00</title>" in aging
    # the trend: 12 points, the last month's sales among them
    trend = re.search(r'<svg[^>]*id="sale-trend".*?</svg>', page, re.S).group(0)
    assert trend.count("<circle") == 12 and "CN¥452.00</title>" in trend
    assert 'role="img"' in trend and '<title id="sale-trend-title">' in trend
    # the menu entry
    assert 'href="/sale/dashboard"' in page and ">Dashboard<" in page


def test_salesperson_sees_only_their_own_figures(sf, book, web):
    page = web("sp1").get("/sale/dashboard").get_data(as_text=True)
    kpi_today = re.search(r'id="kpi-today">(.*?)</div>\s*</div>', page, re.S).group(1)
    assert "CN¥226.00" in kpi_today and "1 order" in kpi_today
    assert "CN¥1,000.00" in page and "CN¥3,260.00" not in page and "CN¥2,260.00" not in page
    status = re.search(r'<svg[^>]*id="sale-status".*?</svg>', page, re.S).group(0)
    assert "<title>Invoiced: 1</title>" in status
    # the aging page link is not offered to a salesperson (403 there)
    assert 'href="/sale/aging"' not in page


def test_landing_page_and_access(sf, book, web, make_client):
    anonymous = make_client(sf)
    for path in ("/", "/sale/dashboard"):
        resp = anonymous.get(path)
        assert resp.status_code == 302 and resp.headers["Location"].startswith("/login"), path
    for login in ("manager", "sp1", "finance", "director", "admin"):
        resp = web(login).get("/")
        assert resp.status_code == 302 and resp.headers["Location"] == "/sale/dashboard", login
    # finance sees the receivables; the warehouse has no dashboard and keeps the menu tiles
    assert "kpi-receivables" in web("finance").get("/sale/dashboard").get_data(as_text=True)
    warehouse = web("warehouse")
    home = warehouse.get("/")
    assert home.status_code == 200 and 'class="card tile"' in home.get_data(as_text=True)
    assert "/sale/dashboard" not in home.get_data(as_text=True)
    assert warehouse.get("/sale/dashboard").status_code == 403


def test_empty_dashboard_and_zh_cn(sf, users, master, web):
    with sf.transaction() as env:
        from sqlalchemy import select

        User = env["res.user"]
        env.session.scalars(select(User).where(User.login == "manager")).one().lang = "zh_CN"
    page = web("manager").get("/sale/dashboard").get_data(as_text=True)
    assert "<h1>仪表盘</h1>" in page and "今日销售额" in page and "本月销售额" in page
    assert "应收账款" in page and "账龄分析" in page and "¥0.00" in page
    assert "<title>草稿: 0</title>" in page and "<title>未到期: ¥0.00</title>" in page
    assert "—" in page  # no change to show without last month's sales
