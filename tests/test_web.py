"""The web UI kernel with the test addons: views registry, login, sessions, throttling, CSRF,
permissions, the workflow panel, CSP and escaping (each test on SQLite and PostgreSQL)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from werkzeug.security import generate_password_hash

from core.testing import add_user
from core.web.testing import csrf_token, post_form, web_login


@pytest.fixture(autouse=True)
def fast_passwords(monkeypatch):
    import core.base.models

    monkeypatch.setattr(core.base.models, "hash_password",
                        lambda password: generate_password_hash(password, method="pbkdf2:sha256:1"))


@pytest.fixture
def kt(make_sf, make_client):
    sf = make_sf(["kt_doc", "kt_ext"])
    ids = {"ann": add_user(sf, "ann", "kt_clerk"), "bob": add_user(sf, "bob", "kt_clerk"),
           "max": add_user(sf, "max", "kt_manager"), "root": add_user(sf, "root", "admin")}
    return sf, ids, make_client(sf)


def _doc(sf, owner: int, name="D1", amount="10", **values) -> int:
    with sf.transaction(owner) as env:
        return env.create("kt.doc", name=name, amount=Decimal(amount), owner_id=owner,
                          **values).id


def test_menus_and_pages_follow_the_enabled_addons(make_sf, make_client):
    with_ext = make_sf(["kt_doc", "kt_ext"])  # creates every table (kt_ext adds columns)
    add_user(with_ext, "ann", "kt_clerk")
    client = make_client(with_ext)
    web_login(client, "ann")
    home = client.get("/").get_data(as_text=True)
    assert "/r/kt.doc" in home and "/r/kt_confirmed" in home
    assert client.get("/r/kt_confirmed").status_code == 200

    alone = make_sf(["kt_doc"], create=False)  # the same database, kt_ext disabled
    client = make_client(alone)
    web_login(client, "ann")
    home = client.get("/").get_data(as_text=True)
    assert "/r/kt.doc" in home and "/r/kt_confirmed" not in home
    assert client.get("/r/kt_confirmed").status_code == 404


def test_anonymous_is_sent_to_login_and_json_index_moved(kt):
    sf, ids, client = kt
    doc = _doc(sf, ids["ann"])
    for path in ("/", "/r/kt.doc", f"/r/kt.doc/{doc}", "/r/kt.doc/new", "/password",
                 "/admin/users"):
        resp = client.get(path)
        assert resp.status_code == 302 and resp.headers["Location"].startswith("/login"), path
    assert client.get("/api/v1/").get_json()["addons"] == ["base", "kt_doc", "kt_ext"]


def test_login_rotates_the_session_and_logout_ends_it(kt):
    sf, ids, client = kt
    csrf_token(client)  # an anonymous session exists (it holds the CSRF token)
    before = client.get_cookie("session").value
    assert web_login(client, "ann").status_code == 302
    signed_in = client.get_cookie("session").value
    assert signed_in != before
    assert client.get("/").status_code == 200
    cookie = client.get_cookie("session")
    assert cookie.http_only and cookie.same_site == "Lax"

    post_form(client, "/logout")
    assert client.get("/").status_code == 302
    client.set_cookie("session", signed_in)  # replaying the old cookie does not sign in
    assert client.get("/").status_code == 302
    # ... nor authenticate the JSON API
    assert client.get("/api/v1/me").status_code == 401


def test_wrong_password_and_throttling(kt):
    sf, ids, client = kt
    for _ in range(5):
        resp = web_login(client, "ann", "wrong-password")
        assert resp.status_code == 401 and "Wrong login or password" in resp.get_data(as_text=True)
    resp = web_login(client, "ann")  # the right password, but throttled
    assert resp.status_code == 401 and "Too many failed attempts" in resp.get_data(as_text=True)
    assert web_login(client, "bob").status_code == 302  # another login is not affected
    with sf.transaction() as env:
        rows = env.search("res.login_attempt")
    assert [(r.login, r.ok) for r in rows] == [("ann", False)] * 5 + [("bob", True)]


def test_csrf_missing_token_is_refused_and_nothing_changes(kt):
    sf, ids, client = kt
    doc = _doc(sf, ids["ann"])
    web_login(client, "ann")
    resp = client.post(f"/r/kt.doc/{doc}/fire/cancel", data={"comment": "no"})
    assert resp.status_code == 400
    resp = client.post("/r/kt.doc/new", data={"name": "x", "amount": "5"})
    assert resp.status_code == 400
    with sf.transaction() as env:
        assert env.get("kt.doc", doc).state == "draft"
        assert len(env.search("kt.doc")) == 1
    # the token-authenticated JSON API needs no CSRF token
    from core.testing import token_for

    resp = client.post("/api/v1/kt/docs", json={"name": "api", "amount": "3", "reference": "R"},
                       headers=token_for(sf, "ann"))
    assert resp.status_code == 201


def test_record_rules_and_admin_pages(kt):
    sf, ids, client = kt
    theirs = _doc(sf, ids["bob"], name="bob's")
    mine = _doc(sf, ids["ann"], name="ann's")
    web_login(client, "ann")
    assert client.get(f"/r/kt.doc/{theirs}").status_code == 404
    assert client.get(f"/r/kt.doc/{theirs}/edit").status_code == 404
    assert client.post(f"/r/kt.doc/{theirs}/fire/cancel",
                       data={"comment": "x", "csrf_token": csrf_token(client, "/")}).status_code == 404
    assert client.get(f"/r/kt.doc/{mine}").status_code == 200
    listing = client.get("/r/kt.doc").get_data(as_text=True)
    assert "ann&#39;s" in listing and "bob&#39;s" not in listing
    assert client.get("/r/kt.doc/99999").status_code == 404
    assert client.get("/admin/users").status_code == 403
    assert client.get("/admin/users/new").status_code == 403


def test_admin_creates_user_sets_roles_deactivates(kt):
    sf, ids, client = kt
    web_login(client, "root")
    assert client.get("/admin/users").status_code == 200
    resp = post_form(client, "/admin/users/new", {"login": "cat", "name": "Cat", "roles": ["kt_clerk"],
                                                  "active": "y", "password": "longenough1"})
    assert resp.status_code == 302
    other = client.application.test_client()
    assert web_login(other, "cat", "longenough1").status_code == 302
    assert other.get("/").status_code == 200
    with sf.transaction() as env:
        from sqlalchemy import select

        User = env["res.user"]
        cat = env.session.scalars(select(User).where(User.login == "cat")).one()
        assert cat.role_codes() == ["kt_clerk"]
    # deactivated: the running session ends and the login is refused
    resp = post_form(client, f"/admin/users/{cat.id}", {"name": "Cat", "roles": ["kt_viewer"]})
    assert resp.status_code == 302
    assert other.get("/").status_code == 302
    assert web_login(other, "cat", "longenough1").status_code == 401
    # a missing user is a 404, even past the id column's integers (was a database overflow)
    assert client.get("/admin/users/99999").status_code == 404
    assert client.get("/admin/users/99999999999999999999").status_code == 404


def test_workflow_panel_reasons_comment_and_timeline(kt):
    sf, ids, client = kt
    embargoed = _doc(sf, ids["ann"], name="embargo deal", reference="R-1")
    doc = _doc(sf, ids["ann"], name="free", amount="0", reference="R-2")
    web_login(client, "ann")
    page = client.get(f"/r/kt.doc/{embargoed}").get_data(as_text=True)
    assert "kt_doc: &#39;embargo deal&#39; is under embargo" in page  # reasons, not buttons
    assert "/fire/" not in page
    page = client.get(f"/r/kt.doc/{doc}").get_data(as_text=True)
    assert "the amount must be positive" in page and f"/r/kt.doc/{doc}/fire/confirm" not in page
    assert 'name="comment"' in page and f"/r/kt.doc/{doc}/fire/cancel" in page  # needs a comment
    assert "/fire/finish" not in page and "/fire/reopen" not in page
    # firing a refused trigger anyway: the reasons are shown, nothing changes
    resp = post_form(client, f"/r/kt.doc/{doc}/fire/confirm", form_page=f"/r/kt.doc/{doc}")
    assert resp.status_code == 302
    assert "the amount must be positive" in client.get(f"/r/kt.doc/{doc}").get_data(as_text=True)
    resp = post_form(client, f"/r/kt.doc/{doc}/fire/cancel", {"comment": "wrong customer"})
    assert resp.status_code == 302
    page = client.get(f"/r/kt.doc/{doc}").get_data(as_text=True)
    assert "wrong customer" in page and "badge-cancelled" in page
    with sf.transaction() as env:
        assert env.get("kt.doc", doc).state == "cancelled"


def test_create_edit_list_sort_and_filters(kt):
    sf, ids, client = kt
    web_login(client, "ann")
    form = client.get("/r/kt.doc/new")
    assert form.status_code == 200
    resp = post_form(client, "/r/kt.doc/new", {"name": "<script>alert(1)</script>", "amount": "12.50"},
                     form_page="/r/kt.doc/new")
    assert resp.status_code == 302
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    for name in ("beta", "alpha", "gamma"):
        _doc(sf, ids["ann"], name=name)
    listing = client.get("/r/kt.doc?sort=name").get_data(as_text=True)
    assert listing.index("&lt;script&gt;") < listing.index("alpha")  # page size 2
    assert "beta" not in listing and "Page 1 of 2" in listing
    listing = client.get("/r/kt.doc?sort=-name&page=1").get_data(as_text=True)
    assert listing.index("gamma") < listing.index("beta") and "alpha" not in listing
    assert "gamma" in client.get("/r/kt.doc?q=GAM").get_data(as_text=True)
    assert client.get("/r/kt.doc?sort=owner_id").status_code == 400  # not sortable
    assert client.get("/r/kt.doc?colour=red").status_code == 400  # not a filter
    assert client.get("/r/kt.doc?state=nonsense").status_code == 400
    assert "alpha" in client.get("/r/kt.doc?state=draft&q=alp").get_data(as_text=True)


def test_csp_header_and_static_css(kt):
    sf, ids, client = kt
    resp = client.get("/login")
    csp = resp.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp and "<script" not in resp.get_data(as_text=True)
    assert "style=" not in resp.get_data(as_text=True)
    assert client.get("/static/web/salesflow.css").status_code == 200


def test_password_change(kt):
    sf, ids, client = kt
    web_login(client, "ann")
    other = client.application.test_client()
    web_login(other, "ann")
    resp = post_form(client, "/password", {"current": "password123", "new": "new-password-1",
                                           "confirm": "new-password-1"}, form_page="/password")
    assert resp.status_code == 302
    assert client.get("/").status_code == 200  # this session goes on
    assert other.get("/").status_code == 302  # the other one ended
    assert web_login(other, "ann", "new-password-1").status_code == 302


def test_compiled_catalogs_match_their_sources():
    """The .mo files are committed (compiled with ``pybabel compile``): they must be current."""
    from pathlib import Path

    from babel.messages import mofile, pofile

    root = Path(__file__).resolve().parents[1]
    sources = [*root.glob("core/translations/*/LC_MESSAGES/messages.po"),
               *root.glob("addons/*/translations/*/LC_MESSAGES/messages.po")]
    assert sources
    def entries(messages) -> dict:  # plural entries: id and string are sequences
        def norm(value):
            return value if isinstance(value, str) else tuple(value)
        return {norm(m.id): norm(m.string) for m in messages if m.id and not m.fuzzy}

    for po in sources:
        with po.open("rb") as f:
            source = entries(pofile.read_po(f))
        with po.with_suffix(".mo").open("rb") as f:
            compiled = entries(mofile.read_mo(f))
        assert compiled == source, f"{po}: run pybabel compile -d {po.parents[2]}"


def test_login_goes_back_to_local_pages_only(kt):
    """``next`` leads to a page of this site only: browsers drop tabs and newlines from a URL,
    so ``/<tab>/evil.example`` was a way to ``//evil.example`` (and a newline was a 500)."""
    sf, ids, _client = kt
    from urllib.parse import quote

    from flask.testing import FlaskClient

    def login_to(target: str) -> str:
        client = FlaskClient(_client.application, use_cookies=True)
        token = csrf_token(client, "/login")
        resp = client.post("/login?next=" + quote(target, safe=""),
                           data={"login": "ann", "password": "password123", "csrf_token": token})
        assert resp.status_code == 302, target
        return resp.headers["Location"]

    for target in ("/\t/evil.example", "/\n/evil.example", "/\r\n/evil.example", "//evil.example",
                   "/\\evil.example", "https://evil.example", " //evil.example", "/ /evil.example"):
        assert login_to(target) == "/", repr(target)
    assert login_to("/r/kt.doc?state=draft") == "/r/kt.doc?state=draft"
