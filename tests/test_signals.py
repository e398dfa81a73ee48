"""Signals are after-the-fact news: sent after the commit, never for a rolled-back transaction."""

from __future__ import annotations

import gc
import importlib
from decimal import Decimal

import pytest

from core import signals

KT_EXT = ["kt_doc", "kt_ext"]


def heard(sf) -> list[tuple]:
    """What kt_ext's receiver heard from this app (without the sender)."""
    module = importlib.import_module("kt_ext.signals")
    return [entry[1:] for entry in module.RECEIVED if entry[0]() is sf]


def test_record_transitioned_is_sent_only_after_the_commit(make_sf, new_doc, users):
    sf = make_sf(KT_EXT)
    ids = users(sf, clerk=["kt_clerk"])
    doc_id = new_doc(sf, ids["clerk"], reference="R-1")
    with sf.transaction(ids["clerk"]) as env:
        env.get("kt.doc", doc_id).fire("confirm")
        assert heard(sf) == []  # not yet: the transaction may still roll back
    assert heard(sf) == [("kt.doc", doc_id, "confirm", "draft", "confirmed", ids["clerk"])]


def test_no_signal_when_the_transaction_rolls_back(make_sf, new_doc):
    sf = make_sf(KT_EXT)
    doc_id = new_doc(sf, reference="R-1")
    with pytest.raises(RuntimeError, match="changed my mind"):
        with sf.transaction() as env:
            env.get("kt.doc", doc_id).fire("confirm")
            raise RuntimeError("changed my mind")
    assert heard(sf) == []
    with sf.transaction() as env:
        assert env.get("kt.doc", doc_id).state == "draft"


def test_no_signal_when_a_done_hook_aborts_the_transition(make_sf, new_doc):
    sf = make_sf(KT_EXT)
    doc_id = new_doc(sf, name="explode", reference="R-1")
    with pytest.raises(RuntimeError):
        with sf.transaction() as env:
            env.get("kt.doc", doc_id).fire("confirm")
    assert heard(sf) == []


def test_two_apps_do_not_hear_each_other(make_sf, new_doc):
    first = make_sf(KT_EXT)
    second = make_sf(KT_EXT, create=False)  # same database, another app
    doc_id = new_doc(first, reference="R-1")
    with first.transaction() as env:
        env.get("kt.doc", doc_id).fire("confirm")
    with second.transaction() as env:
        env.get("kt.doc", doc_id).fire("hold")
    assert [e[2] for e in heard(first)] == ["confirm"]
    assert [e[2] for e in heard(second)] == ["hold"]


def test_receivers_survive_garbage_collection(make_sf, new_doc):
    """Receivers are module-level functions: blinker's weak references keep working."""
    sf = make_sf(KT_EXT)
    gc.collect()
    receiver = importlib.import_module("kt_ext.signals").on_transitioned
    assert receiver in list(signals.record_transitioned.receivers_for(sf))
    doc_id = new_doc(sf, reference="R-1")
    with sf.transaction() as env:
        env.get("kt.doc", doc_id).fire("confirm")
    assert len(heard(sf)) == 1


# -- record_created, record_changed ------------------------------------------------------------

HEARD: list[tuple[str, dict]] = []


def on_created(sender, **kw):
    HEARD.append(("created", kw))


def on_changed(sender, **kw):
    HEARD.append(("changed", kw))


def test_record_created_and_changed_are_sent_after_the_commit(make_sf, users):
    sf = make_sf(KT_EXT)
    ids = users(sf, clerk=["kt_clerk"])
    signals.record_created.connect(on_created, sender=sf)
    signals.record_changed.connect(on_changed, sender=sf)
    HEARD.clear()
    try:
        with sf.transaction(ids["clerk"]) as env:
            doc = env.create("kt.doc", name="news", amount=Decimal("10.00"), owner_id=ids["clerk"])
            env.write(doc, amount=Decimal("12.00"))
            assert HEARD == []
        base = {"record_name": "kt.doc", "record_id": doc.id, "user_id": ids["clerk"]}
        assert HEARD == [("created", base),
                         ("changed", {**base, "changes": {"amount": (Decimal("10.00"),
                                                                     Decimal("12.00"))}})]
        HEARD.clear()
        with pytest.raises(RuntimeError):
            with sf.transaction(ids["clerk"]) as env:
                env.create("kt.doc", name="never", amount=Decimal("1"), owner_id=ids["clerk"])
                env.write(env.get("kt.doc", doc.id), name="never either")
                raise RuntimeError("roll back")
        assert HEARD == []
    finally:
        signals.record_created.disconnect(on_created, sender=sf)
        signals.record_changed.disconnect(on_changed, sender=sf)
