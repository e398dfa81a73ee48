"""Statements of the sale services built once per app and run as plain Core statements.

Building a SELECT with functions, CASE and subqueries costs SQLAlchemy some hundreds of
microseconds, and running it through the ORM session (session events, ORM compile state) as
much again. The system reads of the services (aggregates under ``env.sudo()`` that return plain
rows, no records) need neither: they are built once per app with bind parameters (``built``)
and run on the transaction's connection (``execute``) after the autoflush the session would
have done. Record rules do not apply to them: use them only where the code reads as the system.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

#: per app (``Salesflow``): {name: statement}
_BUILT: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def built(env, name: str, build: Callable[[Any], Any]):
    """The statement ``name`` of this app, made by ``build(env)`` the first time (it must
    depend only on the app: its records and settings, never on the transaction or the user;
    values go in as bind parameters)."""
    per_app = _BUILT.get(env.sf)
    if per_app is None:
        per_app = _BUILT.setdefault(env.sf, {})
    stmt = per_app.get(name)
    if stmt is None:
        stmt = per_app[name] = build(env)
    return stmt


def execute(env, stmt, params: dict[str, Any] | list[dict[str, Any]] | None = None):
    """Run ``stmt`` on the transaction's connection, after an autoflush (as ``Session.execute``
    would do, unless in ``no_autoflush``). Plain Core: no session events, no record rules."""
    session = env.session
    if session.autoflush:
        session.flush()
    return session.connection().execute(stmt, params)
