"""Record models: declared by addons as plain classes, composed once per app, then mapped.

An addon declares a record with ``@model("sale.order")`` on a class holding SQLAlchemy 2 typed
attributes (``Mapped[...] = mapped_column(...)``, ``relationship(...)``) and methods. Another addon
adds columns, relationships and methods with ``@extends("sale.order")``; its methods may call
``super()``. ``Registry.build`` composes, per app and in addon order, one class

    type("SaleOrder", (ext_n, ..., ext_1, SaleOrder, Record, Base), {...})

and maps it with a declarative base of its own, so two apps with different addon sets live in one
process. Code reaches classes through the registry by record name (``env["sale.order"]``), never
by importing another addon's module.
"""

from __future__ import annotations

import builtins
import copy
import datetime as dt
import inspect
import sys
import weakref
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, ForwardRef, Optional

from sqlalchemy import DateTime, Integer, MetaData, func
from sqlalchemy.event.attr import _EmptyListener
from sqlalchemy.orm import DeclarativeBase, Mapped, MapperProperty, declared_attr, mapped_column
from sqlalchemy.orm.attributes import instance_state
from sqlalchemy.orm.base import NO_VALUE

from core.errors import RegistryError

_MARK = "__salesflow_decl__"
_PROPS = "__salesflow_props__"
_TABLE_ARGS = "__salesflow_table_args__"

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _detach_properties(cls: type) -> None:
    """Move relationship()-like attributes off the declaring class.

    SQLAlchemy refuses mapper properties on unmapped mixins; the registry re-attaches a fresh copy
    to each composed class instead, so each app gets relationships of its own.
    """
    props: dict[str, tuple[MapperProperty, Any]] = {}
    annotations = cls.__dict__.get("__annotations__", {})
    module_globals = vars(sys.modules[cls.__module__])
    for name, value in list(vars(cls).items()):
        if isinstance(value, MapperProperty):
            annotation = annotations.pop(name, None)
            if isinstance(annotation, str):
                annotation = _resolve_annotation(annotation, module_globals)
            props[name] = (value, annotation)
            delattr(cls, name)
    setattr(cls, _PROPS, props)


class _RecordRef(str):
    """A record class named in an annotation, left for the app's class registry to resolve."""

    def __or__(self, other):
        return Optional[ForwardRef(str(self))]  # noqa: UP045 - a runtime typing object

    __ror__ = __or__


class _Namespace(dict):
    def __init__(self, module_globals: dict[str, Any]):
        super().__init__()
        self.module_globals = module_globals

    def __missing__(self, key: str) -> Any:
        value = self.module_globals.get(key, _MISSING)
        if value is _MISSING:
            value = getattr(builtins, key, _MISSING)
        if value is _MISSING or (isinstance(value, type) and _MARK in value.__dict__):
            # another record (maybe of another addon): resolved by class name at mapping time
            return _RecordRef(key)
        return value


_MISSING = object()


def _resolve_annotation(text: str, module_globals: dict[str, Any]) -> Any:
    """``"Mapped[list[OrderLine]]"`` (from ``from __future__ import annotations``) to an object
    whose record names are forward references, so each app maps them to its own classes."""
    return eval(text, {}, _Namespace(module_globals))  # noqa: S307 - a class annotation


def model(record: str):
    """Declare the record ``record`` (e.g. ``"sale.order"``). The class needs ``__tablename__``."""

    def mark(cls: type) -> type:
        if "__tablename__" not in cls.__dict__:
            raise RegistryError(f"@model({record!r}) on {cls.__qualname__}: __tablename__ missing")
        _detach_properties(cls)
        args = cls.__dict__.get("__table_args__")
        if isinstance(args, (tuple, dict)):  # not yet attached to any table: a clean template
            setattr(cls, _TABLE_ARGS, copy.deepcopy(args))
        setattr(cls, _MARK, ("model", record))
        return cls

    return mark


def extends(record: str):
    """Add columns, relationships and methods to a record another addon declared."""

    def mark(cls: type) -> type:
        _detach_properties(cls)
        setattr(cls, _MARK, ("extends", record))
        return cls

    return mark


class Record:
    """Columns and behaviour every record has. Composed classes inherit it."""

    __record__: str = ""
    __addon__: str = ""
    #: audit changes of these records (who, when, old and new values)
    __audit__: bool = False
    #: when this returns True the record is posted: only ``__mutable_when_posted__`` may change
    __posted_states__: tuple[str, ...] = ()
    __mutable_when_posted__: frozenset[str] = frozenset()
    #: rows are append-only (logs): never updated or deleted through the app
    __append_only__: bool = False
    #: the many-to-one relationship to the document this record is a part of (``"invoice"`` on
    #: an invoice line): while that parent's ``parts_frozen()`` gives a reason (it is posted),
    #: no such record is added to it, changed (but for its own ``__mutable_when_posted__``),
    #: moved or deleted; bulk ORM INSERT, UPDATE and DELETE of the record are refused
    __posted_parent__: str = ""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=lambda: dt.datetime.now(dt.UTC), server_default=func.now()
    )
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True),
        default=lambda: dt.datetime.now(dt.UTC),
        onupdate=lambda: dt.datetime.now(dt.UTC),
        server_default=func.now(),
    )
    #: optimistic-lock version; exposed as the ETag of the record
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"version_id_col": cls.__table__.c.version}

    @property
    def env(self):
        """The transaction (``core.env.Env``) this record was loaded in."""
        from sqlalchemy.orm import object_session

        session = object_session(self)
        if session is None:
            raise RuntimeError(f"{self!r} is not attached to a transaction")
        return session.info["env"]

    def is_posted(self) -> bool:
        return bool(self.__posted_states__) and getattr(self, "state", None) in self.__posted_states__

    def parts_frozen(self) -> str | None:
        """Why the records naming this one as their ``__posted_parent__`` cannot be added,
        changed or deleted now (read after "is": ``"posted"``, ``"paid"``), or None when they
        can. By default: an append-only record once it is in the database ("posted"); a record
        with ``__posted_states__`` while its stored state (before this flush) is one of them
        (that state). A new record takes its parts with it. Override it to freeze parts on
        another condition (an order's lines once it left draft)."""
        state = instance_state(self)
        if state.key is None:
            return None
        if self.__append_only__:
            return "posted"
        if self.__posted_states__:
            if "state" in state.committed_state:  # changed in this flush: the old value
                stored = state.committed_state["state"]
                if stored is NO_VALUE:  # set while unloaded: the database has it
                    from core.env import _stored_value

                    stored = _stored_value(state, "state")
            else:
                stored = getattr(self, "state", None)
            if stored in self.__posted_states__:
                return stored
        return None

    def fire(self, trigger: str, *, comment: str | None = None, **kwargs):
        """Fire a workflow trigger on this record (see ``core.workflow``)."""
        return self.env.fire(self, trigger, comment=comment, **kwargs)

    def __repr__(self) -> str:
        return f"<{self.__record__} id={self.id}>"


def _record_init(self, **values) -> None:
    """Every record's constructor: SQLAlchemy's declarative one (each keyword is an
    attribute; an unknown one is a TypeError), except that a plain column's value goes
    straight into the new instance's dict, recorded as added, exactly as the attribute event
    would leave it. The event machinery per keyword was most of the cost of creating an
    invoice, a journal line, an allocation; columns with a validator or a ``set`` listener
    (a partner's ``@validates``, a mutable JSON) still go through ``setattr``."""
    cls = type(self)
    plain = _PLAIN_INIT.get(cls)
    if plain is None:
        plain = _PLAIN_INIT[cls] = _plain_init_keys(cls)
    state = instance_state(self)
    state_dict, committed = state.dict, state.committed_state
    for key, value in values.items():
        events = plain.get(key)
        # still no ``set`` listener: one may be added at any time (listening swaps the empty
        # collection for one that holds it, or adds to the class-wide list)
        if events is not None and events[0].set is events[1] and not events[2]:
            if key not in state_dict and key not in committed:
                committed[key] = NO_VALUE  # history: added (a refusal of a new value sees it)
            state_dict[key] = value
            state.modified = True
        elif hasattr(cls, key):
            setattr(self, key, value)
        else:
            raise TypeError(f"{key!r} is an invalid keyword argument for {cls.__name__}")


def _plain_init_keys(cls) -> dict[str, tuple]:
    """{key: (the attribute's events, its empty ``set`` listeners, their class-wide list)} of
    the columns that had no validator and no ``set`` listener when the class built its first
    record."""
    mapper = cls.__mapper__
    plain = {}
    for prop in mapper.column_attrs:
        events = getattr(cls, prop.key).dispatch
        if (prop.key not in mapper.validators and isinstance(events.set, _EmptyListener)
                and not events.set):
            plain[prop.key] = (events, events.set, events.set.parent_listeners)
    return plain


_PLAIN_INIT: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@dataclass
class RecordInfo:
    name: str
    cls: type
    addon: str  # the declaring addon
    extended_by: list[str] = field(default_factory=list)
    #: column name -> addon that contributed it (migrations use this to find a column's branch)
    column_owner: dict[str, str] = field(default_factory=dict)


class Registry:
    """The records of one app, composed from its enabled addons."""

    def __init__(self) -> None:
        class Base(DeclarativeBase):
            metadata = MetaData(naming_convention=NAMING_CONVENTION)
            __init__ = _record_init

        self.Base = Base
        self.metadata = Base.metadata
        self.records: dict[str, RecordInfo] = {}

    def __getitem__(self, name: str) -> type:
        try:
            return self.records[name].cls
        except KeyError:
            raise KeyError(f"no record {name!r} in this app (enabled: {sorted(self.records)})") from None

    def __contains__(self, name: str) -> bool:
        return name in self.records

    def build(self, contributions: list[tuple[str, list[ModuleType]]]) -> None:
        """Compose and map every record. ``contributions`` is [(addon, modules)] in addon order."""
        declared: dict[str, tuple[str, type]] = {}
        extensions: dict[str, list[tuple[str, type]]] = {}
        for addon, modules in contributions:
            for module in modules:
                for cls in _marked_classes(module):
                    kind, record = getattr(cls, _MARK)
                    if kind == "model":
                        if record in declared:
                            raise RegistryError(
                                f"record {record!r} declared twice: by addon "
                                f"{declared[record][0]!r} and by {addon!r}"
                            )
                        declared[record] = (addon, cls)
                    else:
                        extensions.setdefault(record, []).append((addon, cls))
        for record, exts in extensions.items():
            if record not in declared:
                raise RegistryError(
                    f"addon {exts[0][0]!r} extends {record!r}, which no enabled addon declares"
                )
        class_names: dict[str, str] = {}
        for record, (addon, base_cls) in declared.items():
            exts = extensions.get(record, [])
            layers = [cls for _, cls in reversed(exts)] + [base_cls]
            name = base_cls.__name__
            if name in class_names:
                raise RegistryError(
                    f"records {class_names[name]!r} and {record!r} share the class name {name!r}"
                )
            class_names[name] = record
            namespace: dict[str, Any] = {
                "__module__": f"salesflow.records.{addon}",
                "__qualname__": name,
                "__record__": record,
                "__addon__": addon,
                "__annotations__": {},
            }
            owner: dict[str, str] = {}
            for (a, cls) in [(addon, base_cls)] + list(exts):
                for col in _own_annotations(cls):
                    owner.setdefault(col, a)
                for pname, (prop, annotation) in getattr(cls, _PROPS).items():
                    namespace[pname] = copy.copy(prop)
                    if annotation is not None:
                        namespace["__annotations__"][pname] = annotation
            table_args = _fresh_table_args(base_cls)
            if table_args is not None:
                namespace["__table_args__"] = table_args
            composed = type(name, (*layers, Record, self.Base), namespace)
            self.records[record] = RecordInfo(
                name=record,
                cls=composed,
                addon=addon,
                extended_by=[a for a, _ in exts],
                column_owner=owner,
            )
        try:
            self.Base.registry.configure()
        except Exception as exc:  # a broken relationship names the record
            raise RegistryError(f"mapping records failed: {exc}") from exc
        for info in self.records.values():
            parent = info.cls.__posted_parent__
            if parent:
                relationship = info.cls.__mapper__.relationships.get(parent)
                if relationship is None or relationship.direction.name != "MANYTOONE":
                    raise RegistryError(f"{info.name}: __posted_parent__ {parent!r} is not a "
                                        "many-to-one relationship")
            for col in info.cls.__table__.columns.keys():
                info.column_owner.setdefault(col, info.addon)  # Record columns (id, version...)
            info.cls.__table__.info["addon"] = info.addon

    def by_table(self, table: str) -> RecordInfo | None:
        for info in self.records.values():
            if info.cls.__tablename__ == table:
                return info
        return None


def _fresh_table_args(cls: type) -> Any:
    """New constraint objects for each app, deep-copied from a pristine template taken at
    declaration: a schema item belongs to one table, so sharing the declaring class's objects
    would move them to the newest app's table."""
    template = cls.__dict__.get(_TABLE_ARGS)
    return copy.deepcopy(template) if template is not None else None


def _marked_classes(module: ModuleType) -> list[type]:
    return [
        obj
        for _, obj in inspect.getmembers(module, inspect.isclass)
        if obj.__module__ == module.__name__ and _MARK in obj.__dict__
    ]


def _own_annotations(cls: type) -> list[str]:
    return [
        name
        for name, ann in cls.__dict__.get("__annotations__", {}).items()
        if "Mapped" in str(ann) and name in cls.__dict__
    ]
