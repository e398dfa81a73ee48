"""Printed documents (PDF): the quotation / sales order of an order, the invoice / credit note.

``order_pdf(env, order_id, lang=None)`` and ``invoice_pdf(env, invoice_id, lang=None)`` return
``(filename, pdf bytes)``. The record is read through ``env`` like its page: access rights and
record rules apply (a hidden or missing record is ``NotFound``, a role without read access
``AccessDenied``); nothing is written. The data is gathered here (``order_document``,
``invoice_document``) and drawn by ``sale.documents.render_pdf``.

* **Language**: ``lang`` when given (``en`` or ``zh_CN``), else the customer's language
  (``sale.customer.lang``), else the client's ``[client] locale``: the document goes to the
  customer, so it speaks the customer's language whoever prints it.
* **Title**: a draft order is a quotation (报价单), any other state a sales order (销售订单;
  cancelled ones marked so); an invoice (发票) or a credit note (红字发票), drafts marked.
* **Company**: ``[addon.sale] company_name`` (default ``[client] name``), ``company_address``,
  ``company_tax_id``, ``company_phone``, ``company_bank``.
* **Font**: ``[addon.sale] pdf_font`` (and ``pdf_font_index``), else a system CJK font
  (``core.pdf``); none found and Chinese text to draw: ``core.pdf.FontNotFound`` (HTTP 503).
"""

from __future__ import annotations

from decimal import Decimal

from core.errors import AccessDenied, NotFound
from core.pdf import FontFile, find_cjk_font

from .. import documents as docs
from .order import get_order

LOCALES = ("en", "zh_CN")


def pdf_font(env) -> FontFile | None:
    """The configured font, else a system CJK font, else None (see ``core.pdf``)."""
    settings = env.settings("sale")
    return find_cjk_font(settings.get("pdf_font"), settings.get("pdf_font_index") or 0,
                         setting=docs.FONT_SETTING)


def document_lang(env, customer, lang: str | None = None) -> str:
    for candidate in (lang, getattr(customer, "lang", None), env.config.locale):
        if candidate in LOCALES:
            return candidate
    return "en"


def company(env) -> docs.Company:
    s = env.settings("sale")
    return docs.Company(name=s.get("company_name") or env.config.name,
                        address=s.get("company_address"), tax_id=s.get("company_tax_id"),
                        phone=s.get("company_phone"), bank=s.get("company_bank"))


def address_text(customer, lang: str) -> str | None:
    """The customer's billing address (else its first one) on one line."""
    addresses = list(customer.addresses or [])
    if not addresses:
        return None
    address = next((a for a in addresses if a.kind == "billing"), addresses[0])
    country = address.country if address.country and address.country != "CN" else None
    if lang.startswith("zh"):
        text = "".join(p for p in (address.region, address.city, address.street) if p)
        return " ".join(p for p in (text, address.postcode, country) if p)
    city = " ".join(p for p in (address.city, address.postcode) if p)
    return ", ".join(p for p in (address.street, city, address.region, country) if p)


def party(customer, lang: str) -> docs.Party:
    return docs.Party(name=customer.name, code=customer.code, tax_id=customer.tax_id,
                      address=address_text(customer, lang))


def _preload(env, record: str, ids) -> dict:
    """Records by id in one SELECT (through env), so that ``line.product`` needs no query."""
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    cls = env[record]
    try:
        return {r.id: r for r in env.search(record, cls.id.in_(ids))}
    except AccessDenied:
        return {}


def _lines(env, lines) -> list[docs.Line]:
    products = _preload(env, "sale.product", (line.product_id for line in lines))
    taxes = _preload(env, "sale.tax", (line.tax_id for line in lines))
    out = []
    for line in lines:
        product = products.get(line.product_id)
        tax = taxes.get(line.tax_id)
        out.append(docs.Line(
            sku=product.sku if product is not None else "",
            description=line.description or (product.name if product is not None else ""),
            quantity=line.quantity, unit=product.unit if product is not None else "",
            unit_price=line.unit_price, discount=line.discount or Decimal("0"),
            tax_rate=tax.rate if tax is not None else None, amount_untaxed=line.amount_untaxed,
            amount_tax=line.amount_tax, amount_total=line.amount_total))
    return out


def _name(record) -> str | None:
    return None if record is None else record.name


def _get(env, record: str, ident):
    if ident is None:
        return None
    try:
        return env.get(record, ident)
    except (NotFound, AccessDenied):
        return None


def order_document(env, order_id, lang: str | None = None) -> docs.Document:
    """The quotation (draft) or sales order of ``order_id`` as document data."""
    order = get_order(env, order_id)
    customer = order.customer
    lang = document_lang(env, customer, lang)
    lines = _lines(env, order.lines)
    draft = order.state == "draft"
    header = [("Order date", order.date_order)]
    if draft:
        header.append(("Valid until", order.validity_date))
    if order.revision:
        header.append(("Revision", str(order.revision)))
    term = order.payment_term or customer.payment_term
    notes = [("Note", order.note or "")]
    if order.state == "cancelled":
        notes.append(("Cancellation reason", order.cancel_reason or ""))
    return docs.Document(
        kind="quotation" if draft else "order", number=order.number, currency=order.currency,
        lang=lang, company=company(env), customer=party(customer, lang), header=header,
        terms=[("Salesperson", _name(order.salesperson)), ("Payment term", _name(term)),
               ("Currency", order.currency)],
        lines=lines, amount_untaxed=order.amount_untaxed, amount_tax=order.amount_tax,
        amount_total=order.amount_total, taxes=docs.tax_totals(lines),
        status="Cancelled" if order.state == "cancelled" else None, notes=notes, signature=True)


def invoice_document(env, invoice_id, lang: str | None = None) -> docs.Document:
    """The invoice or credit note ``invoice_id`` as document data."""
    invoice = env.get("sale.invoice", invoice_id)
    customer = invoice.customer
    lang = document_lang(env, customer, lang)
    lines = _lines(env, invoice.lines)
    order = invoice.order
    salesperson = order.salesperson if order is not None else customer.salesperson
    term = _get(env, "sale.payment_term", invoice.payment_term_id)
    if term is None:
        term = (order.payment_term if order is not None else None) or customer.payment_term
    terms = [("Order", order.number if order is not None else None)]
    credit = invoice.kind == "credit_note"
    if credit:
        original = _get(env, "sale.invoice", invoice.reversed_invoice_id)
        terms.append(("Reverses invoice", original.number if original is not None else None))
    terms += [("Salesperson", _name(salesperson)), ("Payment term", _name(term)),
              ("Currency", invoice.currency)]
    status = {"draft": "Draft", "cancelled": "Cancelled"}.get(invoice.state)
    return docs.Document(
        kind="credit_note" if credit else "invoice", number=invoice.number,
        currency=invoice.currency, lang=lang, company=company(env),
        customer=party(customer, lang),
        header=[("Invoice date", invoice.date), ("Due date", None if credit else invoice.due_date)],
        terms=terms, lines=lines, amount_untaxed=invoice.amount_untaxed,
        amount_tax=invoice.amount_tax, amount_total=invoice.amount_total,
        taxes=docs.tax_totals(lines), status=status,
        notes=[("Reason", invoice.reason or ""), ("Note", invoice.note or "")])


def filename(doc: docs.Document, ident) -> str:
    """``SO-2026-000001.pdf`` from the number (``invoice-draft-12.pdf`` before it has one)."""
    if doc.number:
        safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in doc.number)
        return f"{safe}.pdf"
    return f"{doc.kind.replace('_', '-')}-draft-{ident}.pdf"


def order_pdf(env, order_id, lang: str | None = None) -> tuple[str, bytes]:
    doc = order_document(env, order_id, lang)
    return filename(doc, order_id), docs.render_pdf(doc, pdf_font(env))


def invoice_pdf(env, invoice_id, lang: str | None = None) -> tuple[str, bytes]:
    doc = invoice_document(env, invoice_id, lang)
    return filename(doc, invoice_id), docs.render_pdf(doc, pdf_font(env))
