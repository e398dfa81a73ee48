"""Hook implementations of the sale addon.

Record rules: a user who is only a salesperson sees the customers assigned to them and the
orders (and their documents) of those customers; managers, directors, finance and warehouse
see everything their model access allows.
"""

from __future__ import annotations

from sqlalchemy import select

from core.plugins import hookimpl

SEES_ALL = ("sales_manager", "director", "finance", "warehouse")


def _own_salesperson_ids(env):
    Salesperson = env["sale.salesperson"]
    return select(Salesperson.id).where(Salesperson.user_id == env.user_id).scalar_subquery()


@hookimpl
def record_rule_filters(model, env):
    if env.has_role(*SEES_ALL) or not env.has_role("salesperson"):
        return []
    record = model.__record__
    if record == "sale.customer":
        return [model.salesperson_id.in_(_own_salesperson_ids(env))]
    if record in ("sale.order", "sale.invoice", "sale.payment"):
        Customer = env["sale.customer"]
        visible = select(Customer.id).where(Customer.salesperson_id.in_(_own_salesperson_ids(env)))
        return [model.customer_id.in_(visible.scalar_subquery())]
    return []
