"""Sales teams, salespersons and customers (with contacts and addresses).

Each record checks its own fields in ``validate()`` (called by the kernel before every flush,
whoever writes the row), and keeps its duplicate-detection keys (``Customer.name_key``,
``CustomerContact.phone_key``) in step with the values they derive from, so rows written
outside ``services.partner`` (demo data, other addons) are still found as duplicates. A
customer's ``tax_id`` is itself such a key: it is normalised (``normalize_tax_id``) as it is
set, so the flush writes, validates and audits the normalised value.
"""

from __future__ import annotations

import re
import unicodedata

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from core.registry import model

TIERS = ("key", "normal")
ADDRESS_KINDS = ("billing", "shipping")

#: company-form suffixes dropped from a name before comparing (after NFKC and lower-casing)
_CN_SUFFIXES = ("股份有限公司", "有限责任公司", "有限公司", "股份公司", "公司")
_EN_SUFFIXES = {"co", "company", "ltd", "limited", "inc", "incorporated", "corp", "corporation",
                "llc", "plc", "gmbh", "sa", "ag", "pte", "pty"}
_PUNCT = re.compile(r"[^\w]+|_")
#: a mainland mobile number (11 digits, 13x-19x); other numbers after +86 are landlines
_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_LANG = re.compile(r"^[a-z]{2}(_[A-Z]{2})?$")


def name_key(name: str | None) -> str:
    """The name as compared for duplicates: full-width folded to half-width (NFKC),
    lower-cased, punctuation and spaces removed, common company suffixes dropped
    ("上海华东贸易有限公司" and "ＡＣＭＥ Co., Ltd." -> "上海华东贸易", "acme")."""
    if not name:
        return ""
    text = unicodedata.normalize("NFKC", name).casefold()
    words = [w for w in _PUNCT.split(text) if w]
    while len(words) > 1 and words[-1] in _EN_SUFFIXES:
        words.pop()
    key = "".join(words)
    stripped = True
    while stripped:
        stripped = False
        for suffix in _CN_SUFFIXES:
            if key.endswith(suffix) and len(key) > len(suffix):
                key = key[: -len(suffix)]
                stripped = True
                break
    return key[:200]


def normalize_tax_id(value) -> str | None:
    """The tax id as stored and compared for duplicates: full-width folded to half-width
    (NFKC), spaces removed, upper-cased ("9144 0000 ma1fl0009z" -> "91440000MA1FL0009Z"); None
    when blank."""
    if value is None:
        return None
    text = "".join(unicodedata.normalize("NFKC", str(value)).split()).upper()
    return text or None


def phone_key(phone: str | None) -> str | None:
    """Digits only, without a leading 86 / 0086 country code ("+86 138-0013-8000" ->
    "13800138000"; a landline gets its trunk 0: "+86 21 5555 1234" -> "02155551234"); None
    when there are no digits."""
    if not phone:
        return None
    digits = "".join(ch for ch in unicodedata.normalize("NFKC", phone) if ch.isdigit())
    if digits.startswith("0086"):
        digits = digits[2:]
    if digits.startswith("86") and len(digits) > 10:
        digits = digits[2:]
        if not _MOBILE.match(digits) and not digits.startswith("0"):
            # a landline: at home its area code is dialled with the trunk 0 ("+86 21 5555
            # 1234" is "021-5555 1234"), the same number must give the same key
            digits = "0" + digits
    return digits[:32] or None


def check_fields(obj, required: tuple[str, ...] = ()) -> dict[str, list[str]]:
    """Required text fields non-blank and every text within its column length."""
    errors: dict[str, list[str]] = {}
    for name in required:
        value = getattr(obj, name, None)
        if value is None or (isinstance(value, str) and not value.strip()):
            errors.setdefault(name, []).append("is required")
    for column in type(obj).__table__.columns:
        value = getattr(obj, column.key, None)
        length = getattr(column.type, "length", None)
        if isinstance(value, str) and length and len(value) > length:
            errors.setdefault(column.key, []).append(f"is too long ({len(value)} characters, at most {length})")
    return errors


@model("sale.team")
class SalesTeam:
    __tablename__ = "sale_team"
    __audit__ = True

    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    manager_user_id: Mapped[int | None] = mapped_column(ForeignKey("res_user.id"))
    active: Mapped[bool] = mapped_column(default=True)

    def validate(self) -> dict[str, list[str]]:
        return check_fields(self, ("code", "name"))


@model("sale.salesperson")
class Salesperson:
    __tablename__ = "sale_salesperson"
    __audit__ = True

    user_id: Mapped[int] = mapped_column(ForeignKey("res_user.id"), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("sale_team.id"), index=True)
    active: Mapped[bool] = mapped_column(default=True)
    team: Mapped[SalesTeam | None] = relationship()

    def validate(self) -> dict[str, list[str]]:
        return check_fields(self, ("name",))


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

    @validates("tax_id")
    def _normalize_tax_id(self, _key, value):
        # on set, not in validate(): the flush's changes (written, audited) are taken before
        # validate() runs
        return normalize_tax_id(value)

    def validate(self) -> dict[str, list[str]]:
        self.name_key = name_key(self.name)  # derived: kept in step on every flush
        errors = check_fields(self, ("code", "name"))
        if self.tier is not None and self.tier not in TIERS:
            errors.setdefault("tier", []).append(f"must be one of {', '.join(TIERS)} (got {self.tier!r})")
        if self.currency is not None and not _CURRENCY.match(self.currency):
            errors.setdefault("currency", []).append("must be a 3-letter ISO code in capitals, e.g. CNY")
        if self.lang is not None and not _LANG.match(self.lang):
            errors.setdefault("lang", []).append("must be a language code like zh_CN or en")
        if self.merged_into_id is not None and self.merged_into_id == self.id:
            errors.setdefault("merged_into_id", []).append("a customer cannot be merged into itself")
        return errors


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

    def validate(self) -> dict[str, list[str]]:
        self.phone_key = phone_key(self.phone)  # derived: kept in step on every flush
        errors = check_fields(self, ("name",))
        if self.email and not _EMAIL.match(self.email):
            errors.setdefault("email", []).append(f"{self.email!r} is not an e-mail address")
        if self.phone and not self.phone_key:
            errors.setdefault("phone", []).append(f"{self.phone!r} contains no digits")
        return errors


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

    def validate(self) -> dict[str, list[str]]:
        errors = check_fields(self, ("street",))
        if self.kind is not None and self.kind not in ADDRESS_KINDS:
            errors.setdefault("kind", []).append(f"must be one of {', '.join(ADDRESS_KINDS)}")
        if self.country is not None and not re.match(r"^[A-Z]{2}$", self.country):
            errors.setdefault("country", []).append("must be a 2-letter ISO code in capitals, e.g. CN")
        return errors
