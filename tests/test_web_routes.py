"""Every route of the web UI (the kernel's and the enabled addons' blueprints, here sale and
sale_credit), found in the app's URL map rather than listed by hand, so a page added later is
covered too (each test on SQLite and PostgreSQL):

* an anonymous GET never gets a page: a redirect to ``/login`` (or a 401 / 404), except the
  public pages listed in ``PUBLIC``;
* a POST without a CSRF token, even from a signed-in admin, is a 400 and writes nothing.

The JSON APIs (``ApiBlueprint``s, ``/api/...``: token-authenticated, tested with their
addons) and static files are left out.
"""

from __future__ import annotations

import importlib
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from werkzeug.routing import IntegerConverter
from werkzeug.security import generate_password_hash

from core.testing import add_user
from core.web.testing import web_login

#: GET pages an anonymous visitor may see, with the reason
PUBLIC = {
    "/login": "the sign-in form itself",
}
#: arguments of the rules that are not ids (ids: 1 for an ``int`` converter)
ARGS = {"name": "sale.order", "record": "sale.order", "trigger": "approve", "ident": "1"}
#: tables whose row counts must not change when a POST is refused
TABLES = ("res.user", "res.web_session", "res.login_attempt", "sale.customer", "sale.order",
          "sale.shipment", "sale.invoice", "sale.payment", "workflow.log")


@pytest.fixture(autouse=True)
def fast_passwords(monkeypatch):
    import core.base.models

    monkeypatch.setattr(core.base.models, "hash_password",
                        lambda password: generate_password_hash(password, method="pbkdf2:sha256:1"))


@pytest.fixture
def site(make_sf, make_client):
    """sale + sale_credit, an admin, and a customer, a product and a draft order (id 1 in a
    fresh database), so that the POST routes with an id have something they could change."""
    sf = make_sf(["sale", "sale_credit"])
    add_user(sf, "root", "admin")
    with sf.transaction("root") as env:
        customer = env.create("sale.customer", code="C001", name="Acme", name_key="acme")
        product = env.create("sale.product", sku="P1", name="Product 1", unit="pcs",
                             list_price=Decimal("100.00"))
        importlib.import_module("sale.services.order").create_order(
            env, customer_id=customer.id,
            lines=[{"product_id": product.id, "quantity": Decimal("2"), "unit_price": None}])
    client = make_client(sf)
    return sf, client


def web_rules(app, method: str):
    """The rules of the web blueprints answering ``method``, with a URL for each."""
    from core.api import ApiBlueprint

    found = []
    for rule in app.url_map.iter_rules():
        blueprint = rule.endpoint.rpartition(".")[0]
        bp = app.blueprints.get(blueprint)
        if (method not in rule.methods or rule.endpoint == "static" or rule.endpoint.endswith(".static")
                or rule.rule.startswith("/api/") or bp is None or isinstance(bp, ApiBlueprint)
                or blueprint == "salesflow_api"):
            continue
        values = {arg: 1 if isinstance(rule._converters[arg], IntegerConverter) else ARGS.get(arg, "1")
                  for arg in rule.arguments}
        found.append((rule, rule.build(values)[1]))
    return found


def test_the_map_covers_the_kernel_and_both_addons(site):
    _sf, client = site
    blueprints = {rule.endpoint.rpartition(".")[0] for rule, _url in web_rules(client.application, "GET")}
    assert {"web", "sale_web", "sale_flow", "sale_dashboard", "sale_documents", "sale_reports",
            "sale_credit_web"} <= blueprints


def test_an_anonymous_visitor_gets_no_page(site):
    _sf, client = site
    checked = []
    for _rule, url in web_rules(client.application, "GET"):
        resp = client.get(url)
        checked.append(url)
        if url in PUBLIC:
            assert resp.status_code == 200, url
            continue
        assert resp.status_code in (302, 401, 404), (url, resp.status_code)
        if resp.status_code == 302:
            assert resp.headers["Location"].startswith("/login"), (url, resp.headers["Location"])
    assert len(checked) >= 20 and set(PUBLIC) <= set(checked)


def counts(sf) -> dict[str, int]:
    with sf.transaction() as env:
        return {t: env.session.scalar(select(func.count()).select_from(env[t])) for t in TABLES}


def test_a_post_without_csrf_token_is_refused_and_writes_nothing(site):
    sf, client = site
    assert web_login(client, "root").status_code == 302
    before = counts(sf)
    with sf.transaction() as env:
        state = env.get("sale.order", 1).state
    posted = []
    for _rule, url in web_rules(client.application, "POST"):
        resp = client.post(url, data={"comment": "no token", "login": "root", "password": "password123",
                                      "amount": "10", "name": "x"})
        posted.append(url)
        assert resp.status_code == 400, (url, resp.status_code)
        assert "CSRF token is missing" in resp.get_data(as_text=True), url  # refused for that
    assert len(posted) >= 10 and "/logout" in posted and "/r/sale.order/1/fire/approve" in posted
    assert counts(sf) == before
    with sf.transaction() as env:
        assert env.get("sale.order", 1).state == state == "draft"
    assert client.get("/").status_code in (200, 302) and client.get("/password").status_code == 200  # still signed in
