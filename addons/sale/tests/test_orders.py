"""Sale orders: creation, totals and rounding, editing, copying, cancelling, guards, SQL counts."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
from sqlalchemy import func, select

from core.errors import ConflictError, TransitionBlocked, ValidationError
from core.testing import CLIENT_TODAY

pytestmark = pytest.mark.usefixtures("fast_passwords")


def _line(master, index=0, qty="1", price=None, **extra):
    spec = {"product_id": master.product_ids[index], "quantity": D(qty), **extra}
    if price is not None:
        spec["unit_price"] = D(price)
    return spec


def _count(env, record):
    return env.session.scalar(select(func.count()).select_from(env[record]))


# -- creation ----------------------------------------------------------------------------------


def test_create_order_defaults(sf, users, master, svc):
    with sf.transaction("sp1") as env:
        order = svc.order.create_order(env, customer_id=master.c1, lines=[_line(master, 0, "2")])
        year = order.date_order.year
        assert order.number == f"SO/{year}/000001"
        assert order.state == "draft"
        assert order.revision == 0
        assert order.salesperson_id == users.sp["sp1"]  # the user's own salesperson
        assert order.payment_term_id == master.term_id  # the customer's term
        assert order.currency == "CNY"
        assert order.validity_date == order.date_order + dt.timedelta(days=30)
        assert (order.shipping_status, order.invoice_status, order.payment_status) == (
            "none", "none", "none")
        line = order.lines[0]
        assert line.description == "Product 1"
        assert line.unit_price == D("100.00")  # the product's list price
        assert line.tax_id == master.tax_id  # the product's tax
        second = svc.order.create_order(env, customer_id=master.c1, lines=[_line(master)])
        assert second.number == f"SO/{year}/000002"


def test_totals_tax_excluded_discount_and_per_line_rounding(sf, master, svc):
    with sf.transaction("sp1") as env:
        order = svc.order.create_order(env, customer_id=master.c1, lines=[
            _line(master, 0, "3", "33.335", discount=D("10")),  # 100.005 * 0.9 = 90.0045
            _line(master, 1, "1", "0.005"),  # 0.005 -> 0.01 (half up)
            _line(master, 1, "1", "0.005"),
        ])
        a, b, c = order.lines
        assert (a.amount_untaxed, a.amount_tax, a.amount_total) == (D("90.00"), D("11.70"), D("101.70"))
        assert (b.amount_untaxed, b.amount_tax, b.amount_total) == (D("0.01"), D("0.00"), D("0.01"))
        # totals are sums of rounded lines (0.01 + 0.01), not a rounded sum (0.010 -> 0.01)
        assert order.amount_untaxed == D("90.02")
        assert order.amount_tax == D("11.70")
        assert order.amount_total == D("101.72")
        oid = order.id
    with sf.transaction("sp1") as env:  # stored as computed
        order = svc.order.get_order(env, oid)
        assert order.amount_total == D("101.72")
        assert all(isinstance(ln.amount_total, D) for ln in order.lines)
        untaxed = svc.order.create_order(env, customer_id=master.c1,
                                         lines=[_line(master, 0, "2", "10", tax_id=False)])
        assert untaxed.lines[0].tax_id is None  # tax_id False: no tax (None: the product's)
        assert (untaxed.amount_tax, untaxed.amount_total) == (D("0.00"), D("20.00"))


def test_totals_tax_included_and_currency_digits(sf, master, svc):
    with sf.transaction() as env:
        tax = env.create("sale.tax", code="VAT13I", name="VAT 13% incl.", rate=D("0.13"),
                         price_include=True)
        tax_id = tax.id
    with sf.transaction("sp1") as env:
        order = svc.order.create_order(env, customer_id=master.c1, lines=[
            _line(master, 0, "1", "113", tax_id=tax_id),
            _line(master, 1, "3", "9.99", discount=D("5"), tax_id=tax_id),  # gross 28.4715
        ])
        a, b = order.lines
        assert (a.amount_untaxed, a.amount_tax, a.amount_total) == (D("100.00"), D("13.00"), D("113.00"))
        # total = round(28.4715) = 28.47; tax = round(28.47 * 0.13 / 1.13) = 3.28
        assert (b.amount_untaxed, b.amount_tax, b.amount_total) == (D("25.19"), D("3.28"), D("28.47"))
        assert (order.amount_untaxed, order.amount_tax, order.amount_total) == (
            D("125.19"), D("16.28"), D("141.47"))
    # digits come from the order's currency
    with sf.transaction() as env:
        env.create("sale.currency", code="JPY", name="Yen", digits=0)
        env.get("sale.customer", master.c1).currency = "JPY"
    with sf.transaction("sp1") as env:
        order = svc.order.create_order(env, customer_id=master.c1, lines=[_line(master, 1, "1", "100.5")])
        assert order.currency == "JPY"
        assert order.amount_untaxed == D("101")  # 100.5 rounded half up to 0 digits
        assert order.amount_tax == D("13")  # 101 * 0.13 = 13.13


def test_input_errors_are_named_per_field_and_nothing_is_written(sf, master, svc):
    with sf.transaction("sp1") as env:
        with pytest.raises(ValidationError) as exc:
            svc.order.create_order(env, customer_id=master.c1, lines=[
                {"product_id": 9999, "quantity": "1"},
                {"product_id": master.product_ids[0], "quantity": 1.5},
                {"product_id": master.product_ids[0], "quantity": "0", "discount": "150"},
                {"product_id": master.product_ids[0], "quantity": "1.0001", "colour": "red"},
                {"quantity": "1", "unit_price": "-1"},
            ])
        errors = exc.value.errors
        assert errors["lines.0.product_id"] == ["no product 9999"]
        assert "floats are not accepted" in errors["lines.1.quantity"][0]
        assert errors["lines.2.quantity"] == ["must be positive"]
        assert errors["lines.2.discount"] == ["must be between 0 and 100"]
        assert errors["lines.3.quantity"] == ["at most 3 decimals"]
        assert errors["lines.3.colour"] == ["unknown field"]
        assert errors["lines.4.product_id"] == ["required"]
        assert errors["lines.4.unit_price"] == ["must not be negative"]
        with pytest.raises(ValidationError) as exc:
            svc.order.create_order(env, customer_id=master.c2, lines=[_line(master)])
        assert exc.value.errors == {"customer_id": [f"no sale.customer {master.c2}"]}  # not sp1's
        with pytest.raises(ValidationError) as exc:
            svc.order.create_order(env, customer_id=master.c1, lines=[])
        assert "lines" in exc.value.errors
        assert _count(env, "sale.order") == 0
    with sf.transaction() as env:
        env.get("sale.product", master.product_ids[2]).active = False
    with sf.transaction("sp1") as env, pytest.raises(ValidationError) as exc:
        svc.order.create_order(env, customer_id=master.c1, lines=[_line(master, 2)])
    assert exc.value.errors == {"lines.0.product_id": ["product P3 is archived"]}


# -- editing -----------------------------------------------------------------------------------


def test_update_order(sf, master, svc, make_order):
    oid = make_order(lines=[(0, "2", None), (1, "4", None)])
    with sf.transaction("sp1") as env:
        order = svc.order.get_order(env, oid)
        first, second = order.lines
        svc.order.update_order(env, order, note="rush", lines=[
            {"id": first.id, "quantity": "5"},  # kept, changed
            _line(master, 2, "1", "1000"),  # new
        ])  # second: removed
        assert [ln.quantity for ln in order.lines] == [D("5"), D("1")]
        assert order.lines[0].id == first.id and order.lines[0].unit_price == D("100.00")
        assert order.amount_untaxed == D("1500.00")
        assert order.amount_total == D("1695.00")
        assert order.note == "rush"
        second_id = second.id
    with sf.transaction("sp1") as env:
        order = svc.order.get_order(env, oid)
        assert len(order.lines) == 2 and order.amount_total == D("1695.00")
        assert env.session.get(env["sale.line"], second_id) is None
    oid, other = make_order(), make_order()
    with sf.transaction("sp1") as env:
        order = svc.order.get_order(env, oid)
        foreign = svc.order.get_order(env, other).lines[0].id
        with pytest.raises(ValidationError) as exc:
            svc.order.update_order(env, order, state="approved")
        assert "state" in exc.value.errors
        with pytest.raises(ValidationError) as exc:
            svc.order.update_order(env, order, lines=[{"id": foreign, "quantity": "1"}])
        assert exc.value.errors == {"lines.0.id": ["not a line of this order"]}
    with pytest.raises(ValidationError, match="workflow"), sf.transaction("sp1") as env:
        order = svc.order.get_order(env, oid)
        order.state = "approved"  # only the workflow changes states
        env.session.flush()
    with sf.transaction("sp1") as env:
        order = svc.order.get_order(env, oid)
        order.fire("approve")
        with pytest.raises(ConflictError, match="only a draft"):
            svc.order.update_order(env, order, note="x")
    oid = make_order()
    with sf.transaction() as env:
        env.get("sale.customer", master.c2).currency = "USD"
    with sf.transaction() as env:
        order = svc.order.get_order(env, oid)
        with pytest.raises(ValidationError) as exc:  # was: the CNY prices relabelled as USD
            svc.order.update_order(env, order, customer_id=master.c2)
        assert exc.value.errors == {"customer_id": [
            "customer C002 buys in USD, this order is in CNY; make a new order for them"]}
        assert (order.customer_id, order.currency) == (master.c1, "CNY")


# -- approve guards ----------------------------------------------------------------------------


def test_approve_guards_expired_quotation_and_log(sf, master, svc, make_order):
    yesterday = CLIENT_TODAY - dt.timedelta(days=3)
    oid = make_order(date_order=yesterday - dt.timedelta(days=10), validity_date=yesterday)
    with sf.transaction("sp1") as env:
        order = svc.order.get_order(env, oid)
        assert any("expired" in r for r in env.blockers(order, "approve"))
        with pytest.raises(TransitionBlocked) as exc:
            order.fire("approve")
        assert exc.value.reasons == [
            f"the quotation expired on {yesterday.isoformat()}; change its validity date or copy it"]
    with sf.transaction("sp1") as env:
        order = svc.order.get_order(env, oid)
        assert order.state == "draft"
        svc.order.update_order(env, order, validity_date=CLIENT_TODAY)
        assert order.fire("approve").done
        assert order.state == "approved"
    oid = make_order(lines=[(0, "1", "0")])
    with sf.transaction() as env:
        env.get("sale.customer", master.c1).active = False
    with sf.transaction("sp1") as env:
        order = svc.order.get_order(env, oid)
        with pytest.raises(TransitionBlocked) as exc:
            order.fire("approve")
        assert exc.value.reasons == ["the total must be positive (it is 0.00)",
                                     "customer C001 (上海华东贸易有限公司) is archived"]
        assert order.state == "draft"
    oid = make_order(customer=master.c2, user="sp2")
    with sf.transaction("sp2") as env:
        order = svc.order.get_order(env, oid)
        assert env.available_triggers(order) == {"approve": [], "cancel": []}
        outcome = order.fire("approve", comment="ok")
        assert (outcome.done, outcome.dest) == (True, "approved")
    with sf.transaction("sp2") as env:
        Log = env["workflow.log"]
        log = env.search("workflow.log", Log.record == "sale.order", Log.record_id == oid)
        assert [(r.trigger, r.source, r.dest, r.comment) for r in log] == [
            ("approve", "draft", "approved", "ok")]


# -- copy and cancel ---------------------------------------------------------------------------


def test_copy_and_cancel(sf, master, svc, make_order):
    oid = make_order(lines=[(0, "2", "90"), (1, "3", None)], note="n")
    with sf.transaction("sp1") as env:
        source = svc.order.get_order(env, oid)
        source.fire("approve")
        copy = svc.order.copy_order(env, source)
        assert copy.id != source.id and copy.number != source.number
        assert (copy.state, copy.revision, copy.copied_from_id, copy.note) == ("draft", 0, oid, "n")
        assert [(ln.product_id, ln.quantity, ln.unit_price, ln.discount, ln.tax_id, ln.description)
                for ln in copy.lines] == [
            (ln.product_id, ln.quantity, ln.unit_price, ln.discount, ln.tax_id, ln.description)
            for ln in source.lines]
        assert copy.amount_total == source.amount_total
        assert all(ln.qty_shipped == 0 for ln in copy.lines)
    with sf.transaction() as env:  # the customer now buys in USD
        env.get("sale.customer", master.c1).currency = "USD"
    with sf.transaction("sp1") as env:
        source = svc.order.get_order(env, oid)
        copy = svc.order.copy_order(env, source)
        # was: the CNY prices relabelled as USD
        assert (copy.currency, copy.amount_total) == ("CNY", source.amount_total)
    with sf.transaction() as env:
        env.get("sale.customer", master.c1).currency = "CNY"
    oid = make_order()
    with sf.transaction("sp1") as env:
        order = svc.order.get_order(env, oid)
        for reason in (None, "  "):
            with pytest.raises(TransitionBlocked) as exc:
                svc.order.cancel_order(env, order, reason)
            assert exc.value.reasons == ["'cancel' needs a comment saying why"]
        assert order.state == "draft"
        svc.order.cancel_order(env, order, "customer changed their mind")
    with sf.transaction("sp1") as env:
        order = svc.order.get_order(env, oid)
        assert (order.state, order.cancel_reason) == ("cancelled", "customer changed their mind")
        assert env.available_triggers(order) == {}
    oid = make_order()
    with sf.transaction("sp1") as env:  # from approved too
        order = svc.order.get_order(env, oid)
        order.fire("approve")
        svc.order.cancel_order(env, order, "lost to a competitor")
        assert order.state == "cancelled"


# -- hooks -------------------------------------------------------------------------------------


def test_hook_sale_line_price(sf, master, svc):
    from core.plugins import hookimpl

    class Pricing:
        @hookimpl
        def sale_line_price(self, line, order, env):
            if line.product.sku == "P2" and order.customer_id == master.c1:
                return D("20.1234567")  # rounded to 6 decimals
            return None  # let the default (list price) answer

    plugin = Pricing()
    sf.pm.register(plugin, name="test-pricing")
    try:
        with sf.transaction("sp1") as env:
            order = svc.order.create_order(env, customer_id=master.c1, lines=[
                _line(master, 1), _line(master, 0), _line(master, 1, price="7")])
            assert [ln.unit_price for ln in order.lines] == [D("20.123457"), D("100.00"), D("7")]
    finally:
        sf.pm.unregister(plugin)


# -- performance: statements do not grow with lines ---------------------------------------------


def _order_flow_counts(sf, svc, master, count_queries, n_lines: int) -> dict[str, int]:
    lines = [{"product_id": master.product_ids[i % 3], "quantity": "2", "unit_price": "10.50"}
             for i in range(n_lines)]
    counts = {}
    with count_queries(sf.engine) as n:
        with sf.transaction("sp1") as env:
            oid = svc.order.create_order(env, customer_id=master.c1, lines=lines).id
    counts["create"] = n.value
    with count_queries(sf.engine) as n:
        with sf.transaction("sp1") as env:
            order = svc.order.get_order(env, oid)
            assert order.fire("approve").done
    counts["approve"] = n.value
    with count_queries(sf.engine) as n:
        with sf.transaction("warehouse") as env:
            order = svc.order.get_order(env, oid)
            svc.shipment.record_shipment(env, order, {order.lines[0].id: D("1")})
    counts["ship_partial"] = n.value
    with count_queries(sf.engine) as n:
        with sf.transaction("warehouse") as env:
            order = svc.order.get_order(env, oid)
            svc.shipment.record_shipment(env, order)
            assert order.state == "shipped"
    counts["ship_rest"] = n.value
    return counts


def test_statement_count_does_not_grow_with_lines(sf, master, svc, count_queries):
    _order_flow_counts(sf, svc, master, count_queries, 1)  # warm up: sequences, caches
    few = _order_flow_counts(sf, svc, master, count_queries, 5)
    many = _order_flow_counts(sf, svc, master, count_queries, 50)
    assert few == many, (few, many)
    # and few: the transaction (SQLite's BEGIN IMMEDIATE, the user), the order with its lines,
    # then only what the step writes (a shipment's lines in one INSERT, the ledger in one
    # UPDATE, the order's statuses with its state change); PostgreSQL locks the order with a
    # SELECT .. FOR UPDATE where SQLite's write transaction already excludes other writers;
    # a shipment runs in a savepoint (2 statements), so a refused `ship` leaves nothing behind;
    # on SQLite the new order and its lines take their ids from one SELECT of the tables'
    # highest ids (core.flush), then go in without RETURNING
    assert few["create"] <= 11 and few["approve"] <= 8, few
    assert few["ship_partial"] <= 13 and few["ship_rest"] <= 14, few
