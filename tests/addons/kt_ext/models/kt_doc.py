"""``kt.doc`` as kt_ext extends it: a discount and a reference."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from core.registry import extends


@extends("kt.doc")
class KtDocExt:
    # server default: an app without kt_ext can still insert into a table that has the column
    discount: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal("0"),
                                              server_default="0")
    reference: Mapped[str | None] = mapped_column(String(32))

    def total(self) -> Decimal:
        return super().total() - Decimal(self.discount or 0)

    # -- workflow guards ----------------------------------------------------------------------
    def has_reference(self):
        return None if self.reference else "a reference is required (kt_ext)"
