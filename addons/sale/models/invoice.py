"""Customer invoices and credit notes. Posted ones are immutable (``__posted_states__``).

The workflow (``workflow.SALE_INVOICE``) names the methods below; they delegate to
``services.invoice`` so that firing ``post`` by any route (service, API, CLI) numbers the
document, books its journal entry and updates the order's quantity ledger.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, Integer, String, Text, UniqueConstraint, inspect
from sqlalchemy.orm import Mapped, mapped_column, orm_insert_sentinel, relationship

from core.registry import model

from ._types import Money, Price, Qty, Rate

ZERO = Decimal("0")
KINDS = ("invoice", "credit_note")


@model("sale.invoice")
class Invoice:
    __tablename__ = "sale_invoice"
    __audit__ = True
    __posted_states__ = ("posted", "paid")
    #: lets SQLite insert many in one INSERT .. RETURNING (batches); NULL otherwise
    _sentinel: Mapped[int | None] = orm_insert_sentinel()
    #: what may still change on a posted invoice: its settlement, and its journal entry once
    #: (a batch books the entries of the invoices it posted together, ``validate`` below)
    __mutable_when_posted__ = frozenset({"state", "amount_residual", "payment_status",
                                         "journal_entry_id"})

    #: gap-free per year, given at posting: INV/2026/000001 (credit notes: RINV/...)
    number: Mapped[str | None] = mapped_column(String(32), unique=True)
    kind: Mapped[str] = mapped_column(String(12), default="invoice")  # invoice, credit_note
    state: Mapped[str] = mapped_column(String(12), index=True)  # draft, posted, paid, cancelled
    customer_id: Mapped[int] = mapped_column(ForeignKey("sale_customer.id"), index=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("sale_order.id"), index=True)
    #: the invoice a credit note reverses
    reversed_invoice_id: Mapped[int | None] = mapped_column(ForeignKey("sale_invoice.id"), index=True)
    date: Mapped[dt.date | None] = mapped_column(Date, index=True)
    due_date: Mapped[dt.date | None] = mapped_column(Date, index=True)
    #: the term the due date was computed from (the order's, else the customer's)
    payment_term_id: Mapped[int | None] = mapped_column(ForeignKey("sale_payment_term.id"))
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    amount_untaxed: Mapped[Decimal] = mapped_column(Money, default=ZERO)
    amount_tax: Mapped[Decimal] = mapped_column(Money, default=ZERO)
    amount_total: Mapped[Decimal] = mapped_column(Money, default=ZERO)
    #: company-currency units per unit of ``currency``, fixed at posting (1 in the company
    #: currency): the invoice date's rate, a credit note the rate of the invoice it corrects
    currency_rate: Mapped[Decimal] = mapped_column(Rate, default=Decimal("1"), server_default="1")
    #: ``amount_total`` in the company currency at ``currency_rate``, fixed at posting: what the
    #: invoice debits (a credit note credits) on the receivable account
    amount_total_company: Mapped[Decimal] = mapped_column(Money, default=ZERO, server_default="0")
    #: what is still to be paid (0 when paid); on a credit note: the credit not used yet
    amount_residual: Mapped[Decimal] = mapped_column(Money, default=ZERO)
    payment_status: Mapped[str] = mapped_column(String(10), default="none")  # none, partial, paid
    #: the journal entry booked at posting
    journal_entry_id: Mapped[int | None] = mapped_column(ForeignKey("sale_journal_entry.id"))
    #: why a credit note was issued
    reason: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)

    customer: Mapped[Customer] = relationship()
    order: Mapped[SaleOrder | None] = relationship()
    lines: Mapped[list[InvoiceLine]] = relationship(
        back_populates="invoice", cascade="all, delete-orphan", order_by="InvoiceLine.id"
    )

    @property
    def is_credit_note(self) -> bool:
        return self.kind == "credit_note"

    def company_currency(self) -> str:
        """The currency of ``amount_total_company`` (pages show it next to the amount)."""
        from ..services.masterdata import company_currency

        return company_currency(self.env)

    def validate(self) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = {}
        if self.kind not in KINDS:
            errors["kind"] = [f"must be one of {', '.join(KINDS)}"]
        if self.kind == "credit_note" and self.reversed_invoice_id is None:
            errors["reversed_invoice_id"] = ["a credit note names the invoice it reverses"]
        for name in ("amount_untaxed", "amount_tax", "amount_total", "amount_residual",
                     "amount_total_company"):
            value = getattr(self, name)
            if value is not None and Decimal(value) < 0:
                errors[name] = ["must not be negative"]
        if self.currency_rate is not None and Decimal(self.currency_rate) <= 0:
            errors["currency_rate"] = ["must be greater than 0"]
        booked = inspect(self).attrs.journal_entry_id.history.deleted
        if booked and booked[0] is not None:
            errors["journal_entry_id"] = ["an invoice's journal entry is booked once; correct it "
                                          "by a credit note"]
        return errors

    # -- workflow (see workflow.SALE_INVOICE) ---------------------------------------------------
    def check_postable(self):
        from ..services.invoice import postable_blockers

        return postable_blockers(self.env, self)

    def check_settled(self):
        if Decimal(self.amount_residual or 0) != 0:
            return f"{self.amount_residual} is still open"
        return None

    def action_post(self, **_params) -> None:
        from ..services.invoice import book_posting

        book_posting(self.env, self)

    def action_after_post(self, **_params) -> None:
        from ..services.invoice import after_posting

        after_posting(self.env, self)

    @classmethod
    def action_after_post_many(cls, invoices, **_params) -> None:
        """The batch form of ``action_after_post`` (``fire_many``): every order's ledger in one
        UPDATE, the orders moved on together."""
        from ..services.invoice import after_posting_many

        after_posting_many(invoices[0].env, invoices)


@model("sale.invoice.line")
class InvoiceLine:
    __tablename__ = "sale_invoice_line"
    #: as frozen as its invoice: no line added, changed, moved or deleted once it is posted,
    #: and no bulk ORM statement (the kernel's ``__posted_parent__``)
    __posted_parent__ = "invoice"

    invoice_id: Mapped[int] = mapped_column(ForeignKey("sale_invoice.id", ondelete="CASCADE"), index=True)
    sale_line_id: Mapped[int | None] = mapped_column(ForeignKey("sale_line.id"), index=True)
    #: on a credit note line: the invoice line it reverses
    origin_line_id: Mapped[int | None] = mapped_column(ForeignKey("sale_invoice_line.id"), index=True)
    #: a credit of an amount (price correction): no quantity is taken back
    price_adjustment: Mapped[bool] = mapped_column(default=False)
    product_id: Mapped[int | None] = mapped_column(ForeignKey("sale_product.id"))
    description: Mapped[str] = mapped_column(String(300))
    quantity: Mapped[Decimal] = mapped_column(Qty)
    unit_price: Mapped[Decimal] = mapped_column(Price)
    discount: Mapped[Decimal] = mapped_column(Rate, default=ZERO)
    tax_id: Mapped[int | None] = mapped_column(ForeignKey("sale_tax.id"))
    amount_untaxed: Mapped[Decimal] = mapped_column(Money, default=ZERO)
    amount_tax: Mapped[Decimal] = mapped_column(Money, default=ZERO)
    amount_total: Mapped[Decimal] = mapped_column(Money, default=ZERO)
    invoice: Mapped[Invoice] = relationship(back_populates="lines")

    def validate(self) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = {}
        if self.quantity is not None and Decimal(self.quantity) <= 0:
            errors["quantity"] = ["must be greater than 0"]
        if self.unit_price is not None and Decimal(self.unit_price) < 0:
            errors["unit_price"] = ["must not be negative"]
        return errors


@model("sale.invoice.instalment")
class InvoiceInstalment:
    """What a posted invoice asks to be paid when: ``amount`` due on ``due_date``, as its
    payment term split the total at posting (``services.masterdata.due_dates``, the one split
    function; ``sequence`` 1, 2... in due-date order). Written once when the invoice is posted,
    so the invoice keeps the terms it was posted with when the term changes later; one row (the
    whole total, due on ``due_date``) for an invoice without a term. Receivables, the aging and
    dunning age each instalment by its own due date; what settled the invoice (payments, credit
    notes, credit, discounts) settles its instalments in sequence, the earliest first. Credit
    notes have none."""

    __tablename__ = "sale_invoice_instalment"
    __append_only__ = True
    __table_args__ = (UniqueConstraint("invoice_id", "sequence"),)

    invoice_id: Mapped[int] = mapped_column(ForeignKey("sale_invoice.id", ondelete="CASCADE"))
    sequence: Mapped[int] = mapped_column(Integer)
    due_date: Mapped[dt.date] = mapped_column(Date)
    #: in the invoice's currency; the instalments sum to its ``amount_total``
    amount: Mapped[Decimal] = mapped_column(Money)
    #: in the company currency: ``amount_total_company`` split the same way (same function)
    amount_company: Mapped[Decimal] = mapped_column(Money)
