"""The kernel's panel door (``core.web.Panel``): an addon adds a panel to another addon's record
page without replacing it. kt_ext adds two panels to kt_doc's ``kt.doc`` page: "Manager
review" (role kt_manager; left out when the document has no amount) and "Stamps" (readers of
kt_ext's ``kt.stamp``). Each DB test runs on SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal

import pytest
from werkzeug.security import generate_password_hash

from core.errors import AddonError
from core.testing import add_user
from core.web import Panel, ViewRegistry, Views
from core.web.testing import web_login


@pytest.fixture(autouse=True)
def fast_passwords(monkeypatch):
    import core.base.models

    monkeypatch.setattr(core.base.models, "hash_password",
                        lambda password: generate_password_hash(password, method="pbkdf2:sha256:1"))


def _page(make_client, sf, login: str, path: str) -> str:
    client = make_client(sf)
    assert web_login(client, login).status_code == 302
    resp = client.get(path)
    assert resp.status_code == 200, (login, path, resp.status_code)
    return resp.get_data(as_text=True)


def test_panel_shows_only_with_its_addon_and_to_allowed_users(make_sf, make_client):
    sf = make_sf(["kt_doc", "kt_ext"])
    ann = add_user(sf, "ann", "kt_clerk")
    for login, role in (("max", "kt_manager"), ("dina", "kt_director"), ("root", "admin")):
        add_user(sf, login, role)
    with sf.transaction(ann) as env:
        doc = env.create("kt.doc", name="D1", amount=Decimal("10"), owner_id=ann,
                         reference="R-1")
        env.get("kt.doc", doc.id).fire("confirm")  # kt_ext stamps the transition
        doc, empty = doc.id, env.create("kt.doc", name="D0", amount=Decimal("0"), owner_id=ann).id
    path = f"/r/kt.doc/{doc}"

    manager = _page(make_client, sf, "max", path)
    assert 'id="panel-kt_review"' in manager and "Amount to review" in manager
    assert 'id="panel-kt_stamps"' in manager
    assert "<dt>Stamped transitions</dt><dd>1</dd>" in manager
    # in order (10 before 20), in the side column after the workflow panel
    assert manager.index("Workflow") < manager.index("panel-kt_review") < manager.index("panel-kt_stamps")

    director = _page(make_client, sf, "dina", path)  # reads kt.stamp, not a manager
    assert 'id="panel-kt_stamps"' in director and 'id="panel-kt_review"' not in director

    clerk = _page(make_client, sf, "ann", path)  # neither the role nor read access to kt.stamp
    assert "panel-kt_" not in clerk and "Stamped transitions" not in clerk

    admin = _page(make_client, sf, "root", path)
    assert 'id="panel-kt_review"' in admin and 'id="panel-kt_stamps"' in admin

    # load() returning None: nothing to show
    manager = _page(make_client, sf, "max", f"/r/kt.doc/{empty}")
    assert 'id="panel-kt_review"' not in manager and 'id="panel-kt_stamps"' in manager

    # kt_ext disabled (same database): kt_doc's page without kt_ext's panels
    alone = make_sf(["kt_doc"], create=False)
    page = _page(make_client, alone, "max", path)
    assert "D1" in page and "panel-kt_" not in page and "Stamped transitions" not in page


def test_panel_declarations_are_checked_and_replaced_by_key():
    registry = ViewRegistry()
    first = Panel("kt.doc", "info", "Info", order=5)
    registry.add("kt_doc", Views(panels=[first, Panel("kt.doc", "more", "More", order=1)]), {"kt.doc"})
    later = Panel("kt.doc", "info", "Info (extended)", order=5)
    registry.add("kt_ext", Views(panels=[later]), {"kt.doc"})
    assert [p.title for p in registry.panels_for("kt.doc")] == ["More", "Info (extended)"]
    assert registry.origin["panel:kt.doc:info"] == "kt_ext"
    with pytest.raises(AddonError, match="unknown record 'kt.nope'"):
        registry.add("x", Views(panels=[Panel("kt.nope", "p", "P")]), {"kt.doc"})
    with pytest.raises(AddonError, match="needs unknown records"):
        registry.add("x", Views(panels=[Panel("kt.doc", "p", "P", records=("kt.nope",))]), {"kt.doc"})
    with pytest.raises(ValueError, match="unknown place"):
        Panel("kt.doc", "p", "P", place="top")
