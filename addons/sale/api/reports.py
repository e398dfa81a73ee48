"""REST endpoints: sales reports (``/api/v1/reports/...``), as JSON, CSV or Excel.

Every report takes ``date_from`` / ``date_to`` (ISO dates, default the last 30 days),
``currency`` (default the company currency), ``salesperson_id`` and ``format`` (``json``,
``csv`` or ``xlsx``). Any other parameter is a 422 naming it. The user's record rules apply: a
salesperson's report covers their own customers' orders. See docs/sale.md, "Reports".
"""

from __future__ import annotations

from flask import Response, request

from core.errors import ValidationError

from ..services import reports as svc
from . import bp

FORMATS = {
    "json": None,
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}

COMMON = {
    "date_from": "first order date, ISO (YYYY-MM-DD); default 29 days before date_to",
    "date_to": "last order date, ISO (YYYY-MM-DD), included; default today",
    "currency": "only orders in this currency (default: the company currency); never converted",
    "salesperson_id": "only orders of this salesperson",
    "format": "json (default), csv or xlsx (a download)",
}


def _args(extra: dict[str, str]) -> dict[str, str]:
    allowed = set(COMMON) | set(extra)
    for name in request.args:
        if name not in allowed:
            raise ValidationError({name: [f"not a parameter of this report; allowed: {sorted(allowed)}"]})
    return request.args


def _common(env, args) -> tuple[dict, str]:
    fmt = (args.get("format") or "json").lower()
    if fmt not in FORMATS:
        raise ValidationError({"format": [f"one of {', '.join(FORMATS)}"]})
    params = {"period": svc.Period.parse(args.get("date_from"), args.get("date_to"), env.today()),
              "currency": args.get("currency") or None,
              "salesperson_id": svc.parse_int("salesperson_id", args["salesperson_id"], minimum=1)
              if args.get("salesperson_id") else None}
    return params, fmt


def render(env, report: svc.Report, fmt: str):
    """The report as a JSON body, or as a CSV / Excel download."""
    if fmt == "json":
        return svc.as_json(report)
    if fmt == "csv":
        payload = svc.as_csv(report)
    else:
        payload = svc.as_xlsx(report, generated_by=env.user.login if env.user is not None else None)
    resp = Response(payload, status=200, content_type=FORMATS[fmt])
    resp.headers["Content-Disposition"] = f'attachment; filename="{report.filename(fmt)}"'
    resp.headers["Cache-Control"] = "private, no-store"
    return resp


@bp.endpoint("/reports/daily-sales", summary="Daily sales: orders and amounts per day and salesperson",
             tag="reports", query=COMMON)
def daily_sales(env):
    params, fmt = _common(env, _args({}))
    return render(env, svc.daily_sales(env, **params), fmt)


def _sales_by_endpoint(dimension: str):
    def view(env):
        params, fmt = _common(env, _args({}))
        return render(env, svc.sales_by(env, dimension, **params), fmt)

    view.__name__ = view.__qualname__ = f"sales_by_{dimension}"
    view.__doc__ = f"Sales by {dimension} over a period, largest first, with each one's share."
    return bp.endpoint(f"/reports/sales-by-{dimension}", summary=view.__doc__.split(",")[0],
                       tag="reports", query=COMMON)(view)


for _dimension in svc.DIMENSIONS:
    _sales_by_endpoint(_dimension)


TOP = {"limit": "how many customers (1-100, default 10)"}


@bp.endpoint("/reports/top-customers", summary="Top customers by sales over a period",
             tag="reports", query={**COMMON, **TOP})
def top_customers(env):
    args = _args(TOP)
    params, fmt = _common(env, args)
    limit = svc.parse_int("limit", args["limit"], minimum=1, maximum=100) if args.get("limit") else 10
    return render(env, svc.top_customers(env, limit=limit, **params), fmt)


STATUS = {"lead_days": "an order is on time when fully shipped within this many days of its "
                       f"order date (0-365, default {svc.DEFAULT_LEAD_DAYS})"}


@bp.endpoint("/reports/order-status", summary="Order status overview with fulfilment and on-time rates",
             tag="reports", query={**COMMON, **STATUS})
def order_status(env):
    args = _args(STATUS)
    params, fmt = _common(env, args)
    lead = (svc.parse_int("lead_days", args["lead_days"], minimum=0, maximum=365)
            if args.get("lead_days") else svc.DEFAULT_LEAD_DAYS)
    return render(env, svc.order_status(env, lead_days=lead, **params), fmt)
