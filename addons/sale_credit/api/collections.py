"""REST endpoints of collections under /api/v1/credit: dunning runs and letters, the outbox,
collection performance (DSO) and aging by salesperson, early-payment discounts on payment
terms. Thin views over ``services.dunning``, ``services.outbox``, ``services.collections`` and
``services.discount``.

Dates are ISO (``YYYY-MM-DD``), amounts decimal strings. Lists are paginated and filtered by
allow-listed parameters only (``core.api.paginate``). Who may do what is the records' access
(security.toml): runs are started by credit managers and finance (403 otherwise).
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP

from flask import request
from marshmallow import Schema, fields, validate

from core.api import check_if_match, iso_date, paginate, whole_number
from core.config import DecimalString
from core.errors import ValidationError

from ..services import collections as coll
from ..services import discount as disc
from ..services import dunning as dun
from ..services import outbox as obx
from . import bp

TAG = "credit collections"


class Amount(DecimalString):
    """A decimal dumped as a string with 2 decimals."""

    def __init__(self, **kwargs):
        kwargs.setdefault("as_string", True)
        kwargs.setdefault("places", 2)
        kwargs.setdefault("rounding", ROUND_HALF_UP)
        super().__init__(**kwargs)


def _date(name: str, value: str | None, default=None) -> dt.date | None:
    if not value:
        if default is not None:
            return default
        raise ValidationError({name: ["is required (YYYY-MM-DD)"]})
    try:
        return iso_date(value)
    except ValueError as exc:
        raise ValidationError({name: [str(exc)]}) from None


def _args(allowed: set[str]):
    unknown = sorted(set(request.args) - allowed)
    if unknown:
        raise ValidationError({k: [f"not a parameter; allowed: {', '.join(sorted(allowed))}"]
                               for k in unknown})
    return request.args


# -- dunning ---------------------------------------------------------------------------------


class DunningSchema(Schema):
    id = fields.Integer()
    run_id = fields.Integer()
    invoice_id = fields.Integer()
    invoice_number = fields.String()
    customer_id = fields.Integer()
    level = fields.String()
    level_index = fields.Integer()
    date = fields.Date()
    days_overdue = fields.Integer()
    amount_due = Amount(metadata={"description": "open on the invoice, in its currency"})
    currency = fields.String()
    amount_due_company = Amount(metadata={
        "description": "the same in the company currency, at the invoice's booked rate"})
    lang = fields.String()
    subject = fields.String()
    body = fields.String()
    put_on_hold = fields.Boolean()
    created_at = fields.DateTime()


class DunningRunSchema(Schema):
    id = fields.Integer()
    date = fields.Date()
    user_id = fields.Integer(allow_none=True)
    invoice_count = fields.Integer()
    dunning_count = fields.Integer()
    no_recipient_count = fields.Integer()
    hold_count = fields.Integer()
    created_at = fields.DateTime()


class DunningRunDetailSchema(DunningRunSchema):
    dunnings = fields.List(fields.Nested(DunningSchema))


class DunningRunBody(Schema):
    date = fields.Date(load_default=None, metadata={"description": "default today"})


@bp.endpoint("/dunning-runs", methods=["POST"], body=DunningRunBody,
             response=DunningRunDetailSchema, status=201, idempotent=True,
             summary="Run dunning for a date: write the letters due, queue their e-mails", tag=TAG)
def create_dunning_run(env, data):
    return dun.run_dunning(env, data.get("date"))


@bp.endpoint("/dunning-runs", response=DunningRunSchema, summary="List dunning runs", tag=TAG,
             query={"date_from": "YYYY-MM-DD", "date_to": "YYYY-MM-DD", "sort": "date, id"})
def list_dunning_runs(env):
    Run = env[dun.RUN]
    return paginate(env, dun.RUN, sortable={"date": Run.date},
                    filterable={"date_from": lambda v: Run.date >= _date("date_from", v),
                                "date_to": lambda v: Run.date <= _date("date_to", v)})


@bp.endpoint("/dunning-runs/<int:run_id>", response=DunningRunDetailSchema,
             summary="A dunning run with its letters", tag=TAG)
def get_dunning_run(env, run_id):
    return env.get(dun.RUN, run_id)


@bp.endpoint("/dunnings", response=DunningSchema, summary="List dunning letters", tag=TAG,
             query={"invoice_id": "one invoice", "customer_id": "one customer",
                    "run_id": "one run", "level": "a level code", "sort": "date, level_index"})
def list_dunnings(env):
    D = env[dun.DUNNING]
    return paginate(env, dun.DUNNING, sortable={"date": D.date, "level_index": D.level_index},
                    filterable={"invoice_id": lambda v: D.invoice_id == whole_number(v),
                                "customer_id": lambda v: D.customer_id == whole_number(v),
                                "run_id": lambda v: D.run_id == whole_number(v),
                                "level": lambda v: D.level == v})


@bp.endpoint("/dunnings/<int:dunning_id>", response=DunningSchema, summary="A dunning letter",
             tag=TAG)
def get_dunning(env, dunning_id):
    return env.get(dun.DUNNING, dunning_id)


# -- outbox ----------------------------------------------------------------------------------


class OutboxSchema(Schema):
    id = fields.Integer()
    email_to = fields.String()
    subject = fields.String()
    body = fields.String()
    state = fields.String()
    attempts = fields.Integer()
    next_attempt_at = fields.DateTime()
    last_error = fields.String(allow_none=True)
    sent_at = fields.DateTime(allow_none=True)
    source_record = fields.String(allow_none=True)
    source_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()
    version = fields.Integer()


@bp.endpoint("/outbox", response=OutboxSchema, summary="List outbox messages", tag=TAG,
             query={"state": "pending, sent, failed or no_recipient",
                    "source_record": "e.g. sale.credit.dunning", "source_id": "its id",
                    "sort": "created_at, next_attempt_at, state"})
def list_outbox(env):
    Out = env[obx.RECORD]

    def state(value: str):
        from ..models.outbox import STATES

        if value not in STATES:
            raise ValueError(f"one of {', '.join(STATES)}")
        return Out.state == value

    return paginate(env, obx.RECORD,
                    sortable={"created_at": Out.created_at, "next_attempt_at": Out.next_attempt_at,
                              "state": Out.state},
                    filterable={"state": state, "source_record": lambda v: Out.source_record == v,
                                "source_id": lambda v: Out.source_id == whole_number(v)})


@bp.endpoint("/outbox/<int:outbox_id>", response=OutboxSchema, summary="An outbox message",
             tag=TAG)
def get_outbox(env, outbox_id):
    return env.get(obx.RECORD, outbox_id)


@bp.endpoint("/outbox/<int:outbox_id>/requeue", methods=["POST"], response=OutboxSchema,
             summary="Send a failed message again", tag=TAG)
def requeue_outbox(env, outbox_id):
    check_if_match(env.get(obx.RECORD, outbox_id))
    return obx.requeue(env, outbox_id)


# -- collection performance and aging ---------------------------------------------------------

_FIGURES = {"collected": Amount(), "credit_sales": Amount(), "receivables": Amount(),
            "overdue": Amount(),
            "dso": DecimalString(as_string=True, allow_none=True,
                                 metadata={"description": "days sales outstanding"})}
PerformanceRowSchema = Schema.from_dict({
    "customer_id": fields.Integer(), "customer_code": fields.String(),
    "customer_name": fields.String(), "salesperson_id": fields.Integer(allow_none=True),
    "salesperson_name": fields.String(allow_none=True), **_FIGURES,
}, name="PerformanceRowSchema")
PerformanceTotalsSchema = Schema.from_dict(dict(_FIGURES), name="PerformanceTotalsSchema")


class CollectionPerformanceSchema(Schema):
    date_from = fields.Date()
    date_to = fields.Date()
    days = fields.Integer()
    group_by = fields.String()
    rows = fields.List(fields.Nested(PerformanceRowSchema))
    totals = fields.Nested(PerformanceTotalsSchema)


@bp.endpoint("/collections/performance", response=CollectionPerformanceSchema, tag=TAG,
             summary="Collected, credit sales, receivables, overdue and DSO for a period",
             query={"date_from": "YYYY-MM-DD (required)", "date_to": "YYYY-MM-DD (required)",
                    "group_by": "salesperson (default) or customer"})
def collection_performance(env):
    args = _args({"date_from", "date_to", "group_by"})
    return coll.performance(env, _date("date_from", args.get("date_from")),
                            _date("date_to", args.get("date_to")),
                            args.get("group_by") or "salesperson")


_BUCKETS = {name: Amount() for name in ("not_due", "1_30", "31_60", "61_90", "over_90", "total",
                                        "credit", "balance")}
AgingRowSchema = Schema.from_dict({"salesperson_id": fields.Integer(allow_none=True),
                                   "salesperson_name": fields.String(allow_none=True),
                                   **_BUCKETS}, name="CreditAgingRowSchema")


class CreditAgingSchema(Schema):
    as_of = fields.Date()
    rows = fields.List(fields.Nested(AgingRowSchema))


@bp.endpoint("/collections/aging", response=CreditAgingSchema, tag=TAG,
             summary="Aged receivables by salesperson", query={"as_of": "YYYY-MM-DD (default today)"})
def aging_by_salesperson(env):
    args = _args({"as_of"})
    as_of = _date("as_of", args.get("as_of"), env.today())
    return {"as_of": as_of, "rows": coll.aging_by_salesperson(env, as_of)}


# -- early-payment discounts ------------------------------------------------------------------


class TermDiscountSchema(Schema):
    id = fields.Integer(dump_only=True)
    code = fields.String(dump_only=True)
    discount_percent = DecimalString(as_string=True, required=True, places=6,
                                     rounding=ROUND_HALF_UP,
                                     validate=validate.Range(min=0, max=100, max_inclusive=False),
                                     metadata={"description": "2 for 2 %"})
    discount_days = fields.Integer(required=True, validate=validate.Range(min=0, max=3650))
    version = fields.Integer(dump_only=True)


@bp.endpoint("/payment-terms/<int:term_id>/early-discount", response=TermDiscountSchema, tag=TAG,
             summary="A payment term's early-payment discount")
def get_term_discount(env, term_id):
    return env.get("sale.payment_term", term_id)


@bp.endpoint("/payment-terms/<int:term_id>/early-discount", methods=["PUT"],
             body=TermDiscountSchema, response=TermDiscountSchema, tag=TAG,
             summary="Set a payment term's early-payment discount (e.g. 2 % within 10 days)")
def set_term_discount(env, data, term_id):
    term = env.get("sale.payment_term", term_id)
    check_if_match(term)
    return env.write(term, discount_percent=data["discount_percent"],
                     discount_days=data["discount_days"])


class DiscountQuoteSchema(Schema):
    invoice_id = fields.Integer()
    date = fields.Date()
    deadline = fields.Date(allow_none=True)
    discount_percent = DecimalString(as_string=True, places=6, allow_none=True, metadata={
        "description": "the invoice's own terms, stored when it was posted (null: none)"})
    discount_days = fields.Integer(allow_none=True)
    open = Amount()
    discount_untaxed = Amount()
    discount_tax = Amount()
    discount = Amount()
    to_pay = Amount(metadata={"description": "what settles the invoice on that date"})


@bp.endpoint("/invoices/<int:invoice_id>/early-discount", response=DiscountQuoteSchema, tag=TAG,
             summary="The early-payment discount a settling payment on a date earns",
             query={"date": "YYYY-MM-DD (default today)"})
def quote_discount(env, invoice_id):
    args = _args({"date"})
    date = _date("date", args.get("date"), env.today())
    invoice = env.get("sale.invoice", invoice_id)
    open_amount = invoice.amount_residual
    untaxed, tax = disc.early_payment_discount(env, invoice, date, open_amount)
    percent, days = disc.discount_terms(env, invoice) or (None, None)
    return {"invoice_id": invoice.id, "date": date, "deadline": disc.discount_deadline(env, invoice),
            "discount_percent": percent, "discount_days": days, "open": open_amount, "discount_untaxed": untaxed, "discount_tax": tax,
            "discount": untaxed + tax, "to_pay": open_amount - untaxed - tax}
