"""Sales reports (services.reports, /api/v1/reports/...): aggregates, record rules, periods,
CSV and Excel downloads. Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import datetime as dt
import importlib
import io
from decimal import Decimal
from types import SimpleNamespace

import pytest

from core.errors import ValidationError
from core.testing import CLIENT_TODAY

D = Decimal
TODAY = CLIENT_TODAY
D1 = TODAY - dt.timedelta(days=10)  # sp1's day
D2 = TODAY - dt.timedelta(days=12)  # sp2's day
PERIOD = {"date_from": (TODAY - dt.timedelta(days=15)).isoformat(), "date_to": TODAY.isoformat()}


@pytest.fixture(autouse=True)
def cheap_passwords(monkeypatch):
    """The shared ``users`` fixture sets 8 passwords per test; scrypt takes 0.2 s each. These
    tests never log in with a password (they use tokens), so hash cheaply."""
    from werkzeug.security import generate_password_hash

    monkeypatch.setattr("core.base.models.hash_password",
                        lambda password: generate_password_hash(password, method="pbkdf2:sha256:1"))


@pytest.fixture
def rep():
    return importlib.import_module("sale.services.reports")


@pytest.fixture
def sales(sf, master):
    """Orders of c1 (sp1) and c2 (sp2), VAT 13 % added:

    ====  ====  ===  ==========  ================  =========================================
    name  cust  day  lines       total             what happened
    ====  ====  ===  ==========  ================  =========================================
    o1    c1    D1   2 x P1      226.00            shipped in full 2 days later (on time)
    o2    c1    D1   4 x P2      115.26            approved, 1 of 4 shipped
    o3    c2    D2   1 x P3      2259.99           shipped in full 10 days later (late)
    o4    c2    D2   1 x P1      113.00            quotation (draft): not a sale
    o5    c1    D1   1 x P1      113.00            cancelled: not a sale
    o6    c1    -60  1 x P1      113.00            approved, before the period
    ====  ====  ===  ==========  ================  =========================================
    """
    order_svc = importlib.import_module("sale.services.order")
    ship_svc = importlib.import_module("sale.services.shipment")
    p1, p2, p3 = master.product_ids
    valid = TODAY + dt.timedelta(days=30)
    ids = {}
    with sf.transaction() as env:
        def new(name, customer, day, product, qty):
            order = order_svc.create_order(env, customer_id=customer, date_order=day,
                                           validity_date=valid,
                                           lines=[{"product_id": product, "quantity": D(qty)}])
            ids[name] = order.id
            return order

        o1 = new("o1", master.c1, D1, p1, "2")
        o2 = new("o2", master.c1, D1, p2, "4")
        o3 = new("o3", master.c2, D2, p3, "1")
        new("o4", master.c2, D2, p1, "1")
        o5 = new("o5", master.c1, D1, p1, "1")
        o6 = new("o6", master.c1, TODAY - dt.timedelta(days=60), p1, "1")
        for order in (o1, o2, o3, o6):
            assert order.fire("approve").done
        order_svc.cancel_order(env, o5, "customer changed their mind")
        ship_svc.record_shipment(env, o1, date=D1 + dt.timedelta(days=2))
        ship_svc.record_shipment(env, o2, quantities={o2.lines[0].id: D("1")},
                                 date=D1 + dt.timedelta(days=1))
        ship_svc.record_shipment(env, o3, date=D2 + dt.timedelta(days=10))
        assert (o1.state, o2.state, o3.state) == ("shipped", "approved", "shipped")
        assert [o.amount_total for o in (o1, o2, o3)] == [D("226.00"), D("115.26"), D("2259.99")]
    return SimpleNamespace(**ids)


def period(rep):
    return rep.Period.parse(PERIOD["date_from"], PERIOD["date_to"], TODAY)


# -- services --------------------------------------------------------------------------------


def test_daily_sales_per_day_and_salesperson(sf, users, sales, rep):
    with sf.transaction("manager") as env:
        report = rep.daily_sales(env, period(rep))
    assert [(r["date"], r["salesperson"], r["orders"], r["amount_untaxed"], r["amount_tax"],
             r["amount_total"]) for r in report.rows] == [
        (D2, "SP2", 1, D("1999.99"), D("260.00"), D("2259.99")),
        (D1, "SP1", 2, D("302.00"), D("39.26"), D("341.26")),
    ]
    assert report.totals["orders"] == 3
    assert report.totals["amount_total"] == D("2601.25")
    assert report.totals["days_with_sales"] == 2
    with sf.transaction("manager") as env:  # one salesperson, and a period before any sale
        only = rep.daily_sales(env, period(rep), salesperson_id=users.sp["sp1"])
        empty = rep.daily_sales(env, rep.Period.parse("2001-01-01", "2001-01-31", TODAY))
    assert [r["salesperson"] for r in only.rows] == ["SP1"]
    assert empty.rows == [] and empty.totals["amount_total"] == D("0.00")


def test_sales_by_each_dimension(sf, master, sales, rep):
    total = D("2601.25")
    with sf.transaction("director") as env:
        by = {d: rep.sales_by(env, d, period(rep)) for d in rep.DIMENSIONS}
    customers = by["customer"].rows
    assert [(r["customer_code"], r["orders"], r["amount_total"]) for r in customers] == [
        ("C002", 1, D("2259.99")), ("C001", 2, D("341.26"))]
    assert customers[0]["share"] == (D("2259.99") / total).quantize(D("0.0001"))
    assert sum(r["share"] for r in customers) == D("1.0000")
    assert [(r["region"], r["amount_total"]) for r in by["region"].rows] == [
        ("North", D("2259.99")), ("East", D("341.26"))]
    assert [(r["salesperson"], r["orders"]) for r in by["salesperson"].rows] == [("SP2", 1), ("SP1", 2)]
    assert [(r["category"], r["orders"], r["amount_total"]) for r in by["category"].rows] == [
        ("(none)", 3, total)]
    products = by["product"].rows
    assert [(r["sku"], r["quantity"], r["qty_shipped"], r["amount_total"]) for r in products] == [
        ("P3", D("1.000"), D("1.000"), D("2259.99")), ("P1", D("2.000"), D("2.000"), D("226.00")),
        ("P2", D("4.000"), D("1.000"), D("115.26"))]
    for report in by.values():
        assert report.totals["amount_total"] == total
        assert report.totals["orders"] == 3
    with pytest.raises(ValidationError) as err, sf.transaction("director") as env:
        rep.sales_by(env, "colour", period(rep))
    assert "dimension" in err.value.errors


def test_top_customers_rank_and_share(sf, sales, rep):
    with sf.transaction("manager") as env:
        report = rep.top_customers(env, period(rep), limit=1)
    assert [(r["rank"], r["customer_code"], r["orders"], r["average_order"]) for r in report.rows] == [
        (1, "C002", 1, D("2259.99"))]
    assert report.totals["all_customers_amount_total"] == D("2601.25")
    assert report.totals["share"] == (D("2259.99") / D("2601.25")).quantize(D("0.0001"))


def test_order_status_fulfilment_and_on_time(sf, sales, rep):
    with sf.transaction("manager") as env:
        report = rep.order_status(env, period(rep))
        lenient = rep.order_status(env, period(rep), lead_days=10)
    by_state = {r["state"]: r for r in report.rows}
    assert [r["state"] for r in report.rows] == ["draft", "approved", "shipped", "cancelled"]
    assert by_state["approved"]["qty_ordered"] == D("4.000")
    assert by_state["approved"]["qty_shipped"] == D("1.000")
    assert by_state["approved"]["fulfilment_rate"] == D("0.2500")
    shipped = by_state["shipped"]
    assert (shipped["orders"], shipped["fully_shipped"], shipped["on_time"]) == (2, 2, 1)
    assert shipped["on_time_rate"] == D("0.5000")
    assert by_state["draft"]["fulfilment_rate"] == D("0.0000")
    # totals: every order of the period; rates over sales only (7 ordered, 4 shipped)
    assert report.totals["orders"] == 5
    assert report.totals["sales_orders"] == 3
    assert report.totals["fulfilment_rate"] == D("0.5714")
    assert report.totals["on_time_rate"] == D("0.5000")
    assert lenient.totals["on_time"] == 2


def test_salesperson_sees_only_own_customers(sf, sales, rep):
    with sf.transaction("sp1") as env:
        daily = rep.daily_sales(env, period(rep))
        customers = rep.sales_by(env, "customer", period(rep))
        products = rep.sales_by(env, "product", period(rep))
        status = rep.order_status(env, period(rep))
        top = rep.top_customers(env, period(rep))
    assert {r["salesperson"] for r in daily.rows} == {"SP1"}
    assert [r["customer_code"] for r in customers.rows] == ["C001"]
    assert customers.totals["amount_total"] == D("341.26")
    assert {r["sku"] for r in products.rows} == {"P1", "P2"}
    assert {r["state"] for r in status.rows} == {"approved", "shipped", "cancelled"}
    assert status.totals["orders"] == 3
    assert top.totals["all_customers_amount_total"] == D("341.26")
    with sf.transaction("sp2") as env:
        assert [r["customer_code"] for r in rep.sales_by(env, "customer", period(rep)).rows] == ["C002"]


def test_period_parsing(rep):
    today = dt.date(2026, 5, 31)
    assert rep.Period.parse(None, None, today=today) == rep.Period(dt.date(2026, 5, 2), today)
    assert rep.Period.parse("2026-01-01", "2026-01-01", today).days == 1
    for args, field in [(("2026-02-30", None), "date_from"), ((None, "31/05/2026"), "date_to"),
                        (("2026-03-01", "2026-02-28"), "date_from"),
                        (("2020-01-01", "2026-01-01"), "date_to")]:
        with pytest.raises(ValidationError) as err:
            rep.Period.parse(*args, today=today)
        assert list(err.value.errors) == [field]


# -- API -------------------------------------------------------------------------------------


def test_api_json_amounts_as_strings_and_record_rules(sf, api, sales):
    manager = api.client.get("/api/v1/reports/sales-by-customer", query_string=PERIOD,
                             headers=api.h("manager"))
    assert manager.status_code == 200
    body = manager.get_json()
    assert body["report"] == "sales-by-customer"
    assert body["period"] == PERIOD
    assert [r["amount_total"] for r in body["rows"]] == ["2259.99", "341.26"]
    assert body["totals"]["amount_total"] == "2601.25"
    assert {"key": "amount_total", "label": "Total", "type": "money"} in body["columns"]
    sp1 = api.client.get("/api/v1/reports/daily-sales", query_string=PERIOD, headers=api.h("sp1"))
    assert sp1.status_code == 200
    assert [(r["salesperson"], r["amount_total"]) for r in sp1.get_json()["rows"]] == [("SP1", "341.26")]
    status = api.client.get("/api/v1/reports/order-status",
                            query_string={**PERIOD, "lead_days": "10"}, headers=api.h("manager"))
    assert status.get_json()["totals"]["on_time_rate"] == "1.0000"
    top = api.client.get("/api/v1/reports/top-customers", query_string={**PERIOD, "limit": "1"},
                         headers=api.h("manager"))
    assert [r["customer_code"] for r in top.get_json()["rows"]] == ["C002"]


def test_api_csv_and_xlsx_downloads(sf, api, sales):
    from openpyxl import load_workbook

    resp = api.client.get("/api/v1/reports/sales-by-product",
                          query_string={**PERIOD, "format": "csv"}, headers=api.h("manager"))
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert resp.headers["Content-Disposition"] == (
        f'attachment; filename="sales-by-product_{PERIOD["date_from"]}_{PERIOD["date_to"]}.csv"')
    rows = list(csv.reader(io.StringIO(resp.data.decode("utf-8-sig"))))
    assert rows[0][:3] == ["Product id", "SKU", "Product"]
    assert [r[1] for r in rows[1:-1]] == ["P3", "P1", "P2"]
    assert rows[-1][0] == "Total" and "2601.25" in rows[-1]

    resp = api.client.get("/api/v1/reports/sales-by-customer",
                          query_string={**PERIOD, "format": "xlsx"}, headers=api.h("sp1"))
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    assert resp.headers["Content-Disposition"].endswith('.xlsx"')
    wb = load_workbook(io.BytesIO(resp.data))
    sheet = wb.worksheets[0]
    header = [c.value for c in sheet[1]]
    values = [[c.value for c in row] for row in sheet.iter_rows(min_row=2)]
    assert values[0][header.index("Customer")] == "上海华东贸易有限公司"  # sp1 sees c1 only
    assert D(str(values[0][header.index("Total")])) == D("341.26")
    assert values[-1][0] == "Total" and len(values) == 2
    assert sheet.cell(row=2, column=header.index("Total") + 1).number_format == "#,##0.00"
    params = {row[0].value: row[1].value for row in wb["Parameters"].iter_rows()}
    assert params["report"] == "sales-by-customer" and params["generated_by"] == "sp1"


INVALID = [
    ({"date_from": "2026-13-01"}, "date_from"),
    ({"date_from": "2026-03-02", "date_to": "2026-03-01"}, "date_from"),
    ({"date_to": "yesterday"}, "date_to"),
    ({"format": "pdf"}, "format"),
    ({"colour": "red"}, "colour"),
    ({"limit": "0"}, "limit"),
    ({"salesperson_id": "x"}, "salesperson_id"),
    ({"currency": "yuan"}, "currency"),
]


def test_api_invalid_parameters_are_422_naming_them(sf, api):
    for query, field in INVALID:
        resp = api.client.get("/api/v1/reports/top-customers", query_string=query,
                              headers=api.h("manager"))
        assert resp.status_code == 422, query
        assert resp.get_json()["error"]["code"] == "validation_error"
        assert list(resp.get_json()["error"]["fields"]) == [field], query


def test_api_needs_a_token_and_read_access(sf, api):
    from core.testing import add_user

    assert api.client.get("/api/v1/reports/daily-sales").status_code == 401
    add_user(sf, "visitor")  # no role: may not read orders
    resp = api.client.get("/api/v1/reports/daily-sales", headers=api.h("visitor"))
    assert resp.status_code == 403
    paths = api.client.get("/api/v1/openapi.json").get_json()["paths"]
    assert {"/api/v1/reports/daily-sales", "/api/v1/reports/sales-by-region",
            "/api/v1/reports/top-customers", "/api/v1/reports/order-status"} <= set(paths)
