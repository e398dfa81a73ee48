"""Products, taxes, currencies with dated rates, payment terms.

Each record checks its own fields in ``validate()`` (called by the kernel before every flush);
checks that need other rows (unique codes, a term's lines summing to 100 %) live in
``services.masterdata``.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.registry import model

from ._types import Money, Price, Rate
from .partner import check_fields

ZERO = Decimal("0")
HUNDRED = Decimal("100")


def _add(errors: dict[str, list[str]], field: str, message: str) -> None:
    errors.setdefault(field, []).append(message)


@model("sale.tax")
class Tax:
    __tablename__ = "sale_tax"
    __audit__ = True

    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    #: 0.13 for 13 %
    rate: Mapped[Decimal] = mapped_column(Rate)
    #: True: unit prices include this tax; False: tax is added on top
    price_include: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)

    def validate(self) -> dict[str, list[str]]:
        errors = check_fields(self, ("code", "name", "rate"))
        if self.rate is not None and not (ZERO <= self.rate < 1):
            _add(errors, "rate", f"must be a fraction from 0 to below 1 (0.13 for 13 %), got {self.rate}")
        return errors


@model("sale.product")
class Product:
    __tablename__ = "sale_product"
    __audit__ = True

    sku: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    unit: Mapped[str] = mapped_column(String(16), default="pcs")
    list_price: Mapped[Decimal] = mapped_column(Price)
    cost: Mapped[Decimal] = mapped_column(Price, default=Decimal("0"))
    tax_id: Mapped[int | None] = mapped_column(ForeignKey("sale_tax.id"))
    active: Mapped[bool] = mapped_column(default=True)
    tax: Mapped[Tax | None] = relationship()

    def validate(self) -> dict[str, list[str]]:
        errors = check_fields(self, ("sku", "name", "list_price"))
        if self.unit is not None and not self.unit.strip():
            _add(errors, "unit", "must not be blank")
        if self.sku and self.sku != self.sku.strip():
            _add(errors, "sku", "must not start or end with spaces")
        for field in ("list_price", "cost"):
            value = getattr(self, field)
            if value is not None and value < ZERO:
                _add(errors, field, f"must not be negative (got {value})")
        return errors


@model("sale.currency")
class Currency:
    __tablename__ = "sale_currency"
    __audit__ = True

    code: Mapped[str] = mapped_column(String(3), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    digits: Mapped[int] = mapped_column(Integer, default=2)
    rates: Mapped[list[CurrencyRate]] = relationship(
        back_populates="currency", cascade="all, delete-orphan", order_by="CurrencyRate.date"
    )

    def validate(self) -> dict[str, list[str]]:
        errors = check_fields(self, ("code", "name"))
        if self.code and not re.match(r"^[A-Z]{3}$", self.code):
            _add(errors, "code", "must be a 3-letter ISO code in capitals, e.g. USD")
        if self.digits is not None and not (0 <= self.digits <= 2):
            # amounts are stored with 2 decimals (Money): a 3-decimal currency (KWD, BHD)
            # would be rounded to 2 behind the user's back
            _add(errors, "digits", "must be from 0 to 2 (amounts are stored with 2 decimals)")
        return errors


@model("sale.currency.rate")
class CurrencyRate:
    """Units of company currency for one unit of ``currency`` from ``date`` on."""

    __tablename__ = "sale_currency_rate"
    __table_args__ = (UniqueConstraint("currency_id", "date"),)
    __audit__ = True

    currency_id: Mapped[int] = mapped_column(ForeignKey("sale_currency.id", ondelete="CASCADE"))
    date: Mapped[dt.date] = mapped_column(Date)
    rate: Mapped[Decimal] = mapped_column(Rate)
    currency: Mapped[Currency] = relationship(back_populates="rates")

    def validate(self) -> dict[str, list[str]]:
        errors = check_fields(self, ("date", "rate"))
        if self.rate is not None and self.rate <= ZERO:
            _add(errors, "rate", f"must be positive (got {self.rate})")
        return errors


@model("sale.payment_term")
class PaymentTerm:
    __tablename__ = "sale_payment_term"
    __audit__ = True

    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    active: Mapped[bool] = mapped_column(default=True)
    lines: Mapped[list[PaymentTermLine]] = relationship(
        back_populates="term", cascade="all, delete-orphan", order_by="PaymentTermLine.sequence"
    )

    def validate(self) -> dict[str, list[str]]:
        return check_fields(self, ("code", "name"))


@model("sale.payment_term.line")
class PaymentTermLine:
    """One instalment: ``percent`` of the total due ``days`` after the invoice date."""

    __tablename__ = "sale_payment_term_line"
    __audit__ = True

    term_id: Mapped[int] = mapped_column(ForeignKey("sale_payment_term.id", ondelete="CASCADE"))
    sequence: Mapped[int] = mapped_column(Integer, default=10)
    percent: Mapped[Decimal] = mapped_column(Rate)  # 100 for a single instalment
    days: Mapped[int] = mapped_column(Integer)
    term: Mapped[PaymentTerm] = relationship(back_populates="lines")

    def validate(self) -> dict[str, list[str]]:
        errors = check_fields(self, ("percent", "days"))
        if self.percent is not None and not (ZERO < self.percent <= HUNDRED):
            _add(errors, "percent", f"must be above 0 and at most 100 (got {self.percent})")
        if self.days is not None and self.days < 0:
            _add(errors, "days", f"must not be negative (got {self.days})")
        return errors


__all__ = ["Tax", "Product", "Currency", "CurrencyRate", "PaymentTerm", "PaymentTermLine", "Money"]
