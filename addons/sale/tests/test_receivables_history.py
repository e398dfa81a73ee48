"""The aging as of a past date when documents were settled after it: the aging skips what is
settled now, so an invoice paid, a payment used or a credit note applied after ``as_of`` must
still count as open (or as credit) on ``as_of`` (each test on SQLite and PostgreSQL)."""

import datetime as dt
from decimal import Decimal as D

import pytest

pytestmark = pytest.mark.usefixtures("fast_passwords")

JAN5 = dt.date(2026, 1, 5)  # + NET30: due 2026-02-04


def test_documents_settled_after_as_of_are_open_on_it(sf, master, flow, acc):
    a = flow.invoice(flow.order(), date=JAN5)                                  # 226.00
    b = flow.invoice(flow.order(lines=[(0, "4", None)]), date=dt.date(2026, 2, 10))  # 452.00
    flow.pay(master.c1, "226.00", date=dt.date(2026, 3, 1),                   # a paid in full
             allocations=[{"invoice_id": a, "amount": "226.00"}])
    flow.pay(master.c1, "100.00", date=dt.date(2026, 3, 2), allocations=[])  # credit ...
    with sf.transaction("finance") as env:                                     # ... used on b
        acc.payment.apply_customer_credit(env, master.c1, b, date=dt.date(2026, 3, 20))
        note = acc.invoice.create_credit_note(                                 # a note on b
            env, b, reason="price", date=dt.date(2026, 3, 25),
            lines=[{"invoice_line_id": env.get("sale.invoice", b).lines[0].id, "amount": "100"}])
    with sf.transaction("finance") as env:
        assert env.get("sale.invoice", a).state == "paid"
        assert env.get("sale.invoice", note.id).state == "paid"  # all of it settled b
        feb28 = acc.receivables.aging(env, dt.date(2026, 2, 28), None)[0]
        assert (feb28["1_30"], feb28["not_due"], feb28["credit"]) == (D("226.00"), D("452.00"), 0)
        mar10 = acc.receivables.aging(env, dt.date(2026, 3, 10), None)[0]
        assert (mar10["total"], mar10["credit"], mar10["balance"]) == (
            D("452.00"), D("100.00"), D("352.00"))
        mar31 = acc.receivables.aging(env, dt.date(2026, 3, 31), None)[0]
        assert (mar31["total"], mar31["credit"]) == (D("239.00"), 0)  # 452 - 100 - 113
        # the same without the credit statements
        only = acc.receivables.aging(env, dt.date(2026, 3, 10), None, credit=False)[0]
        assert (only["total"], only["credit"]) == (D("452.00"), 0)
        per_customer = acc.receivables.aging(env, dt.date(2026, 2, 28))
        assert [(r["customer_code"], r["total"]) for r in per_customer] == [("C001", D("678.00"))]
