"""Order to cash in the browser: the pages the generic views cannot show.

* the customer form (a ``FormView`` of ``sale.customer`` calling ``services.partner``): contacts
  and addresses, the salesperson defaulting to the user's own, a duplicate refusal naming the
  existing customer with a "create anyway" box;
* recording a shipment of an approved order (warehouse): a quantity per line, by default what
  remains, through ``services.shipment.record_shipment`` (which fires ``ship`` when complete);
* creating an invoice from an order (finance) through ``services.invoice.create_invoice``; the
  invoice page then shows ``post`` as a workflow button;
* registering a payment (finance) through ``services.payment.register_payment``, allocated to
  the oldest due invoices first or as entered, reachable from the invoice page with its open
  amount;
* the panels of the order page (next steps: record a shipment, create an invoice; the order's
  invoices; an amended order's earlier revisions with what changed, in the user's language)
  and of the invoice page (what is open, "Register payment"), as ``core.web.Panel``s;
* the data of the order form's live totals (template global ``sale_order_form_data``) for
  ``static/sale_forms.js`` (no inline script: CSP), which rounds exactly as ``core.money``.

Every page runs as the signed-in user (``core.web.base.page``: role check, record rules, a
hidden record is a 404), every form carries a CSRF token, and a service refusal is shown on
the form with nothing saved (the call runs in a savepoint).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from babel.numbers import get_currency_symbol
from flask import Blueprint, abort, flash, g, redirect, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from core.errors import ConflictError, TransitionBlocked, ValidationError
from core.money import CURRENCY_DIGITS
from core.web import FormView, ListAction, Menu, Panel, Views
from core.web.base import page, render

from .hooks import SEES_ALL
from .services import invoice as invoice_svc
from .services import order as order_svc
from .services import partner as partner_svc
from .services import payment as payment_svc
from .services import shipment as shipment_svc
from .services.masterdata import company_currency
from .workflow import SELLERS

bp = Blueprint("sale_flow", __name__, url_prefix="/sale", static_folder="static",
               static_url_path="/static")

METHODS = ("cash", "cheque", "bank_transfer", "electronic")
#: what the web pages show of the service messages that are fixed texts (others stay English)
_SERVICE_MESSAGES = ("is required", "must be greater than 0", "at most 2 decimals",
                     "must not be negative", "must be positive", "must not be empty")


#: record ids are database integers: a larger "id" is no record (and overflowed the query)
MAX_ID = 2**31 - 1


def _opt_int(value: Any) -> int | None:
    """A record id from a hidden field or the query string, None when blank or not an id."""
    if value in (None, "", "None"):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 0 < number <= MAX_ID else None


def _choice_id(value: Any) -> int | None:
    """``coerce`` of a select of records: blank is None, anything but an id is refused on the
    field ("Invalid Choice: could not coerce"), never silently blanked nor a 500."""
    if value in (None, "", "None"):
        return None
    number = _opt_int(value)
    if number is None:
        raise ValueError(f"not a record id: {str(value)[:20]}")
    return number


def hidden_id(form_field) -> int | None:
    """The id a hidden field carries (blank: None); anything else is a tampered form: 400
    naming the field, and nothing is saved (the request's transaction is rolled back)."""
    value = form_field.data
    if value in (None, "", "None"):
        return None
    number = _opt_int(value)
    if number is None:
        abort(400, f"{form_field.name}: not a record id")
    return number


def _say(message: str) -> str:
    return _(message) if message in _SERVICE_MESSAGES else message


def _attach(form, exc: ValidationError, fields: dict[str, Any]) -> dict[str, list[str]]:
    """Put each message of ``exc`` on the form field it names (``fields``: error key -> field;
    plain keys are looked up on the form); returns the messages left for the top of the form."""
    left: dict[str, list[str]] = {}
    for key, messages in exc.errors.items():
        field = fields.get(key)
        if field is None and "." not in key:
            field = getattr(form, key, None)
        if field is not None and hasattr(field, "errors") and not isinstance(field, FieldList):
            field.errors = list(field.errors) + [_say(m) for m in messages]
        else:
            left[key] = [_say(m) for m in messages]
    return left


def _lines(left: dict[str, list[str]]) -> list[str]:
    return [f"{key}: {m}" for key, messages in left.items() for m in messages]


def _order_url(order_id: int) -> str:
    return url_for("web.record_page", record="sale.order", ident=order_id)


def _money_text(value: Decimal) -> str:
    """A price or amount as plain decimal text for an input: at least 2 decimals, no trailing
    zeros beyond them ("100.00", "12.3456")."""
    text = format(Decimal(value).normalize(), "f")
    whole, _dot, frac = text.partition(".")
    return f"{whole}.{frac.ljust(2, '0')}"


def _qty_text(value: Decimal) -> str:
    text = format(Decimal(value).normalize(), "f")
    return "0" if text in ("-0", "") else text


# -- customers (a FormView of the generic /r/sale.customer/new and /edit pages) ----------------


class ContactForm(Form):
    contact_id = HiddenField()
    name = StringField("Name", validators=[Optional(), Length(max=128)])
    phone = StringField("Phone", validators=[Optional(), Length(max=32)])
    email = StringField("Email", validators=[Optional(), Length(max=254)])


class AddressForm(Form):
    address_id = HiddenField()
    kind = SelectField("Kind", choices=[("billing", "billing"), ("shipping", "shipping")],
                       default="billing")
    street = StringField("Street", validators=[Optional(), Length(max=200)])
    city = StringField("City", validators=[Optional(), Length(max=64)])
    region = StringField("Region", validators=[Optional(), Length(max=64)])
    postcode = StringField("Postcode", validators=[Optional(), Length(max=16)])
    country = StringField("Country", default="CN", validators=[Optional(), Length(min=2, max=2)])


class CustomerForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    code = StringField("Code", validators=[Optional(), Length(max=32)])
    tax_id = StringField("Tax ID", validators=[Optional(), Length(max=32)])
    region = StringField("Region", validators=[Optional(), Length(max=64)])
    category = StringField("Category", validators=[Optional(), Length(max=64)])
    industry = StringField("Industry", validators=[Optional(), Length(max=64)])
    tier = SelectField("Tier", default="normal")
    salesperson_id = SelectField("Salesperson", coerce=_choice_id, validate_choice=True)
    payment_term_id = SelectField("Payment term", coerce=_choice_id)
    currency = SelectField("Currency")
    notes = TextAreaField("Notes", validators=[Optional()])
    contacts = FieldList(FormField(ContactForm), min_entries=1)
    addresses = FieldList(FormField(AddressForm), min_entries=1)
    force = BooleanField("Create anyway: it is not the same customer")

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        named = 0
        for entry in self.contacts:
            f = entry.form
            if (f.name.data or "").strip():
                named += 1
            elif (f.phone.data or "").strip() or (f.email.data or "").strip():
                f.name.errors = list(f.name.errors) + [_("A contact needs a name.")]
                ok = False
        if not named:
            first = self.contacts.entries[0].form.name
            first.errors = list(first.errors) + [_("Give at least one contact.")]
            ok = False
        if not any((e.form.street.data or "").strip() for e in self.addresses):
            first = self.addresses.entries[0].form.street
            first.errors = list(first.errors) + [_("Give at least one address.")]
            ok = False
        return ok


def _prepare_customer_form(env, form) -> None:
    form.tier.choices = [("normal", _("normal")), ("key", _("key account"))]
    for entry in form.addresses:
        entry.form.kind.choices = [("billing", _("billing address")),
                                   ("shipping", _("shipping address"))]
    Salesperson = env["sale.salesperson"]
    own = partner_svc.own_salesperson_id(env)
    restricted = env.has_role("salesperson") and not env.has_role(*SEES_ALL) and not env.unrestricted
    if restricted:
        people = env.search("sale.salesperson", Salesperson.id == own) if own else []
        choices = [(p.id, p.name) for p in people]
    else:
        people = env.search("sale.salesperson", Salesperson.active.is_(True),
                            order_by=Salesperson.name)
        choices = [("", "—")] + [(p.id, p.name) for p in people]
    current = form.salesperson_id.data
    if current is not None and current not in {c[0] for c in choices}:
        found = env.search("sale.salesperson", Salesperson.id == current)
        choices += [(p.id, p.name) for p in found]
    form.salesperson_id.choices = choices
    if current is None and own is not None and (restricted or request.method == "GET"):
        form.salesperson_id.data = own  # a new customer is the user's own
    Term = env["sale.payment_term"]
    form.payment_term_id.choices = [("", "—")] + [
        (t.id, t.name) for t in env.search("sale.payment_term", Term.active.is_(True),
                                           order_by=Term.code)]
    Currency = env["sale.currency"]
    codes = [c.code for c in env.search("sale.currency", order_by=Currency.code)]
    own_currency = company_currency(env)
    if own_currency not in codes:
        codes.insert(0, own_currency)
    if form.currency.data and form.currency.data not in codes:
        codes.append(form.currency.data)
    form.currency.choices = [(c, c) for c in codes]
    if not form.currency.data:
        form.currency.data = own_currency


def _customer_input(form) -> tuple[dict[str, Any], dict[str, Any]]:
    """The service's values from the form, and the fields its error keys name."""
    values: dict[str, Any] = {
        "name": (form.name.data or "").strip(),
        "tax_id": form.tax_id.data or None, "region": form.region.data or None,
        "category": form.category.data or None, "industry": form.industry.data or None,
        "tier": form.tier.data, "salesperson_id": form.salesperson_id.data,
        "payment_term_id": form.payment_term_id.data, "currency": form.currency.data or None,
        "notes": form.notes.data or None,
    }
    if (form.code.data or "").strip():
        values["code"] = form.code.data.strip()
    fields: dict[str, Any] = {}
    contacts = []
    for entry in form.contacts:
        f = entry.form
        if not any((value or "").strip() for value in (f.name.data, f.phone.data, f.email.data)):
            continue
        row = {"name": (f.name.data or "").strip(), "phone": (f.phone.data or "").strip() or None,
               "email": (f.email.data or "").strip() or None}
        if hidden_id(f.contact_id) is not None:
            row["id"] = hidden_id(f.contact_id)
        for key in ("name", "phone", "email"):
            fields[f"contacts.{len(contacts)}.{key}"] = f[key]
        contacts.append(row)
    addresses = []
    for entry in form.addresses:
        f = entry.form
        if not (f.street.data or "").strip():
            continue
        row = {"kind": f.kind.data, "street": f.street.data.strip(),
               "city": f.city.data or None, "region": f.region.data or None,
               "postcode": f.postcode.data or None,
               "country": (f.country.data or "CN").strip().upper()}
        if hidden_id(f.address_id) is not None:
            row["id"] = hidden_id(f.address_id)
        for key in ("kind", "street", "city", "region", "postcode", "country"):
            fields[f"addresses.{len(addresses)}.{key}"] = f[key]
        addresses.append(row)
    values["contacts"] = contacts
    values["addresses"] = addresses
    return values, fields


def _duplicate_text(exc: partner_svc.DuplicateCustomer) -> str:
    found = []
    for match in exc.existing:
        reason = match.get("reason", "")
        if reason.startswith("same tax id"):
            why = _("same tax ID %(tax_id)s", tax_id=reason.removeprefix("same tax id").strip())
        else:
            why = _("same name and phone")
        if match.get("code") is None:  # another salesperson's: said to exist, not named
            found.append(f"{_('a customer you cannot see (ask a sales manager)')} ({why})")
        else:
            found.append(f"{match['code']} {match['name']} ({why})")
    return _("This looks like an existing customer: %(existing)s. Open it instead, or tick "
             "“Create anyway” if it really is another customer.", existing="; ".join(found))


def _save_customer(env, form, customer=None):
    values, fields = _customer_input(form)
    force = bool(form.force.data)
    try:
        if customer is None:
            return partner_svc.create_customer(env, values, force=force)
        return partner_svc.update_customer(env, customer, values, force=force)
    except partner_svc.DuplicateCustomer as exc:
        raise ValidationError({"force": [_duplicate_text(exc)]}) from exc
    except ValidationError as exc:
        # messages on the contact / address fields they name; the rest at the top of the form
        raise ValidationError(_attach(form, exc, fields)) from exc


def _create_customer(env, form):
    return _save_customer(env, form)


def _update_customer(env, customer, form):
    return _save_customer(env, form, customer)


def _load_customer(env, customer) -> dict:
    return {
        "name": customer.name, "code": customer.code, "tax_id": customer.tax_id,
        "region": customer.region, "category": customer.category,
        "industry": customer.industry, "tier": customer.tier,
        "salesperson_id": customer.salesperson_id, "payment_term_id": customer.payment_term_id,
        "currency": customer.currency, "notes": customer.notes,
        "contacts": [{"contact_id": c.id, "name": c.name, "phone": c.phone, "email": c.email}
                     for c in customer.contacts] or [{}],
        "addresses": [{"address_id": a.id, "kind": a.kind, "street": a.street, "city": a.city,
                       "region": a.region, "postcode": a.postcode, "country": a.country}
                      for a in customer.addresses] or [{}],
    }


# -- shipments (warehouse) ---------------------------------------------------------------------


class ShipLineForm(Form):
    line_id = HiddenField()
    quantity = DecimalField("Ship now", places=None, validators=[Optional(), NumberRange(min=0)])


class ShipmentForm(FlaskForm):
    lines = FieldList(FormField(ShipLineForm))
    date = DateField("Shipment date", validators=[Optional()])
    reference = StringField("Reference", validators=[Optional(), Length(max=64)])
    note = TextAreaField("Note", validators=[Optional()])


@bp.route("/orders/<int:order_id>/ship", methods=["GET", "POST"])
@page(roles=("warehouse",))
def shipment_new(env, order_id):
    """Record a shipment of an approved order: a quantity per line (default: what remains)."""
    env.check_access("sale.shipment", "create")
    order = order_svc.get_order(env, order_id)
    if request.method == "POST":
        form = ShipmentForm()
    else:
        form = ShipmentForm(data={
            "date": env.today(),
            "lines": [{"line_id": ln.id, "quantity": Decimal(_qty_text(ln.qty_to_ship))}
                      for ln in order.lines]})
    errors: list[str] = []
    if form.validate_on_submit():
        quantities: dict[Any, Decimal] = {}
        fields: dict[str, Any] = {}
        for entry in form.lines:
            key = entry.form.line_id.data
            if entry.form.quantity.data is not None:
                quantities[key] = entry.form.quantity.data
            fields[f"quantities.{key}"] = entry.form.quantity
        try:
            with env.session.begin_nested():
                shipment_svc.record_shipment(env, order, quantities, date=form.date.data,
                                             reference=form.reference.data or None,
                                             note=form.note.data or None)
        except ValidationError as exc:
            errors = _lines(_attach(form, exc, fields))
        except TransitionBlocked as exc:
            errors = list(exc.reasons)
        else:
            flash(_("Shipment recorded.") + (" " + _("The order is fully shipped.")
                                             if order.state == "shipped" else ""), "success")
            return redirect(_order_url(order.id))
    by_line = {_opt_int(entry.form.line_id.data): entry for entry in form.lines}
    rows = [(line, by_line.get(line.id)) for line in order.lines]
    return render("sale/shipment_form.html", form=form, order=order, rows=rows, errors=errors,
                  can_ship=order.state == "approved")


# -- invoices (finance) ------------------------------------------------------------------------


@bp.post("/orders/<int:order_id>/invoice")
@page(roles=("finance",))
def invoice_new(env, order_id):
    """Create a draft invoice of what the order may be invoiced now, then show it (post it
    there with the workflow button)."""
    env.check_access("sale.invoice", "create")
    order = order_svc.get_order(env, order_id)
    try:
        with env.session.begin_nested():
            invoice = invoice_svc.create_invoice(env, order)
    except TransitionBlocked as exc:
        for reason in exc.reasons:
            flash(reason, "error")
        return redirect(_order_url(order.id))
    except (ValidationError, ConflictError) as exc:
        flash(str(exc), "error")
        return redirect(_order_url(order.id))
    flash(_("Draft invoice created. Check it, then post it."), "success")
    return redirect(url_for("web.record_page", record="sale.invoice", ident=invoice.id))


# -- payments (finance) ------------------------------------------------------------------------


class AllocationForm(Form):
    invoice_id = HiddenField()
    amount = DecimalField("Amount", places=None, validators=[Optional(), NumberRange(min=0)])


class PaymentForm(FlaskForm):
    customer_id = SelectField("Customer", coerce=_choice_id, validators=[DataRequired()])
    date = DateField("Payment date", validators=[DataRequired()])
    method = SelectField("Method", default="bank_transfer")
    amount = DecimalField("Amount", places=None, validators=[DataRequired(), NumberRange(min=0)])
    reference = StringField("Reference", validators=[Optional(), Length(max=64)])
    allocation = RadioField("Allocation", default="oldest")
    allocations = FieldList(FormField(AllocationForm))
    note = TextAreaField("Note", validators=[Optional()])


def _open_invoices(env, customer_id: int | None) -> list:
    if customer_id is None:
        return []
    Invoice = env["sale.invoice"]
    return env.search("sale.invoice", Invoice.customer_id == customer_id,
                      Invoice.kind == "invoice", Invoice.state == "posted",
                      Invoice.amount_residual > 0,
                      order_by=[func.coalesce(Invoice.due_date, Invoice.date), Invoice.date,
                                Invoice.id])


@bp.route("/payments/new", methods=["GET", "POST"])
@page(roles=("finance",))
def payment_new(env):
    """Register a payment received: ``?customer_id=`` (the customer's open invoices are listed)
    or ``?invoice_id=`` (that invoice's customer, allocated to it, its open amount)."""
    env.check_access("sale.payment", "create")
    Customer = env["sale.customer"]
    invoice = None
    if request.args.get("invoice_id"):
        invoice_id = _opt_int(request.args["invoice_id"])
        if invoice_id is None:
            abort(404)
        invoice = env.get("sale.invoice", invoice_id)  # hidden or missing: 404
    if request.method == "POST":
        form = PaymentForm()
        customer_id = _opt_int(request.form.get("customer_id"))
    else:
        customer_id = invoice.customer_id if invoice is not None else _opt_int(
            request.args.get("customer_id"))
        form = PaymentForm(data={"customer_id": customer_id, "date": env.today(),
                                 "allocation": "manual" if invoice is not None else "oldest"})
    customer = env.get("sale.customer", customer_id) if customer_id is not None else None
    open_invoices = _open_invoices(env, customer_id)
    if request.method == "GET":
        for inv in open_invoices:
            chosen = invoice is not None and inv.id == invoice.id
            form.allocations.append_entry({"invoice_id": inv.id,
                                           "amount": inv.amount_residual if chosen else None})
        if invoice is not None:
            form.amount.data = invoice.amount_residual
        elif open_invoices:
            form.amount.data = sum((Decimal(i.amount_residual) for i in open_invoices), Decimal(0))
    customers = env.search("sale.customer", Customer.merged_into_id.is_(None),
                           order_by=Customer.code)
    form.customer_id.choices = [("", "—")] + [(c.id, f"{c.code} {c.name}") for c in customers]
    form.method.choices = [(m, _(m.replace("_", " "))) for m in METHODS]
    form.allocation.choices = [("oldest", _("Oldest due invoices first")),
                               ("manual", _("The amounts entered per invoice"))]
    errors: list[str] = []
    if customer is not None and form.validate_on_submit():
        allocations = None
        fields: dict[str, Any] = {}
        if form.allocation.data == "manual":
            allocations = []
            for entry in form.allocations:
                amount = entry.form.amount.data
                invoice_id = hidden_id(entry.form.invoice_id)
                if amount is None or amount == 0 or invoice_id is None:
                    continue
                fields[f"allocations.{len(allocations)}.amount"] = entry.form.amount
                fields[f"allocations.{len(allocations)}.invoice_id"] = entry.form.amount
                allocations.append({"invoice_id": invoice_id, "amount": amount})
        try:
            with env.session.begin_nested():
                payment = payment_svc.register_payment(
                    env, customer_id=customer.id, amount=form.amount.data,
                    method=form.method.data, date=form.date.data,
                    reference=(form.reference.data or "").strip() or None,
                    allocations=allocations, note=form.note.data or None)
        except ValidationError as exc:
            errors = _lines(_attach(form, exc, fields))
        else:
            flash(_("Payment %(number)s registered.", number=payment.number), "success")
            return redirect(url_for("web.record_page", record="sale.payment", ident=payment.id))
    by_invoice = {_opt_int(e.form.invoice_id.data): e for e in form.allocations}
    rows = [(inv, by_invoice.get(inv.id)) for inv in open_invoices]
    return render("sale/payment_form.html", form=form, customer=customer, rows=rows,
                  errors=errors, invoice=invoice)


# -- what the order and invoice pages show (core.web.Panel) ------------------------------------


def _order_panel(env, order) -> dict[str, Any] | None:
    """The order page's next steps for this user: record a shipment (warehouse, an approved
    order with something left to ship), create an invoice (finance, something shipped and not
    invoiced yet), and the order's invoices. None: nothing to show."""
    actions = []
    if (order.state == "approved" and env.has_role("warehouse")
            and env.can("sale.shipment", "create")
            and any(line.qty_to_ship > 0 for line in order.lines)):
        actions.append({"label": _("Record shipment"), "method": "get",
                        "href": url_for("sale_flow.shipment_new", order_id=order.id)})
    if (order.state in ("approved", "shipped") and env.has_role("finance")
            and env.can("sale.invoice", "create")):
        policy = invoice_svc.invoice_policy(env)
        if any(invoice_svc.invoiceable_quantity(line, policy) > 0 for line in order.lines):
            actions.append({"label": _("Create invoice"), "method": "post",
                            "href": url_for("sale_flow.invoice_new", order_id=order.id)})
    invoices = []
    if env.can("sale.invoice", "read"):
        Invoice = env["sale.invoice"]
        invoices = env.search("sale.invoice", Invoice.order_id == order.id, order_by=Invoice.id)
    if not actions and not invoices:
        return None
    return {"actions": actions, "invoices": invoices}


def _revisions_panel(env, order) -> dict[str, Any] | None:
    """An amended order's earlier revisions, newest first: number, when, who, why and what
    changed up to the next revision (the order as it was approved again, or the draft being
    amended). None for an order never amended."""
    if not order.revision:
        return None
    Revision, User = env["sale.order.revision"], env["res.user"]
    rows = env.search("sale.order.revision", Revision.order_id == order.id,
                      order_by=Revision.revision.desc())
    if not rows:
        return None
    ids = {r.user_id for r in rows if r.user_id is not None}
    names = dict(env.session.execute(select(User.id, User.name).where(User.id.in_(ids))).all()) \
        if ids else {}
    return {"revisions": [
        {"revision": r.revision, "reason": r.reason,
         "at": r.created_at if r.created_at.tzinfo else r.created_at.replace(tzinfo=dt.UTC),
         "user": names.get(r.user_id, _("system")), "changes": [diff_text(d) for d in r.diff]}
        for r in rows]}


#: the labels of ``services.order.diff_snapshots``'s fields (msgids of the sale catalog)
_DIFF_LABELS = {
    "customer": "Customer", "payment_term": "Payment term", "salesperson_id": "Salesperson",
    "date_order": "Order date", "validity_date": "Valid until", "currency": "Currency",
    "note": "Note", "product_id": "Product", "description": "Description",
    "quantity": "Quantity", "unit_price": "Unit price", "discount": "Discount", "tax": "Tax code",
    "amount_untaxed": "Untaxed", "amount_tax": "Tax", "amount_total": "Total",
}


def diff_text(entry: dict) -> str:
    """One entry of a revision's diff in the user's language (its stored ``text`` is English;
    an entry this does not know is shown as that text)."""
    def show(value) -> str:
        return _("(none)") if value is None or value == "" else str(value)

    kind = entry.get("kind")
    label = _DIFF_LABELS.get(entry.get("field"))
    if kind in ("order", "total") and label:
        return _("%(label)s: %(old)s → %(new)s", label=_(label), old=show(entry.get("old")),
                 new=show(entry.get("new")))
    if kind == "line" and label and "sequence" in entry:
        return _("line %(sequence)s %(description)s: %(label)s %(old)s → %(new)s",
                 sequence=entry["sequence"], description=repr(entry["description"]),
                 label=_(label), old=show(entry.get("old")), new=show(entry.get("new")))
    line = entry.get("line")
    if kind in ("line_added", "line_removed") and isinstance(line, dict):
        values = {"sequence": line.get("sequence"), "description": repr(line.get("description")),
                  "quantity": line.get("quantity"), "price": line.get("unit_price")}
        if kind == "line_removed":
            return _("removed line %(sequence)s %(description)s: %(quantity)s × %(price)s",
                     **values)
        text = _("added line %(sequence)s %(description)s: %(quantity)s × %(price)s", **values)
        if line.get("discount") not in (None, "0"):
            text += _(" less %(discount)s %%", discount=line["discount"])
        return text
    return str(entry.get("text", ""))


def _invoice_panel(env, invoice) -> dict[str, Any] | None:
    """The invoice page's payment panel: what is open, "Register payment" (finance) and the
    payments allocated to it."""
    if invoice.kind != "invoice" or invoice.state not in ("posted", "paid"):
        return None
    actions = []
    if (invoice.state == "posted" and Decimal(invoice.amount_residual) > 0
            and env.has_role("finance") and env.can("sale.payment", "create")):
        actions.append({"label": _("Register payment"), "method": "get",
                        "href": url_for("sale_flow.payment_new", invoice_id=invoice.id)})
    Allocation = env["sale.payment.allocation"]
    allocations = []
    if env.can("sale.payment.allocation", "read"):
        allocations = env.search("sale.payment.allocation", Allocation.invoice_id == invoice.id,
                                 order_by=Allocation.id)
    return {"actions": actions, "allocations": allocations}


@bp.app_template_global()
def sale_order_form_data() -> dict[str, Any]:
    """What the order form's script needs to show totals before saving: per product its list
    price and tax (rate as a fraction, included or not), per customer the currency's symbol
    and minor digits. Decimal values are sent as text: the script never parses them as floats."""
    env = g.get("env")
    if env is None:
        return {"products": {}, "customers": {}}
    Product, Customer = env["sale.product"], env["sale.customer"]
    products = {}
    for p in env.search("sale.product", Product.active.is_(True)):
        tax = p.tax
        products[str(p.id)] = {
            "price": _money_text(p.list_price),
            "rate": _qty_text(Decimal(tax.rate)) if tax is not None and tax.rate else "0",
            "included": bool(tax is not None and tax.price_include),
        }
    digits = {c.code: c.digits for c in env.search("sale.currency")}
    locale = get_locale()
    customers = {}
    for c in env.search("sale.customer", Customer.active.is_(True)):
        code = c.currency or "CNY"
        customers[str(c.id)] = {
            "symbol": get_currency_symbol(code, locale=locale),
            "digits": digits.get(code, CURRENCY_DIGITS.get(code, 2)),
        }
    return {"products": products, "customers": customers}


# -- mass actions on the order lists (the batch services: one transaction, all or nothing) ------


def _approve_selected(env, orders) -> str:
    outcomes = order_svc.approve_orders(env, orders)
    pending = sum(1 for o in outcomes if not o.done)
    done = len(outcomes) - pending
    if pending:
        return _("%(done)d approved; %(pending)d recorded your approval and need another level",
                 done=done, pending=pending)
    return _("%(n)d orders approved", n=done)


def _ship_selected(env, orders) -> str:
    shipments = shipment_svc.record_shipments(env, orders)
    return _("%(n)d orders shipped in full", n=len(shipments))


def _invoice_selected(env, orders) -> str:
    invoices = invoice_svc.invoice_orders(env, orders, post=True)
    return _("%(n)d invoices created and posted", n=len(invoices))


ORDER_ACTIONS = [
    action
    for list_name in ("sale.quotation", "sale.order")
    for action in [ListAction(list_name, "approve", "Approve", run=_approve_selected,
                              roles=SELLERS, order=10)]
] + [
    ListAction("sale.order", "ship", "Ship in full", run=_ship_selected, roles=("warehouse",),
               order=20),
    ListAction("sale.order", "invoice", "Invoice and post", run=_invoice_selected,
               roles=("finance",), order=30),
]


VIEWS = Views(
    menus=[Menu("sale_payment_new", "Register payment", "登记收款", "sale_flow.payment_new",
                roles=("finance",), record="sale.payment", order=33)],
    forms=[FormView("sale.customer", form=CustomerForm, create=_create_customer,
                    update=_update_customer, load=_load_customer, prepare=_prepare_customer_form,
                    editable=lambda customer: customer.merged_into_id is None,
                    template="sale/customer_form.html")],
    panels=[Panel("sale.order", "sale_fulfilment", "Shipping and invoicing",
                  template="sale/_order_panel.html", load=_order_panel, order=5),
            Panel("sale.order", "sale_revisions", "Revisions",
                  template="sale/_revisions_panel.html", load=_revisions_panel,
                  records=("sale.order.revision",), place="main", order=20),
            Panel("sale.invoice", "sale_collection", "Payments received",
                  template="sale/_invoice_panel.html", load=_invoice_panel, order=5)],
    actions=ORDER_ACTIONS,
)
