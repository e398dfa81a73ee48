"""core.flush: many records of one class changed in the same columns go in one UPDATE, with
the same version check, audit and rollback behaviour as the ORM's one UPDATE per row."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.orm.exc import StaleDataError

from core.errors import ValidationError

KT = ["kt_doc"]


def _docs(sf, new_doc, count: int = 3) -> list[int]:
    return [new_doc(sf, name=f"doc{i}", amount=f"{10 * (i + 1)}.00") for i in range(count)]


def _rows(sf, ids) -> dict[int, tuple]:
    with sf.engine.connect() as conn:
        return {r.id: (r.name, r.amount, r.note, r.version) for r in conn.execute(
            text("SELECT id, name, amount, note, version FROM kt_doc WHERE id IN "
                 f"({', '.join(str(int(i)) for i in ids)})"))}


def _updates(statements: list[str]) -> list[str]:
    return [s for s in statements if s.lstrip().upper().startswith("UPDATE KT_DOC")]


def test_many_records_changed_alike_are_written_by_one_update(make_sf, new_doc, count_queries):
    sf = make_sf(KT)
    ids = _docs(sf, new_doc)
    before = _rows(sf, ids)
    with sf.transaction() as env, count_queries(sf.engine) as seen:
        docs = [env.get("kt.doc", i) for i in ids]
        for doc in docs:
            doc.amount = doc.amount + Decimal("1.50")
            doc.note = f"checked {doc.name}"
        env.session.flush()
        assert len(_updates(seen.statements)) == 1
        assert [d.version for d in docs] == [before[i][3] + 1 for i in ids]
        assert not any(env.session.is_modified(d) for d in docs)  # nothing left to write
    after = _rows(sf, ids)
    for i in ids:
        name, amount, note, version = after[i]
        assert (Decimal(str(amount)), note, version) == (
            Decimal(str(before[i][1])) + Decimal("1.50"), f"checked {name}", before[i][3] + 1)
    with sf.transaction() as env:  # each row audited with its own old and new values
        for i in ids:
            last = sf.audit.history(env, "kt.doc", i)[-1]
            assert last["action"] == "write"
            assert last["changes"]["note"] == [None, f"checked {after[i][0]}"]
            assert last["changes"]["amount"] == [f"{Decimal(str(before[i][1])):.2f}",
                                                 f"{Decimal(str(before[i][1])) + Decimal('1.50'):.2f}"]


def test_records_changed_differently_are_each_written(make_sf, new_doc, count_queries):
    sf = make_sf(KT)
    ids = _docs(sf, new_doc)
    with sf.transaction() as env, count_queries(sf.engine) as seen:
        docs = [env.get("kt.doc", i) for i in ids]
        docs[0].note, docs[1].name, docs[2].note = "a", "renamed", "c"
        env.session.flush()
    assert len(_updates(seen.statements)) == 2  # the two notes together, the name alone
    rows = _rows(sf, ids)
    assert [rows[i][:3:2] for i in ids] == [("doc0", "a"), ("renamed", None), ("doc2", "c")]


def test_a_row_changed_behind_the_session_fails_the_flush_and_nothing_is_written(
        make_sf, new_doc):
    """One row's version moved after the session read it: the batch's UPDATE matches one row
    short, the flush fails like the ORM's (409 in the API) and the transaction rolls back."""
    sf = make_sf(KT)
    ids = _docs(sf, new_doc)
    with pytest.raises(StaleDataError, match="expected to update 3 row"):
        with sf.transaction() as env:
            docs = [env.get("kt.doc", i) for i in ids]
            env.session.execute(text("UPDATE kt_doc SET note = 'behind', version = version + 1 "
                                     "WHERE id = :id"), {"id": ids[1]})
            for doc in docs:
                doc.note = "ours"
            env.session.flush()
    rows = _rows(sf, ids)
    assert [rows[i][2:] for i in ids] == [(None, 1), (None, 1), (None, 1)]


def test_a_row_committed_by_another_transaction_meanwhile_fails_the_flush(make_sf, new_doc,
                                                                          db_url):
    """PostgreSQL: another connection changes one row and commits between our read and our
    write; our batch is refused, their change stays."""
    if db_url.startswith("sqlite"):
        pytest.skip("SQLite admits one writer at a time: the other write waits for ours")
    sf = make_sf(KT)
    ids = _docs(sf, new_doc)
    with pytest.raises(StaleDataError):
        with sf.transaction() as env:
            docs = [env.get("kt.doc", i) for i in ids]
            with sf.engine.begin() as other:
                other.execute(text("UPDATE kt_doc SET note = 'theirs', version = version + 1 "
                                   "WHERE id = :id"), {"id": ids[1]})
            for doc in docs:
                doc.note = "ours"
            env.session.flush()
    rows = _rows(sf, ids)
    assert [rows[i][2:] for i in ids] == [(None, 1), ("theirs", 2), (None, 1)]


def test_a_savepoint_rolled_back_forgets_the_values_it_wrote(make_sf, new_doc):
    sf = make_sf(KT)
    ids = _docs(sf, new_doc)
    with sf.transaction() as env:
        docs = [env.get("kt.doc", i) for i in ids]
        versions = [d.version for d in docs]
        with pytest.raises(RuntimeError), env.atomic():
            for doc in docs:
                doc.note = "draft"
            env.session.flush()
            raise RuntimeError("changed my mind")
        assert [d.note for d in docs] == [None, None, None]  # reloaded, not what was written
        assert [d.version for d in docs] == versions
        for doc in docs:
            doc.note = "final"
    assert [row[2:] for row in _rows(sf, ids).values()] == [("final", v + 1) for v in versions]




def test_a_column_set_but_not_written_in_the_batch_is_still_written(make_sf, new_doc):
    """``note`` was not loaded (expired) when set to None: its history is added [None] with
    nothing deleted, which ``_column_changes`` does not count (None == None) but the ORM
    writes. The batch writes ``amount`` and must leave ``note`` pending, not mark it saved."""
    sf = make_sf(KT)
    ids = [new_doc(sf, name=f"doc{i}", note="old") for i in range(3)]
    with sf.transaction() as env:
        docs = [env.get("kt.doc", i) for i in ids]
        for doc in docs:
            env.session.expire(doc, ["note"])
            doc.note = None
            doc.amount = Decimal("99.00")
        env.session.flush()
        assert not env.session.dirty
    assert [(Decimal(str(row[1])), row[2]) for row in _rows(sf, ids).values()] == [
        (Decimal("99.00"), None)] * 3


def test_a_refused_record_stops_the_batch_before_any_write(make_sf, new_doc, count_queries):
    sf = make_sf(KT)
    ids = _docs(sf, new_doc)
    with pytest.raises(ValidationError, match="must not be negative"):
        with sf.transaction() as env, count_queries(sf.engine) as seen:
            docs = [env.get("kt.doc", i) for i in ids]
            for doc in docs:
                doc.note = "x"
            docs[2].amount = Decimal("-1")
            env.session.flush()
    assert _updates(seen.statements) == []
    assert [row[2] for row in _rows(sf, ids).values()] == [None, None, None]


# -- inserts ------------------------------------------------------------------------------------


def _inserts(statements: list[str]) -> list[str]:
    return [s for s in statements if s.lstrip().upper().startswith("INSERT INTO KT_DOC")]


def test_many_new_records_are_inserted_by_one_insert_and_audited(make_sf, count_queries):
    """Three new documents in one flush: one INSERT, each gets its id, state, defaults and
    version without another SELECT, each creation is audited with its values."""
    sf = make_sf(KT)
    with sf.transaction() as env, count_queries(sf.engine) as seen:
        docs = [env["kt.doc"](name=f"new{i}", note="n") for i in range(3)]
        docs[2].amount = Decimal("7.25")
        env.session.add_all(docs)
        env.session.flush()
        assert len(_inserts(seen.statements)) == 1
        before = seen.value
        assert all(d.id for d in docs) and len({d.id for d in docs}) == 3
        assert [(d.state, d.amount, d.version) for d in docs] == [
            ("draft", Decimal("0"), 1), ("draft", Decimal("0"), 1), ("draft", Decimal("7.25"), 1)]
        assert all(d.created_at is not None and d.updated_at is not None for d in docs)
        assert seen.value == before  # all of it known without reading it back
        assert not env.session.new and not any(env.session.is_modified(d) for d in docs)
        assert env.get("kt.doc", docs[0].id) is docs[0]  # in the identity map
        ids = [d.id for d in docs]
    rows = _rows(sf, ids)
    assert [(rows[i][0], Decimal(str(rows[i][1])), rows[i][3]) for i in ids] == [
        ("new0", Decimal("0"), 1), ("new1", Decimal("0"), 1), ("new2", Decimal("7.25"), 1)]
    with sf.transaction() as env:
        history = sf.audit.history(env, "kt.doc", ids[2])
        assert [h["action"] for h in history] == ["create"]
        assert history[0]["changes"]["name"] == [None, "new2"]
        assert history[0]["changes"]["amount"] == [None, "7.25"]


def test_inserted_records_change_later_like_any_other(make_sf):
    """After the kernel's INSERT the records are ordinary persistent ones: a change is one
    UPDATE with the version check, audited as a write."""
    sf = make_sf(KT)
    with sf.transaction() as env:
        docs = [env.create("kt.doc", name=f"d{i}") for i in range(2)]  # flushed one by one
        more = [env["kt.doc"](name=f"m{i}") for i in range(2)]
        env.session.add_all(more)
        env.session.flush()
        for doc in more:
            doc.note = "changed"
        env.session.flush()
        assert [d.version for d in more] == [2, 2]
        ids = [d.id for d in docs + more]
    rows = _rows(sf, ids)
    assert [rows[i][2:] for i in ids] == [(None, 1), (None, 1), ("changed", 2), ("changed", 2)]
    with sf.transaction() as env:
        assert [h["action"] for h in sf.audit.history(env, "kt.doc", ids[3])] == ["create", "write"]


def test_a_refused_new_record_stops_the_insert_before_any_row(make_sf, count_queries):
    sf = make_sf(KT)
    with pytest.raises(ValidationError, match="must not be negative"):
        with sf.transaction() as env, count_queries(sf.engine) as seen:
            env.session.add_all([env["kt.doc"](name="ok", amount=Decimal("1")),
                                 env["kt.doc"](name="bad", amount=Decimal("-1"))])
            env.session.flush()
    assert _inserts(seen.statements) == []
    with sf.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM kt_doc")).scalar() == 0


def test_a_savepoint_rolled_back_takes_the_inserted_records_out(make_sf):
    """Inserted in a savepoint that is rolled back: the rows are gone and the records are no
    longer in the session (as with the ORM's own INSERT); the transaction goes on."""
    sf = make_sf(KT)
    with sf.transaction() as env:
        kept = env.create("kt.doc", name="kept")
        with pytest.raises(RuntimeError), env.atomic():
            docs = [env["kt.doc"](name=f"gone{i}") for i in range(3)]
            env.session.add_all(docs)
            env.session.flush()
            assert all(d.id for d in docs)
            raise RuntimeError("changed my mind")
        assert all(d not in env.session for d in docs)
        again = [env["kt.doc"](name=f"again{i}") for i in range(2)]
        env.session.add_all(again)
    with sf.engine.connect() as conn:
        names = sorted(conn.execute(text("SELECT name FROM kt_doc")).scalars())
    assert names == ["again0", "again1", "kept"]
    assert kept.id is not None


# -- executemany -----------------------------------------------------------------------------

def test_executemany_stores_what_sqlalchemy_would_store(db_url):
    import datetime as dt

    from sqlalchemy import JSON, Column, DateTime, Integer, MetaData, Numeric, String, Table, insert

    from core.db import make_engine
    from core.flush import executemany

    engine = make_engine(db_url)
    metadata = MetaData()
    columns = lambda: [Column("id", Integer, primary_key=True), Column("name", String(20)),  # noqa: E731
                       Column("amount", Numeric(18, 2)), Column("at", DateTime(timezone=True)),
                       Column("data", JSON)]
    ours, theirs = Table("x_ours", metadata, *columns()), Table("x_theirs", metadata, *columns())
    metadata.create_all(engine)
    at = dt.datetime(2026, 11, 23, 8, 30, 1, 5, tzinfo=dt.UTC)
    rows = [{"name": "a", "amount": Decimal("12.30"), "at": at, "data": {"old": None, "new": "1.00"}},
            {"name": None, "amount": Decimal("-0.01"), "at": None, "data": [1, "二"]},
            {"name": "c", "amount": None, "at": at, "data": None}]
    statement = insert(ours)
    with engine.begin() as conn:
        result = executemany(conn, statement, rows)
        conn.execute(insert(theirs), rows)
        assert result.rowcount == 3
        read = [conn.execute(t.select().order_by(t.c.id)).all() for t in (ours, theirs)]
    assert read[0] == read[1] and len(read[0]) == 3
    assert read[0][0].amount == Decimal("12.30") and read[0][1].data == [1, "二"]
    # a later call with other keys takes a plan of its own
    with engine.begin() as conn:
        executemany(conn, statement, [{"name": "d"}, {"name": "e"}])
        executemany(conn, statement, [{"name": "f", "amount": Decimal("2")}])
        assert conn.execute(ours.select().where(ours.c.id > 3).order_by(ours.c.id)).all() == [
            (4, "d", None, None, None), (5, "e", None, None, None),
            (6, "f", Decimal("2.00"), None, None)]
    metadata.drop_all(engine)
    engine.dispose()


def test_sqlite_write_transactions_give_new_records_the_next_ids(make_sf, count_queries):
    # SQLite: BEGIN IMMEDIATE holds other writers off, so max(id) + 1... are the ids SQLite
    # would give; the rows then go in without RETURNING
    sf = make_sf(KT)
    with sf.transaction() as env:
        first = [env.create("kt.doc", name=f"a{i}") for i in range(3)]
    with sf.transaction() as env:
        env.session.delete(env.get("kt.doc", first[-1].id))  # the last id is free again
    with sf.transaction() as env:
        again = [env.create("kt.doc", name=f"b{i}", amount=Decimal(i)) for i in range(4)]
        env.session.flush()
        ids = [d.id for d in again]
    assert ids == list(range(ids[0], ids[0] + 4))
    if sf.dialect == "sqlite":
        assert ids[0] == first[-1].id  # as SQLite itself reuses the highest free rowid
    with sf.transaction() as env:
        assert [(d.name, d.amount) for d in (env.get("kt.doc", i) for i in ids)] == [
            (f"b{i}", Decimal(i)) for i in range(4)]


def test_executemany_takes_bind_names_the_dialect_escapes(db_url):
    # psycopg's named parameters cannot hold a space, '%', '(' or '.': SQLAlchemy renders
    # "unit price" as %(unit_price)s and renames the row's key to match
    from sqlalchemy import Column, Integer, MetaData, Numeric, String, Table, bindparam, insert

    from core.db import make_engine
    from core.flush import executemany

    engine = make_engine(db_url)
    metadata = MetaData()
    table = Table("x_escaped", metadata, Column("id", Integer, primary_key=True),
                  Column("unit price", Numeric(18, 2)), Column("a%b", String(5)),
                  Column("trigger", String(20)))
    metadata.create_all(engine)
    rows = [{"unit price": Decimal("1.50"), "a%b": "x", "trigger": "go"},
            {"unit price": None, "a%b": None, "trigger": "stop"}]
    update = (table.update().where(table.c.trigger == bindparam("w trigger"))
              .values({"unit price": bindparam("new price")}))
    with engine.begin() as conn:
        assert executemany(conn, insert(table), rows).rowcount == 2
        assert executemany(conn, update, [{"w trigger": "go", "new price": Decimal("2")},
                                          {"w trigger": "none", "new price": Decimal("3")}]
                           ).rowcount == 1
        assert conn.execute(table.select().order_by(table.c.id)).all() == [
            (1, Decimal("2.00"), "x", "go"), (2, None, None, "stop")]
    metadata.drop_all(engine)
    engine.dispose()


def test_new_records_keep_the_ids_they_were_given_beside_new_ones(make_sf):
    # the ORM inserts a given id as it is and numbers the others; the kernel numbered the
    # whole group (RETURNING, nextval or max(id)), overwriting the given one
    sf = make_sf(KT)
    with sf.transaction() as env:
        Doc = env["kt.doc"]
        docs = [Doc(name="a", amount=Decimal(1)), Doc(id=1000, name="b", amount=Decimal(1)),
                Doc(name="c", amount=Decimal(1))]
        env.session.add_all(docs)
        env.session.flush()
        ids = [d.id for d in docs]
    assert ids[1] == 1000 and len(set(ids)) == 3
    with sf.engine.connect() as conn:
        assert conn.execute(text("SELECT name FROM kt_doc WHERE id = 1000")).scalar() == "b"
