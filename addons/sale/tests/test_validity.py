"""A quotation's validity date: every order has one (default ``[addon.sale]
quotation_validity_days`` after its date); it can be moved, never cleared, by any route (service,
API, web form, the record itself), so an expired quotation cannot be approved by clearing it."""

from __future__ import annotations

import datetime as dt
import html
from decimal import Decimal as D

import pytest
from sqlalchemy import text

from core.errors import TransitionBlocked, ValidationError
from core.testing import CLIENT_TODAY

pytestmark = pytest.mark.usefixtures("fast_passwords")

PAST = CLIENT_TODAY - dt.timedelta(days=100)


def _expired(make_order) -> int:
    return make_order(date_order=PAST, validity_date=PAST + dt.timedelta(days=5))


def test_services_refuse_clearing_the_validity_date(sf, svc, make_order):
    oid = _expired(make_order)
    with sf.transaction("sp1") as env:
        order = svc.order.get_order(env, oid)
        with pytest.raises(ValidationError) as exc:
            svc.order.update_order(env, order, validity_date=None, note="x")
        assert exc.value.errors == {"validity_date": ["required"]}
        assert (order.validity_date, order.note) == (PAST + dt.timedelta(days=5), None)
        with pytest.raises(TransitionBlocked, match="expired"):
            order.fire("approve")
    approved = make_order()
    with sf.transaction("sp1") as env:
        order = svc.order.get_order(env, approved)
        order.fire("approve")
        with pytest.raises(ValidationError) as exc:
            svc.order.amend_order(env, order, reason="x", changes={"validity_date": ""})
        assert exc.value.errors == {"validity_date": ["required"]}
        assert (order.state, order.revision) == ("approved", 0)


def test_the_record_refuses_a_missing_validity_date(sf, master, svc, make_order):
    oid = _expired(make_order)
    with pytest.raises(ValidationError) as exc, sf.transaction("sp1") as env:
        order = svc.order.get_order(env, oid)
        order.validity_date = None  # past the services: the record itself refuses
        assert order.check_not_expired() == "the quotation has no validity date"
        env.session.flush()
    assert exc.value.errors == {"validity_date": ["required: every order has a validity date"]}
    with pytest.raises(ValidationError, match="validity_date"), sf.transaction() as env:
        env.create("sale.order", customer_id=master.c1, date_order=CLIENT_TODAY)
    with sf.transaction("sp1") as env:
        assert env.get("sale.order", oid).validity_date == PAST + dt.timedelta(days=5)


def test_api_refuses_a_null_validity_date(sf, users, master, api, make_order):
    oid = _expired(make_order)
    h = api.h("sp1")
    url = f"/api/v1/orders/{oid}"
    assert api.client.post(f"{url}/triggers/approve", json={}, headers=h).status_code == 409
    etag = api.client.get(url, headers=h).headers["ETag"]
    resp = api.client.patch(url, json={"validity_date": None}, headers={**h, "If-Match": etag})
    assert resp.status_code == 422
    assert list(resp.get_json()["error"]["fields"]) == ["validity_date"]
    assert api.client.get(url, headers=h).get_json()["validity_date"] == (
        PAST + dt.timedelta(days=5)).isoformat()
    assert api.client.post(f"{url}/triggers/approve", json={}, headers=h).status_code == 409
    # creating: null or omitted is the default, 30 days after the order date
    body = {"customer_id": master.c1, "date_order": PAST.isoformat(), "validity_date": None,
            "lines": [{"product_id": master.product_ids[0], "quantity": "1"}]}
    created = api.client.post("/api/v1/orders", json=body, headers=h)
    assert created.status_code == 201
    assert created.get_json()["validity_date"] == (PAST + dt.timedelta(days=30)).isoformat()


def test_web_form_refuses_an_emptied_validity_date(sf, users, master, make_order, web):
    from core.web.testing import post_form

    oid = make_order()
    with sf.transaction() as env:
        order = env.get("sale.order", oid)
        lid, validity = order.lines[0].id, order.validity_date
    form = {"customer_id": str(master.c1), "validity_date": "", "note": "changed",
            "lines-0-line_id": str(lid), "lines-0-product_id": str(master.product_ids[0]),
            "lines-0-quantity": "2"}
    resp = post_form(web("sp1"), f"/r/sale.order/{oid}/edit", form,
                     form_page=f"/r/sale.order/{oid}/edit")
    assert resp.status_code == 200
    page = html.unescape(resp.get_data(as_text=True))
    field = page.split('name="validity_date"', 1)[1].split("</div>", 1)[0]
    assert "required" in field
    with sf.transaction() as env:
        order = env.get("sale.order", oid)
        assert (order.validity_date, order.note) == (validity, None)


def test_migration_fills_missing_validity_dates_from_the_config(make_sf):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from core import migrations

    sf = make_sf(["sale"], settings={"sale": {"quotation_validity_days": 10}}, create=False)
    branches = migrations.load_branches(sf)
    before = "96cc235cc7bd"  # the sale revision before validity dates were required
    with migrations._transaction(sf.engine) as conn:
        migrations._run(sf, branches.script, conn,
                        lambda rev, _context: branches.script._upgrade_revs(before, rev),
                        env_kwargs={"destination_rev": before})
    day = dt.date(2026, 3, 1)
    with sf.transaction() as env:
        customer = env.create("sale.customer", code="C1", name="Acme", name_key="acme")
        orders = [env.create("sale.order", customer_id=customer.id, date_order=day,
                             validity_date=day + dt.timedelta(days=days), amount_total=D("1"))
                  for days in (0, 45)]
        ids = [o.id for o in orders]
    with sf.engine.begin() as conn:  # cleared, as the services allowed before
        conn.execute(text("UPDATE sale_order SET validity_date = NULL WHERE id = :id"), {"id": ids[0]})
    assert "sale@c3a0af8b6b9c" in migrations.upgrade(sf)
    with sf.transaction() as env:
        assert [env.get("sale.order", i).validity_date for i in ids] == [
            day + dt.timedelta(days=10), day + dt.timedelta(days=45)]
    with sf.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), sf.registry.metadata) == []
        conn.rollback()
