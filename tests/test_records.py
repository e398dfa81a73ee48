"""Records composed per app: extension columns, ``super()`` overrides, registry errors."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import inspect, select

from core.errors import RegistryError, TransitionBlocked
from core.testing import TEST_ADDONS

KT = ["kt_doc"]
KT_EXT = ["kt_doc", "kt_ext"]


def test_an_extension_adds_columns_that_persist(make_sf, new_doc):
    sf = make_sf(KT_EXT)
    columns = {c["name"] for c in inspect(sf.engine).get_columns("kt_doc")}  # in the database
    assert {"name", "amount", "state", "owner_id", "discount", "reference"} <= columns
    doc_id = new_doc(sf, amount="80.00", discount=Decimal("5.50"), reference="R-1")
    with sf.transaction() as env:
        doc = env.get("kt.doc", doc_id)
        assert (doc.discount, doc.reference) == (Decimal("5.50"), "R-1")
    info = sf.registry.records["kt.doc"]
    assert info.addon == "kt_doc"
    assert info.column_owner["discount"] == "kt_ext"
    assert info.column_owner["amount"] == "kt_doc"
    assert info.column_owner["version"] == "kt_doc"  # the kernel columns belong to the table's addon


def test_an_override_calls_super_and_changes_the_total(make_sf, new_doc):
    sf = make_sf(KT_EXT)
    doc_id = new_doc(sf, amount="100.00", discount=Decimal("12.50"))
    with sf.transaction() as env:
        doc = env.get("kt.doc", doc_id)
        assert doc.total() == Decimal("87.50")  # kt_doc's amount minus kt_ext's discount
    cls = sf.registry["kt.doc"]
    layers = [c.__module__ for c in cls.__mro__[1:3]]
    assert layers == ["kt_ext.models.kt_doc", "kt_doc.models"]  # outermost extension first


def test_two_apps_with_different_addons_live_in_one_process(make_sf, new_doc, users):
    with_ext = make_sf(KT_EXT)
    plain = make_sf(KT)  # same database: the tables kt_ext created already exist
    assert with_ext.registry["kt.doc"] is not plain.registry["kt.doc"]
    assert "discount" in with_ext.registry["kt.doc"].__table__.c
    assert "discount" not in plain.registry["kt.doc"].__table__.c
    assert not hasattr(plain.registry["kt.doc"], "has_reference")
    assert "kt.stamp" in with_ext.registry and "kt.stamp" not in plain.registry

    ids = users(with_ext, clerk=["kt_clerk"])
    doc_id = new_doc(with_ext, ids["clerk"], amount="100.00", discount=Decimal("10.00"),
                     owner_id=ids["clerk"])
    with plain.transaction(ids["clerk"]) as env:
        assert env.get("kt.doc", doc_id).total() == Decimal("100.00")
    with with_ext.transaction(ids["clerk"]) as env:
        doc = env.get("kt.doc", doc_id)
        assert doc.total() == Decimal("90.00")
        with pytest.raises(TransitionBlocked) as err:
            doc.fire("confirm")  # kt_ext's extra guard: a reference is required
        assert err.value.reasons == ["a reference is required (kt_ext)"]
    with plain.transaction(ids["clerk"]) as env:
        env.get("kt.doc", doc_id).fire("confirm")  # kt_doc alone has no such guard
    with with_ext.transaction() as env:
        assert env.get("kt.doc", doc_id).state == "confirmed"
        assert env.get("kt.doc", doc_id).discount == Decimal("10.00")  # kept by the other app


def test_a_new_record_is_created_through_the_registry(make_sf, users):
    sf = make_sf(KT_EXT)
    with sf.transaction() as env:
        doc = env.create("kt.doc", name="via registry", amount=Decimal("3"))
        assert isinstance(doc, env["kt.doc"])
        assert doc.state == "draft" and doc.version == 1
        stamp_cls = env["kt.stamp"]
    with sf.transaction() as env:
        assert env.session.scalars(select(stamp_cls)).all() == []
    with pytest.raises(KeyError, match="no record 'kt.nope'"):
        sf.registry["kt.nope"]


# -- registry errors -------------------------------------------------------------------------

EXTENDS_DOC = {"models.py": """
    from sqlalchemy import String
    from sqlalchemy.orm import Mapped, mapped_column

    from core.registry import extends


    @extends("kt.doc")
    class KtDocColour:
        colour: Mapped[str | None] = mapped_column(String(16))
"""}


def test_extending_a_record_no_enabled_addon_declares_is_an_error(make_sf, tmp_addons):
    # the Odoo trap: extending kt.doc without depending on kt_doc
    root = tmp_addons("kt_tmp_colour", files=EXTENDS_DOC, provides='models = ["models"]')
    with pytest.raises(RegistryError) as err:
        make_sf(["kt_tmp_colour"], addons_path=(TEST_ADDONS, root))
    assert "addon 'kt_tmp_colour' extends 'kt.doc', which no enabled addon declares" in str(err.value)


def test_the_same_extension_works_once_its_dependency_is_declared(make_sf, tmp_addons, new_doc):
    root = tmp_addons("kt_tmp_colour", files=EXTENDS_DOC, provides='models = ["models"]',
                      depends=["kt_doc"])
    sf = make_sf(["kt_doc", "kt_tmp_colour"], addons_path=(TEST_ADDONS, root))
    doc_id = new_doc(sf, colour="teal")
    with sf.transaction() as env:
        assert env.get("kt.doc", doc_id).colour == "teal"


def test_a_record_declared_twice_is_an_error_naming_both_addons(make_sf, tmp_addons):
    root = tmp_addons("kt_tmp_twice", depends=["kt_doc"], provides='models = ["models"]', files={
        "models.py": """
            from core.registry import model


            @model("kt.doc")
            class OtherDoc:
                __tablename__ = "kt_other_doc"
        """})
    with pytest.raises(RegistryError) as err:
        make_sf(["kt_doc", "kt_tmp_twice"], addons_path=(TEST_ADDONS, root))
    assert "record 'kt.doc' declared twice: by addon 'kt_doc' and by 'kt_tmp_twice'" in str(err.value)


def test_a_model_without_a_table_name_is_refused(make_sf, tmp_addons):
    root = tmp_addons("kt_tmp_notable", provides='models = ["models"]', files={
        "models.py": """
            from core.registry import model


            @model("kt.notable")
            class NoTable:
                pass
        """})
    with pytest.raises(RegistryError, match=r"@model\('kt.notable'\) on NoTable: __tablename__ missing"):
        make_sf(["kt_tmp_notable"], addons_path=(TEST_ADDONS, root))


def test_two_apps_keep_their_own_table_constraints(make_sf):
    """A declaring class's __table_args__ are copied per app: building a second app must not
    move the first app's unique constraints to the second app's table."""
    from sqlalchemy import UniqueConstraint

    first = make_sf(["kt_doc"], create=False)
    second = make_sf(["kt_doc"], create=False)
    for sf in (first, second):
        table = sf.registry["res.user_role"].__table__
        uniques = [c for c in table.constraints if isinstance(c, UniqueConstraint)]
        assert [sorted(c.columns.keys()) for c in uniques] == [["role", "user_id"]]
        assert all(c.table is table for c in uniques)


# -- the records' constructor ----------------------------------------------------------------

VALIDATED_DOC = {"models.py": """
    from sqlalchemy import String
    from sqlalchemy.orm import Mapped, mapped_column, validates

    from core.registry import extends


    @extends("kt.doc")
    class KtDocCode:
        code: Mapped[str | None] = mapped_column(String(16))

        @validates("code", "name")
        def _upper(self, key, value):
            return value.upper() if value else value
"""}


def test_the_constructor_keeps_validators_history_and_unknown_keywords(make_sf, tmp_addons):
    # plain columns skip the attribute events (core.registry._record_init); what a partner
    # hangs on an attribute, and what the kernel reads of a new record, must not notice
    root = tmp_addons("kt_tmp_code", files=VALIDATED_DOC, provides='models = ["models"]',
                      depends=["kt_doc"])
    sf = make_sf(["kt_doc", "kt_tmp_code"], addons_path=(TEST_ADDONS, root))
    Doc = sf.registry["kt.doc"]
    doc = Doc(name="first", code="ab", amount=Decimal("2"), note=None)
    assert (doc.name, doc.code) == ("FIRST", "AB")  # the validators ran
    state = inspect(doc)
    assert state.attrs.amount.history.added == [Decimal("2")]  # new values count as added
    assert state.attrs.note.history.added == [None]
    assert not state.attrs.state.history.added  # not given: no value
    with pytest.raises(TypeError, match="'colour' is an invalid keyword argument for KtDoc"):
        Doc(name="x", colour="teal")
    with sf.transaction() as env:
        env.session.add(doc)
        env.session.flush()
        doc_id = doc.id
    with sf.transaction() as env:
        stored = env.get("kt.doc", doc_id)
        assert (stored.name, stored.code, stored.amount, stored.state) == ("FIRST", "AB", Decimal("2"), "draft")


def test_loaded_answers_from_the_transaction_only(make_sf, new_doc, count_queries):
    sf = make_sf(KT)
    doc_id = new_doc(sf)
    with sf.transaction() as env:
        assert env.loaded("kt.doc", doc_id) is None  # not read yet: no SQL to find it
        doc = env.get("kt.doc", doc_id)
        with count_queries(sf.engine) as queries:
            assert env.loaded("kt.doc", doc_id) is doc
            assert env.loaded(env["kt.doc"], doc_id) is doc
            assert env.loaded("kt.doc", doc_id + 1000) is None
        assert queries.value == 0


def test_the_constructor_sees_a_set_listener_added_after_its_first_record(make_sf):
    # SQLAlchemy asks for listeners at every set; the constructor's shortcut for plain
    # columns must notice one listened for after the class built a record
    from sqlalchemy import event

    sf = make_sf(KT)
    Doc = sf.registry["kt.doc"]
    Doc(name="first", note="a")
    seen = []

    def on_set(_target, value, _old, _initiator):
        seen.append(value)
        return value.upper()

    event.listen(Doc.note, "set", on_set, retval=True)
    try:
        doc = Doc(name="second", note="b")
    finally:
        event.remove(Doc.note, "set", on_set)
    assert seen == ["b"] and doc.note == "B"
    assert inspect(doc).attrs.note.history.added == ["B"]
