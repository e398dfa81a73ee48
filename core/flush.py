"""Many records of one class changed in the same columns: one UPDATE for all of them.

SQLAlchemy's unit of work sends an UPDATE per row whenever the mapper has a version column
(every salesflow record has one: the optimistic lock and the API's ETag), because it cannot
tell which row of an ``executemany`` was stale. SQLite's and psycopg's ``executemany`` report
the sum of the rows matched, which is all a version check needs: if the sum is short, some
row was changed by another transaction, and the whole flush fails as the ORM's would
(``StaleDataError``). A batch (a hundred orders approved, shipped, invoiced at once) then
writes each step in one statement instead of a hundred.

``update_many`` runs at the end of the kernel's ``before_flush`` (after the access checks,
validation and audit have seen every change) and writes, per class and set of changed
columns, the records it can: two or more, of a single-table mapper, changed only in plain
columns (no relationship change, no SQL expression, no key or bookkeeping column, no
foreign key to a table the same flush inserts into) of a table whose only ``onupdate`` is
``updated_at``. Their new values, version and ``updated_at`` are then marked as loaded, so
the unit of work finds nothing left to write for them; everything else is flushed by the
ORM as usual. Mapper-level ``before_update``/``after_update`` events do not fire for the
rows written here: salesflow's extension points are its hooks, which all ran before.
"""

from __future__ import annotations

import datetime as dt
import weakref
from typing import Any

from sqlalchemy import Table, bindparam, inspect
from sqlalchemy.orm import Session, attributes
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.sql.elements import ClauseElement

#: fewer records than this in a group are left to the ORM (nothing to gain)
MIN_GROUP = 2
_BOOKKEEPING = frozenset({"id", "version", "updated_at", "created_at"})

# (table) -> {changed column keys: UPDATE statement}; per app, as tables are
_STATEMENTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
# (mapper) -> {attribute key: column} of its plain single-table columns, or None (not eligible)
_PLAIN: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def update_many(session: Session, changed: list[tuple[Any, dict[str, tuple[Any, Any]]]]) -> None:
    """Write the records of ``changed`` (``(record, {key: (old, new)})``, from the kernel's
    ``before_flush``) that can go together, one executemany UPDATE per class and set of
    changed columns; leave the rest to the unit of work."""
    groups: dict[tuple[type, frozenset[str]], list] = {}
    for obj, changes in changed:
        groups.setdefault((type(obj), frozenset(changes)), []).append((obj, changes))
    inserting: set[Table] | None = None
    for (cls, keys), items in groups.items():
        if len(items) < MIN_GROUP or keys & _BOOKKEEPING:
            continue
        columns = _plain_columns(inspect(cls))
        if columns is None or not keys <= columns.keys():
            continue
        if inserting is None:
            inserting = {inspect(type(o)).local_table for o in session.new}
        if any(fk.column.table in inserting for key in keys for fk in columns[key].foreign_keys):
            continue  # the ORM orders such rows after the INSERTs they point to
        ready = [(obj, changes) for obj, changes in items if _ready(obj, changes, columns)]
        if len(ready) >= MIN_GROUP:
            _write(session, inspect(cls), sorted(keys), ready)


def _plain_columns(mapper) -> dict[str, Any] | None:
    """``{key: column}`` of the mapper's plain columns, or None when its records must go
    through the ORM (inheritance, no integer version, other ``onupdate`` columns)."""
    if mapper in _PLAIN:
        return _PLAIN[mapper]
    table = mapper.local_table
    found: dict[str, Any] | None = None
    eligible = (mapper.inherits is None and isinstance(table, Table)
                and mapper.version_id_col is not None and "version" in table.c
                and mapper.version_id_col is table.c.version
                and "updated_at" in table.c and "id" in table.c
                and all((c.onupdate is None or c.key == "updated_at") and c.server_onupdate is None
                        for c in table.c))
    if eligible:
        found = {}
        for prop in mapper.column_attrs:
            if len(prop.columns) == 1 and prop.columns[0].table is table:
                found[prop.key] = prop.columns[0]
    _PLAIN[mapper] = found
    return found


def _ready(obj, changes: dict, columns: dict) -> bool:
    """Only column changes pending (no relationship), none a SQL expression, and a version."""
    state = attributes.instance_state(obj)
    if not state.has_identity or any(key not in columns for key in state.committed_state):
        return False
    if any(isinstance(new, ClauseElement) or hasattr(new, "__clause_element__")
           for _old, new in changes.values()):
        return False
    return state.dict.get("version") is not None


def _write(session: Session, mapper, keys: list[str], items: list) -> None:
    table = mapper.local_table
    statement = _statement(mapper, tuple(keys))
    now = dt.datetime.now(dt.UTC)
    rows = []
    for obj, changes in items:
        row = {f"v_{key}": changes[key][1] for key in keys}
        row["w_id"], row["w_version"] = obj.id, obj.version
        row["v_version"], row["v_updated_at"] = obj.version + 1, now
        rows.append(row)
    result = session.connection().execute(statement, rows)
    if result.rowcount != len(rows):
        raise StaleDataError(
            f"UPDATE statement on table '{table.name}' expected to update {len(rows)} row(s); "
            f"{result.rowcount} were matched.")
    for (obj, _changes), row in zip(items, rows, strict=True):
        for key in keys:  # now what the database holds: nothing left for the unit of work
            attributes.set_committed_value(obj, key, row[f"v_{key}"])
        attributes.set_committed_value(obj, "version", row["v_version"])
        attributes.set_committed_value(obj, "updated_at", now)


def _statement(mapper, keys: tuple[str, ...]):
    """``UPDATE t SET <keys>, version, updated_at WHERE id = ? AND version = ?``, built once."""
    table = mapper.local_table
    by_keys = _STATEMENTS.setdefault(table, {})
    statement = by_keys.get(keys)
    if statement is None:
        columns = _plain_columns(mapper)
        values = {columns[key].name: bindparam(f"v_{key}", type_=columns[key].type) for key in keys}
        values["version"] = bindparam("v_version", type_=table.c.version.type)
        values["updated_at"] = bindparam("v_updated_at", type_=table.c.updated_at.type)
        statement = by_keys[keys] = (
            table.update()
            .where(table.c.id == bindparam("w_id", type_=table.c.id.type),
                   table.c.version == bindparam("w_version", type_=table.c.version.type))
            .values(values))
    return statement
