"""Foreign-currency amounts in the company's books: rates fixed at booking, company-currency
amounts of documents and allocations, exchange differences.

* A document's rate is fixed when it is booked and never changes: an invoice's at posting (the
  rate in force on its date, ``masterdata.rate_at``), a credit note's is the rate of the invoice
  it corrects (its own date's when it corrects none), a payment's on its date. A document in
  the company currency has rate 1. Its company amount is ``round(amount x rate)`` to the
  company currency's digits.
* An allocation clears ``amount_company`` of its invoice: ``round((amount + discount) x the
  invoice's rate)``, except the allocation that settles the invoice, which clears exactly what
  is left of the invoice's company amount (a paid invoice is exactly zero in yuan too). It uses
  ``source_amount_company`` of its payment or credit note: ``round(amount x the source's
  rate)``, except the allocation that uses the source up, which takes exactly its remainder.
* ``source_amount_company - amount_company`` (with the discount's company amount added back on a
  payment) is the realised exchange difference: a gain when positive, booked on account
  ``exchange`` (660302) against the receivable.

Everything of a company-currency document is exact (rate 1): no rounding, no difference, no
statement read.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from core.errors import ValidationError
from core.money import round_money

from .masterdata import company_currency, currency_digits, rate_at

ZERO = Decimal("0")
ONE = Decimal("1")


def is_foreign(env, currency: str | None) -> bool:
    return (currency or company_currency(env)).upper() != company_currency(env)


def rate_on(env, currency: str | None, date: dt.date) -> Decimal:
    """The rate of ``currency`` on ``date`` (1 for the company currency); a
    ``ValidationError`` on ``currency`` when there is none."""
    if not is_foreign(env, currency):
        return ONE
    return rate_at(env, currency, date)


def missing_rate(env, currency: str | None, date: dt.date) -> str | None:
    """Why a document in ``currency`` dated ``date`` cannot be booked for want of a rate, or
    None."""
    try:
        rate_on(env, currency, date)
    except ValidationError as exc:
        return "currency: " + "; ".join(exc.errors.get("currency") or [str(exc)])
    return None


def to_company(env, amount: Any, rate: Decimal) -> Decimal:
    """``amount`` at ``rate`` in the company currency, rounded to its digits (rate 1: as is)."""
    amount = Decimal(amount)
    if rate == ONE:
        return amount
    company = company_currency(env)
    return round_money(amount * Decimal(rate), company, currency_digits(env, company))


def in_currency(env, currency: str | None, amount: Any) -> dict[str, Any]:
    """The ``currency`` and ``amount_currency`` keys of a journal line (``journal.post_entries``)
    of a document in ``currency``: none for the company currency."""
    if not is_foreign(env, currency):
        return {}
    return {"currency": currency.upper(), "amount_currency": Decimal(amount)}


class Allocating:
    """The company amounts of the allocations one service call makes: remembers, per invoice and
    per source (payment or credit note), what earlier allocations cleared or used (read once, the
    first time a foreign document is met) and what this call's allocations add."""

    def __init__(self, env):
        self.env = env
        self._cleared: dict[int, Decimal] = {}  # id(invoice) -> company amount cleared
        self._used: dict[int, Decimal] = {}  # id(source) -> company amount used

    def _before(self, done: dict, document, key: str, column: str) -> Decimal:
        if id(document) not in done:
            done[id(document)] = ZERO
            if document.id is not None:
                Allocation = self.env["sale.payment.allocation"]
                with self.env.sudo(), self.env.session.no_autoflush:
                    done[id(document)] = Decimal(self.env.session.scalar(
                        select(func.coalesce(func.sum(getattr(Allocation, column)), 0))
                        .where(getattr(Allocation, key) == document.id)) or 0)
        return done[id(document)]

    def amounts(self, invoice, amount: Decimal, discount: Decimal, source, *,
                settles: bool, uses_up: bool) -> tuple[Decimal, Decimal]:
        """``(amount_company, source_amount_company)`` of an allocation of ``amount`` (plus
        ``discount``) from ``source`` to ``invoice``; ``settles``: the invoice has nothing open
        after it, ``uses_up``: the source has nothing left after it."""
        env = self.env
        invoice_rate, source_rate = Decimal(invoice.currency_rate), Decimal(source.currency_rate)
        cleared = to_company(env, amount + discount, invoice_rate)
        if settles and invoice_rate != ONE:
            cleared = (Decimal(invoice.amount_total_company)
                       - self._before(self._cleared, invoice, "invoice_id", "amount_company"))
        used = to_company(env, amount, source_rate)
        if uses_up and source_rate != ONE:
            payment = source.__record__ == "sale.payment"
            total = source.amount_company if payment else source.amount_total_company
            used = Decimal(total) - self._before(
                self._used, source, "payment_id" if payment else "credit_note_id",
                "source_amount_company")
        if invoice_rate != ONE:
            self._cleared[id(invoice)] = self._before(
                self._cleared, invoice, "invoice_id", "amount_company") + cleared
        if source_rate != ONE:
            payment = source.__record__ == "sale.payment"
            self._used[id(source)] = self._before(
                self._used, source, "payment_id" if payment else "credit_note_id",
                "source_amount_company") + used
        return cleared, used


def exchange_entry(env, *, customer_id: int, currency: str, date: dt.date, difference: Decimal,
                   label: str, source_record: str, source_id: int) -> dict[str, Any] | None:
    """The ``journal.post_entries`` spec of an exchange difference settled on ``date``: debit the
    customer's receivable, credit exchange gains (a negative ``difference``, a loss, the other
    way round); None when there is no difference."""
    if not difference:
        return None
    keys = in_currency(env, currency, ZERO)
    return {"date": date, "source_record": source_record, "source_id": source_id, "label": label,
            "lines": [{"account": "receivable", "debit": difference, "customer_id": customer_id,
                       **keys},
                      {"account": "exchange", "credit": difference, **keys}]}
