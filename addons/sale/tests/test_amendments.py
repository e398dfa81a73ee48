"""Amendments: an approved order changes only through ``amend_order``, which keeps the previous
revision with a readable diff and sends the order back through approval and every guard."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest

from core.errors import ImmutableRecord, TransitionBlocked, ValidationError
from core.testing import CLIENT_TODAY

pytestmark = pytest.mark.usefixtures("fast_passwords")


def _revisions(env, order_id):
    Revision = env["sale.order.revision"]
    return env.search("sale.order.revision", Revision.order_id == order_id, order_by=Revision.revision)


def test_amendment_keeps_the_previous_revision_with_a_diff(sf, users, master, svc, make_order):
    oid = make_order(lines=[(0, "2", None), (1, "4", None)])
    with sf.transaction("sp1") as env:
        order = svc.order.get_order(env, oid)
        order.fire("approve")
        first, second = order.lines
        svc.order.amend_order(env, order, reason="customer wants more", changes={"lines": [
            {"id": first.id, "quantity": "5"},
            {"product_id": master.product_ids[2], "quantity": "1", "unit_price": "1999.99"},
        ]})
        assert (order.state, order.revision) == ("draft", 1)
        assert order.amount_untaxed == D("2499.99")
    with sf.transaction("sp1") as env:
        (rev,) = _revisions(env, oid)
        assert (rev.revision, rev.reason, rev.user_id) == (0, "customer wants more", users.sp1)
        assert rev.snapshot["revision"] == 0
        assert [(ln["description"], ln["quantity"]) for ln in rev.snapshot["lines"]] == [
            ("Product 1", "2"), ("Product 2", "4")]
        assert rev.snapshot["amount_total"] == "341.26"
        assert [d["text"] for d in rev.diff] == [
            "line 10 'Product 1': quantity 2 → 5",
            "added line 20 'Product 3': 1 × 1999.99",
            "removed line 20 'Product 2': 4 × 25.5",
            "untaxed amount: 302.00 → 2499.99",
            "tax: 39.26 → 325.00",
            "total: 341.26 → 2824.99",
        ]
        assert rev.diff[0] == {"kind": "line", "line_id": first.id, "sequence": 10,
                               "description": "Product 1", "field": "quantity", "old": "2",
                               "new": "5", "text": "line 10 'Product 1': quantity 2 → 5"}
        Log = env["workflow.log"]
        log = env.search("workflow.log", Log.record == "sale.order", Log.record_id == oid)
        assert [(r.trigger, r.comment) for r in log] == [("approve", None),
                                                         ("amend", "customer wants more")]
        # a second amendment keeps the first one's content too
        order = svc.order.get_order(env, oid)
        order.fire("approve")
        svc.order.amend_order(env, order, reason="new term", changes={"note": "second"})
        assert [r.revision for r in _revisions(env, oid)] == [0, 1]
        assert [d["text"] for d in _revisions(env, oid)[1].diff] == ["note: (none) → second"]


def test_amended_orders_go_through_every_guard_and_approval_again(sf, svc, make_order, order_of_total):
    oid = make_order()
    with sf.transaction("sp1") as env:
        order = svc.order.get_order(env, oid)
        with pytest.raises(TransitionBlocked, match="'amend' is not possible in state 'draft'"):
            svc.order.amend_order(env, order, reason="x", changes={})
        order.fire("approve")
        with pytest.raises(TransitionBlocked, match="needs a comment"):
            svc.order.amend_order(env, order, reason="", changes={"note": "x"})
        with pytest.raises(ValidationError) as exc:
            svc.order.amend_order(env, order, reason="x", changes={"number": "SO/1"})
        assert "number" in exc.value.errors
        assert (order.state, order.revision) == ("approved", 0)
    past = CLIENT_TODAY - dt.timedelta(days=1)
    with sf.transaction("sp1") as env:
        order = svc.order.get_order(env, oid)
        svc.order.amend_order(env, order, reason="backdated",
                              changes={"date_order": past - dt.timedelta(days=5), "validity_date": past})
        with pytest.raises(TransitionBlocked, match="expired"):
            order.fire("approve")
    with sf.transaction("finance") as env:  # sellers only
        order = svc.order.get_order(env, oid)
        with pytest.raises(TransitionBlocked, match="needs one of the roles"):
            order.fire("approve")
    oid = make_order(lines=order_of_total("150000"))
    with sf.transaction("manager") as env:
        assert svc.order.get_order(env, oid).fire("approve").done
    with sf.transaction("sp1") as env:
        order = svc.order.get_order(env, oid)
        # even a change outside the fingerprinted fields voids the approval (new revision)
        svc.order.amend_order(env, order, reason="typo in the note", changes={"note": "fixed"})
        with pytest.raises(TransitionBlocked, match="needs approval by sales_manager"):
            order.fire("approve")
    with sf.transaction("manager") as env:
        order = svc.order.get_order(env, oid)
        outcome = order.fire("approve")
        assert (outcome.done, order.state, order.revision) == (True, "approved", 1)


def _approved_and_partly_shipped(sf, svc, make_order):
    """An approved order of 10 and 4, with 6 and 4 shipped: ``(order id, line 1, line 2)``."""
    oid = make_order(lines=[(0, "10", None), (1, "4", None)])
    with sf.transaction("sp1") as env:
        svc.order.get_order(env, oid).fire("approve")
    with sf.transaction("warehouse") as env:
        order = svc.order.get_order(env, oid)
        first, second = order.lines
        svc.shipment.record_shipment(env, order, {first.id: D("6"), second.id: D("4")})
    return oid, first, second


def test_amending_a_partly_shipped_order_keeps_its_ledger(sf, master, svc, make_order):
    oid, first, second = _approved_and_partly_shipped(sf, svc, make_order)
    with sf.transaction("sp1") as env:
        order = svc.order.get_order(env, oid)
        with pytest.raises(ValidationError) as exc:
            svc.order.amend_order(env, order, reason="less", changes={"lines": [
                {"id": first.id, "quantity": "5"}]})
        assert exc.value.errors == {
            "lines.0.quantity": ["6 are already shipped or invoiced"],
            "lines": ["line 20 'Product 2' was shipped or invoiced and cannot be removed"]}
        with pytest.raises(TransitionBlocked, match="already shipped"):
            svc.order.cancel_order(env, order, "too late")
    with sf.transaction("sp1") as env:
        order = svc.order.get_order(env, oid)
        svc.order.amend_order(env, order, reason="one more", changes={"lines": [
            {"id": first.id, "quantity": "8"}, {"id": second.id},
            {"product_id": master.product_ids[2], "quantity": "1"}]})
        assert [ln.qty_shipped for ln in order.lines] == [D("6"), D("4"), D("0")]
        assert order.shipping_status == "partial"
        order.fire("approve")
    with sf.transaction("warehouse") as env:
        order = svc.order.get_order(env, oid)
        svc.shipment.record_shipment(env, order)
        assert (order.state, order.shipping_status) == ("shipped", "full")
        assert [ln.qty_shipped for ln in order.lines] == [D("8"), D("4"), D("1")]


JAN5 = dt.date(2026, 1, 5)


def _amend_after_half_invoiced(sf, svc, flow, price):
    oid = flow.order(lines=[(0, "10", None)], ship={0: "5"})  # 10 x 100.00
    flow.invoice(oid, date=JAN5)  # 5 x 100.00 = 500.00 + 65.00
    with sf.transaction("sp1") as env:
        order = svc.order.get_order(env, oid)
        svc.order.amend_order(env, order, reason="new price for the rest", changes={
            "lines": [{"id": order.lines[0].id, "quantity": "10", "unit_price": price}]})
        order.fire("approve")
    with sf.transaction("warehouse") as env:
        svc.shipment.record_shipment(env, svc.order.get_order(env, oid), None)
    return oid


@pytest.mark.parametrize(("price", "untaxed", "tax"), [
    ("150", D("750.00"), D("97.50")),  # not the line's 1500.00 less the 500.00 invoiced
    ("40", D("200.00"), D("26.00")),   # not 400.00 - 500.00 = -100.00 (never invoiceable)
])
def test_last_invoice_after_a_price_amendment_is_quantity_times_price(
        sf, master, svc, flow, acc, price, untaxed, tax):
    oid = _amend_after_half_invoiced(sf, svc, flow, price)
    with sf.transaction("finance") as env:
        invoice = acc.invoice.create_invoice(env, oid)
        (line,) = invoice.lines
        assert (line.quantity, line.unit_price) == (D("5"), D(price))
        assert (line.amount_untaxed, line.amount_tax) == (untaxed, tax)
        acc.invoice.post_invoice(env, invoice, date=JAN5)
        assert env.get("sale.order", oid).state == "invoiced"


def test_last_invoice_of_an_unchanged_line_takes_what_is_left(sf, master, svc, flow, acc):
    # 3 x 0.35 = 1.05 + 0.14 (0.1365); 1 x 0.35 = 0.35 + 0.05 (0.0455) per part
    oid = flow.order(lines=[(0, "3", "0.35")], ship={0: "1"})
    flow.invoice(oid, date=JAN5)
    with sf.transaction("warehouse") as env:
        svc.shipment.record_shipment(env, svc.order.get_order(env, oid), None)
    with sf.transaction("finance") as env:
        invoice = acc.invoice.create_invoice(env, oid)
        # the rest of the line's amounts, so the invoices add up to the order: 0.70 + 0.09
        assert (invoice.amount_untaxed, invoice.amount_tax) == (D("0.70"), D("0.09"))
        order = env.get("sale.order", oid)
        assert (order.amount_untaxed, order.amount_tax) == (D("1.05"), D("0.14"))


def test_amending_down_to_what_was_shipped_moves_the_order_on(sf, users, svc, make_order):
    oid, first, second = _approved_and_partly_shipped(sf, svc, make_order)
    with sf.transaction("sp1") as env:  # the customer does not want the rest
        order = svc.order.get_order(env, oid)
        svc.order.amend_order(env, order, reason="no more", changes={"lines": [
            {"id": first.id, "quantity": "6"}, {"id": second.id}]})
        assert (order.state, order.shipping_status) == ("draft", "full")
        order.fire("approve")
        # was: approved and fully shipped, with no shipment left to fire `ship`
        assert (order.state, order.shipping_status) == ("shipped", "full")
    with sf.transaction("sp1") as env:
        order = svc.order.get_order(env, oid)
        assert order.state == "shipped"
        Log = env["workflow.log"]
        log = env.search("workflow.log", Log.record == "sale.order", Log.record_id == oid,
                         order_by=Log.id)
        assert [(r.trigger, r.user_id) for r in log][-2:] == [("approve", users.sp1), ("ship", None)]


def test_a_refused_amendment_changes_nothing(sf, svc, make_order):
    oid = make_order()
    with sf.transaction("sp1") as env:
        svc.order.get_order(env, oid).fire("approve")
    with sf.transaction("sp1") as env:  # the caller catches the refusal and commits
        order = svc.order.get_order(env, oid)
        with pytest.raises(ValidationError) as exc:
            svc.order.amend_order(env, order, reason="x", changes={
                "validity_date": order.date_order - dt.timedelta(days=1)})
        assert exc.value.errors == {"validity_date": ["must not be before the order date"]}
        # was: back to draft as revision 1, with no revision kept
        assert (order.state, order.revision) == ("approved", 0)
    with sf.transaction("sp1") as env:
        order = svc.order.get_order(env, oid)
        assert (order.state, order.revision, _revisions(env, oid)) == ("approved", 0, [])


# -- the kept revision's diff follows the amended draft until it is approved again --------------


def _texts(env, oid) -> list[list[str]]:
    return [[d["text"] for d in rev.diff] for rev in _revisions(env, oid)]


def test_edits_of_an_amended_draft_keep_the_revision_diff_current(sf, master, svc, make_order):
    oid = make_order(lines=[(0, "2", None), (1, "4", None)])
    with sf.transaction("sp1") as env:
        svc.order.get_order(env, oid).fire("approve")
    with sf.transaction("sp1") as env:  # the `amend` trigger as the UI fires it: no changes yet
        order = svc.order.get_order(env, oid)
        svc.order.fire_order_trigger(env, order, "amend", "customer call")
        assert _texts(env, oid) == [[]]
    with sf.transaction("sp1") as env:  # several edits: the diff is always against revision 0
        order = svc.order.get_order(env, oid)
        first, second = order.lines
        svc.order.update_order(env, order, lines=[{"id": first.id, "quantity": "5"},
                                                  {"id": second.id}])
        assert _texts(env, oid) == [["line 10 'Product 1': quantity 2 → 5",
                                     "untaxed amount: 302.00 → 602.00", "tax: 39.26 → 78.26",
                                     "total: 341.26 → 680.26"]]
        svc.order.update_order(env, order, note="call back", lines=[
            {"id": first.id, "quantity": "2"}, {"id": second.id, "discount": "10"}])
        assert _texts(env, oid) == [["note: (none) → call back",
                                     "line 20 'Product 2': discount % 0 → 10",
                                     "untaxed amount: 302.00 → 291.80", "tax: 39.26 → 37.93",
                                     "total: 341.26 → 329.73"]]
    with sf.transaction("sp1") as env:  # back to what was approved: nothing changed
        order = svc.order.get_order(env, oid)
        first, second = order.lines
        svc.order.update_order(env, order, note=None, lines=[{"id": first.id},
                                                             {"id": second.id, "discount": "0"}])
        assert _texts(env, oid) == [[]]
        svc.order.update_order(env, order, note="final")
        assert order.fire("approve").done
    with sf.transaction("sp1") as env:  # approved again: the diff is what that approval approved
        order = svc.order.get_order(env, oid)
        assert (order.state, order.revision) == ("approved", 1)
        (rev,) = _revisions(env, oid)
        assert [d["text"] for d in rev.diff] == ["note: (none) → final"]
        assert svc.order.diff_snapshots(rev.snapshot, order.snapshot()) == rev.diff
        # the next amendment keeps revision 1 and leaves revision 0's diff alone
        svc.order.amend_order(env, order, reason="more", changes={})
        svc.order.update_order(env, order, note="again")
        assert _texts(env, oid)[1:] == [["note: final → again"]]
        assert _texts(env, oid)[0][0] == "note: (none) → final"


def test_a_kept_revision_is_frozen_once_its_amendment_ends(sf, svc, make_order):
    oid = make_order()
    with sf.transaction("sp1") as env:
        order = svc.order.get_order(env, oid)
        order.fire("approve")
        svc.order.amend_order(env, order, reason="price", changes={"note": "draft note"})
    with sf.transaction("sp1") as env:  # a refused edit changes neither the order nor the diff
        order = svc.order.get_order(env, oid)
        with pytest.raises(ValidationError):
            svc.order.update_order(env, order, note="other", lines=[{"product_id": None}])
        assert _texts(env, oid) == [["note: (none) → draft note"]]
        assert order.note == "draft note"
    with sf.transaction("sp1") as env:  # cancelling the amended draft ends the amendment
        svc.order.cancel_order(env, svc.order.get_order(env, oid), "customer withdrew")
    with pytest.raises(ValidationError, match="frozen"), sf.transaction("admin") as env:
        _revisions(env, oid)[0].diff = []
    with pytest.raises(ImmutableRecord), sf.transaction("admin") as env:
        (rev,) = _revisions(env, oid)
        rev.snapshot = {**rev.snapshot, "note": "rewritten"}
    with pytest.raises(ImmutableRecord), sf.transaction("admin") as env:
        env.session.delete(_revisions(env, oid)[0])
    with sf.transaction("sp1") as env:
        assert _texts(env, oid) == [["note: (none) → draft note"]]
        assert env.get("sale.order", oid).state == "cancelled"


def test_api_amend_trigger_then_patch_keeps_a_diff(sf, users, master, api, make_order):
    oid = make_order()
    h = api.h("sp1")
    assert api.client.post(f"/api/v1/orders/{oid}/triggers/approve", json={},
                           headers=h).status_code == 200
    resp = api.client.post(f"/api/v1/orders/{oid}/triggers/amend", json={"comment": "price change"},
                           headers=h)
    assert resp.status_code == 200 and resp.get_json()["order"]["state"] == "draft"
    got = api.client.get(f"/api/v1/orders/{oid}", headers=h)
    line = got.get_json()["lines"][0]
    resp = api.client.patch(f"/api/v1/orders/{oid}", headers={**h, "If-Match": got.headers["ETag"]},
                            json={"lines": [{"id": line["id"], "unit_price": "90"}]})
    assert resp.status_code == 200, resp.get_json()
    revisions = api.client.get(f"/api/v1/orders/{oid}/revisions", headers=h).get_json()
    assert [(r["revision"], r["reason"], [d["text"] for d in r["diff"]]) for r in revisions] == [
        (0, "price change", ["line 10 'Product 1': unit price 100 → 90",
                             "untaxed amount: 200.00 → 180.00", "tax: 26.00 → 23.40",
                             "total: 226.00 → 203.40"])]
    # refused edits (a stale ETag, a bad value) leave the diff as it was
    stale = api.client.patch(f"/api/v1/orders/{oid}", headers={**h, "If-Match": got.headers["ETag"]},
                             json={"note": "x"})
    bad = api.client.patch(f"/api/v1/orders/{oid}", json={"lines": [{"id": line["id"], "quantity": "-1"}]},
                           headers={**h, "If-Match": api.client.get(f"/api/v1/orders/{oid}",
                                                                      headers=h).headers["ETag"]})
    assert (stale.status_code, bad.status_code) == (412, 422)
    again = api.client.get(f"/api/v1/orders/{oid}/revisions", headers=h).get_json()
    assert again == revisions
    resp = api.client.post(f"/api/v1/orders/{oid}/triggers/approve", json={}, headers=h)
    assert resp.status_code == 200 and resp.get_json()["order"]["revision"] == 1
    assert api.client.get(f"/api/v1/orders/{oid}/revisions", headers=h).get_json() == revisions


def test_web_amend_then_edit_keeps_a_diff_shown_on_the_order_page(sf, users, master, make_order, web):
    import html

    from sqlalchemy import select

    from core.web.testing import post_form

    oid = make_order()
    with sf.transaction("sp1") as env:
        env.get("sale.order", oid).fire("approve")
    sp1 = web("sp1")
    assert "sale_revisions" not in sp1.get(f"/r/sale.order/{oid}").get_data(as_text=True)
    resp = post_form(sp1, f"/r/sale.order/{oid}/fire/amend", {"comment": "more units"},
                     form_page=f"/r/sale.order/{oid}")
    assert resp.status_code == 302
    with sf.transaction() as env:
        order = env.get("sale.order", oid)
        lid, validity = order.lines[0].id, order.validity_date
    for quantity in ("40", "30"):  # two edits in the browser
        resp = post_form(sp1, f"/r/sale.order/{oid}/edit", {
            "customer_id": str(master.c1), "validity_date": validity.isoformat(),
            "lines-0-line_id": str(lid), "lines-0-product_id": str(master.product_ids[0]),
            "lines-0-quantity": quantity}, form_page=f"/r/sale.order/{oid}/edit")
        assert resp.status_code == 302, resp.get_data(as_text=True)
    expected = ["line 10 'Product 1': quantity 2 → 30", "untaxed amount: 200.00 → 3000.00",
                "tax: 26.00 → 390.00", "total: 226.00 → 3390.00"]
    with sf.transaction("sp1") as env:
        assert _texts(env, oid) == [expected]
    page = html.unescape(sp1.get(f"/r/sale.order/{oid}").get_data(as_text=True))
    panel = page.split('id="panel-sale_revisions"', 1)[1].split("</section>", 1)[0]
    assert "Revisions" in panel and "Revision 0" in panel
    assert "· Sp1 — “more units”" in panel  # who (the user's name) and why
    assert "line 10 'Product 1': Quantity 2 → 30" in panel
    assert "Total: 226.00 → 3390.00" in panel
    with sf.transaction() as env:
        User = env["res.user"]
        env.session.scalars(select(User).where(User.login == "sp1")).one().lang = "zh_CN"
    page = html.unescape(sp1.get(f"/r/sale.order/{oid}").get_data(as_text=True))
    panel = page.split('id="panel-sale_revisions"', 1)[1].split("</section>", 1)[0]
    assert "修订记录" in panel and "版本 0" in panel
    assert "第 10 行 'Product 1'：数量 2 → 30" in panel
    assert "合计：226.00 → 3390.00" in panel


def test_an_approved_orders_lines_change_only_through_an_amendment(sf, master, svc, make_order):
    """A salesperson may write order lines, but not those of an order past draft: no line is
    changed in what was approved, added, removed or deleted, by the session or a bulk statement
    (the lines are parts of their order, ``__posted_parent__``); the ledger stays open."""
    from sqlalchemy import update

    from core.errors import ImmutableRecord

    oid = make_order(lines=[(0, "2", None), (1, "4", None)])
    with sf.transaction("sp1") as env:
        svc.order.get_order(env, oid).fire("approve")

    def stored():
        with sf.transaction("sp1") as env:
            order = svc.order.get_order(env, oid)
            return (order.state, order.revision, order.amount_total,
                    [(ln.product_id, ln.quantity, ln.unit_price, ln.description) for ln in order.lines])

    before = stored()
    with sf.transaction("sp1") as env:
        first, second = svc.order.get_order(env, oid).lines
        first_id, second_id = first.id, second.id
    reason = "approved (its lines change in draft only: amend it)"
    with pytest.raises(ImmutableRecord) as err, sf.transaction("sp1") as env:
        env.write(env.get("sale.line", first_id), unit_price=D("1"), quantity=D("1000"))
    assert str(err.value) == (f"sale.line {first_id} is part of sale.order {oid}, which is "
                              f"{reason}; quantity, unit_price cannot change")
    with pytest.raises(ImmutableRecord) as err, sf.transaction("sp1") as env:
        env.create("sale.line", order_id=oid, product_id=master.product_ids[2], description="more",
                   quantity=D("1"), unit_price=D("1"))
    assert str(err.value) == f"sale.order {oid} is {reason}: no sale.line can be added to it"
    with pytest.raises(ImmutableRecord) as err, sf.transaction("sp1") as env:
        env.delete(env.get("sale.line", second_id))
    assert str(err.value) == f"sale.line {second_id} cannot be deleted: sale.order {oid} is {reason}"
    with pytest.raises(ImmutableRecord, match=f"sale.line {second_id} is part of .* order_id cannot"):
        with sf.transaction("sp1") as env:
            order = svc.order.get_order(env, oid)
            order.lines = order.lines[:1]
            env.session.flush()
    with pytest.raises(ImmutableRecord, match="bulk update of sale.line is not allowed"):
        with sf.transaction("sp1") as env:
            Line = env["sale.line"]
            env.session.execute(update(Line).where(Line.order_id == oid).values(quantity=D("1")))
    assert stored() == before
    with sf.transaction("sp1") as env:  # the amendment is the way (and the order is draft again)
        order = svc.order.get_order(env, oid)
        svc.order.amend_order(env, order, reason="price", changes={"lines": [
            {"id": first_id, "unit_price": "1"}, {"id": second_id}]})
        assert (order.state, order.revision, order.lines[0].unit_price) == ("draft", 1, D("1"))
