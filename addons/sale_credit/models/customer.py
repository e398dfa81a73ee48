"""The credit profile of a customer (``@extends("sale.customer")``): grade, limit, hold, review
date, score. ``sale.customer`` is audited, so every change of these columns (who, when, old and
new value) is in ``audit.log``; ``credit_note`` carries the credit manager's reason with it.

The effective limit is the customer's own ``credit_limit`` or, when it is NULL, the default
limit of its grade (``[addon.sale_credit.grades.<grade>] limit``); the grade is the customer's
own or ``default_grade``. No grade and no limit: no limit is checked (hold and overdue still are).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import Date, Numeric, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from core.registry import extends

#: the credit columns only a credit manager (or admin, or the system) may change
CREDIT_FIELDS = ("credit_grade", "credit_limit", "credit_hold", "credit_hold_reason",
                 "credit_review_date", "credit_note")


@extends("sale.customer")
class CustomerCredit:
    #: grade code of ``[addon.sale_credit.grades]`` (NULL: ``default_grade``)
    credit_grade: Mapped[str | None] = mapped_column(String(16), index=True)
    #: credit limit in the company currency (NULL: the grade's default limit)
    credit_limit: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    #: on hold: every credit check fails until a credit manager lifts it
    credit_hold: Mapped[bool] = mapped_column(default=False, server_default=false())
    credit_hold_reason: Mapped[str | None] = mapped_column(Text)
    #: when the profile is to be reviewed next
    credit_review_date: Mapped[dt.date | None] = mapped_column(Date)
    #: the current credit score (0-100, ``salesflow credit rescore``): the one of the latest
    #: date scored, and that date (every score: ``sale.credit.score``)
    credit_score: Mapped[Decimal | None] = mapped_column(Numeric(5, 1))
    credit_score_date: Mapped[dt.date | None] = mapped_column(Date)
    #: why the profile last changed (kept with the change in audit.log)
    credit_note: Mapped[str | None] = mapped_column(Text)

    # -- the effective profile ------------------------------------------------------------
    def _credit_profile(self):
        from ..services.credit import effective_profile

        return effective_profile(self.env.settings("sale_credit"), self.credit_grade,
                                 self.credit_limit)

    def credit_grade_code(self) -> str | None:
        """The customer's grade, else the configured ``default_grade``."""
        return self._credit_profile()[0]

    def credit_limit_effective(self) -> Decimal | None:
        """The customer's own limit, else its grade's default limit; None: no limit."""
        return self._credit_profile()[1]

    def credit_policy(self) -> str:
        """"review" or "refuse": the grade's policy, else ``[addon.sale_credit] policy``."""
        return self._credit_profile()[2]

    def validate(self) -> dict[str, list[str]]:
        errors = super().validate() or {}
        from sqlalchemy.orm import object_session

        session = object_session(self)  # None for a detached probe (sale's duplicate check)
        settings = session.info["env"].settings("sale_credit") if session is not None else None
        if settings is not None and self.credit_grade is not None \
                and self.credit_grade not in settings["grades"]:
            known = ", ".join(sorted(settings["grades"])) or "none configured"
            errors.setdefault("credit_grade", []).append(
                f"unknown grade {self.credit_grade!r} (grades: {known})")
        if self.credit_limit is not None and Decimal(self.credit_limit) < 0:
            errors.setdefault("credit_limit", []).append("must not be negative")
        if self.credit_hold and not (self.credit_hold_reason or "").strip():
            errors.setdefault("credit_hold_reason", []).append("a credit hold needs a reason")
        if self.credit_score is not None and not (0 <= Decimal(self.credit_score) <= 100):
            errors.setdefault("credit_score", []).append("must be between 0 and 100")
        return errors
