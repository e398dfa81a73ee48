"""Early-payment (cash) discount, 现金折扣: "2/10 net 30" = 2 % off when paid within 10 days
of the invoice date, else the full amount at 30 days.

The term carries ``discount_percent`` and ``discount_days`` (``models.payment_term``). The
invoice keeps the terms that applied when it was posted (``early_discount_percent``,
``early_discount_days``: ``models.invoice``), and payments use those: editing a term changes
the invoices posted after the edit, never the ones posted before.

Policy (docs/sale_credit.md, "Early-payment discount"):

* **Window.** A payment dated on or before ``invoice date + discount_days`` earns it.
* **Base.** The discount is ``discount_percent`` of what is open on the invoice when the
  settling payment arrives (``amount_residual``: the total less earlier payments and credit
  notes), rounded half up to the currency. It is earned only by a payment that **settles** the
  invoice: ``amount + discount >= open``. A partial payment earns nothing (what it pays lowers
  the base of a later settling payment inside the window). Paying more than the discounted
  amount leaves the difference as customer credit, like any overpayment.
* **VAT.** The discount reduces revenue and output VAT **in the invoice's proportion**:
  ``discount_tax = round(discount x amount_tax / amount_total)``, ``discount_untaxed =
  discount - discount_tax`` (so an invoice mixing 13 % and 0 % lines is reduced at its own
  average rate, and the two parts always add up to the discount).
* **Entry.** ``debit 6603 sales discount`` (untaxed part), ``debit 22210106 output VAT`` (tax
  part), ``credit 1122 receivable`` (the discount, on the customer): the receivable is settled
  by the payment plus the discount, and the VAT payable shrinks with the price actually
  received.

Wiring it into payments needs a door in the sale addon (``register_payment`` gives no way to
settle an invoice for less than what is open): see ``hooks_discount.py`` and
docs/sale_credit.md.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from core.errors import ValidationError
from core.money import round_money

ZERO = Decimal("0.00")
HUNDRED = Decimal("100")


def term_of(env, invoice):
    if invoice.payment_term_id is None:
        return None
    with env.sudo():
        return env.session.get(env["sale.payment_term"], invoice.payment_term_id)


def terms_at_posting(env, invoice) -> tuple[Decimal, int]:
    """``(percent, days)`` to store on ``invoice`` as it is posted: its term's discount now
    (``(0, 0)`` without a term or a discount)."""
    term = term_of(env, invoice)
    if term is None or not term.has_early_discount():
        return ZERO, 0
    return Decimal(term.discount_percent), int(term.discount_days or 0)


def discount_terms(env, invoice) -> tuple[Decimal, int] | None:
    """``(percent, days)`` of the invoice's early-payment discount, None when it has none: a
    posted invoice's are those stored when it was posted (NULL: posted while sale_credit was not
    enabled, no discount); a draft's are its term's now (what posting it would store)."""
    if invoice.kind != "invoice":
        return None
    if invoice.state == "draft":
        percent, days = terms_at_posting(env, invoice)
    else:
        percent, days = invoice.early_discount_percent, invoice.early_discount_days
    if percent is None or Decimal(percent) <= 0:
        return None
    return Decimal(percent), int(days or 0)


def discount_deadline(env, invoice) -> dt.date | None:
    """The last payment date that earns the invoice's discount (None: no discount)."""
    terms = discount_terms(env, invoice)
    if terms is None or invoice.date is None:
        return None
    return invoice.date + dt.timedelta(days=terms[1])


def split_discount(invoice, discount: Decimal) -> tuple[Decimal, Decimal]:
    """``(untaxed, tax)`` parts of ``discount`` in the invoice's proportion (module docstring)."""
    total = Decimal(invoice.amount_total or 0)
    if total <= 0 or discount <= 0:
        return ZERO, ZERO
    tax = round_money(discount * Decimal(invoice.amount_tax or 0) / total, invoice.currency)
    return discount - tax, tax


def early_payment_discount(env, invoice, payment_date: dt.date, amount: Any) -> tuple[Decimal, Decimal]:
    """``(discount_untaxed, discount_tax)`` a payment of ``amount`` dated ``payment_date`` earns
    on ``invoice``; ``(0, 0)`` when it earns none (outside the window, no discount on the term,
    not settling, not an open posted invoice). The terms are the invoice's own, stored when it
    was posted (``discount_terms``). See the module docstring for the policy."""
    if invoice.kind != "invoice" or invoice.state != "posted":
        return ZERO, ZERO
    deadline = discount_deadline(env, invoice)
    if deadline is None or payment_date > deadline:
        return ZERO, ZERO
    open_amount = Decimal(invoice.amount_residual or 0)
    if open_amount <= 0:
        return ZERO, ZERO
    percent, _days = discount_terms(env, invoice)
    discount = round_money(open_amount * percent / HUNDRED, invoice.currency)
    if discount <= 0 or Decimal(amount) + discount < open_amount:
        return ZERO, ZERO
    return split_discount(invoice, discount)


def discount_lines(invoice, discount_untaxed: Decimal, discount_tax: Decimal,
                   label: str | None = None) -> list[dict[str, Any]]:
    """The journal lines of a discount, in ``sale.services.journal.post_entry`` form: debit
    sales discount and output VAT, credit the customer's receivable."""
    label = label or f"Early-payment discount {invoice.number}"
    total = Decimal(discount_untaxed) + Decimal(discount_tax)
    return [
        {"account": "sales_discount", "debit": Decimal(discount_untaxed), "label": label},
        {"account": "output_vat", "debit": Decimal(discount_tax), "label": label},
        {"account": "receivable", "credit": total, "customer_id": invoice.customer_id,
         "label": label},
    ]


def book_discount_entry(env, invoice, date: dt.date, discount_untaxed: Decimal,
                        discount_tax: Decimal, *, source_record: str = "sale.invoice",
                        source_id: int | None = None):
    """Book the discount as its own balanced journal entry (sale's ``post_entry``: numbered,
    append-only). ``source_*`` default to the invoice; pass the payment when booking it for a
    payment. Returns the entry."""
    from sale.services import journal

    if Decimal(discount_untaxed) < 0 or Decimal(discount_tax) < 0:
        raise ValidationError({"discount": ["must not be negative"]})
    if Decimal(discount_untaxed) + Decimal(discount_tax) <= 0:
        raise ValidationError({"discount": ["nothing to book"]})
    return journal.post_entry(
        env, date=date, source_record=source_record,
        source_id=source_id if source_id is not None else invoice.id,
        label=f"Early-payment discount {invoice.number}",
        lines=discount_lines(invoice, discount_untaxed, discount_tax))
