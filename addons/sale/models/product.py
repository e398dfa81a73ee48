"""Products, taxes, currencies with dated rates, payment terms."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.registry import model

from ._types import Money, Price, Rate


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


@model("sale.currency")
class Currency:
    __tablename__ = "sale_currency"

    code: Mapped[str] = mapped_column(String(3), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    digits: Mapped[int] = mapped_column(Integer, default=2)
    rates: Mapped[list[CurrencyRate]] = relationship(
        back_populates="currency", cascade="all, delete-orphan", order_by="CurrencyRate.date"
    )


@model("sale.currency.rate")
class CurrencyRate:
    """Units of company currency for one unit of ``currency`` from ``date`` on."""

    __tablename__ = "sale_currency_rate"
    __table_args__ = (UniqueConstraint("currency_id", "date"),)

    currency_id: Mapped[int] = mapped_column(ForeignKey("sale_currency.id", ondelete="CASCADE"))
    date: Mapped[dt.date] = mapped_column(Date)
    rate: Mapped[Decimal] = mapped_column(Rate)
    currency: Mapped[Currency] = relationship(back_populates="rates")


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


@model("sale.payment_term.line")
class PaymentTermLine:
    """One instalment: ``percent`` of the total due ``days`` after the invoice date."""

    __tablename__ = "sale_payment_term_line"

    term_id: Mapped[int] = mapped_column(ForeignKey("sale_payment_term.id", ondelete="CASCADE"))
    sequence: Mapped[int] = mapped_column(Integer, default=10)
    percent: Mapped[Decimal] = mapped_column(Rate)  # 100 for a single instalment
    days: Mapped[int] = mapped_column(Integer)
    term: Mapped[PaymentTerm] = relationship(back_populates="lines")


__all__ = ["Tax", "Product", "Currency", "CurrencyRate", "PaymentTerm", "PaymentTermLine", "Money"]
