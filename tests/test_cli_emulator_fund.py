"""`batchpay emulator fund` without --url funds the built-in emulator that `run` and
`balance` use, so the Sub Account samples can be paid with no other set-up."""

from __future__ import annotations

import json

from click.testing import CliRunner

import batchpay.cli as cli_module


def _invoke(args: list[str]) -> tuple[int, str]:
    cli_module._register()
    result = CliRunner().invoke(cli_module.cli, args, catch_exceptions=False)
    return result.exit_code, result.output


def test_emulator_fund_without_url_credits_the_builtin_emulator_seen_by_balance() -> None:
    code, out = _invoke(["emulator", "fund", "SAC-0001-1700000000001", "2_500_000"])
    assert code == 0, out
    assert "SAC-0001-1700000000001" in out and "available IDR 2,500,000" in out

    code, out = _invoke(["balance", "SAC-0001-1700000000001", "--json"])
    assert code == 0, out
    payload = json.loads(out[out.index("{") :])
    assert payload["balance"]["available"] == "2500000"


def test_emulator_fund_twice_adds_up() -> None:
    for _ in range(2):
        code, out = _invoke(["emulator", "fund", "SAC-0009-1700000000009", "1000"])
        assert code == 0, out
    assert "available IDR 2,000" in out


def test_emulator_fund_rejects_non_whole_amount_with_usage_exit() -> None:
    cli_module._register()
    result = CliRunner().invoke(cli_module.cli, ["emulator", "fund", "SAC-1", "12.50"])
    assert result.exit_code != 0
    assert "whole rupiah" in str(result.exception) or "whole rupiah" in result.output


def test_emulator_fund_zero_says_more_than_zero() -> None:
    cli_module._register()
    result = CliRunner().invoke(cli_module.cli, ["emulator", "fund", "SAC-1", "0"])
    assert result.exit_code != 0
    said = str(result.exception) + result.output
    assert "must be more than 0" in said and "whole rupiah, digits only" not in said
