"""REST endpoints: the printed documents as PDF (``GET /orders/{id}/pdf``,
``GET /invoices/{id}/pdf``). Thin views over ``services.documents``.

The record is read as for ``GET /orders/{id}``: a hidden or missing one is a 404, a role that
may not read it a 403. ``?lang=en|zh_CN`` chooses the language (default: the customer's). The
body is ``application/pdf`` with ``Content-Disposition: attachment; filename="<number>.pdf"``.
A server without a CJK font answers 503 ``unavailable`` saying what to install.
"""

from __future__ import annotations

from flask import Response, request

from core.errors import ValidationError

from ..services import documents as svc
from . import bp

QUERY = {"lang": "language of the document: en or zh_CN (default: the customer's language)"}


def _lang() -> str | None:
    lang = request.args.get("lang") or None
    if lang is not None and lang not in svc.LOCALES:
        raise ValidationError({"lang": [f"one of {', '.join(svc.LOCALES)}"]})
    return lang


def pdf_response(filename: str, payload: bytes, disposition: str = "attachment") -> Response:
    resp = Response(payload, status=200, mimetype="application/pdf")
    resp.headers["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    resp.headers["Cache-Control"] = "private, no-store"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    return resp


@bp.endpoint("/orders/<int:order_id>/pdf", summary="The quotation or sales order as a PDF",
             tag="orders", produces="application/pdf", query=QUERY)
def order_pdf(env, order_id):
    return pdf_response(*svc.order_pdf(env, order_id, _lang()))


@bp.endpoint("/invoices/<int:invoice_id>/pdf", summary="The invoice or credit note as a PDF",
             tag="invoices", produces="application/pdf", query=QUERY)
def invoice_pdf(env, invoice_id):
    return pdf_response(*svc.invoice_pdf(env, invoice_id, _lang()))
