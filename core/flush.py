"""The kernel writes what the unit of work would write row by row: many records in one
statement.

**Updates.** SQLAlchemy's unit of work sends an UPDATE per row whenever the mapper has a
version column (every salesflow record has one: the optimistic lock and the API's ETag),
because it cannot tell which row of an ``executemany`` was stale. SQLite's and psycopg's
``executemany`` report the sum of the rows matched, which is all a version check needs: if
the sum is short, some row was changed by another transaction, and the whole flush fails as
the ORM's would (``StaleDataError``). A batch (a hundred orders approved, shipped, invoiced at
once) then writes each step in one statement instead of a hundred.

``update_many`` runs at the end of the kernel's ``before_flush`` (after the access checks,
validation and audit have seen every change) and writes, per class and set of changed
columns, the records it can: two or more, of a single-table mapper, changed only in plain
columns (no relationship change, no SQL expression, no key or bookkeeping column, no
foreign key to a table the same flush inserts into) of a table whose only ``onupdate`` is
``updated_at``. Their new values, version and ``updated_at`` are then marked as loaded, so
the unit of work finds nothing left to write for them; everything else is flushed by the
ORM as usual.

**Inserts.** ``insert_many`` runs just before it: new records go in with one executemany
INSERT per class, parents before children (the tables' foreign-key order), and become
persistent as after the ORM's own INSERT. The unit of work's bookkeeping per new object
(dependency sorting, cascades, history, post-fetch) was about a third of creating a batch
of orders. What it cannot do as the ORM would (see ``_insert_plan`` and ``_insertable``) it
leaves to the ORM.

**Ids.** On PostgreSQL a large group takes its ids from one ``nextval`` SELECT; in an SQLite
write transaction (``BEGIN IMMEDIATE``: no other writer until it ends) from ``max(id)``, as
SQLite itself would number them. Either way the rows then go in without RETURNING.

**executemany.** These writes, the audit and workflow log rows, and an addon's own batched
rows (``Env.executemany``, ``Env.insert_rows``) convert each value with the processor
SQLAlchemy would apply and hand the rows to the driver's ``executemany`` themselves: Core's
per-row parameter assembly cost more than SQLite's execution of the rows.

It leans on a few SQLAlchemy internals (``Session._register_persistent`` and
``_register_altered``, ``InstanceState._commit_all_states``, ``Compiled._bind_processors``;
``core.registry._record_init`` likewise on the attribute events): pyproject.toml keeps
SQLAlchemy below 2.2, and tests/test_flush.py and tests/test_records.py hold each to the ORM's
own behaviour on both databases.

Mapper-level events (``before_insert``, ``after_update``...) do not fire for the rows
written here: salesflow's extension points are its hooks, which all ran before.
"""

from __future__ import annotations

import datetime as dt
import weakref
from typing import Any

from sqlalchemy import Table, bindparam, func, inspect, select
from sqlalchemy.orm import Session, attributes
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.sql.elements import ClauseElement

from core.db import WRITE

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
    """Only the column changes of ``changes`` pending (no relationship, no other column), none
    a SQL expression, and a version."""
    state = attributes.instance_state(obj)
    if not state.has_identity or any(key not in columns for key in state.committed_state):
        return False
    # a column set but not among ``changes`` (set to None while unloaded: added [None], nothing
    # deleted) is still the ORM's to write; committing the record would drop it
    if any(key not in changes and state.manager[key].impl.get_history(
            state, state.dict, attributes.PASSIVE_NO_INITIALIZE).has_changes()
           for key in state.committed_state):
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
    result = executemany(session.connection(), statement, rows)
    if result.rowcount != len(rows):
        raise StaleDataError(
            f"UPDATE statement on table '{table.name}' expected to update {len(rows)} row(s); "
            f"{result.rowcount} were matched.")
    # now what the database holds, and no longer dirty: the unit of work does not even visit
    # them (it would, finding nothing to write, at the cost of an UPDATE's bookkeeping each)
    states = []
    for (obj, _changes), row in zip(items, rows, strict=True):
        state = attributes.instance_state(obj)
        state.dict["version"], state.dict["updated_at"] = row["v_version"], now
        states.append((state, state.dict))
    type(states[0][0])._commit_all_states(states, session.identity_map)
    session._register_altered(state for state, _dict in states)  # a savepoint rollback expires them


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


# -- executemany -----------------------------------------------------------------------------

# (statement) -> {(dialect, row keys): (SQL, [(row key, name in SQL, processor or None)], positional)
# or None}
_EXECUTEMANY: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def executemany(connection, statement, rows: list[dict]):
    """``connection.execute(statement, rows)`` for an INSERT, UPDATE or DELETE without
    RETURNING whose rows all have the same keys (the bind names): compiled once per statement,
    key set and dialect; each value converted by the processor SQLAlchemy would apply; then
    one DBAPI ``executemany`` (``exec_driver_sql``: engine events still see it). SQLAlchemy
    assembles the parameters of every row anew (defaults, checks, a dict per row), which was
    most of the cost of writing audit rows and batched updates. What it cannot take as is (a
    RETURNING, a Python-side default to fill in, an expanding IN) goes to
    ``connection.execute`` unchanged. Keep ``statement`` (build it once): the plan is cached
    on it."""
    if not rows:
        return None
    keys = tuple(rows[0])
    dialect = connection.dialect
    by_statement = _EXECUTEMANY.setdefault(statement, {})
    plan = by_statement.get((dialect, keys), False)
    if plan is False:
        plan = by_statement[(dialect, keys)] = _executemany_plan(statement, dialect, keys)
    if plan is None or any(len(row) != len(keys) for row in rows):
        return connection.execute(statement, rows)
    sql, binds, positional = plan
    try:
        if positional:
            params = [tuple(row[name] if proc is None else proc(row[name]) for name, _, proc in binds)
                      for row in rows]
        else:
            params = [{param: row[name] if proc is None else proc(row[name])
                       for name, param, proc in binds} for row in rows]
    except KeyError:  # another key set in a later row: as SQLAlchemy would take it
        return connection.execute(statement, rows)
    return connection.exec_driver_sql(sql, params)


def insert_rows(connection, table: Table, rows: list[dict]):
    """Rows of ``table`` inserted with one ``executemany`` and no objects (logs, audit rows,
    lines an addon writes itself): ``INSERT INTO table`` built once per table."""
    return executemany(connection, _insert_statement(table, False), rows)


def _executemany_plan(statement, dialect, keys: tuple[str, ...]):
    compiled = statement.compile(dialect=dialect, column_keys=list(keys), for_executemany=True)
    if (compiled.returning or compiled.insert_prefetch or compiled.update_prefetch
            or compiled.postfetch_lastrowid or getattr(compiled, "_post_compile_expanded_state", None)
            or any(bind.expanding or bind.callable is not None or bind.key not in keys
                   for bind in compiled.binds.values())):
        return None
    processors = compiled._bind_processors  # what SQLAlchemy's own execute applies, per bind
    names = compiled.positiontup if dialect.positional else list(compiled.binds)
    # the name in the SQL text: a space, '%', '(' or '.' is escaped there (%(unit_price)s)
    escaped = compiled.escaped_bind_names or {}
    return (compiled.string, [(name, escaped.get(name, name), processors.get(name)) for name in names],
            dialect.positional)


# -- inserts ---------------------------------------------------------------------------------

_INSERT_PLANS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
# (table) -> {returning id: INSERT statement}
_INSERTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
# (metadata) -> {table: position in dependency order}
_TABLE_ORDER: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_STAMPS = frozenset({"created_at", "updated_at"})
#: on PostgreSQL, this many new rows of one class or more take their ids from one ``nextval``
#: SELECT first; fewer go in with one ``INSERT .. RETURNING`` (one statement, not two)
PG_RESERVE_FROM = 100


class _InsertPlan:
    """How the kernel inserts new records of one mapper (see ``insert_many``)."""

    __slots__ = ("columns", "defaults", "server_only", "to_one", "to_many")

    def __init__(self, columns, defaults, server_only, to_one, to_many) -> None:
        self.columns: dict[str, Any] = columns  # key -> column, without id and sentinels
        self.defaults: dict[str, Any] = defaults  # key -> ColumnDefault (scalar or callable)
        self.server_only: frozenset[str] = server_only  # a server default and no Python one
        #: (relationship key, ((target key, local key), ...), has a reverse collection)
        self.to_one: tuple[tuple[str, tuple[tuple[str, str], ...], bool], ...] = to_one
        #: (relationship key, ((local key, child key), ...))
        self.to_many: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = to_many


def _insert_plan(mapper) -> _InsertPlan | None:
    """The mapper's plan, or None when its records must go through the ORM (see
    ``_plain_columns``; also: a primary key other than ``id``, a many-to-many or post-update
    relationship, a default the database computes from SQL)."""
    if mapper in _INSERT_PLANS:
        return _INSERT_PLANS[mapper]
    plan = None
    plain = _plain_columns(mapper)
    table = mapper.local_table
    if plain is not None and [c.key for c in table.primary_key] == ["id"]:
        columns, defaults, server_only = {}, {}, set()
        ok = True
        for key, column in plain.items():
            if key == "id" or getattr(column, "_insert_sentinel", False):
                continue
            columns[key] = column
            default = column.default
            if default is not None and not (default.is_scalar or default.is_callable):
                ok = False  # a sequence or a SQL expression: the ORM knows how
            elif default is not None:
                defaults[key] = default
            elif column.server_default is not None:
                server_only.add(key)
        to_one, to_many = [], []
        for rel in mapper.relationships:
            if rel.viewonly:
                continue
            if rel.secondary is not None or rel.post_update or rel.direction.name == "MANYTOMANY":
                ok = False
                break
            pairs = []
            for one_side, many_side in rel.synchronize_pairs:
                if rel.direction.name == "MANYTOONE":
                    pairs.append((rel.mapper.get_property_by_column(one_side).key,
                                  mapper.get_property_by_column(many_side).key))
                else:
                    pairs.append((mapper.get_property_by_column(one_side).key,
                                  rel.mapper.get_property_by_column(many_side).key))
            if rel.direction.name == "MANYTOONE":
                to_one.append((rel.key, tuple(pairs), bool(rel._reverse_property)))
            else:
                to_many.append((rel.key, tuple(pairs)))
        if ok:
            plan = _InsertPlan(columns, defaults, frozenset(server_only), tuple(to_one),
                               tuple(to_many))
    _INSERT_PLANS[mapper] = plan
    return plan


def insert_many(session: Session, new: list, *, postgresql: bool) -> None:
    """Insert the new records of ``new`` (the session's pending ones, from the kernel's
    ``before_flush``, after the access checks, validation and audit collection saw them) that
    can go together: one executemany INSERT per class, parents before children, and make
    them persistent as the unit of work would; leave the rest to it.

    A new record goes through here when it points only at persisted records or at records
    inserted here (a many-to-one to a pending record the ORM must write, or to a persisted
    record whose collection would then be processed, stays with the ORM). The ids come back
    from ``INSERT .. RETURNING`` (in the rows' order: on SQLite through the table's insert
    sentinel); on PostgreSQL a large group takes them from one ``nextval`` SELECT first and
    goes in as one pipelined executemany. Mapper-level ``before_insert``/``after_insert``
    events do not fire, as for ``update_many``."""
    groups: dict[type, list] = {}
    for obj in new:
        if getattr(type(obj), "__record__", None):
            groups.setdefault(type(obj), []).append(obj)
    if not groups:
        return
    plans = {cls: _insert_plan(inspect(cls)) for cls in groups}
    order = _table_order(next(iter(groups)).__table__.metadata)
    done: set[int] = set()  # id() of the records inserted here
    now = dt.datetime.now(dt.UTC)
    last_ids = {} if postgresql else _sqlite_last_ids(
        session, [cls.__table__ for cls, plan in plans.items() if plan is not None])
    for cls in sorted(groups, key=lambda c: order.get(c.__table__, 0)):
        plan = plans[cls]
        if plan is None:
            continue
        ready = [obj for obj in groups[cls] if _insertable(obj, plan, done)]
        if not ready:
            continue
        if len({attributes.instance_dict(obj).get("id") is None for obj in ready}) > 1:
            continue  # given ids beside none: the ORM inserts the given ones as they are
        _insert(session, cls.__table__, plan, ready, now, postgresql, last_ids.get(cls.__table__))
        done.update(id(obj) for obj in ready)


def _sqlite_last_ids(session: Session, tables: list[Table]) -> dict[Table, int]:
    """In an SQLite write transaction (``BEGIN IMMEDIATE``: no other writer until it ends),
    each table's highest id, all in one SELECT: new rows take the next ones, as SQLite itself
    would number them, and go in without RETURNING. Not for AUTOINCREMENT tables (SQLite never
    reuses their ids) nor outside a write transaction: ``{}`` there."""
    conn = session.connection()
    if not conn.get_execution_options().get(WRITE, False):
        return {}
    tables = [t for t in tables if not t.dialect_options["sqlite"]["autoincrement"]]
    if not tables:
        return {}
    row = conn.execute(select(*(select(func.coalesce(func.max(t.c.id), 0)).scalar_subquery()
                                for t in tables))).one()
    return dict(zip(tables, row, strict=True))


def _table_order(metadata) -> dict:
    order = _TABLE_ORDER.get(metadata)
    if order is None:
        order = _TABLE_ORDER[metadata] = {t: i for i, t in enumerate(metadata.sorted_tables)}
    return order


def _insertable(obj, plan: _InsertPlan, done: set[int]) -> bool:
    values = attributes.instance_dict(obj)
    if any(key not in values for key in plan.server_only):
        return False  # the database fills it: the ORM reads it back
    for key, _pairs, has_reverse in plan.to_one:
        target = values.get(key)
        if target is None or id(target) in done:
            continue
        if has_reverse or attributes.instance_state(target).key is None:
            return False
    return not any(isinstance(v, ClauseElement) or hasattr(v, "__clause_element__")
                   for k, v in values.items() if k in plan.columns)


def _insert(session: Session, table: Table, plan: _InsertPlan, objs: list, now, postgresql: bool,
            last_id: int | None = None) -> None:
    states = [attributes.instance_state(obj) for obj in objs]
    rows = []
    for state in states:
        values = state.dict
        for rel_key, pairs, _reverse in plan.to_one:  # the foreign keys of inserted parents
            target = values.get(rel_key)
            if target is not None:
                target_values = attributes.instance_dict(target)
                for target_key, local_key in pairs:
                    values[local_key] = target_values[target_key]
        for key in _STAMPS:
            if values.get(key) is None:
                values[key] = now
        values["version"] = 1
        for key, default in plan.defaults.items():
            if key not in values:
                values[key] = default.arg if default.is_scalar else default.arg(None)
        rows.append({column.key: values.setdefault(key, None)
                     for key, column in plan.columns.items()})
    with_ids = all(state.dict.get("id") is not None for state in states)
    conn = session.connection()
    if not with_ids and last_id is not None:  # SQLite: see _sqlite_last_ids
        for offset, state in enumerate(states, start=1):
            state.dict["id"] = last_id + offset
        with_ids = True
    if not with_ids and postgresql and len(states) >= PG_RESERVE_FROM:
        # the ids first, then no RETURNING: a pipelined executemany, where psycopg would parse
        # a huge multi-row INSERT .. RETURNING anew for each batch size
        sequence = func.pg_get_serial_sequence(table.name, "id")
        ids = conn.execute(select(func.nextval(sequence)).select_from(
            func.generate_series(1, len(states)))).scalars().all()
        for state, ident in zip(states, ids, strict=True):
            state.dict["id"] = ident
        with_ids = True
    if with_ids:
        for state, row in zip(states, rows, strict=True):
            row["id"] = state.dict["id"]
        executemany(conn, _insert_statement(table, False), rows)
    else:
        ids = conn.execute(_insert_statement(table, True), rows).scalars().all()
        for state, ident in zip(states, ids, strict=True):
            state.dict["id"] = ident
    session._register_persistent(set(states))  # what the unit of work does after its INSERTs
    for state in states:  # children still pending get their parent's id now
        for rel_key, pairs in plan.to_many:
            for child in state.dict.get(rel_key) or ():
                child_state = attributes.instance_state(child)
                if child_state.key is None:
                    for local_key, child_key in pairs:
                        child_state.dict[child_key] = state.dict[local_key]


def _insert_statement(table: Table, returning: bool):
    """``INSERT INTO t`` (its columns are the rows' keys), ``RETURNING id`` in the rows' order
    when asked; built once per table."""
    by_table = _INSERTS.setdefault(table, {})
    statement = by_table.get(returning)
    if statement is None:
        statement = table.insert()
        if returning:
            statement = statement.returning(table.c.id, sort_by_parameter_order=True)
        by_table[returning] = statement
    return statement
