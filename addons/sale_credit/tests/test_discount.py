"""Early-payment discount (2/10 net 30): term fields, the discount a payment earns, its VAT
split and its balanced journal entry. (Settling an invoice with it needs a door in sale:
docs/sale_credit.md.)"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from core.errors import ImmutableRecord, ValidationError

pytestmark = pytest.mark.usefixtures("fast_passwords")

D = Decimal
INV_DATE = dt.date(2026, 1, 5)


@pytest.fixture
def credit_settings(credit_settings):
    """Overdue invoices do not fail the credit check here: the data set invoices in early 2026
    and orders again later (the check compares with today)."""
    return {**credit_settings, "overdue_days": -1}


@pytest.fixture
def term_2_10(sf, master):
    with sf.transaction() as env:
        term = env.create("sale.payment_term", code="2/10N30", name="2/10 net 30",
                          discount_percent=D("2"), discount_days=10)
        env.create("sale.payment_term.line", term_id=term.id, sequence=10, percent=D("100"),
                   days=30)
        return term.id


@pytest.fixture
def invoice(sf, flow, term_2_10):
    """1,130.00 (1,000.00 + VAT 130.00) of c1 on 2/10 net 30, dated 2026-01-05."""
    oid = flow.order(lines=[(0, "10", None)], payment_term_id=term_2_10)
    return flow.invoice(oid, date=INV_DATE)


def _discount(sf, coll, invoice_id, date, amount):
    with sf.transaction() as env:
        inv = env.get("sale.invoice", invoice_id)
        return coll.discount.early_payment_discount(env, inv, date, D(amount))


def test_term_fields_are_validated(sf, master):
    with sf.transaction() as env:
        term = env.get("sale.payment_term", master.term_id)
        assert (term.discount_percent, term.discount_days) == (D("0"), 0)
        assert not term.has_early_discount()
    for values, field in [({"discount_percent": D("100"), "discount_days": 5}, "discount_percent"),
                          ({"discount_percent": D("2"), "discount_days": 0}, "discount_days"),
                          ({"discount_percent": D("-1"), "discount_days": 5}, "discount_percent")]:
        with pytest.raises(ValidationError) as err:
            with sf.transaction() as env:
                env.write(env.get("sale.payment_term", master.term_id), **values)
        assert field in err.value.errors


def test_discount_only_inside_the_window_and_settling_split_by_the_invoices_vat(sf, coll, invoice):
    with sf.transaction() as env:
        inv = env.get("sale.invoice", invoice)
        assert (inv.amount_untaxed, inv.amount_tax, inv.amount_total) == \
            (D("1000.00"), D("130.00"), D("1130.00"))
        assert inv.due_date == dt.date(2026, 2, 4)
        assert coll.discount.discount_deadline(env, inv) == dt.date(2026, 1, 15)
    # 2 % of 1,130.00 = 22.60: 20.00 off revenue, 2.60 off output VAT
    assert _discount(sf, coll, invoice, dt.date(2026, 1, 15), "1107.40") == (D("20.00"), D("2.60"))
    assert _discount(sf, coll, invoice, dt.date(2026, 1, 6), "1130.00") == (D("20.00"), D("2.60"))
    for date, amount in [(dt.date(2026, 1, 16), "1107.40"),   # a day late
                         (dt.date(2026, 1, 10), "1107.39"),   # does not settle the invoice
                         (dt.date(2026, 1, 10), "500.00")]:   # a partial payment earns nothing
        assert _discount(sf, coll, invoice, date, amount) == (D("0"), D("0")), (date, amount)
    # the implementation of the hook the sale door will call (hooks_discount.py)
    import importlib

    hooks = importlib.import_module("sale_credit.hooks_discount")
    with sf.transaction() as env:
        inv = env.get("sale.invoice", invoice)
        assert hooks.sale_payment_discount(invoice=inv, date=INV_DATE, amount=D("1107.40"),
                                           env=env) == (D("20.00"), D("2.60"))
        assert hooks.sale_payment_discount(invoice=inv, date=dt.date(2026, 2, 1),
                                           amount=D("1107.40"), env=env) is None


def test_the_base_is_what_is_open_terms_without_discount_and_mixed_vat(sf, coll, flow, master,
                                                                      invoice, term_2_10):
    flow.pay(master.c1, "500.00", date=dt.date(2026, 1, 8))  # a partial payment first
    # 2 % of the 630.00 left = 12.60; VAT part 12.60 x 130 / 1130 = 1.4495 -> 1.45
    assert _discount(sf, coll, invoice, dt.date(2026, 1, 12), "617.40") == (D("11.15"), D("1.45"))
    plain = flow.invoice(flow.order(lines=[(0, "1", None)]), date=INV_DATE)  # NET30, no discount
    assert _discount(sf, coll, plain, dt.date(2026, 1, 6), "113.00") == (D("0"), D("0"))
    # 1,000.00 at 13 % + 1,000.00 at 0 %: total 2,130.00, VAT 130.00; 2 % = 42.60, of which
    # VAT 42.60 x 130 / 2130 = 2.60 (the invoice's own proportion)
    oid = flow.order(lines=[(0, "10", None), (3, "10", None)], payment_term_id=term_2_10)
    mixed = flow.invoice(oid, date=INV_DATE)
    assert _discount(sf, coll, mixed, INV_DATE, "2087.40") == (D("40.00"), D("2.60"))


def test_discount_entry_is_balanced_and_booked_on_the_right_accounts(sf, coll, acc, invoice):
    with sf.transaction("finance") as env:
        inv = env.get("sale.invoice", invoice)
        untaxed, tax = coll.discount.early_payment_discount(env, inv, INV_DATE, D("1107.40"))
        entry = coll.discount.book_discount_entry(env, inv, INV_DATE, untaxed, tax)
        entry_id = entry.id
    with sf.transaction() as env:
        entry = env.get("sale.journal.entry", entry_id)
        assert entry.source_record == "sale.invoice" and entry.source_id == invoice
        lines = sorted((ln.account.code, ln.debit, ln.credit, ln.customer_id) for ln in entry.lines)
        c1 = env.get("sale.invoice", invoice).customer_id
        assert lines == [("1122", D("0.00"), D("22.60"), c1), ("22210106", D("2.60"), D("0.00"), None),
                         ("6603", D("20.00"), D("0.00"), None)]
        tb = acc.journal.trial_balance(env)
        assert tb["balanced"]
        rows = {r["code"]: r["balance"] for r in tb["rows"]}
        # receivable 1,130.00 - 22.60; VAT payable 130.00 - 2.60; revenue untouched
        assert rows["1122"] == D("1107.40")
        assert rows["22210106"] == D("-127.40")
        assert rows["6001"] == D("-1000.00")
        assert rows["6603"] == D("20.00")
    with pytest.raises(ValidationError):
        with sf.transaction("finance") as env:
            coll.discount.book_discount_entry(env, env.get("sale.invoice", invoice), INV_DATE,
                                              D("0"), D("0"))


def _entry_lines(env, payment_id):
    Entry = env["sale.journal.entry"]
    entry = env.search("sale.journal.entry", Entry.source_record == "sale.payment",
                       Entry.source_id == payment_id)[0]
    return sorted((ln.account.code, ln.debit, ln.credit) for ln in entry.lines)


def test_a_payment_inside_the_window_settles_the_invoice_with_the_discount(sf, flow, acc, master,
                                                                         invoice):
    """2/10 net 30 on 1,130.00: 1,107.40 paid on day 7 settles it; the 22.60 discount is booked
    (20.00 sales discount, 2.60 output VAT) and receivables, aging and statement agree."""
    pay_date = dt.date(2026, 1, 12)
    pid = flow.pay(master.c1, "1107.40", date=pay_date)
    with sf.transaction("finance") as env:
        inv = env.get("sale.invoice", invoice)
        assert (inv.state, inv.amount_residual) == ("paid", 0)
        assert inv.order.state == "paid"
        payment = env.get("sale.payment", pid)
        assert [(a.amount, a.discount) for a in payment.allocations] == [(D("1107.40"), D("22.60"))]
        assert payment.amount_unallocated == 0
        assert _entry_lines(env, pid) == [
            ("1002", D("1107.40"), D("0.00")), ("1122", D("0.00"), D("22.60")),
            ("1122", D("0.00"), D("1107.40")), ("22210106", D("2.60"), D("0.00")),
            ("6603", D("20.00"), D("0.00"))]
        tb = acc.journal.trial_balance(env)
        rows = {r["code"]: r["balance"] for r in tb["rows"]}
        assert tb["balanced"] and rows["1122"] == 0 and rows["6603"] == D("20.00")
        assert rows["22210106"] == D("-127.40") and rows["6001"] == D("-1000.00")
        # receivables as of any date: open before the payment, settled from its date on
        assert acc.receivables.balance(env, master.c1, dt.date(2026, 1, 11)) == D("1130.00")
        assert acc.receivables.balance(env, master.c1, pay_date) == 0
        before = acc.receivables.aging(env, as_of=dt.date(2026, 1, 11), group_by=None)[0]
        after = acc.receivables.aging(env, as_of=pay_date, group_by=None)[0]
        assert (before["total"], after["total"], after["credit"]) == (D("1130.00"), 0, 0)
        st = acc.receivables.customer_statement(env, master.c1, dt.date(2026, 1, 1),
                                                dt.date(2026, 1, 31))
        assert [(m["kind"], m["debit"], m["credit"]) for m in st["movements"]] == [
            ("invoice", D("1130.00"), 0), ("payment", 0, D("1107.40")), ("discount", 0, D("22.60"))]
        assert st["closing_balance"] == 0


def test_paying_the_full_amount_early_leaves_the_discount_as_credit(sf, flow, acc, master, invoice):
    pid = flow.pay(master.c1, "1130.00", date=dt.date(2026, 1, 6),
                   allocations=[{"invoice_id": invoice, "amount": "1130.00"}])
    with sf.transaction("finance") as env:
        payment = env.get("sale.payment", pid)
        assert [(a.amount, a.discount) for a in payment.allocations] == [(D("1107.40"), D("22.60"))]
        assert payment.amount_unallocated == D("22.60")
        assert env.get("sale.invoice", invoice).state == "paid"
        assert acc.receivables.balance(env, master.c1, dt.date(2026, 1, 6)) == D("-22.60")


def test_no_discount_late_or_partial_and_none_without_sale_credit_terms(sf, flow, acc, master,
                                                                      invoice):
    late = flow.pay(master.c1, "1107.40", date=dt.date(2026, 1, 16))  # a day after the window
    with sf.transaction("finance") as env:
        inv = env.get("sale.invoice", invoice)
        assert (inv.state, inv.amount_residual) == ("posted", D("22.60"))
        assert [a.discount for a in env.get("sale.payment", late).allocations] == [0]
        assert {code for code, _d, _c in _entry_lines(env, late)} == {"1002", "1122"}
    flow.pay(master.c1, "22.60", date=dt.date(2026, 1, 16))
    assert flow.state("sale.invoice", invoice) == "paid"


def test_exposure_follows_a_discounted_settlement(sf, flow, master, invoice, credit_settings):
    from sale_credit.services import credit

    flow.pay(master.c1, "1107.40", date=dt.date(2026, 1, 12))
    with sf.transaction() as env:
        parts = credit.exposure_parts(env, master.c1)
        assert parts["receivable"] == 0, parts


def _account(env, acc, code, date=None):
    rows = acc.journal.trial_balance(env, date_to=date)["rows"]
    return next((r["balance"] for r in rows if r["code"] == code), D("0"))


def test_the_discount_is_the_terms_at_posting_not_the_terms_edited_since(
        sf, flow, acc, coll, master, invoice, term_2_10, api):
    """2/10 net 30 when the invoice was posted; the term then becomes 5/20, then no discount at
    all: the invoice keeps 2 % within 10 days (its own terms, stored at posting), paying on day
    7 earns 22.60, the journal balances and the aging is account 1122 on every date."""
    with sf.transaction("finance") as env:
        inv = env.get("sale.invoice", invoice)
        assert (inv.early_discount_percent, inv.early_discount_days) == (D("2"), 10)
    url = f"/api/v1/credit/payment-terms/{term_2_10}/early-discount"
    assert api.client.put(url, json={"discount_percent": "5", "discount_days": 20},
                          headers=api.h("finance")).status_code == 200
    # a later invoice on the same term (posted in a batch) gets the new terms; the first
    # keeps its own
    later = flow.invoice(flow.order(lines=[(0, "1", None)], payment_term_id=term_2_10),
                         post=False)
    with sf.transaction("finance") as env:
        acc.invoice.post_invoices(env, [env.get("sale.invoice", later)], date=INV_DATE)
    with sf.transaction("finance") as env:
        first, second = env.get("sale.invoice", invoice), env.get("sale.invoice", later)
        assert (first.early_discount_percent, first.early_discount_days) == (D("2"), 10)
        assert (second.early_discount_percent, second.early_discount_days) == (D("5"), 20)
        assert coll.discount.discount_deadline(env, first) == dt.date(2026, 1, 15)
        assert coll.discount.discount_deadline(env, second) == dt.date(2026, 1, 25)
        # 5 % of 113.00 = 5.65: 5.00 + 0.65 VAT
        assert coll.discount.early_payment_discount(env, second, dt.date(2026, 1, 25),
                                                    D("107.35")) == (D("5.00"), D("0.65"))
        # on the first: 2 % until the 15th, nothing on the 16th (the new 20 days do not count)
        assert coll.discount.early_payment_discount(env, first, dt.date(2026, 1, 16),
                                                    D("1073.50")) == (0, 0)
    quote = api.client.get(f"/api/v1/credit/invoices/{invoice}/early-discount?date=2026-01-12",
                           headers=api.h("finance")).get_json()
    assert (quote["discount_percent"], quote["discount_days"], quote["deadline"],
            quote["discount"], quote["to_pay"]) == ("2.000000", 10, "2026-01-15", "22.60",
                                                    "1107.40")
    # the stored terms of a posted invoice never change: refused, nothing written
    with pytest.raises(ImmutableRecord) as refused, sf.transaction("finance") as env:
        env.get("sale.invoice", invoice).early_discount_percent = D("5")
    assert "posted" in str(refused.value)
    with sf.transaction("finance") as env:
        assert env.get("sale.invoice", invoice).early_discount_percent == D("2")
    # the term loses its discount altogether: the invoice still earns its 2 %
    assert api.client.put(url, json={"discount_percent": "0", "discount_days": 0},
                          headers=api.h("finance")).status_code == 200
    pay_date = dt.date(2026, 1, 12)
    pid = flow.pay(master.c1, "1107.40", date=pay_date,
                   allocations=[{"invoice_id": invoice, "amount": "1107.40"}])
    with sf.transaction("finance") as env:
        payment = env.get("sale.payment", pid)
        assert [(a.amount, a.discount) for a in payment.allocations] == [(D("1107.40"), D("22.60"))]
        assert (payment.amount_unallocated, env.get("sale.invoice", invoice).state) == (0, "paid")
        assert _entry_lines(env, pid) == [
            ("1002", D("1107.40"), D("0.00")), ("1122", D("0.00"), D("22.60")),
            ("1122", D("0.00"), D("1107.40")), ("22210106", D("2.60"), D("0.00")),
            ("6603", D("20.00"), D("0.00"))]
        assert acc.journal.trial_balance(env)["balanced"]
        for date in (INV_DATE, dt.date(2026, 1, 11), pay_date, dt.date(2026, 3, 1)):
            (total,) = acc.receivables.aging(env, as_of=date, group_by=None)
            assert _account(env, acc, "1122", date) == total["balance"], date
        assert _account(env, acc, "1122") == D("113.00")  # the later invoice, still open
