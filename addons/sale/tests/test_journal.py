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
