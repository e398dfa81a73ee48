"""A refusal caught by the caller leaves nothing behind: not the rows the kernel had already
written when it refused, not the audit rows of a flush that failed."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from core.errors import AccessDenied

pytestmark = pytest.mark.usefixtures("fast_passwords")

DAY = dt.date(2026, 3, 1)


def _orders(sf) -> int:
    with sf.transaction() as env:
        return env.session.scalar(select(func.count()).select_from(env["sale.order"]))


def test_a_caught_record_rule_refusal_cannot_be_committed(sf, master, users):
    # the kernel inserted the order itself before the rules refused it: the commit is refused
    with pytest.raises(AccessDenied, match="not committed"), sf.transaction("sp1") as env:
        with pytest.raises(AccessDenied, match="record rules"):
            env.create("sale.order", customer_id=master.c1, salesperson_id=users.sp["sp2"],
                       date_order=DAY, validity_date=DAY, number="X1")
    assert _orders(sf) == 0
    # inside a savepoint, the rollback takes the rows away and the rest commits
    with sf.transaction("sp1") as env:
        with pytest.raises(AccessDenied, match="record rules"), env.atomic():
            env.create("sale.order", customer_id=master.c1, salesperson_id=users.sp["sp2"],
                       date_order=DAY, validity_date=DAY, number="X2")
        env.create("sale.order", customer_id=master.c1, salesperson_id=users.sp["sp1"],
                   date_order=DAY, validity_date=DAY, number="X3")
    with sf.transaction() as env:
        assert [o.number for o in env.search("sale.order")] == ["X3"]


def test_a_flush_failed_in_a_savepoint_leaves_no_audit_rows_and_the_session_usable(sf, master):
    with sf.transaction() as env:
        c1 = env.get("sale.customer", master.c1)
        with pytest.raises(IntegrityError), env.atomic():
            c1.code = "C002"  # c2's: the UPDATE fails in the unit of work
            env.session.flush()
        env.get("sale.customer", master.c2).notes = "checked"
    with sf.transaction() as env:
        Log = env["audit.log"]
        writes = env.session.execute(select(Log.record_id, Log.changes).where(
            Log.record == "sale.customer", Log.action == "write")).all()
        assert [(r.record_id, sorted(r.changes)) for r in writes] == [(master.c2, ["notes"])]
        assert env.get("sale.customer", master.c1).code == "C001"
