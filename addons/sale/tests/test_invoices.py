"""Invoices: from shipped (or ordered) quantities, posting, numbering, immutability, credit notes."""

import datetime as dt
from decimal import Decimal as D

import pytest

from core.errors import AccessDenied, ImmutableRecord, TransitionBlocked, ValidationError

pytestmark = pytest.mark.usefixtures("fast_passwords")

JAN5 = dt.date(2026, 1, 5)


def _invoice(env, iid):
    return env.get("sale.invoice", iid)


def test_invoice_of_a_fully_shipped_order_equals_the_order_and_is_immutable(sf, master, flow):
    p1, p2, p3 = master.product_ids
    oid = flow.order(lines=[(0, "3", None), (1, "7", None), (2, "1", None),
                            {"product_id": p2, "quantity": D("4"), "discount": D("10")}])
    iid = flow.invoice(oid, date=dt.date(2026, 3, 15))
    with sf.transaction("finance") as env:
        invoice, order = _invoice(env, iid), env.get("sale.order", oid)
        assert invoice.number == "INV/2026/000001"
        assert invoice.state == "posted" and invoice.kind == "invoice"
        assert invoice.date == dt.date(2026, 3, 15)
        assert invoice.due_date == dt.date(2026, 4, 14)  # NET30 of the customer / order
        # 300.00 + 178.50 + 1999.99 + 91.80 = 2570.29; VAT 39.00 + 23.21 + 260.00 + 11.93
        assert invoice.amount_untaxed == D("2570.29") == order.amount_untaxed
        assert invoice.amount_tax == D("334.14") == order.amount_tax
        assert invoice.amount_total == D("2904.43") == order.amount_total
        assert invoice.amount_residual == invoice.amount_total and invoice.payment_status == "none"
        assert invoice.journal_entry_id is not None
        by_sale_line = {line.sale_line_id: line for line in invoice.lines}
        for line in order.lines:
            inv_line = by_sale_line[line.id]
            assert (inv_line.quantity, inv_line.amount_untaxed, inv_line.amount_tax,
                    inv_line.amount_total) == (line.quantity, line.amount_untaxed, line.amount_tax,
                                               line.amount_total)
            assert line.qty_invoiced == line.quantity
        assert order.state == "invoiced" and order.invoice_status == "full"
    # posted: immutable, whoever tries (corrections go through credit notes)
    for change in ("amount", "line", "delete"):
        with pytest.raises(ImmutableRecord), sf.transaction("finance") as env:
            invoice = _invoice(env, iid)
            if change == "amount":
                invoice.amount_total = D("1.00")
            elif change == "line":
                invoice.lines[0].quantity = D("1")
            else:
                env.session.delete(invoice)
            env.session.flush()
    with sf.transaction() as env:  # not even the system
        invoice = _invoice(env, iid)
        invoice.due_date = dt.date(2030, 1, 1)
        with pytest.raises(ImmutableRecord):
            env.session.flush()
        env.session.rollback()
    with sf.transaction() as env:  # its journal entry is booked once (a batch books it late)
        invoice = _invoice(env, iid)
        entry_id = invoice.journal_entry_id
        invoice.journal_entry_id = None
        with pytest.raises(ValidationError, match="booked once"):
            env.session.flush()
        env.session.rollback()
    with sf.transaction("finance") as env:
        invoice = _invoice(env, iid)
        assert (invoice.amount_total, invoice.due_date) == (D("2904.43"), dt.date(2026, 4, 14))
        assert invoice.lines[0].quantity == D("3") and invoice.journal_entry_id == entry_id


def test_partial_shipment_invoices_only_the_shipped_quantity(sf, master, svc, flow, acc):
    # 3 x 33.335 = 100.005 -> 100.01, VAT 13.00: parts must add up to the line exactly
    oid = flow.order(lines=[(0, "10", None), (1, "3", "33.335")], ship={0: "4", 1: "1"})
    first = flow.invoice(oid, date=JAN5)
    with sf.transaction("finance") as env:
        invoice = _invoice(env, first)
        assert [(ln.quantity, ln.amount_untaxed, ln.amount_tax) for ln in invoice.lines] == [
            (D("4"), D("400.00"), D("52.00")), (D("1"), D("33.34"), D("4.33"))]
        assert invoice.amount_total == D("489.67")
        order = env.get("sale.order", oid)
        assert order.state == "approved" and order.invoice_status == "partial"
        assert [ln.qty_invoiced for ln in order.lines] == [D("4"), D("1")]
        with pytest.raises(TransitionBlocked) as refused:
            acc.invoice.create_invoice(env, order)
        assert refused.value.reasons == [
            "nothing left to invoice: every shipped quantity is invoiced"]
    with sf.transaction("warehouse") as env:
        svc.shipment.record_shipment(env, svc.order.get_order(env, oid))
    second = flow.invoice(oid, date=JAN5)
    with sf.transaction("finance") as env:
        order, a, b = env.get("sale.order", oid), _invoice(env, first), _invoice(env, second)
        assert [ln.quantity for ln in b.lines] == [D("6"), D("2")]
        assert b.lines[1].amount_untaxed == D("66.67") and b.lines[1].amount_tax == D("8.67")
        assert a.amount_untaxed + b.amount_untaxed == order.amount_untaxed
        assert a.amount_tax + b.amount_tax == order.amount_tax
        assert a.amount_total + b.amount_total == order.amount_total == D("1243.01")
        assert order.state == "invoiced"
        assert (a.number, b.number) == ("INV/2026/000001", "INV/2026/000002")


def test_nothing_to_invoice_is_refused_and_only_drafts_cancel(sf, master, flow, acc, make_order):
    quotation = make_order()
    with sf.transaction("finance") as env:
        with pytest.raises(TransitionBlocked) as refused:
            acc.invoice.create_invoice(env, quotation)
        assert "only approved orders are invoiced" in refused.value.reasons[0]
    oid = flow.order(ship=None)
    with sf.transaction("finance") as env:
        with pytest.raises(TransitionBlocked) as refused:
            acc.invoice.create_invoice(env, oid)
        assert refused.value.reasons == ["nothing is shipped yet (invoice policy: shipped quantities)"]
    shipped = flow.order()
    flow.invoice(shipped, post=False)
    with sf.transaction("finance") as env:
        with pytest.raises(TransitionBlocked) as refused:
            acc.invoice.create_invoice(env, shipped)
        assert refused.value.reasons[0].endswith("or already on a draft invoice")
    with sf.transaction("sp1") as env, pytest.raises(AccessDenied):
        acc.invoice.create_invoice(env, shipped)
    # the draft holding the quantities is cancelled; a posted invoice cannot be
    with sf.transaction("finance") as env:
        (draft,) = env.search("sale.invoice")
        acc.invoice.cancel_invoice(env, draft)
        assert draft.state == "cancelled"
    posted = flow.invoice(shipped)
    with sf.transaction("finance") as env:
        with pytest.raises(TransitionBlocked) as refused:
            acc.invoice.cancel_invoice(env, posted)
        assert refused.value.reasons == ["'cancel' is not possible in state 'posted' (only from draft)"]
        with pytest.raises(TransitionBlocked) as refused:
            acc.invoice.post_invoice(env, posted)
        assert "not possible in state 'posted'" in refused.value.reasons[0]


def test_ordered_policy_invoices_before_shipping(sf, users, master, svc, flow, acc):
    sf.settings["sale"]["invoice_policy"] = "ordered"
    oid = flow.order(lines=[(0, "5", None)], ship=None)
    iid = flow.invoice(oid, date=JAN5)
    with sf.transaction("finance") as env:
        invoice, order = _invoice(env, iid), env.get("sale.order", oid)
        assert invoice.lines[0].quantity == D("5") and invoice.amount_total == D("565.00")
        assert order.lines[0].qty_invoiced == D("5") and order.state == "approved"
    flow.pay(master.c1, "565.00")
    with sf.transaction("warehouse") as env:
        svc.shipment.record_shipment(env, svc.order.get_order(env, oid))
    # invoiced and paid before it left: the shipment moves it to the end at once (the system
    # fires `invoice` and `settle`, which the warehouse user could not)
    assert flow.state("sale.order", oid) == "paid"
    with sf.transaction() as env:
        order = env.get("sale.order", oid)
        assert (order.shipping_status, order.invoice_status, order.payment_status) == ("full",) * 3
        Log = env["workflow.log"]
        log = [(w.trigger, w.user_id) for w in env.search(
            "workflow.log", Log.record == "sale.order", Log.record_id == oid)]
    assert log[-3:] == [("ship", users.warehouse), ("invoice", None), ("settle", None)]


def test_ordered_policy_partly_paid_order_stops_at_invoiced(sf, master, svc, flow, acc):
    sf.settings["sale"]["invoice_policy"] = "ordered"
    oid = flow.order(lines=[(0, "5", None)], ship=None)
    flow.invoice(oid, date=JAN5)
    flow.pay(master.c1, "100.00")
    with sf.transaction("warehouse") as env:
        svc.shipment.record_shipment(env, svc.order.get_order(env, oid))
    assert flow.state("sale.order", oid) == "invoiced"
    flow.pay(master.c1, "465.00")
    assert flow.state("sale.order", oid) == "paid"


def test_numbers_are_gap_free_per_year_and_survive_rollbacks(sf, master, flow, acc, monkeypatch):
    drafts = [flow.invoice(flow.order(), post=False) for _ in range(4)]
    with sf.transaction("finance") as env:
        assert all(_invoice(env, i).number is None for i in drafts)  # numbers only at posting
        acc.invoice.post_invoice(env, _invoice(env, drafts[0]), date=dt.date(2025, 12, 30))
        acc.invoice.post_invoice(env, _invoice(env, drafts[1]), date=JAN5)
    # a posting rolled back with its transaction gives its number back
    with pytest.raises(RuntimeError), sf.transaction("finance") as env:
        acc.invoice.post_invoice(env, _invoice(env, drafts[2]), date=JAN5)
        assert _invoice(env, drafts[2]).number == "INV/2026/000002"
        raise RuntimeError("client went away")
    with sf.transaction("finance") as env:
        assert _invoice(env, drafts[2]).state == "draft" and _invoice(env, drafts[2]).number is None
        # a posting that fails half-way leaves nothing behind, even when the transaction goes on
        real = acc.journal.post_entries

        def broken(*args, **kwargs):
            raise ValidationError({"lines": ["ledger offline"]})

        monkeypatch.setattr(acc.journal, "post_entries", broken)
        with pytest.raises(ValidationError):
            acc.invoice.post_invoice(env, _invoice(env, drafts[2]), date=JAN5)
        monkeypatch.setattr(acc.journal, "post_entries", real)
        acc.invoice.post_invoice(env, _invoice(env, drafts[3]), date=JAN5)
        acc.invoice.post_invoice(env, _invoice(env, drafts[2]), date=dt.date(2026, 1, 6))
    with sf.transaction("finance") as env:
        numbers = [_invoice(env, i).number for i in drafts]
    assert numbers == ["INV/2025/000001", "INV/2026/000001", "INV/2026/000003", "INV/2026/000002"]


def test_credit_notes_reverse_invoices_or_become_customer_credit(sf, master, flow, acc):
    oid = flow.order(lines=[(0, "10", None)], ship={0: "4"})
    iid = flow.invoice(oid, date=JAN5)
    with sf.transaction("finance") as env:
        credit = acc.invoice.create_credit_note(env, iid, reason="wrong price agreed",
                                                date=dt.date(2026, 1, 20))
        invoice = _invoice(env, iid)
        assert credit.number == "RINV/2026/000001" and credit.kind == "credit_note"
        assert credit.reversed_invoice_id == iid and credit.reason == "wrong price agreed"
        assert (credit.amount_untaxed, credit.amount_tax, credit.amount_total) == (
            invoice.amount_untaxed, invoice.amount_tax, invoice.amount_total) == (
            D("400.00"), D("52.00"), D("452.00"))
        # the credit settles the open invoice; nothing is left as credit
        assert invoice.amount_residual == 0 and invoice.state == "paid"
        assert credit.amount_residual == 0 and credit.state == "paid"
        order = env.get("sale.order", oid)
        assert order.lines[0].qty_invoiced == 0 and order.invoice_status == "none"
        assert acc.receivables.balance(env, master.c1, dt.date(2026, 1, 31)) == 0
        assert acc.journal.trial_balance(env)["balanced"]
        with pytest.raises(TransitionBlocked) as refused:
            acc.invoice.create_credit_note(env, iid, reason="again")
        assert refused.value.reasons == ["everything on INV/2026/000001 is already credited"]
    again = flow.invoice(oid, date=JAN5)  # the shipped goods can be invoiced again
    with sf.transaction("finance") as env:
        assert _invoice(env, again).amount_total == D("452.00")

    # a partial credit of a paid invoice becomes customer credit, which pays the next invoice
    oid = flow.order(lines=[(0, "10", None), (1, "4", None)], ship={0: "5", 1: "4"})
    iid = flow.invoice(oid, date=JAN5)  # 500 + 102 = 602.00, VAT 78.26
    flow.pay(master.c1, "680.26", date=JAN5, allocations=[{"invoice_id": iid, "amount": "680.26"}])
    with sf.transaction("finance") as env:
        invoice = _invoice(env, iid)
        assert invoice.state == "paid"
        line = invoice.lines[0]
        credit = acc.invoice.create_credit_note(
            env, invoice, reason="2 damaged", lines=[{"invoice_line_id": line.id, "quantity": "2"}])
        assert [(ln.quantity, ln.amount_total) for ln in credit.lines] == [(D("2"), D("226.00"))]
        assert credit.amount_residual == D("226.00") and credit.state == "posted"
        assert acc.payment.customer_credit(env, master.c1) == D("226.00")
        assert env.get("sale.order", oid).lines[0].qty_invoiced == D("3")
        with pytest.raises(ValidationError) as bad:
            acc.invoice.create_credit_note(env, invoice, reason=" ", lines=[
                {"invoice_line_id": line.id, "quantity": "4"}, {"invoice_line_id": 999999}])
        assert set(bad.value.errors) == {"reason", "lines.0.quantity", "lines.1.invoice_line_id"}
        assert bad.value.errors["lines.0.quantity"] == ["only 3 left to credit"]
    # the credit pays the next invoice
    second = flow.invoice(oid, date=dt.date(2026, 2, 1))  # the 2 credited units, invoiced again
    with sf.transaction("finance") as env:
        nxt = _invoice(env, second)
        assert nxt.amount_total == D("226.00")
        made = acc.payment.apply_customer_credit(env, master.c1, second)
        assert [(a.credit_note_id, a.amount) for a in made] == [(credit.id, D("226.00"))]
        assert nxt.state == "paid" and _invoice(env, credit.id).state == "paid"
        assert acc.payment.customer_credit(env, master.c1) == 0


def test_fully_invoiced_order_takes_price_corrections_not_quantities(sf, master, flow, acc):
    oid = flow.order(lines=[(0, "2", None), (1, "2", None)])
    iid = flow.invoice(oid, date=JAN5)  # 200.00 + 51.00, VAT 26.00 + 6.63
    assert flow.state("sale.order", oid) == "invoiced"
    draft = flow.invoice(flow.order(), post=False)
    with sf.transaction("finance") as env:
        invoice = _invoice(env, iid)
        first, second = invoice.lines
        with pytest.raises(TransitionBlocked) as refused:
            acc.invoice.create_credit_note(env, iid, reason="customer kept the goods")
        assert "record the return of the goods first" in refused.value.reasons[0]
        with pytest.raises(TransitionBlocked):
            acc.invoice.create_credit_note(env, draft, reason="x")
        with pytest.raises(ValidationError) as bad:
            acc.invoice.create_credit_note(env, iid, reason="price", lines=[
                {"invoice_line_id": first.id, "amount": "200.01"},
                {"invoice_line_id": second.id, "amount": "1", "quantity": "1"}])
        assert bad.value.errors == {"lines.0.amount": ["only 200.00 left to credit"],
                                    "lines.1.amount": ["give a quantity or an amount, not both"]}
        credit = acc.invoice.create_credit_note(env, iid, reason="agreed 10 % off", lines=[
            {"invoice_line_id": first.id, "amount": "20.00"},
            {"invoice_line_id": second.id, "amount": "5.10"}])
        assert [(ln.price_adjustment, ln.amount_untaxed, ln.amount_tax) for ln in credit.lines] == [
            (True, D("20.00"), D("2.60")), (True, D("5.10"), D("0.66"))]
        assert credit.amount_total == D("28.36")
        assert _invoice(env, iid).amount_residual == D("255.27")  # 283.63 - 28.36
        order = env.get("sale.order", oid)
        assert order.state == "invoiced" and [ln.qty_invoiced for ln in order.lines] == [2, 2]
        # quantities stay creditable in full (for when goods come back)
        assert acc.invoice._credited_by_origin_line(env, iid)[first.id]["qty"] == 0


def _credited(env, iid):
    Invoice = env["sale.invoice"]
    notes = env.search("sale.invoice", Invoice.reversed_invoice_id == iid)
    return sum((n.amount_total for n in notes), D("0"))


def test_credit_notes_never_credit_more_than_a_lines_amounts(sf, master, flow, acc):
    # 20 ordered, 10 shipped and invoiced: the order stays approved, quantities may be credited
    oid = flow.order(lines=[(0, "20", None)], ship={0: "10"})
    iid = flow.invoice(oid, date=JAN5)  # 10 x 100 = 1000.00 + 130.00 = 1130.00
    with sf.transaction("finance") as env:
        line_id = _invoice(env, iid).lines[0].id
        acc.invoice.create_credit_note(env, iid, reason="price was too high",
                                       lines=[{"invoice_line_id": line_id, "amount": "900"}])
    with sf.transaction("finance") as env:
        # 5 units back at the full price (500 + 65) after 1017.00 was credited already
        with pytest.raises(ValidationError) as refused:
            acc.invoice.create_credit_note(env, iid, reason="5 units back",
                                           lines=[{"invoice_line_id": line_id, "quantity": "5"}])
        assert refused.value.errors == {"lines.0.quantity": [
            "Product 1: 500.00 + tax 65.00 to credit but only 100.00 + tax 13.00 invoiced and "
            "not credited yet"]}
        with pytest.raises(ValidationError) as refused:
            acc.invoice.create_credit_note(env, iid, reason="more rebate",
                                           lines=[{"invoice_line_id": line_id, "amount": "100.01"}])
        assert refused.value.errors == {"lines.0.amount": ["only 100.00 left to credit"]}
    with sf.transaction("finance") as env:  # nothing was written by the refusals
        assert _credited(env, iid) == D("1017.00")
        # all 10 units back: they take exactly what is left of the line
        note = acc.invoice.create_credit_note(env, iid, reason="all back")
        assert (note.amount_untaxed, note.amount_tax) == (D("100.00"), D("13.00"))
    with sf.transaction("finance") as env:
        assert _credited(env, iid) == D("1130.00")
        assert acc.journal.trial_balance(env)["balanced"]


def test_posting_rechecks_credit_note_amounts(sf, master, flow, acc):
    # what create_credit_note checks is checked again at posting (after the invoice's lock: a
    # concurrent credit note may have been posted meanwhile)
    iid = flow.invoice(flow.order(lines=[(0, "20", None)], ship={0: "10"}), date=JAN5)
    with sf.transaction("finance") as env:
        origin = _invoice(env, iid).lines[0]
        acc.invoice.create_credit_note(env, iid, reason="rebate",
                                       lines=[{"invoice_line_id": origin.id, "amount": "900"}])
        Invoice = env["sale.invoice"]
        draft = Invoice(kind="credit_note", customer_id=master.c1, reversed_invoice_id=iid,
                        currency="CNY", date=JAN5, amount_untaxed=D("500.00"),
                        amount_tax=D("65.00"), amount_total=D("565.00"), amount_residual=D("0"),
                        payment_status="none", reason="stale")
        acc.invoice.insert_with_lines(env, draft, [dict(
            origin_line_id=origin.id, description=origin.description, quantity=D("5"),
            unit_price=D("100"), discount=D("0"), amount_untaxed=D("500.00"),
            amount_tax=D("65.00"), amount_total=D("565.00"))])
        with pytest.raises(TransitionBlocked) as refused:
            acc.invoice.post_invoice(env, draft)
        assert refused.value.reasons == [
            "Product 1: 500.00 + tax 65.00 to credit but only 100.00 + tax 13.00 invoiced and "
            "not credited yet"]


def test_price_corrections_tax_never_exceeds_the_lines_tax(sf, master, flow, acc):
    iid = flow.invoice(flow.order(lines=[(0, "1", "1.00")]), date=JAN5)  # 1.00 + 0.13 = 1.13
    with sf.transaction("finance") as env:
        line_id = _invoice(env, iid).lines[0].id
        taxes = []
        for _ in range(2):  # the whole 1.00 in two corrections: 0.065 -> 0.07, then the rest
            note = acc.invoice.create_credit_note(env, iid, reason="rebate", lines=[
                {"invoice_line_id": line_id, "amount": "0.50"}])
            taxes.append(note.amount_tax)
        assert taxes == [D("0.07"), D("0.06")]
    with sf.transaction("finance") as env:
        assert _credited(env, iid) == D("1.13")
        assert acc.payment.customer_credit(env, master.c1) == 0


def test_price_correction_of_a_price_included_line_splits_like_the_line(sf, master, flow, acc):
    with sf.transaction() as env:
        tax_id = env.create("sale.tax", code="VAT20I", name="VAT 20% incl.", rate=D("0.20"),
                            price_include=True).id
    oid = flow.order(lines=[{"product_id": master.product_ids[0], "quantity": D("2"),
                             "unit_price": D("74.07"), "tax_id": tax_id}], ship={0: "1"})
    iid = flow.invoice(oid, date=JAN5)  # 74.07: tax round(74.07 x 0.2 / 1.2 = 12.345) = 12.35
    with sf.transaction("finance") as env:
        line = _invoice(env, iid).lines[0]
        assert (line.amount_untaxed, line.amount_tax) == (D("61.72"), D("12.35"))
        # the amount of a price-included line includes the tax, split by the line's formula
        note = acc.invoice.create_credit_note(env, iid, reason="rebate", lines=[
            {"invoice_line_id": line.id, "amount": "37.03"}])  # tax 6.171 -> 6.17
        assert (note.amount_untaxed, note.amount_tax, note.amount_total) == (
            D("30.86"), D("6.17"), D("37.03"))
        with pytest.raises(ValidationError) as refused:
            acc.invoice.create_credit_note(env, iid, reason="rebate", lines=[
                {"invoice_line_id": line.id, "amount": "37.05"}])
        assert refused.value.errors == {"lines.0.amount": ["only 37.04 left to credit"]}
        note = acc.invoice.create_credit_note(env, iid, reason="rebate", lines=[
            {"invoice_line_id": line.id, "amount": "37.04"}])  # the rest: exactly what is left
        assert (note.amount_untaxed, note.amount_tax) == (D("30.86"), D("6.18"))


def test_credit_note_dated_before_its_invoice_is_refused(sf, master, flow, acc):
    oid = flow.order(lines=[(0, "4", None)], ship={0: "2"})  # (half shipped: may be credited)
    iid = flow.invoice(oid, date=dt.date(2026, 3, 1))  # 226.00
    with sf.transaction("finance") as env:
        with pytest.raises(ValidationError) as refused:
            acc.invoice.create_credit_note(env, iid, reason="wrong", date=dt.date(2026, 2, 1))
        assert refused.value.errors == {"date": ["must not be before the invoice's date 2026-03-01"]}
    with sf.transaction("finance") as env:
        assert _credited(env, iid) == 0
        note = acc.invoice.create_credit_note(env, iid, reason="wrong", date=dt.date(2026, 3, 1))
        assert note.date == dt.date(2026, 3, 1)
    feb15 = dt.date(2026, 2, 15)
    with sf.transaction("finance") as env:  # statement and aging agree before the invoice
        (row,) = acc.receivables.aging(env, feb15, None) or [{"balance": D("0")}]
        assert acc.receivables.balance(env, master.c1, feb15) == row["balance"] == 0


def test_partial_invoice_rounds_to_the_currencys_declared_digits(sf, master, users, flow, acc):
    from sale.services import masterdata as md

    with sf.transaction("finance") as env:  # no minor unit, and not in core.money's table
        md.create_currency(env, code="IDR", name="Rupiah", digits=0)
        md.add_rate(env, "IDR", dt.date(2026, 1, 1), "0.00045")
    with sf.transaction() as env:
        idr = env.create("sale.customer", code="C200", name="Jakarta PT", name_key="jakarta pt",
                         region="South", tier="normal", salesperson_id=users.sp["sp1"],
                         payment_term_id=master.term_id, currency="IDR").id
    oid = flow.order(lines=[(0, "3", "10.5")], customer=idr, ship={0: "1"})
    with sf.transaction("finance") as env:
        order = env.get("sale.order", oid)
        assert (order.amount_untaxed, order.amount_tax) == (D("32"), D("4"))
        invoice = acc.invoice.create_invoice(env, oid)
        # 1 x 10.5: 11 + 1 = 12 IDR, not 10.50 + 1.37 (cents of a currency without any)
        assert (invoice.amount_untaxed, invoice.amount_tax, invoice.amount_total) == (
            D("11"), D("1"), D("12"))
        # (posting it is refused while the journal does not convert: test_payments.py)


def test_a_posted_invoices_lines_are_frozen_by_any_route(sf, master, flow):
    """The lines are parts of their invoice (``__posted_parent__``): a bulk ORM statement, a
    line added or removed are refused as a changed line is, even for the system."""
    from sqlalchemy import delete, update

    iid = flow.invoice(flow.order(lines=[(0, "3", None)]), date=JAN5)

    def stored(env):
        invoice = _invoice(env, iid)
        return invoice.amount_total, [(ln.quantity, ln.amount_total) for ln in invoice.lines]

    with sf.transaction() as env:
        before = stored(env)
        line = _invoice(env, iid).lines[0]
        line_id, product_id, sale_line_id = line.id, line.product_id, line.sale_line_id
    for verb, statement in (
            ("update", lambda Line: update(Line).where(Line.invoice_id == iid)
             .values(quantity=D("1"), amount_total=D("1"))),
            ("delete", lambda Line: delete(Line).where(Line.invoice_id == iid))):
        with pytest.raises(ImmutableRecord, match=f"bulk {verb} of sale.invoice.line is not allowed"):
            with sf.transaction("finance") as env:
                env.session.execute(statement(env["sale.invoice.line"]))
    with pytest.raises(ImmutableRecord) as err, sf.transaction() as env:
        env.create("sale.invoice.line", invoice_id=iid, product_id=product_id, description="extra",
                   quantity=D("1"), unit_price=D("1"), amount_untaxed=D("1"), amount_total=D("1"))
    assert str(err.value) == f"sale.invoice {iid} is posted: no sale.invoice.line can be added to it"
    with pytest.raises(ImmutableRecord) as err, sf.transaction() as env:
        env.write(env.get("sale.invoice.line", line_id), sale_line_id=None, description="moved")
    assert str(err.value) == (f"sale.invoice.line {line_id} is part of sale.invoice {iid}, which "
                              "is posted; description, sale_line_id cannot change")
    with pytest.raises(ImmutableRecord, match=f"cannot be deleted: sale.invoice {iid} is posted"):
        with sf.transaction() as env:
            env.delete(env.get("sale.invoice.line", line_id))
    with sf.transaction() as env:
        assert stored(env) == before
        assert env.get("sale.invoice.line", line_id).sale_line_id == sale_line_id
