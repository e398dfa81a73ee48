"""core.db: the SQLite engine's own DateTime binding stores exactly what SQLAlchemy's would."""

import datetime as dt

import pytest
from sqlalchemy import Column, DateTime, Integer, MetaData, Table, insert, select, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.sqlite import DATETIME
from sqlalchemy.exc import StatementError

from core.db import make_engine

VALUES = [
    dt.datetime(2026, 11, 23, 8, 5, 1, 123456, tzinfo=dt.UTC),
    dt.datetime(2026, 11, 23, 8, 5, 1, tzinfo=dt.UTC),  # no microseconds: still six digits
    dt.datetime(1, 1, 1),
    dt.datetime(999, 2, 3, 4, 5, 6, 7),
    dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=dt.timezone(dt.timedelta(hours=8))),
    dt.date(2026, 2, 28),
]


def test_sqlite_datetime_is_stored_as_sqlalchemy_stores_it(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    metadata = MetaData()
    table = Table("t", metadata, Column("id", Integer, primary_key=True),
                  Column("at", DateTime(timezone=True)))
    metadata.create_all(engine)
    reference = DATETIME().bind_processor(sqlite.dialect())
    # repeated and interleaved: the remembered last value must never answer for another
    values = VALUES + VALUES[::-1] + [VALUES[0], VALUES[0], VALUES[1], VALUES[0]]
    with engine.begin() as conn:
        conn.execute(insert(table), [{"at": v} for v in values])
        stored = conn.execute(text("SELECT at FROM t ORDER BY id")).scalars().all()
        loaded = conn.execute(select(table.c.at).order_by(table.c.id)).scalars().all()
    assert stored == [reference(v) for v in values]
    expected = [v.replace(tzinfo=None) if isinstance(v, dt.datetime)
                else dt.datetime.combine(v, dt.time()) for v in values]
    assert loaded == expected
    engine.dispose()


def test_sqlite_datetime_refuses_what_is_not_a_date():
    engine = make_engine("sqlite://")
    metadata = MetaData()
    table = Table("t", metadata, Column("id", Integer, primary_key=True), Column("at", DateTime()))
    metadata.create_all(engine)
    with engine.begin() as conn:
        with pytest.raises(StatementError, match="only accepts Python datetime and date"):
            conn.execute(insert(table), [{"at": "2026-11-23"}])
        assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 0


def test_a_column_typed_sqlite_datetime_keeps_its_own_storage_format():
    engine = make_engine("sqlite://")
    metadata = MetaData()
    own = DATETIME(storage_format="%(year)04d/%(month)02d/%(day)02d %(hour)02d:%(minute)02d",
                   regexp=r"(\d+)/(\d+)/(\d+) (\d+):(\d+)")
    table = Table("t", metadata, Column("id", Integer, primary_key=True), Column("at", own))
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(table), [{"at": dt.datetime(2026, 11, 23, 8, 5)}])
        assert conn.execute(text("SELECT at FROM t")).scalar() == "2026/11/23 08:05"
        assert conn.execute(select(table.c.at)).scalar() == dt.datetime(2026, 11, 23, 8, 5)
