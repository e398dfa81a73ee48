"""``salesflow demo`` with sale_credit: the demo company can go through a credit review.

SQLite only, like sale's demo test: the demo takes ~10 s and its services are tested on both
databases by their own tests.
"""

from __future__ import annotations

import importlib
import random
from decimal import Decimal

from sqlalchemy import select

from core import migrations


def test_the_demo_has_a_credit_manager_who_releases_a_review(make_sf, db_url):
    if not db_url.startswith("sqlite"):
        import pytest

        pytest.skip("the demo is loaded on SQLite only (slow)")
    sf = make_sf(["sale", "sale_credit"], create=False,
                 settings={"sale_credit": {"grades": {"B": {"limit": "100"}}}})
    migrations.upgrade(sf)
    with sf.transaction() as env:
        sf.pm.hook.demo_data(env=env, rng=random.Random(42))
    with sf.transaction() as env:
        User = env["res.user"]
        credit = env.session.scalars(select(User).where(User.login == "credit")).one()
        assert credit.check_password("salesflow-demo") and credit.active
        assert [link.role for link in credit.role_links] == ["credit_manager"]
        Order = env["sale.order"]
        draft = env.session.scalars(select(Order).where(Order.state == "draft",
                                                        Order.amount_total > 100)
                                    .order_by(Order.id).limit(1)).one()
        seller = draft.salesperson.user_id
    svc = importlib.import_module("sale.services.order")
    with sf.transaction(seller) as env:
        order = svc.get_order(env, draft.id)
        order.validity_date = max(env.today(), order.date_order)  # approvable today
        order.fire("approve")
        assert order.state == "credit_review"  # grade B: 100.00, policy review
    with sf.transaction("credit") as env:
        order = svc.get_order(env, draft.id)
        order.fire("release_credit", comment="demo")
        assert order.state == "approved" and order.amount_total > Decimal("100")
