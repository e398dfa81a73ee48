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
