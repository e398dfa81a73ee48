"""Sales reports in the browser (销售报表), ``/sale/reports``.

A GET form (report, period, and for two reports their own option) and the report as a table,
with CSV and Excel downloads of the same report (same parameters plus ``format=csv|xlsx``).
The figures come from ``services.reports`` through the user's ``env`` (a salesperson's report
covers their own customers' orders, in the page and in the downloads) and the downloads are
rendered by the REST API's ``render`` (``api/reports.py``), so the files are the API's files.
Who may see the reports: whoever may read sale orders, as for the API. A bad parameter shows
the form with the message and a 400; nothing here writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from core.errors import ValidationError
from core.web import Menu, Views
from core.web import format as fmt
from core.web.base import page, render

from .api.reports import FORMATS
from .api.reports import render as render_download
from .services import reports as svc

bp = Blueprint("sale_reports", __name__, url_prefix="/sale")

VIEWS = Views(
    menus=[Menu("sale_reports", "Reports", "销售报表", "sale_reports.reports",
                record="sale.order", order=34)],
)


@dataclass(frozen=True)
class Choice:
    key: str
    title: Any  # a lazy msgid
    #: the one option of its own this report takes, if any (``limit`` / ``lead_days``)
    option: str | None = None


REPORTS = {c.key: c for c in (
    Choice("daily-sales", _l("Daily sales")),
    Choice("sales-by-customer", _l("Sales by customer")),
    Choice("sales-by-product", _l("Sales by product")),
    Choice("sales-by-salesperson", _l("Sales by salesperson")),
    Choice("sales-by-region", _l("Sales by region")),
    Choice("sales-by-category", _l("Sales by category")),
    Choice("top-customers", _l("Top customers"), "limit"),
    Choice("order-status", _l("Order status and fulfilment"), "lead_days"),
)}
PARAMS = ("report", "date_from", "date_to", "format", "limit", "lead_days")


def _build(env, args) -> svc.Report:
    """The report the query string asks for; ``ValidationError`` naming the parameter at fault."""
    for name in args:
        if name not in PARAMS:
            raise ValidationError({name: [_("not a parameter of this page")]})
    key = args.get("report") or "daily-sales"
    if key not in REPORTS:
        raise ValidationError({"report": [_("unknown report: %(name)s", name=key)]})
    period = svc.Period.parse(args.get("date_from"), args.get("date_to"), env.today())
    if key == "daily-sales":
        return svc.daily_sales(env, period)
    if key.startswith("sales-by-"):
        return svc.sales_by(env, key.removeprefix("sales-by-"), period)
    if key == "top-customers":
        limit = svc.parse_int("limit", args["limit"], minimum=1, maximum=100) if args.get("limit") else 10
        return svc.top_customers(env, period, limit=limit)
    lead = (svc.parse_int("lead_days", args["lead_days"], minimum=0, maximum=365)
            if args.get("lead_days") else svc.DEFAULT_LEAD_DAYS)
    return svc.order_status(env, period, lead_days=lead)


def _cell(value: Any, kind: str, currency: str, key: str = "") -> Any:
    if key == "state":
        return fmt.state(value)  # a translated badge
    if kind == "ratio":
        return fmt.percent(value)
    if value is None:
        return ""
    if kind == "money":
        return fmt.money(value, currency)
    if kind in ("int", "qty"):
        return fmt.decimal(value)
    if kind == "date":
        return fmt.date(value)
    return _(value) if value == svc.NONE_LABEL else str(value)


def table(report: svc.Report) -> dict[str, Any]:
    """Header, rows and total line, formatted for the locale (ids left to the downloads)."""
    currency = report.params.get("currency") or "CNY"
    columns = [c for c in report.columns if not c.key.endswith("_id")]
    rows = [[_cell(row.get(c.key), c.kind, currency, c.key) for c in columns] for row in report.rows]
    total = None
    if report.totals:
        total = [_cell(report.totals.get(c.key), c.kind, currency) if c.key in report.totals else ""
                 for c in columns]
        total[0] = _("Total")
    return {"columns": [{"label": _(c.label), "num": c.kind != "text" and c.kind != "date"}
                        for c in columns],
            "rows": rows, "total": total, "currency": currency}


@bp.get("/reports")
@page()
def reports(env):
    """The chosen report as a table, or as a CSV / Excel download with ``format=csv|xlsx``."""
    env.check_access("sale.order", "read")
    args = request.args
    form = {name: args.get(name, "") for name in PARAMS}
    form["report"] = form["report"] or "daily-sales"
    try:
        download = (args.get("format") or "").lower()
        if download and (download == "json" or download not in FORMATS):
            raise ValidationError({"format": [_("csv or xlsx")]})
        report = _build(env, args)
    except ValidationError as exc:
        return render("sale/reports.html", reports=REPORTS, form=form, error=str(exc),
                      result=None, report=None, links={}), 400
    if download:
        return render_download(env, report, download)
    # the downloads are of the period shown (the default period written out)
    form.update(report=report.name, **report.period.as_dict())
    query = {k: v for k, v in form.items() if v and k != "format"}
    links = {f: url_for("sale_reports.reports", **query, format=f) for f in ("csv", "xlsx")}
    return render("sale/reports.html", reports=REPORTS, form=form, error=None, report=report,
                  result=table(report), links=links)
