"""Approval levels from the client config: over 100,000 a manager, over 500,000 a director too."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from core.config import ClientConfig
from core.errors import ConfigError, TransitionBlocked
from core.testing import approval_rule

KT = ["kt_doc"]
RULE = approval_rule("kt.doc", "confirm", [("100000", "kt_manager"), ("500000", "kt_director")],
                     amount_field="amount")


@pytest.fixture
def sf(make_sf):
    return make_sf(KT, approvals=[RULE])


@pytest.fixture
def ids(sf, users):
    return users(sf, clerk=["kt_clerk"], max=["kt_manager"], dora=["kt_director"],
                 both=["kt_manager", "kt_director"])


def fire(sf, user, doc_id, trigger="confirm"):
    with sf.transaction(user) as env:
        return env.get("kt.doc", doc_id).fire(trigger)


def state(sf, doc_id) -> str:
    with sf.transaction() as env:
        return env.get("kt.doc", doc_id).state


def approvals(sf, doc_id) -> list[tuple]:
    with sf.transaction() as env:
        A = env["approval"]
        rows = env.session.scalars(select(A).where(A.record_id == doc_id).order_by(A.id))
        return [(a.level, a.role, a.user_id) for a in rows]


@pytest.mark.parametrize("amount", ["50000.00", "100000.00"])
def test_at_or_below_the_threshold_a_clerk_confirms_directly(sf, ids, new_doc, amount):
    doc_id = new_doc(sf, ids["clerk"], amount=amount)
    outcome = fire(sf, ids["clerk"], doc_id)
    assert (outcome.done, outcome.dest, outcome.approvals_given) == (True, "confirmed", [])
    assert state(sf, doc_id) == "confirmed"
    assert approvals(sf, doc_id) == []


def test_over_100k_needs_a_manager(sf, ids, new_doc):
    doc_id = new_doc(sf, ids["clerk"], amount="250000.00")
    with pytest.raises(TransitionBlocked) as err:
        fire(sf, ids["clerk"], doc_id)
    assert err.value.reasons == ["needs approval by kt_manager (amount 250,000.00 over 100,000.00)"]
    assert state(sf, doc_id) == "draft"
    assert approvals(sf, doc_id) == []

    outcome = fire(sf, ids["max"], doc_id)  # the manager's approval is the last level: it goes on
    assert (outcome.done, outcome.dest, outcome.approvals_given) == (True, "confirmed", ["kt_manager"])
    assert state(sf, doc_id) == "confirmed"
    assert approvals(sf, doc_id) == [(1, "kt_manager", ids["max"])]


def test_over_500k_needs_a_manager_then_a_director(sf, ids, new_doc):
    doc_id = new_doc(sf, ids["clerk"], amount="600000.00")
    with pytest.raises(TransitionBlocked) as err:
        fire(sf, ids["dora"], doc_id)  # levels are given in order: the manager's comes first
    assert err.value.reasons == ["needs approval by kt_manager (amount 600,000.00 over 100,000.00)"]

    outcome = fire(sf, ids["max"], doc_id)
    assert (outcome.done, outcome.dest) == (False, None)
    assert (outcome.approvals_given, outcome.approvals_pending) == (["kt_manager"], ["kt_director"])
    assert state(sf, doc_id) == "draft"
    with pytest.raises(TransitionBlocked) as err:
        fire(sf, ids["clerk"], doc_id)
    assert err.value.reasons == ["needs approval by kt_director (amount 600,000.00 over 500,000.00)"]

    outcome = fire(sf, ids["dora"], doc_id)
    assert (outcome.done, outcome.dest, outcome.approvals_given) == (True, "confirmed", ["kt_director"])
    assert state(sf, doc_id) == "confirmed"
    assert approvals(sf, doc_id) == [(1, "kt_manager", ids["max"]), (2, "kt_director", ids["dora"])]


def test_one_user_cannot_give_two_levels(sf, ids, new_doc):
    doc_id = new_doc(sf, ids["clerk"], amount="600000.00")
    assert fire(sf, ids["both"], doc_id).approvals_pending == ["kt_director"]
    with pytest.raises(TransitionBlocked) as err:
        fire(sf, ids["both"], doc_id)
    assert err.value.reasons == [
        "needs approval by kt_director from another user (you already approved a level; "
        "one user cannot give two levels)"]
    assert state(sf, doc_id) == "draft"
    assert approvals(sf, doc_id) == [(1, "kt_manager", ids["both"])]
    assert fire(sf, ids["dora"], doc_id).done


def test_changing_the_amount_voids_given_approvals(sf, ids, new_doc):
    doc_id = new_doc(sf, ids["clerk"], amount="600000.00")
    fire(sf, ids["max"], doc_id)
    with sf.transaction(ids["clerk"]) as env:
        env.write(env.get("kt.doc", doc_id), amount=Decimal("650000.00"))
    with sf.transaction(ids["dora"]) as env:
        doc = env.get("kt.doc", doc_id)
        # the manager approved 600,000, not 650,000: that approval no longer counts
        assert env.blockers(doc, "confirm") == [
            "needs approval by kt_manager (amount 650,000.00 over 100,000.00)"]
        with pytest.raises(TransitionBlocked):
            doc.fire("confirm")
    assert approvals(sf, doc_id) == [(1, "kt_manager", ids["max"])]  # kept, append-only
    fire(sf, ids["max"], doc_id)
    assert fire(sf, ids["dora"], doc_id).done
    assert state(sf, doc_id) == "confirmed"


def test_the_system_user_does_not_approve(sf, new_doc):
    doc_id = new_doc(sf, amount="200000.00")
    with pytest.raises(TransitionBlocked, match="needs approval by kt_manager"):
        fire(sf, None, doc_id)


def test_only_the_configured_trigger_needs_approval(sf, ids, new_doc):
    doc_id = new_doc(sf, ids["clerk"], amount="900000.00")
    with sf.transaction(ids["clerk"]) as env:
        assert env.get("kt.doc", doc_id).fire("cancel", comment="too big").done
    assert approvals(sf, doc_id) == []


# -- invalid rules ---------------------------------------------------------------------------

BAD_RULES = {
    "unknown record": (approval_rule("kt.nope", "confirm", [("1", "kt_manager")], "amount"),
                       "no workflow for 'kt.nope' in the enabled addons"),
    "unknown trigger": (approval_rule("kt.doc", "approve", [("1", "kt_manager")], "amount"),
                        "unknown trigger; known: ['cancel', 'confirm', 'finish', 'reopen']"),
    "unknown role": (approval_rule("kt.doc", "confirm", [("1", "kt_boss")], "amount"),
                     "unknown role 'kt_boss'"),
    "unknown amount field": (approval_rule("kt.doc", "confirm", [("1", "kt_manager")]),
                             "kt.doc has no field 'amount_total'"),
    "descending levels": (approval_rule("kt.doc", "confirm",
                                        [("500000", "kt_director"), ("100000", "kt_manager")],
                                        "amount"),
                          "levels need strictly ascending 'over' amounts"),
    "one role twice": (approval_rule("kt.doc", "confirm",
                                     [("1", "kt_manager"), ("2", "kt_manager")], "amount"),
                       "each level needs a different role"),
}


@pytest.mark.parametrize("case", sorted(BAD_RULES))
def test_an_invalid_rule_is_refused_at_startup(make_sf, case):
    rule, expected = BAD_RULES[case]
    with pytest.raises(ConfigError) as err:
        make_sf(KT, approvals=[rule], create=False)
    assert f"[[approvals]] for {rule.record} {rule.trigger}" in str(err.value)
    assert expected in str(err.value)


def write_config(tmp_path, db_url, approvals: str):
    path = tmp_path / "client.toml"
    path.write_text(f'[client]\nname = "t"\naddons = ["kt_doc"]\ndatabase_url = "{db_url}"\n'
                    + approvals, encoding="utf-8")
    return path


@pytest.mark.parametrize("levels, expected", [
    ('[{ over = "500000", role = "kt_director" }, { over = "100000", role = "kt_manager" }]',
     "levels: levels must have strictly ascending 'over' amounts"),
    ('[{ over = 100000.5, role = "kt_manager" }]', "over: expected a decimal as a string"),
    ('[{ over = "-1", role = "kt_manager" }]', "over: Must be greater than or equal to 0."),
    ("[]", "levels: Shorter than minimum length 1."),
])
def test_a_malformed_rule_is_refused_when_the_file_is_read(tmp_path, db_url, levels, expected):
    path = write_config(tmp_path, db_url, '[[approvals]]\nrecord = "kt.doc"\ntrigger = "confirm"\n'
                        f'amount_field = "amount"\nlevels = {levels}\n')
    with pytest.raises(ConfigError) as err:
        ClientConfig.load(path)
    assert str(path) in str(err.value)
    assert "[[approvals]] #1" in str(err.value)
    assert expected in str(err.value)


def test_a_rule_from_a_file_drives_the_engine(tmp_path, db_url, users, new_doc):
    from core.app import Salesflow
    from core.testing import TEST_ADDONS

    path = write_config(tmp_path, db_url, '[[approvals]]\nrecord = "kt.doc"\ntrigger = "confirm"\n'
                        'amount_field = "amount"\nlevels = [{ over = "1000", role = "kt_manager" }]\n')
    config = ClientConfig.load(path)
    config.addons_path = [TEST_ADDONS]
    sf = Salesflow(config)
    sf.create_all()
    try:
        ids = users(sf, clerk=["kt_clerk"])
        doc_id = new_doc(sf, ids["clerk"], amount="1000.01")
        with pytest.raises(TransitionBlocked, match=r"needs approval by kt_manager \(amount 1,000.01"):
            fire(sf, ids["clerk"], doc_id)
        assert sf.workflows["kt.doc"].markup()["approvals"] == {
            "trigger": "confirm", "amount_field": "amount",
            "levels": [{"over": "1000", "role": "kt_manager"}]}
    finally:
        sf.drop_all()
        sf.engine.dispose()
