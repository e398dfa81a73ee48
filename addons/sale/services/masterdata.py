"""Master data other than customers: products, taxes, currencies with dated exchange rates,
payment terms; the defaults every installation starts from (``ensure_defaults``).

Every function takes the caller's ``env`` first and runs inside its transaction (nothing here
commits). Access rights are those of the caller (``security.toml``); uniqueness checks look at
every row (``env.sudo()``), so a code is refused even when its owner is hidden from the caller.

Conventions:

* money, prices and rates are ``Decimal`` (floats are refused by ``core.money.to_decimal``);
* a tax ``rate`` is a fraction (``0.13`` for 13 %); ``price_include`` tells whether unit prices
  already contain the tax;
* an exchange rate is the number of company-currency units for one unit of the currency, valid
  from its date until the next rate (``rate_at``); the company currency (``[addon.sale]
  company_currency``, CNY by default) is always 1;
* a payment term is one or more instalments (``percent`` of the total due ``days`` after the
  invoice date) whose percentages sum to exactly 100; ``due_dates`` splits a total so that the
  parts add up to it exactly and none is negative (rounded cumulative shares).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from core.errors import ConflictError, ValidationError
from core.money import CURRENCY_DIGITS, round_money, to_decimal

ZERO = Decimal("0")
HUNDRED = Decimal("100")

DEFAULT_TAXES = (
    # code, name, rate, price_include
    ("VAT13", "VAT 13%", Decimal("0.13"), False),
    ("VAT0", "VAT 0% (exempt)", Decimal("0"), False),
)
DEFAULT_CURRENCIES = {"CNY": ("Chinese Yuan Renminbi", 2)}
DEFAULT_TERMS = (
    # code, name, [(percent, days)]
    ("NET30", "Net 30 days", [("100", 30)]),
    ("NET60", "Net 60 days", [("100", 60)]),
    ("INST2", "2 instalments: 50% at 30 days, 50% at 60 days", [("50", 30), ("50", 60)]),
)


class DuplicateRecord(ConflictError):
    """A value that must be unique (or a customer that looks like an existing one) is taken.

    ``field`` names the input at fault; ``existing`` describes the record(s) found, as much as
    the caller may know (customers: code and name only). The API answers 409 with both.
    """

    def __init__(self, record: str, field: str, existing: list[dict[str, Any]], message: str):
        self.record, self.field, self.existing = record, field, existing
        super().__init__(message)


# -- helpers shared with services.partner ------------------------------------------------------


def clean(values: dict[str, Any], allowed: set[str] | frozenset[str], where: str = "") -> dict[str, Any]:
    """Strip text values; refuse unknown keys (naming them)."""
    unknown = sorted(set(values) - set(allowed))
    if unknown:
        raise ValidationError({f"{where}{k}": ["unknown field"] for k in unknown})
    out = {}
    for key, value in values.items():
        if isinstance(value, str):
            value = value.strip()
        out[key] = value
    return out


def ensure_unique(env, record: str, field: str, value: Any, *, exclude_id: int | None = None,
                  label: str = "name", show_id: bool = True) -> None:
    """409 ``DuplicateRecord`` when another ``record`` has ``field == value`` (all rows, even
    those hidden from the caller; ``show_id=False`` names them by ``field`` and ``label`` only)."""
    if value is None or value == "":
        return
    cls = env[record]
    stmt = select(cls).where(getattr(cls, field) == value)
    if exclude_id is not None:
        stmt = stmt.where(cls.id != exclude_id)
    with env.sudo():
        found = env.session.scalars(stmt.limit(1)).first()
    if found is not None:
        shown = getattr(found, label, None)
        existing = {"id": found.id} if show_id else {}
        existing.update({field: value, label: shown})
        who = f"{record} {found.id}" if show_id else record
        raise DuplicateRecord(
            record, field, [existing],
            f"{field}: {value!r} is already used by {who}"
            + (f" ({shown})" if shown and shown != value else ""),
        )


def create_checked(env, record: str, **values):
    """``env.create`` that validates the new record (``validate()``) before it joins the
    session, so a refused record leaves nothing pending behind."""
    env.check_access(record, "create")
    obj = env[record](**values)
    errors = obj.validate() if hasattr(obj, "validate") else None
    if errors:
        raise ValidationError(errors)
    env.session.add(obj)
    env.session.flush()
    return obj


def write_checked(env, obj, **values):
    """``env.write`` that validates the changed record first (on a detached copy), so a
    refused change leaves the record as it was."""
    env.check_access(obj.__record__, "write")
    cls = type(obj)
    unknown = sorted(k for k in values if k not in cls.__mapper__.column_attrs)
    if unknown:
        raise ValidationError({k: [f"unknown field of {obj.__record__}"] for k in unknown})
    skip = {"id", "version", "created_at", "updated_at"}
    current = {c.key: getattr(obj, c.key) for c in cls.__mapper__.column_attrs if c.key not in skip}
    probe = cls(**{**current, **values})
    errors = probe.validate() if hasattr(probe, "validate") else None
    if errors:
        raise ValidationError(errors)
    return env.write(obj, **values)


def _decimal(errors: dict[str, list[str]], field: str, value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        return to_decimal(value, field)
    except (TypeError, ValueError) as exc:
        errors.setdefault(field, []).append(str(exc).partition(": ")[2] or str(exc))
        return None


def _raise(errors: dict[str, list[str]]) -> None:
    if errors:
        raise ValidationError(errors)


def _exists(env, record: str, ident: Any) -> Any:
    if ident is None:
        return None
    with env.sudo():
        return env.session.get(env[record], ident)


def company_currency(env) -> str:
    return env.settings("sale").get("company_currency") or "CNY"


# -- taxes -----------------------------------------------------------------------------------

TAX_FIELDS = frozenset({"code", "name", "rate", "price_include", "active"})


def _tax_values(values: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    if "rate" in values:
        values["rate"] = _decimal(errors, "rate", values["rate"])
    _raise(errors)
    return values


def create_tax(env, **values):
    env.check_access("sale.tax", "create")
    values = _tax_values(clean(values, TAX_FIELDS))
    ensure_unique(env, "sale.tax", "code", values.get("code"))
    return create_checked(env, "sale.tax", **values)


def update_tax(env, tax, **values):
    env.check_access("sale.tax", "write")
    values = _tax_values(clean(values, TAX_FIELDS))
    if "code" in values:
        ensure_unique(env, "sale.tax", "code", values["code"], exclude_id=tax.id)
    return write_checked(env, tax, **values)


def tax_split(tax, amount: Decimal, currency: str = "CNY",
              digits: int | None = None) -> tuple[Decimal, Decimal, Decimal]:
    """``(untaxed, tax, total)`` of ``amount`` (a line's price x quantity, after discount),
    rounded to the currency (``digits``: its declared ones, ``currency_digits``): tax added on
    top, or taken out when prices include it, by the formulas of ``SaleLine.compute_amounts``
    (docs/sale.md, "Money and rounding"), so a part of a line rounds like the line."""
    amount = to_decimal(amount)
    if tax is None or not tax.rate:
        value = round_money(amount, currency, digits)
        return value, ZERO, value
    rate = Decimal(tax.rate)
    if tax.price_include:
        total = round_money(amount, currency, digits)
        tax_amount = round_money(total * rate / (1 + rate), currency, digits)
        return total - tax_amount, tax_amount, total
    untaxed = round_money(amount, currency, digits)
    tax_amount = round_money(untaxed * rate, currency, digits)
    return untaxed, tax_amount, untaxed + tax_amount


def currency_digits(env, code: str | None) -> int:
    """Minor-unit digits of ``code``: its ``sale.currency`` row first, then ``core.money``'s
    table (as ``SaleOrder.currency_digits``; cached per transaction, the same cache)."""
    code = (code or "CNY").upper()
    cache = env.tx_cache("sale.currency_digits")
    if code not in cache:
        Currency = env["sale.currency"]
        with env.sudo():
            digits = env.session.scalar(select(Currency.digits).where(Currency.code == code))
        cache[code] = digits if digits is not None else CURRENCY_DIGITS.get(code, 2)
    return cache[code]


# -- currencies and rates --------------------------------------------------------------------

CURRENCY_FIELDS = frozenset({"code", "name", "digits"})


def get_currency(env, code: str):
    Currency = env["sale.currency"]
    found = env.session.scalars(select(Currency).where(Currency.code == (code or "").upper())).first()
    if found is None:
        from core.errors import NotFound

        raise NotFound("sale.currency", code)
    return found


def create_currency(env, **values):
    env.check_access("sale.currency", "create")
    values = clean(values, CURRENCY_FIELDS)
    if isinstance(values.get("code"), str):
        values["code"] = values["code"].upper()
    ensure_unique(env, "sale.currency", "code", values.get("code"))
    if values.get("digits") is None:
        values["digits"] = CURRENCY_DIGITS.get(values.get("code"), 2)
    return create_checked(env, "sale.currency", **values)


def update_currency(env, currency, **values):
    values = clean(values, CURRENCY_FIELDS - {"code"})
    return write_checked(env, currency, **values)


def add_rate(env, currency_code: str, date: dt.date, rate: Any):
    """Record ``rate`` (company-currency units per unit) for ``currency_code`` from ``date`` on.
    409 when that date already has a rate (rates are history: add a new date instead)."""
    env.check_access("sale.currency.rate", "create")
    errors: dict[str, list[str]] = {}
    value = _decimal(errors, "rate", rate)
    if not isinstance(date, dt.date):
        errors.setdefault("date", []).append("is required (an ISO date)")
    _raise(errors)
    code = (currency_code or "").upper()
    if code == company_currency(env):
        raise ValidationError({"currency": [f"{code} is the company currency: its rate is always 1"]})
    currency = get_currency(env, code)
    Rate = env["sale.currency.rate"]
    with env.sudo():
        existing = env.session.scalars(
            select(Rate).where(Rate.currency_id == currency.id, Rate.date == date)
        ).first()
    if existing is not None:
        raise DuplicateRecord("sale.currency.rate", "date",
                              [{"id": existing.id, "date": date.isoformat(), "rate": str(existing.rate)}],
                              f"date: {code} already has a rate on {date.isoformat()} ({existing.rate})")
    return create_checked(env, "sale.currency.rate", currency_id=currency.id, date=date, rate=value)


def rate_at(env, currency_code: str, date: dt.date) -> Decimal:
    """The rate of ``currency_code`` in force on ``date``: the latest one dated on or before it.
    The company currency is 1. No such rate (or no such currency): ``ValidationError``."""
    code = (currency_code or "").upper()
    if code == company_currency(env):
        return Decimal("1")
    Currency, Rate = env["sale.currency"], env["sale.currency.rate"]
    with env.sudo():
        currency_id = env.session.scalar(select(Currency.id).where(Currency.code == code))
        if currency_id is None:
            raise ValidationError({"currency": [f"unknown currency {currency_code!r}"]})
        rate = env.session.scalar(
            select(Rate.rate).where(Rate.currency_id == currency_id, Rate.date <= date)
            .order_by(Rate.date.desc()).limit(1)
        )
    if rate is None:
        raise ValidationError({"currency": [f"no exchange rate for {code} on or before {date.isoformat()}"]})
    return Decimal(rate)


def convert(env, amount: Any, currency_code: str, date: dt.date, to: str | None = None) -> Decimal:
    """``amount`` in ``currency_code`` expressed in ``to`` (default: the company currency) at the
    rates in force on ``date``, rounded to the target currency."""
    amount = to_decimal(amount)
    target = (to or company_currency(env)).upper()
    if (currency_code or "").upper() == target:
        return amount
    in_company = amount * rate_at(env, currency_code, date)
    value = in_company / rate_at(env, target, date)
    return round_money(value, target, _digits(env, target))


def _digits(env, code: str) -> int:
    return currency_digits(env, code)


# -- payment terms ---------------------------------------------------------------------------

TERM_FIELDS = frozenset({"code", "name", "active", "lines"})
TERM_LINE_FIELDS = frozenset({"sequence", "percent", "days"})


def check_term_lines(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Cleaned instalments; ``ValidationError`` naming ``lines`` (or ``lines.N.field``) unless
    there is at least one and the percentages sum to exactly 100."""
    errors: dict[str, list[str]] = {}
    out = []
    if not lines:
        raise ValidationError({"lines": ["a payment term needs at least one instalment"]})
    for i, raw in enumerate(lines):
        line = clean(dict(raw), TERM_LINE_FIELDS, where=f"lines.{i}.")
        line["percent"] = _decimal(errors, f"lines.{i}.percent", line.get("percent"))
        if line["percent"] is None and f"lines.{i}.percent" not in errors:
            errors[f"lines.{i}.percent"] = ["is required"]
        elif line["percent"] is not None and not (ZERO < line["percent"] <= HUNDRED):
            errors[f"lines.{i}.percent"] = [f"must be above 0 and at most 100 (got {line['percent']})"]
        days = line.get("days")
        if not isinstance(days, int) or isinstance(days, bool) or days < 0:
            errors[f"lines.{i}.days"] = ["must be a whole number of days, 0 or more"]
        line.setdefault("sequence", (i + 1) * 10)
        out.append(line)
    if not errors:
        total = sum((line["percent"] for line in out), ZERO)
        if total != HUNDRED:
            errors["lines"] = [f"instalment percentages sum to {total.normalize():f}, they must sum to 100"]
    _raise(errors)
    return out


def create_payment_term(env, **values):
    env.check_access("sale.payment_term", "create")
    values = clean(values, TERM_FIELDS)
    lines = check_term_lines(values.pop("lines", None) or [])
    ensure_unique(env, "sale.payment_term", "code", values.get("code"))
    term = create_checked(env, "sale.payment_term", **values)
    Line = env["sale.payment_term.line"]
    term.lines = [Line(**line) for line in lines]
    env.session.flush()
    return term


def update_payment_term(env, term, **values):
    env.check_access("sale.payment_term", "write")
    values = clean(values, TERM_FIELDS)
    lines = values.pop("lines", None)
    if "code" in values:
        ensure_unique(env, "sale.payment_term", "code", values["code"], exclude_id=term.id)
    write_checked(env, term, **values)
    if lines is not None:
        lines = check_term_lines(lines)
        env.check_access("sale.payment_term.line", "delete")
        Line = env["sale.payment_term.line"]
        term.lines = [Line(**line) for line in lines]
        term.updated_at = env.now  # the term's version (ETag) changes with its instalments
        env.session.flush()
    return term


def due_dates(term, invoice_date: dt.date, total: Any, currency: str = "CNY",
              digits: int | None = None) -> list[tuple[dt.date, Decimal]]:
    """``[(due date, amount)]`` of ``total`` invoiced on ``invoice_date`` under ``term``.

    Instalment ``i`` is the rounded cumulative share of the first ``i`` instalments less that
    of the ones before (``round(total x cumulative percent / 100)`` differences), so the amounts
    always sum to ``total`` exactly and none is negative. No term (or one without instalments):
    everything is due on the invoice date.
    """
    total = to_decimal(total, "total")
    lines = sorted(term.lines, key=lambda ln: (ln.sequence, ln.days, ln.id or 0)) if term is not None else []
    if not lines:
        return [(invoice_date, total)]
    result = []
    allotted = ZERO  # rounded share of the instalments so far
    percent = ZERO
    for i, line in enumerate(lines):
        due = invoice_date + dt.timedelta(days=int(line.days))
        percent += Decimal(line.percent)
        if i == len(lines) - 1:
            cumulative = total  # the percentages sum to 100: exactly the total
        else:
            cumulative = round_money(total * percent / HUNDRED, currency, digits)
        result.append((due, cumulative - allotted))
        allotted = cumulative
    return result


# -- products --------------------------------------------------------------------------------

PRODUCT_FIELDS = frozenset({"sku", "name", "unit", "list_price", "cost", "tax_id", "active"})


def _product_values(env, values: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    for field in ("list_price", "cost"):
        if field in values:
            values[field] = _decimal(errors, field, values[field])
    if values.get("tax_id") is not None:
        tax = _exists(env, "sale.tax", values["tax_id"])
        if tax is None or not tax.active:
            errors.setdefault("tax_id", []).append(f"no active tax {values['tax_id']}")
    _raise(errors)
    return values


def create_product(env, **values):
    """A product; without ``tax_id`` it gets the default tax (``[addon.sale] default_tax``)."""
    env.check_access("sale.product", "create")
    values = _product_values(env, clean(values, PRODUCT_FIELDS))
    ensure_unique(env, "sale.product", "sku", values.get("sku"))
    if "tax_id" not in values:
        code = env.settings("sale").get("default_tax")
        Tax = env["sale.tax"]
        with env.sudo():
            values["tax_id"] = env.session.scalar(select(Tax.id).where(Tax.code == code, Tax.active))
    return create_checked(env, "sale.product", **values)


def update_product(env, product, **values):
    env.check_access("sale.product", "write")
    values = _product_values(env, clean(values, PRODUCT_FIELDS))
    if "sku" in values:
        ensure_unique(env, "sale.product", "sku", values["sku"], exclude_id=product.id)
    return write_checked(env, product, **values)


# -- defaults --------------------------------------------------------------------------------


def ensure_defaults(env) -> dict[str, Any]:
    """Create what is missing of: taxes VAT13 (13 %, excluded) and VAT0, the CNY currency (and
    the company currency), payment terms NET30, NET60 and INST2 (two instalments). Existing
    records are left as they are. Runs as the system (installation data). Returns the records
    by code: ``{"taxes": {...}, "currencies": {...}, "terms": {...}}``."""
    Tax, Currency, Term = env["sale.tax"], env["sale.currency"], env["sale.payment_term"]
    Line = env["sale.payment_term.line"]
    out: dict[str, dict[str, Any]] = {"taxes": {}, "currencies": {}, "terms": {}}
    with env.sudo():
        session = env.session
        for code, name, rate, included in DEFAULT_TAXES:
            tax = session.scalars(select(Tax).where(Tax.code == code)).first()
            if tax is None:
                tax = env.create("sale.tax", code=code, name=name, rate=rate, price_include=included)
            out["taxes"][code] = tax
        currencies = dict(DEFAULT_CURRENCIES)
        own = company_currency(env)
        currencies.setdefault(own, (own, CURRENCY_DIGITS.get(own, 2)))
        for code, (name, digits) in currencies.items():
            currency = session.scalars(select(Currency).where(Currency.code == code)).first()
            if currency is None:
                currency = env.create("sale.currency", code=code, name=name, digits=digits)
            out["currencies"][code] = currency
        for code, name, lines in DEFAULT_TERMS:
            term = session.scalars(select(Term).where(Term.code == code)).first()
            if term is None:
                term = env.create("sale.payment_term", code=code, name=name)
                term.lines = [Line(sequence=(i + 1) * 10, percent=Decimal(p), days=d)
                              for i, (p, d) in enumerate(lines)]
                session.flush()
            out["terms"][code] = term
    return out
