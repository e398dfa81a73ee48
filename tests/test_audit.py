"""Audit history (who changed what, old and new values) and posted documents."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import update

from core.errors import ImmutableRecord, ValidationError

KT = ["kt_doc"]


def history(sf, doc_id) -> list[dict]:
    with sf.transaction() as env:
        return sf.audit.history(env, "kt.doc", doc_id)


def test_create_and_write_are_audited_with_old_and_new_values(make_sf, users):
    sf = make_sf(KT)
    ids = users(sf, ann=["kt_clerk"], max=["kt_manager"])
    with sf.transaction(ids["ann"]) as env:
        doc_id = env.create("kt.doc", name="first", amount=Decimal("10.00"), owner_id=ids["ann"]).id
    with sf.transaction(ids["max"]) as env:
        env.write(env.get("kt.doc", doc_id), amount=Decimal("25.50"), note="checked")
    created, changed = history(sf, doc_id)
    assert (created["action"], created["user_id"]) == ("create", ids["ann"])
    assert {k: created["changes"][k] for k in ("name", "amount", "state", "owner_id")} == {
        "name": [None, "first"], "amount": [None, "10.00"], "state": [None, "draft"],
        "owner_id": [None, ids["ann"]]}
    assert "version" not in created["changes"] and "created_at" not in created["changes"]
    assert (changed["action"], changed["user_id"]) == ("write", ids["max"])
    assert changed["changes"] == {"amount": ["10.00", "25.50"], "note": [None, "checked"]}


def test_a_transition_is_audited_as_a_state_change(make_sf, new_doc, users):
    sf = make_sf(KT)
    ids = users(sf, ann=["kt_clerk"])
    doc_id = new_doc(sf, ids["ann"])
    with sf.transaction(ids["ann"]) as env:
        env.get("kt.doc", doc_id).fire("confirm")
    last = history(sf, doc_id)[-1]
    assert (last["action"], last["user_id"], last["changes"]) == (
        "write", ids["ann"], {"state": ["draft", "confirmed"]})


def test_a_write_that_changes_nothing_is_not_audited(make_sf, new_doc):
    sf = make_sf(KT)
    doc_id = new_doc(sf, name="same")
    with sf.transaction() as env:
        env.write(env.get("kt.doc", doc_id), name="same")
    assert [h["action"] for h in history(sf, doc_id)] == ["create"]


def test_a_refused_change_leaves_no_audit_row(make_sf, new_doc):
    sf = make_sf(KT)
    doc_id = new_doc(sf)
    with pytest.raises(ValidationError, match="must not be negative"):
        with sf.transaction() as env:
            env.write(env.get("kt.doc", doc_id), amount=Decimal("-5"))
    assert [h["action"] for h in history(sf, doc_id)] == ["create"]


def test_audit_rows_cannot_be_changed(make_sf, new_doc):
    sf = make_sf(KT)
    new_doc(sf)
    with pytest.raises(ImmutableRecord):
        with sf.transaction() as env:
            env.search("audit.log")[0].action = "forged"
    with pytest.raises(ImmutableRecord):
        with sf.transaction() as env:
            env.session.delete(env.search("audit.log")[0])


# -- posted documents ------------------------------------------------------------------------


@pytest.fixture
def done_doc(make_sf, new_doc):
    sf = make_sf(KT)
    doc_id = new_doc(sf, name="posted", amount="99.00")
    with sf.transaction() as env:
        doc = env.get("kt.doc", doc_id)
        doc.fire("confirm")
        doc.fire("finish")
    return sf, doc_id


def stored(sf, doc_id) -> tuple:
    with sf.transaction() as env:
        doc = env.get("kt.doc", doc_id)
        return doc.name, doc.amount, doc.state, doc.note


def test_a_posted_document_refuses_changes(done_doc):
    sf, doc_id = done_doc
    with pytest.raises(ImmutableRecord) as err:
        with sf.transaction() as env:
            env.write(env.get("kt.doc", doc_id), amount=Decimal("1.00"), name="rewritten")
    assert str(err.value) == (f"kt.doc {doc_id} is posted; amount, name cannot change "
                              "(correct it by a reversing document)")
    with pytest.raises(ImmutableRecord, match=f"kt.doc {doc_id} cannot be deleted"):
        with sf.transaction() as env:
            env.delete(env.get("kt.doc", doc_id))
    with pytest.raises(ImmutableRecord, match="bulk update of kt.doc is not allowed"):
        with sf.transaction() as env:
            env.session.execute(update(env["kt.doc"]).values(amount=0))
    assert stored(sf, doc_id) == ("posted", Decimal("99.00"), "done", None)


def test_a_posted_document_keeps_its_mutable_fields_open(done_doc):
    sf, doc_id = done_doc
    with sf.transaction() as env:
        env.write(env.get("kt.doc", doc_id), note="paid late")
    assert stored(sf, doc_id) == ("posted", Decimal("99.00"), "done", "paid late")
    assert history(sf, doc_id)[-1]["changes"] == {"note": [None, "paid late"]}


def test_as_system_names_the_user_for_what_they_did_and_no_one_for_the_rest(make_sf, users):
    """``env.as_system()``: a clerk's change made before the block is the clerk's in the
    history even though nothing was flushed yet; the block's change names no user; after the
    block the clerk is the clerk again (roles included)."""
    sf = make_sf(KT)
    ids = users(sf, ann=["kt_clerk"])
    with sf.transaction(ids["ann"]) as env:
        doc = env.create("kt.doc", name="first", amount=Decimal("10.00"), owner_id=ids["ann"])
    with sf.transaction(ids["ann"]) as env:
        doc = env.get("kt.doc", doc.id)
        doc.name = "by ann"  # pending, not flushed
        with env.as_system():
            assert env.user_id is None and env.roles == frozenset()
            doc.note = "by the system"
        assert env.user_id == ids["ann"] and env.has_role("kt_clerk")
    _created, by_ann, by_system = history(sf, doc.id)
    assert (by_ann["user_id"], by_ann["changes"]) == (ids["ann"], {"name": ["first", "by ann"]})
    assert (by_system["user_id"], by_system["changes"]) == (None, {"note": [None, "by the system"]})


def test_a_value_cleared_while_unloaded_is_audited_and_checked_like_any_change(done_doc, new_doc):
    # an expired (or deferred) column set to None has no old value in its history: the stored
    # one is the old value, for the audit row and for a posted document's refusal
    sf, posted_id = done_doc
    doc_id = new_doc(sf, name="draft", note="keep me")
    with sf.transaction() as env:
        doc = env.get("kt.doc", doc_id)
        env.session.expire(doc, ["note"])
        doc.note = None
    assert stored(sf, doc_id) == ("draft", Decimal("10.00"), "draft", None)
    assert history(sf, doc_id)[-1]["changes"] == {"note": ["keep me", None]}
    with pytest.raises(ImmutableRecord, match=f"kt.doc {posted_id} is posted; amount cannot"):
        with sf.transaction() as env:
            doc = env.get("kt.doc", posted_id)
            env.session.expire(doc, ["amount"])
            doc.amount = None
    assert stored(sf, posted_id) == ("posted", Decimal("99.00"), "done", None)
