"""Invoices due in instalments (50 % at 30 days, 50 % at 60 days) in credit management: the
exposure's oldest due date, the credit check's overdue days, the panel's overdue figures,
dunning letters and the payment score follow each instalment's own due date, the earliest
instalment settled first (each test on SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import importlib
from decimal import Decimal as D

import pytest

from core.errors import TransitionBlocked
from core.testing import CLIENT_TODAY

pytestmark = pytest.mark.usefixtures("fast_passwords")

TODAY = CLIENT_TODAY


@pytest.fixture
def inst2(sf, master):
    md = importlib.import_module("sale.services.masterdata")
    with sf.transaction("finance") as env:
        return md.create_payment_term(env, code="INST2", name="50% 30d / 50% 60d", lines=[
            {"sequence": 10, "percent": D("50"), "days": 30},
            {"sequence": 20, "percent": D("50"), "days": 60}]).id


def _days_ago(n: int) -> dt.date:
    return TODAY - dt.timedelta(days=n)


def test_the_exposure_and_the_credit_check_see_the_overdue_first_instalment(
        sf, master, make_order, flow, inst2, exposure, decisions):
    """Invoiced 75 days ago: the first half was due 45 days ago (more than the 30 allowed), the
    second 15 days ago; once the first half is paid, the oldest due is the second's."""
    iid = flow.invoice(flow.order(customer=master.c3, lines=[(0, "1", None)],
                                  payment_term_id=inst2), date=_days_ago(75))  # 113.00
    assert exposure(master.c3)["oldest_due_date"] == _days_ago(45)
    oid = make_order(customer=master.c3, lines=[(0, "1", None)])
    with pytest.raises(TransitionBlocked) as refused, sf.transaction("cm_sp") as env:
        env.get("sale.order", oid).fire("approve")
    assert (f"customer C003 has invoices overdue by 45 days (more than 30); the oldest was due "
            f"{_days_ago(45).isoformat()}") in refused.value.reasons
    assert decisions(order_id=oid)[-1]["days_overdue"] == 45
    flow.pay(master.c3, "56.50", allocations=[{"invoice_id": iid, "amount": "56.50"}])
    assert exposure(master.c3)["oldest_due_date"] == _days_ago(15)
    assert exposure(master.c3)["receivable"] == D("56.50")
    with sf.transaction("cm_sp") as env:  # 15 days overdue is allowed
        order = env.get("sale.order", oid)
        order.fire("approve")
        assert order.state == "approved"


def test_the_panel_counts_what_is_overdue_of_each_invoice(sf, master, flow, inst2):
    """Invoiced 40 days ago: 113.00 of 226.00 is overdue (10 days), none beyond 30 days."""
    profile = importlib.import_module("sale_credit.services.profile")
    flow.invoice(flow.order(payment_term_id=inst2), date=_days_ago(40))
    flow.invoice(flow.order(), date=_days_ago(100))  # NET30: 226.00 overdue by 70 days
    with sf.transaction("cm") as env:
        overdue = profile.panel(env, master.c1)["overdue"]
    assert {k: overdue[k] for k in ("count", "amount", "beyond_allowed_count",
                                    "beyond_allowed_amount", "days")} == {
        "count": 2, "amount": D("339.00"), "beyond_allowed_count": 1,
        "beyond_allowed_amount": D("226.00"), "days": 70}


def test_dunning_reminds_of_each_instalment_when_it_is_due(sf, master, flow, inst2, coll):
    """Invoiced 2026-01-05: 113.00 due 2026-02-04, 113.00 due 2026-03-06. A run on 2026-02-20
    finds the first half 16 days overdue (a warning, for 113.00), not the invoice not due."""
    iid = flow.invoice(flow.order(payment_term_id=inst2), date=dt.date(2026, 1, 5))
    with sf.transaction("cm") as env:
        run = coll.dunning.run_dunning(env, dt.date(2026, 2, 1))
        (friendly,) = run.dunnings
        assert (friendly.invoice_id, friendly.level, friendly.days_overdue, friendly.amount_due,
                friendly.amount_due_company) == (iid, "friendly", -3, D("113.00"), D("113.00"))
        assert "2026-02-04" in friendly.body
    with sf.transaction("cm") as env:
        (warning,) = coll.dunning.run_dunning(env, dt.date(2026, 2, 20)).dunnings
        assert (warning.level, warning.days_overdue, warning.amount_due) == (
            "warning", 16, D("113.00"))
    with sf.transaction("cm") as env:  # both due: all of it, counted from the first
        (final,) = coll.dunning.run_dunning(env, dt.date(2026, 3, 10)).dunnings
        assert (final.level, final.days_overdue, final.amount_due) == ("final", 34, D("226.00"))


def test_the_score_counts_days_late_per_instalment(sf, master, flow, inst2):
    """Lateness and the overdue part are per instalment: on 2026-02-25 only the first half was
    due (and paid 16 days late); on 2026-03-16 the second is 10 days overdue too."""
    score = importlib.import_module("sale_credit.services.score")
    iid = flow.invoice(flow.order(payment_term_id=inst2), date=dt.date(2026, 1, 5))
    flow.pay(master.c1, "113.00", date=dt.date(2026, 2, 20),
             allocations=[{"invoice_id": iid, "amount": "113.00"}])  # 16 days late
    with sf.transaction("cm") as env:
        factors = score.score_customers(env, dt.date(2026, 2, 25), [master.c1])[master.c1]["factors"]
    # only the first half was due: 113.00, paid 16 days late
    assert (factors["invoices"], factors["amount_due"], factors["overdue_amount"],
            factors["days_late"]) == (1, "113.00", "0.00", "16.0")
    with sf.transaction("cm") as env:
        factors = score.score_customers(env, dt.date(2026, 3, 16), [master.c1])[master.c1]["factors"]
    # both due: 226.00; the second half 10 days overdue and open: (113 x 16 + 113 x 10) / 226
    assert (factors["amount_due"], factors["overdue_amount"], factors["days_late"]) == (
        "226.00", "113.00", "13.0")
