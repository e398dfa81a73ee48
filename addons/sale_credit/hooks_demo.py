"""Demo data with sale_credit enabled.

The sale addon's demo replays a year of orders in a few seconds, with invoices dated in the
past: credit checks made *today* would see them all as overdue and divert the demo's orders to
credit review. So checks are off while the other addons load their demo data (this module's
``demo_data`` runs first, ``tryfirst``), and afterwards (``trylast``) exposure is rebuilt from
the documents, grades are given to the demo customers and scores computed.
"""

from __future__ import annotations

from core.plugins import hookimpl

from .services import credit


@hookimpl(tryfirst=True, specname="demo_data")
def checks_off(env, rng):
    env.session.info[credit.SKIP_CHECKS] = "demo"


@hookimpl(trylast=True, specname="demo_data")
def credit_demo(env, rng):
    from sqlalchemy import select

    from .services import score

    env.session.info.pop(credit.SKIP_CHECKS, None)
    credit.rebuild(env)
    grades = sorted(env.settings("sale_credit")["grades"])
    if grades:
        Customer = env["sale.customer"]
        for customer in env.session.scalars(select(Customer).order_by(Customer.id)):
            customer.credit_grade = rng.choice(grades)
        env.session.flush()
    score.rescore(env)
