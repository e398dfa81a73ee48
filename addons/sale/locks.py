"""Row locks of the sale services without needless re-reads.

``Env.lock(row)`` flushes, then ``SELECT ... FOR UPDATE`` the row and reloads it, so a check sees
what concurrent transactions committed. Two cases make that statement useless, and
``lock_row`` skips it there (the pending changes are flushed all the same):

* **SQLite write transactions** start with ``BEGIN IMMEDIATE`` (``core.db``): from its first
  statement no other writer can commit, so a row this transaction loaded (and did not expire
  since) is already what the database holds. SQLite has no row locks to take.
* **A row this transaction already locked** (``FOR UPDATE`` outside a savepoint: the lock holds
  until commit, so nobody else can have changed it), e.g. the order that ``create_invoice``
  locked and ``post_invoice`` locks again.

Rows locked here are kept referenced until the end of the transaction (the session's identity
map holds rows weakly), so a later ``session.get`` finds them without a SELECT.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect, select

_LOCKED = "sale.locked_rows"


def _held(env) -> dict[tuple[type, Any], Any]:
    return env.session.info.setdefault(_LOCKED, {})


def holds(env, cls, ident) -> bool:
    """This transaction already holds the row lock of ``cls`` ``ident``."""
    return (cls, ident) in _held(env)


def sqlite_write(env) -> bool:
    """True in an SQLite write transaction (``BEGIN IMMEDIATE``: one writer at a time)."""
    if env.sf.dialect != "sqlite":
        return False
    from core.db import WRITE

    bind = env.session.get_bind()
    return bool(bind.get_execution_options().get(WRITE, False))


def loaded_here(env, obj) -> bool:
    """``obj`` was loaded (or inserted) by this transaction and none of its attributes has
    been expired since (a rollback to a savepoint expires what it touched)."""
    state = inspect(obj)
    return (state.session_id == env.session.hash_key and state.persistent
            and not state.expired and not state.expired_attributes)


def is_current(env, obj) -> bool:
    """Would ``env.lock(obj)`` find nothing new? (see the module docstring)"""
    if not loaded_here(env, obj):
        return False
    if sqlite_write(env):
        return True
    return _held(env).get((type(obj), obj.id)) is obj


def remember(env, obj) -> None:
    """Note that this transaction holds ``obj``'s row lock (taken outside any savepoint) and
    keep ``obj`` referenced until the end of the transaction."""
    if not env.session.in_nested_transaction():
        _held(env)[(type(obj), obj.id)] = obj


def lock_row(env, obj):
    """``env.lock(obj)``, without the SELECT when it cannot find anything new. Returns the
    (same) record."""
    if is_current(env, obj):
        env.session.flush()
        _held(env).setdefault((type(obj), obj.id), obj)
        return obj
    obj = env.lock(obj)
    remember(env, obj)
    return obj


def get_locked(env, record: str, ident: Any):
    """``env.get(record, ident, lock=True)`` (access rights and record rules apply), reusing
    the row when this transaction already has it current (``is_current``) and the user's
    record rules cannot hide it (no rules for this user on ``record``)."""
    cls = env[record]
    try:
        found = env.loaded(cls, int(ident))
    except (TypeError, ValueError):
        found = None  # env.get says NotFound
    if found is not None and env.can(record, "read") and not env.rule_criteria(cls) \
            and is_current(env, found):
        env.session.flush()
        _held(env).setdefault((cls, found.id), found)
        return found
    found = env.get(record, ident, lock=True)
    remember(env, found)
    return found


def lock_id(env, record: str, ident: int):
    """Lock the row ``ident`` of ``record`` as the system (no record rules), reusing it when
    this transaction has it current (``is_current``); the record, or None when missing."""
    cls = env[record]
    found = env.loaded(cls, ident)
    if found is not None and is_current(env, found):
        env.session.flush()
        _held(env).setdefault((cls, found.id), found)
        return found
    rows = lock_rows(env, record, cls.id == ident)
    return rows[0] if rows else None


def lock_rows(env, record: str, *criteria, order_by=None) -> list:
    """``SELECT ... FOR UPDATE`` the rows of ``record`` matching ``criteria`` (as the system)
    and reload them, so a decision sees what concurrent transactions committed."""
    cls = env[record]
    env.session.flush()
    stmt = select(cls).where(*criteria).with_for_update()
    stmt = stmt.order_by(*(order_by if order_by is not None else [cls.id]))
    with env.sudo():
        rows = list(env.session.scalars(stmt.execution_options(populate_existing=True)))
    for row in rows:
        remember(env, row)
    return rows
