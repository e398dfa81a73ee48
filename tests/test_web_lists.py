"""Generic list pages on large tables: the row count stops at ``COUNT_LIMIT`` (at least the
page shown) and the pager still leads on (each test on SQLite and PostgreSQL)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from werkzeug.security import generate_password_hash

from core.testing import add_user
from core.web.testing import web_login


@pytest.fixture(autouse=True)
def fast_passwords(monkeypatch):
    import core.base.models

    monkeypatch.setattr(core.base.models, "hash_password",
                        lambda password: generate_password_hash(password, method="pbkdf2:sha256:1"))


def test_count_stops_at_the_limit_and_the_pager_goes_on(make_sf, make_client, monkeypatch):
    import core.web.routes

    sf = make_sf(["kt_doc"])
    ann = add_user(sf, "ann", "kt_clerk")
    with sf.transaction(ann) as env:
        for i in range(5):
            env.create("kt.doc", name=f"D{i}", amount=Decimal(i), owner_id=ann)
    client = make_client(sf)
    web_login(client, "ann")
    monkeypatch.setattr(core.web.routes, "COUNT_LIMIT", 3)  # page size 2
    first = client.get("/r/kt.doc").get_data(as_text=True)
    assert '<span class="count">3+</span>' in first
    assert "Page 1 of more than 2" in first and "page=2" in first and "D0" in first
    second = client.get("/r/kt.doc?page=2").get_data(as_text=True)  # counts to 4 at least
    assert '<span class="count">4+</span>' in second and "D2" in second and "page=3" in second
    last = client.get("/r/kt.doc?page=3").get_data(as_text=True)  # the end: exact
    assert '<span class="count">5</span>' in last and "Page 3 of 3" in last
    assert "D4" in last and "page=4" not in last
    monkeypatch.setattr(core.web.routes, "COUNT_LIMIT", 1000)
    exact = client.get("/r/kt.doc?state=draft").get_data(as_text=True)
    assert '<span class="count">5</span>' in exact and "Page 1 of 3" in exact
