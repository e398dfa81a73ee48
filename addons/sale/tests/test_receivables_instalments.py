"""Invoices due in instalments (a payment term of 50 % at 30 days and 50 % at 60 days): the
aging, open items and statements see each instalment with its own due date and amount, and
what settles an invoice settles its earliest instalments first, as of any date (each test on
SQLite and PostgreSQL)."""

import datetime as dt
from decimal import Decimal as D

import pytest

pytestmark = pytest.mark.usefixtures("fast_passwords")

JAN5 = dt.date(2026, 1, 5)
FIRST, SECOND = dt.date(2026, 2, 4), dt.date(2026, 3, 6)  # JAN5 + 30, + 60 days
BUCKETS = ("not_due", "1_30", "31_60", "61_90", "over_90")


def _buckets(row):
    return {b: row[b] for b in BUCKETS if row[b]}


@pytest.fixture
def inst2(sf, master):
    """The term "50 % at 30 days, 50 % at 60 days" (its id)."""
    from sale.services import masterdata as md

    with sf.transaction("finance") as env:
        return md.create_payment_term(env, code="INST2", name="50% 30d / 50% 60d", lines=[
            {"sequence": 10, "percent": D("50"), "days": 30},
            {"sequence": 20, "percent": D("50"), "days": 60}]).id


def _receivable_account(env, acc, date):
    rows = acc.journal.trial_balance(env, date_to=date)["rows"]
    return next((r["balance"] for r in rows if r["code"] == "1122"), D("0"))


def test_each_instalment_is_aged_by_its_own_due_date(sf, master, flow, acc, api, inst2):
    """226.00 invoiced on Jan 5: on Feb 20 the first 113.00 (due Feb 4) is 16 days overdue,
    the second (due Mar 6) not due; the invoice's due date is the last instalment's."""
    iid = flow.invoice(flow.order(payment_term_id=inst2), date=JAN5)
    feb20 = dt.date(2026, 2, 20)
    with sf.transaction("finance") as env:
        invoice = env.get("sale.invoice", iid)
        assert (invoice.amount_total, invoice.due_date) == (D("226.00"), SECOND)
        Instalment = env["sale.invoice.instalment"]
        assert [(i.sequence, i.due_date, i.amount, i.amount_company) for i in env.search(
            "sale.invoice.instalment", Instalment.invoice_id == iid)] == [
            (1, FIRST, D("113.00"), D("113.00")), (2, SECOND, D("113.00"), D("113.00"))]
        (total,) = acc.receivables.aging(env, feb20, None)
        assert _buckets(total) == {"not_due": D("113.00"), "1_30": D("113.00")}
        assert total["balance"] == D("226.00") == _receivable_account(env, acc, feb20)
        (mine,) = acc.receivables.aging(env, feb20)
        assert (mine["customer_code"], _buckets(mine)) == (
            "C001", {"not_due": D("113.00"), "1_30": D("113.00")})
        (person,) = acc.receivables.aging(env, feb20, "salesperson")
        assert (person["salesperson_name"], person["1_30"]) == ("SP1", D("113.00"))
        # the day after the last instalment is due, all of it is overdue, each by its days
        (later,) = acc.receivables.aging(env, dt.date(2026, 3, 7), None)
        assert _buckets(later) == {"1_30": D("113.00"), "31_60": D("113.00")}
    r = api.client.get(f"/api/v1/customers/{master.c1}/open-items?as_of=2026-02-20",
                       headers=api.h("sp1"))
    assert r.status_code == 200
    items = r.get_json()["items"]
    assert [(i["id"], i["instalment"], i["instalments"], i["due_date"], i["amount"], i["open"],
             i["invoice_amount"], i["days_overdue"], i["bucket"]) for i in items] == [
        (iid, 1, 2, "2026-02-04", "113.00", "113.00", "226.00", 16, "1_30"),
        (iid, 2, 2, "2026-03-06", "113.00", "113.00", "226.00", 0, "not_due")]
    assert r.get_json()["total"] == "226.00"


def test_payments_settle_the_earliest_instalments_first_on_every_date(sf, master, flow, acc,
                                                                      inst2):
    iid = flow.invoice(flow.order(payment_term_id=inst2), date=JAN5)
    flow.pay(master.c1, "50.00", date=dt.date(2026, 2, 10),
             allocations=[{"invoice_id": iid, "amount": "50.00"}])
    flow.pay(master.c1, "100.00", date=dt.date(2026, 3, 1),
             allocations=[{"invoice_id": iid, "amount": "100.00"}])
    expected = {  # as of: (buckets, open items (instalment, open))
        dt.date(2026, 2, 9): ({"1_30": D("113.00"), "not_due": D("113.00")},
                              [(1, D("113.00")), (2, D("113.00"))]),
        dt.date(2026, 2, 20): ({"1_30": D("63.00"), "not_due": D("113.00")},
                               [(1, D("63.00")), (2, D("113.00"))]),
        dt.date(2026, 3, 1): ({"not_due": D("76.00")}, [(2, D("76.00"))]),
        dt.date(2026, 3, 10): ({"1_30": D("76.00")}, [(2, D("76.00"))]),
    }

    def check(env):
        for as_of, (buckets, items) in expected.items():
            (total,) = acc.receivables.aging(env, as_of, None)
            assert _buckets(total) == buckets, as_of
            assert total["balance"] == _receivable_account(env, acc, as_of), as_of
            found = acc.receivables.open_items(env, master.c1, as_of)
            assert [(i["instalment"], i["open"]) for i in found["items"]] == items, as_of
            assert found["total"] == total["total"]

    with sf.transaction("finance") as env:
        check(env)
    # the rest paid later (the invoice is then paid): the past stays as it was
    flow.pay(master.c1, "76.00", date=dt.date(2026, 3, 20),
             allocations=[{"invoice_id": iid, "amount": "76.00"}])
    with sf.transaction("finance") as env:
        assert env.get("sale.invoice", iid).state == "paid"
        check(env)
        (end,) = acc.receivables.aging(env, dt.date(2026, 3, 31), None)
        assert end["total"] == 0 and acc.receivables.open_items(
            env, master.c1, dt.date(2026, 3, 31))["items"] == []


def test_a_credit_note_settles_the_earliest_instalment_too(sf, master, flow, acc, inst2):
    iid = flow.invoice(flow.order(payment_term_id=inst2), date=JAN5)
    with sf.transaction("finance") as env:
        acc.invoice.create_credit_note(env, iid, reason="price", date=dt.date(2026, 1, 20), lines=[
            {"invoice_line_id": env.get("sale.invoice", iid).lines[0].id, "amount": "100"}])
    with sf.transaction("finance") as env:  # 113.00 credited of the first instalment's 113.00
        (total,) = acc.receivables.aging(env, dt.date(2026, 2, 20), None)
        assert _buckets(total) == {"not_due": D("113.00")}
        assert total["balance"] == _receivable_account(env, acc, dt.date(2026, 2, 20))


def test_an_invoice_keeps_the_instalments_it_was_posted_with(sf, master, flow, acc, inst2):
    """The term changed after posting (now 100 % at 10 days): the posted invoice is still due
    in its two instalments; the next invoice takes the new term."""
    from sale.services import masterdata as md

    first = flow.invoice(flow.order(payment_term_id=inst2), date=JAN5)
    with sf.transaction("finance") as env:
        md.update_payment_term(env, env.get("sale.payment_term", inst2),
                               lines=[{"sequence": 10, "percent": D("100"), "days": 10}])
    second = flow.invoice(flow.order(payment_term_id=inst2), date=JAN5)
    with sf.transaction("finance") as env:
        items = acc.receivables.open_items(env, master.c1, dt.date(2026, 2, 20))["items"]
        assert [(i["id"], i["due_date"], i["open"]) for i in items] == [
            (second, dt.date(2026, 1, 15), D("226.00")), (first, FIRST, D("113.00")),
            (first, SECOND, D("113.00"))]
        assert env.get("sale.invoice", first).due_date == SECOND


def test_instalments_add_up_to_the_invoice_in_both_currencies(sf, master, users, flow, acc):
    """Three thirds of 452.00 (150.67, 150.66, 150.67: the split's rounded cumulative shares),
    and of a dollar invoice's company amount, each rounded to its currency's digits."""
    from sale.services import masterdata as md

    with sf.transaction("finance") as env:
        term = md.create_payment_term(env, code="INST3", name="thirds", lines=[
            {"sequence": i, "percent": D("33.333333") if i < 3 else D("33.333334"),
             "days": 30 * i} for i in (1, 2, 3)]).id
        md.create_currency(env, code="USD", name="US Dollar")
        md.add_rate(env, "USD", dt.date(2026, 1, 1), "7.123457")
    with sf.transaction() as env:
        usd = env.create("sale.customer", code="C100", name="Acme Inc", name_key="acme inc",
                         salesperson_id=users.sp["sp1"], payment_term_id=term, currency="USD").id
    cny = flow.invoice(flow.order(lines=[(0, "4", None)], payment_term_id=term), date=JAN5)
    dollars = flow.invoice(flow.order(lines=[(0, "1", "100.00")], customer=usd), date=JAN5)
    with sf.transaction("finance") as env:
        Instalment = env["sale.invoice.instalment"]
        for iid in (cny, dollars):
            invoice = env.get("sale.invoice", iid)
            rows = env.search("sale.invoice.instalment", Instalment.invoice_id == iid,
                              order_by=Instalment.sequence)
            assert [r.due_date for r in rows] == [JAN5 + dt.timedelta(days=30 * i) for i in (1, 2, 3)]
            assert sum(r.amount for r in rows) == invoice.amount_total
            assert sum(r.amount_company for r in rows) == invoice.amount_total_company
        assert [r.amount for r in env.search("sale.invoice.instalment",
                                             Instalment.invoice_id == cny,
                                             order_by=Instalment.sequence)] == [
            D("150.67"), D("150.66"), D("150.67")]
        (total,) = acc.receivables.aging(env, dt.date(2026, 3, 20), None)
        assert total["balance"] == _receivable_account(env, acc, dt.date(2026, 3, 20))
        assert total["1_30"] > 0 and total["31_60"] > 0 and total["not_due"] > 0


def test_the_statement_lists_an_invoices_instalments(sf, master, flow, acc, inst2):
    iid = flow.invoice(flow.order(payment_term_id=inst2), date=JAN5)
    with sf.transaction("finance") as env:
        statement = acc.receivables.customer_statement(env, master.c1, dt.date(2026, 1, 1),
                                                       dt.date(2026, 1, 31))
    (movement,) = statement["movements"]
    assert (movement["id"], movement["due_date"]) == (iid, SECOND)
    assert movement["instalments"] == [{"due_date": FIRST, "amount": D("113.00")},
                                       {"due_date": SECOND, "amount": D("113.00")}]


def test_invoices_posted_before_instalments_were_stored_get_them_at_upgrade(make_sf):
    """Revision 07d1f87a433f: an invoice posted before it gets its term's instalments when the
    term still ends on its due date, else (the term changed since) one instalment of all of it
    on its due date, as it was aged until then; drafts and credit notes get none."""
    import importlib

    from core import migrations

    sf = make_sf(["sale"], create=False)
    migrations.upgrade(sf)
    md = importlib.import_module("sale.services.masterdata")
    orders = importlib.import_module("sale.services.order")
    shipment = importlib.import_module("sale.services.shipment")
    invoicing = importlib.import_module("sale.services.invoice")
    with sf.transaction() as env:
        tax = env.create("sale.tax", code="VAT0", name="VAT 0%", rate=D("0"))
        inst2 = md.create_payment_term(env, code="INST2", name="2", lines=[
            {"sequence": 10, "percent": D("50"), "days": 30},
            {"sequence": 20, "percent": D("50"), "days": 60}])
        changed = md.create_payment_term(env, code="NET30", name="30", lines=[
            {"sequence": 10, "percent": D("100"), "days": 30}])
        product = env.create("sale.product", sku="P0", name="P0", list_price=D("100.00"),
                             tax_id=tax.id)
        customer = env.create("sale.customer", code="C001", name="Old", name_key="old")
        posted = {}
        for name, term in (("inst2", inst2.id), ("changed", changed.id), ("none", None),
                           ("draft", inst2.id)):
            order = orders.create_order(env, customer_id=customer.id, payment_term_id=term,
                                        lines=[{"product_id": product.id, "quantity": D("3")}])
            order.fire("approve")
            shipment.record_shipment(env, order)
            invoice = invoicing.create_invoice(env, order)
            if name != "draft":
                invoicing.post_invoice(env, invoice, date=JAN5)
            posted[name] = invoice.id
        note = invoicing.create_credit_note(env, posted["none"], reason="price", lines=[
            {"invoice_line_id": env.get("sale.invoice", posted["none"]).lines[0].id,
             "amount": "10"}])
        md.update_payment_term(env, changed, lines=[{"sequence": 10, "percent": D("100"),
                                                     "days": 45}])
    # the database as it was before the revision, then upgraded again
    branches = migrations.load_branches(sf)
    with migrations._transaction(sf.engine) as conn:
        migrations._run(sf, branches.script, conn, lambda rev, _ctx: branches.script._downgrade_revs(
            "c3a0af8b6b9c", rev))
    assert migrations.upgrade(sf) == ["sale@07d1f87a433f"]
    with sf.transaction() as env:
        Instalment = env["sale.invoice.instalment"]
        found = {}
        for row in env.search("sale.invoice.instalment", order_by=[Instalment.invoice_id,
                                                                    Instalment.sequence]):
            found.setdefault(row.invoice_id, []).append((row.due_date, row.amount,
                                                         row.amount_company))
    assert found == {
        posted["inst2"]: [(FIRST, D("150.00"), D("150.00")), (SECOND, D("150.00"), D("150.00"))],
        posted["changed"]: [(dt.date(2026, 2, 4), D("300.00"), D("300.00"))],
        posted["none"]: [(JAN5, D("300.00"), D("300.00"))]}
    assert note.id not in found
