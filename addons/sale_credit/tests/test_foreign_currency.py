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
    """No overdue check; no dunning letter for less than 5,000.00 (yuan) open."""
    return {**credit_settings, "overdue_days": -1, "dunning": {"min_amount": "5000"}}


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


def test_dunning_a_usd_invoice_quotes_its_dollars_and_counts_its_yuan_at_the_booked_rate(
        sf, master, flow, coll, usd, exposure, api, web):
    """A USD invoice of 1,130.00 booked at 7.10, 130.00 paid at 7.20: 1,000.00 dollars open,
    7,100.00 yuan at its booked rate (not 6.90, the rate on the run's date). The final notice
    quotes USD 1,000.00, records 7,100.00 beside it, is sent although 1,000.00 is below the
    5,000.00 (yuan) minimum, which a CNY invoice of 2,260.00 is not; the hold it puts on the
    customer leaves the exposure at 7,100.00."""
    from sale.services import masterdata as md

    with sf.transaction("finance") as env:
        md.add_rate(env, "USD", dt.date(2026, 3, 1), "6.90")
    with sf.transaction() as env:
        env.write(env.get("sale.customer", usd), lang="en")
        env.create("sale.customer.contact", customer_id=usd, name="Ann", email="ap@acme.example")
    iid = flow.invoice(flow.order(lines=[(0, "10", "100.00")], customer=usd), date=INV_DATE)
    flow.pay(usd, "130.00", date=dt.date(2026, 1, 20))  # after the discount window
    cny = flow.invoice(flow.order(lines=[(0, "20", None)], customer=master.c2), date=INV_DATE)
    assert exposure(usd)["receivable"] == D("7100.00")
    with sf.transaction("cm") as env:
        run = coll.dunning.run_dunning(env, dt.date(2026, 3, 6))  # 30 days overdue: final
        assert [(d.invoice_id, d.level) for d in run.dunnings] == [(iid, "final")]
        assert run.invoice_count == 1  # the CNY invoice is under the minimum
        (letter,) = run.dunnings
        assert (letter.amount_due, letter.currency, letter.amount_due_company) == (
            D("1000.00"), "USD", D("7100.00"))
        assert letter.subject == "Final notice: invoice INV/2026/000001 (USD 1,000.00)"
        assert "invoice INV/2026/000001 for USD 1,000.00, due on 2026-02-04" in letter.body
        assert letter.put_on_hold
        letter_id, run_id = letter.id, run.id
    with sf.transaction() as env:
        customer = env.get("sale.customer", usd)
        assert (customer.credit_hold, customer.credit_hold_reason) == (
            True, "final dunning notice INV/2026/000001")
        assert env.get("sale.invoice", cny).state == "posted"
    assert exposure(usd)["receivable"] == D("7100.00")
    body = api.client.get(f"/api/v1/credit/dunnings/{letter_id}", headers=api.h("cm")).get_json()
    assert (body["amount_due"], body["currency"], body["amount_due_company"]) == (
        "1000.00", "USD", "7100.00")
    page = web("cm").get(f"/sale/credit/dunning/{run_id}").get_data(as_text=True)
    assert "1,000.00" in page and "7,100.00" in page
