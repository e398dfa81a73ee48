"""``__posted_parent__``: a record that is part of a document (an invoice's lines) is as frozen
as its document, by any route: the session's flush and bulk ORM statements."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import delete, insert, select, update

from core.errors import ImmutableRecord, RegistryError
from core.testing import TEST_ADDONS

#: ``kt.doc.line``: parts of a ``kt.doc`` (posted when done), ``memo`` open when posted;
#: ``kt.log`` / ``kt.log.line``: an append-only parent and its parts
LINES = {"models.py": """
    from __future__ import annotations

    from decimal import Decimal

    from sqlalchemy import ForeignKey, Numeric, String
    from sqlalchemy.orm import Mapped, mapped_column, relationship

    from core.registry import model


    @model("kt.doc.line")
    class KtDocLine:
        __tablename__ = "kt_doc_line"
        __posted_parent__ = "doc"
        __mutable_when_posted__ = frozenset({"memo"})

        doc_id: Mapped[int] = mapped_column(ForeignKey("kt_doc.id"), index=True)
        qty: Mapped[Decimal] = mapped_column(Numeric(12, 2))
        memo: Mapped[str | None] = mapped_column(String(64))
        doc: Mapped[KtDoc] = relationship()


    @model("kt.log")
    class KtLog:
        __tablename__ = "kt_log"
        __append_only__ = True

        name: Mapped[str] = mapped_column(String(64))
        lines: Mapped[list[KtLogLine]] = relationship(back_populates="log")


    @model("kt.log.line")
    class KtLogLine:
        __tablename__ = "kt_log_line"
        __append_only__ = True
        __posted_parent__ = "log"

        log_id: Mapped[int] = mapped_column(ForeignKey("kt_log.id"), index=True)
        text: Mapped[str] = mapped_column(String(64))
        log: Mapped[KtLog] = relationship(back_populates="lines")
"""}


@pytest.fixture
def app(make_sf, tmp_addons):
    root = tmp_addons("kt_tmp_lines", depends=["kt_doc"], files=LINES,
                      provides='models = ["models"]')
    return make_sf(["kt_doc", "kt_tmp_lines"], addons_path=(TEST_ADDONS, root))


def doc_with_lines(sf, *, done: bool) -> tuple[int, list[int]]:
    with sf.transaction() as env:
        doc = env.create("kt.doc", name="doc", amount=Decimal("10.00"))
        Line = env["kt.doc.line"]
        lines = [Line(doc=doc, qty=Decimal(q)) for q in ("1", "2")]
        env.session.add_all(lines)
        env.session.flush()
        if done:
            doc.fire("confirm")
            doc.fire("finish")
        return doc.id, [ln.id for ln in lines]


def stored_lines(sf, doc_id) -> list[tuple]:
    with sf.transaction() as env:
        Line = env["kt.doc.line"]
        return [(ln.qty, ln.memo) for ln in env.search("kt.doc.line", Line.doc_id == doc_id)]


def test_the_parts_of_a_posted_document_cannot_be_added_changed_or_deleted(app):
    sf = app
    doc_id, (first, _second) = doc_with_lines(sf, done=True)
    with pytest.raises(ImmutableRecord) as err, sf.transaction() as env:
        env.create("kt.doc.line", doc_id=doc_id, qty=Decimal("5"))
    assert str(err.value) == f"kt.doc {doc_id} is done: no kt.doc.line can be added to it"
    with pytest.raises(ImmutableRecord) as err, sf.transaction() as env:
        env.write(env.get("kt.doc.line", first), qty=Decimal("9"))
    assert str(err.value) == (f"kt.doc.line {first} is part of kt.doc {doc_id}, which is done; "
                              "qty cannot change")
    with pytest.raises(ImmutableRecord) as err, sf.transaction() as env:
        env.delete(env.get("kt.doc.line", first))
    assert str(err.value) == f"kt.doc.line {first} cannot be deleted: kt.doc {doc_id} is done"
    assert stored_lines(sf, doc_id) == [(Decimal("1.00"), None), (Decimal("2.00"), None)]
    with sf.transaction() as env:  # what the part declares open stays open
        env.write(env.get("kt.doc.line", first), memo="checked")
    assert stored_lines(sf, doc_id) == [(Decimal("1.00"), "checked"), (Decimal("2.00"), None)]


def test_bulk_statements_on_parts_are_refused_whatever_the_parent(app):
    # which documents a bulk statement reaches is not known before it runs: refused, as bulk
    # statements on posted records are
    sf = app
    doc_id, _lines = doc_with_lines(sf, done=True)
    draft_id, _lines = doc_with_lines(sf, done=False)
    for verb, statement in (
            ("update", lambda Line: update(Line).where(Line.doc_id == doc_id).values(qty=0)),
            ("delete", lambda Line: delete(Line).where(Line.doc_id == draft_id)),
            ("insert", lambda Line: insert(Line).values(doc_id=doc_id, qty=1, version=1))):
        with pytest.raises(ImmutableRecord, match=f"bulk {verb} of kt.doc.line is not allowed"):
            with sf.transaction() as env:
                env.session.execute(statement(env["kt.doc.line"]))
    assert stored_lines(sf, doc_id) == [(Decimal("1.00"), None), (Decimal("2.00"), None)]
    assert len(stored_lines(sf, draft_id)) == 2


def test_the_parts_of_a_draft_document_change_freely(app):
    sf = app
    doc_id, (first, second) = doc_with_lines(sf, done=False)
    with sf.transaction() as env:
        env.write(env.get("kt.doc.line", first), qty=Decimal("7"))
        env.delete(env.get("kt.doc.line", second))
        env.create("kt.doc.line", doc_id=doc_id, qty=Decimal("3"))
    assert stored_lines(sf, doc_id) == [(Decimal("7.00"), None), (Decimal("3.00"), None)]


def test_a_part_cannot_be_moved_out_of_a_posted_document_nor_into_one(app):
    # (a change pending when the document is posted goes in first: fire() flushes it)
    sf = app
    doc_id, (first, _second) = doc_with_lines(sf, done=False)
    with sf.transaction() as env:
        doc = env.get("kt.doc", doc_id)
        doc.fire("confirm")
        env.get("kt.doc.line", first).qty = Decimal("4")
        doc.fire("finish")
    assert stored_lines(sf, doc_id)[0] == (Decimal("4.00"), None)
    draft_id, (draft_line, _second) = doc_with_lines(sf, done=False)
    with pytest.raises(ImmutableRecord, match=f"part of kt.doc {doc_id}, which is done; doc_id"):
        with sf.transaction() as env:
            env.write(env.get("kt.doc.line", first), doc_id=draft_id)
    with pytest.raises(ImmutableRecord, match=f"part of kt.doc {doc_id}, which is done; doc_id"):
        with sf.transaction() as env:
            env.get("kt.doc.line", draft_line).doc = env.get("kt.doc", doc_id)
            env.session.flush()
    assert len(stored_lines(sf, doc_id)) == 2 and len(stored_lines(sf, draft_id)) == 2


def test_an_append_only_parent_takes_its_parts_only_when_it_goes_in(app):
    sf = app
    with sf.transaction() as env:
        log = env["kt.log"](name="log", lines=[env["kt.log.line"](text="first")])
        env.session.add(log)
        env.session.flush()
        log_id = log.id
    with pytest.raises(ImmutableRecord, match=f"kt.log {log_id} is posted: no kt.log.line can be added"):
        with sf.transaction() as env:
            env.create("kt.log.line", log_id=log_id, text="late")
    with sf.transaction() as env:
        Line = env["kt.log.line"]
        assert env.session.scalars(select(Line.text).where(Line.log_id == log_id)).all() == ["first"]


def test_a_posted_parent_that_is_not_a_many_to_one_relationship_is_an_error(make_sf, tmp_addons):
    root = tmp_addons("kt_tmp_badparent", depends=["kt_doc"], provides='models = ["models"]', files={
        "models.py": """
            from sqlalchemy import ForeignKey
            from sqlalchemy.orm import Mapped, mapped_column

            from core.registry import model


            @model("kt.bad.line")
            class BadLine:
                __tablename__ = "kt_bad_line"
                __posted_parent__ = "doc_id"

                doc_id: Mapped[int] = mapped_column(ForeignKey("kt_doc.id"))
        """})
    with pytest.raises(RegistryError, match="kt.bad.line: __posted_parent__ 'doc_id' is not a "
                                            "many-to-one relationship"):
        make_sf(["kt_doc", "kt_tmp_badparent"], addons_path=(TEST_ADDONS, root))
