"""Hook implementations of sale_credit's core credit part.

* ``sale_customer_balance_changed``: note the changed document; exposure is brought up to date
  before the commit (``services.credit``).
* ``workflow_lock_rows``: ``approve``, ``release_credit``, ``reject_credit`` of an order lock
  the customer's exposure row (one row per customer) and compute the credit check under it.
* ``workflow_prefetch``: orders approved or shipped together lock their customers' rows
  first, in customer id order (no deadlock between two batches).
* ``sale_shipment_blockers``: the same check (locked) before every shipment.
* ``workflow_transition_done``: a release counts the order; release and rejection are recorded.
* ``record_validate``: only credit managers change credit profiles (never of the customers
  they sell to); customer merges resync
  exposure, and do not lift a credit hold.
* ``record_rule_filters``: a salesperson sees the credit records of their own customers only.
* ``db_addons_installed``: enabled on an existing database, the exposure is built from the
  open documents already there.
"""

from __future__ import annotations

from sqlalchemy import inspect, select

from core.plugins import hookimpl

from .models.customer import CREDIT_FIELDS
from .services import credit, profile

#: roles that see every customer's credit records (as in sale, plus credit managers)
SEES_ALL = ("sales_manager", "director", "finance", "warehouse", "credit_manager")
CREDIT_RECORDS = ("sale.credit.exposure", "sale.credit.decision", "sale.credit.grade_proposal",
                  "sale.credit.score")


@hookimpl
def sale_customer_balance_changed(customer_id, reason, record, env):
    credit.note_change(env, record, customer_id, reason)


@hookimpl
def workflow_lock_rows(record, trigger, env):
    if getattr(record, "__record__", "") != "sale.order":
        return
    if trigger == "approve" and record.state == "draft" and not credit.skipping(env):
        credit.decide(env, record, "approve")
    elif trigger in ("release_credit", "reject_credit") and record.state == "credit_review":
        credit.decide(env, record, trigger)


@hookimpl
def workflow_prefetch(records, trigger, env):
    """Many orders approved, released, rejected or shipped at once: their customers' exposure
    rows locked up front, in customer id order (``workflow_lock_rows`` then finds them
    locked), so two batches never wait for each other in a circle."""
    if getattr(records[0], "__record__", "") != "sale.order" or credit.skipping(env):
        return
    if trigger in ("approve", "release_credit", "reject_credit") or (
            trigger == "ship" and env.settings("sale_credit")["check_on_ship"]):
        credit.lock_customers(env, [r.customer_id for r in records])


@hookimpl
def sale_shipment_blockers(order, quantities, env):
    if not env.settings("sale_credit")["check_on_ship"] or credit.skipping(env):
        return []
    with env.sudo():
        check = credit.decide(env, order, "ship")
        if check.ok:
            return []
        if check.policy == "review":
            release = credit.shipment_release(env, order)
            if release is not None:
                check.released_by = release
                return []
            return [*check.reasons,
                    f"a credit manager must release the shipment of order {order.number or order.id} "
                    f"(POST /api/v1/credit/orders/{order.id}/release-shipment)"]
    return list(check.reasons)


@hookimpl
def workflow_transition_done(record, trigger, source, dest, env, comment):
    if getattr(record, "__record__", "") != "sale.order":
        return
    credit.order_moved(env, record, dest)
    if source != "credit_review":
        return
    if trigger in ("release_credit", "reject_credit"):
        check = credit.current_check(env, record, trigger)
        if trigger == "release_credit":
            credit.note_change(env, record, record.customer_id)
        credit.record_decision(
            env, check, outcome="released" if trigger == "release_credit" else "rejected",
            trigger=trigger, state_after=dest, comment=comment)
        credit.forget_check(env, record, trigger)


@hookimpl
def record_validate(record, env):
    if getattr(record, "__record__", "") != "sale.customer":
        return {}
    state = inspect(record)
    if state.persistent:
        merged = state.attrs.merged_into_id.history
        if merged.has_changes() and record.merged_into_id is not None:
            refused = _merge_lifts_hold(record, env)
            if refused:
                return {"merged_into_id": [refused]}
            credit.note_customers(env, record.id, record.merged_into_id)
    if env.unrestricted:
        return {}
    refusal = "only a credit manager may change the credit profile"
    if env.has_role("credit_manager"):
        refusal = profile.own_customer_refusal(env, record)
        if refusal is None:
            return {}
    errors = {}
    for name in CREDIT_FIELDS:
        history = state.attrs[name].history
        if history.has_changes() and any(v not in (None, False) for v in history.added):
            errors[name] = [refusal]
        elif history.has_changes() and state.persistent:
            errors[name] = [refusal]
    return errors


def _merge_lifts_hold(source, env) -> str | None:
    """A customer on hold merged into one that is not would carry its documents on where every
    credit check passes: the credit manager decides (holds the target first)."""
    if not source.credit_hold:
        return None
    with env.sudo():
        target = env.session.get(env["sale.customer"], source.merged_into_id)
    if target is None or target.credit_hold:
        return None
    return (f"customer {source.code} is on credit hold ({source.credit_hold_reason or 'no reason given'}) "
            f"and {target.code} is not: merging would lift the hold; a credit manager puts "
            f"{target.code} on hold first (or lifts {source.code}'s)")


def _own_customers(env):
    Salesperson, Customer = env["sale.salesperson"], env["sale.customer"]
    mine = select(Salesperson.id).where(Salesperson.user_id == env.user_id).scalar_subquery()
    return select(Customer.id).where(Customer.salesperson_id.in_(mine)).scalar_subquery()


@hookimpl
def record_rule_filters(model, env):
    if model.__record__ not in CREDIT_RECORDS:
        return []
    if env.has_role(*SEES_ALL) or not env.has_role("salesperson"):
        return []
    return [model.customer_id.in_(_own_customers(env))]


@hookimpl
def db_addons_installed(addons, env):
    """sale_credit enabled on a database with sale's documents: their exposure, from them."""
    if "sale_credit" in addons:
        credit.rebuild(env)
