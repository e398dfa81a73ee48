"""REST endpoints: invoices and credit notes. Thin views over ``services.invoice``.

Record rules apply: a salesperson lists and reads only their own customers' invoices; any
other invoice is a 404, like a missing one. Creating, posting, cancelling and crediting are
finance's (403 otherwise). Actions on an invoice honour ``If-Match`` (412 when stale); a refused
transition is a 409 listing every reason. Amounts and quantities are decimal strings.
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from core.api import BATCH_MAX, check_if_match, json_object, load_object, paginate, records_of

from ..models.invoice import KINDS
from ..services import invoice as svc
from ..services import payment as payments
from . import bp
from .masterdata import DecimalField, as_date, as_int

TAG = "invoices"
STATES = ("draft", "posted", "paid", "cancelled")
PAYMENT_STATUSES = ("none", "partial", "paid")


class InvoiceLineSchema(Schema):
    id = fields.Integer()
    sale_line_id = fields.Integer(allow_none=True)
    origin_line_id = fields.Integer(allow_none=True,
                                    metadata={"description": "credit notes: the line reversed"})
    product_id = fields.Integer(allow_none=True)
    description = fields.String()
    quantity = DecimalField()
    unit_price = DecimalField()
    discount = DecimalField()
    tax_id = fields.Integer(allow_none=True)
    amount_untaxed = DecimalField()
    amount_tax = DecimalField()
    amount_total = DecimalField()


class InvoiceListSchema(Schema):
    """An invoice or credit note in lists (without lines)."""

    id = fields.Integer()
    number = fields.String(allow_none=True, metadata={"description": "given at posting"})
    kind = fields.String(metadata={"description": "invoice or credit_note"})
    state = fields.String()
    customer_id = fields.Integer()
    order_id = fields.Integer(allow_none=True)
    reversed_invoice_id = fields.Integer(allow_none=True)
    date = fields.Date(allow_none=True)
    due_date = fields.Date(allow_none=True)
    payment_term_id = fields.Integer(allow_none=True)
    currency = fields.String()
    amount_untaxed = DecimalField()
    amount_tax = DecimalField()
    amount_total = DecimalField()
    amount_residual = DecimalField(metadata={"description": "still open (credit notes: unused)"})
    currency_rate = DecimalField(metadata={
        "description": "company-currency units per unit of currency, fixed at posting (read-only)"})
    amount_total_company = DecimalField(metadata={
        "description": "amount_total in the company currency at currency_rate (read-only)"})
    payment_status = fields.String()
    journal_entry_id = fields.Integer(allow_none=True)
    reason = fields.String(allow_none=True)
    note = fields.String(allow_none=True)
    version = fields.Integer(metadata={"description": "the ETag; send it as If-Match"})


class InvoiceSchema(InvoiceListSchema):
    lines = fields.List(fields.Nested(InvoiceLineSchema))


class InvoiceCreateSchema(Schema):
    order_id = fields.Integer(required=True)
    date = fields.Date(load_default=None, metadata={"description": "default: the posting date"})
    note = fields.String(load_default=None, allow_none=True)


class PostSchema(Schema):
    date = fields.Date(load_default=None, metadata={"description": "invoice date (default today)"})


class CancelSchema(Schema):
    comment = fields.String(load_default=None, allow_none=True)


class CreditLineSchema(Schema):
    invoice_line_id = fields.Integer(required=True)
    quantity = DecimalField(load_default=None, allow_none=True,
                            metadata={"description": "default: all that is not credited yet"})


class CreditNoteCreateSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1))
    date = fields.Date(load_default=None)
    lines = fields.List(fields.Nested(CreditLineSchema), load_default=None,
                        metadata={"description": "default: everything not credited yet"})


class ApplyCreditSchema(Schema):
    amount = DecimalField(load_default=None, allow_none=True,
                          metadata={"description": "default: what is open, as far as credit goes"})
    date = fields.Date(load_default=None)


def _one_of(name: str, allowed: tuple[str, ...]):
    def check(value: str) -> str:
        if value not in allowed:
            raise ValueError(f"one of {', '.join(allowed)}")
        return value

    return check


def _load(schema: type[Schema]) -> dict:
    """Validate the optional body of an action (posted without one: ``{}``): 422 per field."""
    return load_object(schema, json_object())


@bp.endpoint("/invoices", summary="List invoices and credit notes", tag=TAG,
             response=InvoiceListSchema,
             query={"state": "draft/posted/paid/cancelled", "kind": "invoice/credit_note",
                    "customer_id": "customer", "order_id": "order",
                    "payment_status": "none/partial/paid", "number": "number contains",
                    "date_from": "invoice date on or after (YYYY-MM-DD)",
                    "date_to": "invoice date on or before", "due_before": "due before (overdue)",
                    "sort": "date, due_date, number, amount_total, amount_residual (- descending)"})
def invoice_list(env):
    Invoice = env["sale.invoice"]
    return paginate(
        env, "sale.invoice",
        sortable={"date": Invoice.date, "due_date": Invoice.due_date, "number": Invoice.number,
                  "amount_total": Invoice.amount_total, "amount_residual": Invoice.amount_residual},
        filterable={
            "state": lambda v: Invoice.state == _one_of("state", STATES)(v),
            "kind": lambda v: Invoice.kind == _one_of("kind", KINDS)(v),
            "customer_id": lambda v: Invoice.customer_id == as_int(v),
            "order_id": lambda v: Invoice.order_id == as_int(v),
            "payment_status": lambda v: Invoice.payment_status == _one_of(
                "payment_status", PAYMENT_STATUSES)(v),
            "number": lambda v: Invoice.number.icontains(v, autoescape=True),
            "date_from": lambda v: Invoice.date >= as_date("date_from", v),
            "date_to": lambda v: Invoice.date <= as_date("date_to", v),
            "due_before": lambda v: Invoice.due_date < as_date("due_before", v),
        },
        default_sort="-date",
    )


@bp.endpoint("/invoices", methods=["POST"], body=InvoiceCreateSchema, response=InvoiceSchema,
             status=201, tag=TAG,
             summary="Create a draft invoice of what the order may be invoiced now (409 if nothing)")
def invoice_create(env, data):
    order = env.get("sale.order", data["order_id"])
    return svc.create_invoice(env, order, date=data["date"], note=data["note"])


class InvoiceBatchInSchema(Schema):
    order_ids = fields.List(fields.Integer(), required=True,
                            validate=validate.Length(min=1, max=BATCH_MAX))
    date = fields.Date(load_default=None, metadata={"description": "default: the posting date"})
    post = fields.Boolean(load_default=True, metadata={"description": "post them too"})


class InvoiceBatchSchema(Schema):
    invoices = fields.List(fields.Nested(InvoiceListSchema))


@bp.endpoint("/invoices/batch", methods=["POST"], body=InvoiceBatchInSchema,
             response=InvoiceBatchSchema, status=201, idempotent=True, tag=TAG,
             summary="Invoice many orders at once (and post the invoices), all or none: 409 "
                     "lists every order refused")
def invoice_create_many(env, data):
    found = records_of(env, "sale.order", data["order_ids"])
    return {"invoices": svc.invoice_orders(env, found, date=data["date"], post=data["post"])}


@bp.endpoint("/invoices/<int:invoice_id>", summary="Get an invoice with its lines", tag=TAG,
             response=InvoiceSchema)
def invoice_get(env, invoice_id):
    return env.get("sale.invoice", invoice_id)


@bp.endpoint("/invoices/<int:invoice_id>/post", methods=["POST"], response=InvoiceSchema, tag=TAG,
             summary="Post a draft invoice: number, due date, journal entry (If-Match; 409 reasons)")
def invoice_post(env, invoice_id):
    data = _load(PostSchema)
    invoice = env.get("sale.invoice", invoice_id)
    check_if_match(invoice)
    return svc.post_invoice(env, invoice, date=data["date"])


@bp.endpoint("/invoices/<int:invoice_id>/cancel", methods=["POST"], response=InvoiceSchema, tag=TAG,
             summary="Cancel a draft invoice (a posted one is corrected by a credit note)")
def invoice_cancel(env, invoice_id):
    data = _load(CancelSchema)
    invoice = env.get("sale.invoice", invoice_id)
    check_if_match(invoice)
    return svc.cancel_invoice(env, invoice, comment=data["comment"])


@bp.endpoint("/invoices/<int:invoice_id>/credit-notes", methods=["POST"],
             body=CreditNoteCreateSchema, response=InvoiceSchema, status=201, tag=TAG,
             summary="Issue a posted credit note for all or part of a posted invoice")
def invoice_credit_note(env, data, invoice_id):
    invoice = env.get("sale.invoice", invoice_id)
    check_if_match(invoice)
    lines = data["lines"]
    if lines is not None:
        lines = [{"invoice_line_id": ln["invoice_line_id"], "quantity": ln.get("quantity")}
                 for ln in lines]
    return svc.create_credit_note(env, invoice, reason=data["reason"], lines=lines,
                                  date=data["date"])


@bp.endpoint("/invoices/<int:invoice_id>/apply-credit", methods=["POST"], body=ApplyCreditSchema,
             response=InvoiceSchema, tag=TAG,
             summary="Settle an invoice with the customer's credit (overpayments, credit notes)")
def invoice_apply_credit(env, data, invoice_id):
    invoice = env.get("sale.invoice", invoice_id)
    check_if_match(invoice)
    payments.apply_customer_credit(env, invoice.customer_id, invoice.id, amount=data["amount"],
                                   date=data["date"])
    return invoice
