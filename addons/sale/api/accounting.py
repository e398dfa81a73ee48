"""REST endpoints: receivables (aging, open items, customer statement), the journal and the
trial balance. Thin views over ``services.receivables`` and ``services.journal``.

Receivables are computed through the user's record rules: a salesperson's aging and statements
cover their own customers only (another customer is a 404). The journal and the trial balance
are finance's and directors' (403 otherwise). Dates are ISO (``YYYY-MM-DD``); any parameter not
listed is a 422 naming it. Amounts are decimal strings.
"""

from __future__ import annotations

from flask import request
from marshmallow import Schema, fields

from core.api import paginate
from core.errors import ValidationError

from ..services import journal as journal_svc
from ..services import receivables as svc
from ..services.masterdata import company_currency
from . import bp
from .masterdata import DecimalField, as_date, as_int

BUCKET_FIELDS = {name: DecimalField() for name in (*svc.BUCKETS, "total", "credit", "balance")}


def _args(allowed: set[str]):
    unknown = sorted(set(request.args) - allowed)
    if unknown:
        raise ValidationError({k: [f"not a parameter; allowed: {', '.join(sorted(allowed))}"]
                               for k in unknown})
    return request.args


def _date_arg(args, name: str, default=None):
    value = args.get(name)
    return as_date(name, value) if value else default


def _int_arg(args, name: str):
    value = args.get(name)
    if not value:
        return None
    try:
        return as_int(value)
    except ValueError as exc:
        raise ValidationError({name: [str(exc)]}) from None


# -- aging -----------------------------------------------------------------------------------


AgingRowSchema = Schema.from_dict({
    "customer_id": fields.Integer(), "customer_code": fields.String(),
    "customer_name": fields.String(), "salesperson_id": fields.Integer(allow_none=True),
    "salesperson_name": fields.String(allow_none=True), **BUCKET_FIELDS,
}, name="AgingRowSchema")
AgingTotalsSchema = Schema.from_dict(dict(BUCKET_FIELDS), name="AgingTotalsSchema")


class AgingSchema(Schema):
    as_of = fields.Date()
    currency = fields.String(metadata={"description": "the company currency: every amount is in it"})
    group_by = fields.String(allow_none=True)
    buckets = fields.List(fields.String())
    rows = fields.List(fields.Nested(AgingRowSchema))
    totals = fields.Nested(AgingTotalsSchema)


@bp.endpoint("/receivables/aging", summary="Aged receivables as of a date", tag="receivables",
             response=AgingSchema,
             query={"as_of": "YYYY-MM-DD (default today)",
                    "group_by": "customer (default), salesperson or total",
                    "customer_id": "one customer", "salesperson_id": "one salesperson's customers"})
def acc_aging(env):
    args = _args({"as_of", "group_by", "customer_id", "salesperson_id"})
    group_by = args.get("group_by") or "customer"
    if group_by not in ("customer", "salesperson", "total"):
        raise ValidationError({"group_by": ["one of customer, salesperson, total"]})
    as_of = _date_arg(args, "as_of", env.today())
    env.check_access("sale.invoice", "read")
    rows = svc.aging(env, as_of, None if group_by == "total" else group_by,
                     customer_id=_int_arg(args, "customer_id"),
                     salesperson_id=_int_arg(args, "salesperson_id"))
    return {"as_of": as_of, "currency": company_currency(env), "group_by": group_by,
            "buckets": list(svc.BUCKETS), "rows": rows, "totals": svc.aging_totals(rows)}


# -- open items and statements ----------------------------------------------------------------


class OpenItemSchema(Schema):
    kind = fields.String()
    id = fields.Integer(metadata={"description": "the invoice's"})
    number = fields.String(allow_none=True)
    date = fields.Date()
    due_date = fields.Date(metadata={"description": "the instalment's"})
    instalment = fields.Integer(metadata={"description": "which instalment of the invoice (1, "
                                                         "2...): one item per open instalment"})
    instalments = fields.Integer(metadata={"description": "how many the invoice has"})
    currency = fields.String()
    invoice_amount = DecimalField(metadata={"description": "the invoice's total, its currency"})
    amount = DecimalField(metadata={"description": "the instalment's, in the document's currency"})
    open = DecimalField(metadata={"description": "in the document's currency"})
    amount_company = DecimalField(metadata={"description": "in the company currency"})
    open_company = DecimalField(metadata={"description": "in the company currency"})
    days_overdue = fields.Integer()
    bucket = fields.String()


class CreditItemSchema(Schema):
    kind = fields.String(metadata={"description": "payment or credit_note"})
    id = fields.Integer()
    number = fields.String(allow_none=True)
    date = fields.Date()
    currency = fields.String()
    amount = DecimalField(metadata={"description": "in the document's currency"})
    open = DecimalField(metadata={"description": "credit not used yet"})
    amount_company = DecimalField(metadata={"description": "in the company currency"})
    open_company = DecimalField(metadata={"description": "credit not used yet, company currency"})


class OpenItemsSchema(Schema):
    customer_id = fields.Integer()
    customer_code = fields.String()
    customer_name = fields.String()
    as_of = fields.Date()
    items = fields.List(fields.Nested(OpenItemSchema))
    credits = fields.List(fields.Nested(CreditItemSchema))
    currency = fields.String(metadata={"description": "of total, credit and balance: the company's"})
    total = DecimalField()
    credit = DecimalField()
    balance = DecimalField()


@bp.endpoint("/customers/<int:customer_id>/open-items", tag="receivables", response=OpenItemsSchema,
             summary="A customer's open invoices and unused credit as of a date",
             query={"as_of": "YYYY-MM-DD (default today)"})
def acc_open_items(env, customer_id):
    args = _args({"as_of"})
    return svc.open_items(env, customer_id, _date_arg(args, "as_of"))


class InstalmentSchema(Schema):
    due_date = fields.Date()
    amount = DecimalField()


class MovementSchema(Schema):
    date = fields.Date()
    kind = fields.String()
    id = fields.Integer()
    number = fields.String(allow_none=True)
    due_date = fields.Date(allow_none=True, metadata={"description": "an invoice's last instalment's"})
    instalments = fields.List(fields.Nested(InstalmentSchema), metadata={
        "description": "an invoice's: what is due when"})
    reference = fields.String(allow_none=True)
    debit = DecimalField()
    credit = DecimalField()
    balance = DecimalField()


class StatementSchema(Schema):
    customer_id = fields.Integer()
    customer_code = fields.String()
    customer_name = fields.String()
    date_from = fields.Date()
    date_to = fields.Date()
    currency = fields.String(metadata={"description": "the statement's: its documents' currency"})
    opening_balance = DecimalField()
    movements = fields.List(fields.Nested(MovementSchema))
    debit = DecimalField()
    credit = DecimalField()
    closing_balance = DecimalField()


@bp.endpoint("/customers/<int:customer_id>/statement", tag="receivables", response=StatementSchema,
             summary="Customer statement: opening balance, movements, closing balance",
             query={"date_from": "YYYY-MM-DD (required)", "date_to": "YYYY-MM-DD (default today)",
                    "currency": "the documents' currency (default the customer's)"})
def acc_statement(env, customer_id):
    args = _args({"date_from", "date_to", "currency"})
    date_from = as_date("date_from", args.get("date_from"))
    date_to = _date_arg(args, "date_to", env.today())
    currency = args.get("currency") or None
    if currency is not None and (len(currency) != 3 or not currency.isalpha()):
        raise ValidationError({"currency": ["a three-letter currency code"]})
    return svc.customer_statement(env, customer_id, date_from, date_to, currency)


# -- journal ---------------------------------------------------------------------------------


class AccountSchema(Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    name_zh = fields.String(allow_none=True)
    kind = fields.String()


class JournalLineSchema(Schema):
    id = fields.Integer()
    account_id = fields.Integer()
    account_code = fields.Function(lambda line: line.account.code)
    customer_id = fields.Integer(allow_none=True)
    debit = DecimalField()
    credit = DecimalField()
    label = fields.String()
    currency = fields.String(allow_none=True, metadata={
        "description": "the document's currency on a foreign document's lines, else null"})
    amount_currency = DecimalField(allow_none=True, metadata={
        "description": "the line in that currency, signed: debit positive, credit negative"})


class JournalEntryListSchema(Schema):
    id = fields.Integer()
    number = fields.String()
    date = fields.Date()
    source_record = fields.String()
    source_id = fields.Integer()
    label = fields.String()
    reversed_entry_id = fields.Integer(allow_none=True)


class JournalEntrySchema(JournalEntryListSchema):
    lines = fields.List(fields.Nested(JournalLineSchema))


@bp.endpoint("/accounts", summary="The chart of accounts", tag="journal", response=AccountSchema,
             many=True)
def acc_accounts(env):
    env.check_access("sale.account", "read")
    Account = env["sale.account"]
    return env.search("sale.account", order_by=Account.code)


@bp.endpoint("/journal/entries", summary="Journal entries", tag="journal",
             response=JournalEntryListSchema,
             query={"date_from": "on or after (YYYY-MM-DD)", "date_to": "on or before",
                    "source_record": "sale.invoice or sale.payment", "source_id": "document id",
                    "sort": "date, number (prefix - for descending)"})
def acc_journal_entries(env):
    Entry = env["sale.journal.entry"]
    return paginate(
        env, "sale.journal.entry",
        sortable={"date": Entry.date, "number": Entry.number},
        filterable={
            "date_from": lambda v: Entry.date >= as_date("date_from", v),
            "date_to": lambda v: Entry.date <= as_date("date_to", v),
            "source_record": lambda v: Entry.source_record == v,
            "source_id": lambda v: Entry.source_id == as_int(v),
        },
        default_sort="-date",
    )


@bp.endpoint("/journal/entries/<int:entry_id>", summary="A journal entry with its lines",
             tag="journal", response=JournalEntrySchema)
def acc_journal_entry(env, entry_id):
    return env.get("sale.journal.entry", entry_id)


class TrialBalanceRowSchema(Schema):
    account_id = fields.Integer()
    code = fields.String()
    name = fields.String()
    name_zh = fields.String(allow_none=True)
    kind = fields.String()
    debit = DecimalField()
    credit = DecimalField()
    balance = DecimalField()


class TrialBalanceSchema(Schema):
    date_from = fields.Date(allow_none=True)
    date_to = fields.Date(allow_none=True)
    rows = fields.List(fields.Nested(TrialBalanceRowSchema))
    debit = DecimalField()
    credit = DecimalField()
    balanced = fields.Boolean()


@bp.endpoint("/journal/trial-balance", summary="Trial balance: debits and credits per account",
             tag="journal", response=TrialBalanceSchema,
             query={"date_from": "entries on or after (YYYY-MM-DD)", "date_to": "on or before"})
def acc_trial_balance(env):
    args = _args({"date_from", "date_to"})
    env.check_access("sale.journal.line", "read")
    return journal_svc.trial_balance(env, _date_arg(args, "date_from"), _date_arg(args, "date_to"))
