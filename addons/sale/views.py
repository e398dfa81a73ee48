"""Web UI of the sale addon: menus, lists, forms and pages (declared for ``core.web``), plus the
pages the generic ones cannot show (receivables aging) on the ``sale_web`` blueprint.

Every page reads through ``env`` (record rules apply: a salesperson opening another
salesperson's order gets a 404) and changes go through the services, never by writing state.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from flask import Blueprint, request
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    DecimalField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    SelectField,
    TextAreaField,
)
from wtforms.validators import DataRequired, NumberRange, Optional

from core.api import DATE_MAX, DATE_MIN
from core.web import Child, Column, Filter, FormView, ListView, Menu, RecordPage, Views
from core.web.base import error_page, page, render
from core.workflow.engine import Outcome

from .services import invoice as invoice_svc
from .services import order as order_svc
from .services import partner as partner_svc
from .services import receivables as receivables_svc

SELLERS = ("salesperson", "sales_manager", "director")
ORDER_STATES = [(s, s) for s in ("draft", "approved", "shipped", "invoiced", "paid", "cancelled")]
INVOICE_STATES = [(s, s) for s in ("draft", "posted", "paid", "cancelled")]
TIERS = [("key", "key account"), ("normal", "normal")]
BLANK_LINES = 1  # more with the form's "Add a line" button (static/sale_forms.js)

# -- orders ------------------------------------------------------------------------------------


class LineForm(Form):
    """One order line (a subform: the outer form carries the CSRF token)."""

    line_id = HiddenField()  # not ``id``: FormField has an ``id`` of its own
    product_id = SelectField("Product", coerce=lambda v: int(v) if v not in (None, "", "None") else None,
                             validators=[Optional()])
    quantity = DecimalField("Quantity", places=None, validators=[Optional(), NumberRange(min=0)])
    unit_price = DecimalField("Unit price", places=None, validators=[Optional(), NumberRange(min=0)])
    discount = DecimalField("Discount", places=None, validators=[Optional(), NumberRange(0, 100)])


class OrderForm(FlaskForm):
    customer_id = SelectField("Customer", coerce=int, validators=[DataRequired()])
    date_order = DateField("Order date", validators=[Optional()])
    validity_date = DateField("Valid until", validators=[Optional()])
    note = TextAreaField("Note", validators=[Optional()])
    lines = FieldList(FormField(LineForm), min_entries=1)


def _prepare_order_form(env, form) -> None:
    customers = env.search("sale.customer", env["sale.customer"].active.is_(True),
                           order_by=env["sale.customer"].name)
    form.customer_id.choices = [(c.id, f"{c.code} {c.name}") for c in customers]
    Product = env["sale.product"]
    products = [("", "—")] + [(p.id, f"{p.sku} {p.name}")
                              for p in env.search("sale.product", Product.active.is_(True),
                                                  order_by=Product.sku)]
    while len(form.lines.entries) < len([e for e in form.lines.entries if e.product_id.data]) + BLANK_LINES:
        form.lines.append_entry()
    for entry in form.lines.entries:
        entry.product_id.choices = products


def _line_specs(form) -> list[dict]:
    specs = []
    for entry in form.lines.entries:
        if not entry.product_id.data:
            continue
        spec = {"product_id": entry.product_id.data, "quantity": entry.quantity.data,
                "unit_price": entry.unit_price.data}
        if entry.discount.data is not None:
            spec["discount"] = entry.discount.data
        if entry.line_id.data:
            from .web_flow import hidden_id  # a tampered id is a 400, not a 500

            spec["id"] = hidden_id(entry.line_id)
        specs.append(spec)
    return specs


def _create_order(env, form):
    return order_svc.create_order(env, customer_id=form.customer_id.data, lines=_line_specs(form),
                                  date_order=form.date_order.data,
                                  validity_date=form.validity_date.data,
                                  note=form.note.data or None)


def _update_order(env, order, form):
    changes = {"customer_id": form.customer_id.data, "lines": _line_specs(form),
               "note": form.note.data or None}
    if form.date_order.data:
        changes["date_order"] = form.date_order.data
    if form.validity_date.raw_data:  # sent: emptied, it is refused on its field, not ignored
        changes["validity_date"] = form.validity_date.data
    return order_svc.update_order(env, order, **changes)


def _load_order(env, order) -> dict:
    return {"customer_id": order.customer_id, "date_order": order.date_order,
            "validity_date": order.validity_date, "note": order.note,
            "lines": [{"line_id": line.id, "product_id": line.product_id, "quantity": line.quantity,
                       "unit_price": line.unit_price, "discount": line.discount or None}
                      for line in order.lines]}


def _fire_order(env, order, trigger, comment):
    return order_svc.fire_order_trigger(env, order, trigger, comment)


# -- invoices ----------------------------------------------------------------------------------


def _fire_invoice(env, invoice, trigger, comment):
    source = invoice.state
    if trigger == "post":
        invoice_svc.post_invoice(env, invoice)
    elif trigger == "cancel":
        invoice_svc.cancel_invoice(env, invoice, comment=comment)
    else:
        return invoice.fire(trigger, comment=comment)
    return Outcome(trigger, source, invoice.state, True)


# -- customers ---------------------------------------------------------------------------------


def _customer_extra(env, customer) -> dict:
    return {"history": partner_svc.customer_history(env, customer, limit=10)}


# -- declarations ------------------------------------------------------------------------------

ORDER_COLUMNS = [
    Column("number", "Number", link=True), Column("customer.name", "Customer"),
    Column("date_order", "Order date", "date"), Column("amount_total", "Total", "money"),
    Column("state", "State", "state"),
]
LINE_COLUMNS = [
    Column("product.sku", "SKU"), Column("description", "Description"),
    Column("quantity", "Quantity", "decimal"), Column("unit_price", "Unit price", "decimal"),
    Column("discount", "Discount", "decimal"), Column("amount_untaxed", "Untaxed", "money",
                                                        currency_field="order.currency"),
    Column("amount_total", "Total", "money", currency_field="order.currency"),
    Column("qty_shipped", "Shipped", "decimal"), Column("qty_invoiced", "Invoiced", "decimal"),
]
INVOICE_COLUMNS = [
    Column("number", "Number", link=True), Column("customer.name", "Customer"),
    Column("date", "Date", "date"), Column("due_date", "Due date", "date"),
    Column("amount_total", "Total", "money"), Column("amount_residual", "Open", "money"),
    Column("state", "State", "state"),
]
PAYMENT_COLUMNS = [
    Column("number", "Number", link=True), Column("customer.name", "Customer"),
    Column("date", "Date", "date"), Column("method", "Method"),
    Column("amount", "Amount", "money"), Column("amount_unallocated", "Unallocated", "money"),
]
CUSTOMER_COLUMNS = [
    Column("code", "Code", link=True), Column("name", "Name", link=True),
    Column("region", "Region"), Column("tier", "Tier"), Column("salesperson.name", "Salesperson"),
]

VIEWS = Views(
    menus=[
        Menu("sale_customers", "Customers", "客户", "web.record_list",
             args={"name": "sale.customer"}, record="sale.customer", order=10),
        Menu("sale_quotations", "Quotations", "报价单", "web.record_list",
             args={"name": "sale.quotation"}, record="sale.order", order=20),
        Menu("sale_orders", "Sales orders", "销售订单", "web.record_list",
             args={"name": "sale.order"}, record="sale.order", order=21),
        Menu("sale_invoices", "Invoices", "发票", "web.record_list",
             args={"name": "sale.invoice"}, record="sale.invoice", order=30),
        Menu("sale_payments", "Payments", "收款", "web.record_list",
             args={"name": "sale.payment"}, record="sale.payment", order=31),
        Menu("sale_aging", "Aging analysis", "账龄分析", "sale_web.aging",
             roles=("finance", "sales_manager", "director"), record="sale.invoice", order=32),
        Menu("sale_products", "Products", "产品", "web.record_list",
             args={"name": "sale.product"}, record="sale.product", order=40),
    ],
    lists=[
        ListView("sale.customer", title="Customers", columns=CUSTOMER_COLUMNS,
                 search=["code", "name", "tax_id"],
                 filters=[Filter("region", "Region"), Filter("tier", "Tier", choices=TIERS)],
                 sortable=["code", "name", "region"], default_sort="code",
                 base=lambda env, cls: [cls.merged_into_id.is_(None)]),
        ListView("sale.quotation", record="sale.order", title="Quotations", columns=ORDER_COLUMNS,
                 search=["number"], sortable=["number", "date_order", "amount_total"],
                 default_sort="-date_order", base=lambda env, cls: [cls.state == "draft"]),
        ListView("sale.order", title="Sales orders", columns=ORDER_COLUMNS, search=["number"],
                 filters=[Filter("state", "State", choices=ORDER_STATES)],
                 sortable=["number", "date_order", "amount_total", "state"],
                 default_sort="-date_order", page_size=50),
        ListView("sale.product", title="Products",
                 columns=[Column("sku", "SKU"), Column("name", "Name"), Column("unit", "Unit"),
                          Column("list_price", "List price", "decimal"),
                          Column("active", "Active", "bool")],
                 search=["sku", "name"], sortable=["sku", "name", "list_price"], default_sort="sku"),
        ListView("sale.invoice", title="Invoices", columns=INVOICE_COLUMNS, search=["number"],
                 filters=[Filter("state", "State", choices=INVOICE_STATES)],
                 sortable=["number", "date", "due_date", "amount_total"], default_sort="-id"),
        ListView("sale.payment", title="Payments", columns=PAYMENT_COLUMNS,
                 search=["number", "reference"], sortable=["number", "date", "amount"],
                 default_sort="-date"),
    ],
    forms=[
        FormView("sale.order", form=OrderForm, create=_create_order, update=_update_order,
                 load=_load_order, prepare=_prepare_order_form,
                 editable=lambda order: order.state == "draft", template="sale/order_form.html"),
    ],
    pages=[
        RecordPage("sale.order", title="number",
                   fields=[Column("customer.name", "Customer"),
                           Column("salesperson.name", "Salesperson"),
                           Column("date_order", "Order date", "date"),
                           Column("validity_date", "Valid until", "date"),
                           Column("payment_term.name", "Payment term"),
                           Column("revision", "Revision"), Column("note", "Note")],
                   children=[Child("Lines", "lines", LINE_COLUMNS)],
                   load=lambda env, ident: order_svc.get_order(env, ident),
                   fire=_fire_order, template="sale/order.html"),
        RecordPage("sale.customer", title="name",
                   fields=[Column("code", "Code"), Column("tax_id", "Tax ID"),
                           Column("region", "Region"), Column("tier", "Tier"),
                           Column("industry", "Industry"),
                           Column("salesperson.name", "Salesperson"),
                           Column("payment_term.name", "Payment term"),
                           Column("currency", "Currency"), Column("notes", "Notes")],
                   children=[Child("Contacts", "contacts",
                                   [Column("name", "Name"), Column("phone", "Phone"),
                                    Column("email", "Email")])],
                   extra=_customer_extra, template="sale/customer.html"),
        RecordPage("sale.invoice", title="number",
                   fields=[Column("customer.name", "Customer"), Column("order.number", "Order"),
                           Column("kind", "Kind"), Column("date", "Date", "date"),
                           Column("due_date", "Due date", "date"),
                           Column("amount_untaxed", "Untaxed", "money"),
                           Column("amount_tax", "Tax", "money"),
                           Column("amount_total", "Total", "money"),
                           Column("amount_residual", "Open", "money"),
                           Column("currency_rate", "Exchange rate", "decimal"),
                           Column("amount_total_company", "Total in company currency", "money",
                                  currency_field="company_currency")],
                   children=[Child("Lines", "lines",
                                   [Column("description", "Description"),
                                    Column("quantity", "Quantity", "decimal"),
                                    Column("unit_price", "Unit price", "decimal"),
                                    Column("amount_total", "Total", "money",
                                           currency_field="invoice.currency")])],
                   fire=_fire_invoice),
        RecordPage("sale.payment", title="number",
                   fields=[Column("customer.name", "Customer"), Column("date", "Date", "date"),
                           Column("method", "Method"), Column("reference", "Reference"),
                           Column("amount", "Amount", "money"),
                           Column("amount_unallocated", "Unallocated", "money"),
                           Column("currency_rate", "Exchange rate", "decimal"),
                           Column("amount_company", "Amount in company currency", "money",
                                  currency_field="company_currency")],
                   children=[Child("Allocations", "allocations",
                                   [Column("invoice.number", "Invoice"),
                                    Column("date", "Date", "date"),
                                    Column("amount", "Amount", "money",
                                           currency_field="invoice.currency")])],
                   workflow=False),
    ],
)


# -- pages of its own --------------------------------------------------------------------------

bp = Blueprint("sale_web", __name__, url_prefix="/sale")


@bp.get("/aging")
@page(roles=("finance", "sales_manager", "director", "admin"))
def aging(env):
    """Receivables aging (账龄分析) per customer on a date (``?as_of=YYYY-MM-DD``)."""
    env.check_access("sale.invoice", "read")
    # checked, not ignored: a typo silently showed today's aging, an early date was a 500
    for name in request.args:
        if name != "as_of":
            return error_page(400, _("%(name)s: not a parameter of this page", name=name))
    try:
        as_of = dt.date.fromisoformat(request.args["as_of"]) if request.args.get("as_of") else None
    except ValueError:
        return error_page(400, _("as_of: not a date (YYYY-MM-DD)"))
    if as_of is not None and not DATE_MIN <= as_of <= DATE_MAX:  # the API's bounds: the
        return error_page(400, _("as_of: out of range"))        # buckets' arithmetic fits
    rows = receivables_svc.aging(env, as_of=as_of, group_by="customer")
    totals = receivables_svc.aging_totals(rows) if rows else None
    return render("sale/aging.html", rows=rows, totals=totals, buckets=receivables_svc.BUCKETS,
                  as_of=as_of or env.today(), currency=env.settings("sale")["company_currency"],
                  zero=Decimal("0"))

