"""Credit profiles (grade, limit, hold, review date), the customer credit panel, shipment
releases. Changes are made by credit managers (or the system: dunning's automatic hold) and
are audited through ``sale.customer``'s audit history; each takes the customer's exposure lock,
so a credit check never decides on a profile that is being changed.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from core.errors import AccessDenied, TransitionBlocked, ValidationError

from . import credit

ROLE = "credit_manager"
UNSET: Any = object()


def require_credit_manager(env) -> None:
    if env.user is not None and not env.has_role(ROLE, "admin"):
        raise AccessDenied(f"only a credit manager may do this (roles: {sorted(env.roles) or 'none'})")


def own_customer_refusal(env, customer) -> str | None:
    """The customer's own salesperson does not decide its credit (as for an order's release:
    ``check_credit_releaser``), even when they are a credit manager too."""
    if env.user_id is None or customer.salesperson_id is None:
        return None
    Salesperson = env["sale.salesperson"]
    with env.sudo():
        seller = env.session.scalar(select(Salesperson.user_id)
                                    .where(Salesperson.id == customer.salesperson_id))
    if seller != env.user_id:
        return None
    return (f"the own salesperson of customer {customer.code} cannot change its credit profile "
            f"or hold; another credit manager must")


def _customer(env, customer_id: int, *, lock: bool = True):
    customer = env.get("sale.customer", customer_id)  # 404 when missing or hidden
    refusal = own_customer_refusal(env, customer)
    if refusal:
        raise AccessDenied(refusal)
    if lock:
        with env.sudo():
            credit.lock_customer(env, customer.id)
    return customer


def update_profile(env, customer_id: int, *, credit_grade: Any = UNSET, credit_limit: Any = UNSET,
                   credit_review_date: Any = UNSET, note: str | None = None):
    """Change a customer's grade, limit (None: the grade's default) and review date."""
    require_credit_manager(env)
    customer = _customer(env, customer_id)
    changes = {}
    if credit_grade is not UNSET:
        changes["credit_grade"] = credit_grade or None
    if credit_limit is not UNSET:
        changes["credit_limit"] = None if credit_limit is None else \
            Decimal(credit_limit).quantize(Decimal("0.01"))
    if credit_review_date is not UNSET:
        changes["credit_review_date"] = credit_review_date
    if not changes:
        raise ValidationError({"_schema": ["nothing to change"]})
    changes["credit_note"] = (note or "").strip() or None
    _write(env, customer, changes)
    return customer


def _write(env, customer, changes: dict[str, Any]) -> None:
    """Write credit columns (the caller checked the role; audited as the current user)."""
    with env.sudo():
        for key, value in changes.items():
            setattr(customer, key, value)
        env.session.flush()


def set_hold(env, customer_id: int, reason: str):
    """Put the customer on credit hold: every credit check fails until the hold is lifted."""
    require_credit_manager(env)
    if not isinstance(reason, str) or not reason.strip():
        raise ValidationError({"reason": ["say why the customer is put on hold"]})
    customer = _customer(env, customer_id)
    _write(env, customer, {"credit_hold": True, "credit_hold_reason": reason.strip(),
                           "credit_note": f"hold: {reason.strip()}"})
    return customer


def release_hold(env, customer_id: int, reason: str | None = None):
    """Lift the credit hold (the reason is kept with the change in the audit history)."""
    require_credit_manager(env)
    customer = _customer(env, customer_id)
    if not customer.credit_hold:
        raise ValidationError({"credit_hold": [f"customer {customer.code} is not on hold"]})
    _write(env, customer, {"credit_hold": False, "credit_hold_reason": None,
                           "credit_note": f"hold lifted: {(reason or '').strip() or 'no reason given'}"})
    return customer


def release_shipment(env, order_id: int, comment: str | None = None) -> int:
    """A credit manager lets an approved order be shipped although its credit check fails
    (policy "review"); valid for the order's current revision. Returns the decision id."""
    require_credit_manager(env)
    if not (comment or "").strip():
        raise ValidationError({"comment": ["say why the shipment is released"]})
    order = env.get("sale.order", order_id)
    if order.state != "approved":
        raise TransitionBlocked(order, "release_shipment", [
            f"only an approved order's shipment is released (order {order.number} is {order.state})"])
    blocked = order.check_credit_releaser()
    if blocked:
        raise TransitionBlocked(order, "release_shipment", [blocked])
    with env.sudo():
        check = credit.check_order(env, order, "ship", lock=True)
        return credit.record_decision(env, check, outcome="released", trigger="release_shipment",
                                      state_after=order.state, comment=comment.strip())


# -- reading --------------------------------------------------------------------------------


def _overdue(env, customer_id: int, as_of: dt.date, days: int) -> dict[str, Any]:
    """The invoices with something overdue on ``as_of`` and what is overdue of them (their
    instalments past due and still open: sale's ``receivables.overdue``), and likewise beyond
    ``days`` days."""
    from sale.services import receivables

    now = receivables.overdue(env, customer_id, as_of)
    beyond = receivables.overdue(env, customer_id, as_of, max(days, 0))
    return {"count": now["count"], "amount": now["amount"],
            "beyond_allowed_count": beyond["count"], "beyond_allowed_amount": beyond["amount"]}


def summary(env, customer) -> dict[str, Any]:
    """Grade, limit, hold, exposure parts, counted exposure, headroom of one customer."""
    settings = env.settings("sale_credit")
    with env.sudo():
        parts = credit.exposure_parts(env, customer.id)
    components = settings["components"]
    exposure = sum((parts[p] for p in components), Decimal(0))
    limit = customer.credit_limit_effective()
    return {
        "customer_id": customer.id, "code": customer.code, "name": customer.name,
        "grade": customer.credit_grade_code(), "own_grade": customer.credit_grade,
        "credit_limit": customer.credit_limit, "limit": limit, "policy": customer.credit_policy(),
        "hold": bool(customer.credit_hold), "hold_reason": customer.credit_hold_reason,
        "review_date": customer.credit_review_date, "score": customer.credit_score,
        "score_date": customer.credit_score_date,
        "receivable": parts["receivable"], "shipped_uninvoiced": parts["shipped_uninvoiced"],
        "approved_unshipped": parts["approved_unshipped"], "components": list(components),
        "exposure": exposure, "headroom": None if limit is None else limit - exposure,
        "over_limit": limit is not None and exposure > limit,
        "oldest_due_date": parts["oldest_due_date"],
    }


def panel(env, customer_id: int, *, decisions: int = 10) -> dict[str, Any]:
    """The customer credit panel: the summary, overdue figures, orders waiting in credit review,
    the latest decisions and the open grade proposal."""
    customer = env.get("sale.customer", customer_id)
    settings = env.settings("sale_credit")
    data = summary(env, customer)
    as_of = env.today()
    with env.sudo():
        data["overdue"] = _overdue(env, customer.id, as_of, settings["overdue_days"])
        oldest = data["oldest_due_date"]
        data["overdue"]["days"] = (as_of - oldest).days if oldest and oldest < as_of else 0
        data["overdue"]["allowed_days"] = settings["overdue_days"]
        Order, D, P = env["sale.order"], env["sale.credit.decision"], env["sale.credit.grade_proposal"]
        data["in_review"] = [
            {"id": o.id, "number": o.number, "amount_total": o.amount_total, "currency": o.currency}
            for o in env.session.scalars(select(Order).where(
                Order.customer_id == customer.id, Order.state == "credit_review").order_by(Order.id))]
        data["decisions"] = list(env.session.scalars(
            select(D).where(D.customer_id == customer.id).order_by(D.id.desc()).limit(decisions)))
        data["proposal"] = env.session.scalars(
            select(P).where(P.customer_id == customer.id, P.state == "proposed")
            .order_by(P.id.desc()).limit(1)).first()
    data["as_of"] = as_of
    return data
