"""Web UI of sale_credit, added to sale's UI the way a partner addon would (nothing in sale
changes):

* panels on sale's record pages (``core.web.Panel``): the **credit panel** on the customer
  page (grade, limit, hold, review date, score, exposure and its parts, available credit,
  overdue, orders in review, latest decisions) and the **credit decision** panel on the order
  page (what the check saw: limit, every exposure part, the order amount, the reasons);
* pages of its own on the ``sale_credit_web`` blueprint (``/sale/credit``): the credit review
  queue, the exposure and over-limit lists, the credit profile form (credit managers), dunning
  runs (list, run for a date, one run with its letters and their outbox status);
* a generic list of dunning letters and the menu entries.

Releasing or rejecting an order in review needs no page of its own: sale's order page shows
the workflow panel, whose ``release_credit`` / ``reject_credit`` buttons the credit manager
gets (never the order's own salesperson). Everything reads through ``env`` (record rules
apply) and changes go through the services (``services.profile``, ``services.dunning``).
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from sqlalchemy import and_, func, or_, select
from wtforms import BooleanField, DateField, DecimalField, SelectField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from core.errors import AccessDenied, ConflictError, ValidationError
from core.web import Column, Filter, ListView, Menu, Panel, Views
from core.web.base import page, render

from .services import credit as credit_svc
from .services import dunning as dunning_svc
from .services import profile as profile_svc

#: who sees the credit review queue and the exposure lists (salespersons see the credit panel
#: of their own customers only)
READERS = ("credit_manager", "sales_manager", "director", "finance")
#: who changes credit profiles (services.profile.require_credit_manager)
MANAGERS = ("credit_manager",)
#: who starts dunning runs, and who follows them (security.toml: sale.credit.dunning_run)
DUNNING_RUNNERS = ("credit_manager", "finance")
DUNNING_READERS = ("credit_manager", "finance", "sales_manager", "director")
PAGE_SIZE = 25

bp = Blueprint("sale_credit_web", __name__, url_prefix="/sale/credit")


def _currency(env) -> str:
    return credit_svc.company_currency(env)


def _user_names(env, ids) -> dict[int, str]:
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    User = env["res.user"]
    with env.sudo():  # names only, as the timeline shows them
        return dict(env.session.execute(select(User.id, User.name).where(User.id.in_(ids))).all())


def _page_no() -> int:
    from core.web.routes import MAX_PAGE  # beyond, the OFFSET overflows (a 500)

    try:
        page_no = max(1, int(request.args.get("page", 1)))
    except ValueError:
        abort(400, _("page must be a whole number"))
    if page_no > MAX_PAGE:
        abort(400, _("page must be at most %(n)d", n=MAX_PAGE))
    return page_no


# -- panels on sale's pages ---------------------------------------------------------------------


def _customer_panel(env, customer) -> dict[str, Any]:
    """The credit panel of a customer (services.profile.panel), plus what the page needs."""
    data = profile_svc.panel(env, customer.id, decisions=5)
    data["currency"] = _currency(env)
    data["can_edit"] = env.has_role(*MANAGERS, "admin")
    data["total_exposure"] = sum((data[p] for p in credit_svc.PARTS), Decimal(0))
    return data


def _order_decisions(env, order) -> dict[str, Any] | None:
    """The credit decisions of an order, newest first (None: it never had a credit check)."""
    D = env["sale.credit.decision"]
    rows = list(env.session.scalars(select(D).where(D.order_id == order.id)
                                    .order_by(D.id.desc()).limit(10)))
    if not rows:
        return None
    latest = rows[0]
    total = latest.exposure + latest.order_amount
    return {"latest": latest, "earlier": rows[1:], "currency": _currency(env),
            "total": total,
            "headroom": None if latest.credit_limit is None else latest.credit_limit - total,
            "users": _user_names(env, [d.user_id for d in rows])}


# -- credit profile form (credit managers) ------------------------------------------------------


class ProfileForm(FlaskForm):
    credit_grade = SelectField("Credit grade", validators=[Optional()])
    credit_limit = DecimalField("Credit limit", places=2, validators=[
        Optional(), NumberRange(min=0, message="must not be negative"),
        # the column is Numeric(18, 2): a larger limit failed the database (a 500)
        NumberRange(max=Decimal("9999999999999999.99"),
                    message="must be less than 10,000,000,000,000,000")])
    credit_review_date = DateField("Review date", validators=[Optional()])
    credit_hold = BooleanField("On credit hold")
    credit_hold_reason = StringField("Hold reason", validators=[Optional(), Length(max=200)])
    note = StringField("Note", validators=[Optional(), Length(max=500)])


#: service error keys -> form fields
_FIELD_OF = {"reason": "credit_hold_reason", "credit_note": "note"}


def _save_profile(env, customer, form) -> bool:
    """Apply the form through the services; True when something changed."""
    changes: dict[str, Any] = {}
    grade = form.credit_grade.data or None
    if grade != customer.credit_grade:
        changes["credit_grade"] = grade
    limit = form.credit_limit.data
    if limit != customer.credit_limit:  # Decimal equality is numeric (100000 == 100000.00)
        changes["credit_limit"] = limit
    if form.credit_review_date.data != customer.credit_review_date:
        changes["credit_review_date"] = form.credit_review_date.data
    note = (form.note.data or "").strip() or None
    changed = False
    if changes:
        profile_svc.update_profile(env, customer.id, note=note, **changes)
        changed = True
    hold, reason = bool(form.credit_hold.data), (form.credit_hold_reason.data or "").strip()
    if hold and (not customer.credit_hold or reason != (customer.credit_hold_reason or "")):
        profile_svc.set_hold(env, customer.id, reason)
        changed = True
    elif not hold and customer.credit_hold:
        profile_svc.release_hold(env, customer.id, reason or note)
        changed = True
    return changed


def _form_errors(exc: Exception, form) -> list[str]:
    """A service's refusal on the form: on its field when there is one, else at the top."""
    if not isinstance(exc, ValidationError):
        return [str(exc)]
    out = []
    for key, messages in exc.errors.items():
        field = getattr(form, _FIELD_OF.get(key, key), None)
        if field is not None and hasattr(field, "errors") and key != "csrf_token":
            field.errors = list(field.errors) + list(messages)
        else:
            out.extend(messages)
    return out


@bp.route("/customers/<int:customer_id>/profile", methods=["GET", "POST"])
@page(roles=(*MANAGERS, "admin"))
def profile(env, customer_id):
    customer = env.get("sale.customer", customer_id)  # 404 when hidden or missing
    settings = env.settings("sale_credit")
    if request.method == "POST":
        form = ProfileForm()
    else:
        form = ProfileForm(data={
            "credit_grade": customer.credit_grade or "", "credit_limit": customer.credit_limit,
            "credit_review_date": customer.credit_review_date,
            "credit_hold": bool(customer.credit_hold),
            "credit_hold_reason": customer.credit_hold_reason or ""})
    default = settings.get("default_grade")
    form.credit_grade.choices = [("", _("Default grade (%(grade)s)", grade=default) if default
                                  else _("No grade"))] + [(g, g) for g in sorted(settings["grades"])]
    errors: list[str] = []
    if form.validate_on_submit():
        try:
            with env.session.begin_nested():  # a refusal leaves nothing behind
                changed = _save_profile(env, customer, form)
        except (ValidationError, ConflictError, AccessDenied) as exc:  # e.g. an own customer
            errors = _form_errors(exc, form)
        else:
            flash(_("Credit profile saved.") if changed else _("Nothing to change."),
                  "success" if changed else "info")
            return redirect(url_for("web.record_page", record="sale.customer", ident=customer.id))
    grades = {code: g["limit"] for code, g in settings["grades"].items()}
    return render("sale_credit/profile_form.html", form=form, customer=customer, errors=errors,
                  grades=grades, currency=_currency(env))


# -- credit review queue ------------------------------------------------------------------------


@bp.get("/reviews")
@page(roles=(*READERS, "admin"))
def reviews(env):
    """Orders waiting in ``credit_review``, oldest first, with the check that sent them there."""
    env.check_access("sale.order", "read")
    Order, D = env["sale.order"], env["sale.credit.decision"]
    page_no = _page_no()
    criteria = [Order.state == "credit_review"]
    total = env.session.scalar(select(func.count()).select_from(Order).where(*criteria)) or 0
    orders = list(env.session.scalars(select(Order).where(*criteria).order_by(Order.id)
                                      .limit(PAGE_SIZE).offset((page_no - 1) * PAGE_SIZE)))
    checks: dict[int, Any] = {}
    if orders and env.can("sale.credit.decision", "read"):
        for d in env.session.scalars(select(D).where(
                D.order_id.in_([o.id for o in orders]), D.trigger == "approve",
                D.outcome == "review").order_by(D.id)):
            checks[d.order_id] = d  # the latest wins
    rows = []
    for order in orders:
        d = checks.get(order.id)
        total_after = None if d is None else d.exposure + d.order_amount
        rows.append({"order": order, "decision": d, "total": total_after,
                     "over_by": None if d is None or d.credit_limit is None
                     else total_after - d.credit_limit})
    return render("sale_credit/reviews.html", rows=rows, total=total, page=page_no,
                  pages=max(1, math.ceil(total / PAGE_SIZE)), currency=_currency(env))


# -- exposure and over-limit lists --------------------------------------------------------------

SORTABLE = ("code", "name", "grade", "limit", "receivable", "shipped_uninvoiced",
            "approved_unshipped", "exposure", "headroom", "oldest_due_date")
BOOL_CHOICES = {"": None, "true": True, "false": False}


def _exposure_rows(env, *, over_only: bool) -> dict[str, Any]:
    """One row per customer (record rules apply) with its parts, counted exposure and available
    credit; ``?q=&grade=&hold=&over_limit=&sort=&page=`` (anything else is a 400)."""
    from .api.credit import _exposure_query  # one SQL definition for the API and the pages

    env.check_access("sale.credit.exposure", "read")
    env.check_access("sale.customer", "read")
    settings = env.settings("sale_credit")
    stmt, c = _exposure_query(env)
    over = and_(c["limit"].is_not(None), c["exposure"] > c["limit"])
    criteria = [or_(over, c["hold"].is_(True))] if over_only else []
    active: dict[str, str] = {}
    for name, value in request.args.items():
        if name in ("page", "sort"):
            continue
        active[name] = value
        if name == "q":
            if value.strip():
                criteria.append(or_(c["code"].icontains(value.strip(), autoescape=True),
                                    c["name"].icontains(value.strip(), autoescape=True)))
        elif name == "grade":
            if value and value not in settings["grades"]:
                abort(400, _("not a value of %(name)s: %(value)s", name=name, value=value))
            if value:
                criteria.append(c["grade"] == value)
        elif name in ("hold", "over_limit"):
            if value not in BOOL_CHOICES:
                abort(400, _("not a value of %(name)s: %(value)s", name=name, value=value))
            flag = BOOL_CHOICES[value]
            if flag is not None:
                column = c["hold"].is_(flag) if name == "hold" else (over if flag else ~over)
                criteria.append(column)
        else:
            abort(400, _("not a filter: %(name)s", name=name))
    sort = request.args.get("sort") or ("-headroom" if over_only else "-exposure")
    order = []
    for part in sort.split(","):
        part = part.strip()
        name = part.lstrip("-+")
        if name not in SORTABLE:
            abort(400, _("cannot sort by %(name)s", name=name))
        order.append(c[name].desc() if part.startswith("-") else c[name].asc())
    if over_only and not request.args.get("sort"):
        order = [(c["exposure"] - c["limit"]).desc().nulls_last()]
    order.append(c["customer_id"].asc())
    page_no = _page_no()
    stmt = stmt.where(*criteria)
    total = env.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = []
    for row in env.session.execute(stmt.order_by(*order).limit(PAGE_SIZE)
                                   .offset((page_no - 1) * PAGE_SIZE)).mappings():
        item = dict(row)
        item["over_limit"] = item["limit"] is not None and item["exposure"] > item["limit"]
        rows.append(item)
    return {"rows": rows, "total": total, "page": page_no, "sort": sort, "active": active,
            "pages": max(1, math.ceil(total / PAGE_SIZE)), "grades": sorted(settings["grades"]),
            "components": settings["components"], "currency": _currency(env)}


def _links(endpoint: str, sort: str):
    def sort_link(field: str) -> str:
        new = f"-{field}" if sort == field else field
        args = {k: v for k, v in request.args.items() if k not in ("sort", "page")}
        return url_for(endpoint, sort=new, **args)

    def page_link(n: int) -> str:
        args = {k: v for k, v in request.args.items() if k != "page"}
        return url_for(endpoint, page=n, **args)

    return sort_link, page_link


@bp.get("/exposure")
@page(roles=(*READERS, "admin"))
def exposure(env):
    result = _exposure_rows(env, over_only=False)
    sort_link, page_link = _links("sale_credit_web.exposure", result["sort"])
    return render("sale_credit/exposure.html", title=_("Credit exposure"), over_only=False,
                  sort_link=sort_link, page_link=page_link, **result)


@bp.get("/over-limit")
@page(roles=(*READERS, "admin"))
def over_limit(env):
    result = _exposure_rows(env, over_only=True)
    sort_link, page_link = _links("sale_credit_web.over_limit", result["sort"])
    return render("sale_credit/exposure.html", title=_("Over limit or on hold"), over_only=True,
                  sort_link=sort_link, page_link=page_link, **result)


# -- dunning ----------------------------------------------------------------------------------


class DunningRunForm(FlaskForm):
    date = DateField("Run date", validators=[DataRequired()])


@bp.route("/dunning", methods=["GET", "POST"])
@page(roles=(*DUNNING_READERS, "admin"))
def dunning_runs(env):
    """The dunning runs, newest first, and (credit managers, finance) the form to run dunning
    for a date: the same as ``salesflow credit dunning --date D``."""
    env.check_access(dunning_svc.RUN, "read")
    can_run = env.can(dunning_svc.RUN, "create") and env.can(dunning_svc.DUNNING, "create")
    form = DunningRunForm() if request.method == "POST" else \
        DunningRunForm(data={"date": env.today()})
    errors: list[str] = []
    if request.method == "POST":
        if not can_run:
            abort(403)
        if form.validate_on_submit():
            try:
                with env.session.begin_nested():
                    run = dunning_svc.run_dunning(env, form.date.data)
            except (ValidationError, ConflictError) as exc:
                errors = _form_errors(exc, form)
            else:
                flash(_("Dunning run for %(date)s: %(letters)d letters, %(holds)d customers put "
                        "on hold.", date=run.date.isoformat(), letters=run.dunning_count,
                        holds=run.hold_count), "success")
                return redirect(url_for("sale_credit_web.dunning_run", run_id=run.id))
    Run = env[dunning_svc.RUN]
    page_no = _page_no()
    total = env.session.scalar(select(func.count()).select_from(Run)) or 0
    runs = list(env.session.scalars(select(Run).order_by(Run.date.desc(), Run.id.desc())
                                    .limit(PAGE_SIZE).offset((page_no - 1) * PAGE_SIZE)))
    return render("sale_credit/dunning_runs.html", runs=runs, form=form if can_run else None,
                  errors=errors, users=_user_names(env, [r.user_id for r in runs]),
                  total=total, page=page_no, pages=max(1, math.ceil(total / PAGE_SIZE)))


@bp.get("/dunning/<int:run_id>")
@page(roles=(*DUNNING_READERS, "admin"))
def dunning_run(env, run_id):
    """One run: its figures and letters (level, invoice, customer, days, amount, outbox status)."""
    run = env.get(dunning_svc.RUN, run_id)
    D = env[dunning_svc.DUNNING]
    letters = list(env.session.scalars(select(D).where(D.run_id == run.id).order_by(D.id)))
    status: dict[int, str] | None = None
    if env.can("sale.credit.outbox", "read"):
        Out = env["sale.credit.outbox"]
        status = {}
        ids = [d.id for d in letters]
        for start in range(0, len(ids), 500):
            for source_id, state in env.session.execute(select(Out.source_id, Out.state).where(
                    Out.source_record == dunning_svc.DUNNING,
                    Out.source_id.in_(ids[start:start + 500]))):
                status[source_id] = state
    return render("sale_credit/dunning_run.html", run=run, letters=letters, status=status,
                  user=_user_names(env, [run.user_id]).get(run.user_id),
                  can_read_invoices=env.can("sale.invoice", "read"), currency=_currency(env))


# -- declarations -------------------------------------------------------------------------------

DUNNING_COLUMNS = [
    Column("date", "Date", "date"), Column("level", "Level"),
    Column("invoice_number", "Invoice"), Column("customer.name", "Customer"),
    Column("days_overdue", "Days overdue", "decimal"),
    Column("amount_due", "Amount due", "money"),
    Column("amount_due_company", "Amount due in company currency", "money",
           currency_field="company_currency"),
    Column("put_on_hold", "Put on hold", "bool"),
]

VIEWS = Views(
    menus=[
        Menu("credit_reviews", "Credit review", "信用审核", "sale_credit_web.reviews",
             roles=READERS, record="sale.order", order=25),
        Menu("credit_exposure", "Credit exposure", "信用占用", "sale_credit_web.exposure",
             roles=READERS, record="sale.credit.exposure", order=26),
        Menu("credit_over_limit", "Over limit", "超限客户", "sale_credit_web.over_limit",
             roles=READERS, record="sale.credit.exposure", order=27),
        Menu("credit_dunning", "Dunning", "催款", "sale_credit_web.dunning_runs",
             roles=DUNNING_READERS, record="sale.credit.dunning_run", order=33),
        Menu("credit_dunnings", "Reminder letters", "催款函", "web.record_list",
             args={"name": "sale.credit.dunning"}, roles=DUNNING_READERS,
             record="sale.credit.dunning", order=34),
    ],
    lists=[
        ListView("sale.credit.dunning", title="Reminder letters", columns=DUNNING_COLUMNS,
                 search=["invoice_number", "subject"], filters=[Filter("level", "Level")],
                 sortable=["date", "level_index", "days_overdue", "amount_due"],
                 default_sort="-date"),
    ],
    panels=[
        # readers of credit data (security.toml: sale.credit.exposure); salespersons see
        # their own customers' only, as the page itself
        Panel("sale.customer", "sale_credit", "Credit", template="sale_credit/customer_panel.html",
              load=_customer_panel, records=("sale.credit.exposure",), order=10),
        Panel("sale.order", "sale_credit_decision", "Credit decision",
              template="sale_credit/decision_panel.html", load=_order_decisions,
              records=("sale.credit.decision",), order=10),
    ],
)
