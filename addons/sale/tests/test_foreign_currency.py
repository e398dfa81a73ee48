"""Foreign-currency accounting: USD invoices, credit notes and payments booked in CNY at the rate
fixed when each is booked, exchange differences realised at settlement, and the receivable
account equal to the aging in the company currency on any date."""

import datetime as dt
from decimal import Decimal as D
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from core.errors import ImmutableRecord, TransitionBlocked, ValidationError

pytestmark = pytest.mark.usefixtures("fast_passwords")

JAN10, FEB5, MAR2, MAR5 = dt.date(2026, 1, 10), dt.date(2026, 2, 5), dt.date(2026, 3, 2), dt.date(2026, 3, 5)
#: USD rates (CNY per dollar) from these dates on
RATES = {dt.date(2026, 1, 1): "7.10", dt.date(2026, 2, 1): "7.20", MAR2: "7.00",
         dt.date(2026, 3, 4): "6.90"}


@pytest.fixture
def usd(sf, master, users):
    """A customer invoiced in US dollars (of sp1), with the rates above."""
    from sale.services import masterdata as md

    with sf.transaction("finance") as env:
        md.create_currency(env, code="USD", name="US Dollar")
        for date, rate in RATES.items():
            md.add_rate(env, "USD", date, rate)
    with sf.transaction() as env:
        return env.create("sale.customer", code="C100", name="Acme Inc", name_key="acme inc",
                          region="West", tier="normal", salesperson_id=users.sp["sp1"],
                          payment_term_id=master.term_id, currency="USD").id


@pytest.fixture
def book(sf, flow, usd, acc):
    """``book.invoice(date)``: a posted USD invoice of 1 x 100.00 + 13 % VAT = 113.00;
    ``book.pay(amount, date, invoice=None)``: a USD payment (to that invoice, or unallocated);
    ``book.lines(record, id)``: the lines of the document's entries."""

    def invoice(date=JAN10, qty="1") -> int:
        return flow.invoice(flow.order(lines=[(0, qty, "100.00")], customer=usd), date=date)

    def pay(amount, date, invoice=None, allocated=None) -> int:
        allocations = [] if invoice is None else [
            {"invoice_id": invoice, "amount": D(allocated or amount)}]
        return flow.pay(usd, amount, date=date, allocations=allocations)

    def lines(env, record, ident):
        Entry = env["sale.journal.entry"]
        entries = env.search("sale.journal.entry", Entry.source_record == record,
                             Entry.source_id == ident)
        return [(ln.account.code, ln.debit, ln.credit, ln.currency, ln.amount_currency)
                for entry in entries for ln in entry.lines]

    return SimpleNamespace(invoice=invoice, pay=pay, lines=lines)


def _account(env, acc, code, date=None):
    rows = acc.journal.trial_balance(env, date_to=date)["rows"]
    return next((r["balance"] for r in rows if r["code"] == code), D("0"))


def _exchange_lines(env, acc):
    Line, Account = env["sale.journal.line"], env["sale.account"]
    return env.session.execute(
        select(Line.debit, Line.credit).join(Account, Line.account_id == Account.id)
        .where(Account.code == "660302")).all()


def test_usd_invoice_is_booked_at_its_dates_rate_and_a_full_payment_realises_a_gain(
        sf, book, acc, usd):
    iid = book.invoice(JAN10)
    with sf.transaction("finance") as env:
        inv = env.get("sale.invoice", iid)
        assert (inv.currency, inv.currency_rate, inv.amount_total, inv.amount_total_company) == (
            "USD", D("7.10"), D("113.00"), D("802.30"))
        assert book.lines(env, "sale.invoice", iid) == [
            ("1122", D("802.30"), 0, "USD", D("113.00")),
            ("6001", 0, D("710.00"), "USD", D("-100.00")),
            ("22210106", 0, D("92.30"), "USD", D("-13.00"))]
    # the rate and company amount never change once posted
    for field, value in (("currency_rate", D("7.50")), ("amount_total_company", D("1.00"))):
        with pytest.raises(ImmutableRecord), sf.transaction("finance") as env:
            setattr(env.get("sale.invoice", iid), field, value)
    pid = book.pay("113.00", FEB5, iid)  # at 7.20: 813.60 reached the bank
    with sf.transaction("finance") as env:
        payment = env.get("sale.payment", pid)
        assert (payment.currency_rate, payment.amount_company) == (D("7.20"), D("813.60"))
        (allocation,) = payment.allocations
        assert (allocation.amount_company, allocation.source_amount_company) == (
            D("802.30"), D("813.60"))
        assert book.lines(env, "sale.payment", pid) == [
            ("1002", D("813.60"), 0, "USD", D("113.00")),
            ("1122", 0, D("802.30"), "USD", D("-113.00")),
            ("660302", 0, D("11.30"), "USD", 0)]  # a gain of 11.30
        assert env.get("sale.invoice", iid).state == "paid"
        assert acc.journal.trial_balance(env)["balanced"]
        assert _account(env, acc, "1122") == 0
        assert _account(env, acc, "660302") == D("-11.30")


def test_partial_payment_then_the_rest_at_another_rate(sf, book, acc):
    iid = book.invoice(JAN10)  # 802.30
    first = book.pay("50.00", FEB5, iid)  # clears round(50 x 7.10) = 355.00, counts 360.00
    rest = book.pay("63.00", MAR5, iid)  # at 6.90: 434.70 for the 447.30 left: a loss
    with sf.transaction("finance") as env:
        (a,) = env.get("sale.payment", first).allocations
        (b,) = env.get("sale.payment", rest).allocations
        assert (a.amount_company, a.source_amount_company) == (D("355.00"), D("360.00"))
        assert (b.amount_company, b.source_amount_company) == (D("447.30"), D("434.70"))
        assert book.lines(env, "sale.payment", first)[-1] == ("660302", 0, D("5.00"), "USD", 0)
        assert book.lines(env, "sale.payment", rest) == [
            ("1002", D("434.70"), 0, "USD", D("63.00")),
            ("1122", 0, D("447.30"), "USD", D("-63.00")),
            ("660302", D("12.60"), 0, "USD", 0)]  # a loss of 12.60
        assert _account(env, acc, "1122") == 0  # settled: exactly zero in yuan too
        assert _account(env, acc, "660302") == D("7.60")  # -5.00 + 12.60


def test_overpayment_is_credit_at_the_payments_rate_and_its_later_use_books_the_difference(
        sf, book, acc, usd):
    pid = book.pay("100.00", FEB5)  # unallocated: 720.00 of credit
    with sf.transaction("finance") as env:
        assert book.lines(env, "sale.payment", pid) == [
            ("1002", D("720.00"), 0, "USD", D("100.00")),
            ("1122", 0, D("720.00"), "USD", D("-100.00"))]
    iid = book.invoice(MAR2)  # at 7.00: 791.00
    with sf.transaction("finance") as env:
        (made,) = acc.payment.apply_customer_credit(env, usd, iid, D("100.00"), date=MAR2)
        # 700.00 cleared with 720.00 of credit: a gain of 20.00
        assert (made.amount_company, made.source_amount_company) == (D("700.00"), D("720.00"))
    with sf.transaction("finance") as env:
        assert book.lines(env, "sale.payment.allocation", made.id) == [
            ("1122", D("20.00"), 0, "USD", 0), ("660302", 0, D("20.00"), "USD", 0)]
        assert env.get("sale.invoice", iid).amount_residual == D("13.00")
        assert _account(env, acc, "1122") == D("91.00")  # 13.00 x 7.00 open
    # an overpayment: 7.00 dollars of credit left at the payment's rate (864.00 - 813.60)
    other = book.invoice(JAN10)
    over = book.pay("120.00", FEB5, other, allocated="113.00")
    with sf.transaction("finance") as env:
        assert book.lines(env, "sale.payment", over) == [
            ("1002", D("864.00"), 0, "USD", D("120.00")),
            ("1122", 0, D("852.70"), "USD", D("-120.00")),  # 802.30 cleared + 50.40 credit
            ("660302", 0, D("11.30"), "USD", 0)]
        made = acc.payment.apply_customer_credit(env, usd, iid, date=MAR5)
        # the 7 dollars of credit use exactly the 50.40 left of the payment and clear
        # round(7 x 7.00) = 49.00 of the invoice: a gain of 1.40
        assert [(a.amount, a.amount_company, a.source_amount_company) for a in made] == [
            (D("7.00"), D("49.00"), D("50.40"))]
    with sf.transaction("finance") as env:
        assert _account(env, acc, "1122") == D("42.00")  # 6.00 x 7.00 still open
        assert acc.journal.trial_balance(env)["balanced"]


def test_credit_note_reverses_at_the_invoices_rate(sf, book, acc, flow):
    iid = book.invoice(JAN10)
    with sf.transaction("finance") as env:
        inv = env.get("sale.invoice", iid)
        # a price correction of 10.00 + 1.30 VAT, on a day the rate is 7.20: booked at 7.10
        part = acc.invoice.create_credit_note(env, inv, reason="price", date=FEB5, lines=[
            {"invoice_line_id": inv.lines[0].id, "amount": "10.00"}])
        assert (part.currency_rate, part.amount_total, part.amount_total_company) == (
            D("7.10"), D("11.30"), D("80.23"))
        assert book.lines(env, "sale.invoice", part.id) == [
            ("6001", D("71.00"), 0, "USD", D("10.00")),
            ("22210106", D("9.23"), 0, "USD", D("1.30")),
            ("1122", 0, D("80.23"), "USD", D("-11.30"))]
    with sf.transaction("finance") as env:
        inv = env.get("sale.invoice", iid)
        rest = acc.invoice.create_credit_note(env, inv, reason="price", date=FEB5, lines=[
            {"invoice_line_id": inv.lines[0].id, "amount": "90.00"}])
        # what is left of the invoice, in yuan: exactly 802.30 - 80.23
        assert (rest.amount_total, rest.amount_total_company) == (D("101.70"), D("722.07"))
    with sf.transaction("finance") as env:
        inv = env.get("sale.invoice", iid)
        assert inv.state == "paid"
        Allocation = env["sale.payment.allocation"]
        assert sorted((a.amount_company, a.source_amount_company) for a in env.search(
            "sale.payment.allocation", Allocation.invoice_id == iid)) == [
            (D("80.23"), D("80.23")), (D("722.07"), D("722.07"))]
        assert _exchange_lines(env, acc) == []  # one rate: no difference
        assert _account(env, acc, "1122") == 0
        assert acc.journal.trial_balance(env)["balanced"]


def test_early_payment_discount_in_dollars(sf, book, acc):
    """A discount answered by the ``sale_payment_discount`` hook, on a USD invoice: converted at
    the invoice's rate, the difference with the money's rate realised."""
    from core.plugins import hookimpl

    class TenOff:
        @hookimpl
        def sale_payment_discount(self, invoice, date, amount, env):
            return (D("10.00"), D("1.30")) if amount + D("11.30") >= invoice.amount_residual else None

    iid = book.invoice(JAN10)
    sf.pm.register(TenOff(), name="test-usd-ten-off")
    try:
        pid = book.pay("101.70", FEB5, iid)
    finally:
        sf.pm.unregister(name="test-usd-ten-off")
    with sf.transaction("finance") as env:
        (a,) = env.get("sale.payment", pid).allocations
        assert (a.amount, a.discount, a.amount_company, a.source_amount_company) == (
            D("101.70"), D("11.30"), D("802.30"), D("732.24"))
        assert book.lines(env, "sale.payment", pid) == [
            ("1002", D("732.24"), 0, "USD", D("101.70")),
            ("1122", 0, D("722.07"), "USD", D("-101.70")),
            ("6603", D("71.00"), 0, "USD", D("10.00")),
            ("22210106", D("9.23"), 0, "USD", D("1.30")),
            ("1122", 0, D("80.23"), "USD", D("-11.30")),
            ("660302", 0, D("10.17"), "USD", 0)]
        assert env.get("sale.invoice", iid).state == "paid"
        assert _account(env, acc, "1122") == 0
        assert acc.journal.trial_balance(env)["balanced"]


def test_a_missing_rate_refuses_and_changes_nothing(sf, book, acc, flow, usd):
    early = dt.date(2025, 12, 15)  # before the first USD rate
    iid = flow.invoice(flow.order(lines=[(0, "1", "100.00")], customer=usd), post=False)
    with sf.transaction("finance") as env:
        with pytest.raises(TransitionBlocked) as refused:
            acc.invoice.post_invoice(env, env.get("sale.invoice", iid), date=early)
        assert refused.value.reasons == [
            "currency: no exchange rate for USD on or before 2025-12-15"]
    with sf.transaction("finance") as env:
        with pytest.raises(ValidationError) as refused:
            acc.payment.register_payment(env, customer_id=usd, amount=D("113.00"),
                                         method="bank_transfer", date=early, allocations=[])
        assert refused.value.errors == {
            "currency": ["no exchange rate for USD on or before 2025-12-15"]}
        with pytest.raises(ValidationError) as refused:
            acc.payment.register_payments(env, [{"customer_id": usd, "amount": "113.00",
                                                 "method": "cash", "date": early,
                                                 "allocations": []}])
        assert list(refused.value.errors) == ["0.currency"]
    with sf.transaction("finance") as env:
        invoice = env.get("sale.invoice", iid)
        assert (invoice.state, invoice.number, invoice.journal_entry_id) == ("draft", None, None)
        assert env.session.scalar(select(func.count()).select_from(env["sale.payment"])) == 0
        assert acc.journal.trial_balance(env)["debit"] == 0


def test_payments_of_one_invoice_in_a_batch_clear_exactly_its_yuan(sf, book, acc, usd):
    iid = book.invoice(JAN10)
    with sf.transaction("finance") as env:
        first, second = acc.payment.register_payments(env, [
            {"customer_id": usd, "amount": "33.33", "method": "cash", "date": FEB5,
             "allocations": [{"invoice_id": iid, "amount": "33.33"}]},
            {"customer_id": usd, "amount": "79.67", "method": "bank_transfer", "date": FEB5,
             "allocations": [{"invoice_id": iid, "amount": "79.67"}]}])
    with sf.transaction("finance") as env:
        (a,) = env.get("sale.payment", first.id).allocations
        (b,) = env.get("sale.payment", second.id).allocations
        # round(33.33 x 7.10) = 236.64, then what is left of 802.30
        assert (a.amount_company, b.amount_company) == (D("236.64"), D("565.66"))
        assert (a.source_amount_company, b.source_amount_company) == (D("239.98"), D("573.62"))
        assert _account(env, acc, "1122") == 0
        assert acc.journal.trial_balance(env)["balanced"]


def test_company_currency_documents_are_unchanged(sf, master, flow, acc):
    iid = flow.invoice(flow.order(), date=JAN10)  # 226.00
    pid = flow.pay(master.c1, "300.00", date=FEB5)
    with sf.transaction("finance") as env:
        inv, payment = env.get("sale.invoice", iid), env.get("sale.payment", pid)
        assert (inv.currency_rate, inv.amount_total_company) == (1, D("226.00"))
        assert (payment.currency_rate, payment.amount_company) == (1, D("300.00"))
        (a,) = payment.allocations
        assert (a.amount_company, a.source_amount_company) == (D("226.00"), D("226.00"))
        Line = env["sale.journal.line"]
        assert env.session.scalar(select(func.count()).select_from(Line)
                                  .where(Line.currency.is_not(None))) == 0
        assert _exchange_lines(env, acc) == []


def test_receivable_account_equals_the_aging_in_yuan_on_every_date(sf, master, book, acc, flow,
                                                                   usd):
    """A mixed history (CNY and USD invoices, partial and over-payments, a prepayment, a
    credit note, credit applied later): on each date the receivable account's balance in the
    trial balance up to that date is the aging's balance in the company currency."""
    cny = flow.invoice(flow.order(), date=JAN10)  # 226.00
    a = book.invoice(JAN10)  # 113.00 at 7.10 = 802.30
    b = book.invoice(JAN10, qty="2")  # 226.00 at 7.10 = 1604.60
    book.pay("50.00", FEB5, a)
    flow.pay(master.c1, "300.00", date=FEB5)  # CNY: 74.00 of credit
    book.pay("300.00", FEB5, b, allocated="226.00")  # 74.00 dollars of credit at 7.20
    c = book.invoice(MAR2, qty="3")  # 339.00 at 7.00 = 2373.00
    with sf.transaction("finance") as env:
        acc.invoice.create_credit_note(env, a, reason="price", date=MAR2, lines=[
            {"invoice_line_id": env.get("sale.invoice", a).lines[0].id, "amount": "20.00"}])
    with sf.transaction("finance") as env:
        acc.payment.apply_customer_credit(env, usd, c, date=MAR5)
    book.pay("40.00", MAR5, a)
    del cny
    dates = [JAN10, dt.date(2026, 1, 31), FEB5, dt.date(2026, 2, 28), MAR2, MAR5,
             dt.date(2026, 12, 31)]
    with sf.transaction("finance") as env:
        for date in dates:
            (total,) = acc.receivables.aging(env, as_of=date, group_by=None)
            assert _account(env, acc, "1122", date) == total["balance"], date
            rows = acc.receivables.aging(env, as_of=date, group_by="customer")
            assert sum(r["balance"] for r in rows) == total["balance"]
            usd_balance = acc.receivables.balance(env, usd, date)
            assert usd_balance == next((r["balance"] for r in rows if r["customer_id"] == usd), 0)
            assert acc.journal.trial_balance(env, date_to=date)["balanced"]
        (end,) = acc.receivables.aging(env, as_of=MAR5, group_by=None)
        # c: 339.00 - 74.00 = 265.00 dollars open = 2373.00 - 518.00; a: 113 - 50 - 22.60 - 40
        # = 0.40 dollars = 802.30 - 355.00 - 160.46 - 284.00 = 2.84; CNY credit 74.00
        assert (end["total"], end["credit"]) == (D("1857.84"), D("74.00"))
        items = acc.receivables.open_items(env, usd, MAR5)
        assert [(i["id"], i["currency"], i["open"], i["open_company"]) for i in items["items"]] == [
            (a, "USD", D("0.40"), D("2.84")), (c, "USD", D("265.00"), D("1855.00"))]
        assert (items["currency"], items["balance"]) == ("CNY", D("1857.84"))
        statement = acc.receivables.customer_statement(env, usd, dt.date(2026, 1, 1), MAR5)
        assert statement["currency"] == "USD"
        assert statement["closing_balance"] == acc.receivables.balance(env, usd, MAR5, "USD") == (
            D("265.40"))


def test_api_and_pages_show_rates_and_company_amounts(sf, book, api, web, usd):
    iid = book.invoice(JAN10)
    pid = book.pay("120.00", FEB5, iid, allocated="113.00")
    r = api.client.get(f"/api/v1/invoices/{iid}", headers=api.h("finance"))
    assert r.status_code == 200
    body = r.get_json()
    assert (body["currency"], body["currency_rate"], body["amount_total_company"]) == (
        "USD", "7.100000", "802.30")
    body = api.client.get(f"/api/v1/payments/{pid}", headers=api.h("finance")).get_json()
    assert (body["currency_rate"], body["amount_company"]) == ("7.200000", "864.00")
    assert [(a["amount_company"], a["source_amount_company"]) for a in body["allocations"]] == [
        ("802.30", "813.60")]
    # read-only: not accepted on input
    r = api.client.post("/api/v1/payments", headers=api.h("finance"), json={
        "customer_id": usd, "amount": "10.00", "method": "cash", "date": "2026-02-05",
        "currency_rate": "1"})
    assert r.status_code == 422 and "currency_rate" in r.get_json()["error"]["fields"]
    aging = api.client.get("/api/v1/receivables/aging?as_of=2026-02-05&group_by=total",
                           headers=api.h("finance")).get_json()
    assert (aging["currency"], aging["totals"]["balance"]) == ("CNY", "-50.40")
    statement = api.client.get(f"/api/v1/customers/{usd}/statement?date_from=2026-01-01"
                               "&date_to=2026-02-05", headers=api.h("finance")).get_json()
    assert (statement["currency"], statement["closing_balance"]) == ("USD", "-7.00")
    page = web("finance").get(f"/r/sale.invoice/{iid}").get_data(as_text=True)
    assert "802.30" in page and "7.1" in page


def test_a_prepayment_realises_its_difference_on_the_invoices_date(sf, book, acc):
    """A payment dated before the invoice it is allocated to is credit until the invoice's
    date: its exchange difference is booked then, so 1122 equals the aging in between too."""
    iid = book.invoice(MAR2)  # 113.00 at 7.00 = 791.00
    pid = book.pay("113.00", FEB5, iid)  # dated before the invoice, at 7.20 = 813.60
    with sf.transaction("finance") as env:
        (a,) = env.get("sale.payment", pid).allocations
        assert (a.date, a.amount_company, a.source_amount_company) == (MAR2, D("791.00"),
                                                                       D("813.60"))
        Entry = env["sale.journal.entry"]
        entries = env.search("sale.journal.entry", Entry.source_record == "sale.payment",
                             Entry.source_id == pid)
        assert [(e.date, [(ln.account.code, ln.debit, ln.credit) for ln in e.lines])
                for e in entries] == [
            (FEB5, [("1002", D("813.60"), 0), ("1122", 0, D("813.60"))]),
            (MAR2, [("1122", D("22.60"), 0), ("660302", 0, D("22.60"))])]
        for date in (FEB5, dt.date(2026, 3, 1), MAR2):
            (total,) = acc.receivables.aging(env, as_of=date, group_by=None)
            assert _account(env, acc, "1122", date) == total["balance"], date
        assert _account(env, acc, "1122") == 0


def test_customer_credit_counts_each_source_in_its_currency_and_in_yuan_at_its_booked_rate(
        sf, master, flow, acc):
    """A USD overpayment of 100.00 (at 7.20) and a CNY credit note of 50.00: 770.00 of credit in
    the company currency (as the aging counts it), 100.00 in dollars and 50.00 in yuan, never
    150.00 of nothing."""
    with sf.transaction("finance") as env:
        from sale.services import masterdata as md

        md.create_currency(env, code="USD", name="US Dollar")
        for date, rate in RATES.items():
            md.add_rate(env, "USD", date, rate)
    iid = flow.invoice(flow.order(), date=JAN10)  # 226.00 CNY
    flow.pay(master.c1, "226.00", date=FEB5, allocations=[{"invoice_id": iid, "amount": "226.00"}])
    with sf.transaction("finance") as env:
        inv = env.get("sale.invoice", iid)
        # 44.25 + 5.75 VAT of a paid invoice: 50.00 of credit
        note = acc.invoice.create_credit_note(env, inv, reason="price", date=FEB5, lines=[
            {"invoice_line_id": inv.lines[0].id, "amount": "44.25"}]).id
        pid = acc.payment.register_payment(env, customer_id=master.c1, amount=D("100.00"),
                                           method="bank_transfer", date=FEB5, currency="USD").id
    with sf.transaction("finance") as env:
        assert acc.receivables.credit_sources(env, master.c1) == [
            ("credit_note", note, "CNY", D("50.00"), D("50.00")),
            ("payment", pid, "USD", D("100.00"), D("720.00"))]
        source = acc.receivables.credit_sources(env, master.c1)[1]
        assert (source.currency, source.amount, source.amount_company) == (
            "USD", D("100.00"), D("720.00"))
        assert acc.payment.customer_credit(env, master.c1) == D("770.00")
        assert acc.payment.customer_credit(env, master.c1, currency="USD") == D("100.00")
        assert acc.payment.customer_credit(env, master.c1, currency="usd") == D("100.00")
        assert acc.payment.customer_credit(env, master.c1, currency="CNY") == D("50.00")
        assert acc.payment.customer_credit(env, master.c1, currency="EUR") == 0
        assert acc.receivables.credit_sources(env, master.c1, currency="USD") == [
            ("payment", pid, "USD", D("100.00"), D("720.00"))]
        # the same figure as the aging and the open items, in the company currency
        (row,) = acc.receivables.aging(env, customer_id=master.c1)
        assert row["credit"] == acc.receivables.open_items(env, master.c1)["credit"] == D("770.00")


def test_customer_credit_of_a_partly_used_foreign_payment_is_what_is_left_of_its_yuan(
        sf, book, acc, usd):
    """A USD payment of 120.00 at 7.20 (864.00) settles an invoice of 113.00 (813.60 of it
    used) and 3.00 of it is applied later (21.60): 4.00 dollars are left, 28.80 yuan of the
    payment's own amount, whatever today's rate."""
    first = book.invoice(JAN10)
    pid = book.pay("120.00", FEB5, first, allocated="113.00")
    later = book.invoice(MAR2)  # at 7.00
    with sf.transaction("finance") as env:
        assert acc.payment.customer_credit(env, usd) == D("50.40")
        acc.payment.apply_customer_credit(env, usd, later, D("3.00"), date=MAR5)
    with sf.transaction("finance") as env:
        assert acc.receivables.credit_sources(env, usd) == [
            ("payment", pid, "USD", D("4.00"), D("28.80"))]
        assert acc.payment.customer_credit(env, usd) == D("28.80")
        assert acc.payment.customer_credit(env, usd, currency="USD") == D("4.00")
        assert acc.payment.customer_credit(env, usd, currency="CNY") == 0
        (row,) = acc.receivables.aging(env, customer_id=usd)
        assert row["credit"] == D("28.80")
    # reading the credit changes nothing
    with sf.transaction("finance") as env:
        payment = env.get("sale.payment", pid)
        assert (payment.amount_unallocated, payment.amount_company) == (D("4.00"), D("864.00"))


def test_customer_history_balance_is_in_yuan_at_each_documents_booked_rate(sf, book, acc, usd):
    """The customer page's receivable, unallocated payments and open balance add documents of
    several currencies in the company currency (as the aging does), never dollars to yuan."""
    from sale.services import partner

    iid = book.invoice(JAN10)  # 113.00 USD at 7.10: 802.30
    book.pay("50.00", FEB5, iid)  # clears 355.00 of it: 447.30 (63.00 USD) open
    book.pay("10.00", FEB5)  # unallocated: 72.00 of credit
    later = book.invoice(MAR2)  # 113.00 USD at 7.00: 791.00, all open
    with sf.transaction("finance") as env:
        open_cny = env.get("sale.invoice", later).amount_total_company
        assert open_cny == D("791.00")
        history = partner.customer_history(env, env.get("sale.customer", usd))
        items = acc.receivables.open_items(env, usd, as_of=MAR5)
        assert history["balance_currency"] == "CNY"
        assert history["receivable"] == D("447.30") + open_cny
        assert history["unallocated"] == D("72.00")
        assert history["open_balance"] == items["balance"] == D("447.30") + open_cny - D("72.00")


def test_approval_thresholds_compare_the_amount_in_the_company_currency(sf, usd, make_order):
    """The levels are in CNY: USD 22,600.00 (about CNY 156,000) needs a sales manager though
    22,600 is far below 100,000; USD 13,560.00 (about CNY 93,600) does not."""
    big = make_order(lines=[(0, "1", "20000.00")], customer=usd)
    with sf.transaction("sp1") as env:
        order = env.get("sale.order", big)
        assert (order.currency, order.amount_total) == ("USD", D("22600.00"))
        with pytest.raises(TransitionBlocked) as refused:  # 22,600 x 6.90, the rate since 4 March
            order.fire("approve")
        assert refused.value.reasons == [
            "needs approval by sales_manager (amount 155,940.00 over 100,000.00)"]
    with sf.transaction("sp1") as env:
        assert env.get("sale.order", big).state == "draft"
    with sf.transaction("manager") as env:
        assert env.get("sale.order", big).fire("approve").done
    small = make_order(lines=[(0, "1", "12000.00")], customer=usd)
    with sf.transaction("sp1") as env:
        order = env.get("sale.order", small)
        assert order.fire("approve").done and order.state == "approved"


def test_an_order_in_a_currency_without_a_rate_cannot_be_approved(sf, master, make_order):
    with sf.transaction() as env:  # no EUR rate (nor currency) exists
        env.create("sale.customer", code="C200", name="Euro GmbH", name_key="euro gmbh",
                   region="West", tier="normal", salesperson_id=env.get("sale.customer", master.c1)
                   .salesperson_id, payment_term_id=master.term_id, currency="EUR")
        customer = env.search("sale.customer", env["sale.customer"].code == "C200")[0].id
    oid = make_order(customer=customer)
    with sf.transaction("sp1") as env:
        order = env.get("sale.order", oid)
        reasons = ["cannot weigh the amount: unknown currency 'EUR'"]
        assert env.blockers(order, "approve") == reasons  # the order page asks this
        with pytest.raises(TransitionBlocked) as refused:
            order.fire("approve")
        assert refused.value.reasons == reasons
    with sf.transaction("sp1") as env:
        assert env.get("sale.order", oid).state == "draft"
