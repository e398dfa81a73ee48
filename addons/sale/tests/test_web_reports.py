"""The sales reports page (/sale/reports) and its CSV / Excel downloads (each test on SQLite and
PostgreSQL): figures equal the documents created, record rules, refusals."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from decimal import Decimal

import pytest

from core.testing import CLIENT_TODAY

pytestmark = pytest.mark.usefixtures("fast_passwords")

D = Decimal
REPORTS = ("daily-sales", "sales-by-customer", "sales-by-product", "sales-by-salesperson",
           "sales-by-region", "sales-by-category", "top-customers", "order-status")


@pytest.fixture
def book(sf, master, flow, make_order):
    """Sales of c1 (sp1: 226.00 + 113.00) and c2 (sp2: 565.00) in the last days, a quotation
    of c1 (not a sale) and a sale of c1 before the period."""
    today = CLIENT_TODAY
    valid = {"validity_date": today + dt.timedelta(days=30)}
    flow.order([(0, "1", "200")], customer=master.c1, date_order=today - dt.timedelta(days=3), **valid)
    flow.order([(0, "1", "100")], customer=master.c1, date_order=today - dt.timedelta(days=1),
               ship=None, **valid)
    flow.order([(0, "1", "500")], customer=master.c2, date_order=today - dt.timedelta(days=2), **valid)
    make_order("sp1", lines=[(0, "1", "7000")], date_order=today, **valid)  # a quotation
    flow.order([(0, "1", "9000")], customer=master.c1, date_order=today - dt.timedelta(days=40),
               **valid)
    period = {"date_from": (today - dt.timedelta(days=10)).isoformat(), "date_to": today.isoformat()}
    return period


def query(period, **params) -> str:
    return "/sale/reports?" + "&".join(f"{k}={v}" for k, v in {**period, **params}.items())


def table_rows(html: str) -> list[list[str]]:
    body = re.search(r'<table class="grid" id="report-table">(.*?)</table>', html, re.S).group(1)
    rows = [[re.sub(r"<[^>]+>", "", cell).strip()
             for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]
    return [row for row in rows if row]  # not the header


def xlsx_rows(payload: bytes) -> list[list]:
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(payload)).worksheets[0]
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def test_page_figures_equal_the_documents(book, web):
    resp = web("manager").get(query(book, report="sales-by-customer"))
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert "style=" not in html and "<script>" not in html
    rows = table_rows(html)
    # header-less rows: code, name, region, tier, orders, untaxed, tax, total, share; the total
    assert rows[0][:5] == ["C002", "Northwind Traders", "North", "normal", "1"]
    assert rows[0][5:] == ["CN¥500.00", "CN¥65.00", "CN¥565.00", "62.5%"]
    assert rows[1][:5] == ["C001", "上海华东贸易有限公司", "East", "key", "2"]
    assert rows[1][5:] == ["CN¥300.00", "CN¥39.00", "CN¥339.00", "37.5%"]
    assert rows[2][0] == "Total" and rows[2][4:8] == ["3", "CN¥800.00", "CN¥104.00", "CN¥904.00"]
    assert len(rows) == 3
    # the download links carry the same parameters
    assert 'id="download-xlsx"' in html and "format=xlsx" in html and f"date_from={book['date_from']}" in html


def test_every_report_shows(book, web):
    manager = web("manager")
    for name in REPORTS:
        resp = manager.get(query(book, report=name))
        assert resp.status_code == 200, name
        # the sales' total in each report; the order status counts the quotation (7,910.00) too
        total = "CN¥8,814.00" if name == "order-status" else "CN¥904.00"
        assert total in resp.get_data(as_text=True), name
    assert manager.get("/sale/reports").status_code == 200  # defaults: daily sales, 30 days
    assert 'href="/sale/reports"' in manager.get("/sale/dashboard").get_data(as_text=True)  # the menu


def test_excel_download_holds_the_rows_of_the_page(book, web):
    resp = web("manager").get(query(book, report="sales-by-customer", format="xlsx"))
    assert resp.status_code == 200
    assert resp.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert resp.headers["Content-Disposition"] == (
        f'attachment; filename="sales-by-customer_{book["date_from"]}_{book["date_to"]}.xlsx"')
    rows = xlsx_rows(resp.data)
    header = rows[0]
    assert header[:3] == ["Customer id", "Code", "Customer"]
    named = [dict(zip(header, row, strict=True)) for row in rows[1:]]
    assert [(r["Code"], r["Customer"], r["Orders"]) for r in named] == [
        ("C002", "Northwind Traders", 1), ("C001", "上海华东贸易有限公司", 2), (None, None, 3)]
    assert named[-1]["Customer id"] == "Total"
    assert [D(str(r["Total"])) for r in named] == [D("565.00"), D("339.00"), D("904.00")]
    assert [D(str(r["Tax"])) for r in named] == [D("65.00"), D("39.00"), D("104.00")]


def test_csv_download(book, web):
    resp = web("manager").get(query(book, report="sales-by-salesperson", format="csv"))
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert resp.headers["Content-Disposition"].startswith('attachment; filename="sales-by-salesperson_')
    rows = list(csv.reader(io.StringIO(resp.data.decode("utf-8-sig"))))
    assert rows[0] == ["Salesperson id", "Salesperson", "Orders", "Untaxed", "Tax", "Total", "Share"]
    assert [(r[1], r[2], r[5]) for r in rows[1:]] == [
        ("SP2", "1", "565.00"), ("SP1", "2", "339.00"), ("", "3", "904.00")]
    assert rows[-1][0] == "Total"


def test_a_salesperson_sees_only_their_own_figures(book, web):
    sp1 = web("sp1")
    html = sp1.get(query(book, report="sales-by-customer")).get_data(as_text=True)
    rows = table_rows(html)
    assert [r[0] for r in rows] == ["C001", "Total"] and rows[1][7] == "CN¥339.00"
    assert "Northwind" not in html and "565.00" not in html
    xlsx = xlsx_rows(sp1.get(query(book, report="sales-by-customer", format="xlsx")).data)
    assert [r[1] for r in xlsx[1:]] == ["C001", None] and xlsx[-1][0] == "Total"
    assert D(str(xlsx[-1][xlsx[0].index("Total")])) == D("339.00")
    text = sp1.get(query(book, report="top-customers", format="csv")).data.decode("utf-8-sig")
    assert "Northwind" not in text and "339.00" in text
    html = sp1.get(query(book, report="daily-sales")).get_data(as_text=True)
    assert "SP2" not in html and "CN¥339.00" in html


def test_anonymous_goes_to_login(sf, make_client, book):
    client = make_client(sf)
    for path in (query(book, report="daily-sales"), query(book, report="daily-sales", format="xlsx")):
        resp = client.get(path)
        assert resp.status_code == 302 and resp.headers["Location"].startswith("/login"), path


@pytest.mark.parametrize("params, named", [
    ({"report": "sales-by-planet"}, "report"),
    ({"date_from": "2026-13-01"}, "date_from"),
    ({"date_from": "2026-06-30", "date_to": "2026-06-01"}, "date_from"),
    ({"date_from": "2016-01-01", "date_to": "2026-01-01"}, "date_to"),
    ({"format": "pdf"}, "format"),
    ({"report": "top-customers", "limit": "many"}, "limit"),
    ({"colour": "red"}, "colour"),
])
def test_bad_parameters_are_400_naming_them(sf, web, master, params, named):
    resp = web("manager").get("/sale/reports?" + "&".join(f"{k}={v}" for k, v in params.items()))
    assert resp.status_code == 400
    html = resp.get_data(as_text=True)
    assert 'id="report-error"' in html and f"{named}:" in html
    assert 'id="report-form"' in html and 'id="report-table"' not in html


def test_zh_cn_labels(sf, book, web):
    from sqlalchemy import select

    with sf.transaction() as env:
        User = env["res.user"]
        env.session.scalars(select(User).where(User.login == "manager")).one().lang = "zh_CN"
    html = web("manager").get(query(book, report="sales-by-customer")).get_data(as_text=True)
    assert "<h1>销售报表</h1>" in html and "按客户统计销售" in html and "销售日报" in html
    assert "<th class=\"\">客户</th>" in html and "占比" in html and "¥904.00" in html
    assert "销售报表" in web("manager").get("/sale/dashboard").get_data(as_text=True)  # the menu
    html = web("manager").get("/sale/reports?report=nope").get_data(as_text=True)
    assert "无法生成报表：" in html and "未知报表：nope" in html


def test_downloads_neutralise_spreadsheet_formulas(sf, book, master, web):
    """Customer data written like a formula (``=HYPERLINK(...)``, ``+1``, ``-2``, ``@SUM``) is
    text in the CSV and Excel downloads, never a formula a spreadsheet would run; amounts (and
    negative numbers) stay numbers."""
    evil = '=HYPERLINK("http://evil.example","x")'
    with sf.transaction() as env:
        c1, c2 = env.get("sale.customer", master.c1), env.get("sale.customer", master.c2)
        c1.name, c1.region = evil, "+1+cmd"
        c2.name, c2.region = "@SUM(A1:A2)", "-2+3"
    manager = web("manager")
    text = manager.get(query(book, report="sales-by-customer", format="csv")).data.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    cells = [cell for row in rows for cell in row]
    assert "'" + evil in cells and "'+1+cmd" in cells and "'@SUM(A1:A2)" in cells and "'-2+3" in cells
    assert not any(cell[:1] in ("=", "+", "-", "@") for cell in cells)
    assert rows[-1][-4:-1] == ["800.00", "104.00", "904.00"]  # numbers are not prefixed
    payload = manager.get(query(book, report="sales-by-customer", format="xlsx")).data
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(payload)).worksheets[0]
    xcells = [c for row in sheet.iter_rows() for c in row]
    assert not any(c.data_type == "f" for c in xcells)
    values = [c.value for c in xcells]
    assert "'" + evil in values and "'@SUM(A1:A2)" in values and "'-2+3" in values
    assert D(str(list(sheet.iter_rows(values_only=True))[-1][-2])) == D("904.00")
