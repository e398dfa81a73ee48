"""Fixtures of the sale addon's tests (each test runs on SQLite and PostgreSQL).

Sections below are owned by the file that introduced them; add new fixtures at the end.
"""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import pytest

from core.testing import add_user, approval_rule, token_for

D = Decimal

DEFAULT_APPROVALS = [
    approval_rule("sale.order", "approve", [("100000", "sales_manager"), ("500000", "director")])
]

#: login -> roles
USERS = {
    "admin": ("admin",),
    "sp1": ("salesperson",),
    "sp2": ("salesperson",),
    "manager": ("sales_manager",),
    "manager2": ("sales_manager",),
    "director": ("director", "sales_manager"),
    "warehouse": ("warehouse",),
    "finance": ("finance",),
}


@pytest.fixture
def sf(make_sf):
    """The sale addon alone, with the default approval rules."""
    return make_sf(["sale"], approvals=DEFAULT_APPROVALS)


@pytest.fixture
def users(sf):
    """Users by login (ids); sp1, sp2 and manager are salespersons too (salesperson ids in
    ``users.sp``)."""
    ids = {login: add_user(sf, login, *roles) for login, roles in USERS.items()}
    sp = {}
    with sf.transaction() as env:
        team = env.create("sale.team", code="EAST", name="East")
        for login in ("sp1", "sp2", "manager"):
            sp[login] = env.create("sale.salesperson", user_id=ids[login], name=login.upper(),
                                   team_id=team.id).id
    return SimpleNamespace(ids=ids, sp=sp, **ids)


@pytest.fixture
def master(sf, users):
    """Minimal master data: VAT 13 % (excluded), net-30 term, three products, customers c1
    (of sp1) and c2 (of sp2)."""
    with sf.transaction() as env:
        vat = env.create("sale.tax", code="VAT13", name="VAT 13%", rate=D("0.13"), price_include=False)
        term = env.create("sale.payment_term", code="NET30", name="Net 30 days")
        env.create("sale.payment_term.line", term_id=term.id, sequence=10, percent=D("100"), days=30)
        products = [
            env.create("sale.product", sku=f"P{i}", name=f"Product {i}", unit="pcs",
                       list_price=D(price), cost=D(price) * D("0.6"), tax_id=vat.id)
            for i, price in enumerate(["100.00", "25.50", "1999.99"], start=1)
        ]
        c1 = env.create("sale.customer", code="C001", name="上海华东贸易有限公司", name_key="上海华东贸易",
                        tax_id="91310000MA1FL0001X", region="East", tier="key",
                        salesperson_id=users.sp["sp1"], payment_term_id=term.id)
        c2 = env.create("sale.customer", code="C002", name="Northwind Traders", name_key="northwind traders",
                        tax_id="91110000MA1FL0002Y", region="North", tier="normal",
                        salesperson_id=users.sp["sp2"], payment_term_id=term.id)
        return SimpleNamespace(tax_id=vat.id, term_id=term.id, product_ids=[p.id for p in products],
                               c1=c1.id, c2=c2.id)


@pytest.fixture
def api(sf, users, make_client):
    """A Flask test client and an auth header per login: ``api.client``, ``api.h("sp1")``."""
    client = make_client(sf)
    cache: dict[str, dict[str, str]] = {}

    def headers(login: str, **extra: str) -> dict[str, str]:
        if login not in cache:
            cache[login] = token_for(sf, login)
        return {**cache[login], **extra}

    return SimpleNamespace(client=client, h=headers)


# -- orders (test_orders, test_approval, test_amendments, test_shipments, test_api_orders) -------


@pytest.fixture
def fast_passwords(monkeypatch):
    """Cheap password hashes for the users of a test (scrypt takes ~0.15 s per user by design).
    Use with ``pytestmark = pytest.mark.usefixtures("fast_passwords")`` (before ``users``)."""
    from werkzeug.security import generate_password_hash

    import core.base.models

    monkeypatch.setattr(core.base.models, "hash_password",
                        lambda password: generate_password_hash(password, method="pbkdf2:sha256:1"))


@pytest.fixture
def svc(sf):
    """The order and shipment services, imported as the app imports them (``sale.services``)."""
    import importlib

    return SimpleNamespace(order=importlib.import_module("sale.services.order"),
                           shipment=importlib.import_module("sale.services.shipment"))


@pytest.fixture
def make_order(sf, master, svc):
    """Create a draft order as ``user`` (default sp1, for customer c1) and return its id.

        make_order(lines=[(product_index, qty, price)], customer=master.c2, user="sp2")

    ``lines`` items are ``(product_index, quantity, unit_price)`` (price None: list price) or
    line dicts; default one line of 2 x P1 at its list price.
    """

    def create(user: str = "sp1", *, lines=None, customer: int | None = None, **values) -> int:
        specs = []
        for item in lines or [(0, "2", None)]:
            if isinstance(item, dict):
                specs.append(item)
            else:
                index, qty, price = item
                specs.append({"product_id": master.product_ids[index], "quantity": D(qty),
                              "unit_price": None if price is None else D(price)})
        with sf.transaction(user) as env:
            order = svc.order.create_order(env, customer_id=customer or master.c1, lines=specs,
                                           **values)
            return order.id

    return create


@pytest.fixture
def order_of_total():
    """``order_of_total("150000")``: ``make_order`` lines whose total (13 % VAT added) is that."""

    def lines(total: str) -> list[tuple[int, str, str]]:
        return [(0, "1", str((D(total) / D("1.13")).quantize(D("0.000001"))))]

    return lines


# -- master data (test_customers, test_masterdata, test_api_customers) ---------------------------


@pytest.fixture
def mdsvc(sf):
    """The master-data services (``sale.services.partner`` and ``.masterdata``) and models."""
    import importlib

    return SimpleNamespace(partner=importlib.import_module("sale.services.partner"),
                           masterdata=importlib.import_module("sale.services.masterdata"),
                           models=importlib.import_module("sale.models.partner"))


# -- invoicing (test_invoices, test_payments, test_journal, test_receivables, test_api_invoicing) --


@pytest.fixture
def acc(sf):
    """The invoicing services, imported as the app imports them: ``acc.invoice``,
    ``acc.payment``, ``acc.journal``, ``acc.receivables``."""
    import importlib

    return SimpleNamespace(**{name: importlib.import_module(f"sale.services.{name}")
                              for name in ("invoice", "payment", "journal", "receivables")})


@pytest.fixture
def flow(sf, master, svc, make_order, acc):
    """Orders through their life, each step in its own transaction as the right user.

        oid = flow.order(lines=[(0, "10", None)], ship={0: "4"})   # approved, 4 of line 0 shipped
        iid = flow.invoice(oid, date=dt.date(2026, 1, 5))          # created and posted (finance)
        pid = flow.pay(master.c1, "100.00", allocations=[...])     # registered (finance)

    ``ship``: "all" (default), None (nothing) or ``{line index: quantity}``. Orders of
    ``master.c2`` are made by sp2 (sp1 cannot see that customer).
    """

    def order(lines=None, *, customer=None, user=None, ship="all", **values) -> int:
        user = user or ("sp2" if customer == master.c2 else "sp1")
        oid = make_order(user, lines=lines, customer=customer, **values)
        with sf.transaction(user) as env:
            env.get("sale.order", oid).fire("approve")
        if ship is not None:
            with sf.transaction("warehouse") as env:
                o = svc.order.get_order(env, oid)
                qty = None if ship == "all" else {o.lines[i].id: D(q) for i, q in ship.items()}
                svc.shipment.record_shipment(env, o, qty)
        return oid

    def invoice(oid, *, post=True, date=None) -> int:
        with sf.transaction("finance") as env:
            inv = acc.invoice.create_invoice(env, oid)
            if post:
                acc.invoice.post_invoice(env, inv, date=date)
            return inv.id

    def pay(customer, amount, *, method="bank_transfer", date=None, allocations=None,
            reference=None) -> int:
        with sf.transaction("finance") as env:
            return acc.payment.register_payment(
                env, customer_id=customer, amount=D(amount), method=method, date=date,
                reference=reference, allocations=allocations).id

    def state(record, ident):
        with sf.transaction() as env:
            return env.get(record, ident).state

    return SimpleNamespace(order=order, invoice=invoice, pay=pay, state=state)


@pytest.fixture
def web(sf, users, master, make_client):
    """A signed-in test client per login: ``web("sp1").get(...)``."""
    from core.web.testing import web_login

    clients = {}

    def client(login: str):
        if login not in clients:
            clients[login] = make_client(sf)
            assert web_login(clients[login], login).status_code == 302
        return clients[login]

    return client
