"""Dunning: levels once per invoice, letters in the customer's language, the outbox in the
same transaction, automatic hold at the final notice, racing runs."""

from __future__ import annotations

import datetime as dt
import threading
import time
from decimal import Decimal

import pytest
from sqlalchemy import select

from core.errors import AccessDenied

pytestmark = pytest.mark.usefixtures("fast_passwords")

D = Decimal
DUE = dt.date(2026, 2, 4)


def _run(sf, coll, date, user="cm"):
    with sf.transaction(user) as env:
        run = coll.dunning.run_dunning(env, date)
        return {"id": run.id, "letters": [(d.invoice_id, d.level) for d in run.dunnings],
                "holds": run.hold_count, "no_recipient": run.no_recipient_count,
                "invoices": run.invoice_count}


def _letters(sf, invoice_id=None):
    with sf.transaction() as env:
        Dunning = env["sale.credit.dunning"]
        crit = [] if invoice_id is None else [Dunning.invoice_id == invoice_id]
        return [(d.invoice_id, d.level, d.days_overdue) for d in env.search(
            "sale.credit.dunning", *crit, order_by=[Dunning.id])]


def test_each_level_once_per_invoice_across_runs(sf, users, dunning_data, coll):
    inv1, inv2 = dunning_data.inv1, dunning_data.inv2
    assert _run(sf, coll, DUE - dt.timedelta(days=4))["letters"] == []  # not yet
    first = _run(sf, coll, DUE - dt.timedelta(days=3))
    assert first["letters"] == [(inv1, "friendly"), (inv2, "friendly")]
    assert first["invoices"] == 2
    assert _run(sf, coll, DUE - dt.timedelta(days=1))["letters"] == []  # friendly already sent
    assert _run(sf, coll, DUE)["letters"] == []  # due today: not overdue yet
    assert _run(sf, coll, DUE + dt.timedelta(days=1))["letters"] == [(inv1, "reminder"),
                                                                     (inv2, "reminder")]
    assert _run(sf, coll, DUE + dt.timedelta(days=1))["letters"] == []  # same day again
    assert _run(sf, coll, DUE + dt.timedelta(days=14))["letters"] == []
    assert _run(sf, coll, DUE + dt.timedelta(days=15))["letters"] == [(inv1, "warning"),
                                                                      (inv2, "warning")]
    assert [level for _, level, _ in _letters(sf, inv1)] == ["friendly", "reminder", "warning"]
    assert [days for _, _, days in _letters(sf, inv1)] == [-3, 1, 15]


def test_a_late_first_run_sends_only_the_highest_level_and_paid_invoices_none(
        sf, users, master, dunning_data, flow, coll):
    flow.pay(master.c2, "2260.00")  # inv2 paid in full
    run = _run(sf, coll, DUE + dt.timedelta(days=20))
    assert run["letters"] == [(dunning_data.inv1, "warning")]  # not friendly + reminder too
    assert run["invoices"] == 1
    later = _run(sf, coll, DUE + dt.timedelta(days=25))
    assert later["letters"] == []  # reminder was skipped, never sent late


def test_letters_in_the_customers_language_and_outbox_rows_written_together(sf, users, dunning_data, coll):
    with pytest.raises(AccessDenied):  # credit managers and finance only
        with sf.transaction("sp1") as env:
            coll.dunning.run_dunning(env, DUE + dt.timedelta(days=1))
    run = _run(sf, coll, DUE + dt.timedelta(days=3), user="finance")
    assert run["no_recipient"] == 1  # c2 has no contact with an e-mail
    with sf.transaction() as env:
        Out = env["sale.credit.outbox"]
        rows = {r.source_id: r for r in env.search("sale.credit.outbox")}
        letters = env.search("sale.credit.dunning")
        assert sorted(rows) == sorted(d.id for d in letters)
        by_invoice = {d.invoice_id: rows[d.id] for d in letters}
        assert by_invoice[dunning_data.inv1].state == "pending"
        assert by_invoice[dunning_data.inv1].email_to == "ap@huadong.example.cn"
        assert by_invoice[dunning_data.inv2].state == "no_recipient"
        assert by_invoice[dunning_data.inv2].email_to == ""
        assert all(r.source_record == "sale.credit.dunning" for r in rows.values())
        assert env.session.scalar(select(Out.id).where(Out.state == "sent")) is None
        # the letters: in the customer's language, amounts as Decimal with separators
        zh, en = by_letter = [next(d for d in letters if d.invoice_id == i)
                              for i in (dunning_data.inv1, dunning_data.inv2)]
        number1 = env.get("sale.invoice", dunning_data.inv1).number
        number2 = env.get("sale.invoice", dunning_data.inv2).number
        assert (zh.lang, en.lang) == ("zh_CN", "en")
        assert zh.subject == f"付款提醒：发票 {number1} 已逾期"
        assert "上海华东贸易有限公司：" in zh.body
        assert "金额 CNY 1,130.00，到期日 2026-02-04，已逾期 3 天" in zh.body
        assert en.subject == f"Payment reminder: invoice {number2} is overdue"
        assert en.body.startswith("Dear Northwind Traders,")
        assert "for CNY 2,260.00, due on 2026-02-04, is 3 days overdue" in en.body
        assert [(d.amount_due, d.invoice_number) for d in by_letter] == \
            [(D("1130.00"), number1), (D("2260.00"), number2)]
        assert rows[zh.id].subject == zh.subject and rows[zh.id].body == zh.body


def test_a_rolled_back_run_leaves_no_letter_and_no_outbox_row(sf, users, dunning_data, coll):
    with pytest.raises(RuntimeError):
        with sf.transaction("cm") as env:
            run = coll.dunning.run_dunning(env, DUE + dt.timedelta(days=1))
            assert run.dunning_count == 2
            assert len(env.search("sale.credit.outbox")) == 2  # written, in this transaction
            raise RuntimeError("the transaction fails later")
    with sf.transaction() as env:
        assert env.search("sale.credit.outbox") == []
        assert env.search("sale.credit.dunning") == []
        assert env.search("sale.credit.dunning_run") == []
    # and the next run writes them (nothing was recorded as sent)
    assert len(_run(sf, coll, DUE + dt.timedelta(days=1))["letters"]) == 2


def test_final_notice_puts_the_customer_on_hold_once(sf, users, master, dunning_data, coll):
    run = _run(sf, coll, DUE + dt.timedelta(days=30))
    assert run["letters"] == [(dunning_data.inv1, "final"), (dunning_data.inv2, "final")]
    assert run["holds"] == 2
    with sf.transaction() as env:
        c1 = env.get("sale.customer", master.c1)
        number = env.get("sale.invoice", dunning_data.inv1).number
        assert c1.credit_hold is True
        assert c1.credit_hold_reason == f"final dunning notice {number}"
        history = sf.audit.history(env, "sale.customer", master.c1)
        change = [h for h in history if "credit_hold" in h["changes"]][-1]
        assert change["changes"]["credit_hold"] == [False, True]
        assert change["user_id"] == users.cm
        Dunning = env["sale.credit.dunning"]
        final = env.search("sale.credit.dunning", Dunning.invoice_id == dunning_data.inv1)[0]
        assert final.put_on_hold is True
        assert "最后催款通知" in final.subject


@pytest.mark.parametrize("levels, message", [
    ([{"code": "a", "days": 5, "template": "reminder"},
      {"code": "b", "days": 5, "template": "warning"}], "strictly ascending"),
    ([{"code": "a", "days": 1, "template": "nope"}], "unknown template"),
    ([{"code": "a", "days": 1, "template": "reminder"},
      {"code": "a", "days": 2, "template": "final"}], "unique"),
])
def test_bad_levels_are_refused_at_startup(levels, message):
    from core.app import Salesflow
    from core.config import ClientConfig
    from core.errors import ConfigError

    config = ClientConfig(name="t", addons=["sale", "sale_credit"], database_url="sqlite://",
                          addon_settings={"sale_credit": {"dunning": {"levels": levels}}})
    with pytest.raises(ConfigError, match=message):
        Salesflow(config)  # settings are validated when the app is built: no database needed


def test_two_racing_runs_write_each_level_once(sf, users, dunning_data, coll, monkeypatch):
    """Run A holds its transaction open after writing its first letter; run B starts then.
    B waits (PostgreSQL: on the unique index; SQLite: for the write lock) and writes nothing
    A wrote; neither fails."""
    real_enqueue = coll.outbox.enqueue
    a_wrote = threading.Event()

    def slow_enqueue(env, **kw):
        row = real_enqueue(env, **kw)
        if threading.current_thread().name == "run-a" and not a_wrote.is_set():
            a_wrote.set()
            time.sleep(0.5)  # B starts meanwhile
        return row

    monkeypatch.setattr(coll.outbox, "enqueue", slow_enqueue)
    results, errors = {}, []

    def run(name):
        try:
            if name == "run-b":
                a_wrote.wait(10)
            results[name] = _run(sf, coll, DUE + dt.timedelta(days=1))["letters"]
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,), name=n) for n in ("run-a", "run-b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert len(results["run-a"]) == 2 and results["run-b"] == []
    letters = _letters(sf)
    assert sorted((i, lv) for i, lv, _ in letters) == sorted(
        [(dunning_data.inv1, "reminder"), (dunning_data.inv2, "reminder")])
    with sf.transaction() as env:
        assert len(env.search("sale.credit.outbox")) == 2


def test_letter_rendering_is_safe_and_falls_back(coll):
    letters = coll.letters
    assert letters.lang_of("zh_TW") == "zh_CN"
    assert letters.lang_of("de") == "en"
    assert letters.format_amount(D("1234567.895")) == "1,234,567.90"
    subject, body = letters.render(
        "friendly", "en", customer="ACME {x}", invoice="INV/1", amount=D("5"), currency="CNY",
        due_date=dt.date(2026, 1, 1), days=-3, company="Us")
    assert subject == "Friendly reminder: invoice INV/1 is due on 2026-01-01"
    assert "in 3 days" in body and "ACME {x}" in body
    custom = {"t": {"en": ("{unknown} {invoice}", "{amount}")}}
    assert letters.render("t", "zh_CN", customer="", invoice="I", amount=D("1"), currency="CNY",
                          due_date=dt.date(2026, 1, 1), days=1, templates=custom) == \
        ("{unknown} I", "1.00")


def test_a_run_dated_after_today_is_refused(sf, users, dunning_data, coll):
    """A mistyped year (--date 2027-...) would send final notices for invoices that are not
    overdue and put their customers on hold today: refused, nothing written."""
    from core.errors import ValidationError

    future = sf.today() + dt.timedelta(days=1)
    with pytest.raises(ValidationError) as refused:
        _run(sf, coll, future)
    assert list(refused.value.errors) == ["date"] and future.isoformat() in str(refused.value)
    assert _letters(sf) == []
    with sf.transaction() as env:
        assert env.search("sale.credit.dunning_run") == []
        assert not any(c.credit_hold for c in env.search("sale.customer"))
    assert _run(sf, coll, sf.today())["letters"]  # today is fine (the final notices are due)
