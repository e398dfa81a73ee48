"""REST endpoints of the core credit part, under /api/v1/credit.

Lists and panels (record rules apply: a salesperson sees their own customers only):

    GET    /exposure                     exposure per customer with its parts (filters, sort)
    GET    /over-limit                   customers whose counted exposure is over their limit
    GET    /reviews                      orders waiting in credit_review, with the failed check
    GET    /customers/<id>               the customer credit panel
    GET    /decisions?order_id=&customer_id=&outcome=&trigger=
    GET    /proposals?state=proposed

Credit managers:

    PATCH  /customers/<id>               grade, limit, review date (with a note)
    POST   /customers/<id>/hold          {reason}: put on credit hold
    DELETE /customers/<id>/hold          {reason}: lift the hold
    POST   /orders/<id>/release          {comment}: release_credit (not the order's salesperson)
    POST   /orders/<id>/reject           {comment}: reject_credit
    POST   /orders/<id>/release-shipment {comment}: let a failing order ship (policy "review")
    POST   /proposals/<id>/accept        {comment}: the proposed grade becomes the customer's
    POST   /proposals/<id>/reject        {comment}
"""

from __future__ import annotations

from decimal import Decimal

from flask import request
from marshmallow import Schema, fields, validate
from sqlalchemy import and_, case, func, literal, or_, select

from core.api import MAX_PAGE_SIZE, Page, check_if_match
from core.errors import ValidationError

from ..config import COMPONENTS
from ..services import profile as profile_svc
from ..services import score as score_svc
from . import bp

TAG = "credit"


def Money(**kwargs):  # noqa: N802 - a field factory
    return fields.Decimal(as_string=True, places=2, **kwargs)


# -- schemas ---------------------------------------------------------------------------------


class ExposureRowSchema(Schema):
    customer_id = fields.Integer()
    code = fields.String()
    name = fields.String()
    grade = fields.String(allow_none=True)
    limit = Money(allow_none=True, metadata={"description": "effective limit (own or grade's)"})
    hold = fields.Boolean()
    receivable = Money()
    shipped_uninvoiced = Money()
    approved_unshipped = Money()
    exposure = Money(metadata={"description": "sum of the counted components"})
    headroom = Money(allow_none=True)
    over_limit = fields.Boolean()
    oldest_due_date = fields.Date(allow_none=True)


class DecisionSchema(Schema):
    id = fields.Integer()
    created_at = fields.DateTime()
    order_id = fields.Integer(allow_none=True)
    customer_id = fields.Integer()
    trigger = fields.String()
    outcome = fields.String()
    policy = fields.String(allow_none=True)
    grade = fields.String(allow_none=True)
    credit_limit = Money(allow_none=True)
    receivable = Money()
    shipped_uninvoiced = Money()
    approved_unshipped = Money()
    components = fields.List(fields.String())
    own_amount = Money()
    exposure = Money()
    order_amount = Money()
    hold = fields.Boolean()
    hold_reason = fields.String(allow_none=True)
    oldest_due_date = fields.Date(allow_none=True)
    days_overdue = fields.Integer(allow_none=True)
    overdue_days_allowed = fields.Integer(allow_none=True)
    as_of = fields.Date()
    reasons = fields.List(fields.String())
    state_after = fields.String(allow_none=True)
    order_revision = fields.Integer(allow_none=True)
    comment = fields.String(allow_none=True)
    user_id = fields.Integer(allow_none=True)


class ReviewSchema(Schema):
    id = fields.Integer()
    number = fields.String(allow_none=True)
    customer_id = fields.Integer()
    customer_code = fields.String()
    salesperson_id = fields.Integer(allow_none=True)
    amount_total = Money()
    currency = fields.String()
    date_order = fields.Date()
    decision = fields.Nested(DecisionSchema, allow_none=True,
                             metadata={"description": "the check that sent it to review"})


class OverdueSchema(Schema):
    count = fields.Integer()
    amount = Money()
    days = fields.Integer()
    allowed_days = fields.Integer()
    beyond_allowed_count = fields.Integer()
    beyond_allowed_amount = Money()


class ProposalSchema(Schema):
    id = fields.Integer()
    customer_id = fields.Integer()
    date = fields.Date()
    score = fields.Decimal(as_string=True)
    factors = fields.Dict()
    current_grade = fields.String(allow_none=True)
    proposed_grade = fields.String()
    state = fields.String()
    decided_by = fields.Integer(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)
    comment = fields.String(allow_none=True)


class ScoreSchema(Schema):
    customer_id = fields.Integer()
    date = fields.Date(metadata={"description": "the date the customer was scored as of"})
    score = fields.Decimal(as_string=True)
    factors = fields.Dict(allow_none=True)
    updated_at = fields.DateTime()


class PanelSchema(Schema):
    customer_id = fields.Integer()
    code = fields.String()
    name = fields.String()
    grade = fields.String(allow_none=True, metadata={"description": "effective grade"})
    own_grade = fields.String(allow_none=True)
    credit_limit = Money(allow_none=True, metadata={"description": "the customer's own limit"})
    limit = Money(allow_none=True, metadata={"description": "effective limit"})
    policy = fields.String()
    hold = fields.Boolean()
    hold_reason = fields.String(allow_none=True)
    review_date = fields.Date(allow_none=True)
    score = fields.Decimal(as_string=True, allow_none=True)
    score_date = fields.Date(allow_none=True)
    receivable = Money()
    shipped_uninvoiced = Money()
    approved_unshipped = Money()
    components = fields.List(fields.String())
    exposure = Money()
    headroom = Money(allow_none=True)
    over_limit = fields.Boolean()
    oldest_due_date = fields.Date(allow_none=True)
    as_of = fields.Date()
    overdue = fields.Nested(OverdueSchema)
    in_review = fields.List(fields.Dict())
    decisions = fields.List(fields.Nested(DecisionSchema))
    proposal = fields.Nested(ProposalSchema, allow_none=True)


class ProfileSchema(Schema):
    credit_grade = fields.String(allow_none=True, validate=validate.Length(max=16))
    credit_limit = fields.Decimal(allow_none=True, validate=validate.Range(min=0),
                                  metadata={"description": "null: the grade's default limit"})
    credit_review_date = fields.Date(allow_none=True)
    note = fields.String(load_default=None, allow_none=True)


class ReasonSchema(Schema):
    reason = fields.String(load_default=None, allow_none=True)


class CommentSchema(Schema):
    comment = fields.String(load_default=None, allow_none=True)


class DecisionIdSchema(Schema):
    decision_id = fields.Integer()
    order_id = fields.Integer()


# -- exposure lists ---------------------------------------------------------------------------


def _exposure_query(env):
    """(select of one row per customer, its computed columns) with the effective limit and
    the counted exposure computed in SQL from the grade table of the config."""
    settings = env.settings("sale_credit")
    Customer, Exposure = env["sale.customer"], env["sale.credit.exposure"]
    parts = {p: func.coalesce(getattr(Exposure, p), 0) for p in COMPONENTS}
    exposure = sum((parts[p] for p in settings["components"]), literal(0))
    grade = func.coalesce(Customer.credit_grade, literal(settings["default_grade"])) \
        if settings["default_grade"] else Customer.credit_grade
    grades = settings["grades"]
    grade_limit = case({code: literal(g["limit"]) for code, g in grades.items()}, value=grade,
                       else_=None) if grades else literal(None)
    limit = func.coalesce(Customer.credit_limit, grade_limit)
    columns = {
        "customer_id": Customer.id, "code": Customer.code, "name": Customer.name,
        "grade": grade, "limit": limit, "hold": Customer.credit_hold,
        **parts, "exposure": exposure, "headroom": limit - exposure,
        "oldest_due_date": Exposure.oldest_due_date,
    }
    stmt = (select(*(c.label(k) for k, c in columns.items()))
            .select_from(Customer).outerjoin(Exposure, Exposure.customer_id == Customer.id)
            .where(Customer.merged_into_id.is_(None)))
    return stmt, columns


#: exposure columns are NUMERIC(18, 2): a filter beyond them cannot be compared (PostgreSQL: a 500)
AMOUNT_LIMIT = Decimal("1e16")


def _amount(value: str) -> Decimal:
    amount = Decimal(value)
    if not amount.is_finite() or abs(amount) >= AMOUNT_LIMIT:
        raise ValueError(f"{value!r} is not an amount (finite, below {AMOUNT_LIMIT:,.0f} in absolute value)")
    return amount


def _bool(value: str) -> bool:
    text = value.strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise ValueError(f"{value!r} is not true or false")


def _exposure_page(env, *, over_limit_only: bool = False) -> Page:
    stmt, c = _exposure_query(env)
    over = and_(c["limit"].is_not(None), c["exposure"] > c["limit"])
    filters = {
        "grade": lambda v: c["grade"] == v,
        "hold": lambda v: c["hold"].is_(_bool(v)),
        "over_limit": lambda v: over if _bool(v) else ~over,
        "min_exposure": lambda v: c["exposure"] >= _amount(v),
        "q": lambda v: or_(c["code"].icontains(v, autoescape=True),
                           c["name"].icontains(v, autoescape=True)),
    }
    sortable = {k: c[k] for k in ("code", "name", "grade", "limit", "receivable",
                                  "shipped_uninvoiced", "approved_unshipped", "exposure",
                                  "headroom", "oldest_due_date")}
    args = request.args
    try:
        page = max(1, int(args.get("page", 1)))
        per_page = min(MAX_PAGE_SIZE, max(1, int(args.get("per_page", 50))))
    except ValueError:
        raise ValidationError({"page": ["page and per_page must be whole numbers"]}) from None
    criteria = [over] if over_limit_only else []
    for name, value in args.items():
        if name in ("page", "per_page", "sort"):
            continue
        make = filters.get(name)
        if make is None:
            raise ValidationError({name: [f"not a filter; allowed: {sorted(filters)}"]})
        try:
            criteria.append(make(value))
        except (ValueError, ArithmeticError) as exc:
            raise ValidationError({name: [str(exc) or "invalid value"]}) from exc
    order = []
    default = "-headroom" if over_limit_only else "-exposure"
    for part in (args.get("sort") or default).split(","):
        part = part.strip()
        name = part.lstrip("-+")
        column = sortable.get(name)
        if column is None:
            raise ValidationError({"sort": [f"cannot sort by {name!r}; allowed: {sorted(sortable)}"]})
        order.append(column.desc() if part.startswith("-") else column.asc())
    if over_limit_only and not args.get("sort"):
        order = [(c["exposure"] - c["limit"]).desc()]
    order.append(c["customer_id"].asc())
    stmt = stmt.where(*criteria)
    total = env.session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = env.session.execute(stmt.order_by(*order).limit(per_page)
                               .offset((page - 1) * per_page)).mappings().all()
    items = []
    for row in rows:
        item = dict(row)
        item["over_limit"] = item["limit"] is not None and item["exposure"] > item["limit"]
        items.append(item)
    return Page(items, total or 0, page, per_page)


EXPOSURE_QUERY = {"grade": "grade code", "hold": "true/false", "over_limit": "true/false",
                  "min_exposure": "decimal", "q": "code or name contains",
                  "sort": "code, name, grade, limit, receivable, shipped_uninvoiced, "
                          "approved_unshipped, exposure, headroom, oldest_due_date (- for desc)",
                  "page": "int", "per_page": "int"}


@bp.endpoint("/exposure", summary="Exposure per customer with its parts", tag=TAG,
             response=ExposureRowSchema, query=EXPOSURE_QUERY)
def exposure_list(env):
    return _exposure_page(env)


@bp.endpoint("/over-limit", summary="Customers whose counted exposure is over their limit",
             tag=TAG, response=ExposureRowSchema, query=EXPOSURE_QUERY)
def over_limit_list(env):
    return _exposure_page(env, over_limit_only=True)


# -- reviews, decisions, panel ----------------------------------------------------------------


@bp.endpoint("/reviews", summary="Orders waiting in credit review", tag=TAG,
             response=ReviewSchema, query={"customer_id": "int", "page": "int", "per_page": "int"})
def review_list(env):
    Order, Customer, D = env["sale.order"], env["sale.customer"], env["sale.credit.decision"]
    args = request.args
    try:
        page = max(1, int(args.get("page", 1)))
        per_page = min(MAX_PAGE_SIZE, max(1, int(args.get("per_page", 50))))
        customer_id = int(args["customer_id"]) if args.get("customer_id") else None
    except ValueError:
        raise ValidationError({"page": ["page, per_page and customer_id are whole numbers"]}) from None
    criteria = [Order.state == "credit_review"]
    if customer_id is not None:
        criteria.append(Order.customer_id == customer_id)
    total = env.session.scalar(select(func.count()).select_from(Order).where(*criteria))
    rows = env.session.execute(
        select(Order, Customer.code).join(Customer, Customer.id == Order.customer_id)
        .where(*criteria).order_by(Order.id).limit(per_page).offset((page - 1) * per_page)).all()
    items = []
    with env.sudo():
        for order, code in rows:
            decision = env.session.scalars(
                select(D).where(D.order_id == order.id, D.trigger == "approve",
                                D.outcome == "review").order_by(D.id.desc()).limit(1)).first()
            items.append({"id": order.id, "number": order.number, "customer_id": order.customer_id,
                          "customer_code": code, "salesperson_id": order.salesperson_id,
                          "amount_total": order.amount_total, "currency": order.currency,
                          "date_order": order.date_order, "decision": decision})
    return Page(items, total or 0, page, per_page)


@bp.endpoint("/decisions", summary="Credit decisions with what they saw", tag=TAG,
             response=DecisionSchema,
             query={"order_id": "int", "customer_id": "int", "outcome": "text", "trigger": "text",
                    "page": "int", "per_page": "int"})
def decision_list(env):
    from core.api import paginate

    D = env["sale.credit.decision"]
    return paginate(env, "sale.credit.decision", default_sort="-id",
                    sortable={"created_at": D.created_at, "outcome": D.outcome},
                    filterable={"order_id": lambda v: D.order_id == int(v),
                                "customer_id": lambda v: D.customer_id == int(v),
                                "outcome": lambda v: D.outcome == v,
                                "trigger": lambda v: D.trigger == v})


@bp.endpoint("/customers/<int:customer_id>", summary="The customer credit panel", tag=TAG,
             response=PanelSchema)
def customer_panel(env, customer_id):
    return profile_svc.panel(env, customer_id)


@bp.endpoint("/customers/<int:customer_id>/scores", response=ScoreSchema, tag=TAG,
             summary="A customer's credit score history, newest first (the newest is the "
                     "current score)",
             query={"sort": "date or -date (default: -date, newest first)",
                    "page": "int", "per_page": "int"})
def customer_scores(env, customer_id):
    from core.api import paginate

    customer = env.get("sale.customer", customer_id)  # 404 when missing or not the user's
    S = env["sale.credit.score"]
    return paginate(env, "sale.credit.score", sortable={"date": S.date}, filterable={},
                    default_sort="-date", base_criteria=(S.customer_id == customer.id,))


@bp.endpoint("/customers/<int:customer_id>", methods=["PATCH"], body=ProfileSchema,
             partial_body=True, response=PanelSchema, tag=TAG,
             summary="Change a customer's grade, limit or review date (credit manager)")
def customer_update(env, data, customer_id):
    customer = env.get("sale.customer", customer_id)
    check_if_match(customer)
    kwargs = {k: data[k] for k in ("credit_grade", "credit_limit", "credit_review_date") if k in data}
    profile_svc.update_profile(env, customer_id, note=data.get("note"), **kwargs)
    return profile_svc.panel(env, customer_id)


@bp.endpoint("/customers/<int:customer_id>/hold", methods=["POST"], body=ReasonSchema,
             response=PanelSchema, tag=TAG, summary="Put a customer on credit hold")
def hold_set(env, data, customer_id):
    profile_svc.set_hold(env, customer_id, data.get("reason"))
    return profile_svc.panel(env, customer_id)


@bp.endpoint("/customers/<int:customer_id>/hold", methods=["DELETE"], body=ReasonSchema,
             response=PanelSchema, tag=TAG, summary="Lift a customer's credit hold")
def hold_release(env, data, customer_id):
    profile_svc.release_hold(env, customer_id, data.get("reason"))
    return profile_svc.panel(env, customer_id)


# -- credit manager actions on orders ------------------------------------------------------------


def _fire(env, order_id: int, trigger: str, comment: str | None) -> dict:
    order = env.get("sale.order", order_id)
    check_if_match(order)
    order.fire(trigger, comment=comment)
    D = env["sale.credit.decision"]
    with env.sudo():
        decision = env.session.scalars(select(D).where(D.order_id == order.id, D.trigger == trigger)
                                       .order_by(D.id.desc()).limit(1)).one()
    return decision


@bp.endpoint("/orders/<int:order_id>/release", methods=["POST"], body=CommentSchema,
             response=DecisionSchema, tag=TAG,
             summary="Release an order from credit review (credit manager, not its salesperson)")
def order_release(env, data, order_id):
    return _fire(env, order_id, "release_credit", data.get("comment"))


@bp.endpoint("/orders/<int:order_id>/reject", methods=["POST"], body=CommentSchema,
             response=DecisionSchema, tag=TAG,
             summary="Reject an order in credit review (credit manager; a comment is required)")
def order_reject(env, data, order_id):
    return _fire(env, order_id, "reject_credit", data.get("comment"))


@bp.endpoint("/orders/<int:order_id>/release-shipment", methods=["POST"], body=CommentSchema,
             response=DecisionIdSchema, status=201, tag=TAG,
             summary="Let an approved order ship although its credit check fails (policy review)")
def order_release_shipment(env, data, order_id):
    decision_id = profile_svc.release_shipment(env, order_id, data.get("comment"))
    return {"decision_id": decision_id, "order_id": order_id}


# -- grade proposals ---------------------------------------------------------------------------


@bp.endpoint("/proposals", summary="Grade change proposals of `salesflow credit rescore`",
             tag=TAG, response=ProposalSchema,
             query={"state": "proposed, accepted, rejected, superseded", "customer_id": "int",
                    "page": "int", "per_page": "int"})
def proposal_list(env):
    from core.api import paginate

    P = env["sale.credit.grade_proposal"]
    return paginate(env, "sale.credit.grade_proposal", default_sort="-id",
                    sortable={"score": P.score, "date": P.date},
                    filterable={"state": lambda v: P.state == v,
                                "customer_id": lambda v: P.customer_id == int(v)})


@bp.endpoint("/proposals/<int:proposal_id>/accept", methods=["POST"], body=CommentSchema,
             response=ProposalSchema, tag=TAG, summary="Accept a grade proposal (credit manager)")
def proposal_accept(env, data, proposal_id):
    return score_svc.decide_proposal(env, proposal_id, True, data.get("comment"))


@bp.endpoint("/proposals/<int:proposal_id>/reject", methods=["POST"], body=CommentSchema,
             response=ProposalSchema, tag=TAG, summary="Reject a grade proposal (credit manager)")
def proposal_reject(env, data, proposal_id):
    return score_svc.decide_proposal(env, proposal_id, False, data.get("comment"))

