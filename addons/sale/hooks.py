"""Hook implementations of the sale addon.

Record rules: a user who is only a salesperson sees the customers assigned to them, the
orders of those customers whose salesperson they are (or that have none), and the invoices and
payments of their customers (the customer's account). An order is never seen without its
customer, and never by another salesperson: when a manager moves a customer to another
salesperson, its open orders go with it (``services.partner``); its finished ones stay
credited to their salesperson and are seen by managers. Managers,
directors, finance and warehouse see everything their model access allows. The kernel keeps
what a salesperson creates or changes inside these rules (an order in another's name is
refused).
"""

from __future__ import annotations

from sqlalchemy import or_, select

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
    if record not in ("sale.customer", "sale.order", "sale.invoice", "sale.payment"):
        return []
    own = _own_salesperson_ids(env)
    if record == "sale.customer":
        return [model.salesperson_id.in_(own)]
    Customer = env["sale.customer"]
    own_customers = select(Customer.id).where(Customer.salesperson_id.in_(own)).scalar_subquery()
    if record == "sale.order":  # their customer's, and theirs (or no one's)
        return [model.customer_id.in_(own_customers),
                or_(model.salesperson_id.is_(None), model.salesperson_id.in_(own))]
    return [model.customer_id.in_(own_customers)]  # invoices, payments: the customer's account
