"""Receivables: aging buckets as of dates (per customer, salesperson, total), open items,
customer statements, and record rules."""

import datetime as dt
from decimal import Decimal as D

import pytest

from core.errors import NotFound, ValidationError

pytestmark = pytest.mark.usefixtures("fast_passwords")

BUCKETS = ("not_due", "1_30", "31_60", "61_90", "over_90")
JAN5 = dt.date(2026, 1, 5)  # + NET30: due 2026-02-04


def _buckets(row):
    return {b: row[b] for b in BUCKETS if row[b]}


def test_aging_bucket_follows_days_overdue(sf, master, flow, acc):
    flow.invoice(flow.order(), date=JAN5)  # 226.00 due Feb 4
    due = dt.date(2026, 2, 4)
    expected = {-30: "not_due", 0: "not_due", 1: "1_30", 30: "1_30", 31: "31_60", 60: "31_60",
                61: "61_90", 90: "61_90", 91: "over_90", 400: "over_90"}
    with sf.transaction("finance") as env:
        for days, bucket in expected.items():
            (row,) = acc.receivables.aging(env, due + dt.timedelta(days=days), None)
            assert _buckets(row) == {bucket: D("226.00")}, days
            assert row["total"] == row["balance"] == D("226.00")
            (item,) = acc.receivables.open_items(env, master.c1, due + dt.timedelta(days=days))["items"]
            assert (item["bucket"], item["days_overdue"]) == (bucket, max(days, 0))
        # before the invoice date there is nothing
        (row,) = acc.receivables.aging(env, dt.date(2026, 1, 4), None)
        assert row["total"] == 0 and acc.receivables.aging(env, dt.date(2026, 1, 4)) == []
        with pytest.raises(ValidationError):
            acc.receivables.aging(env, due, "region")


def test_aging_per_customer_salesperson_and_total_as_of_dates(sf, master, flow, acc):
    a = flow.invoice(flow.order(), date=JAN5)  # c1: 226.00 due Feb 4
    flow.invoice(flow.order(lines=[(0, "4", None)]), date=dt.date(2026, 2, 10))  # c1: 452.00 due Mar 12
    flow.invoice(flow.order(lines=[(2, "1", None)], customer=master.c2),
                 date=dt.date(2026, 1, 20))  # c2: 2259.99 due Feb 19
    flow.pay(master.c1, "100.00", date=dt.date(2026, 3, 1), allocations=[{"invoice_id": a, "amount": "100"}])
    flow.pay(master.c2, "50.00", date=dt.date(2026, 3, 2), allocations=[])  # all credit
    with sf.transaction("manager") as env:
        feb28 = acc.receivables.aging(env, dt.date(2026, 2, 28))
        assert [(r["customer_code"], _buckets(r)) for r in feb28] == [
            ("C001", {"not_due": D("452.00"), "1_30": D("226.00")}),
            ("C002", {"1_30": D("2259.99")})]
        mar31 = acc.receivables.aging(env, dt.date(2026, 3, 31))
        assert [(r["customer_code"], _buckets(r), r["credit"], r["balance"]) for r in mar31] == [
            ("C001", {"1_30": D("452.00"), "31_60": D("126.00")}, 0, D("578.00")),
            ("C002", {"31_60": D("2259.99")}, D("50.00"), D("2209.99"))]
        by_person = acc.receivables.aging(env, dt.date(2026, 3, 31), "salesperson")
        assert [(r["salesperson_name"], r["total"], r["credit"]) for r in by_person] == [
            ("SP1", D("578.00"), 0), ("SP2", D("2259.99"), D("50.00"))]
        (total,) = acc.receivables.aging(env, dt.date(2026, 3, 31), None)
        assert _buckets(total) == {"1_30": D("452.00"), "31_60": D("2385.99")}
        assert (total["credit"], total["balance"]) == (D("50.00"), D("2787.99"))
        assert acc.receivables.aging_totals(mar31)["balance"] == total["balance"]
    with sf.transaction("sp1") as env:  # record rules: only their own customer
        mine = acc.receivables.aging(env, dt.date(2026, 3, 31), "salesperson")
        assert [(r["salesperson_name"], r["total"]) for r in mine] == [("SP1", D("578.00"))]
        (total,) = acc.receivables.aging(env, dt.date(2026, 3, 31), None)
        assert total["balance"] == D("578.00")


def test_open_items_and_statement(sf, master, flow, acc):
    a = flow.invoice(flow.order(), date=JAN5)  # 226.00
    b = flow.invoice(flow.order(lines=[(0, "4", None)]), date=dt.date(2026, 2, 10))  # 452.00
    flow.pay(master.c1, "300.00", method="cheque", reference="CHQ-7", date=dt.date(2026, 2, 15))
    with sf.transaction("finance") as env:
        credit = acc.invoice.create_credit_note(env, b, reason="price", date=dt.date(2026, 3, 3),
                                                lines=[{"invoice_line_id": env.get(
                                                    "sale.invoice", b).lines[0].id, "amount": "100"}])
    with sf.transaction("sp1") as env:
        items = acc.receivables.open_items(env, master.c1, dt.date(2026, 3, 1))
        assert [(i["id"], i["open"], i["bucket"]) for i in items["items"]] == [(b, D("378.00"), "not_due")]
        assert (items["total"], items["credit"], items["balance"]) == (D("378.00"), 0, D("378.00"))
        now = acc.receivables.open_items(env, master.c1, dt.date(2026, 3, 31))
        assert [(i["id"], i["open"]) for i in now["items"]] == [(b, D("265.00"))]
        assert now["balance"] == D("265.00")

        january = acc.receivables.customer_statement(env, master.c1, dt.date(2026, 1, 1),
                                                     dt.date(2026, 1, 31))
        assert january["opening_balance"] == 0 and january["closing_balance"] == D("226.00")
        statement = acc.receivables.customer_statement(env, master.c1, dt.date(2026, 2, 1),
                                                       dt.date(2026, 3, 31))
        assert statement["opening_balance"] == D("226.00")
        assert [(m["kind"], m["id"], m["debit"], m["credit"], m["balance"])
                for m in statement["movements"]] == [
            ("invoice", b, D("452.00"), 0, D("678.00")),
            ("payment", statement["movements"][1]["id"], 0, D("300.00"), D("378.00")),
            ("credit_note", credit.id, 0, D("113.00"), D("265.00"))]
        assert statement["movements"][1]["reference"] == "CHQ-7"
        assert statement["closing_balance"] == D("265.00") == acc.receivables.balance(
            env, master.c1, dt.date(2026, 3, 31))
        with pytest.raises(NotFound):  # not their customer
            acc.receivables.customer_statement(env, master.c2, dt.date(2026, 1, 1), dt.date(2026, 3, 31))
        with pytest.raises(NotFound):
            acc.receivables.open_items(env, master.c2)
        with pytest.raises(ValidationError):
            acc.receivables.customer_statement(env, master.c1, dt.date(2026, 3, 1), dt.date(2026, 2, 1))
    assert a


def test_prepayment_settles_a_later_invoice_when_the_invoice_exists(sf, master, flow, acc):
    iid = flow.invoice(flow.order(), date=dt.date(2026, 3, 1))  # 226.00
    pid = flow.pay(master.c1, "226.00", date=dt.date(2026, 1, 10),
                   allocations=[{"invoice_id": iid, "amount": "226.00"}])
    with sf.transaction("finance") as env:
        (allocation,) = env.get("sale.payment", pid).allocations
        assert allocation.date == dt.date(2026, 3, 1)  # the later of the two documents
    feb1 = dt.date(2026, 2, 1)
    with sf.transaction("finance") as env:
        owed = acc.receivables.balance(env, master.c1, feb1)
        statement = acc.receivables.customer_statement(env, master.c1, JAN5, feb1)
        (row,) = acc.receivables.aging(env, feb1, None)
        items = acc.receivables.open_items(env, master.c1, feb1)
        assert statement["closing_balance"] == owed == items["balance"] == D("-226.00")
        # on Feb 1 the customer had paid 226.00 for nothing invoiced yet: 226.00 of credit
        assert (row["credit"], row["balance"]) == (D("226.00"), D("-226.00"))
        (row,) = acc.receivables.aging(env, dt.date(2026, 3, 1), None)
        assert (row["credit"], row["balance"]) == (0, 0)  # settled once both exist


def test_credit_is_not_applied_before_it_or_the_invoice_exists(sf, master, flow, acc):
    iid = flow.invoice(flow.order(), date=JAN5)  # 226.00 due Feb 4
    flow.pay(master.c1, "226.00", date=dt.date(2026, 3, 1), allocations=[])  # all credit
    with sf.transaction("finance") as env:
        with pytest.raises(ValidationError) as refused:
            acc.payment.apply_customer_credit(env, master.c1, iid, date=dt.date(2026, 2, 1))
        assert refused.value.errors == {"date": [
            "customer C001 has no credit on 2026-02-01: the earliest is from 2026-03-01"]}
        with pytest.raises(ValidationError) as refused:
            acc.payment.apply_customer_credit(env, master.c1, iid, date=dt.date(2026, 1, 4))
        assert refused.value.errors == {"date": [
            "must not be before the date of INV/2026/000001 (2026-01-05)"]}
    feb15 = dt.date(2026, 2, 15)
    with sf.transaction("finance") as env:  # nothing was applied: aging and statement agree
        (row,) = acc.receivables.aging(env, feb15, None)
        assert acc.receivables.balance(env, master.c1, feb15) == row["balance"] == D("226.00")
        assert row["1_30"] == D("226.00")
        made = acc.payment.apply_customer_credit(env, master.c1, iid, date=dt.date(2026, 3, 1))
        assert [a.amount for a in made] == [D("226.00")]
