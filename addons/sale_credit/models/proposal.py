"""``sale.credit.grade_proposal``: a grade change proposed by ``salesflow credit rescore``,
accepted or rejected by a credit manager (accepting sets the customer's grade, audited)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import JSON, Date, DateTime, ForeignKey, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.registry import model

STATES = ("proposed", "accepted", "rejected", "superseded")


@model("sale.credit.grade_proposal")
class GradeProposal:
    __tablename__ = "sale_credit_grade_proposal"
    __audit__ = True

    customer_id: Mapped[int] = mapped_column(ForeignKey("sale_customer.id"), index=True)
    #: the scoring date
    date: Mapped[dt.date] = mapped_column(Date)
    score: Mapped[Decimal] = mapped_column(Numeric(5, 1))
    #: the four factors (0-1) and the figures they came from
    factors: Mapped[dict] = mapped_column(JSON)
    current_grade: Mapped[str | None] = mapped_column(String(16))
    proposed_grade: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(12), default="proposed", index=True)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("res_user.id"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    comment: Mapped[str | None] = mapped_column(Text)

    def validate(self) -> dict[str, list[str]]:
        if self.state not in STATES:
            return {"state": [f"must be one of {', '.join(STATES)}"]}
        return {}
