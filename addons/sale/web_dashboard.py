"""The sales dashboard page (销售仪表盘), ``/sale/dashboard``: the landing page of sellers,
managers, directors and finance (``Views(home=...)``).

Key figures and three charts (inline SVG from ``core.web.charts``): sales over 12 months, the
receivables aging and the orders per state. The figures come from ``sale.dashboard`` (a few
``GROUP BY`` statements through ``env``: a salesperson sees their own customers' figures only).
"""

from __future__ import annotations

from babel.dates import format_skeleton
from flask import Blueprint
from flask_babel import get_locale
from flask_babel import gettext as _

from core.web import Home, Menu, Views
from core.web import format as fmt
from core.web.base import page, render
from core.web.charts import bar_chart, line_chart

from . import dashboard as figures
from .services.receivables import BUCKETS

#: who has a dashboard (``admin`` too); warehouse users keep the menu tiles
ROLES = ("salesperson", "sales_manager", "director", "finance")

#: chart tones (core/web/static/charts.css) of the aging buckets and order states
BUCKET_TONES = {"not_due": "tone-ok", "1_30": "tone-info", "31_60": "tone-warn",
                "61_90": "tone-bad", "over_90": "tone-worst"}
STATE_TONES = {"draft": "tone-muted", "approved": "tone-info", "shipped": "tone-warn",
               "invoiced": "tone-warn", "paid": "tone-ok", "cancelled": "tone-bad"}

bp = Blueprint("sale_dashboard", __name__, url_prefix="/sale")

VIEWS = Views(
    menus=[Menu("sale_dashboard", "Dashboard", "仪表盘", "sale_dashboard.dashboard",
                roles=ROLES, record="sale.order", order=5)],
    home=Home("sale_dashboard.dashboard", roles=ROLES, record="sale.order"),
)


def bucket_labels() -> dict[str, str]:
    return {"not_due": _("Not due"), "1_30": _("1–30 days"), "31_60": _("31–60 days"),
            "61_90": _("61–90 days"), "over_90": _("Over 90 days")}


def month_labels(months) -> list[str]:
    """Short month names for the trend's axis, with the year under the first and January."""
    locale = get_locale() or "en"
    labels = []
    for i, first in enumerate(months):
        label = format_skeleton("MMM", first, locale=locale)
        if i == 0 or first.month == 1:
            label += f"\n{first.year}"
        labels.append(label)
    return labels


def charts(d: figures.Dashboard) -> dict:
    def money(value):
        return fmt.money(value, d.currency)

    months = [first for first, _period in d.trend]
    out = {
        "trend": line_chart(
            month_labels(months), [period.amount for _first, period in d.trend], area=True,
            title=_("Sales of the last 12 months (%(currency)s)", currency=d.currency),
            x_label=_("Month"), y_label=_("Sales"), value_format=money,
            tick_format=fmt.compact, chart_id="sale-trend", empty_text=_("No data"),
            width=960, height=300),
        "status": bar_chart(
            [_(state.replace("_", " ")) for state, _n in d.status], [n for _s, n in d.status],
            title=_("Orders by state (last 12 months)"), x_label=_("State"),
            y_label=_("Orders"), value_format=fmt.decimal,
            classes=[STATE_TONES.get(state, "tone-info") for state, _n in d.status],
            chart_id="sale-status", empty_text=_("No data"), width=480),
    }
    if d.receivables is not None:
        labels = bucket_labels()
        out["aging"] = bar_chart(
            [labels[b] for b in BUCKETS], [d.receivables[b] for b in BUCKETS],
            title=_("Receivables aging (%(currency)s)", currency=d.currency),
            x_label=_("Days overdue"), y_label=_("Open amount"), value_format=money,
            tick_format=fmt.compact, label_format=fmt.compact,
            classes=[BUCKET_TONES[b] for b in BUCKETS], chart_id="sale-aging",
            empty_text=_("No data"), width=480)
    return out


@bp.get("/dashboard")
@page(roles=(*ROLES, "admin"))
def dashboard(env):
    """Today, this month against the same days of last month, receivables, and the charts."""
    env.check_access("sale.order", "read")
    d = figures.dashboard(env)
    return render("sale/dashboard.html", d=d, charts=charts(d), money=lambda v: fmt.money(v, d.currency),
                  percent=fmt.percent, can_aging=env.has_role("finance", "sales_manager", "director", "admin"))
