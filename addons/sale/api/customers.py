"""REST endpoints: customers (with contacts and addresses), duplicate check, import, merge and
transaction history. Thin views over ``services.partner``.

Record rules apply: a salesperson lists and reads only the customers assigned to them; any
other customer is a 404, exactly like a missing one. A customer that looks like an existing one
(same tax id, or same normalised name and contact phone) is a 409 ``duplicate`` naming the
existing customer by code and name, unless the request says ``"force": true``.
"""

from __future__ import annotations

from flask import request
from marshmallow import Schema, fields, validate

from core.api import check_if_match, paginate
from core.errors import NotFound, ValidationError

from ..models.partner import ADDRESS_KINDS, TIERS
from ..services import partner as svc
from . import bp
from .masterdata import DecimalField, as_bool, as_int, contains


def _text(max_len: int, required: bool = False) -> fields.String:
    if required:
        return fields.String(required=True, validate=validate.Length(min=1, max=max_len))
    return fields.String(allow_none=True, validate=validate.Length(max=max_len))


class ContactSchema(Schema):
    id = fields.Integer(metadata={"description": "to change an existing contact (PATCH)"})
    name = _text(128, required=True)
    phone = _text(32)
    email = fields.Email(allow_none=True, validate=validate.Length(max=254))


class AddressSchema(Schema):
    id = fields.Integer(metadata={"description": "to change an existing address (PATCH)"})
    kind = fields.String(load_default="billing", validate=validate.OneOf(ADDRESS_KINDS))
    street = _text(200, required=True)
    city = _text(64)
    region = _text(64)
    postcode = _text(16)
    country = fields.String(load_default="CN", validate=validate.Regexp(
        r"^[A-Z]{2}$", error="must be a 2-letter ISO code in capitals, e.g. CN"))


class CustomerListSchema(Schema):
    """A customer in lists (without contacts and addresses)."""

    id = fields.Integer(dump_only=True)
    code = fields.String(validate=validate.Length(min=1, max=32),
                         metadata={"description": "unique; default: the next Cnnnnn"})
    name = _text(200, required=True)
    tax_id = _text(32)
    category = _text(64)
    industry = _text(64)
    region = _text(64)
    tier = fields.String(validate=validate.OneOf(TIERS), metadata={"description": "key or normal"})
    salesperson_id = fields.Integer(allow_none=True)
    payment_term_id = fields.Integer(allow_none=True)
    currency = fields.String(validate=validate.Regexp(r"^[A-Za-z]{3}$", error="must be a 3-letter ISO code"))
    lang = fields.String(validate=validate.Length(min=2, max=8))
    notes = fields.String(allow_none=True)
    active = fields.Boolean()
    merged_into_id = fields.Integer(dump_only=True)
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)
    version = fields.Integer(dump_only=True)


class CustomerSchema(CustomerListSchema):
    contacts = fields.List(fields.Nested(ContactSchema))
    addresses = fields.List(fields.Nested(AddressSchema))


class CustomerWriteSchema(CustomerSchema):
    force = fields.Boolean(load_default=False, load_only=True,
                           metadata={"description": "create/save even if it looks like a duplicate"})


class CustomerRefSchema(Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()


class DuplicatesSchema(Schema):
    duplicates = fields.List(fields.Dict())


class ImportSchema(Schema):
    rows = fields.List(fields.Nested(CustomerSchema), required=True,
                       validate=validate.Length(min=1, max=1000))
    force = fields.Boolean(load_default=False)


class ImportResultSchema(Schema):
    created = fields.Integer()
    customers = fields.List(fields.Nested(CustomerRefSchema))


class MergeSchema(Schema):
    into = fields.Integer(required=True, metadata={"description": "the customer that remains"})


class OrderBriefSchema(Schema):
    id = fields.Integer()
    number = fields.String()
    state = fields.String()
    date_order = fields.Date()
    currency = fields.String()
    amount_total = DecimalField()


class InvoiceBriefSchema(Schema):
    id = fields.Integer()
    number = fields.String()
    kind = fields.String()
    state = fields.String()
    date = fields.Date()
    due_date = fields.Date()
    currency = fields.String()
    amount_total = DecimalField()
    amount_residual = DecimalField()


class PaymentBriefSchema(Schema):
    id = fields.Integer()
    number = fields.String()
    state = fields.String()
    date = fields.Date()
    method = fields.String()
    reference = fields.String()
    currency = fields.String()
    amount = DecimalField()
    amount_unallocated = DecimalField()


class HistorySchema(Schema):
    customer = fields.Nested(CustomerRefSchema)
    currency = fields.String()
    orders = fields.List(fields.Nested(OrderBriefSchema), allow_none=True)
    orders_count = fields.Integer(allow_none=True)
    invoices = fields.List(fields.Nested(InvoiceBriefSchema), allow_none=True)
    invoices_count = fields.Integer(allow_none=True)
    payments = fields.List(fields.Nested(PaymentBriefSchema), allow_none=True)
    payments_count = fields.Integer(allow_none=True)
    receivable = DecimalField(allow_none=True)
    unallocated = DecimalField(allow_none=True)
    open_balance = DecimalField(allow_none=True, metadata={
        "description": "posted invoices' residual - credit notes' unused credit - unallocated "
                       "payments, in balance_currency (each document at its booked rate)"})
    balance_currency = fields.String(allow_none=True, metadata={
        "description": "the company currency, in which receivable, unallocated and "
                       "open_balance are"})


def _one_of(allowed):
    def check(value: str) -> str:
        if value not in allowed:
            raise ValueError(f"{value!r} is not one of {', '.join(allowed)}")
        return value

    return check


@bp.endpoint("/customers", summary="List customers", tag="customers", response=CustomerListSchema,
             query={"q": "code, name or tax id contains", "region": "region", "tier": "key/normal",
                    "category": "category", "industry": "industry",
                    "salesperson_id": "salesperson", "active": "true/false (default: true)",
                    "sort": "code, name, region, tier, created_at (prefix - for descending)"})
def list_customers(env):
    C = env["sale.customer"]
    tier = _one_of(TIERS)
    base = () if "active" in request.args else (C.active.is_(True),)
    return paginate(
        env, "sale.customer",
        sortable={"code": C.code, "name": C.name, "region": C.region, "tier": C.tier,
                  "created_at": C.created_at},
        filterable={
            "q": contains(C.code, C.name, C.tax_id),
            "region": lambda v: C.region == v,
            "tier": lambda v: C.tier == tier(v),
            "category": lambda v: C.category == v,
            "industry": lambda v: C.industry == v,
            "salesperson_id": lambda v: C.salesperson_id == as_int(v),
            "active": lambda v: C.active.is_(as_bool(v)),
        },
        default_sort="code", base_criteria=base,
    )


@bp.endpoint("/customers", methods=["POST"], body=CustomerWriteSchema, response=CustomerSchema,
             status=201, idempotent=True, tag="customers",
             summary="Create a customer (409 when it duplicates one, unless force)")
def create_customer(env, data):
    force = data.pop("force", False)
    return svc.create_customer(env, data, force=force)


@bp.endpoint("/customers/duplicates", summary="Existing customers a new one would duplicate",
             tag="customers", response=DuplicatesSchema,
             query={"tax_id": "tax id", "name": "name", "phone": "phone (repeatable)"})
def find_duplicates(env):
    env.check_access("sale.customer", "read")
    args = request.args
    unknown = sorted(set(args) - {"tax_id", "name", "phone"})
    if unknown:
        raise ValidationError({k: ["not a parameter; allowed: name, phone, tax_id"] for k in unknown})
    return {"duplicates": svc.find_duplicates(env, tax_id=args.get("tax_id"), name=args.get("name"),
                                              phones=args.getlist("phone"))}


@bp.endpoint("/customers/import", methods=["POST"], body=ImportSchema, response=ImportResultSchema,
             status=201, idempotent=True, tag="customers",
             summary="Import customers, all or nothing (409 listing duplicates, unless force)")
def import_customers(env, data):
    created = svc.import_customers(env, data["rows"], force=data["force"])
    return {"created": len(created), "customers": created}


@bp.endpoint("/customers/<int:customer_id>", summary="Get a customer", tag="customers",
             response=CustomerSchema)
def get_customer(env, customer_id):
    return env.get("sale.customer", customer_id)


@bp.endpoint("/customers/<int:customer_id>", methods=["PATCH"], body=CustomerWriteSchema,
             partial_body=True, response=CustomerSchema, tag="customers",
             summary="Change a customer (If-Match); contacts/addresses given replace the lists")
def update_customer(env, data, customer_id):
    customer = env.get("sale.customer", customer_id)
    check_if_match(customer)
    force = data.pop("force", False)
    return svc.update_customer(env, customer, data, force=force)


@bp.endpoint("/customers/<int:customer_id>", methods=["DELETE"], status=204, tag="customers",
             summary="Delete a customer without documents (409 otherwise: archive it)")
def delete_customer(env, customer_id):
    customer = env.get("sale.customer", customer_id)
    check_if_match(customer)
    svc.delete_customer(env, customer)
    return None


@bp.endpoint("/customers/<int:customer_id>/history", response=HistorySchema, tag="customers",
             summary="Orders, invoices, payments (newest first) and open balance",
             query={"limit": f"documents of each kind (default {svc.HISTORY_LIMIT}, "
                             f"at most {svc.MAX_HISTORY_LIMIT})"})
def customer_history(env, customer_id):
    customer = env.get("sale.customer", customer_id)
    unknown = sorted(set(request.args) - {"limit"})
    if unknown:
        raise ValidationError({k: ["not a parameter; allowed: limit"] for k in unknown})
    try:
        limit = int(request.args.get("limit", svc.HISTORY_LIMIT))
    except ValueError:
        raise ValidationError({"limit": ["must be a whole number"]}) from None
    if not 1 <= limit <= svc.MAX_HISTORY_LIMIT:
        raise ValidationError({"limit": [f"must be from 1 to {svc.MAX_HISTORY_LIMIT}"]})
    return svc.customer_history(env, customer, limit=limit)


@bp.endpoint("/customers/<int:customer_id>/merge", methods=["POST"], body=MergeSchema,
             response=CustomerSchema, tag="customers",
             summary="Merge this customer into another (sales manager, director)")
def merge_customer(env, data, customer_id):
    svc.check_merge_allowed(env)
    source = env.get("sale.customer", customer_id)
    check_if_match(source)
    try:
        target = env.get("sale.customer", data["into"])
    except NotFound:
        raise ValidationError({"into": [f"no customer {data['into']}"]}) from None
    return svc.merge_customers(env, source, target)

