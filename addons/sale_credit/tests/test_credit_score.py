"""The credit score from payment history (docs/sale_credit.md, "Credit score"), its weights
from the config, ``salesflow credit rescore`` and the grade proposals a credit manager accepts
(the grade changes, audited) or rejects."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
from sqlalchemy import select

pytestmark = pytest.mark.usefixtures("fast_passwords")

DAY = dt.date(2026, 6, 30)


@pytest.fixture
def credit_settings(credit_settings):
    return {**credit_settings, "overdue_days": -1}


@pytest.fixture
def history(sf, master, flow):
    """c2 (grade A, limit 500,000): invoice 1 (1,130.00, 2026-01-05, due 02-04) paid on time;
    invoice 2 (2,260.00, 2026-03-01, due 03-31) half paid 30 days late, half open."""
    inv1 = flow.invoice(flow.order(customer=master.c2, lines=[(0, "10", None)]),
                        date=dt.date(2026, 1, 5))
    inv2 = flow.invoice(flow.order(customer=master.c2, lines=[(0, "20", None)]),
                        date=dt.date(2026, 3, 1))
    flow.pay(master.c2, "1130.00", date=dt.date(2026, 2, 1),
             allocations=[{"invoice_id": inv1, "amount": "1130.00"}])
    flow.pay(master.c2, "1130.00", date=dt.date(2026, 4, 30),
             allocations=[{"invoice_id": inv2, "amount": "1130.00"}])
    return inv1, inv2


def test_score_formula(sf, master, history, svc):
    import importlib

    score = importlib.import_module("sale_credit.services.score")
    with sf.transaction() as env:
        result = score.score_customers(env, DAY)
    assert result[master.c1]["score"] is None           # no history: not scored
    r = result[master.c2]
    # days late: (1,130 x 0 + 1,130 x 30 + 1,130 open x 91) / 3,390 = 40.33 -> 1 - 40.33/60
    # on time: 1,130 / 3,390; overdue: 1 - 1,130 / 500,000; relationship: 176 / 1,825 days
    assert {k: r["factors"][k] for k in ("days_late", "f_days_late", "f_on_time", "f_overdue",
                                          "f_relationship", "relationship_days",
                                          "overdue_amount", "invoices")} == {
        "days_late": "40.3", "f_days_late": "0.3278", "f_on_time": "0.3333",
        "f_overdue": "0.9977", "f_relationship": "0.0964", "relationship_days": 176,
        "overdue_amount": "1130.00", "invoices": 2}
    # 100 x (0.35 x 0.3278 + 0.25 x 0.3333 + 0.25 x 0.9977 + 0.15 x 0.0964)
    assert r["score"] == D("46.2")
    with sf.transaction() as env:
        assert score.grade_for(env, D("46.2")) == "C"
        assert score.grade_for(env, D("50")) == "B"
        assert score.grade_for(env, D("80.0")) == "A"


@pytest.mark.parametrize("credit_settings", [{
    "overdue_days": -1, "grades": {"A": {"limit": "500000", "min_score": 5},
                                   "B": {"limit": "100000"}, "C": {"limit": "1000"}},
    "score_weights": {"days_late": "0", "overdue": "0", "on_time": "0", "relationship": "2"}}])
def test_weights_come_from_the_config(sf, master, history):
    import importlib

    score = importlib.import_module("sale_credit.services.score")
    with sf.transaction() as env:
        assert score.score_customers(env, DAY)[master.c2]["score"] == D("9.6")  # relationship only


def _rescore_command(db_url, tmp_path):
    """``salesflow credit rescore [args]`` on the test's database: ``run(*args) -> output``."""
    from click.testing import CliRunner

    from core.cli import Context

    config = tmp_path / "client.toml"
    config.write_text(
        '[client]\nname = "t"\naddons = ["sale", "sale_credit"]\n'
        f'database_url = "{db_url}"\n\n[addon.sale_credit]\noverdue_days = -1\n'
        '[addon.sale_credit.grades.A]\nlimit = "500000"\nmin_score = 80\n'
        '[addon.sale_credit.grades.B]\nlimit = "100000"\nmin_score = 50\n'
        '[addon.sale_credit.grades.C]\nlimit = "10000"\npolicy = "refuse"\n', encoding="utf-8")
    cli = __import__("importlib").import_module("sale_credit.cli")

    def run(*args: str) -> str:
        result = CliRunner().invoke(cli.group, ["rescore", *args], obj=Context(str(config)),
                                    catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    return run


def test_rescore_proposes_and_a_credit_manager_decides(sf, master, users, history, db_url,
                                                       tmp_path, api):
    rescore = _rescore_command(db_url, tmp_path)
    for _ in range(2):   # twice: the same proposal, not two
        assert rescore("--date", "2026-06-30") == (
            "C002         score  46.2  grade A -> propose C\nscored=1 proposals=1\n")

    resp = api.client.get("/api/v1/credit/proposals?state=proposed", headers=api.h("cm"))
    (prop,) = resp.get_json()["items"]
    assert (prop["customer_id"], prop["current_grade"], prop["proposed_grade"], prop["score"]) == (
        master.c2, "A", "C", "46.2")
    url = f"/api/v1/credit/proposals/{prop['id']}"
    assert api.client.post(url + "/accept", json={}, headers=api.h("sp2")).status_code == 403
    resp = api.client.post(url + "/accept", json={"comment": "slow payer"}, headers=api.h("cm"))
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["state"] == "accepted"
    assert api.client.post(url + "/reject", json={}, headers=api.h("cm")).status_code == 409
    with sf.transaction() as env:
        customer = env.get("sale.customer", master.c2)
        assert (customer.credit_grade, customer.credit_score, customer.credit_score_date) == (
            "C", D("46.2"), DAY)
        Log = env["audit.log"]
        changes = [row.changes for row in env.session.scalars(
            select(Log).where(Log.record == "sale.customer", Log.record_id == master.c2)
            .order_by(Log.id)) if "credit_grade" in row.changes]
        assert changes[-1]["credit_grade"] == ["A", "C"]
        assert changes[-1]["credit_note"][1].startswith(f"grade proposal {prop['id']} accepted")
    # scored again with grade C already: nothing to propose; an open proposal is superseded
    with sf.transaction() as env:
        score = __import__("importlib").import_module("sale_credit.services.score")
        assert score.rescore(env, DAY)[0]["proposed"] is None


def test_a_rescore_dated_after_today_is_refused(sf, master, users, history):
    """A mistyped year would store every customer's score as of a day that has not come (all
    open invoices very late) and propose downgrades: refused, nothing stored."""
    from core.errors import ValidationError

    score = __import__("importlib").import_module("sale_credit.services.score")
    future = sf.today() + dt.timedelta(days=1)
    with pytest.raises(ValidationError) as refused, sf.transaction() as env:
        score.rescore(env, future)
    assert list(refused.value.errors) == ["date"]
    with sf.transaction() as env:
        assert env.get("sale.customer", master.c2).credit_score is None
        assert env.search("sale.credit.grade_proposal") == []


def test_a_rescore_dated_before_the_current_score_records_history_and_keeps_the_current(
        sf, master, users, history, api, db_url, tmp_path):
    """Scored on 30 June (46.2, grade C proposed), then rescored as of 15 April (the customer
    was a better payer then: 63.2): the April score is kept as history, the customer's current
    score stays 30 June's, and the open proposal is neither superseded nor replaced. Rescoring
    the same date again rewrites that date's row, never a second one; a later date becomes the
    current score."""
    score = __import__("importlib").import_module("sale_credit.services.score")
    april = dt.date(2026, 4, 15)
    with sf.transaction() as env:
        (now,) = score.rescore(env, DAY)
        assert (now["score"], now["current"], now["proposed"]) == (D("46.2"), True, "C")
    with sf.transaction() as env:
        Log = env["audit.log"]
        logged = select(Log.id).where(Log.record == "sale.customer", Log.record_id == master.c2)
        logs_before = len(env.session.scalars(logged).all())
    for _ in range(2):
        with sf.transaction() as env:
            (past,) = score.rescore(env, april)
            assert (past["score"], past["current"], past["proposed"]) == (D("63.2"), False, None)
            assert past["current_score_date"] == DAY
    with sf.transaction() as env:
        customer = env.get("sale.customer", master.c2)
        assert (customer.credit_score, customer.credit_score_date) == (D("46.2"), DAY)
        assert len(env.session.scalars(logged).all()) == logs_before  # the customer untouched
        Score = env["sale.credit.score"]
        assert [(s.date, s.score, s.factors["days_late"]) for s in env.search(
            "sale.credit.score", Score.customer_id == master.c2, order_by=[Score.date])] == [
            (april, D("63.2"), "10.0"), (DAY, D("46.2"), "40.3")]
        (prop,) = env.search("sale.credit.grade_proposal")
        assert (prop.state, prop.date, prop.score, prop.proposed_grade) == (
            "proposed", DAY, D("46.2"), "C")
    # the history through the API, newest first; a salesperson sees their own customers only
    url = f"/api/v1/credit/customers/{master.c2}/scores"
    body = api.client.get(url, headers=api.h("cm")).get_json()
    assert [(s["date"], s["score"]) for s in body["items"]] == [
        ("2026-06-30", "46.2"), ("2026-04-15", "63.2")]
    assert api.client.get(url, headers=api.h("sp2")).status_code == 200
    assert api.client.get(url, headers=api.h("sp1")).status_code == 404
    # the command says which score is history
    assert _rescore_command(db_url, tmp_path)("--date", "2026-04-15") == (
        "C002         score  63.2  grade A  (history: the current score is of 2026-06-30)\n"
        "scored=1 proposals=0 history=1\n")
    # a later date is the current score again
    later = dt.date(2026, 7, 31)
    with sf.transaction() as env:
        (new,) = score.rescore(env, later)
        assert new["current"] is True
    with sf.transaction() as env:
        customer = env.get("sale.customer", master.c2)
        assert customer.credit_score_date == later
        assert len(env.search("sale.credit.score")) == 3


def test_customers_scored_on_the_same_date_can_still_be_merged(sf, master, users, flow, history):
    """Both customers scored on 30 June: merging one into the other moves its documents, and
    each keeps its own score history (no clash on one score per customer and date)."""
    score = __import__("importlib").import_module("sale_credit.services.score")
    partner = __import__("importlib").import_module("sale.services.partner")
    flow.invoice(flow.order(lines=[(0, "1", None)]), date=dt.date(2026, 1, 5))  # c1 scored too
    with sf.transaction() as env:
        assert sorted(r["customer_id"] for r in score.rescore(env, DAY)) == sorted(
            [master.c1, master.c2])
    with sf.transaction("manager") as env:
        partner.merge_customers(env, env.get("sale.customer", master.c1),
                                env.get("sale.customer", master.c2))
    with sf.transaction() as env:
        assert sorted((s.customer_id, s.date) for s in env.search("sale.credit.score")) == sorted(
            [(master.c1, DAY), (master.c2, DAY)])
        assert env.get("sale.customer", master.c1).merged_into_id == master.c2
