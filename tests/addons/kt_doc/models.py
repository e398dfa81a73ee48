"""The ``kt.doc`` record."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import ForeignKey, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, orm_insert_sentinel

from core.registry import model


@model("kt.doc")
class KtDoc:
    __tablename__ = "kt_doc"
    __audit__ = True
    #: once done, a document is posted: only the note may still change
    __posted_states__ = ("done",)
    __mutable_when_posted__ = frozenset({"note"})
    #: many new documents go in one multi-row INSERT on SQLite too (``core.flush``)
    _sentinel: Mapped[int | None] = orm_insert_sentinel()

    name: Mapped[str] = mapped_column(String(64))
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal("0"))
    state: Mapped[str] = mapped_column(String(20), index=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("res_user.id"), index=True)
    note: Mapped[str | None] = mapped_column(Text)

    def total(self) -> Decimal:
        """What the document is worth (extensions adjust it and call ``super()``)."""
        return Decimal(self.amount or 0)

    def validate(self) -> dict[str, list[str]]:
        if self.amount is not None and self.amount < 0:
            return {"amount": ["must not be negative"]}
        return {}

    # -- workflow guards ----------------------------------------------------------------------
    def amount_positive(self):
        if not self.amount or self.amount <= 0:
            return "the amount must be positive"
        return None
