"""Kernel records."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.registry import model
from core.security import hash_password, verify_password


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@model("res.user")
class User:
    __tablename__ = "res_user"
    __audit__ = True

    login: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    email: Mapped[str | None] = mapped_column(String(254))
    password_hash: Mapped[str | None] = mapped_column(String(256))
    active: Mapped[bool] = mapped_column(default=True)
    lang: Mapped[str | None] = mapped_column(String(8))
    role_links: Mapped[list[UserRole]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )

    def role_codes(self) -> list[str]:
        return [link.role for link in self.role_links]

    def set_password(self, password: str) -> None:
        if len(password) < 8:
            from core.errors import ValidationError

            raise ValidationError({"password": ["must have at least 8 characters"]})
        self.password_hash = hash_password(password)

    def check_password(self, password: str) -> bool:
        return self.active and verify_password(self.password_hash, password)


@model("res.user_role")
class UserRole:
    __tablename__ = "res_user_role"
    __table_args__ = (UniqueConstraint("user_id", "role"),)
    __audit__ = True

    user_id: Mapped[int] = mapped_column(ForeignKey("res_user.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(64))
    user: Mapped[User] = relationship(back_populates="role_links")


@model("res.api_token")
class ApiToken:
    __tablename__ = "res_api_token"

    user_id: Mapped[int] = mapped_column(ForeignKey("res_user.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    revoked: Mapped[bool] = mapped_column(default=False)
    user: Mapped[User] = relationship()


@model("workflow.log")
class TransitionLog:
    """One row per transition. Append-only: the app never updates or deletes it."""

    __tablename__ = "workflow_log"
    __append_only__ = True
    __system__ = True

    record: Mapped[str] = mapped_column(String(64))
    record_id: Mapped[int] = mapped_column(Integer)
    trigger: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(32))
    dest: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("res_user.id"))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    comment: Mapped[str | None] = mapped_column(Text)

    __table_args__ = ({"sqlite_autoincrement": True},)


@model("audit.log")
class AuditLog:
    """Who changed what, when: old and new values. Append-only."""

    __tablename__ = "audit_log"
    __append_only__ = True
    __system__ = True

    record: Mapped[str] = mapped_column(String(64))
    record_id: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(8))  # create, write, delete
    user_id: Mapped[int | None] = mapped_column(Integer)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    changes: Mapped[dict] = mapped_column(JSON, default=dict)


@model("approval")
class Approval:
    """One approval level given by one user on one record for one trigger. Append-only.

    ``fingerprint`` binds it to what was approved: when the record's fingerprint changes the
    approval no longer counts.
    """

    __tablename__ = "approval"
    __append_only__ = True
    __system__ = True

    record: Mapped[str] = mapped_column(String(64))
    record_id: Mapped[int] = mapped_column(Integer, index=True)
    trigger: Mapped[str] = mapped_column(String(64))
    level: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int] = mapped_column(ForeignKey("res_user.id"))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    amount: Mapped[Decimal] = mapped_column(Numeric(18, 2))
    fingerprint: Mapped[str] = mapped_column(String(64))
    comment: Mapped[str | None] = mapped_column(Text)


@model("res.sequence")
class Sequence:
    """Gap-free counters (invoice numbers per year...). Incremented under a row lock."""

    __tablename__ = "res_sequence"
    __table_args__ = (UniqueConstraint("code", "period"),)
    __system__ = True

    code: Mapped[str] = mapped_column(String(64))
    period: Mapped[str] = mapped_column(String(16), default="")
    last: Mapped[int] = mapped_column(Integer, default=0)


@model("api.idempotency")
class IdempotencyKey:
    """First response to a POST carrying ``Idempotency-Key``, replayed on retries."""

    __tablename__ = "api_idempotency"
    __table_args__ = (UniqueConstraint("user_id", "key"),)
    __system__ = True

    user_id: Mapped[int] = mapped_column(Integer)
    key: Mapped[str] = mapped_column(String(128))
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(Integer)
    body: Mapped[dict] = mapped_column(JSON)


@model("res.login_attempt")
class LoginAttempt:
    """One web login attempt (kept for throttling and for the security log). Append-only."""

    __tablename__ = "res_login_attempt"
    __append_only__ = True
    __system__ = True

    login: Mapped[str] = mapped_column(String(64), index=True)
    ip: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    ok: Mapped[bool] = mapped_column(default=False)


@model("res.web_session")
class WebSession:
    """A signed-in browser session: the cookie carries a random id whose hash is kept here, so
    logging out (or a password change) ends the session server-side, even if the old cookie is
    replayed."""

    __tablename__ = "res_web_session"
    __system__ = True

    sid_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("res_user.id", ondelete="CASCADE"), index=True)
    ip: Mapped[str | None] = mapped_column(String(64))
