"""Workflows as data: a ``WorkflowSpec`` declared by one addon, ``WorkflowPatch``es from others.

    SALE_ORDER = WorkflowSpec(
        record="sale.order",
        states=["draft", "approved", "shipped", "invoiced", "paid", "cancelled"],
        initial="draft",
        transitions=[
            Transition("approve", source="draft", dest="approved", roles=["salesperson"],
                       guards=["check_not_expired"], before=["stamp_approval"]),
            ...
        ],
    )

A guard names a record method returning ``None``/``True``/``[]`` when the transition may go on,
or reasons (``str``, ``list[str]``) or ``False`` when it may not. ``before`` actions run before
the state changes, ``after`` actions after; both inside the transaction (raise to abort).
``roles``: a user needs one of them to fire the trigger (empty: anyone who may write the
record). A trigger may have several transitions from one source: the first that passes wins.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace


def _tuple(value: str | Iterable[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(value)


@dataclass(frozen=True)
class Transition:
    trigger: str
    source: tuple[str, ...]
    dest: str
    guards: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    before: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
    label: str = ""
    needs_comment: bool = False
    #: fired by the addon's services when the documents say so (e.g. ``ship`` once every line
    #: is shipped), not by a person: the web UI shows no button for it
    automatic: bool = False

    def __init__(self, trigger: str, source: str | Iterable[str], dest: str, *,
                 guards=(), roles=(), before=(), after=(), label: str = "",
                 needs_comment: bool = False, automatic: bool = False):
        object.__setattr__(self, "trigger", trigger)
        object.__setattr__(self, "source", _tuple(source))
        object.__setattr__(self, "dest", dest)
        object.__setattr__(self, "guards", _tuple(guards))
        object.__setattr__(self, "roles", _tuple(roles))
        object.__setattr__(self, "before", _tuple(before))
        object.__setattr__(self, "after", _tuple(after))
        object.__setattr__(self, "label", label or trigger.replace("_", " ").capitalize())
        object.__setattr__(self, "needs_comment", needs_comment)
        object.__setattr__(self, "automatic", automatic)


@dataclass(frozen=True)
class WorkflowSpec:
    record: str
    states: tuple[str, ...]
    initial: str
    transitions: tuple[Transition, ...]
    field: str = "state"
    #: states after which nothing may happen any more (informative; shown by `workflow show`)
    final: tuple[str, ...] = ()

    def __init__(self, record: str, states: Iterable[str], initial: str,
                 transitions: Iterable[Transition], field: str = "state", final=()):
        object.__setattr__(self, "record", record)
        object.__setattr__(self, "states", tuple(states))
        object.__setattr__(self, "initial", initial)
        object.__setattr__(self, "transitions", tuple(transitions))
        object.__setattr__(self, "field", field)
        object.__setattr__(self, "final", _tuple(final))


@dataclass(frozen=True)
class Extend:
    """Add guards, roles or actions to the existing transitions of ``trigger``
    (only those from ``source`` when given)."""

    trigger: str
    source: str | None = None
    guards: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    before: tuple[str, ...] = ()
    after: tuple[str, ...] = ()


@dataclass(frozen=True)
class Remove:
    """Remove the transitions of ``trigger`` (from ``source`` only, when given)."""

    trigger: str
    source: str | None = None


@dataclass(frozen=True)
class Reroute:
    """Make the transitions of ``trigger`` leave from ``new_source`` instead of ``source``."""

    trigger: str
    source: str
    new_source: str


@dataclass(frozen=True)
class WorkflowPatch:
    """Changes one addon makes to a workflow another addon declared. Applied in addon order:
    removals, then extensions, then new states and transitions (added before existing ones of
    the same trigger when ``first`` is set, so they are tried first)."""

    record: str
    add_states: tuple[str, ...] = ()
    add_transitions: tuple[Transition, ...] = ()
    extend: tuple[Extend, ...] = ()
    remove: tuple[Remove, ...] = ()
    reroute: tuple[Reroute, ...] = ()
    first: bool = False

    def __post_init__(self):
        for name in ("add_states", "add_transitions", "extend", "remove", "reroute"):
            object.__setattr__(self, name, tuple(getattr(self, name)))


def insert_step(record: str, *, trigger: str, source: str, state: str, via: str,
                roles=(), label: str = "") -> WorkflowPatch:
    """Insert an approval step: ``source -trigger-> D`` becomes
    ``source -via-> state -trigger-> D`` (the original guards stay on ``trigger``)."""
    return WorkflowPatch(
        record=record,
        add_states=(state,),
        add_transitions=(Transition(via, source=source, dest=state, roles=roles, label=label),),
        reroute=(Reroute(trigger, source, state),),
    )


@dataclass
class MergedWorkflow:
    record: str
    states: list[str]
    initial: str
    field: str
    transitions: list[Transition]
    final: tuple[str, ...]
    contributed_by: list[str] = field(default_factory=list)


def merge(spec: WorkflowSpec, patches: list[tuple[str, WorkflowPatch]]) -> MergedWorkflow:
    """Apply patches (in addon order) to a spec. Pure: raises ValueError naming the addon."""
    states = list(spec.states)
    transitions = list(spec.transitions)
    contributed = []
    for addon, patch in patches:
        if addon not in contributed:
            contributed.append(addon)
        for removal in patch.remove:
            hits = [t for t in transitions if _matches(t, removal.trigger, removal.source)]
            if not hits:
                raise ValueError(f"addon {addon!r} removes {removal.trigger!r} from "
                                 f"{spec.record!r}, which has no such transition")
            transitions = [t for t in transitions if t not in hits]
        for ext in patch.extend:
            hits = [i for i, t in enumerate(transitions) if _matches(t, ext.trigger, ext.source)]
            if not hits:
                raise ValueError(f"addon {addon!r} extends {ext.trigger!r} of {spec.record!r}, "
                                 "which has no such transition")
            for i in hits:
                t = transitions[i]
                transitions[i] = replace(
                    t,
                    guards=t.guards + _tuple(ext.guards),
                    roles=t.roles + _tuple(ext.roles),
                    before=t.before + _tuple(ext.before),
                    after=t.after + _tuple(ext.after),
                )
        for state in patch.add_states:
            if state in states:
                raise ValueError(f"addon {addon!r} adds state {state!r} to {spec.record!r} twice")
            states.append(state)
        for move in patch.reroute:
            hits = [i for i, t in enumerate(transitions) if _matches(t, move.trigger, move.source)]
            if not hits:
                raise ValueError(f"addon {addon!r} reroutes {move.trigger!r} of {spec.record!r} "
                                 f"from {move.source!r}, which has no such transition")
            for i in hits:
                t = transitions[i]
                moved = tuple(move.new_source if s == move.source else s for s in t.source)
                transitions[i] = replace(t, source=moved)
        if patch.first:
            transitions = list(patch.add_transitions) + transitions
        else:
            transitions.extend(patch.add_transitions)
    return MergedWorkflow(spec.record, states, spec.initial, spec.field, transitions,
                          spec.final, contributed)


def _matches(t: Transition, trigger: str, source: str | None) -> bool:
    return t.trigger == trigger and (source is None or source in t.source)
