"""Client config files: errors name the file, the key and what was expected."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import pytest

from core.app import Salesflow
from core.config import ClientConfig
from core.errors import ConfigError
from core.testing import TEST_ADDONS


@pytest.fixture
def write(tmp_path, db_url):
    """Write a client config next to an ``addons`` link; {db} in the text is the test database."""

    def write_text(text: str, name: str = "client.toml") -> Path:
        path = tmp_path / "config" / name
        path.parent.mkdir(exist_ok=True)
        addons_path = os.path.relpath(TEST_ADDONS, path.parent)
        path.write_text(text.replace("{db}", db_url).replace("{addons}", addons_path),
                        encoding="utf-8")
        return path

    return write_text


CLIENT = """
[client]
name = "ACME"
addons = ["kt_doc", "kt_ext"]
addons_path = ["{addons}"]
database_url = "{db}"
"""


def load_error(path) -> str:
    with pytest.raises(ConfigError) as err:
        Salesflow(ClientConfig.load(path))
    return str(err.value)


def test_a_complete_config_builds_a_working_app(write):
    path = write(CLIENT + """
locale = "zh_CN"
currency = "USD"

[[approvals]]
record = "kt.doc"
trigger = "confirm"
amount_field = "amount"
levels = [{ over = "100000", role = "kt_manager" }, { over = "500000.50", role = "kt_director" }]

[addon.kt_ext]
max_amount = "5000"
stamp = false
""")
    config = ClientConfig.load(path)
    assert (config.name, config.addons, config.locale, config.currency) == (
        "ACME", ["kt_doc", "kt_ext"], "zh_CN", "USD")
    assert config.addons_path == [TEST_ADDONS.resolve()]  # relative to the config file
    assert [lv.over for lv in config.approvals[0].levels] == [Decimal("100000"), Decimal("500000.50")]
    sf = Salesflow(config)
    sf.create_all()
    try:
        assert sf.settings["kt_ext"] == {"max_amount": Decimal("5000"), "stamp": False}
        assert sf.settings["kt_doc"] == {"prefix": "KT-", "demo_count": 3}  # defaults
        with sf.transaction() as env:
            doc = env.create("kt.doc", name="x", amount=Decimal("6000"), reference="R")
            assert env.blockers(doc, "confirm") == ["kt_ext: amount 6,000.00 is over the limit 5,000.00"]
    finally:
        sf.drop_all()
        sf.engine.dispose()


@pytest.mark.parametrize("text, expected", [
    (CLIENT + 'colour = "blue"\n', "[client]: colour: Unknown field."),
    (CLIENT.replace('name = "ACME"', "name = 3"), "[client]: name: Not a valid string."),
    (CLIENT.replace('addons = ["kt_doc", "kt_ext"]', 'addons = "kt_doc"'),
     "[client]: addons: Not a valid list."),
    (CLIENT.replace('["kt_doc", "kt_ext"]', '["kt_doc", 7]'), "[client]: addons.1: Not a valid string."),
    (CLIENT + 'locale = "fr"\n', "[client]: locale: Must be one of: en, zh_CN."),
    (CLIENT + 'currency = "yuan"\n', "[client]: currency: String does not match expected pattern."),
    (CLIENT + 'timezone = "Beijing"\n', "[client]: timezone: unknown time zone 'Beijing'"),
    (CLIENT.replace('name = "ACME"\n', ""), "[client]: name: Missing data for required field."),
    (CLIENT.replace('"{db}"', '"postgres://ann:s3cret@db.example/acme"'),
     "[client]: database_url: postgres://ann:***@db.example/acme: write postgresql+psycopg://"),
    (CLIENT.replace('"{db}"', '"mysql://ann@db.example/acme"'),
     "[client]: database_url: mysql://ann@db.example/acme: salesflow runs on SQLite"),
    (CLIENT.replace('"{db}"', '"acme.db"'), "[client]: database_url: 'acme.db' is not a database URL"),
    (CLIENT + '\n[clients]\nname = "typo"\n', "unknown table(s) ['clients']"),
    ('[other]\nx = 1\n', "unknown table(s) ['other']"),
    ("", "the [client] table is required"),
    ("[client\n", "not valid TOML"),
    (CLIENT + '\n[[approvals]]\nrecord = "kt.doc"\ntrigger = "confirm"\nwho = "me"\n'
     'levels = [{ over = "1", role = "kt_manager" }]\n', "[[approvals]] #1: who: Unknown field."),
])
def test_file_errors_name_the_file_the_key_and_the_expectation(write, text, expected):
    path = write(text)
    with pytest.raises(ConfigError) as err:
        ClientConfig.load(path)
    assert str(path) in str(err.value)
    assert expected in str(err.value)


def test_today_is_the_date_in_the_client_time_zone(write):
    """Kiritimati (UTC+14) and Pago Pago (UTC-11) are 25 hours apart: their dates always
    differ, whatever the machine's own zone and date."""
    east = ClientConfig.load(write(CLIENT + 'timezone = "Pacific/Kiritimati"\n', "east.toml"))
    west = ClientConfig.load(write(CLIENT + 'timezone = "Pacific/Pago_Pago"\n', "west.toml"))
    apps = [Salesflow(east), Salesflow(west)]
    try:
        with apps[0].transaction() as env_east, apps[1].transaction() as env_west:
            gap = (env_east.today() - env_west.today()).days
        assert gap in (1, 2)
    finally:
        for sf in apps:
            sf.engine.dispose()


def test_a_pinned_today_is_every_transactions_today(make_sf):
    """``Salesflow(config, today=...)``: one date for a whole test run (``make_sf`` pins
    ``CLIENT_TODAY``), even when the run crosses midnight in the client's zone."""
    import datetime as dt

    from core.testing import CLIENT_TODAY

    assert make_sf(["kt_doc"]).today() == CLIENT_TODAY
    sf = Salesflow(ClientConfig(name="t", addons=[], database_url="sqlite://"),
                   today=dt.date(2028, 2, 29))
    try:
        with sf.transaction() as env:
            assert env.today() == dt.date(2028, 2, 29)
    finally:
        sf.engine.dispose()


def test_a_missing_file_is_named(tmp_path, db_url):
    with pytest.raises(ConfigError, match="nowhere.toml: cannot read"):
        ClientConfig.load(tmp_path / "nowhere.toml")


@pytest.mark.parametrize("table, expected", [
    ('[addon.kt_ext]\nmax_amount = "lots"\n', "[addon.kt_ext]: max_amount: Not a valid number."),
    ("[addon.kt_ext]\nmax_amount = 10.5\n", "[addon.kt_ext]: max_amount: expected a decimal as a string"),
    ('[addon.kt_ext]\nstamp = "sometimes"\n', "[addon.kt_ext]: stamp: Not a valid boolean."),
    ("[addon.kt_ext]\nmaximum = 1\n", "[addon.kt_ext]: maximum: Unknown field."),
    ('[addon.kt_doc]\nprefix = "MUCH-TOO-LONG"\n', "[addon.kt_doc]: prefix: Length must be between 1 and 8."),
    ('[addon.base]\nx = 1\n', "[addon.base]: this addon takes no settings"),
    ('[addon.sale]\nx = 1\n', "[addon.X] tables for addons that are not enabled: ['sale']"),
])
def test_addon_settings_are_validated_by_the_addons_schema(write, table, expected):
    path = write(CLIENT + "\n" + table)
    message = load_error(path)
    assert str(path) in message
    assert expected in message


def test_the_database_url_can_come_from_the_environment(write, monkeypatch, db_url):
    path = write(CLIENT.replace('"{db}"', '"sqlite:///../instance/acme.db"'))
    assert ClientConfig.load(path).database_url == \
        f"sqlite:///{(path.parent.parent / 'instance' / 'acme.db').resolve()}"  # relative to the file
    monkeypatch.setenv("SALESFLOW_DATABASE_URL", db_url)
    config = ClientConfig.load(path)
    assert config.database_url == db_url
    sf = Salesflow(config)
    sf.create_all()
    try:
        assert sf.dialect == ("sqlite" if db_url.startswith("sqlite") else "postgresql")
        with sf.transaction() as env:
            env.create("kt.doc", name="env url", amount=Decimal("1"))
    finally:
        sf.drop_all()
        sf.engine.dispose()


def test_a_database_url_from_the_environment_is_checked_too(write, monkeypatch):
    monkeypatch.setenv("SALESFLOW_DATABASE_URL", "postgresql://ann:s3cret@db.example/acme")
    with pytest.raises(ConfigError) as err:
        ClientConfig.load(write(CLIENT))
    assert "$SALESFLOW_DATABASE_URL: postgresql://ann:***@db.example/acme: write postgresql+psycopg://" \
        in str(err.value) and "s3cret" not in str(err.value)


def test_the_config_file_can_come_from_the_environment(write, monkeypatch):
    path = write(CLIENT)
    monkeypatch.setenv("SALESFLOW_CONFIG", str(path))
    assert ClientConfig.load().name == "ACME"
