"""``batchpay report``: a journal on disk in, a workbook out (no network, no credentials)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click
import openpyxl
import pytest
from click.testing import CliRunner, Result

from batchpay.cli import reports
from batchpay.cli.exits import exit_code_for
from batchpay.errors import JournalMissing, RunNotFound, UsageError
from batchpay.journal import NewRow, RowChange
from batchpay.journal.sqlite import SqliteJournal

NOV = datetime(2026, 11, 3, 2, 0, tzinfo=UTC)


def make_ledger(path: Path) -> tuple[SqliteJournal, str]:
    """A ledger with one emulator payout-link run: row 2 paid, row 3 UNKNOWN, row 4 PLANNED."""
    ledger = SqliteJournal(path, clock=lambda: NOV, create=True)
    rows = [
        NewRow(
            row_number=n,
            reference=f"BONUS-{n}",
            amount_minor=100_000_00 * n,
            currency="IDR",
            source_account=None,
            input={"Reference": f"BONUS-{n}", "No HP": "081234567890"},
            normalised={"reference_id": f"BONUS-{n}"},
            body=b"{}",
        )
        for n in (2, 3, 4)
    ]
    run = ledger.create_run(
        kind="payout-link",
        product="payout-link",
        env="emulator",
        input_path=path.parent / "bonus.csv",
        input_sha256="b" * 64,
        rows=rows,
        settings={},
        operator="siti",
    )
    for n, final in ((2, "COMPLETED"), (3, "UNKNOWN")):
        ledger.apply(RowChange(run.run_id, n, "SENDING", "send", count_send=True))
        ledger.apply(
            RowChange(
                run.run_id,
                n,
                final,
                "outcome",
                seen=final == "COMPLETED",
                doku_status=final if final == "COMPLETED" else None,
            )
        )
    return ledger, run.run_id


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Default report paths are relative to the working directory: keep them in tmp_path."""
    monkeypatch.chdir(tmp_path)


def invoke(args: list[str], ledger_path: Path) -> Result:
    group = click.Group()
    reports.register(group)
    return CliRunner().invoke(group, args, env={"BATCHPAY_LEDGER": str(ledger_path)})


def test_report_run_id_writes_the_runs_own_workbook_and_prints_it(tmp_path: Path) -> None:
    ledger_path = tmp_path / "ledger.sqlite"
    _, run_id = make_ledger(ledger_path)
    result = invoke(["report", run_id], ledger_path)
    assert result.exit_code == 0, result.output
    expected = Path("reports") / f"bonus-{run_id}.xlsx"  # the path `batchpay run` writes
    assert str(expected) in result.output
    wb = openpyxl.load_workbook(tmp_path / expected)
    summary = {r[0]: r for r in wb["Summary"].iter_rows(values_only=True) if r and r[0]}
    assert summary["Confirmed paid"][2:4] == (1, 200_000)
    assert summary["Outstanding (progressing + unknown)"][2:4] == (1, 300_000)
    heads = [c.value for c in wb["Rows"][1]]
    phones = [r[heads.index("No HP")] for r in wb["Rows"].iter_rows(min_row=2, values_only=True)]
    assert phones == ["081234567890"] * 3


def test_report_output_option_writes_there(tmp_path: Path) -> None:
    ledger_path = tmp_path / "ledger.sqlite"
    _, run_id = make_ledger(ledger_path)
    out = tmp_path / "x" / "nov.xlsx"
    result = invoke(["report", run_id, "-o", str(out)], ledger_path)
    assert result.exit_code == 0, result.output
    assert out.exists()
    assert openpyxl.load_workbook(out)["Summary"]["A1"].value == "EMULATOR — NO REAL MONEY MOVED"


def test_report_month_includes_the_months_runs(tmp_path: Path) -> None:
    ledger_path = tmp_path / "ledger.sqlite"
    make_ledger(ledger_path)
    out = tmp_path / "month.xlsx"
    result = invoke(["report", "--month", "2026-11", "-o", str(out)], ledger_path)
    assert result.exit_code == 0, result.output
    exceptions = openpyxl.load_workbook(out)["Exceptions"]
    heads = [c.value for c in exceptions[1]]
    statuses = [r[heads.index("Status")] for r in exceptions.iter_rows(min_row=2, values_only=True)]
    assert statuses == ["UNKNOWN", "PLANNED"]


def test_report_month_without_runs_is_run_not_found(tmp_path: Path) -> None:
    ledger_path = tmp_path / "ledger.sqlite"
    make_ledger(ledger_path)
    result = invoke(["report", "--month", "2026-10"], ledger_path)
    assert isinstance(result.exception, RunNotFound)


@pytest.mark.parametrize("args", [["report"], ["report", "run-x", "--month", "2026-11"]])
def test_report_needs_exactly_one_of_run_or_month(tmp_path: Path, args: list[str]) -> None:
    result = invoke(args, tmp_path / "ledger.sqlite")
    assert isinstance(result.exception, UsageError)


def test_report_bad_month_is_usage_error(tmp_path: Path) -> None:
    result = invoke(["report", "--month", "2026-13"], tmp_path / "ledger.sqlite")
    assert result.exit_code == 2
    assert "YYYY-MM" in result.output


def test_report_missing_journal_not_created(tmp_path: Path) -> None:
    ledger_path = tmp_path / "nowhere" / "ledger.sqlite"
    result = invoke(["report", "run-x"], ledger_path)
    assert isinstance(result.exception, JournalMissing) and exit_code_for(result.exception) == 4
    assert not ledger_path.exists() and not ledger_path.parent.exists()


def test_report_unknown_run_is_run_not_found(tmp_path: Path) -> None:
    ledger_path = tmp_path / "ledger.sqlite"
    make_ledger(ledger_path)
    result = invoke(["report", "no-such-run"], ledger_path)
    assert isinstance(result.exception, RunNotFound)
