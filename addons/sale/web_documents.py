"""The printed documents on the web: ``/sale/orders/<id>/quotation.pdf`` (the quotation, or the
sales order once approved) and ``/sale/invoices/<id>/invoice.pdf`` (invoice or credit note),
and a "Print" panel with their links on the order and invoice pages.

Read as the signed-in user, like the record pages: anonymous → the login page, a hidden or
missing record → 404. ``?lang=en|zh_CN`` chooses the language (default: the customer's). The PDF
is shown in the browser (``Content-Disposition: inline``, named after the document number).
"""

from __future__ import annotations

from flask import Blueprint, request, url_for
from flask_babel import gettext as _

from core.pdf import FontNotFound
from core.web import Panel, Views
from core.web.base import error_page, page

from .api.documents import pdf_response
from .services import documents as svc

bp = Blueprint("sale_documents", __name__, url_prefix="/sale")

#: the languages offered beside the default one, each named in itself
LANGUAGES = (("zh_CN", "中文"), ("en", "English"))


def _lang() -> str | None:
    lang = request.args.get("lang")
    return lang if lang in svc.LOCALES else None


def _send(make, env, ident):
    try:
        filename, payload = make(env, ident, _lang())
    except FontNotFound as exc:
        return error_page(503, _("The PDF cannot be made on this server: %(reason)s",
                                 reason=str(exc)))
    return pdf_response(filename, payload, disposition="inline")


@bp.get("/orders/<int:ident>/quotation.pdf")
@page()
def quotation_pdf(env, ident):
    """The order as a PDF: a quotation while draft, else a sales order."""
    return _send(svc.order_pdf, env, ident)


@bp.get("/invoices/<int:ident>/invoice.pdf")
@page()
def invoice_pdf(env, ident):
    """The invoice or credit note as a PDF."""
    return _send(svc.invoice_pdf, env, ident)


def _panel(endpoint: str, title):
    def load(env, record) -> dict:
        href = url_for(endpoint, ident=record.id)
        return {"title": title(record), "href": href,
                "languages": [(label, code, url_for(endpoint, ident=record.id, lang=code))
                              for code, label in LANGUAGES]}

    return load


_order_panel = _panel("sale_documents.quotation_pdf",
                      lambda order: "Quotation" if order.state == "draft" else "Sales order")
_invoice_panel = _panel("sale_documents.invoice_pdf",
                        lambda invoice: "Credit note" if invoice.kind == "credit_note" else "Invoice")

VIEWS = Views(
    panels=[Panel("sale.order", "sale_documents", "Print", template="sale/_documents_panel.html",
                  load=_order_panel, order=1),
            Panel("sale.invoice", "sale_documents", "Print",
                  template="sale/_documents_panel.html", load=_invoice_panel, order=1)],
)
