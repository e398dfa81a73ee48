"""Exposure is kept up to date as documents change, and always equals a rebuild from the
documents: through approvals, partial shipments, returns, invoices, credit notes, payments,
customer credit, amendments, cancellations and customer merges. Its components are a choice
of the config. ``salesflow credit rebuild-exposure`` recomputes it from scratch."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest

pytestmark = pytest.mark.usefixtures("fast_passwords")

ZERO = D("0")
JAN5 = dt.date(2026, 1, 5)


@pytest.fixture
def credit_settings(credit_settings):
    """The documents here are dated early 2026: overdue invoices do not stop anything."""
    return {**credit_settings, "overdue_days": -1}


@pytest.fixture
def consistent(sf, svc):
    """Assert the maintained exposure equals a rebuild from the documents."""

    def check():
        with sf.transaction() as env:
            assert svc.credit.check_consistency(env) == []

    return check


def test_incremental_equals_rebuilt_through_a_whole_life(sf, master, users, svc, acc, flow,
                                                        make_order, exposure, consistent):
    parts = lambda c: tuple(exposure(c)[p] for p in (  # noqa: E731
        "receivable", "shipped_uninvoiced", "approved_unshipped"))
    # A: 10 x P1 (1,130.00) approved, 4 shipped, invoiced, the rest shipped, invoiced, paid
    a = flow.order(lines=[(0, "10", None)], ship={0: "4"})
    assert parts(master.c1) == (ZERO, D("452.00"), D("678.00"))
    inv_a1 = flow.invoice(a, date=JAN5)
    assert parts(master.c1) == (D("452.00"), ZERO, D("678.00"))
    assert exposure(master.c1)["oldest_due_date"] == dt.date(2026, 2, 4)
    with sf.transaction("warehouse") as env:
        svc.shipment.record_shipment(env, svc.order.get_order(env, a))
    inv_a2 = flow.invoice(a, date=dt.date(2026, 1, 10))
    assert parts(master.c1) == (D("1130.00"), ZERO, ZERO)
    flow.pay(master.c1, "500.00", allocations=[{"invoice_id": inv_a1, "amount": "300.00"},
                                               {"invoice_id": inv_a2, "amount": "200.00"}])
    assert parts(master.c1) == (D("630.00"), ZERO, ZERO)
    consistent()

    # B: two lines, amended (back to draft: it no longer counts), approved again, partly
    # shipped, a return, invoiced, price corrected by a credit note
    b = make_order(lines=[(0, "5", None), (1, "4", None)])       # 565.00 + 115.26
    with sf.transaction("sp1") as env:
        svc.order.get_order(env, b).fire("approve")
    assert parts(master.c1) == (D("630.00"), ZERO, D("680.26"))
    with sf.transaction("sp1") as env:
        order = svc.order.get_order(env, b)
        svc.order.amend_order(env, order, reason="more", changes={"lines": [
            {"id": order.lines[0].id, "quantity": "6"}, {"id": order.lines[1].id}]})
    assert parts(master.c1) == (D("630.00"), ZERO, ZERO)
    consistent()
    with sf.transaction("sp1") as env:
        svc.order.get_order(env, b).fire("approve")
    assert parts(master.c1) == (D("630.00"), ZERO, D("793.26"))    # 678.00 + 115.26
    with sf.transaction("warehouse") as env:
        order = svc.order.get_order(env, b)
        first, second = order.lines
        svc.shipment.record_shipment(env, order, {first.id: D("6"), second.id: D("1")})
        svc.shipment.record_return(env, order, {first.id: D("2")})
    # shipped and kept: 4 x 113 + 1 x 28.815 -> 452.00 + 28.82; unshipped: 3 x 28.815 = 86.44
    assert parts(master.c1) == (D("630.00"), D("480.82"), D("86.44"))
    consistent()
    inv_b = flow.invoice(b, date=dt.date(2026, 1, 20))
    assert parts(master.c1)[1] == ZERO
    with sf.transaction("finance") as env:
        invoice = env.get("sale.invoice", inv_b)
        b_total = invoice.amount_total
        line = invoice.lines[0]
        acc.invoice.create_credit_note(env, inv_b, reason="price", lines=[
            {"invoice_line_id": line.id, "amount": "100.00"}])      # 113.00 off, open first
    # (3 of 4 x 28.815 = 86.445: each part is rounded on its own)
    assert parts(master.c1) == (D("630.00") + b_total - D("113.00"), ZERO, D("86.45"))
    consistent()

    # C: approved then cancelled; D: a credit note of quantities after a return
    c = flow.order(lines=[(2, "1", None)], ship=None)
    with sf.transaction("sp1") as env:
        svc.order.cancel_order(env, svc.order.get_order(env, c), "customer changed mind")
    d = flow.order(lines=[(0, "10", None)], ship={0: "5"})
    inv_d = flow.invoice(d, date=dt.date(2026, 2, 1))
    with sf.transaction("warehouse") as env:
        order = svc.order.get_order(env, d)
        svc.shipment.record_return(env, order, {order.lines[0].id: D("2")})
    with sf.transaction("finance") as env:
        acc.invoice.create_credit_note(env, inv_d, reason="returned", lines=[
            {"invoice_line_id": env.get("sale.invoice", inv_d).lines[0].id, "quantity": "2"}])
    consistent()

    # a payment larger than what is open: the rest is customer credit, applied later
    owed = exposure(master.c1)["receivable"]
    flow.pay(master.c1, str(owed - D("339.00")))                       # oldest first
    assert exposure(master.c1)["receivable"] == D("339.00")
    flow.pay(master.c1, "1000.00", allocations=[])                    # all customer credit
    assert exposure(master.c1)["receivable"] == D("339.00")           # credit is not deducted
    with sf.transaction("finance") as env:
        open_ids = [i for i in (inv_a1, inv_a2, inv_b, inv_d)
                    if env.get("sale.invoice", i).amount_residual > 0]
        for iid in open_ids:
            acc.payment.apply_customer_credit(env, master.c1, iid)
    assert exposure(master.c1)["receivable"] == ZERO
    assert exposure(master.c1)["oldest_due_date"] is None
    consistent()

    # the other customer is untouched by all of this; its own order counts for it alone
    assert parts(master.c2) == (ZERO, ZERO, ZERO)
    flow.order(customer=master.c2, lines=[(0, "1", None)], ship=None)
    assert parts(master.c2) == (ZERO, ZERO, D("113.00"))
    consistent()

    # rebuilding from scratch changes nothing, and repairs what was lost
    with sf.transaction() as env:
        E = env["sale.credit.exposure"].__table__
        env.session.connection().execute(E.update().values(approved_unshipped=D("999")))
    with sf.transaction() as env:
        assert len(svc.credit.check_consistency(env)) >= 2
        svc.credit.rebuild(env)
    consistent()
    assert parts(master.c2) == (ZERO, ZERO, D("113.00"))


@pytest.mark.parametrize("credit_settings", [{"components": ["receivable"], "grades": {
    "A": {"limit": "500000"}, "B": {"limit": "1000"}, "C": {"limit": "10000"}}}])
def test_components_are_a_config_choice(sf, master, flow, make_order, exposure, decisions):
    # only receivables count: approved orders do not use up c1's 1,000.00
    first = flow.order(lines=[(0, "8", None)], ship=None)            # 904.00
    second = flow.order(lines=[(0, "8", None)], ship=None)
    assert [flow.state("sale.order", o) for o in (first, second)] == ["approved", "approved"]
    assert exposure(master.c1)["approved_unshipped"] == D("1808.00")  # shown, not counted
    assert decisions(order_id=second)[0]["exposure"] == ZERO


def test_customer_merge_moves_exposure(sf, master, users, flow, exposure, consistent):
    flow.order(lines=[(0, "1", None)], ship=None)                          # c1: 113.00
    flow.order(customer=master.c2, lines=[(0, "2", None)], ship=None)      # c2: 226.00
    mdsvc = __import__("importlib").import_module("sale.services.partner")
    with sf.transaction("manager") as env:
        mdsvc.merge_customers(env, env.get("sale.customer", master.c1),
                              env.get("sale.customer", master.c2))
    assert exposure(master.c2)["approved_unshipped"] == D("339.00")
    assert exposure(master.c1)["approved_unshipped"] == ZERO
    consistent()


def test_rebuild_command(sf, master, flow, db_url, tmp_path, consistent):
    from click.testing import CliRunner

    from core.cli import Context

    flow.order(lines=[(0, "3", None)], ship={0: "1"})
    config = tmp_path / "client.toml"
    config.write_text(
        '[client]\nname = "t"\naddons = ["sale", "sale_credit"]\n'
        f'database_url = "{db_url}"\n\n[addon.sale_credit]\npolicy = "review"\n'
        '[addon.sale_credit.grades.A]\nlimit = "500000"\n[addon.sale_credit.grades.B]\n'
        'limit = "100000"\n[addon.sale_credit.grades.C]\nlimit = "10000"\n', encoding="utf-8")
    cli = __import__("importlib").import_module("sale_credit.cli")
    run = lambda *args: CliRunner().invoke(cli.group, list(args), obj=Context(str(config)),  # noqa: E731
                                           catch_exceptions=False)
    result = run("rebuild-exposure", "--check")
    assert (result.exit_code, result.output) == (0, "differences=0\n")
    with sf.transaction() as env:
        T = env["sale.credit.exposure_item"].__table__
        env.session.connection().execute(T.delete())
    result = run("rebuild-exposure", "--check")
    assert result.exit_code == 1 and result.output.endswith("differences=1\n")
    result = run("rebuild-exposure")
    assert result.exit_code == 0
    assert result.output.splitlines()[-1] == "rebuilt customers=1 items=1 differences_fixed=1"
    consistent()


def test_a_merge_does_not_lift_a_credit_hold(sf, master, users, flow):
    """A customer on credit hold merged into one that is not: refused (its orders, invoices and
    contacts would carry on under a customer every credit check passes); once the credit manager
    holds the target too, or into a customer on hold, the merge goes through."""
    from core.errors import ValidationError

    profile = __import__("importlib").import_module("sale_credit.services.profile")
    partner = __import__("importlib").import_module("sale.services.partner")
    flow.order(lines=[(0, "1", None)], ship=None)
    with sf.transaction("cm") as env:
        profile.set_hold(env, master.c1, "cheque bounced")

    with pytest.raises(ValidationError, match="credit hold") as refused:
        with sf.transaction("manager") as env:
            partner.merge_customers(env, env.get("sale.customer", master.c1),
                                    env.get("sale.customer", master.c2))
    assert "merged_into_id" in refused.value.errors
    with sf.transaction() as env:
        c1, c2 = env.get("sale.customer", master.c1), env.get("sale.customer", master.c2)
        assert (c1.merged_into_id, c1.active, c2.credit_hold) == (None, True, False)

    with sf.transaction("cm") as env:
        profile.set_hold(env, master.c2, "merging with C001")
    with sf.transaction("manager") as env:
        partner.merge_customers(env, env.get("sale.customer", master.c1),
                                env.get("sale.customer", master.c2))
    with sf.transaction() as env:
        assert env.get("sale.customer", master.c1).merged_into_id == master.c2


def test_an_amended_partly_shipped_order_keeps_its_delivered_goods_in_exposure(
        sf, master, users, svc, flow, exposure, decisions, consistent):
    """Amending an approved, partly shipped order takes it back to draft; the goods the customer
    already has are still owed for (until invoiced), so they stay in its exposure, and the
    re-approval counts the order's total once."""
    oid = flow.order(lines=[(0, "10", None)], ship={0: "4"})              # 1,130.00; 452.00 shipped
    with sf.transaction("sp1") as env:
        order = svc.order.get_order(env, oid)
        svc.order.amend_order(env, order, reason="one more", changes={"lines": [
            {"id": order.lines[0].id, "quantity": "11"}]})                # 1,243.00
    assert flow.state("sale.order", oid) == "draft"
    parts = exposure(master.c1)
    assert (parts["shipped_uninvoiced"], parts["approved_unshipped"]) == (D("452.00"), ZERO)
    consistent()

    with sf.transaction("sp1") as env:
        svc.order.get_order(env, oid).fire("approve")
    last = decisions(order_id=oid)[-1]
    assert (last["outcome"], last["exposure"], last["order_amount"]) == ("pass", ZERO, D("1243.00"))
    parts = exposure(master.c1)
    assert (parts["shipped_uninvoiced"], parts["approved_unshipped"]) == (D("452.00"), D("791.00"))
    consistent()
