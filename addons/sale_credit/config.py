"""Settings of sale_credit: ``[addon.sale_credit]`` in a client config (see docs/sale_credit.md).

Unknown keys are errors, in nested tables too (marshmallow's default ``unknown = RAISE``).
Two blocks: core credit (profile, exposure, check, score) and collections (dunning, outbox,
early-payment discounts, DSO); each developer keeps to their block.
"""

from decimal import Decimal

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from core.config import DecimalString

from .config_collections import (  # collections block
    DunningConfig,
    OutboxConfig,
    SmtpConfig,
    default_dunning,
    default_outbox,
    default_smtp,
)

POLICIES = ("review", "refuse")
COMPONENTS = ("receivable", "shipped_uninvoiced", "approved_unshipped")


# -- core credit ---------------------------------------------------------------------------


class GradeSchema(Schema):
    """``[addon.sale_credit.grades.<GRADE>]``: a grade's default limit and policy."""

    class Meta:
        unknown = RAISE

    #: default credit limit (company currency) of customers of this grade without their own
    limit = DecimalString(required=True, validate=validate.Range(min=0))
    #: what a failed check does for this grade ("review" or "refuse"); default: the global policy
    policy = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(POLICIES))
    #: lowest credit score (0-100) for which ``credit rescore`` proposes this grade
    min_score = fields.Integer(load_default=0, validate=validate.Range(min=0, max=100))


class ScoreWeightsSchema(Schema):
    """``[addon.sale_credit.score_weights]``: weights of the score's four factors (they need
    not sum to 1: the score is normalised by their sum)."""

    class Meta:
        unknown = RAISE

    days_late = DecimalString(load_default=Decimal("0.35"), validate=validate.Range(min=0))
    overdue = DecimalString(load_default=Decimal("0.25"), validate=validate.Range(min=0))
    on_time = DecimalString(load_default=Decimal("0.25"), validate=validate.Range(min=0))
    relationship = DecimalString(load_default=Decimal("0.15"), validate=validate.Range(min=0))

    @validates_schema
    def _some_weight(self, data, **kwargs):
        if sum(data.values(), Decimal(0)) <= 0:
            raise ValidationError("at least one weight must be positive")


def _default_weights() -> dict[str, Decimal]:
    return ScoreWeightsSchema().load({})


class SaleCreditConfig(Schema):
    class Meta:
        unknown = RAISE

    # -- core credit (credit profile, exposure, check, score) --------------------------------
    #: what a failed credit check does: "review" (order waits in credit_review for a credit
    #: manager) or "refuse" (the transition is refused with every reason); a grade may override
    policy = fields.String(load_default="review", validate=validate.OneOf(POLICIES))
    #: exposure parts that count against the limit
    components = fields.List(fields.String(validate=validate.OneOf(COMPONENTS)),
                             load_default=lambda: list(COMPONENTS),
                             validate=validate.Length(min=1))
    #: a customer with a posted invoice overdue by more than this many days fails the check
    #: (-1: overdue invoices never fail it)
    overdue_days = fields.Integer(load_default=30, validate=validate.Range(min=-1))
    #: run the check again when an order is shipped
    check_on_ship = fields.Boolean(load_default=True)
    #: grade of customers without one (must be in ``grades``); none: no grade, no default limit
    default_grade = fields.String(load_default=None, allow_none=True)
    #: grade table: code -> {limit, policy, min_score}
    grades = fields.Dict(keys=fields.String(validate=validate.Regexp(r"^[A-Za-z0-9_]{1,16}$")),
                         values=fields.Nested(GradeSchema), load_default=dict)
    #: weights of the credit score (docs/sale_credit.md, "Credit score")
    score_weights = fields.Nested(ScoreWeightsSchema, load_default=_default_weights)
    #: average days late at which the days-late factor reaches 0
    score_days_late_cap = fields.Integer(load_default=60, validate=validate.Range(min=1))
    #: relationship age (days since the first posted invoice) at which its factor reaches 1
    score_relationship_days = fields.Integer(load_default=1825, validate=validate.Range(min=1))
    #: history window of the score, in days before the scoring date
    score_window_days = fields.Integer(load_default=730, validate=validate.Range(min=30))

    @validates_schema
    def _credit_consistent(self, data, **kwargs):
        grade = data.get("default_grade")
        if grade is not None and grade not in data.get("grades", {}):
            raise ValidationError(f"default_grade {grade!r} is not in grades", "default_grade")
        components = data.get("components", [])
        if len(set(components)) != len(components):
            raise ValidationError("components are listed twice", "components")

    # -- collections (dunning, outbox, early-payment discounts, DSO) -------------------------
    # schemas and defaults in config_collections.py (docs/sale_credit.md, "Collections")
    #: [addon.sale_credit.dunning]: reminder levels (code, days from due, template, auto_hold)
    dunning = fields.Nested(DunningConfig, load_default=default_dunning)
    #: [addon.sale_credit.smtp]: the server the outbox worker sends through
    smtp = fields.Nested(SmtpConfig, load_default=default_smtp)
    #: [addon.sale_credit.outbox]: retries, backoff, leases, batch size of the worker
    outbox = fields.Nested(OutboxConfig, load_default=default_outbox)
