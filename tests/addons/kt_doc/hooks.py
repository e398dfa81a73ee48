"""kt_doc's hook implementations."""

from __future__ import annotations

from decimal import Decimal

from core.plugins import hookimpl


@hookimpl
def record_rule_filters(model, env):
    """A clerk (who is not also a manager or director) sees only the documents they own."""
    if getattr(model, "__record__", None) != "kt.doc":
        return []
    if env.has_role("kt_clerk") and not env.has_role("kt_manager", "kt_director"):
        return [model.owner_id == env.user_id]
    return []


@hookimpl
def workflow_transition_blockers(record, trigger, source, dest, env):
    """Nothing embargoed leaves draft."""
    if record.__record__ == "kt.doc" and source == "draft" and "embargo" in (record.name or ""):
        return [f"kt_doc: {record.name!r} is under embargo"]
    return []


@hookimpl
def demo_data(env, rng):
    settings = env.settings("kt_doc")
    for i in range(settings["demo_count"]):
        env.create("kt.doc", name=f"{settings['prefix']}{i + 1:03d}",
                   amount=Decimal(rng.randint(1, 1000) * 100))
