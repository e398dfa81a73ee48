"""The outbox (发件箱): messages written in the same transaction as what they are about, sent by
a worker afterwards. Nothing is lost: a rolled-back transaction leaves no row (and sends
nothing), a committed one leaves a ``pending`` row until an SMTP server accepted it.

* ``enqueue(env, to=[...], subject=..., body=...)`` adds a row in the caller's transaction
  (``no_recipient`` when ``to`` is empty: visible in the outbox, never silently dropped).
* ``send_pending(sf)`` is one pass of the worker (``salesflow credit outbox-send``):

  1. **claim** up to ``batch_size`` due rows in a short transaction: ``pending``,
     ``next_attempt_at <= now``, not leased by another worker. On PostgreSQL the rows are read
     ``FOR UPDATE SKIP LOCKED`` (a second worker skips them, then sees the lease); on SQLite
     the write transaction (``BEGIN IMMEDIATE``) serialises the claims. The claim writes a
     lease (``claim_token``, ``locked_until = now + lease_seconds``) and commits.
  2. **send** every claimed row over SMTP, outside any transaction (a slow server blocks no
     writer).
  3. **mark** each row in its own short transaction, only while the lease is still ours:
     ``sent`` (``sent_at``) or, after a failure, ``attempts + 1``, ``last_error`` and
     ``next_attempt_at = now + min(backoff_seconds x 2^(attempts-1), backoff_max_seconds)``;
     after ``max_attempts`` failures the row is ``failed`` (kept; ``requeue`` sends it again).

  A worker that dies between sending and marking leaves its lease to expire: the row is sent
  again later (at least once; the ``X-Salesflow-Outbox-Id`` header lets a receiver see the
  repetition). Two live workers never send the same row.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import smtplib
import time
import uuid
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from sqlalchemy import or_, select

from core.errors import ConfigError, ValidationError

log = logging.getLogger(__name__)
RECORD = "sale.credit.outbox"


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite gives naive datetimes back; every datetime we store is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.UTC)


def _utc(now: dt.datetime | None) -> dt.datetime:
    now = now or dt.datetime.now(dt.UTC)
    return now.astimezone(dt.UTC) if now.tzinfo else now.replace(tzinfo=dt.UTC)


def backoff_seconds(attempts: int, base: int, cap: int) -> int:
    """Seconds to wait after the ``attempts``-th failure: ``base x 2^(attempts-1)``, at most
    ``cap``."""
    return min(cap, base * 2 ** max(attempts - 1, 0))


def enqueue(env, *, to: list[str] | tuple[str, ...], subject: str, body: str,
            source_record: str | None = None, source_id: int | None = None):
    """Write a message to the outbox in ``env``'s transaction (sent after it commits).
    Runs as the system: the outbox is bookkeeping of the document the user was allowed to
    write."""
    addresses = [a.strip() for a in to if a and a.strip()]
    with env.sudo():
        return env.create(
            RECORD, email_to=", ".join(addresses)[:1000], subject=subject[:300], body=body,
            state="pending" if addresses else "no_recipient", attempts=0,
            next_attempt_at=_utc(env.now), source_record=source_record, source_id=source_id,
        )


def requeue(env, outbox_id: int):
    """Send a ``failed`` row again: back to ``pending`` now (attempts are kept, so one more
    failure gives up again; the history stays in ``last_error``)."""
    row = env.get(RECORD, outbox_id)
    if row.state != "failed":
        raise ValidationError({"state": [f"only failed messages are requeued (this one is {row.state})"]})
    return env.write(row, state="pending", next_attempt_at=_utc(env.now), locked_until=None,
                     claim_token=None)


# -- the worker ----------------------------------------------------------------------------------


@dataclass
class Claimed:
    id: int
    token: str
    to: list[str]
    subject: str
    body: str
    attempts: int


@dataclass
class SendResult:
    claimed: int = 0
    sent: int = 0
    failed: int = 0  # failures this pass (retried later unless given up)
    given_up: int = 0  # rows that reached max_attempts and are now "failed"
    lost_lease: int = 0  # rows another worker took over meanwhile (not marked by us)
    errors: list[str] = field(default_factory=list)


def claim(sf, *, now: dt.datetime | None = None, limit: int | None = None) -> list[Claimed]:
    """Lease up to ``limit`` due rows to this worker (step 1 of the module docstring)."""
    settings = sf.settings["sale_credit"]["outbox"]
    now = _utc(now)
    limit = limit or settings["batch_size"]
    token = uuid.uuid4().hex
    until = now + dt.timedelta(seconds=settings["lease_seconds"])
    with sf.transaction() as env:
        Outbox = env[RECORD]
        stmt = (select(Outbox)
                .where(Outbox.state == "pending", Outbox.next_attempt_at <= now,
                       or_(Outbox.locked_until.is_(None), Outbox.locked_until < now))
                .order_by(Outbox.next_attempt_at, Outbox.id).limit(limit)
                .with_for_update(skip_locked=True))
        rows = list(env.session.scalars(stmt))
        for row in rows:
            row.claim_token = token
            row.locked_until = until
        env.session.flush()
        return [Claimed(r.id, token, [a.strip() for a in r.email_to.split(",") if a.strip()],
                        r.subject, r.body, r.attempts) for r in rows]


def smtp_password(smtp: dict[str, Any]) -> str | None:
    """The SMTP password; a ``password_env`` variable that is not set is a ``ConfigError`` (a
    worker started without it would fail, and count, every message)."""
    name = smtp.get("password_env")
    if not name:
        return smtp.get("password")
    if name not in os.environ:
        raise ConfigError(f"[addon.sale_credit.smtp]: password_env: the variable {name} is not "
                          f"set in the worker's environment (the SMTP password); nothing was sent")
    return os.environ[name]


def connect(smtp: dict[str, Any]) -> smtplib.SMTP:
    """An SMTP connection by ``[addon.sale_credit.smtp]`` (TLS and login as configured)."""
    cls = smtplib.SMTP_SSL if smtp["ssl"] else smtplib.SMTP
    conn = cls(smtp["host"], smtp["port"], timeout=smtp["timeout"])
    try:
        if smtp["starttls"]:
            conn.starttls()
        if smtp.get("username"):
            conn.login(smtp["username"], smtp_password(smtp) or "")
    except BaseException:
        conn.close()
        raise
    return conn


def build_message(item: Claimed, sender: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = ", ".join(item.to)
    msg["Subject"] = item.subject
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(idstring=f"outbox-{item.id}")
    msg["X-Salesflow-Outbox-Id"] = str(item.id)
    msg.set_content(item.body)
    return msg


def _mark(sf, item: Claimed, *, error: str | None, now: dt.datetime, result: SendResult) -> None:
    settings = sf.settings["sale_credit"]["outbox"]
    with sf.transaction() as env:
        Outbox = env[RECORD]
        row = env.session.scalars(select(Outbox).where(Outbox.id == item.id)
                                  .with_for_update()).one_or_none()
        if row is None or row.claim_token != item.token or row.state != "pending":
            result.lost_lease += 1
            log.warning("outbox %s: lease lost before it was marked", item.id)
            return
        row.claim_token = None
        row.locked_until = None
        if error is None:
            row.state = "sent"
            row.sent_at = now
            row.last_error = None
            result.sent += 1
            return
        row.attempts = (row.attempts or 0) + 1
        row.last_error = error[:2000]
        result.failed += 1
        if row.attempts >= settings["max_attempts"]:
            row.state = "failed"
            result.given_up += 1
        else:
            wait = backoff_seconds(row.attempts, settings["backoff_seconds"],
                                   settings["backoff_max_seconds"])
            row.next_attempt_at = now + dt.timedelta(seconds=wait)


def send_pending(sf, *, now: dt.datetime | None = None, limit: int | None = None,
                 connect_smtp=None) -> SendResult:
    """One pass of the worker: claim due rows, send them, mark them (module docstring).
    ``connect_smtp(smtp_settings)`` opens the SMTP connection (default ``connect``)."""
    smtp = sf.settings["sale_credit"]["smtp"]
    if smtp.get("username"):
        smtp_password(smtp)  # before claiming: a missing password is not the messages' failure
    connect_smtp = connect_smtp or connect
    result = SendResult()
    items = claim(sf, now=now, limit=limit)
    result.claimed = len(items)
    if not items:
        return result
    conn = None
    conn_error: str | None = None
    try:
        for item in items:
            error = None
            if conn is None and conn_error is None:
                try:
                    conn = connect_smtp(smtp)
                except (OSError, smtplib.SMTPException) as exc:
                    conn_error = f"connect {smtp['host']}:{smtp['port']}: {exc!r}"
            if conn_error is not None:
                error = conn_error
            else:
                try:
                    refused = conn.send_message(build_message(item, smtp["sender"]),
                                                from_addr=smtp["sender"], to_addrs=item.to)
                    if refused:
                        log.warning("outbox %s: some recipients refused: %s", item.id, refused)
                except (OSError, smtplib.SMTPException) as exc:
                    error = repr(exc)
                    if isinstance(exc, (OSError, smtplib.SMTPServerDisconnected)):
                        _close(conn)
                        conn = None  # reconnect for the next message
            if error is not None:
                result.errors.append(f"{item.id}: {error}")
            _mark(sf, item, error=error, now=_utc(now), result=result)
    finally:
        _close(conn)
    return result


def _close(conn) -> None:
    if conn is None:
        return
    try:
        conn.quit()
    except (OSError, smtplib.SMTPException):
        conn.close()


def run_worker(sf, *, once: bool = False, interval: float = 30.0, limit: int | None = None,
               connect_smtp=None, echo=None) -> SendResult:
    """Send until the queue has nothing due (``once``), or forever, polling every
    ``interval`` seconds. Returns the totals."""
    total = SendResult()
    while True:
        while True:
            result = send_pending(sf, limit=limit, connect_smtp=connect_smtp)
            for name in ("claimed", "sent", "failed", "given_up", "lost_lease"):
                setattr(total, name, getattr(total, name) + getattr(result, name))
            total.errors.extend(result.errors)
            if echo and result.claimed:
                echo(f"claimed {result.claimed}, sent {result.sent}, failed {result.failed}"
                     + (f" (gave up {result.given_up})" if result.given_up else ""))
                for line in result.errors:
                    echo(f"  error {line}")
            # stop this round when nothing was due, or every due row failed (they wait now)
            if result.claimed == 0 or result.sent == 0:
                break
        if once:
            return total
        time.sleep(interval)


def counts(env) -> dict[str, int]:
    """Rows per state (through the user's access rights)."""
    from sqlalchemy import func

    Outbox = env[RECORD]
    rows = env.session.execute(select(Outbox.state, func.count()).group_by(Outbox.state)).all()
    return {state: n for state, n in rows}
