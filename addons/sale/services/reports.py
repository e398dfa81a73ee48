"""Sales reports: SQL aggregates over the user's visible orders, rendered as JSON, CSV or Excel.

Every report is one or a few ``GROUP BY`` queries made through ``env.session``, so access rights
and record rules apply exactly as for lists: a salesperson's report covers the orders of their
own customers only. Nothing is cached or precomputed.

Conventions shared by every report:

* **Period**: ``date_from`` and ``date_to`` (ISO dates, both included) select orders by their
  order date (``date_order``). Default: the last 30 days up to today.
* **Sales** are orders in the states ``approved``, ``shipped``, ``invoiced`` and ``paid``
  (``SALES_STATES``): quotations (``draft``) and ``cancelled`` orders are not sales. The order
  status overview is the exception: it shows every state.
* **One currency per report** (default: the company currency, ``[addon.sale] company_currency``):
  amounts are never converted, orders in other currencies are left out (ask with ``currency=``).
* Amounts are ``Decimal`` (sums of rounded order amounts, so they add up to the documents);
  ratios are ``Decimal`` fractions with 4 places (``0.8500`` = 85 %).

A ``Report`` is plain data (columns, rows, totals) and is rendered by ``as_json``, ``as_csv``
or ``as_xlsx``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import and_, case, func, select

from core.api import iso_date, whole_number
from core.db import INT_MAX
from core.errors import ValidationError
from core.money import round_money

ZERO = Decimal("0")
RATIO = Decimal("0.0001")

#: order states that count as sales
SALES_STATES = ("approved", "shipped", "invoiced", "paid")
#: the dimensions of ``sales_by``
DIMENSIONS = ("customer", "product", "salesperson", "region", "category")
DEFAULT_PERIOD_DAYS = 30
#: the longest period a report accepts (a daily report of ten years is a mistake)
MAX_PERIOD_DAYS = 3 * 366
DEFAULT_LEAD_DAYS = 7
NONE_LABEL = "(none)"


# -- inputs ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """Both ends included."""

    date_from: dt.date
    date_to: dt.date

    @property
    def days(self) -> int:
        return (self.date_to - self.date_from).days + 1

    @classmethod
    def parse(cls, date_from: str | dt.date | None, date_to: str | dt.date | None,
              today: dt.date) -> Period:
        """Validate ISO dates; 422 (``ValidationError``) naming the parameter at fault.
        ``today`` (the client's, ``env.today()``) ends a period given no end."""
        end = _parse_date("date_to", date_to) if date_to not in (None, "") else None
        start = _parse_date("date_from", date_from) if date_from not in (None, "") else None
        if end is None:
            end = max(today, start) if start is not None else today
        if start is None:
            start = end - dt.timedelta(days=DEFAULT_PERIOD_DAYS - 1)
        if start > end:
            raise ValidationError({"date_from": [f"must be on or before date_to ({end.isoformat()})"]})
        if (end - start).days + 1 > MAX_PERIOD_DAYS:
            raise ValidationError({"date_to": [f"the period may span at most {MAX_PERIOD_DAYS} days"]})
        return cls(start, end)

    def as_dict(self) -> dict[str, str]:
        return {"date_from": self.date_from.isoformat(), "date_to": self.date_to.isoformat()}


def _parse_date(name: str, value: str | dt.date) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return iso_date(str(value))
    except ValueError as exc:
        raise ValidationError({name: [str(exc)]}) from None


def parse_int(name: str, value: Any, *, minimum: int = 0, maximum: int = INT_MAX) -> int:
    """``whole_number`` (the database's integer by default) with its refusal on ``name``."""
    try:
        return whole_number(str(value).strip(), minimum=minimum, maximum=maximum)
    except ValueError as exc:
        raise ValidationError({name: [str(exc)]}) from None


# -- the report as data ----------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    #: text, int, money, qty, ratio, date
    kind: str = "text"


@dataclass
class Report:
    name: str  # "daily-sales": also the download's file name
    title: str
    columns: list[Column]
    rows: list[dict[str, Any]]
    totals: dict[str, Any] | None = None
    period: Period | None = None
    params: dict[str, Any] = field(default_factory=dict)

    def filename(self, extension: str) -> str:
        parts = [self.name]
        if self.period is not None:
            parts += [self.period.date_from.isoformat(), self.period.date_to.isoformat()]
        return "_".join(parts) + "." + extension


# -- queries ---------------------------------------------------------------------------------


def _currency(env, currency: str | None) -> str:
    if currency:
        code = currency.strip().upper()
        if len(code) != 3 or not code.isalpha():
            raise ValidationError({"currency": [f"{currency!r} is not a currency code (e.g. CNY)"]})
        return code
    return env.settings("sale").get("company_currency", "CNY")


def _sales_criteria(env, period: Period, currency: str, states=SALES_STATES,
                    salesperson_id: int | None = None) -> list:
    Order = env["sale.order"]
    criteria = [Order.date_order >= period.date_from, Order.date_order <= period.date_to,
                Order.currency == currency]
    if states is not None:
        criteria.append(Order.state.in_(states))
    if salesperson_id is not None:
        criteria.append(Order.salesperson_id == salesperson_id)
    return criteria


def _money(value: Any, currency: str) -> Decimal:
    return round_money(Decimal(value if value is not None else 0), currency)


def _qty(value: Any) -> Decimal:
    return Decimal(value if value is not None else 0).quantize(Decimal("0.001"), rounding=ROUND_HALF_UP)


def ratio(part: Decimal | int, whole: Decimal | int) -> Decimal | None:
    """``part / whole`` with 4 places, ``None`` when ``whole`` is zero (no ratio, not 0 %)."""
    if not whole:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(RATIO, rounding=ROUND_HALF_UP)


MONEY_COLUMNS = [
    Column("orders", "Orders", "int"),
    Column("amount_untaxed", "Untaxed", "money"),
    Column("amount_tax", "Tax", "money"),
    Column("amount_total", "Total", "money"),
]


def _money_totals(rows: list[dict], currency: str) -> dict[str, Any]:
    return {
        "orders": sum(r["orders"] for r in rows),
        "amount_untaxed": _money(sum((r["amount_untaxed"] for r in rows), ZERO), currency),
        "amount_tax": _money(sum((r["amount_tax"] for r in rows), ZERO), currency),
        "amount_total": _money(sum((r["amount_total"] for r in rows), ZERO), currency),
    }


def daily_sales(env, period: Period, *, currency: str | None = None,
                salesperson_id: int | None = None) -> Report:
    """Orders and amounts per order date and salesperson (销售日报)."""
    currency = _currency(env, currency)
    Order, Salesperson = env["sale.order"], env["sale.salesperson"]
    stmt = (
        select(Order.date_order, Order.salesperson_id, Salesperson.name,
               func.count(Order.id), func.sum(Order.amount_untaxed), func.sum(Order.amount_tax),
               func.sum(Order.amount_total))
        .select_from(Order)
        .outerjoin(Salesperson, Salesperson.id == Order.salesperson_id)
        .where(*_sales_criteria(env, period, currency, salesperson_id=salesperson_id))
        .group_by(Order.date_order, Order.salesperson_id, Salesperson.name)
        .order_by(Order.date_order, Salesperson.name, Order.salesperson_id)
    )
    rows = [
        {"date": _as_date(day), "salesperson_id": sp_id, "salesperson": name or NONE_LABEL,
         "orders": count, "amount_untaxed": _money(untaxed, currency),
         "amount_tax": _money(tax, currency), "amount_total": _money(total, currency)}
        for day, sp_id, name, count, untaxed, tax, total in env.session.execute(stmt)
    ]
    columns = [Column("date", "Date", "date"), Column("salesperson_id", "Salesperson id", "int"),
               Column("salesperson", "Salesperson"), *MONEY_COLUMNS]
    totals = _money_totals(rows, currency)
    totals["days_with_sales"] = len({r["date"] for r in rows})
    return Report("daily-sales", "Daily sales", columns, rows, totals, period,
                  {"currency": currency, "salesperson_id": salesperson_id})


def sales_by(env, dimension: str, period: Period, *, currency: str | None = None,
             salesperson_id: int | None = None) -> Report:
    """Sales over ``period`` grouped by ``dimension`` (one of ``DIMENSIONS``), largest first.

    ``region`` and ``category`` are the customer's (客户地区, 客户分类). ``product`` is
    computed from order lines (quantity and line amounts); the others from order totals.
    """
    if dimension not in DIMENSIONS:
        raise ValidationError({"dimension": [f"unknown; one of {', '.join(DIMENSIONS)}"]})
    currency = _currency(env, currency)
    if dimension == "product":
        return _sales_by_product(env, period, currency, salesperson_id)
    Order, Customer, Salesperson = env["sale.order"], env["sale.customer"], env["sale.salesperson"]
    measures = (func.count(Order.id), func.sum(Order.amount_untaxed), func.sum(Order.amount_tax),
                func.sum(Order.amount_total))
    criteria = _sales_criteria(env, period, currency, salesperson_id=salesperson_id)
    if dimension == "customer":
        keys = (Customer.id, Customer.code, Customer.name, Customer.region, Customer.tier)
        stmt = select(*keys, *measures).select_from(Order).join(Customer, Customer.id == Order.customer_id)
        head = [Column("customer_id", "Customer id", "int"), Column("customer_code", "Code"),
                Column("customer", "Customer"), Column("region", "Region"), Column("tier", "Tier")]
    elif dimension == "salesperson":
        keys = (Order.salesperson_id, Salesperson.name)
        stmt = (select(*keys, *measures).select_from(Order)
                .outerjoin(Salesperson, Salesperson.id == Order.salesperson_id))
        head = [Column("salesperson_id", "Salesperson id", "int"), Column("salesperson", "Salesperson")]
    else:
        column = Customer.region if dimension == "region" else Customer.category
        keys = (column,)
        stmt = select(*keys, *measures).select_from(Order).join(Customer, Customer.id == Order.customer_id)
        head = [Column(dimension, dimension.title())]
    stmt = stmt.where(*criteria).group_by(*keys).order_by(func.sum(Order.amount_total).desc(), *keys)
    rows = []
    for found in env.session.execute(stmt):
        key_values, (count, untaxed, tax, total) = found[:len(keys)], found[len(keys):]
        row = dict(zip([c.key for c in head], key_values, strict=True))
        if dimension == "salesperson" and row["salesperson"] is None:
            row["salesperson"] = NONE_LABEL
        if dimension in ("region", "category") and row[dimension] is None:
            row[dimension] = NONE_LABEL
        row.update(orders=count, amount_untaxed=_money(untaxed, currency),
                   amount_tax=_money(tax, currency), amount_total=_money(total, currency))
        rows.append(row)
    totals = _money_totals(rows, currency)
    for row in rows:
        row["share"] = ratio(row["amount_total"], totals["amount_total"])
    columns = [*head, *MONEY_COLUMNS, Column("share", "Share", "ratio")]
    return Report(f"sales-by-{dimension}", f"Sales by {dimension}", columns, rows, totals, period,
                  {"currency": currency, "salesperson_id": salesperson_id})


def _sales_by_product(env, period: Period, currency: str, salesperson_id: int | None) -> Report:
    Order, Line, Product = env["sale.order"], env["sale.line"], env["sale.product"]
    keys = (Product.id, Product.sku, Product.name, Product.unit)
    stmt = (
        select(*keys, func.count(func.distinct(Order.id)), func.sum(Line.quantity),
               func.sum(Line.qty_shipped), func.sum(Line.amount_untaxed), func.sum(Line.amount_tax),
               func.sum(Line.amount_total))
        .select_from(Line)
        .join(Order, Order.id == Line.order_id)
        .join(Product, Product.id == Line.product_id)
        .where(*_sales_criteria(env, period, currency, salesperson_id=salesperson_id))
        .group_by(*keys)
        .order_by(func.sum(Line.amount_total).desc(), Product.sku)
    )
    rows = [
        {"product_id": pid, "sku": sku, "product": name, "unit": unit, "orders": count,
         "quantity": _qty(qty), "qty_shipped": _qty(shipped),
         "amount_untaxed": _money(untaxed, currency), "amount_tax": _money(tax, currency),
         "amount_total": _money(total, currency)}
        for pid, sku, name, unit, count, qty, shipped, untaxed, tax, total in env.session.execute(stmt)
    ]
    totals = _money_totals(rows, currency)
    # an order with several products counts once per product: the total of orders is distinct
    totals["orders"] = env.session.scalar(
        select(func.count(Order.id)).where(
            *_sales_criteria(env, period, currency, salesperson_id=salesperson_id))
    ) or 0
    for row in rows:
        row["share"] = ratio(row["amount_total"], totals["amount_total"])
    columns = [Column("product_id", "Product id", "int"), Column("sku", "SKU"),
               Column("product", "Product"), Column("unit", "Unit"), Column("orders", "Orders", "int"),
               Column("quantity", "Quantity", "qty"), Column("qty_shipped", "Shipped", "qty"),
               *MONEY_COLUMNS[1:], Column("share", "Share", "ratio")]
    return Report("sales-by-product", "Sales by product", columns, rows, totals, period,
                  {"currency": currency, "salesperson_id": salesperson_id})


def top_customers(env, period: Period, *, limit: int = 10, currency: str | None = None,
                  salesperson_id: int | None = None) -> Report:
    """The ``limit`` customers with the largest sales over ``period``, with their share."""
    currency = _currency(env, currency)
    Order, Customer = env["sale.order"], env["sale.customer"]
    criteria = _sales_criteria(env, period, currency, salesperson_id=salesperson_id)
    keys = (Customer.id, Customer.code, Customer.name, Customer.region, Customer.tier)
    stmt = (
        select(*keys, func.count(Order.id), func.sum(Order.amount_total))
        .select_from(Order)
        .join(Customer, Customer.id == Order.customer_id)
        .where(*criteria)
        .group_by(*keys)
        .order_by(func.sum(Order.amount_total).desc(), Customer.code)
        .limit(limit)
    )
    grand_orders, grand_total = env.session.execute(
        select(func.count(Order.id), func.sum(Order.amount_total)).where(*criteria)
    ).one()
    grand_total = _money(grand_total, currency)
    rows = []
    for rank, (cid, code, name, region, tier, count, total) in enumerate(env.session.execute(stmt), 1):
        total = _money(total, currency)
        rows.append({"rank": rank, "customer_id": cid, "customer_code": code, "customer": name,
                     "region": region, "tier": tier, "orders": count, "amount_total": total,
                     "average_order": _money(total / count, currency) if count else ZERO,
                     "share": ratio(total, grand_total)})
    top_total = _money(sum((r["amount_total"] for r in rows), ZERO), currency)
    totals = {"orders": sum(r["orders"] for r in rows), "amount_total": top_total,
              "share": ratio(top_total, grand_total), "all_customers_orders": grand_orders or 0,
              "all_customers_amount_total": grand_total}
    columns = [Column("rank", "Rank", "int"), Column("customer_id", "Customer id", "int"),
               Column("customer_code", "Code"), Column("customer", "Customer"),
               Column("region", "Region"), Column("tier", "Tier"), Column("orders", "Orders", "int"),
               Column("amount_total", "Total", "money"), Column("average_order", "Average order", "money"),
               Column("share", "Share", "ratio")]
    return Report("top-customers", "Top customers", columns, rows, totals, period,
                  {"currency": currency, "limit": limit, "salesperson_id": salesperson_id})


def _days_between(env, later, earlier):
    """``later - earlier`` in days, as SQL (dates are text on SQLite, DATE on PostgreSQL)."""
    if env.sf.dialect == "sqlite":
        return func.julianday(later) - func.julianday(earlier)
    return later - earlier


def order_status(env, period: Period, *, lead_days: int = DEFAULT_LEAD_DAYS,
                 currency: str | None = None, salesperson_id: int | None = None) -> Report:
    """Orders of the period per state, with fulfilment (订单履约率) and on-time delivery.

    * fulfilment rate: shipped quantity / ordered quantity of the state's order lines;
    * on time: a fully shipped order whose last shipment is at most ``lead_days`` after the
      order date; the on-time rate is over fully shipped orders.

    The totals' rates cover sales only (``SALES_STATES``): quotations and cancelled orders have
    nothing to ship.
    """
    currency = _currency(env, currency)
    Order, Line, Shipment = env["sale.order"], env["sale.line"], env["sale.shipment"]
    criteria = _sales_criteria(env, period, currency, states=None, salesperson_id=salesperson_id)

    last_shipment = (select(Shipment.order_id.label("order_id"),
                            func.max(Shipment.date).label("last_date"))
                     .group_by(Shipment.order_id).subquery())
    full = Order.shipping_status == "full"
    on_time = and_(full, last_shipment.c.last_date.is_not(None),
                   _days_between(env, last_shipment.c.last_date, Order.date_order) <= lead_days)
    per_order = (
        select(Order.state, func.count(Order.id), func.sum(Order.amount_total),
               func.sum(case((full, 1), else_=0)), func.sum(case((on_time, 1), else_=0)))
        .select_from(Order)
        .outerjoin(last_shipment, last_shipment.c.order_id == Order.id)
        .where(*criteria)
        .group_by(Order.state)
    )
    per_line = (
        select(Order.state, func.sum(Line.quantity), func.sum(Line.qty_shipped))
        .select_from(Line)
        .join(Order, Order.id == Line.order_id)
        .where(*criteria)
        .group_by(Order.state)
    )
    quantities = {state: (_qty(q), _qty(s)) for state, q, s in env.session.execute(per_line)}
    found = {}
    for state, count, total, fully, timely in env.session.execute(per_order):
        ordered, shipped = quantities.get(state, (ZERO, ZERO))
        found[state] = {"state": state, "orders": count, "amount_total": _money(total, currency),
                        "qty_ordered": ordered, "qty_shipped": shipped,
                        "fulfilment_rate": ratio(shipped, ordered), "fully_shipped": int(fully or 0),
                        "on_time": int(timely or 0), "on_time_rate": ratio(timely or 0, fully or 0)}
    wf = env.sf.workflows.get("sale.order")
    order = list(wf.states) if wf is not None else []
    rows = [found[s] for s in order if s in found] + [found[s] for s in sorted(found) if s not in order]

    sales = [r for r in rows if r["state"] in SALES_STATES]
    ordered = sum((r["qty_ordered"] for r in sales), ZERO)
    shipped = sum((r["qty_shipped"] for r in sales), ZERO)
    fully = sum(r["fully_shipped"] for r in sales)
    timely = sum(r["on_time"] for r in sales)
    totals = {"orders": sum(r["orders"] for r in rows),
              "amount_total": _money(sum((r["amount_total"] for r in rows), ZERO), currency),
              "sales_orders": sum(r["orders"] for r in sales),
              "qty_ordered": ordered, "qty_shipped": shipped,
              "fulfilment_rate": ratio(shipped, ordered), "fully_shipped": fully,
              "on_time": timely, "on_time_rate": ratio(timely, fully)}
    columns = [Column("state", "State"), Column("orders", "Orders", "int"),
               Column("amount_total", "Total", "money"), Column("qty_ordered", "Ordered qty", "qty"),
               Column("qty_shipped", "Shipped qty", "qty"),
               Column("fulfilment_rate", "Fulfilment rate", "ratio"),
               Column("fully_shipped", "Fully shipped orders", "int"),
               Column("on_time", "On time", "int"), Column("on_time_rate", "On-time rate", "ratio")]
    return Report("order-status", "Order status and fulfilment", columns, rows, totals, period,
                  {"currency": currency, "lead_days": lead_days, "salesperson_id": salesperson_id})


def _as_date(value: Any) -> dt.date:
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


# -- rendering -------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


def as_json(report: Report) -> dict[str, Any]:
    """JSON-ready: Decimal amounts and ratios as strings, dates as ISO strings."""
    return {
        "report": report.name,
        "title": report.title,
        "period": report.period.as_dict() if report.period else None,
        "params": {k: _plain(v) for k, v in report.params.items()},
        "columns": [{"key": c.key, "label": c.label, "type": c.kind} for c in report.columns],
        "rows": [{k: _plain(v) for k, v in row.items()} for row in report.rows],
        "totals": {k: _plain(v) for k, v in (report.totals or {}).items()},
    }


def _total_row(report: Report) -> dict[str, Any] | None:
    if not report.totals:
        return None
    keys = [c.key for c in report.columns]
    row = {k: report.totals.get(k) for k in keys}
    row[keys[0]] = "Total"
    return row


#: a text cell starting with one of these is a formula to Excel / LibreOffice (CSV injection)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _text_cell(value: Any) -> Any:
    """Text from the data (customer names, regions...) as a spreadsheet shows it, never as a
    formula it would run: a leading ``'`` (OWASP's advice). Numbers and dates are left alone,
    so a negative amount stays a number."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def as_csv(report: Report) -> bytes:
    """UTF-8 with a byte-order mark (so Excel reads Chinese names), a header of labels, one line
    per row and a last ``Total`` line."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([c.label for c in report.columns])
    rows = list(report.rows)
    total = _total_row(report)
    if total is not None:
        rows.append(total)
    for row in rows:
        writer.writerow(["" if row.get(c.key) is None else _plain(_text_cell(row.get(c.key)))
                         for c in report.columns])
    return out.getvalue().encode("utf-8-sig")


_XLSX_FORMATS = {"money": "#,##0.00", "qty": "#,##0.###", "ratio": "0.00%", "date": "yyyy-mm-dd",
                 "int": "0"}


def as_xlsx(report: Report, *, generated_by: str | None = None) -> bytes:
    """An Excel workbook: the report on the first sheet (header, rows, Total), the period and
    parameters on a second one. Amounts are numbers with two decimals, ratios percentages."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    ws = wb.active
    ws.title = report.title[:31]
    bold = Font(bold=True)
    ws.append([c.label for c in report.columns])
    for cell in ws[1]:
        cell.font = bold
    ws.freeze_panes = "A2"
    for row in report.rows:
        ws.append([_xlsx_value(row.get(c.key)) for c in report.columns])
    total = _total_row(report)
    if total is not None:
        ws.append([_xlsx_value(total.get(c.key)) for c in report.columns])
        for cell in ws[ws.max_row]:
            cell.font = bold
    for index, column in enumerate(report.columns, start=1):
        letter = get_column_letter(index)
        fmt = _XLSX_FORMATS.get(column.kind)
        if fmt:
            for (cell,) in ws.iter_rows(min_row=2, min_col=index, max_col=index):
                cell.number_format = fmt
        width = max([len(column.label)] + [len(str(r.get(column.key) or "")) for r in report.rows[:200]])
        ws.column_dimensions[letter].width = min(60, max(10, width + 2))
    info = wb.create_sheet("Parameters")
    info.append(["report", report.name])
    info.append(["title", report.title])
    if report.period is not None:
        info.append(["date_from", report.period.date_from])
        info.append(["date_to", report.period.date_to])
        info["B3"].number_format = info["B4"].number_format = "yyyy-mm-dd"
    for key, value in report.params.items():
        if value is not None:
            info.append([key, _xlsx_value(value)])
    for key, value in (report.totals or {}).items():
        if key not in {c.key for c in report.columns}:
            info.append([key, _xlsx_value(value)])
    if generated_by:
        info.append(["generated_by", _xlsx_value(generated_by)])
    info.column_dimensions["A"].width = 28
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def _xlsx_value(value: Any) -> Any:
    # openpyxl writes Decimal as a number; everything else it does not know becomes text; a
    # str starting with "=" it would write as a formula: neutralised like the CSV's cells
    if isinstance(value, str):
        return _text_cell(value)
    if value is None or isinstance(value, (int, Decimal, dt.date)):
        return value
    return str(value)


__all__ = ["Period", "Report", "Column", "SALES_STATES", "DIMENSIONS", "daily_sales", "sales_by",
           "top_customers", "order_status", "as_json", "as_csv", "as_xlsx", "ratio"]
