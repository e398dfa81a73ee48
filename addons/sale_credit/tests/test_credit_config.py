"""``[addon.sale_credit]`` settings of the core credit part (validated, unknown keys refused),
and the shape of the patched ``sale.order`` workflow. No database needed."""

from __future__ import annotations

import importlib
import tomllib
from decimal import Decimal as D

import pytest

from core.config import ClientConfig, load_addon_settings
from core.errors import ConfigError

TOML = """
policy = "refuse"
components = ["receivable", "shipped_uninvoiced"]
overdue_days = 45
default_grade = "B"

[grades.A]
limit = "500000"
policy = "review"
min_score = 80

[grades.B]
limit = "100000.50"
min_score = 50

[score_weights]
days_late = "0.5"
overdue = "0.2"
on_time = "0.2"
relationship = "0.1"
"""


def _load(raw):
    config_mod = importlib.import_module("sale_credit.config")
    config = ClientConfig(name="t", addons=["sale", "sale_credit"], database_url="sqlite://")
    return load_addon_settings(config_mod.SaleCreditConfig(), raw, config, "sale_credit")


def test_settings_and_defaults():
    settings = _load(tomllib.loads(TOML))
    assert settings["policy"] == "refuse"
    assert settings["components"] == ["receivable", "shipped_uninvoiced"]
    assert (settings["overdue_days"], settings["default_grade"]) == (45, "B")
    assert settings["grades"]["A"] == {"limit": D("500000"), "policy": "review", "min_score": 80}
    assert settings["grades"]["B"] == {"limit": D("100000.50"), "policy": None, "min_score": 50}
    assert settings["score_weights"]["days_late"] == D("0.5")
    defaults = _load({})
    assert (defaults["policy"], defaults["overdue_days"], defaults["grades"],
            defaults["default_grade"], defaults["check_on_ship"]) == ("review", 30, {}, None, True)
    assert defaults["components"] == ["receivable", "shipped_uninvoiced", "approved_unshipped"]
    assert sum(defaults["score_weights"].values()) == D("1.00")


@pytest.mark.parametrize("raw, message", [
    ({"polcy": "review"}, "polcy"),                                      # unknown key
    ({"grades": {"A": {"limit": "1", "limt": "2"}}}, "limt"),            # unknown, nested
    ({"score_weights": {"speed": "1"}}, "speed"),
    ({"policy": "maybe"}, "policy"),
    ({"components": ["receivable", "orders"]}, "components"),
    ({"components": ["receivable", "receivable"]}, "listed twice"),
    ({"grades": {"A": {"limit": 1000.5}}}, "not a float"),              # money as a string
    ({"grades": {"A": {"limit": "-1"}}}, "limit"),
    ({"default_grade": "Z", "grades": {"A": {"limit": "1"}}}, "not in grades"),
    ({"score_weights": {"days_late": "0", "overdue": "0", "on_time": "0",
                        "relationship": "0"}}, "at least one weight"),
])
def test_invalid_settings_are_refused(raw, message):
    with pytest.raises(ConfigError) as exc:
        _load(raw)
    assert "[addon.sale_credit]" in str(exc.value) and message in str(exc.value)


def test_the_review_step_has_sales_roles_and_guards():
    """The credit_review candidate of ``approve`` comes first, has the roles of sale's (so the
    engine shows a missing role once) and repeats sale's guards at run time."""
    from core.app import Salesflow

    sf = Salesflow(ClientConfig(name="t", addons=["sale", "sale_credit"], database_url="sqlite://"))
    approve = [t for t in sf.workflows["sale.order"].markup()["transitions"]
               if t["trigger"] == "approve"]
    assert [(t["dest"], t["guards"][-1]) for t in approve] == [
        ("credit_review", "credit_needs_review"), ("approved", "check_credit")]
    assert approve[0]["roles"] == approve[1]["roles"]
    states = sf.workflows["sale.order"].states
    assert "credit_review" in states
