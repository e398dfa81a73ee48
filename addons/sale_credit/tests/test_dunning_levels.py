"""Dunning with configured levels: two levels, the final one without automatic hold."""

from __future__ import annotations

import datetime as dt

import pytest

pytestmark = pytest.mark.usefixtures("fast_passwords")

LEVELS = [{"code": "overdue", "days": 1, "template": "reminder"},
          {"code": "last", "days": 10, "template": "final", "auto_hold": False}]


@pytest.fixture
def credit_settings(credit_settings):
    return {**credit_settings, "dunning": {"levels": LEVELS, "min_amount": "2000"}}


def test_configured_levels_min_amount_and_no_auto_hold(sf, users, master, dunning_data, coll):
    with sf.transaction("cm") as env:
        early = coll.dunning.run_dunning(env, dt.date(2026, 2, 1))  # before due: no level
        assert early.dunning_count == 0
    with sf.transaction("cm") as env:
        run = coll.dunning.run_dunning(env, dt.date(2026, 2, 20))  # 16 days overdue
        # inv1 (1,130.00 open) is under min_amount: only inv2 gets a letter, at the last level
        assert [(d.invoice_id, d.level, d.level_index) for d in run.dunnings] == \
            [(dunning_data.inv2, "last", 1)]
        assert run.hold_count == 0 and run.dunnings[0].put_on_hold is False
    with sf.transaction() as env:
        assert env.get("sale.customer", master.c2).credit_hold is False
