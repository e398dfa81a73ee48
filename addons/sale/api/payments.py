"""REST endpoints: payments received. Thin views over ``services.payment``.

``POST /payments`` takes an ``Idempotency-Key`` header: a retry with the same key and body gets
the first response again (and no second payment); the same key with another body is a 422.
Record rules apply: a salesperson sees only their own customers' payments. Registering is
finance's (403 otherwise). Amounts are decimal strings (floats are refused).
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from core.api import BATCH_MAX, paginate
from core.errors import ValidationError

from ..services import payment as svc
from . import bp
from .masterdata import DecimalField, as_date, as_int

TAG = "payments"


class AllocationSchema(Schema):
    invoice_id = fields.Integer(required=True)
    amount = DecimalField(required=True)


class AllocationOutSchema(Schema):
    id = fields.Integer()
    invoice_id = fields.Integer()
    payment_id = fields.Integer(allow_none=True)
    credit_note_id = fields.Integer(allow_none=True)
    amount = DecimalField()
    discount = DecimalField(metadata={"description": "settled on top of amount without money"})
    amount_company = DecimalField(metadata={
        "description": "the receivable cleared on the invoice, company currency (read-only)"})
    source_amount_company = DecimalField(metadata={
        "description": "what it used of the payment or credit note, company currency (read-only)"})
    date = fields.Date()


class PaymentListSchema(Schema):
    id = fields.Integer()
    number = fields.String()
    state = fields.String()
    customer_id = fields.Integer()
    method = fields.String()
    date = fields.Date()
    amount = DecimalField()
    currency = fields.String()
    currency_rate = DecimalField(metadata={
        "description": "company-currency units per unit of currency on the date (read-only)"})
    amount_company = DecimalField(metadata={
        "description": "amount in the company currency at currency_rate (read-only)"})
    reference = fields.String(allow_none=True)
    note = fields.String(allow_none=True)
    amount_unallocated = DecimalField(metadata={"description": "customer credit left"})
    version = fields.Integer()


class PaymentSchema(PaymentListSchema):
    allocations = fields.List(fields.Nested(AllocationOutSchema))


class PaymentCreateSchema(Schema):
    customer_id = fields.Integer(required=True)
    amount = DecimalField(required=True)
    method = fields.String(required=True, validate=validate.OneOf(svc.METHODS))
    date = fields.Date(load_default=None, metadata={"description": "default today"})
    reference = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=64),
                              metadata={"description": "cheque number, bank reference..."})
    note = fields.String(load_default=None, allow_none=True)
    allocations = fields.List(
        fields.Nested(AllocationSchema), load_default=None, allow_none=True,
        metadata={"description": "[{invoice_id, amount}]; left out: oldest due invoices first"})


class PaymentBatchInSchema(Schema):
    payments = fields.List(fields.Nested(PaymentCreateSchema), required=True,
                           validate=validate.Length(min=1, max=BATCH_MAX))


class PaymentBatchSchema(Schema):
    payments = fields.List(fields.Nested(PaymentListSchema))


@bp.endpoint("/payments", summary="List payments", tag=TAG, response=PaymentListSchema,
             query={"customer_id": "customer", "method": "cash/cheque/bank_transfer/electronic",
                    "date_from": "on or after (YYYY-MM-DD)", "date_to": "on or before",
                    "with_credit": "true: only payments with unallocated credit",
                    "sort": "date, number, amount (prefix - for descending)"})
def payment_list(env):
    Payment = env["sale.payment"]

    def method(value: str):
        if value not in svc.METHODS:
            raise ValueError(f"one of {', '.join(svc.METHODS)}")
        return Payment.method == value

    def with_credit(value: str):
        from .masterdata import as_bool

        return Payment.amount_unallocated > 0 if as_bool(value) else Payment.amount_unallocated == 0

    return paginate(
        env, "sale.payment",
        sortable={"date": Payment.date, "number": Payment.number, "amount": Payment.amount},
        filterable={
            "customer_id": lambda v: Payment.customer_id == as_int(v),
            "method": method,
            "date_from": lambda v: Payment.date >= as_date("date_from", v),
            "date_to": lambda v: Payment.date <= as_date("date_to", v),
            "with_credit": with_credit,
        },
        default_sort="-date",
    )


@bp.endpoint("/payments/batch", methods=["POST"], body=PaymentBatchInSchema,
             response=PaymentBatchSchema, status=201, idempotent=True, tag=TAG,
             summary="Register many allocated payments at once, all or none (a bank statement); "
                     "422 keys start with payments.<position>")
def payment_create_many(env, data):
    specs = []
    for spec in data["payments"]:
        spec = {k: v for k, v in spec.items() if v is not None}
        if spec.get("allocations") is not None:
            spec["allocations"] = [dict(a) for a in spec["allocations"]]
        specs.append(spec)
    try:
        return {"payments": svc.register_payments(env, specs)}
    except ValidationError as exc:
        raise ValidationError({f"payments.{key}": messages for key, messages in exc.errors.items()}) \
            from None


@bp.endpoint("/payments", methods=["POST"], body=PaymentCreateSchema, response=PaymentSchema,
             status=201, idempotent=True, tag=TAG,
             summary="Register a payment and allocate it (Idempotency-Key recommended)")
def payment_create(env, data):
    allocations = data["allocations"]
    if allocations is not None:
        allocations = [dict(a) for a in allocations]
    return svc.register_payment(
        env, customer_id=data["customer_id"], amount=data["amount"], method=data["method"],
        date=data["date"], reference=data["reference"], note=data["note"], allocations=allocations)


@bp.endpoint("/payments/<int:payment_id>", summary="Get a payment with its allocations", tag=TAG,
             response=PaymentSchema)
def payment_get(env, payment_id):
    return env.get("sale.payment", payment_id)
