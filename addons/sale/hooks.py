"""Hook implementations of the sale addon.

Record rules: a user who is only a salesperson sees the customers assigned to them, the
orders whose salesperson they are, and the invoices and payments of their customers (the
customer's account: it moves with the customer); managers, directors, finance and warehouse
see everything their model access allows. The kernel keeps what they create or change inside
these rules (an order handed to another salesperson is refused).
"""

from __future__ import annotations

from sqlalchemy import and_, or_, select

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
    Customer = env["sale.customer"]
    own_customers = select(Customer.id).where(
        Customer.salesperson_id.in_(_own_salesperson_ids(env))).scalar_subquery()
    if record == "sale.order":  # its salesperson's; one with none, its customer's salesperson's
        return [or_(model.salesperson_id.in_(_own_salesperson_ids(env)),
                    and_(model.salesperson_id.is_(None), model.customer_id.in_(own_customers)))]
    if record in ("sale.invoice", "sale.payment"):  # the customer's account
        return [model.customer_id.in_(own_customers)]
    return []
