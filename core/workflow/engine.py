"""Compiled workflows: one ``transitions.Machine`` per record class, never one per row.

The machine is built with ``model=None`` (no row is ever bound to it; a loaded row keeps its
state), ``auto_transitions=False`` (no ``to_<state>`` shortcut that would skip guards) and no
convenience methods on records. A trigger is fired through ``machine.events[trigger]``.

Firing ``trigger`` on a record, in one transaction:

1. the candidates are the transitions of ``trigger`` from the record's state, in order;
2. addons lock the rows their guards read (``workflow_lock_rows``); then for each candidate
   the reasons against it are gathered: missing role, declared guards, every addon's
   ``workflow_transition_blockers`` and the configured approval levels. The first candidate
   without reasons is taken. If none, ``TransitionBlocked`` carries every reason and nothing
   has changed;
3. ``before`` actions, the state change, ``after`` actions, one ``workflow.log`` row and the
   ``workflow_transition_done`` hook run inside the transaction; the ``record_transitioned``
   signal is sent after the commit.

With approval rules, a trigger that still lacks a level records the current user's approval
(when the user holds the next level's role) and returns an ``Outcome`` with ``done=False``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from transitions import Machine

from core import signals
from core.config import ApprovalRule
from core.errors import AddonError, ConfigError, TransitionBlocked, ValidationError
from core.workflow.spec import MergedWorkflow, Transition, WorkflowPatch, WorkflowSpec, merge

if TYPE_CHECKING:
    from core.env import Env


@dataclass
class Outcome:
    """What a fired trigger did."""

    trigger: str
    source: str
    dest: str | None  # None when the transition did not happen yet (approval pending)
    done: bool
    approvals_given: list[str] = field(default_factory=list)  # roles approved in this call
    approvals_pending: list[str] = field(default_factory=list)  # roles still needed

    def as_dict(self) -> dict[str, Any]:
        return {
            "trigger": self.trigger,
            "source": self.source,
            "dest": self.dest,
            "done": self.done,
            "approvals_given": self.approvals_given,
            "approvals_pending": self.approvals_pending,
        }


@dataclass
class CompiledWorkflow:
    record: str
    cls: type
    merged: MergedWorkflow
    machine: Machine
    approval: ApprovalRule | None = None
    by_trigger: dict[str, list[Transition]] = field(default_factory=dict)

    @property
    def field(self) -> str:
        return self.merged.field

    @property
    def initial(self) -> str:
        return self.merged.initial

    @property
    def states(self) -> list[str]:
        return self.merged.states

    def candidates(self, trigger: str, state: str) -> list[Transition]:
        return [t for t in self.by_trigger.get(trigger, []) if state in t.source]

    def markup(self) -> dict[str, Any]:
        """The compiled workflow as plain data (for `workflow show`, snapshots and docs)."""
        return {
            "record": self.record,
            "field": self.field,
            "initial": self.initial,
            "states": list(self.states),
            "final": list(self.merged.final),
            "contributed_by": list(self.merged.contributed_by),
            "transitions": [
                {
                    "trigger": t.trigger,
                    "source": list(t.source),
                    "dest": t.dest,
                    "guards": list(t.guards),
                    "roles": list(t.roles),
                    "before": list(t.before),
                    "after": list(t.after),
                    "automatic": t.automatic,
                }
                for t in self.merged.transitions
            ],
            "approvals": None
            if self.approval is None
            else {
                "trigger": self.approval.trigger,
                "amount_field": self.approval.amount_field,
                "levels": [{"over": str(lv.over), "role": lv.role} for lv in self.approval.levels],
            },
        }


class Workflows:
    """Every compiled workflow of one app."""

    def __init__(self) -> None:
        self.compiled: dict[str, CompiledWorkflow] = {}

    def get(self, record: str) -> CompiledWorkflow | None:
        return self.compiled.get(record)

    def __getitem__(self, record: str) -> CompiledWorkflow:
        try:
            return self.compiled[record]
        except KeyError:
            raise KeyError(f"no workflow for {record!r}; known: {sorted(self.compiled)}") from None

    def build(self, specs: list[tuple[str, WorkflowSpec]], patches: list[tuple[str, WorkflowPatch]],
              registry, known_roles: set[str], approvals: list[ApprovalRule],
              config_label: str) -> None:
        by_record: dict[str, tuple[str, WorkflowSpec]] = {}
        for addon, spec in specs:
            if spec.record in by_record:
                raise AddonError(f"workflow of {spec.record!r} declared by both "
                                 f"{by_record[spec.record][0]!r} and {addon!r}")
            by_record[spec.record] = (addon, spec)
        for addon, patch in patches:
            if patch.record not in by_record:
                raise AddonError(f"addon {addon!r} patches the workflow of {patch.record!r}, "
                                 "which no enabled addon declares")
        for record, (addon, spec) in by_record.items():
            if record not in registry:
                raise AddonError(f"addon {addon!r} declares a workflow for unknown record {record!r}")
            try:
                merged = merge(spec, [(a, p) for a, p in patches if p.record == record])
            except ValueError as exc:
                raise AddonError(str(exc)) from exc
            cls = registry[record]
            _check(merged, cls, known_roles)
            self.compiled[record] = self._compile(merged, cls)
        for rule in approvals:
            wf = self.compiled.get(rule.record)
            where = f"{config_label}: [[approvals]] for {rule.record} {rule.trigger}"
            if wf is None:
                raise ConfigError(f"{where}: no workflow for {rule.record!r} in the enabled addons")
            if rule.trigger not in wf.by_trigger:
                raise ConfigError(f"{where}: unknown trigger; known: {sorted(wf.by_trigger)}")
            if not hasattr(wf.cls, rule.amount_field):
                raise ConfigError(f"{where}: {rule.record} has no field {rule.amount_field!r}")
            amounts = [level.over for level in rule.levels]
            if not amounts or amounts != sorted(set(amounts)):
                # also checked when a TOML file is read; a config built in code gets here only
                raise ConfigError(f"{where}: levels need strictly ascending 'over' amounts")
            if len({level.role for level in rule.levels}) != len(rule.levels):
                raise ConfigError(f"{where}: each level needs a different role")
            for level in rule.levels:
                if level.role not in known_roles:
                    raise ConfigError(f"{where}: unknown role {level.role!r}; "
                                      f"declared: {sorted(known_roles)}")
            wf.approval = rule

    @staticmethod
    def _compile(merged: MergedWorkflow, cls: type) -> CompiledWorkflow:
        machine = Machine(
            model=None,
            states=merged.states,
            initial=None,
            auto_transitions=False,
            model_attribute=merged.field,
            send_event=True,
        )
        by_trigger: dict[str, list[Transition]] = {}
        for t in merged.transitions:
            by_trigger.setdefault(t.trigger, []).append(t)
            machine.add_transition(
                t.trigger,
                list(t.source),
                t.dest,
                # The engine decides beforehand (to gather every reason); the machine takes
                # exactly the transition that was chosen.
                conditions=[_chosen(t)],
                before=[_action(name) for name in t.before],
                after=[_action(name, after=True) for name in t.after],
            )
        return CompiledWorkflow(merged.record, cls, merged, machine, by_trigger=by_trigger)

    # -- firing ---------------------------------------------------------------------------
    def fire(self, env: Env, record, trigger: str, *, comment: str | None = None, **params):
        return self.fire_many(env, [record], trigger, comment=comment, **params)[0]

    def fire_many(self, env: Env, records, trigger: str, *, comment: str | None = None,
                  **params) -> list[Outcome]:
        """Fire ``trigger`` on each of ``records`` (one record class), in their order, as one
        step: all or nothing. Each record is checked and moved exactly as a single ``fire``
        would, after the records before it moved (a guard that reads the database sees them,
        e.g. a credit check sees the orders approved just before). When any record is
        refused, ``TransitionBlocked`` lists every refused record's reasons and nothing has
        changed (more than one record: a savepoint is rolled back). Guards may read what they
        need for all records at once in ``workflow_prefetch``; the writes are flushed once."""
        records = list(records)
        if not records:
            return []
        wf = self[records[0].__record__]
        if any(type(r) is not type(records[0]) for r in records):
            raise TypeError("fire_many needs records of one class")
        env.session.flush()  # the user's own pending changes are checked as the user
        with env.sudo():  # the log rows of the transitions this one runs within, first
            _write_logs(env)
        env.hook.workflow_prefetch(records=records, trigger=trigger, env=env)
        if len(records) == 1:
            try:
                outcome, reasons = self._fire_one(env, wf, records[0], trigger, comment, params)
            except BaseException:
                env._pending_logs.clear()
                raise
            if outcome is None:
                raise TransitionBlocked(records[0], trigger, reasons)
            with env.sudo():  # the engine's own writes (the log, actions of other addons)
                _write_logs(env)
                env.session.flush()
            if outcome.done:
                _send_after_commit(env, wf.record, records[0].id, trigger, outcome.source,
                                   outcome.dest)
            return [outcome]
        outcomes: list[Outcome] = []
        refused: dict[int, list[str]] = {}
        batched = _batch_actions(wf, trigger)
        try:
            with env.atomic():
                self._fire_all(env, wf, records, trigger, comment, params, batched,
                               outcomes, refused)
        except BaseException:
            env._pending_logs.clear()  # rolled back with the savepoint, or never written
            for record in records:
                env._fired.pop(id(record), None)
            raise
        for record, outcome in zip(records, outcomes, strict=True):
            if outcome.done:
                _send_after_commit(env, wf.record, record.id, trigger, outcome.source, outcome.dest)
        return outcomes

    def _fire_all(self, env: Env, wf: CompiledWorkflow, records: list, trigger: str, comment,
                  params, batched: frozenset[str],
                  outcomes: list, refused: dict) -> None:
        """``fire_many``'s steps inside its savepoint: each record checked and moved, then the
        batch forms of the after actions, the log rows and one flush."""
        for index, record in enumerate(records):
            outcome, reasons = self._fire_one(env, wf, record, trigger, comment, params, batched)
            if outcome is None:
                refused[index] = reasons
            outcomes.append(outcome)
        if refused:
            raise TransitionBlocked.many(records, trigger, refused)
        moved = [(r, o) for r, o in zip(records, outcomes, strict=True) if o.done]
        for name in batched:
            having = [r for r, o in moved
                      if any(name in t.after for t in wf.by_trigger[trigger]
                             if t.dest == o.dest and o.source in t.source)]
            if having:
                with env.sudo():
                    getattr(wf.cls, f"{name}_many")(having, **params)
        with env.sudo():
            _write_logs(env)
            env.session.flush()  # every record's writes at once

    def _fire_one(self, env: Env, wf: CompiledWorkflow, record, trigger: str, comment, params,
                  batched: frozenset[str] = frozenset()
                  ) -> tuple[Outcome | None, list[str]]:
        """Check ``record`` and move it (not flushed; its log row waits in ``env._pending_logs``,
        written before any transition fired from within this one, so rows keep their order);
        ``(None, reasons)`` when refused. Its rows are locked here, just before its check
        (after the records before it moved)."""
        source = getattr(record, wf.field)
        candidates = wf.candidates(trigger, source)
        if not candidates:
            return None, [_wrong_state(wf, trigger, source)]
        with env.sudo():
            env.hook.workflow_lock_rows(record=record, trigger=trigger, env=env)
        reasons: list[str] = []
        chosen = None
        approval_state = None
        for t in candidates:
            found = self._reasons(env, wf, record, t, comment)
            if not found and wf.approval is not None and wf.approval.trigger == trigger:
                approval_state = _approvals(env, wf, record)
                if approval_state.refusal:
                    found = [approval_state.refusal]
            if not found:
                chosen = t
                break
            reasons.extend(r for r in found if r not in reasons)
        if chosen is None:
            return None, reasons
        with env.sudo():
            if approval_state is not None and approval_state.to_give is not None:
                approval_state.give(env, record, trigger, comment)
                if approval_state.pending_after:
                    return Outcome(trigger, source, None, False, [approval_state.to_give.role],
                                   approval_state.pending_after), []
            env._fired[id(record)] = chosen.dest
            event = wf.machine.events[trigger]
            if not event.trigger(record, _chosen=chosen, params=params, _batched=batched):
                return None, ["the state machine refused the transition"]
            env._pending_logs.append({"record": wf.record, "record_id": record.id, "trigger": trigger,
                         "source": source, "dest": chosen.dest, "user_id": env.user_id,
                         "comment": comment})
            env.hook.workflow_transition_done(
                record=record, trigger=trigger, source=source, dest=chosen.dest, env=env,
                comment=comment,
            )
        done_by = [approval_state.to_give.role] if approval_state and approval_state.to_give else []
        return Outcome(trigger, source, chosen.dest, True, done_by, []), []

    def _reasons(self, env: Env, wf: CompiledWorkflow, record, t: Transition,
                 comment: str | None) -> list[str]:
        reasons: list[str] = []
        if t.roles and not env.has_role(*t.roles):
            if env.user_id is not None:
                reasons.append(f"{t.trigger!r} needs one of the roles {', '.join(t.roles)}")
        elif not t.roles and not env.can(wf.record, "write"):
            reasons.append(f"you may not change {wf.record}")
        if t.needs_comment and not (comment and comment.strip()):
            reasons.append(f"{t.trigger!r} needs a comment saying why")
        for guard in t.guards:
            reasons.extend(_as_reasons(getattr(record, guard)(), guard))
        for answer in env.hook.workflow_transition_blockers(
            record=record, trigger=t.trigger, source=getattr(record, wf.field), dest=t.dest, env=env
        ):
            reasons.extend(answer or [])
        return reasons

    def blockers(self, env: Env, record, trigger: str) -> list[str]:
        wf = self[record.__record__]
        source = getattr(record, wf.field)
        candidates = wf.candidates(trigger, source)
        if not candidates:
            return [_wrong_state(wf, trigger, source)]
        reasons: list[str] = []
        for t in candidates:
            found = self._reasons(env, wf, record, t, comment="-" if t.needs_comment else None)
            if not found and wf.approval is not None and wf.approval.trigger == trigger:
                state = _approvals(env, wf, record)
                found = [state.refusal] if state.refusal else []
            if not found:
                return []
            reasons.extend(r for r in found if r not in reasons)
        return reasons

    def available(self, env: Env, record) -> dict[str, list[str]]:
        wf = self[record.__record__]
        source = getattr(record, wf.field)
        triggers = []
        for t in wf.merged.transitions:
            if source in t.source and t.trigger not in triggers:
                triggers.append(t.trigger)
        return {trigger: self.blockers(env, record, trigger) for trigger in triggers}


# -- helpers ---------------------------------------------------------------------------------


def _chosen(t: Transition):
    def condition(event) -> bool:
        return event.kwargs.get("_chosen") is t

    return condition


def _action(name: str, *, after: bool = False):
    def run(event) -> None:
        if after and name in event.kwargs.get("_batched", ()):
            return  # fire_many calls its batch form once all the records moved
        getattr(event.model, name)(**event.kwargs.get("params", {}))

    run.__name__ = name
    return run


def _as_reasons(answer: Any, guard: str) -> list[str]:
    if answer is None or answer is True:
        return []
    if answer is False:
        return [f"{guard.replace('_', ' ')} failed"]
    if isinstance(answer, str):
        return [answer]
    return [str(a) for a in answer]


def _write_logs(env: Env) -> None:
    """The ``workflow.log`` rows, with one INSERT (executemany): an append-only system record
    written only here, so no ORM object is needed for it."""
    logs, env._pending_logs[:] = list(env._pending_logs), []
    if not logs:
        return
    now = env.now
    env.insert_rows("workflow.log", [
        {**row, "at": now, "created_at": now, "updated_at": now, "version": 1} for row in logs])


def _batch_actions(wf: CompiledWorkflow, trigger: str) -> frozenset[str]:
    """The ``after`` actions of ``trigger`` that have a batch form: a classmethod
    ``<action>_many(records, **params)`` of the record class, which ``fire_many`` calls once
    with every record that moved, after they all moved, instead of the action per record."""
    return frozenset(name for t in wf.by_trigger.get(trigger, []) for name in t.after
                     if callable(getattr(wf.cls, f"{name}_many", None)))


def _wrong_state(wf: CompiledWorkflow, trigger: str, source: str) -> str:
    sources = sorted({s for t in wf.by_trigger.get(trigger, []) for s in t.source})
    if not sources:
        return f"{wf.record} has no trigger {trigger!r}"
    return f"{trigger!r} is not possible in state {source!r} (only from {', '.join(sources)})"


def _check(merged: MergedWorkflow, cls: type, known_roles: set[str]) -> None:
    where = f"workflow of {merged.record!r} (addons {merged.contributed_by or ['-']})"
    if len(set(merged.states)) != len(merged.states):
        raise AddonError(f"{where}: duplicate states")
    if merged.initial not in merged.states:
        raise AddonError(f"{where}: initial state {merged.initial!r} is not a state")
    if not hasattr(cls, merged.field):
        raise AddonError(f"{where}: {merged.record} has no column {merged.field!r}")
    for t in merged.transitions:
        for state in (*t.source, t.dest):
            if state not in merged.states:
                raise AddonError(f"{where}: {t.trigger!r} uses unknown state {state!r}")
        for name in (*t.guards, *t.before, *t.after):
            if not callable(getattr(cls, name, None)):
                raise AddonError(f"{where}: {t.trigger!r} names {name!r}, which is not a method "
                                 f"of {merged.record}")
        unknown = set(t.roles) - known_roles
        if unknown:
            raise AddonError(f"{where}: {t.trigger!r} names undeclared roles {sorted(unknown)}")


def _send_after_commit(env: Env, record: str, record_id: int, trigger: str, source: str,
                       dest: str) -> None:
    sf, user_id = env.sf, env.user_id

    def send() -> None:
        signals.record_transitioned.send(
            sf, record_name=record, record_id=record_id, trigger=trigger, source=source, dest=dest,
            user_id=user_id,
        )

    env.after_commit(send)


# -- approvals -------------------------------------------------------------------------------


@dataclass
class _ApprovalState:
    required: list[tuple[int, Any]]  # (level index, ApprovalLevel)
    missing: list[tuple[int, Any]]
    amount: Decimal
    fingerprint: str
    to_give: Any = None  # ApprovalLevel the current user gives now
    to_give_index: int = -1
    refusal: str | None = None

    @property
    def pending_after(self) -> list[str]:
        return [lv.role for i, lv in self.missing if i != self.to_give_index]

    def give(self, env: Env, record, trigger: str, comment: str | None) -> None:
        env.session.add(
            env["approval"](
                record=record.__record__, record_id=record.id, trigger=trigger,
                level=self.to_give_index + 1, role=self.to_give.role, user_id=env.user_id,
                amount=self.amount, fingerprint=self.fingerprint, comment=comment,
            )
        )


def _approvals(env: Env, wf: CompiledWorkflow, record) -> _ApprovalState:
    """The approval levels ``record`` needs and has. Read after its rows were locked
    (``workflow_lock_rows``), so a level given by a transaction that committed meanwhile is
    seen; nothing is read when no level is needed (most records of a batch)."""
    from sqlalchemy import select

    rule = wf.approval
    try:
        amount = env.hook.approval_amount(record=record, field=rule.amount_field, env=env)
    except ValidationError as exc:  # e.g. no exchange rate: a refusal that says why
        state = _ApprovalState([], [(0, rule.levels[0])], Decimal(0), "")
        state.refusal = "cannot weigh the amount: " + "; ".join(
            m for messages in exc.errors.values() for m in messages)
        return state
    amount = Decimal((getattr(record, rule.amount_field) if amount is None else amount) or 0)
    required = [(i, lv) for i, lv in enumerate(rule.levels) if amount > lv.over]
    fingerprint = env.hook.approval_fingerprint(record=record, env=env)
    given = []
    if required and record.id is not None:
        Approval = env["approval"]
        with env.sudo():
            given = env.session.scalars(select(Approval).where(
                Approval.record == wf.record, Approval.record_id == record.id,
                Approval.trigger == rule.trigger, Approval.fingerprint == fingerprint)).all()
    done_levels = {a.level - 1 for a in given}
    missing = [(i, lv) for i, lv in required if i not in done_levels]
    state = _ApprovalState(required, missing, amount, fingerprint)
    if not missing:
        return state
    index, level = missing[0]  # levels are given in order, lowest first
    if env.user_id is None:
        state.refusal = f"needs approval by {level.role} (amount {amount:,.2f} over {level.over:,.2f})"
        return state
    if any(a.user_id == env.user_id for a in given):
        state.refusal = (f"needs approval by {level.role} from another user (you already approved "
                         f"a level; one user cannot give two levels)")
        return state
    if not env.has_role(level.role):
        state.refusal = f"needs approval by {level.role} (amount {amount:,.2f} over {level.over:,.2f})"
        return state
    state.to_give, state.to_give_index = level, index
    return state
