"""Demo data with sale_credit enabled.

The sale addon's demo replays a year of orders in a few seconds, with invoices dated in the
past: credit checks made *today* would see them all as overdue and divert the demo's orders to
credit review. So checks are off while the other addons load their demo data (this module's
``demo_data`` runs first, ``tryfirst``), and afterwards (``trylast``) exposure is rebuilt from
the documents, grades are given to the demo customers and scores computed; the demo company
gets a credit manager, ``credit`` (the demo users' password), to release credit reviews.
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
    _credit_manager(env)
    grades = sorted(env.settings("sale_credit")["grades"])
    if grades:
        Customer = env["sale.customer"]
        for customer in env.session.scalars(select(Customer).order_by(Customer.id)):
            customer.credit_grade = rng.choice(grades)
        env.session.flush()
    score.rescore(env)


def _credit_manager(env) -> None:
    """The demo's credit manager (no other demo user may release a credit review): login
    ``credit``, the password of the demo users before it (one hash serves them all)."""
    from sqlalchemy import select

    User = env["res.user"]
    if env.session.scalar(select(User.id).where(User.login == "credit")) is not None:
        return
    shared = env.session.scalar(select(User.password_hash).where(User.password_hash.is_not(None))
                                .order_by(User.id).limit(1))
    user = User(login="credit", name="周敏 Zhou Min (credit)", email="credit@demo.salesflow.local",
                password_hash=shared)
    user.role_links = [env["res.user_role"](role="credit_manager")]
    env.session.add(user)
    env.session.flush()
