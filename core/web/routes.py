"""Generic pages rendered from the addons' declarations: home, lists, record pages (with the
workflow panel and the timeline), create/edit forms and firing a trigger."""

from __future__ import annotations

import math
import re
from typing import Any
from urllib.parse import urlencode

from flask import abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from sqlalchemy import String, cast, func, or_, select, true

from core.errors import ConflictError, TransitionBlocked, ValidationError
from core.web.base import bp, page, render, views
from core.web.panels import page_panels
from core.web.views import ListView


@bp.get("/")
@page()
def home(env):
    target = home_target(env)
    if target is not None:
        return redirect(target)
    return render("web/home.html")


def home_target(env) -> str | None:
    """The URL of the first addon home (``Views(home=...)``, most dependent addon first) this
    user may see, or None (the menu tiles)."""
    for home in views().homes:
        if home.roles and not env.has_role(*home.roles) and not env.is_superuser:
            continue
        if home.record and (home.record not in env.sf.registry.records
                            or not env.can(home.record, "read")):
            continue
        try:
            return url_for(home.endpoint, **home.args)
        except Exception:  # an endpoint of a disabled addon
            continue
    return None


# -- lists ---------------------------------------------------------------------------------------


class BadQuery(Exception):
    pass


#: a list counts its rows up to this many (at least to the page shown); beyond, it says "more
#: than": counting every row of a large table on each page costs more than the page itself
COUNT_LIMIT = 1000
#: the last page number a list accepts: beyond, the offset overflows the database's integers
#: (a 500 on PostgreSQL and SQLite) long before any table has that many rows
MAX_PAGE = 1_000_000


def relation_loads(cls, paths) -> list:
    """``selectinload`` options for the relationships along dotted paths (``customer.name``,
    ``order.currency``): a page's related rows in one SELECT per relationship, not one per row."""
    from sqlalchemy import inspect
    from sqlalchemy.orm import selectinload

    options, seen = [], set()
    for path in paths:
        owner, loader, walked = cls, None, []
        for part in path.split(".")[:-1]:
            rel = inspect(owner).relationships.get(part)
            if rel is None:
                break
            walked.append(part)
            attr = getattr(owner, part)
            loader = selectinload(attr) if loader is None else loader.selectinload(attr)
            owner = rel.mapper.class_
            key = ".".join(walked)
            if key not in seen:
                seen.add(key)
                options.append(loader)
    return options


def preload(env, rows, paths) -> None:
    """Load the relationships along ``paths`` of ``rows`` (records of one class, e.g. an order's
    lines) in one SELECT per relationship, before a table shows them (rows that are not records,
    or without dotted paths: nothing to do)."""
    from sqlalchemy import inspect

    rows = list(rows or ())
    if not rows or not paths or inspect(rows[0], raiseerr=False) is None:
        return
    cls = type(rows[0])
    options = relation_loads(cls, paths)
    if options and all(type(r) is cls for r in rows):
        env.session.scalars(select(cls).where(cls.id.in_([r.id for r in rows]))
                            .options(*options)).all()


def column_paths(columns) -> list[str]:
    """The dotted paths a table of ``columns`` reads (fields and money columns' currencies)."""
    paths = [c.field for c in columns]
    paths += [c.currency_field for c in columns if c.format == "money"]
    return [p for p in paths if "." in p]


def _column(cls, name: str):
    col = getattr(cls, name, None)
    if col is None or not hasattr(col, "asc"):
        raise BadQuery(name)
    return col


def list_query(env, lv: ListView, args) -> dict[str, Any]:
    """Rows of a list view for ``?q=&<filter>=&sort=&page=``, with the allow-list semantics of
    ``core.api.paginate``: an unknown parameter or sort field is refused (400), never ignored."""
    cls = env[lv.record_name]
    criteria = list(lv.base(env, cls)) if lv.base else []
    filters = {f.name: f for f in lv.filters}
    active: dict[str, str] = {}
    for name, value in args.items():
        if name in ("page", "sort", "pick"):  # pick: which rows the page shows ticked
            continue
        if name == "q":
            if value.strip() and lv.search:
                # a substring: % and _ typed are literal (autoescape), not LIKE wildcards
                needle = value.strip().lower()
                criteria.append(or_(*(func.lower(cast(_column(cls, f), String))
                                      .contains(needle, autoescape=True) for f in lv.search)))
            active["q"] = value
            continue
        flt = filters.get(name)
        if flt is None:
            raise BadQuery(_("not a filter: %(name)s", name=name))
        active[name] = value
        if value == "":
            continue
        if flt.choices is not None and value not in {v for v, _label in flt.choices}:
            raise BadQuery(_("not a value of %(name)s: %(value)s", name=name, value=value))
        criteria.append(flt.make(cls, value) if flt.make else _column(cls, flt.field or name) == value)
    sort = args.get("sort") or lv.default_sort
    order = []
    for part in sort.split(","):
        part = part.strip()
        name = part.lstrip("-+")
        if name != "id" and name not in lv.sortable:
            raise BadQuery(_("cannot sort by %(name)s", name=name))
        col = _column(cls, name)
        order.append(col.desc() if part.startswith("-") else col.asc())
    order.append(cls.id.desc())
    try:
        page_no = max(1, int(args.get("page", 1)))
    except ValueError:
        raise BadQuery(_("page must be a whole number")) from None
    if page_no > MAX_PAGE:
        raise BadQuery(_("page must be at most %(n)d", n=MAX_PAGE))
    offset = (page_no - 1) * lv.page_size
    cap = max(COUNT_LIMIT, offset + lv.page_size)
    counted = select(cls.id).where(true(), *criteria).limit(cap + 1).subquery()
    total = env.session.scalar(select(func.count()).select_from(counted)) or 0
    more = total > cap
    total = min(total, cap)
    rows = env.session.scalars(select(cls).where(true(), *criteria).order_by(*order)
                               .options(*relation_loads(cls, column_paths(lv.columns)))
                               .limit(lv.page_size).offset(offset)).all()
    return {"rows": rows, "total": total, "more": more, "page": page_no, "sort": sort,
            "active": active, "pages": max(1, math.ceil(total / lv.page_size))}


@bp.get("/r/<name>")
@page()
def record_list(env, name):
    lv = views().lists.get(name)
    if lv is None:
        abort(404)
    env.check_access(lv.record_name, "read")
    try:
        result = list_query(env, lv, request.args)
    except BadQuery as exc:
        abort(400, str(exc))
    # ?pick=page shows this page's rows ticked for a mass action: "tick all" without a script
    # (the CSP allows none inline, and the pages need none)
    pick = request.args.get("pick", "")
    if pick not in ("", "page"):
        abort(400, _("not a value of %(name)s: %(value)s", name="pick", value=pick))
    form = views().forms.get(lv.record_name)
    can_create = form is not None and form.create is not None and env.can(lv.record_name, "create")
    has_page = lv.record_name in views().pages

    def link(drop: tuple[str, ...], **values) -> str:
        args = {k: v for k, v in request.args.items() if k not in drop and k not in values}
        return url_for("web.record_list", name=name, **args, **values)

    def sort_link(field: str) -> str:
        current = result["sort"]
        return link(("page", "pick"), sort=f"-{field}" if current == field else field)

    def page_link(n: int) -> str:  # ticks are per page: another page starts unticked
        return link(("pick",), page=n)

    def pick_link(all_rows: bool) -> str:
        return link(("pick",), pick="page") if all_rows else link(("pick",))

    actions = [a for a in views().actions_for(name) if _may_run(env, lv, a)]
    return render("web/list.html", lv=lv, can_create=can_create, has_page=has_page,
                  sort_link=sort_link, page_link=page_link, pick_link=pick_link,
                  picked=pick == "page", actions=actions,
                  back=_path_without(("pick",)), **result)


def _path_without(drop: tuple[str, ...]) -> str:
    """This request's path and query (as ``request.full_path``) without the ``drop`` args."""
    args = [(k, v) for k, v in request.args.items(multi=True) if k not in drop]
    return request.path + (f"?{urlencode(args)}" if args else "")


#: most rows one mass action takes (one transaction)
ACTION_MAX = 500
#: refusal reasons shown one by one after a mass action; the rest are counted
SHOWN_REASONS = 20


def _may_run(env, lv: ListView, action) -> bool:
    if action.roles:
        return env.has_role(*action.roles)
    return env.can(lv.record_name, "write")


@bp.post("/r/<name>/actions/<key>")
@page()
def record_list_action(env, name, key):
    """Run a mass action (``ListAction``) on the rows ticked in the list, in one savepoint."""
    lv = views().lists.get(name)
    action = views().actions.get((name, key))
    if lv is None or action is None:
        abort(404)
    if not _may_run(env, lv, action):
        abort(403)
    back = request.form.get("back") or ""
    if not back.startswith(f"/r/{name}") or back.startswith(f"/r/{name}/"):
        back = url_for("web.record_list", name=name)  # only back to this list: no open redirect
    try:
        ids = list(dict.fromkeys(int(i) for i in request.form.getlist("ids")))
    except ValueError:
        abort(400, "ids must be whole numbers")
    if not ids:
        flash(_("Select at least one row."), "error")
        return redirect(back)
    if len(ids) > ACTION_MAX:
        flash(_("At most %(n)d rows at a time.", n=ACTION_MAX), "error")
        return redirect(back)
    found = env.get_many(lv.record_name, ids)
    if len(found) != len(ids):
        abort(404)
    try:
        with env.atomic():
            message = action.run(env, [found[i] for i in ids])
    except TransitionBlocked as exc:
        for reason in exc.reasons[:SHOWN_REASONS]:
            flash(reason_text(env, reason), "error")
        if len(exc.reasons) > SHOWN_REASONS:
            flash(_("… and %(n)d more reasons", n=len(exc.reasons) - SHOWN_REASONS), "error")
        flash(_("Nothing was done."), "error")
        return redirect(back)
    except (ValidationError, ConflictError) as exc:
        flash(_error_text(exc), "error")
        flash(_("Nothing was done."), "error")
        return redirect(back)
    flash(message or _("%(action)s: done", action=_(action.label)), "success")
    return redirect(back)


# -- record pages ---------------------------------------------------------------------------------


def _page_decl(record: str):
    decl = views().pages.get(record)
    if decl is None:
        abort(404)
    return decl


def _load(env, decl, ident):
    try:
        ident = int(ident)
    except ValueError:
        abort(404)
    return decl.load(env, ident) if decl.load else env.get(decl.record, ident)


def workflow_panel(env, record) -> dict[str, Any] | None:
    """State, the triggers this user may fire from it (each with its reasons when it would be
    refused now) and the transition log. Triggers reserved to roles the user does not hold are
    left out: they are someone else's job, not a refusal to explain; so are automatic ones
    (the services fire them when the documents say so)."""
    wf = env.sf.workflows.get(record.__record__)
    if wf is None:
        return None
    state = getattr(record, wf.field)
    triggers = []
    for trigger, reasons in env.available_triggers(record).items():
        candidates = wf.candidates(trigger, state)
        if candidates and all(t.automatic or (t.roles and not env.has_role(*t.roles))
                              for t in candidates):
            continue
        triggers.append({"trigger": trigger, "label": candidates[0].label if candidates else trigger,
                         "needs_comment": any(t.needs_comment for t in candidates),
                         "reasons": [reason_text(env, r) for r in reasons]})
    Log = env["workflow.log"]
    log = env.session.scalars(select(Log).where(Log.record == record.__record__,
                                                Log.record_id == record.id).order_by(Log.id)).all()
    return {"state": state, "triggers": triggers, "log": log}


_NEEDS_LEVEL = re.compile(r"^needs approval by (\w+) \(amount ([\d,.]+) over ([\d,.]+)\)$")


def reason_text(env, reason: str) -> str:
    """A refusal as the user reads it: the kernel's approval-level reason is translated (the
    role by its label in Chinese); other reasons are shown as given."""
    from flask_babel import get_locale

    match = _NEEDS_LEVEL.match(reason)
    if match is None:
        return reason
    role = match.group(1)
    if str(get_locale() or "").startswith("zh"):
        role = env.sf.security.roles.get(role, {}).get("label_zh") or role
    return _("needs approval by %(role)s (amount %(amount)s over %(limit)s)", role=role,
             amount=match.group(2), limit=match.group(3))


def timeline(env, record, panel, with_history: bool) -> list[dict[str, Any]]:
    """Transitions and audited changes, oldest first, with the users' names."""
    import datetime as dt

    items = []
    for row in (panel or {}).get("log", []):
        items.append({"at": row.at, "user_id": row.user_id, "kind": "transition",
                      "trigger": row.trigger, "source": row.source, "dest": row.dest,
                      "comment": row.comment})
    if with_history and getattr(record, "__audit__", False):
        for row in env.sf.audit.history(env, record.__record__, record.id):
            changes = {k: v for k, v in (row["changes"] or {}).items() if k != "state"}
            items.append({"at": dt.datetime.fromisoformat(row["at"]), "user_id": row["user_id"],
                          "kind": row["action"], "changes": changes})
    ids = {i["user_id"] for i in items if i["user_id"] is not None}
    names = {}
    if ids:
        User = env["res.user"]
        names = dict(env.session.execute(select(User.id, User.name).where(User.id.in_(ids))).all())
    for item in items:
        item["user"] = names.get(item["user_id"], _("system"))
        if item["at"].tzinfo is None:
            item["at"] = item["at"].replace(tzinfo=dt.UTC)
    items.sort(key=lambda i: i["at"])
    return items


@bp.get("/r/<record>/<ident>")
@page()
def record_page(env, record, ident):
    decl = _page_decl(record)
    obj = _load(env, decl, ident)
    panel = workflow_panel(env, obj) if decl.workflow else None
    form = views().forms.get(record)
    can_edit = (form is not None and form.update is not None and env.can(record, "write")
                and (form.editable is None or form.editable(obj)))
    children = []
    for child in decl.children:
        rows = child.attr(env, obj) if callable(child.attr) else getattr(obj, child.attr)
        preload(env, rows, column_paths(child.columns))
        children.append({"decl": child, "rows": rows})
    extra = decl.extra(env, obj) if decl.extra else {}
    lv = views().list_for_record(record)
    return render(decl.template, decl=decl, obj=obj, panel=panel, children=children,
                  can_edit=can_edit, list_view=lv, panels=page_panels(env, obj),
                  timeline=timeline(env, obj, panel, decl.history), **extra)


@bp.post("/r/<record>/<ident>/fire/<trigger>")
@page()
def fire(env, record, ident, trigger):
    decl = _page_decl(record)
    obj = _load(env, decl, ident)
    comment = (request.form.get("comment") or "").strip() or None
    target = url_for("web.record_page", record=record, ident=obj.id)
    try:
        with env.session.begin_nested():  # a refusal leaves nothing behind
            outcome = decl.fire(env, obj, trigger, comment) if decl.fire else obj.fire(trigger, comment=comment)
    except TransitionBlocked as exc:
        for reason in exc.reasons:
            flash(reason, "error")
        return redirect(target)
    except (ValidationError, ConflictError) as exc:
        flash(_error_text(exc), "error")
        return redirect(target)
    if outcome.done:
        flash(_("%(trigger)s: done, now %(state)s", trigger=_(trigger), state=_(outcome.dest)),
              "success")
    else:
        flash(_("Your approval is recorded; still needed: %(roles)s",
                roles=", ".join(outcome.approvals_pending)), "info")
    return redirect(target)


def _error_text(exc) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(f"{k}: {', '.join(v)}" for k, v in exc.errors.items())
    return str(exc)


# -- forms ----------------------------------------------------------------------------------------


def _form_decl(record: str, what: str):
    decl = views().forms.get(record)
    if decl is None or getattr(decl, what) is None:
        abort(404)
    return decl


@bp.route("/r/<record>/new", methods=["GET", "POST"])
@page()
def record_new(env, record):
    decl = _form_decl(record, "create")
    env.check_access(record, "create")
    form = decl.form()
    if decl.prepare:
        decl.prepare(env, form)
    errors: list[str] = []
    if form.validate_on_submit():
        try:
            with env.session.begin_nested():
                obj = decl.create(env, form)
        except (ValidationError, ConflictError) as exc:
            errors = _messages(exc, form)
        else:
            flash(_("Saved."), "success")
            return redirect(url_for("web.record_page", record=record, ident=obj.id))
    return render(decl.template, form=form, decl=decl, obj=None, errors=errors,
                  title=_("New"), list_view=views().list_for_record(record))


@bp.route("/r/<record>/<ident>/edit", methods=["GET", "POST"])
@page()
def record_edit(env, record, ident):
    decl = _form_decl(record, "update")
    page_decl = views().pages.get(record)
    obj = _load(env, page_decl, ident) if page_decl else env.get(record, ident)
    env.check_access(record, "write")
    if decl.editable is not None and not decl.editable(obj):
        abort(403)
    if request.method == "POST":
        form = decl.form()
    else:
        form = decl.form(data=decl.load(env, obj) if decl.load else None, obj=None if decl.load else obj)
    if decl.prepare:
        decl.prepare(env, form)
    errors: list[str] = []
    if form.validate_on_submit():
        try:
            with env.session.begin_nested():
                decl.update(env, obj, form)
        except (ValidationError, ConflictError) as exc:
            errors = _messages(exc, form)
        else:
            flash(_("Saved."), "success")
            return redirect(url_for("web.record_page", record=record, ident=obj.id))
    return render(decl.template, form=form, decl=decl, obj=obj, errors=errors,
                  title=_("Edit"), list_view=views().list_for_record(record))


def _messages(exc, form) -> list[str]:
    if isinstance(exc, ValidationError):
        out = []
        for key, msgs in exc.errors.items():
            field = getattr(form, key, None) if "." not in key else None
            if field is not None and hasattr(field, "errors"):
                field.errors = list(field.errors) + list(msgs)
            else:
                out.extend(f"{key}: {m}" for m in msgs)
        return out
    return [str(exc)]
