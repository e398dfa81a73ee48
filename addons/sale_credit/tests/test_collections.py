"""Collection performance (collected, credit sales, receivables, overdue, DSO) per salesperson
and per customer on a small known data set; aging by salesperson; record rules apply."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from core.errors import ValidationError

pytestmark = pytest.mark.usefixtures("fast_passwords")

D = Decimal
JAN1, JAN31, FEB28 = dt.date(2026, 1, 1), dt.date(2026, 1, 31), dt.date(2026, 2, 28)


@pytest.fixture
def credit_settings(credit_settings):
    """Overdue invoices do not fail the credit check here: the data set invoices in early 2026
    and orders again later (the check compares with today)."""
    return {**credit_settings, "overdue_days": -1}


@pytest.fixture
def data(sf, master, flow):
    """c1 (SP1): 1,130.00 invoiced 01-05 (due 02-04), 500.00 paid 01-20; 113.00 invoiced 03-05
    (due 04-04) and 100.00 paid 03-10 (allocated to the oldest: the January invoice). c2 (SP2):
    2,260.00 invoiced 01-10 (due 02-09)."""
    flow.invoice(flow.order(lines=[(0, "10", None)]), date=dt.date(2026, 1, 5))
    flow.pay(master.c1, "500.00", date=dt.date(2026, 1, 20))
    flow.invoice(flow.order(lines=[(0, "20", None)], customer=master.c2), date=dt.date(2026, 1, 10))
    flow.invoice(flow.order(lines=[(0, "1", None)]), date=dt.date(2026, 3, 5))
    flow.pay(master.c1, "100.00", date=dt.date(2026, 3, 10))


def _figures(row):
    return (row["collected"], row["credit_sales"], row["receivables"], row["overdue"], row["dso"])


def test_performance_and_aging_per_salesperson(sf, users, data, coll):
    with sf.transaction("cm") as env:
        report = coll.collections.performance(env, JAN1, FEB28, "salesperson")
    assert report["days"] == 59
    rows = {r["salesperson_name"]: _figures(r) for r in report["rows"]}
    # SP1: 630 / 1130 x 59 = 32.89; SP2: 2260 / 2260 x 59 = 59; total 2890 / 3390 x 59 = 50.30
    assert rows == {
        "SP1": (D("500.00"), D("1130.00"), D("630.00"), D("630.00"), D("32.9")),
        "SP2": (D("0.00"), D("2260.00"), D("2260.00"), D("2260.00"), D("59.0")),
    }
    assert _figures(report["totals"]) == (D("500.00"), D("3390.00"), D("2890.00"), D("2890.00"),
                                          D("50.3"))
    # aging by salesperson (sale's aging, reused) on 03-20: c1's January invoice has 630 less
    # the 100.00 paid 03-10 (oldest first) = 530.00 open, 44 days overdue; the March invoice
    # (113.00) is not due yet. c2: 2,260.00, 39 days overdue
    with sf.transaction("cm") as env:
        rows = coll.collections.aging_by_salesperson(env, dt.date(2026, 3, 20))
    assert [(r["salesperson_name"], r["not_due"], r["31_60"], r["total"]) for r in rows] == [
        ("SP1", D("113.00"), D("530.00"), D("643.00")),
        ("SP2", D("0.00"), D("2260.00"), D("2260.00")),
    ]


def test_performance_per_customer_and_before_anything_is_due(sf, users, master, data, coll):
    with sf.transaction("finance") as env:
        report = coll.collections.performance(env, JAN1, JAN31, "customer")
    rows = {r["customer_code"]: _figures(r) for r in report["rows"]}
    assert rows == {  # on 01-31 nothing is overdue yet; 31 days
        "C001": (D("500.00"), D("1130.00"), D("630.00"), D("0.00"), D("17.3")),
        "C002": (D("0.00"), D("2260.00"), D("2260.00"), D("0.00"), D("31.0")),
    }
    assert report["rows"][0]["customer_id"] == master.c1
    with sf.transaction("finance") as env:  # a period without sales: DSO undefined
        later = coll.collections.performance(env, dt.date(2026, 3, 6), dt.date(2026, 3, 31),
                                             "customer")
    rows = {r["customer_code"]: _figures(r) for r in later["rows"]}
    assert rows["C001"] == (D("100.00"), D("0.00"), D("643.00"), D("530.00"), None)
    assert rows["C002"][4] is None
    with sf.transaction("cm") as env:
        with pytest.raises(ValidationError) as err:
            coll.collections.performance(env, FEB28, JAN1)
        assert "date_from" in err.value.errors
        with pytest.raises(ValidationError) as err:
            coll.collections.performance(env, JAN1, FEB28, "team")
        assert "group_by" in err.value.errors


def test_a_salesperson_sees_only_their_customers(sf, users, data, coll):
    with sf.transaction("sp1") as env:
        report = coll.collections.performance(env, JAN1, FEB28, "salesperson")
        aging = coll.collections.aging_by_salesperson(env, FEB28)
    assert [r["salesperson_name"] for r in report["rows"]] == ["SP1"]
    assert report["totals"]["receivables"] == D("630.00")
    assert [(r["salesperson_name"], r["1_30"], r["total"]) for r in aging] == \
        [("SP1", D("630.00"), D("630.00"))]
