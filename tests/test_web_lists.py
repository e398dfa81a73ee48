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


def test_a_huge_page_number_or_a_nul_character_is_a_400_naming_it(make_sf, make_client):
    """Not a 500: a page number past any table overflowed the OFFSET (SQLite and PostgreSQL),
    a NUL character in a search, filter or form value broke PostgreSQL's query."""
    sf = make_sf(["kt_doc"])
    ann = add_user(sf, "ann", "kt_clerk")
    with sf.transaction(ann) as env:
        env.create("kt.doc", name="D0", amount=Decimal(1), owner_id=ann)
    client = make_client(sf)
    web_login(client, "ann")
    resp = client.get("/r/kt.doc?page=99999999999999999999")
    assert resp.status_code == 400 and "page must be at most" in resp.get_data(as_text=True)
    assert client.get("/r/kt.doc?page=1000000").status_code == 200  # the last page accepted
    resp = client.get("/r/kt.doc?q=a%00b")
    assert resp.status_code == 400 and "q: must not contain a NUL character" in resp.get_data(as_text=True)
    assert client.get("/r/kt.doc?state=%00").status_code == 400
    from core.web.testing import post_form

    resp = post_form(client, "/r/kt.doc/new", {"name": "bad\x00name", "amount": "1"},
                     form_page="/r/kt.doc/new")
    assert resp.status_code == 400 and "name: must not contain a NUL character" in resp.get_data(as_text=True)
    with sf.transaction(ann) as env:
        assert [d.name for d in env.search("kt.doc")] == ["D0"]  # nothing saved


def test_search_takes_percent_and_underscore_literally(make_sf, make_client):
    """``?q=`` is a substring: ``%`` and ``_`` were LIKE wildcards (``q=%`` matched every row,
    ``q=D_1`` matched ``DX1``)."""
    sf = make_sf(["kt_doc"])
    ann = add_user(sf, "ann", "kt_clerk")
    with sf.transaction(ann) as env:
        for name in ("100% cotton", "1000 units", "D_1", "DX1"):
            env.create("kt.doc", name=name, amount=Decimal(1), owner_id=ann)
    client = make_client(sf)
    web_login(client, "ann")
    page = client.get("/r/kt.doc?q=100%25").get_data(as_text=True)
    assert "100% cotton" in page and "1000 units" not in page
    page = client.get("/r/kt.doc?q=d_1").get_data(as_text=True)
    assert "D_1" in page and "DX1" not in page
