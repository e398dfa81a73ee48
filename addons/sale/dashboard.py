"""Figures of the sales dashboard (销售仪表盘), for what the user may see.

Everything is read through ``env.session`` (access rights and record rules apply: a salesperson's
dashboard covers the orders, invoices and payments of their own customers only, like their
lists and reports) in three kinds of statement, never a loop over orders:

* **orders**: one ``GROUP BY date_order, state, currency`` over the orders dated in the last
  12 months (this month and the 11 before it, up to today), folded into the status counts, the
  12-month trend, this month, last month's same days, last month and today;
* **receivables**: ``services.receivables.aging`` on today, in total (``group_by=None``,
  ``credit=False``): the open amount of posted invoices per aging bucket.

Definitions (the same as the sales reports, ``services.reports``):

* **Sales** are orders in ``approved``, ``shipped``, ``invoiced`` or ``paid``, by order date
  (``date_order``); quotations and cancelled orders are not sales. Orders dated after today are
  left out.
* **Amounts** are order totals including tax, in the company currency (``[addon.sale]
  company_currency``): like the reports, amounts are never converted and orders in another
  currency are left out of the sales figures (they still count in the status chart).
* **This month against last month** compares the same period: the 1st to today's day of this
  month with the 1st to the same day of last month (cut at last month's end: on 31 March,
  1–28/29 February). The change is ``(this - last) / last``, None when last month had none.
* **Status counts** are orders of every state and currency dated in the last 12 months.
* **Open receivables** are the open amounts of posted invoices today (``total`` of the aging);
  **overdue** is the part past its due date (every bucket but ``not_due``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import func, select, type_coerce

from core.money import round_money

from .models._types import Money
from .services import receivables as receivables_svc
from .services.reports import SALES_STATES

ZERO = Decimal("0.00")
MONTHS = 12
ORDER_STATES = ("draft", "approved", "shipped", "invoiced", "paid", "cancelled")


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def add_months(first: dt.date, months: int) -> dt.date:
    """The first day of the month ``months`` after (or before) ``first``'s month."""
    index = first.year * 12 + first.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def same_day_last_month(today: dt.date) -> dt.date:
    """Today's day in last month, cut at last month's end (31 March -> 28/29 February)."""
    last_end = month_start(today) - dt.timedelta(days=1)
    return last_end.replace(day=min(today.day, last_end.day))


def change(current: Decimal, previous: Decimal) -> Decimal | None:
    """``(current - previous) / previous`` as a fraction with 4 places; None without a base."""
    if not previous:
        return None
    return ((current - previous) / previous).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


@dataclass
class Period:
    """Sales of a period in the company currency."""

    orders: int = 0
    amount: Decimal = ZERO


@dataclass
class Dashboard:
    today: dt.date
    currency: str
    today_sales: Period
    month: Period
    #: the same days of last month
    last_month_same: Period
    #: the whole of last month
    last_month: Period
    #: ``[(first day of month, Period)]``, oldest first, 12 months up to this one
    trend: list[tuple[dt.date, Period]]
    #: ``[(state, count)]`` in the workflow's order (states without orders: 0)
    status: list[tuple[str, int]]
    #: the aging in total (``receivables.aging(group_by=None)``), None when the user may not
    #: read invoices
    receivables: dict[str, Decimal] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def month_change(self) -> Decimal | None:
        return change(self.month.amount, self.last_month_same.amount)

    @property
    def month_orders_change(self) -> Decimal | None:
        return change(Decimal(self.month.orders), Decimal(self.last_month_same.orders))

    @property
    def open_receivables(self) -> Decimal | None:
        return None if self.receivables is None else self.receivables["total"]

    @property
    def overdue(self) -> Decimal | None:
        if self.receivables is None:
            return None
        return sum((self.receivables[b] for b in receivables_svc.BUCKETS if b != "not_due"), ZERO)


def _money(expr):
    return type_coerce(expr, Money)


def _states(env) -> list[str]:
    wf = env.sf.workflows.get("sale.order")
    return list(wf.states) if wf is not None else list(ORDER_STATES)


def order_figures(env, today: dt.date, currency: str) -> dict[str, Any]:
    """Sales per month (12 months), today, last month's same days, and the status counts: one
    ``GROUP BY`` statement (per order date, state and currency: at most a few thousand rows,
    folded here; grouping by the plain columns is cheaper than by computed months)."""
    Order = env["sale.order"]
    this_start = month_start(today)
    start = add_months(this_start, -(MONTHS - 1))
    last_start = add_months(this_start, -1)
    last_same = same_day_last_month(today)
    stmt = (
        select(Order.date_order, Order.state, Order.currency, func.count(Order.id),
               _money(func.sum(Order.amount_total)))
        .where(Order.date_order >= start, Order.date_order <= today)
        .group_by(Order.date_order, Order.state, Order.currency)
    )
    months = {add_months(start, i): Period() for i in range(MONTHS)}
    counts = dict.fromkeys(_states(env), 0)
    today_sales, last_same_period = Period(), Period()
    sales = set(SALES_STATES)
    for day, state, row_currency, orders, amount in env.session.execute(stmt):
        day = _as_date(day)
        counts[state] = counts.get(state, 0) + orders
        if state not in sales or row_currency != currency:
            continue
        amount = Decimal(amount or 0)
        bucket = months[day.replace(day=1)]
        bucket.orders += orders
        bucket.amount += amount
        if day == today:
            today_sales.orders += orders
            today_sales.amount += amount
        elif last_start <= day <= last_same:
            last_same_period.orders += orders
            last_same_period.amount += amount
    for period in (*months.values(), today_sales, last_same_period):
        period.amount = round_money(period.amount, currency)
    return {"trend": list(months.items()), "status": list(counts.items()),
            "today": today_sales, "last_same": last_same_period,
            "month": months[this_start], "last_month": months[last_start]}


def _as_date(value) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, str):
        return dt.date.fromisoformat(value[:10])
    return value


def dashboard(env, today: dt.date | None = None) -> Dashboard:
    """The dashboard's figures as this user sees them."""
    today = today or env.today()
    currency = env.settings("sale")["company_currency"]
    orders = order_figures(env, today, currency)
    receivables = None
    if all(env.can(r, "read") for r in ("sale.invoice", "sale.payment", "sale.payment.allocation")):
        receivables = receivables_svc.aging(env, as_of=today, group_by=None, credit=False)[0]
    return Dashboard(today=today, currency=currency, today_sales=orders["today"],
                     month=orders["month"], last_month_same=orders["last_same"],
                     last_month=orders["last_month"], trend=orders["trend"],
                     status=orders["status"], receivables=receivables)
