"""The workflow engine on kt.doc: refusals with every reason, the log, patches, the machine."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import delete, func, select, update

from core.errors import ImmutableRecord, TransitionBlocked, ValidationError
from core.plugins import hookimpl

KT = ["kt_doc"]
KT_EXT = ["kt_doc", "kt_ext"]


def snapshot(sf, doc_id) -> tuple:
    """The stored row, re-read in a new transaction."""
    with sf.transaction() as env:
        doc = env.get("kt.doc", doc_id)
        return doc.state, doc.amount, doc.version


def log_rows(sf, doc_id) -> list[tuple]:
    with sf.transaction() as env:
        Log = env["workflow.log"]
        rows = env.session.scalars(select(Log).where(Log.record == "kt.doc", Log.record_id == doc_id)
                                   .order_by(Log.id))
        return [(r.trigger, r.source, r.dest, r.user_id, r.comment) for r in rows]


def test_a_document_goes_through_its_patched_workflow(make_sf, new_doc, users):
    sf = make_sf(KT_EXT)
    ids = users(sf, clerk=["kt_clerk"], max=["kt_manager"], dora=["kt_director"])
    doc_id = new_doc(sf, ids["clerk"], amount="250.00", reference="R-1")
    steps = [("clerk", "confirm", "confirmed"), ("max", "hold", "on_hold"),
             ("max", "resume", "confirmed"), ("dora", "check", "checked"),
             ("max", "finish", "done")]
    for login, trigger, dest in steps:
        with sf.transaction(ids[login]) as env:
            outcome = env.get("kt.doc", doc_id).fire(trigger)
            assert (outcome.done, outcome.dest) == (True, dest)
    assert snapshot(sf, doc_id)[0] == "done"
    assert [(t, s, d) for t, s, d, _, _ in log_rows(sf, doc_id)] == [
        ("confirm", "draft", "confirmed"), ("hold", "confirmed", "on_hold"),
        ("resume", "on_hold", "confirmed"), ("check", "confirmed", "checked"),
        ("finish", "checked", "done")]


def test_a_transition_writes_a_log_row(make_sf, new_doc, users):
    sf = make_sf(KT_EXT)
    ids = users(sf, clerk=["kt_clerk"])
    doc_id = new_doc(sf, ids["clerk"], reference="R-1")
    before = dt.datetime.now(dt.UTC)
    with sf.transaction(ids["clerk"]) as env:
        env.get("kt.doc", doc_id).fire("cancel", comment="customer withdrew")
    with sf.transaction() as env:
        (row,) = env.search("workflow.log")
        assert (row.record, row.record_id, row.trigger, row.source, row.dest) == (
            "kt.doc", doc_id, "cancel", "draft", "cancelled")
        assert (row.user_id, row.comment) == (ids["clerk"], "customer withdrew")
        at = row.at if row.at.tzinfo else row.at.replace(tzinfo=dt.UTC)  # SQLite drops the zone
        assert before - dt.timedelta(seconds=5) <= at <= dt.datetime.now(dt.UTC)


# -- refusals --------------------------------------------------------------------------------


def test_a_trigger_from_the_wrong_state_is_refused(make_sf, new_doc, users):
    sf = make_sf(KT_EXT)
    ids = users(sf, max=["kt_manager"])
    doc_id = new_doc(sf, ids["max"])
    before = snapshot(sf, doc_id)
    with sf.transaction(ids["max"]) as env:
        with pytest.raises(TransitionBlocked) as err:
            env.get("kt.doc", doc_id).fire("finish")
    assert err.value.trigger == "finish"
    # kt_ext's inserted step moved finish: it now leaves from checked only
    assert err.value.reasons == ["'finish' is not possible in state 'draft' (only from checked)"]
    assert snapshot(sf, doc_id) == before
    assert log_rows(sf, doc_id) == []


def test_a_refusal_carries_every_reason_and_changes_nothing(make_sf, new_doc, users):
    sf = make_sf(KT_EXT)
    ids = users(sf, vera=["kt_viewer"])
    doc_id = new_doc(sf, name="embargo 1", amount="0")
    before = snapshot(sf, doc_id)
    with sf.transaction(ids["vera"]) as env:
        doc = env.get("kt.doc", doc_id)
        with pytest.raises(TransitionBlocked) as err:
            doc.fire("confirm")
    assert err.value.reasons == [
        "'confirm' needs one of the roles kt_clerk, kt_manager, kt_director",  # role missing
        "the amount must be positive",  # kt_doc's guard
        "a reference is required (kt_ext)",  # the guard kt_ext added to confirm
        "kt_doc: 'embargo 1' is under embargo",  # a blocker hook
    ]
    assert str(err.value).startswith(f"confirm refused on kt.doc {doc_id}: ")
    assert snapshot(sf, doc_id) == before
    assert log_rows(sf, doc_id) == []


def test_a_trigger_that_needs_a_comment_says_so(make_sf, new_doc, users):
    sf = make_sf(KT)
    ids = users(sf, clerk=["kt_clerk"])
    doc_id = new_doc(sf, ids["clerk"])
    with sf.transaction(ids["clerk"]) as env:
        with pytest.raises(TransitionBlocked) as err:
            env.get("kt.doc", doc_id).fire("cancel", comment="  ")
    assert err.value.reasons == ["'cancel' needs a comment saying why"]
    assert snapshot(sf, doc_id)[0] == "draft"


def test_firing_without_write_access_is_refused(make_sf, new_doc, users):
    sf = make_sf(KT)
    ids = users(sf, vera=["kt_viewer"])
    doc_id = new_doc(sf)
    with sf.transaction(ids["vera"]) as env:
        with pytest.raises(TransitionBlocked) as err:
            env.get("kt.doc", doc_id).fire("cancel", comment="not mine to cancel")
    assert err.value.reasons == ["you may not change kt.doc"]
    assert snapshot(sf, doc_id)[0] == "draft"


def test_an_unknown_trigger_is_refused(make_sf, new_doc):
    sf = make_sf(KT)
    doc_id = new_doc(sf)
    with sf.transaction() as env:
        with pytest.raises(TransitionBlocked) as err:
            env.get("kt.doc", doc_id).fire("fly")
    assert err.value.reasons == ["kt.doc has no trigger 'fly'"]


def test_the_state_changes_only_through_the_workflow(make_sf, new_doc):
    sf = make_sf(KT)
    doc_id = new_doc(sf, amount="5.00")
    with pytest.raises(ValidationError) as err:
        with sf.transaction() as env:
            env.get("kt.doc", doc_id).state = "done"
    assert err.value.errors == {"state": ["the state of kt.doc changes only through its workflow triggers"]}
    with pytest.raises(ValidationError):
        with sf.transaction() as env:
            env.write(env.get("kt.doc", doc_id), state="confirmed")
    with pytest.raises(ValidationError) as err:
        with sf.transaction() as env:
            env.create("kt.doc", name="born done", amount=Decimal("1"), state="done")
    assert err.value.errors == {"state": ["a new kt.doc starts in state 'draft'"]}
    assert snapshot(sf, doc_id)[0] == "draft"
    with sf.transaction() as env:
        assert env.session.scalar(select(func.count()).select_from(env["kt.doc"])) == 1


def test_the_log_cannot_be_changed_or_deleted_through_the_app(make_sf, new_doc):
    sf = make_sf(KT)
    doc_id = new_doc(sf)
    with sf.transaction() as env:
        env.get("kt.doc", doc_id).fire("cancel", comment="original")
    attempts = [
        lambda env, row: setattr(row, "comment", "rewritten"),
        lambda env, row: setattr(row, "dest", "done"),
        lambda env, row: env.session.delete(row),
        lambda env, row: env.session.execute(update(type(row)).values(comment="bulk")),
        lambda env, row: env.session.execute(delete(type(row))),
    ]
    for attempt in attempts:
        with pytest.raises(ImmutableRecord):
            with sf.transaction() as env:  # even the system itself
                (row,) = env.search("workflow.log")
                attempt(env, row)
                env.session.flush()
    assert log_rows(sf, doc_id) == [("cancel", "draft", "cancelled", None, "original")]


# -- asking before firing ---------------------------------------------------------------------


def test_blockers_and_available_triggers_answer_without_writing(make_sf, new_doc, users):
    sf = make_sf(KT_EXT)
    ids = users(sf, clerk=["kt_clerk"], max=["kt_manager"])
    doc_id = new_doc(sf, ids["clerk"])
    with sf.transaction(ids["clerk"]) as env:
        doc = env.get("kt.doc", doc_id)
        assert env.blockers(doc, "confirm") == ["a reference is required (kt_ext)"]
        assert env.blockers(doc, "finish") == [
            "'finish' is not possible in state 'draft' (only from checked)"]
        # cancel is possible (with a comment, which the user is asked for)
        assert env.available_triggers(doc) == {
            "confirm": ["a reference is required (kt_ext)"], "cancel": []}
        assert not env.session.new and not env.session.dirty
        env.write(doc, reference="R-9")
        assert env.blockers(doc, "confirm") == []
        doc.fire("confirm")
    with sf.transaction(ids["max"]) as env:
        doc = env.get("kt.doc", doc_id)
        assert env.available_triggers(doc) == {
            "cancel": [], "hold": [], "check": ["'check' needs one of the roles kt_director"]}
    assert len(log_rows(sf, doc_id)) == 1


# -- the compiled machine --------------------------------------------------------------------


def test_the_machine_has_no_shortcuts_and_binds_no_rows(make_sf, new_doc):
    sf = make_sf(KT_EXT)
    wf = sf.workflows["kt.doc"]
    machine = wf.machine
    assert sorted(machine.events) == sorted(
        ["confirm", "finish", "cancel", "reopen", "hold", "resume", "check"])
    assert not [name for name in machine.events if name.startswith("to_")]
    doc_id = new_doc(sf, reference="R-1")
    with sf.transaction() as env:
        env.get("kt.doc", doc_id).fire("confirm")
    with sf.transaction() as env:
        doc = env.get("kt.doc", doc_id)
        assert doc.state == "confirmed"  # a loaded row keeps its state (never reset to initial)
        for name in ("to_done", "may_confirm", "is_draft", "confirm", "trigger"):
            assert not hasattr(doc, name), name
    assert machine.models == []


def test_patches_are_merged_in_addon_order(make_sf):
    plain = make_sf(KT).workflows["kt.doc"].markup()
    patched = make_sf(KT_EXT, create=False).workflows["kt.doc"].markup()
    assert plain["states"] == ["draft", "confirmed", "done", "cancelled"]
    assert patched["states"] == ["draft", "confirmed", "done", "cancelled", "on_hold", "checked"]
    by_trigger = {t["trigger"]: t for t in patched["transitions"]}
    assert by_trigger["confirm"]["guards"] == ["amount_positive", "has_reference"]  # Extend
    assert (by_trigger["check"]["source"], by_trigger["check"]["dest"]) == (["confirmed"], "checked")
    assert by_trigger["finish"]["source"] == ["checked"]  # insert_step rerouted it
    assert by_trigger["finish"]["roles"] == ["kt_manager"]  # the original roles stay
    assert {t["trigger"]: t["source"] for t in plain["transitions"]}["finish"] == ["confirmed"]
    assert patched["contributed_by"] == ["kt_ext"]


# -- fire_many: many records, one step, all or nothing -----------------------------------------


def test_fire_many_moves_every_record_and_logs_each(make_sf, new_doc, users):
    sf = make_sf(KT)
    ids = users(sf, clerk=["kt_clerk"])
    docs = [new_doc(sf, ids["clerk"], amount=f"{10 * (i + 1)}.00") for i in range(4)]
    sent = []

    def remember(sender, **kw):
        sent.append((kw["record_id"], kw["trigger"], kw["dest"]))

    from core import signals

    signals.record_transitioned.connect(remember)
    try:
        with sf.transaction(ids["clerk"]) as env:
            outcomes = env.fire_many([env.get("kt.doc", d) for d in docs], "confirm")
            assert [(o.done, o.source, o.dest) for o in outcomes] == [(True, "draft", "confirmed")] * 4
            assert sent == []  # news only after the commit
    finally:
        signals.record_transitioned.disconnect(remember)
    assert [snapshot(sf, d)[0] for d in docs] == ["confirmed"] * 4
    assert [log_rows(sf, d) for d in docs] == [[("confirm", "draft", "confirmed", ids["clerk"], None)]] * 4
    assert sent == [(d, "confirm", "confirmed") for d in docs]


def test_fire_many_refuses_all_when_one_is_refused_and_names_each(make_sf, new_doc, users):
    sf = make_sf(KT)
    ids = users(sf, clerk=["kt_clerk"])
    good = new_doc(sf, ids["clerk"], amount="5.00")
    bad = [new_doc(sf, ids["clerk"], amount="0"), new_doc(sf, ids["clerk"], amount="0")]
    docs = [good, *bad]
    before = [snapshot(sf, d) for d in docs]
    sent = []
    from core import signals

    def remember(sender, **kw):
        sent.append(kw["record_id"])

    signals.record_transitioned.connect(remember)
    try:
        with sf.transaction(ids["clerk"]) as env:
            with pytest.raises(TransitionBlocked) as err:
                env.fire_many([env.get("kt.doc", d) for d in docs], "confirm")
            # the transaction goes on, and the record moved before the refusal is back
            assert env.get("kt.doc", good).state == "draft"
    finally:
        signals.record_transitioned.disconnect(remember)
    assert err.value.refused == {1: ["the amount must be positive"], 2: ["the amount must be positive"]}
    assert err.value.reasons == [f"kt.doc {bad[0]}: the amount must be positive",
                                 f"kt.doc {bad[1]}: the amount must be positive"]
    assert [snapshot(sf, d) for d in docs] == before
    assert [log_rows(sf, d) for d in docs] == [[], [], []]
    assert sent == []  # nothing rolled back is announced


def test_fire_many_checks_each_record_after_the_ones_before_it_moved(make_sf, new_doc, users):
    """A guard reading the database sees the records moved earlier in the same call (a limit
    shared by the records cannot be passed by checking them all first)."""
    sf = make_sf(KT)
    ids = users(sf, clerk=["kt_clerk"])
    docs = [new_doc(sf, ids["clerk"], amount="1.00") for _ in range(3)]

    class AtMostTwoConfirmed:
        @hookimpl
        def workflow_transition_blockers(self, record, trigger, env):
            if trigger != "confirm":
                return []
            Doc = env["kt.doc"]
            confirmed = env.session.scalar(select(func.count()).select_from(Doc)
                                           .where(Doc.state == "confirmed"))
            return ["two are confirmed already"] if confirmed >= 2 else []

    sf.pm.register(AtMostTwoConfirmed(), name="test:two")
    with sf.transaction(ids["clerk"]) as env:
        with pytest.raises(TransitionBlocked) as err:
            env.fire_many([env.get("kt.doc", d) for d in docs], "confirm")
    assert err.value.refused == {2: ["two are confirmed already"]}
    assert [snapshot(sf, d)[0] for d in docs] == ["draft"] * 3
    with sf.transaction(ids["clerk"]) as env:
        env.fire_many([env.get("kt.doc", d) for d in docs[:2]], "confirm")
    assert [snapshot(sf, d)[0] for d in docs] == ["confirmed", "confirmed", "draft"]


def test_fire_many_of_nothing_does_nothing(make_sf):
    sf = make_sf(KT)
    with sf.transaction() as env:
        assert env.fire_many([], "confirm") == []


def test_hook_workflow_prefetch(make_sf, new_doc, users):
    """Called once per fire/fire_many with all the records, as the user, before any guard."""
    sf = make_sf(KT)
    ids = users(sf, clerk=["kt_clerk"])
    docs = [new_doc(sf, ids["clerk"], amount="3.00") for _ in range(3)]
    calls: list[tuple] = []

    class Prefetches:
        @hookimpl
        def workflow_prefetch(self, records, trigger, env):
            calls.append(("prefetch", [r.id for r in records], trigger, env.unrestricted))

        @hookimpl
        def workflow_transition_blockers(self, record, trigger):
            calls.append(("blockers", record.id))
            return []

    sf.pm.register(Prefetches(), name="test:prefetch")
    with sf.transaction(ids["clerk"]) as env:
        env.fire_many([env.get("kt.doc", d) for d in docs], "confirm")
    assert calls == [("prefetch", docs, "confirm", False), *[("blockers", d) for d in docs]]
    calls.clear()
    with sf.transaction(ids["clerk"]) as env:
        env.get("kt.doc", docs[0]).fire("cancel", comment="withdrawn")
    assert calls[0] == ("prefetch", [docs[0]], "cancel", False)
