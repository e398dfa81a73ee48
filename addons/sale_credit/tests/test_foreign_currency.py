"""sale_credit with a customer invoiced in US dollars: the early-payment discount is computed in
dollars and booked at the invoice's rate, and exposure counts the invoice at the rate it was
booked at (sale's ``amount_total_company``)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest

pytestmark = pytest.mark.usefixtures("fast_passwords")

INV_DATE, PAY_DATE = dt.date(2026, 1, 5), dt.date(2026, 1, 12)


@pytest.fixture
def credit_settings(credit_settings):
    return {**credit_settings, "overdue_days": -1}


@pytest.fixture
def usd(sf, master, users):
    from sale.services import masterdata as md

    with sf.transaction("finance") as env:
        md.create_currency(env, code="USD", name="US Dollar")
        md.add_rate(env, "USD", dt.date(2026, 1, 1), "7.10")
        md.add_rate(env, "USD", dt.date(2026, 1, 8), "7.20")
    with sf.transaction() as env:
        term = env.create("sale.payment_term", code="2/10N30", name="2/10 net 30",
                          discount_percent=D("2"), discount_days=10)
        env.create("sale.payment_term.line", term_id=term.id, sequence=10, percent=D("100"),
                   days=30)
        return env.create("sale.customer", code="C100", name="Acme Inc", name_key="acme inc",
                          region="West", tier="normal", salesperson_id=users.sp["sp1"],
                          payment_term_id=term.id, currency="USD", credit_grade="B").id


def test_usd_invoice_earns_its_discount_in_dollars_booked_at_the_invoice_rate(
        sf, flow, acc, usd, exposure):
    iid = flow.invoice(flow.order(lines=[(0, "10", "100.00")], customer=usd), date=INV_DATE)
    assert exposure(usd)["receivable"] == D("8023.00")  # 1,130.00 dollars at 7.10
    pid = flow.pay(usd, "1107.40", date=PAY_DATE)  # 2 % of 1,130.00 off: 20.00 + 2.60 VAT
    with sf.transaction("finance") as env:
        payment = env.get("sale.payment", pid)
        (a,) = payment.allocations
        assert (a.amount, a.discount, a.amount_company, a.source_amount_company) == (
            D("1107.40"), D("22.60"), D("8023.00"), D("7973.28"))
        Entry = env["sale.journal.entry"]
        (entry,) = env.search("sale.journal.entry", Entry.source_record == "sale.payment",
                              Entry.source_id == pid)
        assert [(ln.account.code, ln.debit, ln.credit, ln.amount_currency) for ln in entry.lines] == [
            ("1002", D("7973.28"), 0, D("1107.40")),
            ("1122", 0, D("7862.54"), D("-1107.40")),
            ("6603", D("142.00"), 0, D("20.00")),
            ("22210106", D("18.46"), 0, D("2.60")),
            ("1122", 0, D("160.46"), D("-22.60")),
            ("660302", 0, D("110.74"), 0)]
        assert env.get("sale.invoice", iid).state == "paid"
        rows = acc.journal.trial_balance(env)["rows"]
        assert next(r["balance"] for r in rows if r["code"] == "1122") == 0
    assert exposure(usd)["receivable"] == 0


def test_usd_exposure_of_a_partly_paid_invoice_is_at_its_booked_rate(sf, flow, usd, exposure):
    flow.invoice(flow.order(lines=[(0, "10", "100.00")], customer=usd), date=INV_DATE)
    flow.pay(usd, "130.00", date=dt.date(2026, 1, 20))  # at 7.20, after the window
    assert exposure(usd)["receivable"] == D("7100.00")  # 1,000.00 open at 7.10, not 7.20
