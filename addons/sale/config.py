"""Settings of the sale addon: ``[addon.sale]`` in a client config."""

from marshmallow import Schema, fields, validate

from core.config import DecimalString


class SaleConfig(Schema):
    #: invoice what was shipped ("shipped") or what was ordered ("ordered")
    invoice_policy = fields.String(load_default="shipped", validate=validate.OneOf(["shipped", "ordered"]))
    #: days a quotation stays valid when no validity date is given
    quotation_validity_days = fields.Integer(load_default=30, validate=validate.Range(min=1, max=365))
    #: default tax code for products without one
    default_tax = fields.String(load_default="VAT13")
    #: company currency
    company_currency = fields.String(load_default="CNY", validate=validate.Regexp(r"^[A-Z]{3}$"))
    #: tolerance below which a payment difference is ignored
    payment_tolerance = DecimalString(load_default="0.00")
    #: the company printed on quotations, orders and invoices (default: ``[client] name``)
    company_name = fields.String(load_default=None, allow_none=True)
    company_address = fields.String(load_default=None, allow_none=True)
    company_tax_id = fields.String(load_default=None, allow_none=True)
    company_phone = fields.String(load_default=None, allow_none=True)
    #: bank and account number (开户行及账号), printed on documents
    company_bank = fields.String(load_default=None, allow_none=True)
    #: a TrueType font (.ttf, or .ttc with ``pdf_font_index``) with Chinese glyphs for PDF
    #: documents; default: found on the system (fonts-wqy-zenhei, see core.pdf)
    pdf_font = fields.String(load_default=None, allow_none=True)
    pdf_font_index = fields.Integer(load_default=0, validate=validate.Range(min=0))
