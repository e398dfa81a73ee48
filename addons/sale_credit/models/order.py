"""Credit guards of ``sale.order`` (named by ``workflow.PATCH``).

``approve`` from ``draft`` has two candidates (the engine takes the first without reasons):

1. ``draft -approve-> credit_review`` (added first by sale_credit), guard
   ``credit_needs_review``: taken when the credit check fails and the policy is "review". It
   repeats the guards of sale's own ``approve`` (so an order that sale would refuse never gets
   to credit review), and the configured approval levels apply to it as to any ``approve``.
2. sale's ``draft -approve-> approved``, extended with the guard ``check_credit``: refuses with
   every reason when the check fails.

So: check passes -> approved; fails with policy "review" -> credit_review (a credit manager
fires ``release_credit`` or ``reject_credit``); fails with policy "refuse" -> refused with every
reason. The check itself is ``services.credit.check_order``, computed once per ``fire()`` under
the customer's lock (``workflow_lock_rows``).
"""

from __future__ import annotations

from core.registry import extends

from ..services import credit

#: guards of sale_credit on ``approve`` (not repeated by ``credit_needs_review``)
CREDIT_GUARDS = frozenset({"check_credit", "credit_needs_review"})


def _as_reasons(answer, guard: str) -> list[str]:
    """A guard's answer as reasons, as the workflow engine reads it."""
    if answer is None or answer is True:
        return []
    if answer is False:
        return [f"{guard.replace('_', ' ')} failed"]
    if isinstance(answer, str):
        return [answer]
    return [str(a) for a in answer]


@extends("sale.order")
class SaleOrderCredit:
    # -- approve -------------------------------------------------------------------------
    def check_credit(self):
        """Guard added to sale's ``approve``: the credit check's reasons (policy "refuse", or
        "review" when the review candidate could not be taken)."""
        env = self.env
        if credit.skipping(env):
            return None
        check = credit.current_check(env, self, "approve")
        return None if check.ok else check.reasons

    def credit_needs_review(self):
        """Guard of ``draft -approve-> credit_review``: passes only when sale's own ``approve``
        guards pass, the credit check fails and the policy is "review"."""
        env = self.env
        reasons = self._sale_approve_reasons()
        if reasons:
            return reasons  # the same reasons sale's approve gives: shown once
        if credit.skipping(env):
            return "credit checks are off"
        check = credit.current_check(env, self, "approve")
        if check.ok:
            return f"no credit review needed: {check.summary()}"
        if check.policy != "review":
            return check.reasons  # the same reasons as check_credit: shown once
        return None

    def _sale_approve_reasons(self) -> list[str]:
        """The reasons of the guards on the other ``approve`` transitions from this state
        (sale's and other addons'), read from the compiled workflow."""
        wf = self.env.sf.workflows["sale.order"]
        reasons: list[str] = []
        for t in wf.candidates("approve", self.state):
            if t.dest == "credit_review":
                continue
            for guard in t.guards:
                if guard in CREDIT_GUARDS:
                    continue
                for reason in _as_reasons(getattr(self, guard)(), guard):
                    if reason not in reasons:
                        reasons.append(reason)
        return reasons

    # -- release / reject ----------------------------------------------------------------
    def check_credit_releaser(self):
        """``release_credit`` / ``reject_credit``: never by the order's own salesperson."""
        env = self.env
        if env.user is None:
            return None
        salesperson = self.salesperson
        if salesperson is not None and salesperson.user_id == env.user_id:
            return ("the order's own salesperson cannot release or reject its credit review; "
                    "another credit manager must")
        return None
