"""Journal: balanced entries for invoices, credit notes and payments; append-only; trial balance."""

import datetime as dt
from decimal import Decimal as D

import pytest
from sqlalchemy import update

from core.errors import AccessDenied, ImmutableRecord, ValidationError

pytestmark = pytest.mark.usefixtures("fast_passwords")

JAN5, FEB1 = dt.date(2026, 1, 5), dt.date(2026, 2, 1)


def _lines(entry):
    return sorted((ln.account.code, ln.debit, ln.credit, ln.customer_id) for ln in entry.lines)


def test_entries_of_invoice_credit_note_and_payments(sf, master, flow, acc):
    oid = flow.order(lines=[(0, "10", None)], ship={0: "4"})
    iid = flow.invoice(oid, date=JAN5)  # 400.00 + 52.00
    cash = flow.pay(master.c1, "100.00", method="cash", date=dt.date(2026, 1, 10))
    bank = flow.pay(master.c1, "500.00", method="bank_transfer", date=FEB1)  # 148 over
    with sf.transaction("finance") as env:
        invoice = env.get("sale.invoice", iid)
        credit = acc.invoice.create_credit_note(
            env, invoice, reason="1 unit damaged",
            lines=[{"invoice_line_id": invoice.lines[0].id, "quantity": "1"}], date=FEB1)
    c1 = master.c1
    with sf.transaction("finance") as env:
        invoice = env.get("sale.invoice", iid)
        entry = env.get("sale.journal.entry", invoice.journal_entry_id)
        assert (entry.number, entry.date, entry.source_record, entry.source_id) == (
            "JE/2026/000001", JAN5, "sale.invoice", iid)
        assert _lines(entry) == [("1122", D("452.00"), 0, c1), ("22210106", 0, D("52.00"), None),
                                 ("6001", 0, D("400.00"), None)]
        (cash_entry,) = acc.journal.entries_of(env, "sale.payment", cash)
        assert _lines(cash_entry) == [("1001", D("100.00"), 0, None), ("1122", 0, D("100.00"), c1)]
        (bank_entry,) = acc.journal.entries_of(env, "sale.payment", bank)
        assert _lines(bank_entry) == [("1002", D("500.00"), 0, None), ("1122", 0, D("500.00"), c1)]
        credit = env.get("sale.invoice", credit.id)
        reverse = env.get("sale.journal.entry", credit.journal_entry_id)
        assert reverse.reversed_entry_id == entry.id and reverse.number == "JE/2026/000004"
        assert _lines(reverse) == [("1122", 0, D("113.00"), c1), ("22210106", D("13.00"), 0, None),
                                   ("6001", D("100.00"), 0, None)]

        tb = acc.journal.trial_balance(env)
        assert tb["balanced"] and tb["debit"] == tb["credit"] == D("1165.00")
        balances = {row["code"]: row["balance"] for row in tb["rows"]}
        # receivable: 452 - 100 - 500 - 113 = -261 (the customer has credit)
        assert balances == {"1001": D("100.00"), "1002": D("500.00"), "1122": D("-261.00"),
                            "22210106": D("-39.00"), "6001": D("-300.00")}
        assert acc.receivables.balance(env, c1, FEB1) == D("-261.00")
        january = acc.journal.trial_balance(env, date_to=dt.date(2026, 1, 31))
        assert january["balanced"] and january["debit"] == D("552.00")
        assert {r["code"]: r["balance"] for r in january["rows"]}["1122"] == D("352.00")
        february = acc.journal.trial_balance(env, FEB1, dt.date(2026, 2, 28))
        assert february["balanced"] and february["debit"] == D("613.00")
        with pytest.raises(ValidationError):
            acc.journal.trial_balance(env, FEB1, JAN5)
    with sf.transaction("director") as env:
        assert acc.journal.trial_balance(env)["balanced"]
    with sf.transaction("sp1") as env, pytest.raises(AccessDenied):
        acc.journal.trial_balance(env)


def test_journal_is_append_only_and_balanced(sf, master, flow, acc):
    iid = flow.invoice(flow.order(), date=JAN5)
    with sf.transaction("finance") as env:
        entry_id = env.get("sale.invoice", iid).journal_entry_id
    Line = sf.registry["sale.journal.line"]
    attempts = [
        lambda env: setattr(env.get("sale.journal.entry", entry_id).lines[0], "debit", D("1")),
        lambda env: setattr(env.get("sale.journal.entry", entry_id), "date", FEB1),
        lambda env: env.session.delete(env.get("sale.journal.entry", entry_id)),
        lambda env: env.session.execute(update(Line).values(debit=D("0"))),
    ]
    for attempt in attempts:
        with pytest.raises(ImmutableRecord), sf.transaction() as env:
            attempt(env)
            env.session.flush()
    with sf.transaction("finance") as env:
        entry = env.get("sale.journal.entry", entry_id)
        assert entry.date == JAN5 and sum(ln.debit for ln in entry.lines) == D("226.00")
    # the chart of accounts is created once; an unbalanced entry is refused
    with sf.transaction("finance") as env:
        first = acc.journal.ensure_accounts(env)
        again = acc.journal.ensure_accounts(env)
        assert {role: a.id for role, a in first.items()} == {role: a.id for role, a in again.items()}
        assert {a.code: a.name_zh for a in env.search("sale.account")} == {
            "1122": "应收账款", "6001": "主营业务收入", "22210106": "应交税费-销项税额",
            "1002": "银行存款", "1001": "库存现金", "6603": "财务费用-现金折扣",
            "660302": "财务费用-汇兑损益"}
        with pytest.raises(ValidationError) as bad:
            acc.journal.post_entry(env, date=JAN5, source_record="manual", source_id=0, label="x",
                                   lines=[{"account": "cash", "debit": D("10")},
                                          {"account": "revenue", "credit": D("9.99")}])
        assert "unbalanced" in bad.value.errors["lines"][0]
        assert [e.id for e in env.search("sale.journal.entry")] == [entry_id]


def test_lines_go_in_only_with_their_new_entry(sf, master, flow, acc):
    """An entry in the database takes no more lines (finance may create journal lines), by the
    session or a bulk ORM INSERT; the trial balance stays balanced."""
    from sqlalchemy import insert

    iid = flow.invoice(flow.order(), date=JAN5)
    with sf.transaction("finance") as env:
        entry_id = env.get("sale.invoice", iid).journal_entry_id
        cash = acc.journal.account_ids(env)["cash"]
    with pytest.raises(ImmutableRecord) as err, sf.transaction("finance") as env:
        env.create("sale.journal.line", entry_id=entry_id, account_id=cash, debit=D("999.00"))
    assert str(err.value) == (f"sale.journal.entry {entry_id} is posted: no sale.journal.line "
                              "can be added to it")
    with pytest.raises(ImmutableRecord, match="bulk insert of sale.journal.line is not allowed"):
        with sf.transaction() as env:
            Line = env["sale.journal.line"]
            env.session.execute(insert(Line).values(entry_id=entry_id, account_id=cash,
                                                    debit=D("999.00"), credit=D("0"), version=1))
    with sf.transaction("finance") as env:
        balance = acc.journal.trial_balance(env)
        assert balance["balanced"] and balance["debit"] == D("226.00")
        assert len(env.get("sale.journal.entry", entry_id).lines) == 3


def _entry(env, lines, number="JE/2026/900001"):
    Entry, Line = env["sale.journal.entry"], env["sale.journal.line"]
    entry = Entry(number=number, date=JAN5, source_record="manual", source_id=0, label="manual",
                  lines=[Line(**values) for values in lines])
    env.session.add(entry)
    env.session.flush()
    return entry


def test_an_entry_balances_per_currency_whoever_writes_it(sf, master, acc):
    with sf.transaction("finance") as env:
        ids = acc.journal.account_ids(env)
        cash, revenue, receivable = ids["cash"], ids["revenue"], ids["receivable"]
    attempts = {
        "debit 10.00 != credit 9.99": [
            {"account_id": cash, "debit": D("10.00")},
            {"account_id": revenue, "credit": D("9.99")}],
        # balanced in yuan, not in dollars: the USD lines must cancel out too
        "unbalanced in USD: 100.00 debit != 90.00 credit": [
            {"account_id": receivable, "debit": D("710.00"), "currency": "USD",
             "amount_currency": D("100.00")},
            {"account_id": revenue, "credit": D("710.00"), "currency": "USD",
             "amount_currency": D("-90.00")}],
        "an entry needs at least one line": [],
    }
    for message, lines in attempts.items():
        with pytest.raises(ValidationError) as err, sf.transaction("finance") as env:
            _entry(env, lines)
        assert message in err.value.errors["lines"][0]
    with pytest.raises(ValidationError) as err, sf.transaction("finance") as env:
        Line = env["sale.journal.line"]  # a line without its entry object: not checked with it
        entry = _entry(env, [{"account_id": cash, "debit": D("5.00")},
                             {"account_id": revenue, "credit": D("5.00")}], number="JE/2026/900002")
        env.session.add(Line(entry_id=entry.id + 1000, account_id=cash, debit=D("1.00")))
        env.session.flush()
    assert err.value.errors["entry_id"] == ["a journal line goes in with its entry (entry=...)"]
    with sf.transaction("finance") as env:
        assert env.search("sale.journal.entry") == [] and env.search("sale.journal.line") == []
        entry = _entry(env, [
            {"account_id": receivable, "debit": D("710.00"), "currency": "USD",
             "amount_currency": D("100.00")},
            {"account_id": revenue, "credit": D("700.00"), "currency": "USD",
             "amount_currency": D("-100.00")},
            {"account_id": revenue, "credit": D("10.00")}])
        entry_id = entry.id
    with sf.transaction("finance") as env:
        assert acc.journal.trial_balance(env)["balanced"]
        assert len(env.get("sale.journal.entry", entry_id).lines) == 3
    with sf.transaction("finance") as env, pytest.raises(ValidationError) as bad:
        acc.journal.post_entry(env, date=JAN5, source_record="manual", source_id=0, label="x",
                               lines=[{"account": "receivable", "debit": D("710.00"),
                                       "currency": "USD", "amount_currency": D("100.00")},
                                      {"account": "revenue", "credit": D("710.00"),
                                       "currency": "USD", "amount_currency": D("90.00")}])
    assert "unbalanced in USD" in bad.value.errors["lines"][0]
