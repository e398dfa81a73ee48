"""Kernel hooks: one ``test_hook_<name>`` per hookspec (``test_meta.py`` checks), order, errors."""

from __future__ import annotations

import hashlib
import random
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from core.errors import AccessDenied, AddonError, TransitionBlocked, ValidationError
from core.plugins import hookimpl
from core.testing import TEST_ADDONS, approval_rule, make_engine

KT = ["kt_doc"]
KT_EXT = ["kt_doc", "kt_ext"]


def _count(sf, record, *criteria) -> int:
    with sf.transaction() as env:
        cls = env[record]
        return env.session.scalar(select(func.count()).select_from(cls).where(*criteria))


def test_hook_workflow_transition_blockers(make_sf, new_doc, users):
    sf = make_sf(KT_EXT, settings={"kt_ext": {"max_amount": "1000.00"}})
    ids = users(sf, clerk=["kt_clerk"])
    doc_id = new_doc(sf, owner=ids["clerk"], amount="1500.00", reference="R-1")
    with sf.transaction(ids["clerk"]) as env:
        doc = env.get("kt.doc", doc_id)
        assert env.blockers(doc, "confirm") == ["kt_ext: amount 1,500.00 is over the limit 1,000.00"]
        with pytest.raises(TransitionBlocked) as err:
            doc.fire("confirm")
        assert err.value.reasons == ["kt_ext: amount 1,500.00 is over the limit 1,000.00"]
    with sf.transaction(ids["clerk"]) as env:
        doc = env.get("kt.doc", doc_id)
        assert doc.state == "draft"
        env.write(doc, amount=Decimal("900.00"))
        assert doc.fire("confirm").dest == "confirmed"


def test_hooks_run_most_dependent_addon_first(make_sf, new_doc, users):
    """pluggy calls the last registered first; addons register in addon order."""
    sf = make_sf(KT_EXT, settings={"kt_ext": {"max_amount": "1000.00"}})
    ids = users(sf, clerk=["kt_clerk"])
    doc_id = new_doc(sf, owner=ids["clerk"], name="embargo 7", amount="5000.00",
                     reference="R-7")
    with sf.transaction(ids["clerk"]) as env:
        reasons = env.blockers(env.get("kt.doc", doc_id), "confirm")
    assert reasons == ["kt_ext: amount 5,000.00 is over the limit 1,000.00",
                       "kt_doc: 'embargo 7' is under embargo"]
    impls = [i.plugin_name for i in sf.pm.hook.workflow_transition_blockers.get_hookimpls()]
    assert impls == ["kt_doc:kt_doc.hooks", "kt_ext:kt_ext.hooks"]  # registration order


def test_hook_workflow_transition_done(make_sf, new_doc):
    sf = make_sf(KT_EXT)
    doc_id = new_doc(sf, reference="R-1")
    with sf.transaction() as env:
        doc = env.get("kt.doc", doc_id)
        doc.fire("confirm")
        Stamp = env["kt.stamp"]
        # same transaction: the hook's row is there before the commit
        assert [(s.trigger, s.dest) for s in env.session.scalars(select(Stamp))] == [
            ("confirm", "confirmed")]
    assert _count(sf, "kt.stamp") == 1


def test_a_raising_done_hook_aborts_the_whole_transition(make_sf, new_doc):
    sf = make_sf(KT_EXT)
    doc_id = new_doc(sf, name="explode", reference="R-1")
    with pytest.raises(RuntimeError, match="kt_ext refuses"):
        with sf.transaction() as env:
            env.get("kt.doc", doc_id).fire("confirm")
    with sf.transaction() as env:
        assert env.get("kt.doc", doc_id).state == "draft"
    assert _count(sf, "workflow.log") == 0
    assert _count(sf, "kt.stamp") == 0


def test_hook_settings_come_from_the_addon_config(make_sf, new_doc):
    sf = make_sf(KT_EXT, settings={"kt_ext": {"stamp": False}})
    doc_id = new_doc(sf, reference="R-1")
    with sf.transaction() as env:
        env.get("kt.doc", doc_id).fire("confirm")
    assert _count(sf, "kt.stamp") == 0


def test_hook_record_validate(make_sf, new_doc, users):
    sf = make_sf(KT_EXT)
    ids = users(sf, clerk=["kt_clerk"])
    with pytest.raises(ValidationError) as err:
        with sf.transaction(ids["clerk"]) as env:
            env.create("kt.doc", name="too generous", amount=Decimal("10"), discount=Decimal("11"))
    assert err.value.errors == {"discount": ["cannot exceed the amount"]}
    assert _count(sf, "kt.doc") == 0

    doc_id = new_doc(sf, ids["clerk"], amount="10.00", discount=Decimal("2"), owner_id=ids["clerk"])
    with pytest.raises(ValidationError) as err:
        with sf.transaction(ids["clerk"]) as env:
            env.write(env.get("kt.doc", doc_id), amount=Decimal("-1"))
    # the record's own validate() and every addon's hook answer together
    assert err.value.errors == {"amount": ["must not be negative"],
                                "discount": ["cannot exceed the amount"]}
    with sf.transaction() as env:
        assert env.get("kt.doc", doc_id).amount == Decimal("10.00")


def test_hook_record_rule_filters(make_sf, new_doc, users):
    sf = make_sf(KT)
    ids = users(sf, ann=["kt_clerk"], bob=["kt_clerk"], max=["kt_manager"])
    mine = new_doc(sf, ids["ann"], name="ann's", owner_id=ids["ann"])
    new_doc(sf, ids["bob"], name="bob's", owner_id=ids["bob"])
    with sf.transaction(ids["ann"]) as env:
        assert [d.id for d in env.search("kt.doc")] == [mine]
        assert len(env.rule_criteria(env["kt.doc"])) == 1
        assert env.rule_criteria(env["res.user"]) == []
    with sf.transaction(ids["max"]) as env:
        assert [d.name for d in env.search("kt.doc")] == ["ann's", "bob's"]


def test_record_rules_bound_writing_too(make_sf, new_doc, users):
    """What a user creates or changes must pass their rules afterwards: a clerk can neither
    create a document for bob nor hand hers to him; refused, nothing is written."""
    sf = make_sf(KT)
    ids = users(sf, ann=["kt_clerk"], bob=["kt_clerk"], max=["kt_manager"])
    with pytest.raises(AccessDenied, match="record rules"):
        new_doc(sf, ids["ann"], name="for bob", owner_id=ids["bob"])
    assert _count(sf, "kt.doc") == 0
    mine = new_doc(sf, ids["ann"], name="ann's", owner_id=ids["ann"])
    with pytest.raises(AccessDenied, match=f"kt.doc {mine}"):
        with sf.transaction(ids["ann"]) as env:
            env.write(env.get("kt.doc", mine), name="renamed", owner_id=ids["bob"])
    with sf.transaction() as env:
        doc = env.get("kt.doc", mine)
        assert (doc.name, doc.owner_id) == ("ann's", ids["ann"])
    # a manager has no rule: hands it over; a change inside the rules passes
    with sf.transaction(ids["max"]) as env:
        env.write(env.get("kt.doc", mine), owner_id=ids["bob"])
    with sf.transaction(ids["bob"]) as env:
        env.write(env.get("kt.doc", mine), name="bob's now")


def test_hook_approval_fingerprint(make_sf, new_doc, users):
    """By default any change voids an approval; an addon may narrow what an approval covers."""
    rule = approval_rule("kt.doc", "confirm", [("100", "kt_manager"), ("1000", "kt_director")],
                         amount_field="amount")
    sf = make_sf(KT, approvals=[rule])
    ids = users(sf, max=["kt_manager"], dora=["kt_director"])
    doc_id = new_doc(sf, name="first name", amount="5000.00")
    with sf.transaction(ids["max"]) as env:
        assert not env.get("kt.doc", doc_id).fire("confirm").done
    with sf.transaction() as env:
        env.write(env.get("kt.doc", doc_id), note="a note changes the default fingerprint")
    with sf.transaction(ids["dora"]) as env:
        assert env.blockers(env.get("kt.doc", doc_id), "confirm") == [
            "needs approval by kt_manager (amount 5,000.00 over 100.00)"]

    class AmountOnly:
        """An addon whose approvals cover the amount only."""

        @hookimpl
        def approval_fingerprint(self, record, env):
            return hashlib.sha256(format(record.amount.normalize(), "f").encode()).hexdigest()

    sf.pm.register(AmountOnly(), name="test:amount-only")
    try:
        with sf.transaction(ids["max"]) as env:
            assert not env.get("kt.doc", doc_id).fire("confirm").done
        with sf.transaction() as env:
            env.write(env.get("kt.doc", doc_id), note="the note no longer matters", name="renamed")
        with sf.transaction(ids["dora"]) as env:
            assert env.get("kt.doc", doc_id).fire("confirm").done
    finally:
        sf.pm.unregister(name="test:amount-only")


def test_hook_approval_amount(make_sf, new_doc, users):
    """An addon answers the amount the thresholds weigh (e.g. converted to the company
    currency); a ValidationError there refuses the trigger, saying why, and changes nothing."""
    rule = approval_rule("kt.doc", "confirm", [("100", "kt_manager")], amount_field="amount")
    sf = make_sf(KT, approvals=[rule])
    ids = users(sf, clerk=["kt_clerk"])
    doc_id = new_doc(sf, ids["clerk"], name="small", amount="50.00")

    class TenfoldThenUnknown:
        unknown = False

        @hookimpl
        def approval_amount(self, record, field, env):
            if self.unknown:
                raise ValidationError({"currency": ["no rate for XYZ"]})
            return getattr(record, field) * 10

    plugin = TenfoldThenUnknown()
    sf.pm.register(plugin, name="test:tenfold")
    try:
        with sf.transaction(ids["clerk"]) as env:
            assert env.blockers(env.get("kt.doc", doc_id), "confirm") == [
                "needs approval by kt_manager (amount 500.00 over 100.00)"]
        plugin.unknown = True
        with sf.transaction(ids["clerk"]) as env, pytest.raises(TransitionBlocked) as refused:
            env.get("kt.doc", doc_id).fire("confirm")
        assert refused.value.reasons == ["cannot weigh the amount: no rate for XYZ"]
    finally:
        sf.pm.unregister(name="test:tenfold")
    with sf.transaction(ids["clerk"]) as env:  # the kernel's default: the field itself
        doc = env.get("kt.doc", doc_id)
        assert doc.state == "draft" and doc.fire("confirm").done


def test_hook_app_configured(make_sf, make_client):
    sf = make_sf(KT_EXT)
    client = make_client(sf)
    app = client.application
    assert app.config["KT_EXT_ADDONS"] == ["base", "kt_doc", "kt_ext"]
    assert app.jinja_env.globals["kt_ext_enabled"]() is True
    assert client.get("/api/v1/").get_json()["addons"] == ["base", "kt_doc", "kt_ext"]


def test_hook_demo_data(make_sf):
    sf = make_sf(KT, settings={"kt_doc": {"prefix": "D-", "demo_count": 2}})
    with sf.transaction() as env:
        sf.pm.hook.demo_data(env=env, rng=random.Random(7))
    with sf.transaction() as env:
        docs = env.search("kt.doc")
        assert [d.name for d in docs] == ["D-001", "D-002"]
        assert all(d.state == "draft" and d.amount > 0 for d in docs)
        first = [d.amount for d in docs]
    # seeded: the same seed gives the same data
    other = make_sf(KT, settings={"kt_doc": {"prefix": "E-", "demo_count": 2}}, create=False)
    with other.transaction() as env:
        other.pm.hook.demo_data(env=env, rng=random.Random(7))
        assert [d.amount for d in env.search("kt.doc", env["kt.doc"].name.like("E-%"))] == first


# -- startup errors --------------------------------------------------------------------------


def test_an_unknown_hook_name_is_refused_at_startup(make_sf, tmp_addons):
    root = tmp_addons("kt_tmp_typo", depends=["kt_doc"], provides='hooks = ["hooks"]', files={
        "hooks.py": """
            from core.plugins import hookimpl


            @hookimpl
            def workflow_transition_blokers(record, env):
                return ["never asked"]
        """})
    with pytest.raises(AddonError) as err:
        make_sf(["kt_doc", "kt_tmp_typo"], addons_path=(TEST_ADDONS, root))
    assert "addon 'kt_tmp_typo'" in str(err.value)
    assert "unknown hook 'workflow_transition_blokers'" in str(err.value)


def test_a_misspelt_hook_argument_is_refused_at_startup(make_sf, tmp_addons):
    root = tmp_addons("kt_tmp_arg", provides='hooks = ["hooks"]', files={
        "hooks.py": """
            from core.plugins import hookimpl


            @hookimpl
            def record_validate(record, envv):
                return {}
        """})
    with pytest.raises(AddonError) as err:
        make_sf(["kt_tmp_arg"], addons_path=(TEST_ADDONS, root))
    assert "addon 'kt_tmp_arg'" in str(err.value)
    assert "envv" in str(err.value)


def test_hook_implementations_may_take_fewer_arguments(db_url, tmp_addons):
    from core.app import Salesflow
    from core.config import ClientConfig

    root = tmp_addons("kt_tmp_few", depends=["kt_doc"], provides='hooks = ["hooks"]', files={
        "hooks.py": """
            from core.plugins import hookimpl


            @hookimpl
            def workflow_transition_blockers(trigger):
                return ["no reopening"] if trigger == "reopen" else []
        """})
    config = ClientConfig(name="t", addons=["kt_doc", "kt_tmp_few"], database_url=db_url,
                          addons_path=[TEST_ADDONS, root])
    sf = Salesflow(config, engine=make_engine(db_url))
    sf.create_all()
    try:
        with sf.transaction() as env:
            doc = env.create("kt.doc", name="x", amount=Decimal("1"))
            doc.fire("cancel", comment="test")
            assert env.blockers(doc, "reopen") == ["no reopening"]
    finally:
        sf.drop_all()
        sf.engine.dispose()


def test_hook_workflow_lock_rows(make_sf, new_doc, users):
    """Called by fire() only, before the guards, without access checks; env.lock locks a row."""
    sf = make_sf(KT)
    ids = users(sf, ann=["kt_clerk"])
    doc_id = new_doc(sf, ids["ann"])
    calls: list[tuple] = []
    statements: list[str] = []

    class LocksTheOwner:
        @hookimpl
        def workflow_lock_rows(self, record, trigger, env):
            owner = env.get("res.user", record.owner_id)
            calls.append(("lock", trigger, env.unrestricted, env.lock(owner).login))

        @hookimpl
        def workflow_transition_blockers(self, trigger):
            calls.append(("blockers", trigger))
            return []

    from sqlalchemy import event

    def remember(conn, cursor, statement, *args):
        statements.append(statement)

    sf.pm.register(LocksTheOwner(), name="test:locks")
    event.listen(sf.engine, "before_cursor_execute", remember)
    try:
        with sf.transaction(ids["ann"]) as env:
            doc = env.get("kt.doc", doc_id)
            assert env.blockers(doc, "confirm") == []
            assert calls == [("blockers", "confirm")]  # asking locks nothing
            calls.clear()
            doc.fire("confirm")
    finally:
        event.remove(sf.engine, "before_cursor_execute", remember)
        sf.pm.unregister(name="test:locks")
    assert calls == [("lock", "confirm", True, "ann"), ("blockers", "confirm")]
    if sf.dialect == "postgresql":  # SQLite's write transaction is the lock
        assert any("FOR UPDATE" in s and "res_user" in s for s in statements)
