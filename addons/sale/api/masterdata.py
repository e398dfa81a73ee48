"""REST endpoints: products, taxes, currencies and exchange rates, payment terms, salespersons,
sales teams. Thin views over ``services.masterdata`` and ``services.partner``.

Lists are paginated, sortable and filterable by allow-listed fields only (``core.api.paginate``:
``?page=&per_page=&sort=name,-created_at&<filter>=``). PATCH honours ``If-Match`` (412 when the
version is stale). Amounts, prices and rates are decimal strings (floats are refused).
A taken unique value (SKU, code...) is a 409 naming the ``field`` and the ``existing`` record.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP

from flask import jsonify, request
from marshmallow import Schema, fields, validate
from sqlalchemy import or_

from core.api import check_if_match, iso_date, paginate, whole_number
from core.config import DecimalString
from core.errors import ValidationError
from core.money import to_decimal

from ..services import masterdata as md
from ..services import partner as partners
from ..services.masterdata import DuplicateRecord
from . import bp


class DecimalField(DecimalString):
    """A decimal as a JSON string (or integer; floats are refused); dumped as a string.
    ``places``: always that many decimals (those of the column), rounded half up."""

    def __init__(self, places: int | None = None, **kwargs):
        kwargs.setdefault("as_string", True)
        if places is not None:
            kwargs.setdefault("rounding", ROUND_HALF_UP)
        super().__init__(places=places, **kwargs)


PRICE, RATE = 6, 6  # decimals of the Price and Rate columns (models._types)


def _text(max_len: int, required: bool = False, **kw) -> fields.String:
    if required:
        return fields.String(required=True, validate=validate.Length(min=1, max=max_len), **kw)
    return fields.String(allow_none=True, validate=validate.Length(max=max_len), **kw)


# -- error rendering -------------------------------------------------------------------------


@bp.errorhandler(DuplicateRecord)
def _duplicate(exc: DuplicateRecord):
    """409 naming the field at fault and the existing record(s) (customers: code and name)."""
    resp = jsonify({"error": {"code": "duplicate", "message": str(exc), "field": exc.field,
                              "existing": exc.existing}})
    resp.status_code = 409
    return resp


# -- list helpers (shared with api.customers) ------------------------------------------------


def as_bool(value: str) -> bool:
    text = value.strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise ValueError(f"{value!r} is not true or false")


as_int = whole_number  # the kernel's: within the database's integer


def as_date(name: str, value: str | None) -> dt.date:
    if not value:
        raise ValidationError({name: ["is required (YYYY-MM-DD)"]})
    try:
        return iso_date(value)
    except ValueError as exc:
        raise ValidationError({name: [str(exc)]}) from None


def contains(*columns):
    """A ``q`` filter: any of ``columns`` contains the text (case-insensitive, literal)."""
    return lambda value: or_(*(c.icontains(value, autoescape=True) for c in columns))


# -- taxes -----------------------------------------------------------------------------------


class TaxSchema(Schema):
    id = fields.Integer(dump_only=True)
    code = _text(32, required=True)
    name = _text(128, required=True)
    rate = DecimalField(RATE, required=True, metadata={"description": "fraction: 0.13 for 13 %"})
    price_include = fields.Boolean(load_default=False)
    active = fields.Boolean(load_default=True)
    version = fields.Integer(dump_only=True)


@bp.endpoint("/taxes", summary="List taxes", tag="taxes", response=TaxSchema,
             query={"active": "true/false", "sort": "code, name, rate"})
def list_taxes(env):
    Tax = env["sale.tax"]
    return paginate(env, "sale.tax", sortable={"code": Tax.code, "name": Tax.name, "rate": Tax.rate},
                    filterable={"active": lambda v: Tax.active.is_(as_bool(v))}, default_sort="code")


@bp.endpoint("/taxes", methods=["POST"], body=TaxSchema, response=TaxSchema, status=201,
             summary="Create a tax", tag="taxes")
def create_tax(env, data):
    return md.create_tax(env, **data)


@bp.endpoint("/taxes/<int:tax_id>", summary="Get a tax", tag="taxes", response=TaxSchema)
def get_tax(env, tax_id):
    return env.get("sale.tax", tax_id)


@bp.endpoint("/taxes/<int:tax_id>", methods=["PATCH"], body=TaxSchema, partial_body=True,
             response=TaxSchema, summary="Change a tax (If-Match)", tag="taxes")
def update_tax(env, data, tax_id):
    tax = env.get("sale.tax", tax_id)
    check_if_match(tax)
    return md.update_tax(env, tax, **data)


# -- products --------------------------------------------------------------------------------


class ProductSchema(Schema):
    id = fields.Integer(dump_only=True)
    sku = _text(64, required=True)
    name = _text(200, required=True)
    unit = _text(16, load_default="pcs")
    list_price = DecimalField(PRICE, required=True, validate=validate.Range(min=0))
    cost = DecimalField(PRICE, validate=validate.Range(min=0))
    tax_id = fields.Integer(allow_none=True)
    active = fields.Boolean(load_default=True)
    created_at = fields.DateTime(dump_only=True)
    version = fields.Integer(dump_only=True)


@bp.endpoint("/products", summary="List products", tag="products", response=ProductSchema,
             query={"q": "SKU or name contains", "active": "true/false (default: true)",
                    "tax_id": "tax id", "unit": "unit", "sort": "sku, name, list_price, created_at"})
def list_products(env):
    P = env["sale.product"]
    base = () if "active" in request.args else (P.active.is_(True),)
    return paginate(
        env, "sale.product",
        sortable={"sku": P.sku, "name": P.name, "list_price": P.list_price, "created_at": P.created_at},
        filterable={"q": contains(P.sku, P.name), "active": lambda v: P.active.is_(as_bool(v)),
                    "tax_id": lambda v: P.tax_id == as_int(v), "unit": lambda v: P.unit == v},
        default_sort="sku", base_criteria=base,
    )


@bp.endpoint("/products", methods=["POST"], body=ProductSchema, response=ProductSchema,
             status=201, idempotent=True, summary="Create a product (unique SKU)", tag="products")
def create_product(env, data):
    if data.get("tax_id") is None:
        data.pop("tax_id", None)  # the default tax
    return md.create_product(env, **data)


@bp.endpoint("/products/<int:product_id>", summary="Get a product", tag="products",
             response=ProductSchema)
def get_product(env, product_id):
    return env.get("sale.product", product_id)


@bp.endpoint("/products/<int:product_id>", methods=["PATCH"], body=ProductSchema,
             partial_body=True, response=ProductSchema,
             summary="Change a product (If-Match); archive with active=false", tag="products")
def update_product(env, data, product_id):
    product = env.get("sale.product", product_id)
    check_if_match(product)
    return md.update_product(env, product, **data)


# -- currencies ------------------------------------------------------------------------------


class RateSchema(Schema):
    id = fields.Integer(dump_only=True)
    date = fields.Date(required=True)
    rate = DecimalField(RATE, required=True, validate=validate.Range(min=0, min_inclusive=False),
                   metadata={"description": "company-currency units per unit"})


class CurrencySchema(Schema):
    id = fields.Integer(dump_only=True)
    code = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z]{3}$",
                                                                 error="must be a 3-letter ISO code"))
    name = _text(64, required=True)
    digits = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=0, max=2))
    version = fields.Integer(dump_only=True)


class CurrencyUpdateSchema(Schema):
    name = _text(64)
    digits = fields.Integer(validate=validate.Range(min=0, max=2))


class RateAtSchema(Schema):
    currency = fields.String()
    date = fields.Date()
    rate = DecimalField(RATE)


@bp.endpoint("/currencies", summary="List currencies", tag="currencies", response=CurrencySchema,
             query={"sort": "code, name"})
def list_currencies(env):
    C = env["sale.currency"]
    return paginate(env, "sale.currency", sortable={"code": C.code, "name": C.name},
                    filterable={}, default_sort="code")


@bp.endpoint("/currencies", methods=["POST"], body=CurrencySchema, response=CurrencySchema,
             status=201, summary="Create a currency", tag="currencies")
def create_currency(env, data):
    return md.create_currency(env, **data)


@bp.endpoint("/currencies/<code>", summary="Get a currency", tag="currencies",
             response=CurrencySchema)
def get_currency(env, code):
    return md.get_currency(env, code)


@bp.endpoint("/currencies/<code>", methods=["PATCH"], body=CurrencyUpdateSchema,
             partial_body=True, response=CurrencySchema, summary="Change a currency (If-Match)",
             tag="currencies")
def update_currency(env, data, code):
    currency = md.get_currency(env, code)
    check_if_match(currency)
    return md.update_currency(env, currency, **data)


@bp.endpoint("/currencies/<code>/rates", summary="Exchange rates of a currency, newest first",
             tag="currencies", response=RateSchema,
             query={"date_from": "YYYY-MM-DD", "date_to": "YYYY-MM-DD", "sort": "date"})
def list_rates(env, code):
    currency = md.get_currency(env, code)
    R = env["sale.currency.rate"]
    return paginate(env, "sale.currency.rate", sortable={"date": R.date},
                    filterable={"date_from": lambda v: R.date >= as_date("date_from", v),
                                "date_to": lambda v: R.date <= as_date("date_to", v)},
                    default_sort="-date", base_criteria=(R.currency_id == currency.id,))


@bp.endpoint("/currencies/<code>/rates", methods=["POST"], body=RateSchema, response=RateSchema,
             status=201, summary="Add a dated exchange rate", tag="currencies")
def add_rate(env, data, code):
    return md.add_rate(env, code, data["date"], data["rate"])


@bp.endpoint("/currencies/<code>/rate", summary="The rate in force on a date", tag="currencies",
             response=RateAtSchema, query={"date": "YYYY-MM-DD (default: today)"})
def rate_at(env, code):
    date = as_date("date", request.args["date"]) if request.args.get("date") else env.today()
    return {"currency": code.upper(), "date": date, "rate": md.rate_at(env, code, date)}


# -- payment terms ---------------------------------------------------------------------------


class TermLineSchema(Schema):
    sequence = fields.Integer(load_default=None)
    percent = DecimalField(RATE, required=True)
    days = fields.Integer(required=True, validate=validate.Range(min=0))


class PaymentTermSchema(Schema):
    id = fields.Integer(dump_only=True)
    code = _text(32, required=True)
    name = _text(128, required=True)
    active = fields.Boolean(load_default=True)
    lines = fields.List(fields.Nested(TermLineSchema), required=True)
    version = fields.Integer(dump_only=True)


class DueSchema(Schema):
    date = fields.Date()
    amount = DecimalField()


@bp.endpoint("/payment-terms", summary="List payment terms", tag="payment-terms",
             response=PaymentTermSchema, query={"active": "true/false", "sort": "code, name"})
def list_terms(env):
    T = env["sale.payment_term"]
    return paginate(env, "sale.payment_term", sortable={"code": T.code, "name": T.name},
                    filterable={"active": lambda v: T.active.is_(as_bool(v))}, default_sort="code")


def _term_values(data: dict) -> dict:
    for line in data.get("lines") or []:
        if line.get("sequence") is None:
            line.pop("sequence", None)
    return data


@bp.endpoint("/payment-terms", methods=["POST"], body=PaymentTermSchema,
             response=PaymentTermSchema, status=201,
             summary="Create a payment term (instalment percentages sum to 100)", tag="payment-terms")
def create_term(env, data):
    return md.create_payment_term(env, **_term_values(data))


@bp.endpoint("/payment-terms/<int:term_id>", summary="Get a payment term", tag="payment-terms",
             response=PaymentTermSchema)
def get_term(env, term_id):
    return env.get("sale.payment_term", term_id)


@bp.endpoint("/payment-terms/<int:term_id>", methods=["PATCH"], body=PaymentTermSchema,
             partial_body=True, response=PaymentTermSchema,
             summary="Change a payment term (If-Match); lines replace all instalments",
             tag="payment-terms")
def update_term(env, data, term_id):
    term = env.get("sale.payment_term", term_id)
    check_if_match(term)
    return md.update_payment_term(env, term, **_term_values(data))


@bp.endpoint("/payment-terms/<int:term_id>/due-dates", summary="Split a total into due dates",
             tag="payment-terms", response=DueSchema, many=True,
             query={"date": "invoice date YYYY-MM-DD", "total": "decimal", "currency": "e.g. CNY"})
def term_due_dates(env, term_id):
    term = env.get("sale.payment_term", term_id)
    date = as_date("date", request.args.get("date"))
    try:
        total = to_decimal(request.args.get("total", ""), "total")
    except ValueError:
        raise ValidationError({"total": ["is required: a decimal number"]}) from None
    currency = (request.args.get("currency") or md.company_currency(env)).upper()
    return [{"date": d, "amount": a} for d, a in md.due_dates(
        term, date, total, currency, md.currency_digits(env, currency))]


# -- sales teams and salespersons ------------------------------------------------------------


class TeamSchema(Schema):
    id = fields.Integer(dump_only=True)
    code = _text(32, required=True)
    name = _text(128, required=True)
    manager_user_id = fields.Integer(allow_none=True)
    active = fields.Boolean(load_default=True)
    version = fields.Integer(dump_only=True)


class SalespersonSchema(Schema):
    id = fields.Integer(dump_only=True)
    user_id = fields.Integer(required=True)
    name = _text(128)
    team_id = fields.Integer(allow_none=True)
    active = fields.Boolean(load_default=True)
    version = fields.Integer(dump_only=True)


@bp.endpoint("/teams", summary="List sales teams", tag="salespersons", response=TeamSchema,
             query={"active": "true/false", "sort": "code, name"})
def list_teams(env):
    T = env["sale.team"]
    return paginate(env, "sale.team", sortable={"code": T.code, "name": T.name},
                    filterable={"active": lambda v: T.active.is_(as_bool(v))}, default_sort="code")


@bp.endpoint("/teams", methods=["POST"], body=TeamSchema, response=TeamSchema, status=201,
             summary="Create a sales team", tag="salespersons")
def create_team(env, data):
    return partners.create_team(env, **data)


@bp.endpoint("/teams/<int:team_id>", summary="Get a sales team", tag="salespersons",
             response=TeamSchema)
def get_team(env, team_id):
    return env.get("sale.team", team_id)


@bp.endpoint("/teams/<int:team_id>", methods=["PATCH"], body=TeamSchema, partial_body=True,
             response=TeamSchema, summary="Change a sales team (If-Match)", tag="salespersons")
def update_team(env, data, team_id):
    team = env.get("sale.team", team_id)
    check_if_match(team)
    return partners.update_team(env, team, **data)


@bp.endpoint("/salespersons", summary="List salespersons", tag="salespersons",
             response=SalespersonSchema,
             query={"q": "name contains", "team_id": "team", "active": "true/false",
                    "sort": "name, created_at"})
def list_salespersons(env):
    S = env["sale.salesperson"]
    return paginate(env, "sale.salesperson", sortable={"name": S.name, "created_at": S.created_at},
                    filterable={"q": contains(S.name), "team_id": lambda v: S.team_id == as_int(v),
                                "active": lambda v: S.active.is_(as_bool(v))},
                    default_sort="name")


@bp.endpoint("/salespersons", methods=["POST"], body=SalespersonSchema,
             response=SalespersonSchema, status=201,
             summary="Register a user as salesperson (one per user)", tag="salespersons")
def create_salesperson(env, data):
    return partners.create_salesperson(env, **data)


@bp.endpoint("/salespersons/<int:salesperson_id>", summary="Get a salesperson",
             tag="salespersons", response=SalespersonSchema)
def get_salesperson(env, salesperson_id):
    return env.get("sale.salesperson", salesperson_id)


@bp.endpoint("/salespersons/<int:salesperson_id>", methods=["PATCH"],
             body=SalespersonSchema, partial_body=True, response=SalespersonSchema,
             summary="Change a salesperson (If-Match)", tag="salespersons")
def update_salesperson(env, data, salesperson_id):
    salesperson = env.get("sale.salesperson", salesperson_id)
    check_if_match(salesperson)
    return partners.update_salesperson(env, salesperson, **data)
