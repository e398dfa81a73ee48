"""Users, passwords, API tokens, model access and record rules."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select, text

from core.errors import AccessDenied, NotFound, ValidationError
from core.security import token_digest
from core.testing import add_user, token_for

KT = ["kt_doc"]
KT_EXT = ["kt_doc", "kt_ext"]


# -- passwords and tokens --------------------------------------------------------------------


def test_passwords_are_hashed_never_stored_in_clear(make_sf):
    sf = make_sf(KT)
    uid = add_user(sf, "ann", "kt_clerk", password="correct horse 42")
    with sf.engine.connect() as conn:
        stored = conn.execute(text("select password_hash from res_user where id = :i"), {"i": uid}).scalar()
        audit = conn.execute(text("select changes from audit_log")).scalars().all()
    assert stored != "correct horse 42" and stored.startswith("scrypt:")
    assert "correct horse" not in stored
    assert not any("correct horse" in str(changes) or "password_hash" in str(changes)
                   for changes in audit)
    with sf.transaction() as env:
        user = env.get("res.user", uid)
        assert user.check_password("correct horse 42")
        assert not user.check_password("correct horse 43")
        with pytest.raises(ValidationError, match="password: must have at least 8 characters"):
            user.set_password("short")
        user.active = False
        assert not user.check_password("correct horse 42")  # an inactive user cannot log in


def test_an_api_token_is_issued_for_a_password_and_identifies_the_user(make_sf, make_client):
    sf = make_sf(KT)
    uid = add_user(sf, "ann", "kt_clerk", "kt_viewer", password="correct horse 42")
    client = make_client(sf)

    refused = client.post("/api/v1/auth/token", json={"login": "ann", "password": "wrong one!"})
    assert refused.status_code == 401
    assert refused.get_json()["error"]["code"] == "unauthenticated"

    issued = client.post("/api/v1/auth/token", json={"login": "ann", "password": "correct horse 42"})
    assert issued.status_code == 201
    token = issued.get_json()["token"]
    assert token.startswith("sf_") and issued.get_json()["user_id"] == uid
    with sf.transaction() as env:
        (row,) = env.search("res.api_token")
        assert row.token_hash == token_digest(token) != token  # only the hash is kept

    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert me.get_json() == {"id": uid, "login": "ann", "name": "Ann",
                             "roles": ["kt_clerk", "kt_viewer"]}

    assert client.get("/api/v1/me").status_code == 401
    for body in (["ann", "correct horse 42"], "ann"):  # JSON, but not an object: no 500
        wrong = client.post("/api/v1/auth/token", json=body)
        assert wrong.status_code == 422 and "_body" in wrong.get_json()["error"]["fields"]
    cut = client.post("/api/v1/auth/token", data='{"login": "ann"', content_type="application/json")
    assert cut.status_code == 422 and "not valid JSON" in cut.get_json()["error"]["fields"]["_body"][0]
    assert client.get("/api/v1/me", headers={"Authorization": "Bearer sf_forged"}).status_code == 401
    with sf.transaction() as env:
        env.search("res.api_token")[0].revoked = True
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_an_addon_endpoint_runs_with_the_users_rights(make_sf, make_client, users):
    """kt_ext's ApiBlueprint: access, record rules and refusals become HTTP answers."""
    sf = make_sf(KT_EXT)
    users(sf, bob=["kt_clerk"], vera=["kt_viewer"])
    add_user(sf, "ann", "kt_clerk")
    client = make_client(sf)
    ann, bob, vera = token_for(sf, "ann"), token_for(sf, "bob"), token_for(sf, "vera")

    created = client.post("/api/v1/kt/docs", headers=ann,
                          json={"name": "API doc", "amount": "120.00", "discount": "20.00"})
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert (body["state"], body["total"]) == ("draft", "100.00")
    assert created.headers["ETag"] == '"1"'

    bad = client.post("/api/v1/kt/docs", headers=ann, json={"name": "x", "amount": "lots"})
    assert bad.status_code == 422 and "amount" in bad.get_json()["error"]["fields"]
    forbidden = client.post("/api/v1/kt/docs", headers=vera, json={"name": "x", "amount": "1"})
    assert forbidden.status_code == 403
    assert client.get(f"/api/v1/kt/docs/{body['id']}", headers=bob).status_code == 404  # not bob's
    assert client.get(f"/api/v1/kt/docs/{body['id']}", headers=vera).status_code == 200

    refused = client.post(f"/api/v1/kt/docs/{body['id']}/confirm", headers=ann, json={})
    assert refused.status_code == 409
    assert refused.get_json()["error"]["reasons"] == ["a reference is required (kt_ext)"]
    assert client.get(f"/api/v1/kt/docs/{body['id']}", headers=ann).get_json()["state"] == "draft"
    cancelled = client.post(f"/api/v1/kt/docs/{body['id']}/cancel", headers=ann,
                            json={"comment": "duplicate"})
    assert cancelled.status_code == 200 and cancelled.get_json()["dest"] == "cancelled"

    openapi = client.get("/api/v1/openapi.json").get_json()
    assert "/api/v1/kt/docs/{doc_id}" in openapi["paths"]
    # Flask's own refusals under /api/v1 answer in the API's JSON shape
    missing = client.get("/api/v1/kt/docs/abc", headers=ann)
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "not_found"
    wrong = client.delete("/api/v1/me", headers=ann)
    assert wrong.status_code == 405 and wrong.get_json()["error"]["code"] == "method_not_allowed"
    assert "GET" in wrong.headers["Allow"]
    assert client.get("/api/v1/nowhere").get_json()["error"]["code"] == "not_found"
    # the kernel's own endpoints are documented as an addon's are
    token, me = openapi["paths"]["/api/v1/auth/token"]["post"], openapi["paths"]["/api/v1/me"]["get"]
    assert "security" not in token and "201" in token["responses"] and "requestBody" in token
    assert me["security"] == [{"bearer": []}] and "200" in me["responses"]


# -- model access ----------------------------------------------------------------------------


def test_model_access_refuses_what_a_role_does_not_grant(make_sf, new_doc, users):
    sf = make_sf(KT)
    ids = users(sf, vera=["kt_viewer"], clerk=["kt_clerk"], nobody=[])
    doc_id = new_doc(sf, owner=ids["clerk"], name="original", amount="10.00")

    with sf.transaction(ids["vera"]) as env:
        assert env.get("kt.doc", doc_id).name == "original"  # read: granted
        assert (env.can("kt.doc", "read"), env.can("kt.doc", "write")) == (True, False)
    attempts = {
        "create": lambda env: env.create("kt.doc", name="new", amount=Decimal("1")),
        "write": lambda env: env.write(env.get("kt.doc", doc_id), name="changed"),
        "write (attribute)": lambda env: setattr(env.get("kt.doc", doc_id), "name", "changed"),
        "delete": lambda env: env.delete(env.get("kt.doc", doc_id)),
    }
    for operation, attempt in attempts.items():
        with pytest.raises(AccessDenied, match=f"you may not {operation.split()[0]} kt.doc"):
            with sf.transaction(ids["vera"]) as env:
                attempt(env)
    with pytest.raises(AccessDenied, match="you may not delete kt.doc"):
        with sf.transaction(ids["clerk"]) as env:  # a clerk may write but not delete
            env.delete(env.get("kt.doc", doc_id))
    with pytest.raises(AccessDenied, match="you may not read kt.doc"):
        with sf.transaction(ids["nobody"]) as env:
            env.search("kt.doc")

    with sf.transaction() as env:
        assert [(d.name, d.amount) for d in env.search("kt.doc")] == [("original", Decimal("10.00"))]


def test_admin_and_sudo_pass_access_checks(make_sf, new_doc, users):
    sf = make_sf(KT)
    ids = users(sf, root=["admin"], nobody=[])
    doc_id = new_doc(sf)
    with sf.transaction(ids["root"]) as env:
        env.write(env.get("kt.doc", doc_id), name="by admin")
    with sf.transaction(ids["nobody"]) as env:
        with env.sudo():
            assert env.get("kt.doc", doc_id).name == "by admin"
        with pytest.raises(AccessDenied):
            env.search("kt.doc")


# -- record rules ----------------------------------------------------------------------------


@pytest.fixture
def two_clerks(make_sf, new_doc, users):
    sf = make_sf(KT)
    ids = users(sf, ann=["kt_clerk"], bob=["kt_clerk"], max=["kt_manager"],
                lead=["kt_clerk", "kt_manager"])
    docs = {
        "ann": new_doc(sf, ids["ann"], name="ann 1"),
        "bob": new_doc(sf, ids["bob"], name="bob 1"),
        "bob2": new_doc(sf, ids["bob"], name="bob 2"),
    }
    return sf, ids, docs


def test_record_rules_filter_searches(two_clerks):
    sf, ids, docs = two_clerks
    for login, expected in [("ann", ["ann 1"]), ("bob", ["bob 1", "bob 2"]),
                            ("max", ["ann 1", "bob 1", "bob 2"]),
                            ("lead", ["ann 1", "bob 1", "bob 2"])]:
        with sf.transaction(ids[login]) as env:
            assert [d.name for d in env.search("kt.doc")] == expected, login


def test_a_hidden_record_is_not_found(two_clerks):
    sf, ids, docs = two_clerks
    with sf.transaction(ids["ann"]) as env:
        assert env.get("kt.doc", docs["ann"]).name == "ann 1"
        with pytest.raises(NotFound, match=f"kt.doc {docs['bob']} not found"):
            env.get("kt.doc", docs["bob"])
        with pytest.raises(NotFound):
            env.get("kt.doc", 999_999)  # hidden and missing look the same
        # an id from a URL is text: the same answers, on PostgreSQL too
        assert env.get("kt.doc", str(docs["ann"])).name == "ann 1"
        for bad in (str(docs["bob"]), "x1", None):
            with pytest.raises(NotFound):
                env.get("kt.doc", bad)
        with env.sudo():
            assert env.get("kt.doc", docs["bob"]).name == "bob 1"


def test_record_rules_apply_to_raw_selects_through_the_session(two_clerks):
    sf, ids, docs = two_clerks
    with sf.transaction(ids["ann"]) as env:
        Doc, User = env["kt.doc"], env["res.user"]
        session = env.session
        assert session.scalars(select(Doc.name)).all() == ["ann 1"]
        assert session.scalars(select(Doc).where(Doc.name.like("bob%"))).all() == []
        assert session.scalar(select(func.count()).select_from(Doc)) == 1
        assert session.scalar(select(func.count(Doc.id))) == 1
        assert session.scalar(select(func.sum(Doc.amount))) == Decimal("10.00")
        # joins and subqueries see only the visible rows too
        assert session.scalars(select(User.login).join(Doc, Doc.owner_id == User.id)).all() == ["ann"]
        owners = select(Doc.owner_id).scalar_subquery()
        assert session.scalars(select(User.login).where(User.id.in_(owners))).all() == ["ann"]
