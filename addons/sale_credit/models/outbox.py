"""The outbox: e-mails written in the same transaction as the document they are about, sent
later by a worker (``salesflow credit outbox-send``). See ``services.outbox``.

A row is never deleted: ``pending`` until sent (``sent``), retried with exponential backoff
after a failure (``attempts``, ``next_attempt_at``, ``last_error``), ``failed`` after
``max_attempts`` (visible, and requeued by hand), or ``no_recipient`` when there was no
address to send to. A worker claims a row by a lease (``claim_token``, ``locked_until``) so two
workers never send the same row, and the SMTP conversation happens outside any transaction.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.registry import model

STATES = ("pending", "sent", "failed", "no_recipient")


@model("sale.credit.outbox")
class Outbox:
    __tablename__ = "sale_credit_outbox"

    #: comma-separated addresses ("" when there is none: state no_recipient)
    email_to: Mapped[str] = mapped_column(String(1000), default="")
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    #: not sent before this time (backoff after a failure)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    #: a worker's claim: the row is being sent until this time (then it may be claimed again)
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    claim_token: Mapped[str | None] = mapped_column(String(32))
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    #: what the message is about, e.g. "sale.credit.dunning" and its id
    source_record: Mapped[str | None] = mapped_column(String(64))
    source_id: Mapped[int | None] = mapped_column(Integer, index=True)

    def validate(self) -> dict[str, list[str]]:
        if self.state not in STATES:
            return {"state": [f"must be one of {', '.join(STATES)}"]}
        return {}
