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
from decimal import Decimal
from typing import Any

from sqlalchemy import DateTime, Engine, Float, Numeric, create_engine, event
from sqlalchemy.dialects.sqlite import DATETIME
from sqlalchemy.engine import make_url

SQLITE_BUSY_TIMEOUT_MS = 30_000
#: the range of an integer column: PostgreSQL's BIGINT, and SQLite's INTEGER (64-bit too). A
#: number outside it must never reach a statement (OverflowError on SQLite, DataError on
#: PostgreSQL: a 500): the API refuses it with a 422 (``core.api``), ``Env.get`` finds nothing.
INT_MIN, INT_MAX = -(2**63), 2**63 - 1


def fits_int_column(value: int) -> bool:
    return INT_MIN <= value <= INT_MAX


#: the most digits a number of a Numeric column may have: SQLite keeps a NUMERIC value with a
#: fraction as a 64-bit float, exact to 15 significant digits (9999999999.999999 reads back as
#: 9999999999.999998), so only then do both databases store the same, exact, number
NUMERIC_DIGITS = 15


class NumericLimit:
    """What a Numeric column stores exactly on both databases: at most ``scale`` decimals and
    ``min(precision, 15) - scale`` digits before the decimal point (a column without precision:
    at most 15 significant digits). PostgreSQL would round the decimals away or refuse a
    larger number (NumericValueOutOfRange: a 500); SQLite would store another number.
    ``error(value)`` says why a value does not fit, None when it does."""

    __slots__ = ("precision", "scale", "largest", "bound", "quantum", "_too_large")

    def __init__(self, precision: int | None, scale: int | None) -> None:
        self.precision = precision
        self.scale = scale if scale is not None or precision is None else 0
        self.largest: Decimal | None = None
        #: ``-bound < value < bound`` and a multiple of ``quantum``: the value fits (the check
        #: the kernel makes before every flush, kept to two comparisons and a quantize)
        self.bound: Decimal | None = None
        self.quantum: Decimal | None = None
        if precision is not None:
            scale = self.scale
            digits = min(precision, NUMERIC_DIGITS) - scale
            self.quantum = Decimal(1).scaleb(-scale)
            self.bound = Decimal(1).scaleb(digits)
            self.largest = self.bound - self.quantum
            self._too_large = (f"at most {self.largest} in absolute value ({digits} digits before "
                               f"the decimal point, {scale} after)")

    def error(self, value: Any) -> str | None:
        number = _as_number(value)
        if number is None:
            return None
        if not number.is_finite():
            return f"{value} is not a finite number"
        if self.bound is None:  # no precision: the column stores any number (PostgreSQL)
            if len(number.normalize().as_tuple().digits) > NUMERIC_DIGITS:
                return f"{value} has more than {NUMERIC_DIGITS} digits"
            return None
        if not -self.bound < number < self.bound:
            return f"{value} is too large: {self._too_large}"
        if number.quantize(self.quantum) != number:
            return f"{value} has more than {self.scale} decimals"
        return None


def _as_number(value: Any) -> Decimal | None:
    """``value`` as a Decimal (an int, a float by its shortest text, a numeric text), None for
    anything else (an SQL expression, a text that is no number: the database's to refuse)."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float, str)):
        try:
            return Decimal(repr(value) if isinstance(value, float) else value)
        except (ArithmeticError, ValueError):
            return None
    return None


def numeric_limit(type_) -> NumericLimit | None:
    """The limit of a column type (None: not an exact Numeric, e.g. a Float)."""
    if not isinstance(type_, Numeric) or isinstance(type_, Float):
        return None
    return NumericLimit(type_.precision, type_.scale)

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
