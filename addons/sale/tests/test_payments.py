"""Payments: partial, over several invoices, oldest first, overpayment credit, order settlement,
validation, and SQL statements that do not grow with the number of lines."""

import datetime as dt
from decimal import Decimal as D

import pytest

from core.errors import AccessDenied, NotFound, ValidationError
from core.testing import add_user

pytestmark = pytest.mark.usefixtures("fast_passwords")

JAN5, JAN20 = dt.date(2026, 1, 5), dt.date(2026, 1, 20)


def _inv(env, iid):
    return env.get("sale.invoice", iid)


def test_partial_payments_several_invoices_and_order_settlement(sf, master, svc, flow, acc):
    o1, o2 = flow.order(), flow.order(lines=[(0, "4", None)])
    a, b = flow.invoice(o1, date=JAN5), flow.invoice(o2, date=JAN5)  # 226.00 and 452.00
    first = flow.pay(master.c1, "100.00", method="cash", allocations=[{"invoice_id": a, "amount": "100"}])
    with sf.transaction("finance") as env:
        invoice = _inv(env, a)
        assert (invoice.amount_residual, invoice.payment_status, invoice.state) == (
            D("126.00"), "partial", "posted")
        assert env.get("sale.order", o1).payment_status == "partial"
        assert env.get("sale.payment", first).number == "PAY/2026/000001"
    second = flow.pay(master.c1, "578.00", method="cheque", reference="CHQ-0042", allocations=[
        {"invoice_id": a, "amount": "126.00"}, {"invoice_id": b, "amount": "452.00"}])
    with sf.transaction("finance") as env:
        payment = env.get("sale.payment", second)
        assert payment.reference == "CHQ-0042" and payment.amount_unallocated == 0
        assert sorted((x.invoice_id, x.amount) for x in payment.allocations) == [
            (a, D("126.00")), (b, D("452.00"))]
        for iid, oid in ((a, o1), (b, o2)):
            invoice = _inv(env, iid)
            assert (invoice.state, invoice.amount_residual, invoice.payment_status) == (
                "paid", 0, "paid")
            order = env.get("sale.order", oid)
            assert (order.state, order.payment_status) == ("paid", "full")

    # an order invoiced in parts is paid when all its invoices are
    oid = flow.order(lines=[(0, "10", None)], ship={0: "4"})
    first = flow.invoice(oid, date=JAN5)  # 452.00
    flow.pay(master.c1, "452.00", allocations=[{"invoice_id": first, "amount": "452.00"}])
    with sf.transaction("finance") as env:
        order = env.get("sale.order", oid)
        assert _inv(env, first).state == "paid"
        assert (order.state, order.payment_status) == ("approved", "partial")
    with sf.transaction("warehouse") as env:
        svc.shipment.record_shipment(env, svc.order.get_order(env, oid))
    second = flow.invoice(oid, date=JAN20)  # 678.00
    assert flow.state("sale.order", oid) == "invoiced"
    flow.pay(master.c1, "600.00")
    assert flow.state("sale.order", oid) == "invoiced"
    flow.pay(master.c1, "78.00")
    assert flow.state("sale.invoice", second) == "paid"
    assert flow.state("sale.order", oid) == "paid"


def test_oldest_due_first_and_overpayment_stays_as_credit(sf, master, flow, acc):
    late = flow.invoice(flow.order(lines=[(0, "4", None)]), date=JAN20)  # 452.00, due Feb 19
    early = flow.invoice(flow.order(), date=JAN5)  # 226.00, due Feb 4
    flow.pay(master.c1, "300.00", date=dt.date(2026, 2, 1))
    with sf.transaction("finance") as env:
        assert _inv(env, early).state == "paid"
        assert _inv(env, late).amount_residual == D("378.00")
    over = flow.pay(master.c1, "500.00", method="electronic", date=dt.date(2026, 2, 2))
    with sf.transaction("finance") as env:
        assert _inv(env, late).state == "paid"
        payment = env.get("sale.payment", over)
        assert payment.amount_unallocated == D("122.00")
        assert acc.payment.customer_credit(env, master.c1) == D("122.00")
    nxt = flow.invoice(flow.order(), date=dt.date(2026, 2, 10))  # 226.00
    with sf.transaction("finance") as env:
        made = acc.payment.apply_customer_credit(env, master.c1, nxt, date=dt.date(2026, 2, 11))
        assert [(m.payment_id, m.amount) for m in made] == [(over, D("122.00"))]
        invoice = _inv(env, nxt)
        assert (invoice.amount_residual, invoice.payment_status) == (D("104.00"), "partial")
        assert env.get("sale.payment", over).amount_unallocated == 0
        with pytest.raises(ValidationError) as refused:
            acc.payment.apply_customer_credit(env, master.c1, nxt)
        assert refused.value.errors == {"amount": ["customer C001 has no credit to apply"]}


def test_invalid_payments_are_refused_per_field_and_write_nothing(sf, master, flow, acc):
    mine = flow.invoice(flow.order(), date=JAN5)
    theirs = flow.invoice(flow.order(customer=master.c2), date=JAN5)
    with sf.transaction("finance") as env:
        pay = acc.payment.register_payment
        with pytest.raises(ValidationError) as bad:
            pay(env, customer_id=master.c1, amount="-5", method="barter")
        assert set(bad.value.errors) == {"amount", "method"}
        for amount, message in ((0.5, "floats are not accepted"), ("1.005", "at most 2 decimals"),
                                ("abc", "is not a number")):
            with pytest.raises(ValidationError) as bad:
                pay(env, customer_id=master.c1, amount=amount, method="cash")
            assert message in bad.value.errors["amount"][0]
        with pytest.raises(ValidationError) as bad:
            pay(env, customer_id=master.c1, amount="300", method="cash", allocations=[
                {"invoice_id": mine, "amount": "226.01"}, {"invoice_id": theirs, "amount": "1"},
                {"invoice_id": mine, "amount": "1"}, {"amount": "1"}])
        assert bad.value.errors == {
            "allocations.2.invoice_id": ["named twice"],
            "allocations.3.invoice_id": ["is required (an invoice id)"],
        }
        with pytest.raises(ValidationError) as bad:
            pay(env, customer_id=master.c1, amount="300", method="cash", allocations=[
                {"invoice_id": mine, "amount": "226.01"}, {"invoice_id": theirs, "amount": "1"}])
        assert bad.value.errors == {
            "allocations.0.amount": ["more than the 226.00 open on INV/2026/000001"],
            "allocations.1.invoice_id": ["not an open posted invoice of customer C001"],
        }
        with pytest.raises(ValidationError) as bad:
            pay(env, customer_id=master.c1, amount="100", method="cash",
                allocations=[{"invoice_id": mine, "amount": "150"}])
        assert "allocate at most the amount paid" in bad.value.errors["allocations"][0]
        with pytest.raises(NotFound):
            pay(env, customer_id=999999, amount="1", method="cash")
        assert env.search("sale.payment") == []
        ok = pay(env, customer_id=master.c1, amount="1.00", method="cash")
        assert ok.number == "PAY/2026/000001"  # nothing was consumed by the refusals
    with sf.transaction("sp1") as env, pytest.raises(AccessDenied):
        acc.payment.register_payment(env, customer_id=master.c1, amount="1", method="cash")


def test_sql_statements_do_not_grow_with_lines_and_1000_lines_reach_paid(sf, master, flow, acc,
                                                                       count_queries):
    def measure(n: int) -> tuple[int, int]:
        oid = flow.order(lines=[(i % 2, "1", None) for i in range(n)])
        with sf.transaction("finance") as env:
            order = env.get("sale.order", oid)
            with count_queries(sf.engine) as invoicing:
                invoice = acc.invoice.create_invoice(env, order)
                acc.invoice.post_invoice(env, invoice, date=JAN5)
            total = invoice.amount_total
        with sf.transaction("finance") as env, count_queries(sf.engine) as paying:
            acc.payment.register_payment(env, customer_id=master.c1, amount=total, method="cash")
        assert flow.state("sale.order", oid) == "paid"
        return invoicing.value, paying.value

    measure(1)  # first use: accounts, sequences
    five, fifty = measure(5), measure(50)
    print(f"\nSQL statements (invoice+post, payment): 5 lines {five}, 50 lines {fifty}")
    assert five == fifty
    # and few (the order read by the caller; SQLite counts its BEGIN IMMEDIATE, PostgreSQL
    # locks the order with a SELECT .. FOR UPDATE, at posting and again when a payment
    # settles its invoice): the payment figures are read once, the invoice is written once at
    # posting, the order once with its state change; the currency's digits are read once each
    assert five[0] <= 26 and five[1] <= 20, five  # (posting: its instalments, one INSERT)

    # a 1,000-line order goes through invoicing and payment to paid (its speed is measured by
    # bench/lifecycle.py --big-order, not asserted here: timed tests fail on busy machines)
    oid = flow.order(lines=[(1, "1", None)] * 1000)
    with sf.transaction("finance") as env:
        invoice = acc.invoice.create_invoice(env, oid)
        acc.invoice.post_invoice(env, invoice, date=JAN5)
        assert invoice.amount_total == D("28820.00")  # 25.50 + 3.32 each
    with sf.transaction("finance") as env:
        acc.payment.register_payment(env, customer_id=master.c1, amount="28820.00", method="cash")
    assert flow.state("sale.order", oid) == "paid"


def test_hook_sale_payment_discount(sf, master, flow, acc):
    """A discount answered by the hook settles the invoice for less money: the allocation
    carries it, the payment's entry books it (sales discount, output VAT, receivable), and
    receivables count it on the payment's date. A bad answer refuses the payment."""
    from core.plugins import hookimpl

    class TenOff:
        answer = (D("10.00"), D("1.30"))

        @hookimpl
        def sale_payment_discount(self, invoice, date, amount, env):
            return self.answer if amount + sum(self.answer) >= invoice.amount_residual else None

    iid = flow.invoice(flow.order(), date=JAN5)  # 226.00 (200.00 + 26.00 VAT)
    plugin = TenOff()
    sf.pm.register(plugin, name="test-ten-off")
    try:
        too_little = flow.pay(master.c1, "100.00", date=JAN20)  # partial: the hook says None
        with sf.transaction("finance") as env:
            assert _inv(env, iid).amount_residual == D("126.00")
            assert [a.discount for a in env.get("sale.payment", too_little).allocations] == [D("0")]
        pid = flow.pay(master.c1, "120.00", date=JAN20)  # 114.70 + 11.30 settles; 5.30 credit
        with sf.transaction("finance") as env:
            payment = env.get("sale.payment", pid)
            assert [(a.amount, a.discount) for a in payment.allocations] == [(D("114.70"), D("11.30"))]
            assert payment.amount_unallocated == D("5.30")
            assert (_inv(env, iid).state, _inv(env, iid).amount_residual) == ("paid", 0)
            entry = env.search("sale.journal.entry", env["sale.journal.entry"].source_id == pid,
                               env["sale.journal.entry"].source_record == "sale.payment")[0]
            lines = sorted((ln.account.code, ln.debit, ln.credit) for ln in entry.lines)
            assert lines == [("1002", D("120.00"), D("0.00")), ("1122", D("0.00"), D("11.30")),
                             ("1122", D("0.00"), D("120.00")), ("22210106", D("1.30"), D("0.00")),
                             ("6603", D("10.00"), D("0.00"))]
            assert acc.journal.trial_balance(env)["balanced"]
            assert acc.receivables.balance(env, master.c1, JAN20) == D("-5.30")  # credit left
            assert acc.receivables.balance(env, master.c1, JAN5) == D("226.00")
            aging = acc.receivables.aging(env, as_of=JAN20, group_by=None)
            assert (aging[0]["total"], aging[0]["credit"]) == (0, D("5.30"))
        plugin.answer = (D("-1.00"), D("0"))
        other = flow.invoice(flow.order(), date=JAN5)
        with pytest.raises(ValueError, match="sale_payment_discount"):
            flow.pay(master.c1, "300.00", date=JAN20)
        with sf.transaction("finance") as env:
            assert _inv(env, other).amount_residual == D("226.00")  # nothing written
    finally:
        sf.pm.unregister(plugin)


def test_payment_amounts_have_at_most_the_currencys_decimals(make_sf, fast_passwords):
    """A company keeping its books in yen: a payment of 100.50 is refused (yen have no
    decimals), 100 is taken."""
    from sale.services import masterdata as md
    from sale.services import payment

    sf = make_sf(["sale"], settings={"sale": {"company_currency": "JPY"}})
    add_user(sf, "finance", "finance")
    with sf.transaction() as env:
        defaults = md.ensure_defaults(env)
        assert defaults["currencies"]["JPY"].digits == 0
        jpy = env.create("sale.customer", code="C300", name="Osaka KK", name_key="osaka kk",
                         region="East", tier="normal", currency="JPY",
                         payment_term_id=defaults["terms"]["NET30"].id).id
    with sf.transaction("finance") as env:
        with pytest.raises(ValidationError) as refused:
            payment.register_payment(env, customer_id=jpy, amount=D("100.50"),
                                     method="cash", date=JAN5, allocations=[])
        assert refused.value.errors == {"amount": ["at most 0 decimals"]}
    with sf.transaction("finance") as env:
        assert env.search("sale.payment", env["sale.payment"].customer_id == jpy) == []
        taken = payment.register_payment(env, customer_id=jpy, amount=D("100"), method="cash",
                                         date=JAN5, allocations=[])
        assert (taken.amount, taken.currency, taken.amount_unallocated) == (D("100"), "JPY", D("100"))
