"""``sale.credit.score``: the history of a customer's credit scores, one row per scoring date
(``salesflow credit rescore [--date D]``).

The customer's ``credit_score`` and ``credit_score_date`` are its **current** score: the one
of the latest date scored. A rescore as of an earlier date (to see how a customer stood at a
past month end, or to fill the history) adds that date's row here and leaves the current score,
and the grade proposals made from it, alone. Rescoring a date again rewrites its row (audited).

``customer_id`` is deliberately not a foreign key (as ``sale.credit.exposure``'s): sale's
customer merge re-points every foreign key to the merged customer, and two customers scored on
the same date would collide on ``UNIQUE (customer_id, date)``. A score is the standing of that
customer record on that date: a merged (archived) customer keeps its own history.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import JSON, Date, Integer, Numeric, UniqueConstraint
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from core.registry import model


@model("sale.credit.score")
class CreditScore:
    __tablename__ = "sale_credit_score"
    __audit__ = True

    @declared_attr.directive
    def __table_args__(cls):  # new objects per app: a schema item belongs to one table
        return (UniqueConstraint("customer_id", "date"),)

    customer_id: Mapped[int] = mapped_column(Integer)
    #: the date the customer was scored as of
    date: Mapped[dt.date] = mapped_column(Date)
    score: Mapped[Decimal] = mapped_column(Numeric(5, 1))
    #: the four factors (0-1) and the figures they came from (NULL: a score stored before the
    #: history was kept, taken over from the customer's current score)
    factors: Mapped[dict | None] = mapped_column(JSON)

    def validate(self) -> dict[str, list[str]]:
        if self.score is not None and not (0 <= Decimal(self.score) <= 100):
            return {"score": ["must be between 0 and 100"]}
        return {}
