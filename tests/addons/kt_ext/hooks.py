"""kt_ext's hook implementations."""

from __future__ import annotations

from core.plugins import hookimpl


@hookimpl
def workflow_transition_blockers(record, trigger, source, dest, env):
    if record.__record__ != "kt.doc" or trigger != "confirm":
        return []
    limit = env.settings("kt_ext")["max_amount"]
    if record.amount is not None and record.amount > limit:
        return [f"kt_ext: amount {record.amount:,.2f} is over the limit {limit:,.2f}"]
    return []


@hookimpl
def record_validate(record, env):
    if record.__record__ == "kt.doc" and (record.discount or 0) > (record.amount or 0):
        return {"discount": ["cannot exceed the amount"]}
    return {}


@hookimpl
def workflow_transition_done(record, trigger, source, dest, env):
    if record.__record__ != "kt.doc":
        return
    if record.name == "explode":
        raise RuntimeError("kt_ext refuses to finish this transition")
    if env.settings("kt_ext")["stamp"]:
        env.session.add(env["kt.stamp"](doc_id=record.id, trigger=trigger, dest=dest))


@hookimpl
def app_configured(app, salesflow):
    app.config["KT_EXT_ADDONS"] = list(salesflow.addon_names)

    @app.template_global()
    def kt_ext_enabled() -> bool:
        return True
