"""The outbox worker: sends to an SMTP server and marks rows sent; failures are retried with
backoff and never lost; two workers never send a row twice; leases of dead workers expire."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

pytestmark = pytest.mark.usefixtures("fast_passwords")

T0 = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC)


@pytest.fixture
def credit_settings(credit_settings, smtp_settings):
    return {**credit_settings, "smtp": smtp_settings,
            "outbox": {"max_attempts": 3, "backoff_seconds": 60, "batch_size": 4,
                       "lease_seconds": 120}}


def _queue(sf, coll, n=1, to=("ap@example.com",), when=T0):
    ids = []
    with sf.transaction() as env:
        for i in range(n):
            row = coll.outbox.enqueue(env, to=list(to), subject=f"发票提醒 {i}",
                                      body=f"您好，第 {i} 封。\nLine 2", source_record="test",
                                      source_id=i)
            row.next_attempt_at = when
            ids.append(row.id)
    return ids


def _rows(sf):
    with sf.transaction() as env:
        return {r.id: r for r in env.search("sale.credit.outbox")}


def test_worker_sends_and_marks_sent(sf, coll, fake_smtp):
    ids = _queue(sf, coll, 2)
    _queue(sf, coll, 1, to=())  # no recipient: never sent, kept
    result = coll.outbox.send_pending(sf, now=T0)
    assert (result.claimed, result.sent, result.failed) == (2, 2, 0)
    assert sorted(fake_smtp.outbox_ids()) == ids
    msg = fake_smtp.messages[0]
    assert msg["From"] == "ar@example.com" and msg["To"] == "ap@example.com"
    assert msg["Subject"] == "发票提醒 0"
    assert msg.get_content().replace("\r\n", "\n") == "您好，第 0 封。\nLine 2\n"
    assert fake_smtp.rcpts[0] == ["ap@example.com"]
    rows = _rows(sf)
    assert [rows[i].state for i in ids] == ["sent", "sent"]
    assert all(rows[i].sent_at is not None and rows[i].claim_token is None for i in ids)
    assert sorted(r.state for r in rows.values()) == ["no_recipient", "sent", "sent"]
    # nothing left to do
    assert coll.outbox.send_pending(sf, now=T0 + dt.timedelta(hours=1)).claimed == 0
    assert len(fake_smtp.messages) == 2
    # a row is not sent before it is due
    _queue(sf, coll, 1, when=T0 + dt.timedelta(hours=2))
    assert coll.outbox.send_pending(sf, now=T0 + dt.timedelta(hours=1)).claimed == 0
    assert coll.outbox.send_pending(sf, now=T0 + dt.timedelta(hours=2)).sent == 1


def test_a_failure_is_retried_with_backoff_then_given_up_never_lost(sf, coll, fake_smtp):
    [oid] = _queue(sf, coll, 1)
    fake_smtp.fail_data = 1  # 451 once
    first = coll.outbox.send_pending(sf, now=T0)
    assert (first.sent, first.failed, first.given_up) == (0, 1, 0)
    row = _rows(sf)[oid]
    assert (row.state, row.attempts) == ("pending", 1)
    assert "451" in row.last_error
    assert coll.outbox._aware(row.next_attempt_at) == T0 + dt.timedelta(seconds=60)
    assert coll.outbox.send_pending(sf, now=T0 + dt.timedelta(seconds=59)).claimed == 0
    second = coll.outbox.send_pending(sf, now=T0 + dt.timedelta(seconds=60))
    assert second.sent == 1
    row = _rows(sf)[oid]
    assert (row.state, row.attempts, row.last_error) == ("sent", 1, None)
    assert fake_smtp.outbox_ids() == [oid]


def test_server_down_backoff_doubles_and_failed_rows_are_requeued(sf, users, coll, fake_smtp):
    [oid] = _queue(sf, coll, 1)

    def refused(_smtp):
        raise ConnectionRefusedError("connection refused")

    now = T0
    waits = []
    for _ in range(3):
        result = coll.outbox.send_pending(sf, now=now, connect_smtp=refused)
        assert result.failed == 1
        row = _rows(sf)[oid]
        waits.append(coll.outbox._aware(row.next_attempt_at) - now)
        now = coll.outbox._aware(row.next_attempt_at)
    row = _rows(sf)[oid]
    assert (row.state, row.attempts) == ("failed", 3)  # max_attempts: kept, visible
    assert "connection refused" in row.last_error
    assert waits[:2] == [dt.timedelta(seconds=60), dt.timedelta(seconds=120)]
    assert coll.outbox.send_pending(sf, now=now + dt.timedelta(days=1)).claimed == 0
    with sf.transaction("cm") as env:
        coll.outbox.requeue(env, oid)
    assert coll.outbox.send_pending(sf).sent == 1  # the server is back
    assert _rows(sf)[oid].state == "sent"


def test_backoff_is_capped():
    from sale_credit.services.outbox import backoff_seconds

    assert [backoff_seconds(n, 60, 300) for n in (1, 2, 3, 4, 10)] == [60, 120, 240, 300, 300]


def test_a_dead_workers_lease_expires(sf, coll, fake_smtp):
    [oid] = _queue(sf, coll, 1)
    claimed = coll.outbox.claim(sf, now=T0)  # a worker claims, then dies before sending
    assert [c.id for c in claimed] == [oid]
    assert coll.outbox.send_pending(sf, now=T0 + dt.timedelta(seconds=119)).claimed == 0
    result = coll.outbox.send_pending(sf, now=T0 + dt.timedelta(seconds=121))
    assert result.sent == 1 and fake_smtp.outbox_ids() == [oid]
    # the dead worker's late mark does not touch the row (its lease is gone)
    late = coll.outbox.SendResult()
    coll.outbox._mark(sf, claimed[0], error="boom", now=T0, result=late)
    assert late.lost_lease == 1 and _rows(sf)[oid].state == "sent"


def test_two_workers_never_send_the_same_row(sf, coll, fake_smtp):
    ids = _queue(sf, coll, 24)
    errors = []
    barrier = threading.Barrier(2)

    def worker():
        try:
            barrier.wait(5)
            while coll.outbox.send_pending(sf, now=T0).claimed:
                pass
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    sent = fake_smtp.outbox_ids()
    assert sorted(sent) == ids  # every row exactly once
    assert all(r.state == "sent" for r in _rows(sf).values())


def test_run_worker_once_drains_the_queue(sf, coll, fake_smtp):
    _queue(sf, coll, 9, when=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
    lines = []
    total = coll.outbox.run_worker(sf, once=True, echo=lines.append)
    assert total.sent == 9 and len(fake_smtp.messages) == 9
    assert lines[0].startswith("claimed 4, sent 4")


def test_an_unset_password_variable_stops_the_worker_before_it_claims(make_sf, sf, credit_settings,
                                                                       coll, fake_smtp, monkeypatch):
    """password_env names a variable the worker's environment lacks: every pass would log in
    with an empty password and count a failed attempt on every message until all are given up;
    the worker stops with the variable's name, the rows untouched."""
    monkeypatch.delenv("SF_TEST_SMTP_PASSWORD", raising=False)
    smtp = {**credit_settings["smtp"], "username": "ar", "password_env": "SF_TEST_SMTP_PASSWORD"}
    sf2 = make_sf(["sale", "sale_credit"], settings={"sale_credit": {**credit_settings, "smtp": smtp}})
    (row_id,) = _queue(sf2, coll, 1)
    from core.errors import ConfigError

    with pytest.raises(ConfigError, match="SF_TEST_SMTP_PASSWORD is not set"):
        coll.outbox.run_worker(sf2, once=True)
    row = _rows(sf2)[row_id]
    assert (row.state, row.attempts, row.claim_token, row.last_error) == ("pending", 0, None, None)
    assert fake_smtp.messages == []
