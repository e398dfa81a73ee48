"""The ``salesflow`` command on a client config naming tests/addons (relative to the file)."""

from __future__ import annotations

import os

import pytest
from click.testing import CliRunner

from core.cli import main
from core.testing import TEST_ADDONS


@pytest.fixture
def config(tmp_path, db_url):
    path = tmp_path / "config" / "client.toml"
    path.parent.mkdir()
    path.write_text(f"""
[client]
name = "CLI test"
addons = ["kt_ext", "kt_doc"]
addons_path = ["{os.path.relpath(TEST_ADDONS, path.parent)}"]
database_url = "{db_url}"

[[approvals]]
record = "kt.doc"
trigger = "confirm"
amount_field = "amount"
levels = [{{ over = "100000", role = "kt_manager" }}]
""", encoding="utf-8")
    return path


def run(*args: str):
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result


def test_addons_list_shows_the_load_order(config):
    result = run("--config", str(config), "addons", "list")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"client: CLI test ({config.resolve()})"
    rows = {line.split()[1]: line.split()[0] for line in lines[2:-1]}
    assert (rows["base"], rows["kt_doc"], rows["kt_ext"]) == ("1", "2", "3")
    assert rows["mig_a"] == "-"  # available, not enabled
    kt_ext = next(line for line in lines if line.split()[1:2] == ["kt_ext"])
    assert "kt_doc" in kt_ext and str(TEST_ADDONS) in kt_ext  # depends and origin


def test_workflow_show_prints_the_compiled_workflow_and_writes_a_diagram(config, tmp_path,
                                                                         monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run("--config", str(config), "workflow", "show", "kt.doc")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "workflow kt.doc (field 'state', initial 'draft')" in out
    assert "states: draft, confirmed, done, cancelled, on_hold, checked" in out
    assert "finish           checked -> done  [roles kt_manager]" in out
    assert "guards amount_positive, has_reference" in out
    assert "approvals on 'confirm' by amount: over 100000: kt_manager" in out
    mermaid = (tmp_path / "kt.doc.mmd").read_text(encoding="utf-8")
    assert mermaid.startswith("stateDiagram-v2\n    [*] --> draft\n")
    assert "    confirmed --> checked: check (kt_director)" in mermaid
    assert "    done --> [*]" in mermaid

    dot = tmp_path / "diagrams" / "kt_doc.dot"
    dot.parent.mkdir()
    result = run("--config", str(config), "workflow", "show", "kt.doc", "--diagram", str(dot))
    assert result.exit_code == 0
    assert dot.read_text(encoding="utf-8").startswith('digraph "kt.doc" {')
    assert '"checked" -> "done" [label="finish\\n(kt_manager)"];' in dot.read_text(encoding="utf-8")


def test_workflow_show_as_json(config, tmp_path, monkeypatch):
    import json

    monkeypatch.chdir(tmp_path)
    result = run("--config", str(config), "workflow", "show", "kt.doc", "--json")
    assert result.exit_code == 0
    markup = json.loads(result.stdout)  # the "diagram written" note goes to stderr
    assert markup["record"] == "kt.doc" and markup["contributed_by"] == ["kt_ext"]
    assert markup["approvals"]["levels"] == [{"over": "100000", "role": "kt_manager"}]


def test_cli_errors_are_one_readable_line(config, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["--config", str(config), "workflow", "show", "kt.nope"])
    assert result.exit_code != 0
    broken = config.parent / "broken.toml"
    text = config.read_text(encoding="utf-8").replace('["kt_ext", "kt_doc"]', '["kt_ext"]')
    broken.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(main, ["--config", str(broken), "addons", "list"])
    assert result.exit_code == 2
    assert "error: " in result.output and "'kt_ext' depends on 'kt_doc'" in result.output


def _salesflow(*args: str, env: dict[str, str] | None = None):
    """The installed command as a user runs it (addon commands are added at start-up)."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    environ = {k: v for k, v in os.environ.items() if k != "SALESFLOW_CONFIG"} | (env or {})
    return subprocess.run([sys.executable, "-c", "from core.cli import run; run()", *args],
                          cwd=root, env=environ, capture_output=True, text=True, timeout=120)


def test_addon_commands_follow_the_config_named_on_the_command_line(tmp_path):
    """--config wins over $SALESFLOW_CONFIG for the addons' commands too, and a config that
    does not load is named instead of a bare "No such command"."""
    credit = tmp_path / "credit.toml"
    credit.write_text('[client]\nname = "c"\naddons = ["sale", "sale_credit"]\n'
                      f'database_url = "sqlite:///{tmp_path / "c.db"}"\n', encoding="utf-8")
    sale_only = tmp_path / "sale.toml"
    sale_only.write_text('[client]\nname = "s"\naddons = ["sale"]\n', encoding="utf-8")

    result = _salesflow("--config", str(credit), "credit", "--help",
                        env={"SALESFLOW_CONFIG": str(sale_only)})
    assert result.returncode == 0, result.stderr
    assert "rebuild-exposure" in result.stdout

    typo = tmp_path / "typo.toml"
    typo.write_text(credit.read_text(encoding="utf-8").replace('name = "c"', 'name = "c"\ncolour = "red"'),
                    encoding="utf-8")
    result = _salesflow("--config", str(typo), "credit", "rescore")
    assert result.returncode == 2
    assert "colour: Unknown field" in result.stderr and str(typo) in result.stderr


def test_commands_refuse_a_database_that_is_not_upgraded(tmp_path, db_url):
    """users/serve/addon commands on a database without its tables, or with an addon enabled
    and not upgraded yet, say to run `db upgrade` (one line, exit 2), not a traceback."""
    config = tmp_path / "client.toml"

    def write(addons: str) -> None:
        config.write_text(f'[client]\nname = "x"\naddons = [{addons}]\n'
                          f'addons_path = ["{TEST_ADDONS}"]\ndatabase_url = "{db_url}"\n',
                          encoding="utf-8")

    def create_user(login: str):
        return CliRunner().invoke(main, ["--config", str(config), "users", "create", login,
                                         "--password", "long enough"])

    write('"mig_a"')
    result = create_user("ann")
    assert (result.exit_code, result.exception.__class__) == (2, SystemExit), result.output
    assert "is empty" in result.output and "db upgrade" in result.output

    assert run("--config", str(config), "db", "upgrade").exit_code == 0
    assert create_user("ann").exit_code == 0
    write('"mig_a", "mig_b"')  # enabled, not upgraded yet
    result = create_user("bob")
    assert result.exit_code == 2, result.output
    assert "mig_b: not installed" in result.output and "db upgrade" in result.output
    assert "mig_b: not installed" in run("--config", str(config), "db", "current").output
    assert run("--config", str(config), "db", "upgrade").exit_code == 0
    assert create_user("bob").exit_code == 0
    write('"mig_a"')  # mig_b disabled: its tables stay, the commands still work
    assert create_user("cy").exit_code == 0


def test_an_unreachable_database_is_one_line(tmp_path):
    config = tmp_path / "client.toml"
    config.write_text('[client]\nname = "x"\naddons = []\n'
                      'database_url = "postgresql+psycopg://nobody:secret@127.0.0.1:9/nowhere"\n',
                      encoding="utf-8")
    result = CliRunner().invoke(main, ["--config", str(config), "users", "create", "ann",
                                       "--password", "long enough"])
    assert (result.exit_code, result.exception.__class__) == (2, SystemExit), result.output
    (line,) = result.output.splitlines()
    assert line.startswith("error: ") and "127.0.0.1" in line and "secret" not in line


def test_init_writes_any_company_name(tmp_path):
    """Quotes and backslashes in --name are TOML-escaped (the file was refused as invalid TOML
    and deleted), and a Chinese name stays readable."""
    from core.config import ClientConfig

    path = tmp_path / "config" / "acme.toml"
    name = 'ACME "East" 华东\\'
    result = run("init", str(path), "--name", name, "--database-url", f"sqlite:///{tmp_path / 'a.db'}")
    assert result.exit_code == 0, result.output
    assert ClientConfig.load(path).name == name
    assert 'name = "ACME \\"East\\" 华东\\\\"' in path.read_text(encoding="utf-8")
