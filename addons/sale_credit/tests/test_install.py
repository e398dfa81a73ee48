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
    assert migrations.upgrade(sf) == ["sale_credit@9947d0b833d4"]

    credit = importlib.import_module("sale_credit.services.credit")
    with sf.transaction() as env:
        assert credit.check_consistency(env) == []
        parts = credit.exposure_parts(env, customer_id)
    assert (parts["receivable"], parts["shipped_uninvoiced"], parts["approved_unshipped"]) == (
        D("300.00"), D("200.00"), D("500.00"))
    assert parts["oldest_due_date"] == sf.today() + dt.timedelta(days=30)
    assert migrations.upgrade(sf) == []  # at heads: nothing to do, nothing rebuilt twice
