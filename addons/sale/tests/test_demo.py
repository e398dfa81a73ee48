"""``salesflow demo``: the demo company through the real command, on a fresh database.

On both databases (an SQLite file, a fresh PostgreSQL schema): the command runs the
migrations, then loads about 300 orders through every service in one transaction (~10 s
each), and the company it leaves must be consistent.
"""

from __future__ import annotations

import datetime as dt
import importlib
from decimal import Decimal

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from core.config import DEFAULT_CONFIG
from core.testing import CLIENT_TODAY

D = Decimal


@pytest.fixture
def demo_config(tmp_path, monkeypatch, db_url):
    """config/default.toml, on the test's database (an SQLite file or a PostgreSQL schema)."""
    text = DEFAULT_CONFIG.read_text(encoding="utf-8")
    lines = [f'database_url = "{db_url}"'
             if line.startswith("database_url") else line for line in text.splitlines()]
    path = tmp_path / "config" / "demo.toml"
    path.parent.mkdir()
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.setenv("SALESFLOW_CONFIG", str(path))
    monkeypatch.delenv("SALESFLOW_DATABASE_URL", raising=False)
    return path


def run_demo():
    from core.cli import main

    return CliRunner().invoke(main, ["demo"], catch_exceptions=False)


def test_demo_loads_a_consistent_company_once(demo_config):
    from core.app import Salesflow
    from core.config import ClientConfig

    result = run_demo()
    assert result.exit_code == 0, result.output
    assert result.output == "demo data loaded\n"  # the hook prints nothing

    sf = Salesflow(ClientConfig.load(demo_config))
    journal = importlib.import_module("sale.services.journal")
    reports = importlib.import_module("sale.services.reports")
    today = CLIENT_TODAY
    try:
        with sf.transaction(readonly=True) as env:
            Order, Invoice = env["sale.order"], env["sale.invoice"]
            User, Approval = env["res.user"], env["approval"]
            count = lambda stmt: env.session.scalar(stmt)  # noqa: E731
            # users, roles, the shared password
            users = {u.login: u for u in env.session.scalars(select(User))}
            assert set(users) == {"admin", "sp1", "sp2", "manager", "director", "finance", "warehouse"}
            assert users["manager"].role_codes() == ["sales_manager"]
            assert users["admin"].check_password("salesflow-demo")
            assert count(select(func.count()).select_from(env["sale.customer"])) == 40
            assert count(select(func.count()).select_from(env["sale.product"])) == 30
            # every state, with partial shipments, expired quotations, overdue and part-paid
            states = dict(env.session.execute(select(Order.state, func.count()).group_by(Order.state)).all())
            assert set(states) == {"draft", "approved", "shipped", "invoiced", "paid", "cancelled"}
            assert 280 <= sum(states.values()) <= 320
            assert min(states.values()) >= 5
            assert count(select(func.count()).select_from(Order).where(
                Order.state == "approved", Order.shipping_status == "partial")) >= 3
            assert count(select(func.count()).select_from(Order).where(
                Order.state == "draft", Order.validity_date < today)) >= 1
            assert count(select(func.count()).select_from(Order).where(
                Order.state == "draft", Order.validity_date >= today)) >= 1
            open_invoices = Invoice.state == "posted"
            assert count(select(func.count()).select_from(Invoice).where(
                open_invoices, Invoice.due_date < today)) >= 5
            assert count(select(func.count()).select_from(Invoice).where(
                open_invoices, Invoice.payment_status == "partial")) >= 3
            assert count(select(func.min(Order.date_order))) >= today - dt.timedelta(days=183)
            # multi-level approvals of the large orders; normal orders stay below the threshold
            levels = env.session.execute(select(Approval.record_id, func.max(Approval.level))
                                         .group_by(Approval.record_id)).all()
            assert len(levels) >= 4 and {lv for _, lv in levels} == {1, 2}
            assert count(select(func.count()).select_from(Order).where(
                Order.amount_total > D("100000"), Order.state != "draft",
                Order.id.not_in([rid for rid, _ in levels]))) == 0
            # the journal balances; receivables equal what is open on posted invoices
            balance = journal.trial_balance(env)
            assert balance["balanced"] and balance["debit"] == balance["credit"] > 0
            receivable = next(r for r in balance["rows"] if r["code"] == "1122")
            open_total = count(select(func.sum(Invoice.amount_residual)).where(open_invoices))
            assert receivable["balance"] == D(open_total)
            paid = count(select(func.count()).select_from(Order).where(
                Order.state == "paid", Order.payment_status != "full"))
            assert paid == 0
        # the reports on it: a salesperson sees their own customers only
        period = reports.Period(today - dt.timedelta(days=182), today)
        with sf.transaction("sp1", readonly=True) as env:
            mine = reports.sales_by(env, "salesperson", period)
        with sf.transaction("manager", readonly=True) as env:
            everyone = reports.sales_by(env, "salesperson", period)
            regions = {r["region"] for r in reports.sales_by(env, "region", period).rows}
        assert [r["salesperson"] for r in mine.rows] == ["王芳 Wang Fang"]
        assert len(everyone.rows) == 3 and everyone.totals["amount_total"] > mine.totals["amount_total"]
        assert {"华东", "华北", "华南", "West"} <= regions
    finally:
        sf.engine.dispose()

    again = run_demo()
    assert again.exit_code == 0
    assert again.output == "the database already has data: demo skipped\n"
