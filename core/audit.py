"""Audit history: who changed which record, when, old and new values.

Records opt in with ``__audit__ = True``. Rows are collected at flush and written with one
INSERT per flush (``executemany``) into the append-only ``audit_log``.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm.attributes import instance_dict

from core.env import jsonable
from core.flush import insert_rows

if TYPE_CHECKING:
    from core.env import Env

_SKIP = {"updated_at", "version", "created_at", "password_hash"}


@functools.cache
def _audited(cls) -> tuple[str, ...]:
    """The columns of a record class an audit row of its creation shows."""
    return tuple(c.key for c in cls.__mapper__.column_attrs if c.key not in _SKIP)


class Audit:
    def __init__(self, registry) -> None:
        self.registry = registry

    def write(self, env: Env, pending: list[tuple[Any, str, dict | None]]) -> None:
        table = self.registry["audit.log"].__table__
        now = env.now
        rows = []
        for obj, action, changes in pending:
            if action == "create":
                # from the instance's dict: after the INSERT it holds every column written
                # (getattr per column costs the ORM's attribute machinery each time)
                loaded = instance_dict(obj)
                values = {key: [None, jsonable(loaded[key])] for key in _audited(type(obj))
                          if loaded.get(key) is not None}
            elif action == "write":
                values = {k: [jsonable(o), jsonable(n)] for k, (o, n) in changes.items() if k not in _SKIP}
                if not values:
                    continue
            else:
                values = {}
            rows.append({"record": obj.__record__, "record_id": obj.id, "action": action,
                         "user_id": env.user_id, "at": now, "changes": values,
                         "created_at": now, "updated_at": now, "version": 1})
        if rows:
            insert_rows(env.session.connection(), table, rows)

    def history(self, env: Env, record: str, record_id: int) -> list[dict[str, Any]]:
        Log = self.registry["audit.log"]
        rows = env.session.scalars(
            select(Log).where(Log.record == record, Log.record_id == record_id).order_by(Log.id)
        )
        return [{"action": r.action, "user_id": r.user_id, "at": r.at.isoformat(),
                 "changes": r.changes} for r in rows]
