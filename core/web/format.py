"""Values as the user's locale writes them (Babel). Money comes from ``Decimal``, never float."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from flask_babel import format_currency, format_date, format_datetime, format_decimal, gettext
from markupsafe import Markup, escape


def money(value: Any, currency: str | None = None) -> str:
    if value is None or value == "":
        return ""
    if not isinstance(value, Decimal):
        value = Decimal(str(value))
    return format_currency(value, currency or "CNY")


def decimal(value: Any) -> str:
    if value is None or value == "":
        return ""
    if not isinstance(value, Decimal):
        value = Decimal(str(value))
    return format_decimal(value)


def date(value: Any) -> str:
    if not value:
        return ""
    if isinstance(value, str):
        value = dt.date.fromisoformat(value[:10])
    if isinstance(value, dt.datetime):
        value = value.date()
    return format_date(value, "medium")


def datetime(value: Any) -> str:
    if not value:
        return ""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return format_datetime(value, "medium")


def state(value: Any) -> Markup:
    """A state as a badge, its label translated (msgid: the state code)."""
    if value is None:
        return Markup("")
    code = str(value)
    label = gettext(code.replace("_", " "))
    return Markup('<span class="badge badge-{}">{}</span>').format(
        "".join(c for c in code if c.isalnum() or c == "_"), label)


def boolean(value: Any) -> str:
    return gettext("yes") if value else gettext("no")


def cell(record: Any, column) -> Any:
    """The formatted value of ``column`` for ``record`` (dotted paths follow relationships)."""
    value = resolve(record, column.field)
    kind = column.format
    if kind == "money":
        return money(value, resolve(record, column.currency_field) or None)
    if kind == "date":
        return date(value)
    if kind == "datetime":
        return datetime(value)
    if kind == "state":
        return state(value)
    if kind == "decimal":
        return decimal(value)
    if kind == "bool":
        return boolean(value)
    return "" if value is None else escape(value)


def resolve(obj: Any, path: str) -> Any:
    for part in path.split("."):
        if obj is None:
            return None
        obj = obj.get(part) if isinstance(obj, dict) else getattr(obj, part, None)
        if callable(obj):
            obj = obj()
    return obj


def compact(value: Any) -> str:
    """A short number for chart axes: ``1.2M`` / ``123.5万`` (Babel's compact format)."""
    from babel.numbers import format_compact_decimal
    from flask_babel import get_locale

    if value is None or value == "":
        return ""
    if not isinstance(value, Decimal):
        value = Decimal(str(value))
    return format_compact_decimal(value, locale=get_locale() or "en", fraction_digits=1)


def percent(ratio: Any, signed: bool = False) -> str:
    """A fraction as a percentage with one decimal (``0.125`` -> ``12.5%``; ``signed``: ``+12.5%``);
    None -> an em dash (no ratio)."""
    from flask_babel import format_percent

    if ratio is None or ratio == "":
        return "—"
    if not isinstance(ratio, Decimal):
        ratio = Decimal(str(ratio))
    return format_percent(ratio, "+#,##0.0%;-#,##0.0%" if signed else "#,##0.0%")
