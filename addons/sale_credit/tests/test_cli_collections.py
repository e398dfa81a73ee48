"""``salesflow credit dunning | outbox-send | outbox-status | collections``."""

from __future__ import annotations

import importlib
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

pytestmark = pytest.mark.usefixtures("fast_passwords")


@pytest.fixture
def credit_settings(credit_settings, smtp_settings):
    return {**credit_settings, "smtp": smtp_settings}


def test_dunning_then_send_then_status_then_collections(sf, users, dunning_data, fake_smtp):
    group = importlib.import_module("sale_credit.cli_collections").group
    obj = SimpleNamespace(salesflow=sf)
    runner = CliRunner()

    result = runner.invoke(group, ["dunning", "--date", "2026-02-05", "--as", "cm"], obj=obj)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].endswith("2 open invoices, 2 letters, 1 without e-mail, 0 customers put on hold")
    assert "reminder" in lines[1] and "1,130.00" in lines[1] and "zh_CN" in lines[1]

    result = runner.invoke(group, ["outbox-send", "--once"], obj=obj)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == "sent 1, failed 0 (retried later)"
    assert len(fake_smtp.messages) == 1 and fake_smtp.rcpts == [["ap@huadong.example.cn"]]

    result = runner.invoke(group, ["outbox-status"], obj=obj)
    assert result.output.split() == ["pending", "0", "sent", "1", "failed", "0", "no_recipient", "1"]

    result = runner.invoke(group, ["collections", "--from", "2026-01-01", "--to", "2026-02-28"],
                           obj=obj)
    assert result.exit_code == 0, result.output
    assert [line.split()[0] for line in result.output.splitlines()[1:]] == ["SP1", "SP2", "TOTAL"]

    bad = runner.invoke(group, ["dunning", "--date", "05/02/2026"], obj=obj)
    assert bad.exit_code != 0 and "ISO date" in bad.output
