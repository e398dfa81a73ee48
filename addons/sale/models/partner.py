"""Sales teams, salespersons and customers (with contacts and addresses)."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.registry import model

TIERS = ("key", "normal")


@model("sale.team")
class SalesTeam:
    __tablename__ = "sale_team"
    __audit__ = True

    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    manager_user_id: Mapped[int | None] = mapped_column(ForeignKey("res_user.id"))
    active: Mapped[bool] = mapped_column(default=True)


@model("sale.salesperson")
class Salesperson:
    __tablename__ = "sale_salesperson"
    __audit__ = True

    user_id: Mapped[int] = mapped_column(ForeignKey("res_user.id"), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("sale_team.id"), index=True)
    active: Mapped[bool] = mapped_column(default=True)
    team: Mapped[SalesTeam | None] = relationship()


@model("sale.customer")
class Customer:
    __tablename__ = "sale_customer"
    __audit__ = True

    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    #: lower-cased, punctuation and company suffixes removed: duplicate detection
    name_key: Mapped[str] = mapped_column(String(200), index=True, default="")
    tax_id: Mapped[str | None] = mapped_column(String(32), index=True)
    category: Mapped[str | None] = mapped_column(String(64))
    industry: Mapped[str | None] = mapped_column(String(64))
    region: Mapped[str | None] = mapped_column(String(64), index=True)
    tier: Mapped[str] = mapped_column(String(16), default="normal")
    salesperson_id: Mapped[int | None] = mapped_column(ForeignKey("sale_salesperson.id"), index=True)
    payment_term_id: Mapped[int | None] = mapped_column(ForeignKey("sale_payment_term.id"))
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    lang: Mapped[str] = mapped_column(String(8), default="zh_CN")
    notes: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(default=True)
    #: set when this customer was merged into another (its documents were moved there)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("sale_customer.id"))

    salesperson: Mapped[Salesperson | None] = relationship()
    payment_term: Mapped[PaymentTerm | None] = relationship()
    contacts: Mapped[list[CustomerContact]] = relationship(
        back_populates="customer", cascade="all, delete-orphan", order_by="CustomerContact.id"
    )
    addresses: Mapped[list[CustomerAddress]] = relationship(
        back_populates="customer", cascade="all, delete-orphan", order_by="CustomerAddress.id"
    )


@model("sale.customer.contact")
class CustomerContact:
    __tablename__ = "sale_customer_contact"
    __audit__ = True

    customer_id: Mapped[int] = mapped_column(ForeignKey("sale_customer.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    phone: Mapped[str | None] = mapped_column(String(32))
    #: digits only, for duplicate detection
    phone_key: Mapped[str | None] = mapped_column(String(32), index=True)
    email: Mapped[str | None] = mapped_column(String(254))
    customer: Mapped[Customer] = relationship(back_populates="contacts")


@model("sale.customer.address")
class CustomerAddress:
    __tablename__ = "sale_customer_address"
    __audit__ = True

    customer_id: Mapped[int] = mapped_column(ForeignKey("sale_customer.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="billing")  # billing, shipping
    street: Mapped[str] = mapped_column(String(200))
    city: Mapped[str | None] = mapped_column(String(64))
    region: Mapped[str | None] = mapped_column(String(64))
    postcode: Mapped[str | None] = mapped_column(String(16))
    country: Mapped[str] = mapped_column(String(2), default="CN")
    customer: Mapped[Customer] = relationship(back_populates="addresses")
