"""Collection performance (回款 / 销售资金回笼) per salesperson or per customer for a period,
and aging by salesperson.

For a period ``[date_from, date_to]`` (both included), per group (the customer, or the
customer's salesperson: who collects):

=================  =========================================================================
``collected``      posted payments dated in the period (money received)
``credit_sales``   posted invoices dated in the period less posted credit notes dated in it
``receivables``    what is open on invoices at ``date_to`` (sale's aging ``total``: invoice
                   totals less what was allocated to them on or before ``date_to``; unused
                   customer credit is not netted)
``overdue``        the part of ``receivables`` past its due date at ``date_to`` (the aging
                   buckets ``1_30`` to ``over_90``)
``dso``            days sales outstanding, ``receivables / credit_sales x days``, with
                   ``days = date_to - date_from + 1``; ``None`` when there were no credit
                   sales in the period; one decimal
=================  =========================================================================

Every figure is a SQL aggregate (``SUM ... GROUP BY``) made through ``env.session``, so record
rules apply: a salesperson's figures cover their own customers only. Receivables and overdue
come from the sale addon's ``receivables.aging`` (as of ``date_to``), not re-implemented.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import case, func, select, type_coerce

from core.errors import ValidationError
from core.money import round_money

ZERO = Decimal("0.00")
GROUPS = ("salesperson", "customer")
BOOKED = ("posted", "paid")
OVERDUE_BUCKETS = ("1_30", "31_60", "61_90", "over_90")


def _receivables():
    from sale.services import receivables

    return receivables


def _money(expr):
    from sqlalchemy import Numeric

    return type_coerce(expr, Numeric(18, 2))


def _groups(env, group_by: str):
    Customer, Salesperson = env["sale.customer"], env["sale.salesperson"]
    if group_by == "customer":
        return [Customer.id.label("customer_id"), Customer.code.label("customer_code"),
                Customer.name.label("customer_name")]
    return [Customer.salesperson_id.label("salesperson_id"),
            Salesperson.name.label("salesperson_name")]


def _joined(env, stmt, group_by: str, customer_fk):
    Customer, Salesperson = env["sale.customer"], env["sale.salesperson"]
    stmt = stmt.join(Customer, Customer.id == customer_fk)
    if group_by == "salesperson":
        stmt = stmt.outerjoin(Salesperson, Salesperson.id == Customer.salesperson_id)
    return stmt


def dso(receivables: Decimal, credit_sales: Decimal, days: int) -> Decimal | None:
    """Days sales outstanding: ``receivables / credit_sales x days`` (one decimal), None when
    nothing was sold on credit."""
    if credit_sales <= 0:
        return None
    return (Decimal(receivables) / Decimal(credit_sales) * days).quantize(
        Decimal("0.1"), rounding=ROUND_HALF_UP)


def performance(env, date_from: dt.date, date_to: dt.date,
                group_by: str = "salesperson") -> dict[str, Any]:
    """Collected, credit sales, receivables, overdue and DSO per group (module docstring):
    ``{"date_from", "date_to", "days", "group_by", "rows": [...], "totals": {...}}``."""
    errors: dict[str, list[str]] = {}
    if date_from is None or date_to is None:
        errors["date_from"] = ["date_from and date_to are required"]
    elif date_from > date_to:
        errors["date_from"] = [f"must be on or before date_to ({date_to.isoformat()})"]
    if group_by not in GROUPS:
        errors["group_by"] = [f"must be one of {', '.join(GROUPS)}"]
    if errors:
        raise ValidationError(errors)
    days = (date_to - date_from).days + 1
    Invoice, Payment = env["sale.invoice"], env["sale.payment"]
    groups = _groups(env, group_by)
    keys = [c.name for c in groups]
    key_name = keys[0]
    rows: dict[Any, dict[str, Any]] = {}

    def row_for(values: dict[str, Any]) -> dict[str, Any]:
        return rows.setdefault(values[key_name], {
            **{k: values.get(k) for k in keys}, "collected": ZERO, "credit_sales": ZERO,
            "receivables": ZERO, "overdue": ZERO})

    collected = (select(*groups, _money(func.coalesce(func.sum(Payment.amount), 0)).label("v"))
                 .select_from(Payment))
    collected = _joined(env, collected, group_by, Payment.customer_id).where(
        Payment.state == "posted", Payment.date >= date_from, Payment.date <= date_to
    ).group_by(*groups)
    for r in env.session.execute(collected).mappings():
        row_for(r)["collected"] += Decimal(r["v"] or 0)

    signed = case((Invoice.kind == "credit_note", -Invoice.amount_total), else_=Invoice.amount_total)
    sales = select(*groups, _money(func.coalesce(func.sum(signed), 0)).label("v")).select_from(Invoice)
    sales = _joined(env, sales, group_by, Invoice.customer_id).where(
        Invoice.state.in_(BOOKED), Invoice.date >= date_from, Invoice.date <= date_to
    ).group_by(*groups)
    for r in env.session.execute(sales).mappings():
        row_for(r)["credit_sales"] += Decimal(r["v"] or 0)

    for r in _receivables().aging(env, as_of=date_to, group_by=group_by):
        row = row_for(r)
        row["receivables"] += r["total"]
        row["overdue"] += sum((r[b] for b in OVERDUE_BUCKETS), ZERO)

    out = []
    for row in rows.values():
        for name in ("collected", "credit_sales", "receivables", "overdue"):
            row[name] = round_money(row[name])
        if not any(row[n] for n in ("collected", "credit_sales", "receivables", "overdue")):
            continue
        row["dso"] = dso(row["receivables"], row["credit_sales"], days)
        out.append(row)
    if group_by == "customer":
        out.sort(key=lambda r: r["customer_code"] or "")
    else:
        out.sort(key=lambda r: (r["salesperson_name"] is None, r["salesperson_name"] or ""))
    totals = {n: sum((r[n] for r in out), ZERO)
              for n in ("collected", "credit_sales", "receivables", "overdue")}
    totals["dso"] = dso(totals["receivables"], totals["credit_sales"], days)
    return {"date_from": date_from, "date_to": date_to, "days": days, "group_by": group_by,
            "rows": out, "totals": totals}


def aging_by_salesperson(env, as_of: dt.date | None = None) -> list[dict[str, Any]]:
    """Aged receivables per salesperson on ``as_of`` (the sale addon's aging, grouped by the
    customers' salespersons; record rules apply)."""
    return _receivables().aging(env, as_of=as_of, group_by="salesperson")
