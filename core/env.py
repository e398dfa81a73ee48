"""``Env``: one transaction of one user in one app. Every command and request gets one.

    with salesflow.transaction(user=user) as env:
        order = env.get("sale.order", 42)          # record rules apply: hidden -> NotFound
        order.fire("approve")                      # workflow, roles, guards, approvals, log
        env.create("sale.customer", name="ACME")   # access checked, validated, audited

Everything in the block commits together or not at all; signals are sent after the commit.
Permissions are enforced below the service layer, on the session itself, so forms, API,
reports and exports cannot differ:

* reading: ``do_orm_execute`` refuses models the user may not read and adds every addon's
  record-rule criteria (``record_rule_filters`` hook) to every ORM query;
* writing: ``before_flush`` checks create / write / delete rights, runs ``record_validate``,
  refuses changes to append-only rows, posted documents and their parts (``__posted_parent__``),
  refuses ``state`` changes that did not come from the workflow engine, and writes the audit
  log. Bulk ORM UPDATE and DELETE of such records (INSERT too, for parts) are refused. After
  the rows are written, a record the user created or changed must still pass their record
  rules (one SELECT per class), or the flush is refused.

``env.sudo()`` lifts access checks and record rules for kernel and addon internals (e.g. a
credit check summing invoices the user cannot list).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import weakref
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session, attributes, with_loader_criteria

from core.db import fits_int_column, numeric_limit
from core.errors import AccessDenied, ImmutableRecord, NotFound, ValidationError
from core.flush import executemany, insert_many, insert_rows, update_many

if TYPE_CHECKING:
    from core.app import Salesflow

SUPERUSER_ROLE = "admin"


class Env:
    def __init__(self, sf: Salesflow, session: Session, user_id: int | None,
                 roles: frozenset[str] = frozenset()):
        self.sf = sf
        self.session = session
        self.user_id = user_id  # None: the system itself
        self.roles = roles
        self._user = None
        self._sudo = 0
        self._after_commit: list[Callable[[], None]] = []
        self._rule_cache: dict[type, list] = {}
        self._fired: dict[int, str] = {}  # id(record) -> state the engine set
        #: workflow.log rows of transitions made and not written yet (``core.workflow``)
        self._pending_logs: list[dict] = []
        #: (code, period) -> numbers taken ahead by ``numbers_reserved``, used first
        self._reserved_numbers: dict[tuple[str, str], list[int]] = {}
        session.info["env"] = self

    # -- registry and settings -------------------------------------------------------------
    def __getitem__(self, record: str) -> type:
        return self.sf.registry[record]

    @property
    def hook(self):
        return self.sf.pm.hook

    def settings(self, addon: str) -> dict[str, Any]:
        return self.sf.settings[addon]

    @property
    def config(self):
        return self.sf.config

    @property
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    # -- identity --------------------------------------------------------------------------
    @property
    def user(self):
        """The ``res.user`` record (loaded on first use), or None for the system."""
        if self._user is None and self.user_id is not None:
            with self.sudo():
                self._user = self.session.get(self.sf.registry["res.user"], self.user_id)
        return self._user

    @property
    def is_superuser(self) -> bool:
        return self.user_id is None or SUPERUSER_ROLE in self.roles

    @property
    def unrestricted(self) -> bool:
        """True when access checks and record rules do not apply (system, admin, sudo)."""
        return self._sudo > 0 or self.is_superuser

    def has_role(self, *roles: str) -> bool:
        return any(r in self.roles for r in roles)

    @contextlib.contextmanager
    def sudo(self) -> Iterator[Env]:
        """Run the block without access checks and record rules (internal computations)."""
        self._sudo += 1
        try:
            yield self
        finally:
            self._sudo -= 1

    @contextlib.contextmanager
    def as_system(self) -> Iterator[Env]:
        """Run the block as the system itself: no user (workflow logs name none), no roles, no
        access checks. For what follows the documents whoever changed them, e.g. an order's
        state moved on by its ledger after a seller's amendment, which the seller's own roles
        could not fire."""
        # audit rows are written at flush, naming the env's user then: the user's own changes
        # go out first, the system's before the user is back
        self.session.flush()
        user_id, roles = self.user_id, self.roles
        self.user_id, self.roles = None, frozenset()
        try:
            with self.sudo():
                yield self
                self.session.flush()
        finally:
            self.user_id, self.roles = user_id, roles

    # -- access ----------------------------------------------------------------------------
    def can(self, record: str, operation: str) -> bool:
        """May the user ``operation`` ("read", "create", "write", "delete") ``record``?"""
        if self.unrestricted:
            return True
        return self.sf.security.allows(self.roles, record, operation)

    def check_access(self, record: str, operation: str) -> None:
        if not self.can(record, operation):
            raise AccessDenied(f"you may not {operation} {record} (roles: {sorted(self.roles) or 'none'})")

    def rule_options(self) -> dict[type, Any]:
        """``with_loader_criteria`` options, by record class, for every record this user's
        rules restrict.

        Added to each ORM SELECT of a restricted user for the records it reads (entities and
        FROM clause); SQLAlchemy applies them there and in the relationship loads that follow.
        Rules may depend only on the user and its roles (plus values read at query time, as
        subqueries), so they are computed once per user and roles and kept by the app.
        """
        if self.unrestricted:
            return {}
        key = (self.user_id, self.roles)
        options = self.sf.rule_options_cache.get(key)
        if options is None:
            from sqlalchemy import and_

            options = {
                cls: with_loader_criteria(cls, and_(*criteria), include_aliases=True)
                for cls in self.sf.record_by_table.values()
                if (criteria := self.rule_criteria(cls))
            }
            if len(self.sf.rule_options_cache) > 4096:
                self.sf.rule_options_cache.clear()
            self.sf.rule_options_cache[key] = options
        return options

    def rule_criteria(self, cls: type) -> list:
        if self.unrestricted:
            return []
        cached = self._rule_cache.get(cls)
        if cached is None:
            cached = [c for group in self.hook.record_rule_filters(model=cls, env=self) for c in group or []]
            self._rule_cache[cls] = cached
        return cached

    # -- reading ---------------------------------------------------------------------------
    def loaded(self, record: str | type, ident: int):
        """The record ``ident`` if this transaction holds it already, else None: no SQL and
        no access check (for code that read it itself, through ``get`` or a query)."""
        cls = self[record] if isinstance(record, str) else record
        return self.session.identity_map.get(cls.__mapper__.identity_key_from_primary_key((ident,)))

    def executemany(self, statement, rows: list[dict]):
        """``statement`` (an INSERT, UPDATE or DELETE without RETURNING, built once and kept)
        run for every row of ``rows`` in one DBAPI executemany, the values converted as
        SQLAlchemy converts them but without its per-row work (``core.flush.executemany``).
        Nothing is checked, validated or audited: for an addon's own batched bookkeeping."""
        return executemany(self.session.connection(), statement, rows)

    def insert_rows(self, record: str, rows: list[dict]):
        """``rows`` (dicts of column values, all with the same keys) inserted into the table
        of ``record`` with one executemany and no objects; as ``executemany``, unchecked."""
        return insert_rows(self.session.connection(), self[record].__table__, rows)

    def get(self, record: str, ident: Any, *, lock: bool = False):
        """Fetch by id through access rights and record rules; NotFound when hidden or missing."""
        cls = self[record]
        try:  # before the statement: "12" from a URL must not reach PostgreSQL as text
            ident = int(ident)
        except (TypeError, ValueError):
            raise NotFound(record, ident) from None
        if not fits_int_column(ident):  # no row has it, and the database would overflow
            raise NotFound(record, ident)
        stmt = select(cls).where(cls.id == ident)
        if lock:
            stmt = stmt.with_for_update()
        found = self.session.scalars(stmt).one_or_none()
        if found is None:
            raise NotFound(record, ident)
        return found

    def get_many(self, record: str, idents) -> dict[int, Any]:
        """The records of ``idents`` the user may see, by id, in one SELECT (access rights and
        record rules as ``get``); hidden and missing ids are simply absent."""
        cls = self[record]
        wanted = set()
        for ident in idents:
            try:
                number = int(ident)
            except (TypeError, ValueError):
                continue
            if fits_int_column(number):
                wanted.add(number)
        if not wanted:
            return {}
        return {obj.id: obj for obj in self.session.scalars(select(cls).where(cls.id.in_(wanted)))}

    def search(self, record: str, *criteria, order_by=None, limit: int | None = None,
               offset: int = 0) -> list:
        cls = self[record]
        stmt = select(cls).where(*criteria)
        if order_by is not None:
            stmt = stmt.order_by(*(order_by if isinstance(order_by, (list, tuple)) else [order_by]))
        else:
            stmt = stmt.order_by(cls.id)
        if limit is not None:
            stmt = stmt.limit(limit)
        if offset:
            stmt = stmt.offset(offset)
        return list(self.session.scalars(stmt))

    def lock(self, record_obj) -> Any:
        """Lock one row until commit (``FOR UPDATE``; on SQLite the write transaction is the lock)
        and reload it, so a check sees what concurrent transactions committed."""
        cls = type(record_obj)
        self.session.flush()
        with self.sudo():
            stmt = select(cls).where(cls.id == record_obj.id).with_for_update()
            stmt = stmt.execution_options(populate_existing=True)
            return self.session.scalars(stmt).one()

    # -- writing ---------------------------------------------------------------------------
    def create(self, record: str, **values):
        cls = self[record]
        self.check_access(record, "create")
        obj = cls(**values)
        self.session.add(obj)
        self.session.flush()
        return obj

    def write(self, obj, **values):
        self.check_access(obj.__record__, "write")
        for key, value in values.items():
            if not hasattr(type(obj), key):
                raise ValidationError({key: [f"unknown field of {obj.__record__}"]})
            setattr(obj, key, value)
        self.session.flush()
        return obj

    def delete(self, obj) -> None:
        self.check_access(obj.__record__, "delete")
        self.session.delete(obj)
        self.session.flush()

    def next_number(self, code: str, period: str = "") -> int:
        """Gap-free sequence number (e.g. invoices per year): locked row, same transaction."""
        reserved = self._reserved_numbers.get((code, period))
        if reserved:
            return reserved.pop()
        return self.sf.sequences.next(self, code, period)

    def today(self) -> dt.date:
        """Today in the client's time zone (``Salesflow.today``)."""
        return self.sf.today()

    def tx_cache(self, name: str) -> dict:
        """A dict kept for the rest of this transaction (rows read once, ids...), emptied by
        any rollback, a savepoint's included, so it never holds what was rolled back."""
        return self.session.info.setdefault(_TX_CACHE, {}).setdefault(name, {})

    @contextlib.contextmanager
    def atomic(self) -> Iterator[None]:
        """A block that writes all or nothing inside the transaction (a savepoint): when it
        raises, what it wrote and the news it queued for after the commit are dropped, so a
        caller that catches the error and commits keeps nothing of it."""
        callbacks = len(self._after_commit)
        savepoint = self.session.begin_nested()
        try:
            yield
            savepoint.commit()
        except BaseException:
            # also when a failed flush deactivated it: rolled back, the session is usable again
            if savepoint.is_active or self.session.get_nested_transaction() is savepoint:
                savepoint.rollback()
            del self._after_commit[callbacks:]
            raise

    @contextlib.contextmanager
    def numbers_reserved(self, wanted: dict[tuple[str, str], int]) -> Iterator[None]:
        """Take ``wanted`` ({(code, period): count}) gap-free numbers in one statement per
        sequence, for documents that are numbered one by one inside the block (``next_number``
        hands the reserved ones out first, in order). All or nothing: the block runs in a
        savepoint, and a number reserved but not used by the end raises (it would leave a
        gap) and rolls the block back."""
        if self._reserved_numbers:
            raise RuntimeError("numbers_reserved blocks do not nest")
        try:
            with self.atomic():
                for (code, period), count in wanted.items():
                    if count > 0:
                        last = self.sf.sequences.next(self, code, period, count)
                        self._reserved_numbers[(code, period)] = list(range(last, last - count, -1))
                yield
                unused = {key: len(left) for key, left in self._reserved_numbers.items() if left}
                if unused:
                    raise RuntimeError(f"numbers reserved and not used (a gap): {unused}")
        finally:
            self._reserved_numbers.clear()

    def next_numbers(self, code: str, period: str, count: int) -> list[int]:
        """``count`` gap-free numbers, consecutive, in one statement (documents created together;
        numbers reserved by ``numbers_reserved`` are handed out first)."""
        reserved = self._reserved_numbers.get((code, period)) or []
        taken = [reserved.pop() for _ in range(min(count, len(reserved)))]
        count -= len(taken)
        if count > 0:
            last = self.sf.sequences.next(self, code, period, count)
            taken.extend(range(last - count + 1, last + 1))
        return taken

    # -- workflow --------------------------------------------------------------------------
    def fire(self, record_obj, trigger: str, *, comment: str | None = None, **kwargs):
        return self.sf.workflows.fire(self, record_obj, trigger, comment=comment, **kwargs)

    def fire_many(self, records, trigger: str, *, comment: str | None = None, **kwargs):
        """Fire ``trigger`` on every record (one class), all or nothing: a list of outcomes,
        or ``TransitionBlocked`` naming every refused record (see ``Workflows.fire_many``)."""
        return self.sf.workflows.fire_many(self, records, trigger, comment=comment, **kwargs)

    def blockers(self, record_obj, trigger: str) -> list[str]:
        """Why ``trigger`` would be refused now (``[]`` if it would pass). Writes nothing."""
        return self.sf.workflows.blockers(self, record_obj, trigger)

    def available_triggers(self, record_obj) -> dict[str, list[str]]:
        """Triggers from the record's state, each with its blockers (``[]`` = can fire)."""
        return self.sf.workflows.available(self, record_obj)

    # -- commit ----------------------------------------------------------------------------
    def after_commit(self, callback: Callable[[], None]) -> None:
        self._after_commit.append(callback)


def session_class() -> type[Session]:
    """A Session class carrying the access, validation, audit and immutability rules.

    One class per app: the events are registered once, not at every transaction.
    """
    from sqlalchemy import event

    class SalesflowSession(Session):
        pass

    event.listen(SalesflowSession, "do_orm_execute", _on_execute)
    event.listen(SalesflowSession, "before_flush", _on_before_flush)
    event.listen(SalesflowSession, "after_flush", _on_after_flush)
    event.listen(SalesflowSession, "after_soft_rollback", _on_rollback)
    event.listen(SalesflowSession, "before_commit", _on_before_commit)
    return SalesflowSession


_TX_CACHE = "tx_cache"


def _on_rollback(session: Session, _previous) -> None:
    """Any rollback, a savepoint's included, empties the transaction's caches: they may hold
    rows (or ids) that no longer exist."""
    session.info.pop(_TX_CACHE, None)
    session.info.pop("rules_pending", None)
    session.info.pop("audit_pending", None)
    doomed = session.info.get(_DOOMED)
    if doomed is not None and doomed[0] is _previous:  # what the refusal left is gone now
        session.info.pop(_DOOMED)


_DOOMED = "doomed"


def _doom(session: Session, reason: str) -> None:
    """A refusal raised after the kernel wrote rows itself (before the unit of work's own
    transaction): a caller that catches it must not commit them. The commit is refused until
    the transaction (or the savepoint) the rows were written in is rolled back."""
    session.info[_DOOMED] = (session.get_nested_transaction() or session.get_transaction(), reason)


def _on_before_commit(session: Session) -> None:
    doomed = session.info.get(_DOOMED)
    if doomed is not None:
        raise AccessDenied(f"not committed: {doomed[1]}")


def _env_of(session: Session) -> Env | None:
    return session.info.get("env")


def _on_execute(state) -> None:
    env = _env_of(state.session)
    if env is None:
        return
    if state.is_update or state.is_delete or state.is_insert:
        # which rows (and which parents) a bulk statement reaches is not known before it runs
        for mapper in state.all_mappers:
            cls = mapper.class_
            if getattr(cls, "__posted_parent__", "") or not state.is_insert and (
                    getattr(cls, "__append_only__", False) or getattr(cls, "__posted_states__", ())):
                verb = "update" if state.is_update else "delete" if state.is_delete else "insert"
                raise ImmutableRecord(f"bulk {verb} of {cls.__record__} is not allowed")
        return
    if not state.is_select or env.unrestricted:
        return
    sf = env.sf
    rules = env.rule_options()
    options = []
    for cls in _records_read(state, sf):
        if not sf.security.allows(env.roles, cls.__record__, "read"):
            raise AccessDenied(f"you may not read {cls.__record__}")
        option = rules.get(cls)
        if option is not None:
            options.append(option)
    if options:
        state.statement = state.statement.options(*options)


def _records_read(state, sf) -> set[type]:
    """The record classes a statement reads anywhere: entities, columns inside functions,
    ``select_from``, joins, subqueries (``select(func.count()).select_from(cls)`` reads ``cls``).

    Runs before every ORM SELECT of a restricted user, so it walks the statement's parts
    without compiling it and stops at the first element that names its entity.
    """
    from sqlalchemy import Table

    found = {m.class_ for m in state.all_mappers if hasattr(m.class_, "__record__")}
    stack = [state.statement]
    seen: set[int] = set()
    while stack:
        element = stack.pop()
        if id(element) in seen:
            continue
        seen.add(id(element))
        entity = getattr(element, "_annotations", {}).get("parententity")
        if entity is not None:
            cls = entity.mapper.class_
            if hasattr(cls, "__record__"):
                found.add(cls)
            continue
        if isinstance(element, Table):
            cls = sf.record_by_table.get(element)
            if cls is not None:
                found.add(cls)
            continue
        stack.extend(element.get_children())
    return found


def _column_changes(obj) -> dict[str, tuple[Any, Any]]:
    """{column: (old, new)} of what changed since the object was loaded or last flushed. Only
    the attributes set since (``committed_state`` holds them) are looked at: asking every
    column for its history made flushing many objects slow."""
    changes = {}
    state = attributes.instance_state(obj)
    columns = _column_keys(state.mapper)
    for key in list(state.committed_state):
        if key not in columns:
            continue
        hist = state.manager[key].impl.get_history(state, state.dict,
                                                   attributes.PASSIVE_NO_INITIALIZE)
        if hist.has_changes():
            new = hist.added[0] if hist.added else None
            if hist.deleted:
                old = hist.deleted[0]
            elif state.key is not None:  # set while unloaded (expired, deferred): the stored
                old = _stored_value(state, key)  # value is the old one (audit, posted checks)
            else:
                old = None
            if old != new:
                changes[key] = (old, new)
    return changes


def _stored_value(state, key: str) -> Any:
    """What the database holds in ``key`` of this persistent record (Core: no autoflush)."""
    mapper = state.mapper
    column = mapper.column_attrs[key].columns[0]
    if column.table is not mapper.local_table:
        return None  # a column of another table (inheritance): not read here
    where = [c == v for c, v in zip(mapper.primary_key, state.key[1], strict=True)]
    return state.session.connection().execute(select(column).where(*where)).scalar()


def _column_keys(mapper) -> frozenset[str]:
    keys = _COLUMN_KEYS.get(mapper)
    if keys is None:
        keys = _COLUMN_KEYS[mapper] = frozenset(attr.key for attr in mapper.column_attrs)
    return keys


_COLUMN_KEYS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


#: JSON takes these as they are (the common case of an audit value: one set lookup)
_JSON_AS_IS = frozenset({str, int, bool, float, type(None)})


def _jsonable(value: Any) -> Any:
    if type(value) in _JSON_AS_IS:
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


_IGNORED_IN_AUDIT = {"updated_at", "version", "created_at"}


def _on_before_flush(session: Session, _flush_context, _instances) -> None:
    env = _env_of(session)
    if env is None:
        return
    sf = env.sf
    audit_rows = []
    ruled = []  # created or changed under record rules: must stay within them
    new = list(session.new)
    for obj in new:
        record = getattr(obj, "__record__", None)
        if record is None or getattr(obj, "__system__", False):
            continue
        if not env.unrestricted:
            if not sf.security.allows(env.roles, record, "create"):
                raise AccessDenied(f"you may not create {record}")
            if env.rule_criteria(type(obj)):
                ruled.append(obj)
        wf = sf.workflows.get(record)
        if wf is not None:
            current = getattr(obj, wf.field, None)
            if current is None:
                setattr(obj, wf.field, wf.initial)
            elif current != wf.initial and env._fired.get(id(obj)) != current:
                raise ValidationError({wf.field: [f"a new {record} starts in state {wf.initial!r}"]})
        parent_key = obj.__posted_parent__
        if parent_key:  # added with its new parent (the common case): nothing to ask
            parent = obj.__dict__.get(parent_key)
            if parent is None or attributes.instance_state(parent).key is not None:
                _check_part(env, obj, None)
        _validate(env, obj, None)
        _announce_after_commit(env, obj, None)
        if obj.__audit__:
            audit_rows.append((obj, "create", None))
    changed = []
    for obj in list(session.dirty):
        record = getattr(obj, "__record__", None)
        if record is None:
            continue
        changes = _column_changes(obj)  # (what is_modified would ask first, for columns only)
        if not changes:
            if obj.__posted_parent__:  # moved to another parent by its relationship alone
                _check_part(env, obj, changes)
            continue
        changed.append((obj, changes))
        if obj.__append_only__:
            raise ImmutableRecord(f"{record} {obj.id} is append-only and cannot be changed")
        wf = sf.workflows.get(record)
        if wf is not None and wf.field in changes:
            if env._fired.get(id(obj)) != changes[wf.field][1]:
                raise ValidationError(
                    {wf.field: [f"the state of {record} changes only through its workflow triggers"]}
                )
        if obj.__posted_states__:
            old_state = changes.get("state", (getattr(obj, "state", None),))[0]
            if old_state in obj.__posted_states__:
                frozen = sorted(set(changes) - set(obj.__mutable_when_posted__) - _IGNORED_IN_AUDIT)
                if frozen:
                    raise ImmutableRecord(
                        f"{record} {obj.id} is posted; {', '.join(frozen)} cannot change "
                        "(correct it by a reversing document)"
                    )
        if obj.__posted_parent__:
            _check_part(env, obj, changes)
        if not env.unrestricted:
            if not sf.security.allows(env.roles, record, "write"):
                raise AccessDenied(f"you may not write {record}")
            if env.rule_criteria(type(obj)):
                ruled.append(obj)
        _validate(env, obj, changes)
        if not getattr(obj, "__system__", False):
            _announce_after_commit(env, obj, changes)
        if obj.__audit__:
            audit_rows.append((obj, "write", changes))
    for obj in list(session.deleted):
        record = getattr(obj, "__record__", None)
        if record is None:
            continue
        if obj.__append_only__ or obj.is_posted():
            raise ImmutableRecord(f"{record} {obj.id} cannot be deleted")
        if obj.__posted_parent__:
            for parent, reason in _frozen_parents(env, obj, {}):
                raise ImmutableRecord(f"{record} {obj.id} cannot be deleted: "
                                      f"{parent.__record__} {parent.id} is {reason}")
        if not env.unrestricted and not sf.security.allows(env.roles, record, "delete"):
            raise AccessDenied(f"you may not delete {record}")
        if obj.__audit__:
            audit_rows.append((obj, "delete", None))
    # checked, validated and audited: many of one class go together, the inserts first (an
    # update pointing at a new row then need not wait for the unit of work's INSERT)
    if new:
        insert_many(session, new, postgresql=sf.dialect == "postgresql")
    if len(changed) > 1:
        update_many(session, changed)
    if audit_rows or ruled:
        if session.new or session.dirty or session.deleted:
            # the unit of work writes the rest, then after_flush writes every row at once
            session.info.setdefault("audit_pending", []).extend(audit_rows)
            session.info.setdefault("rules_pending", []).extend(ruled)
        else:  # the kernel wrote everything above: no after_flush follows
            try:
                _check_rules_kept(env, ruled)
            except AccessDenied as exc:  # the rows are written: no commit may keep them
                _doom(session, str(exc))
                raise
            if audit_rows:
                sf.audit.write(env, audit_rows)


def _check_rules_kept(env: Env, objs: list) -> None:
    """Refuse a flush whose new or changed records the user could not see afterwards (an
    order handed to another salesperson, a customer created for someone else): record rules
    bound writing as they bound reading. One SELECT per class, through the rules."""
    if not objs:
        return
    by_class: dict[type, list] = {}
    for obj in objs:
        by_class.setdefault(type(obj), []).append(obj)
    with env.session.no_autoflush:
        for cls, group in by_class.items():
            ids = [obj.id for obj in group]
            seen: set = set()
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                seen.update(env.session.scalars(select(cls.id).where(cls.id.in_(chunk))))
            lost = [i for i in ids if i not in seen]
            if lost:
                raise AccessDenied(
                    f"{cls.__record__} {lost[0]}: this change would put it out of your reach "
                    "(record rules: it would belong to someone else)")


def _check_part(env: Env, obj, changes: dict | None) -> None:
    """Refuse adding (``changes`` None), changing or moving ``obj``, a part of the record its
    ``__posted_parent__`` names, while that parent's ``parts_frozen()`` gives a reason."""
    if changes is None:
        frozen = []
    else:
        fk_keys = _parent_keys(type(obj))[1]
        keys = set(changes)
        if _moved(obj) or any(key in changes for key in fk_keys):
            keys.update(fk_keys)
        frozen = sorted(keys - set(obj.__mutable_when_posted__) - _IGNORED_IN_AUDIT)
        if not frozen:
            return
    for parent, reason in _frozen_parents(env, obj, changes):
        if changes is None:
            raise ImmutableRecord(f"{parent.__record__} {parent.id} is {reason}: "
                                  f"no {obj.__record__} can be added to it")
        raise ImmutableRecord(f"{obj.__record__} {obj.id} is part of {parent.__record__} "
                              f"{parent.id}, which is {reason}; {', '.join(frozen)} cannot change")


def _frozen_parents(env: Env, obj, changes: dict | None) -> list[tuple[Any, str]]:
    """``(parent, reason)`` for each parent ``obj`` has or had before this flush (by its
    relationship and its foreign key) whose parts are frozen. Parents are read as the system:
    a record rule must not hide one."""
    cls = type(obj)
    name = cls.__posted_parent__
    parent_cls, fk_keys = _parent_keys(cls)
    state = attributes.instance_state(obj)
    history = state.manager[name].impl.get_history(state, state.dict, attributes.PASSIVE_NO_INITIALIZE)
    parents = [p for p in (*history.added, *history.unchanged, *history.deleted) if p is not None]
    with env.sudo():
        if not history.added and not history.unchanged:
            current = getattr(obj, name)  # not loaded: loaded now (the identity map first)
            if current is not None:
                parents.append(current)
        if len(fk_keys) == 1:  # what its foreign key names, before and after this flush
            (key,) = fk_keys
            idents = {state.dict.get(key)}
            if changes and key in changes:
                idents.add(changes[key][0])
            for ident in idents - {None}:
                found = env.session.get(parent_cls, ident)
                if found is not None and not any(p is found for p in parents):
                    parents.append(found)
        return [(parent, reason) for parent in parents
                if (reason := parent.parts_frozen()) is not None]


def _moved(obj) -> bool:
    """Was the ``__posted_parent__`` relationship of ``obj`` set to another record?"""
    state = attributes.instance_state(obj)
    history = state.manager[obj.__posted_parent__].impl.get_history(
        state, state.dict, attributes.PASSIVE_NO_INITIALIZE)
    return bool(history.added or history.deleted)


def _parent_keys(cls) -> tuple[type, tuple[str, ...]]:
    """(parent class, attribute keys of the foreign key) of ``cls.__posted_parent__``."""
    found = _PARENT_KEYS.get(cls)
    if found is None:
        relationship = cls.__mapper__.relationships[cls.__posted_parent__]
        keys = tuple(sorted(cls.__mapper__.get_property_by_column(column).key
                            for column in relationship.local_columns))
        found = _PARENT_KEYS[cls] = (relationship.mapper.class_, keys)
    return found


_PARENT_KEYS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _announce_after_commit(env: Env, obj, changes: dict | None) -> None:
    """``record_created`` (changes None) or ``record_changed``, sent once the transaction
    committed (never for a rolled-back one)."""
    from sqlalchemy import inspect

    from core import signals

    signal = signals.record_created if changes is None else signals.record_changed
    if not signal.receivers:  # nobody listens: keep the flush of a 1,000-line order cheap
        return
    sf, user_id, record, state = env.sf, env.user_id, obj.__record__, inspect(obj)

    def ident():  # from the identity key: safe on a detached instance
        return state.identity[0] if state.identity else None

    if changes is None:
        env.after_commit(lambda: signals.record_created.send(
            sf, record_name=record, record_id=ident(), user_id=user_id))
    else:
        changes = dict(changes)
        env.after_commit(lambda: signals.record_changed.send(
            sf, record_name=record, record_id=ident(), user_id=user_id, changes=changes))


def _on_after_flush(session: Session, _flush_context) -> None:
    pending = session.info.pop("audit_pending", None)
    ruled = session.info.pop("rules_pending", None)
    env = _env_of(session)
    if env is None:
        return
    if ruled:
        _check_rules_kept(env, ruled)
    if pending:
        env.sf.audit.write(env, pending)


def _validate(env: Env, obj, changes: dict | None) -> None:
    """The record's numbers against their columns (``_number_errors``: refused first, alone,
    since the checks that follow may not expect a NaN or a huge number), then its ``validate``
    and every addon's ``record_validate``, reported together."""
    errors = _number_errors(obj, changes)
    if errors:
        raise ValidationError(errors)
    check = getattr(obj, "validate", None)
    if callable(check):
        for field, messages in (check() or {}).items():
            errors.setdefault(field, []).extend(messages)
    for answer in env.hook.record_validate(record=obj, env=env):
        for field, messages in (answer or {}).items():
            errors.setdefault(field, []).extend(messages)
    if errors:
        raise ValidationError(errors)


def _number_errors(obj, changes: dict | None) -> dict[str, list[str]]:
    """{field: [why]} of the Numeric columns of ``obj`` whose value does not fit the column
    (``core.db.NumericLimit``: its precision and scale, at most 15 digits): every value of a
    new record (``changes`` None), the changed ones of another. Checked here, before any SQL,
    so a number too large is a ``ValidationError`` naming the field and the limit (a 422),
    never the database's overflow (a 500 on PostgreSQL) or another number read back (SQLite).
    Kept cheap: the limits are computed once per class; a value that fits costs two
    comparisons and a quantize."""
    limits = _NUMERIC_LIMITS.get(type(obj))
    if limits is None:
        limits = _NUMERIC_LIMITS[type(obj)] = _numeric_limits(type(obj))
    if not limits:
        return {}
    errors: dict[str, list[str]] = {}
    values = attributes.instance_dict(obj) if changes is None else None
    for key, (low, high, quantum, limit) in limits.items():
        if values is not None:
            value = values.get(key)
        elif key in changes:
            value = changes[key][1]
        else:
            continue
        if value is None:
            continue
        if type(value) is Decimal and high is not None:
            try:
                if low < value < high and value.quantize(quantum) == value:
                    continue
            except ArithmeticError:  # NaN: said below
                pass
        message = limit.error(value)
        if message is not None:
            errors[key] = [message]
    return errors


def _numeric_limits(cls) -> dict[str, tuple]:
    """{attribute key: (-bound, bound, quantum, limit)} of the exact Numeric columns of a
    record class (``core.db.NumericLimit``; its bounds at hand for the common case)."""
    limits = {}
    for prop in cls.__mapper__.column_attrs:
        if len(prop.columns) == 1:
            limit = numeric_limit(prop.columns[0].type)
            if limit is not None:
                low = None if limit.bound is None else -limit.bound
                limits[prop.key] = (low, limit.bound, limit.quantum, limit)
    return limits


_NUMERIC_LIMITS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


#: a value as audit rows hold it in JSON (Decimal and dates as text)
jsonable = _jsonable
