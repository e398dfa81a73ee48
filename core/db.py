"""Engines. SQLite is the embedded default, PostgreSQL production.

SQLite ignores ``SELECT ... FOR UPDATE``, so write transactions start with ``BEGIN IMMEDIATE``:
SQLite then admits one writer at a time (readers go on, thanks to WAL) and a second writer waits
up to ``busy_timeout`` instead of failing. Two workers can never both pass a check that only one
fits. The driver's own transaction handling is switched off so SQLAlchemy's ``begin`` is the
only place a transaction starts (SQLAlchemy's documented recipe for pysqlite); that also makes
SQLite DDL transactional, which migrations rely on.

On PostgreSQL, checks lock the one row they depend on (``Env.lock``, ``SELECT ... FOR UPDATE``).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, Engine, create_engine, event
from sqlalchemy.dialects.sqlite import DATETIME
from sqlalchemy.engine import make_url

SQLITE_BUSY_TIMEOUT_MS = 30_000
#: the range of an integer column: PostgreSQL's BIGINT, and SQLite's INTEGER (64-bit too). A
#: number outside it must never reach a statement (OverflowError on SQLite, DataError on
#: PostgreSQL: a 500): the API refuses it with a 422 (``core.api``), ``Env.get`` finds nothing.
INT_MIN, INT_MAX = -(2**63), 2**63 - 1


def fits_int_column(value: int) -> bool:
    return INT_MIN <= value <= INT_MAX

WRITE = "salesflow_write"


def make_engine(url: str, **kwargs) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:":
            from pathlib import Path

            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, **kwargs)
        _setup_sqlite(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


class _SQLiteDateTime(DATETIME):
    """SQLite's DATETIME, stored exactly as SQLAlchemy stores it (``YYYY-MM-DD
    HH:MM:SS.ffffff``, a zone dropped), but formatted by ``datetime.isoformat`` and the last
    value remembered. A flush binds the same stamp (the transaction's ``now``) two or three
    times per row (``created_at``, ``updated_at``, an audit row's ``at``), and SQLAlchemy's
    ``%``-format of a dict per value was about 8 % of a batch of orders."""

    def bind_processor(self, dialect):
        memo: list[tuple[object, str]] = [(None, "")]  # one tuple, swapped whole: thread-safe

        def process(value):
            if value is None:
                return None
            last = memo[0]
            if last[0] is value:  # the memo holds the value, so its id is not reused
                return last[1]
            if isinstance(value, dt.datetime):
                text = value.isoformat(" ", "microseconds")[:26]
            elif isinstance(value, dt.date):
                text = value.isoformat() + " 00:00:00.000000"
            else:
                raise TypeError("SQLite DateTime type only accepts Python datetime and date "
                                "objects as input.")
            memo[0] = (value, text)
            return text

        return process


def _setup_sqlite(engine: Engine) -> None:
    # this engine's dialect only: DateTime columns bind through _SQLiteDateTime; a column typed
    # sqlite.DATETIME itself (its own storage format) stays as declared
    engine.dialect.colspecs = {**engine.dialect.colspecs, DateTime: _SQLiteDateTime,
                               DATETIME: DATETIME}

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        immediate = connection.get_execution_options().get(WRITE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"
