"""Enabling sale_credit on a database that already has sale's documents (``salesflow db upgrade``)."""

from __future__ import annotations

import datetime as dt
import importlib
from decimal import Decimal

from core import migrations

D = Decimal


def _sale_documents(sf) -> int:
    """On a sale-only database: one customer with a posted invoice (3 of 10 shipped and
    invoiced), 2 more shipped, not invoiced, and 5 approved, not shipped. Returns its id."""
    order_svc = importlib.import_module("sale.services.order")
    shipment = importlib.import_module("sale.services.shipment")
    invoice = importlib.import_module("sale.services.invoice")
    with sf.transaction() as env:
        tax = env.create("sale.tax", code="VAT0", name="VAT 0%", rate=D("0"), price_include=False)
        term = env.create("sale.payment_term", code="NET30", name="Net 30 days")
        env.create("sale.payment_term.line", term_id=term.id, sequence=10, percent=D("100"), days=30)
        product = env.create("sale.product", sku="P0", name="P0", unit="pcs",
                             list_price=D("100.00"), cost=D("60"), tax_id=tax.id)
        customer = env.create("sale.customer", code="C001", name="Old customer", name_key="old customer",
                              payment_term_id=term.id)
        order = order_svc.create_order(env, customer_id=customer.id,
                                       lines=[{"product_id": product.id, "quantity": D("10")}])
        order.fire("approve")
        line = order.lines[0].id
        shipment.record_shipment(env, order, {line: D("3")})
        inv = invoice.create_invoice(env, order)
        invoice.post_invoice(env, inv)
        shipment.record_shipment(env, order, {line: D("2")})
        return customer.id


def test_hook_db_addons_installed(make_sf):
    """sale_credit enabled later: `db upgrade` builds the exposure of the open documents already
    there, so the first credit check sees them (and the invoices' due dates), not zero."""
    sale = make_sf(["sale"], create=False)
    migrations.upgrade(sale)
    customer_id = _sale_documents(sale)

    sf = make_sf(["sale", "sale_credit"], create=False,
                 settings={"sale_credit": {"grades": {"B": {"limit": "600"}}, "default_grade": "B"}})
    assert migrations.upgrade(sf) == ["sale_credit@9947d0b833d4", "sale_credit@6c71cadd9b54",
                                      "sale_credit@926758c530fa", "sale_credit@11e8556e7f22"]

    credit = importlib.import_module("sale_credit.services.credit")
    with sf.transaction() as env:
        assert credit.check_consistency(env) == []
        parts = credit.exposure_parts(env, customer_id)
    assert (parts["receivable"], parts["shipped_uninvoiced"], parts["approved_unshipped"]) == (
        D("300.00"), D("200.00"), D("500.00"))
    assert parts["oldest_due_date"] == sf.today() + dt.timedelta(days=30)
    assert migrations.upgrade(sf) == []  # at heads: nothing to do, nothing rebuilt twice


def _upgrade_to(sf, rev: str) -> None:
    """Upgrade to ``rev`` only (``salesflow db upgrade`` always goes to the heads): a database
    as it was when ``rev`` was sale_credit's head."""
    branches = migrations.load_branches(sf)

    def steps(current, _context):
        return branches.script._upgrade_revs(rev, current)

    with migrations._transaction(sf.engine) as conn:
        migrations._run(sf, branches.script, conn, steps, env_kwargs={"destination_rev": rev})


def test_invoices_posted_before_the_discount_terms_were_stored_get_their_terms_current_ones(
        make_sf):
    """Revision 6c71cadd9b54 stores early-payment discount terms on invoices; the ones already
    posted get their term's as it is then: 2/10 on a 2/10 term, nothing on NET30; drafts and
    credit notes none (a draft takes its term's when it is posted)."""
    from sqlalchemy import text

    sale = make_sf(["sale"], create=False)
    migrations.upgrade(sale)
    invoice = importlib.import_module("sale.services.invoice")
    customer_id = _sale_documents(sale)  # a posted invoice on NET30, 2 shipped not invoiced
    order_svc = importlib.import_module("sale.services.order")
    with sale.transaction() as env:
        term = env.create("sale.payment_term", code="2/10N30", name="2/10 net 30")
        env.create("sale.payment_term.line", term_id=term.id, sequence=10, percent=D("100"), days=30)
        Order = env["sale.order"]
        (first,) = env.search("sale.order", Order.customer_id == customer_id)
        order = order_svc.create_order(env, customer_id=customer_id, payment_term_id=term.id, lines=[
            {"product_id": first.lines[0].product_id, "quantity": D("4")}])
        order.fire("approve")
    with sale.transaction() as env:
        shipment = importlib.import_module("sale.services.shipment")
        shipment.record_shipment(env, env.get("sale.order", order.id))
        on_term = invoice.create_invoice(env, env.get("sale.order", order.id))
        invoice.post_invoice(env, on_term)
        note = invoice.create_credit_note(env, on_term, reason="price", lines=[
            {"invoice_line_id": on_term.lines[0].id, "amount": "10.00"}])
        draft = invoice.create_invoice(env, first)  # the 2 shipped, not invoiced
        Invoice = env["sale.invoice"]
        (net30,) = env.search("sale.invoice", Invoice.order_id == first.id,
                              Invoice.state == "posted")
        ids = {"net30": net30.id, "on_term": on_term.id, "note": note.id, "draft": draft.id}

    sf = make_sf(["sale", "sale_credit"], create=False)
    _upgrade_to(sf, "9947d0b833d4")  # the term's discount columns, not the invoice's
    with sf.engine.begin() as conn:  # finance gave the term its discount meanwhile
        conn.execute(text("UPDATE sale_payment_term SET discount_percent = 2, discount_days = 10 "
                          "WHERE code = '2/10N30'"))
    assert migrations.upgrade(sf) == ["sale_credit@6c71cadd9b54", "sale_credit@926758c530fa",
                                      "sale_credit@11e8556e7f22"]
    with sf.transaction() as env:
        stored = {name: (inv.early_discount_percent, inv.early_discount_days)
                  for name, inv in ((n, env.get("sale.invoice", i)) for n, i in ids.items())}
    assert stored == {"net30": (D("0"), 0), "on_term": (D("2"), 10), "note": (None, None),
                      "draft": (None, None)}


def test_letters_written_before_the_company_amount_was_kept_get_it_at_the_invoices_rate(make_sf):
    """Revision 926758c530fa keeps a dunning letter's amount due in the company currency; the
    letters already written get theirs at their invoice's booked rate: a CNY letter exactly
    its amount, a USD one of 100.00 on an invoice booked at 7.123456 712.35."""
    from sqlalchemy import text

    sale = make_sf(["sale"], create=False)
    migrations.upgrade(sale)
    customer_id = _sale_documents(sale)
    masterdata = importlib.import_module("sale.services.masterdata")
    order_svc = importlib.import_module("sale.services.order")
    shipment = importlib.import_module("sale.services.shipment")
    invoice = importlib.import_module("sale.services.invoice")
    with sale.transaction() as env:
        masterdata.create_currency(env, code="USD", name="US Dollar")
        masterdata.add_rate(env, "USD", dt.date(2026, 1, 1), "7.123456")
        Invoice = env["sale.invoice"]
        (cny,) = env.search("sale.invoice", Invoice.customer_id == customer_id)
        usd = env.create("sale.customer", code="C100", name="Acme", name_key="acme",
                         currency="USD", payment_term_id=cny.payment_term_id)
        order = order_svc.create_order(env, customer_id=usd.id, lines=[
            {"product_id": cny.lines[0].product_id, "quantity": D("1"), "unit_price": D("120")}])
        order.fire("approve")
        shipment.record_shipment(env, order)
        foreign = invoice.create_invoice(env, order)
        invoice.post_invoice(env, foreign, date=dt.date(2026, 1, 5))
        letters = [(cny.id, customer_id, "300.00", "CNY"), (foreign.id, usd.id, "100.00", "USD")]

    sf = make_sf(["sale", "sale_credit"], create=False)
    _upgrade_to(sf, "6c71cadd9b54")
    with sf.engine.begin() as conn:
        conn.execute(text("INSERT INTO sale_credit_dunning_run (id, date, invoice_count, "
                          "dunning_count, no_recipient_count, hold_count, version) "
                          "VALUES (1, '2026-03-01', 2, 2, 0, 0, 1)"))
        for ident, (invoice_id, customer, amount, currency) in enumerate(letters, start=1):
            conn.execute(text(
                "INSERT INTO sale_credit_dunning (id, run_id, invoice_id, invoice_number, "
                "customer_id, level, level_index, date, days_overdue, amount_due, currency, lang, "
                "subject, body, put_on_hold, version) VALUES (:id, 1, :invoice_id, 'INV', "
                ":customer, 'reminder', 1, '2026-03-01', 25, :amount, :currency, 'en', 's', 'b', "
                ":hold, 1)"), {"id": ident, "invoice_id": invoice_id, "customer": customer,
                               "amount": amount, "currency": currency, "hold": False})
    assert migrations.upgrade(sf) == ["sale_credit@926758c530fa", "sale_credit@11e8556e7f22"]
    with sf.transaction() as env:
        Dunning = env["sale.credit.dunning"]
        assert [(d.currency, d.amount_due, d.amount_due_company) for d in env.search(
            "sale.credit.dunning", order_by=[Dunning.id])] == [
            ("CNY", D("300.00"), D("300.00")), ("USD", D("100.00"), D("712.35"))]


def test_a_customers_current_score_becomes_the_first_row_of_its_history(make_sf):
    """Revision 11e8556e7f22 keeps every score; a customer scored before it gets its current
    score as history (without factors), one not scored gets none."""
    from sqlalchemy import text

    sale = make_sf(["sale"], create=False)
    migrations.upgrade(sale)
    customer_id = _sale_documents(sale)
    with sale.transaction() as env:  # never scored
        env.create("sale.customer", code="C002", name="New customer", name_key="new customer")
    sf = make_sf(["sale", "sale_credit"], create=False)
    _upgrade_to(sf, "926758c530fa")
    with sf.engine.begin() as conn:
        conn.execute(text("UPDATE sale_customer SET credit_score = 46.2, "
                          "credit_score_date = '2026-06-30' WHERE id = :id"), {"id": customer_id})
    assert migrations.upgrade(sf) == ["sale_credit@11e8556e7f22"]
    with sf.transaction() as env:
        rows = [(s.customer_id, s.date, s.score, s.factors) for s in env.search("sale.credit.score")]
    assert rows == [(customer_id, dt.date(2026, 6, 30), D("46.2"), None)]
