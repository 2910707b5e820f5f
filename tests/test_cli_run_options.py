"""Where `run` / `resume` / `status` send, and what a dry run refuses (issue 8, findings 6
second half, 14 and 15): no credentials in a base URL, a dry run only warns about repeats,
resume honours BATCHPAY_BASE_URL / --base-url and says when it uses the run's stored URL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import Result

from batchpay import runs
from batchpay.config import load_settings
from batchpay.emulator import start_emulator
from batchpay.emulator.runtime import EmulatorHandle
from batchpay.journal.sqlite import SqliteJournal
from batchpay.runs import plan as planning
from batchpay.validate import validate_file
from tests.helpers.runs import (
    payout_link_rows,
    run_cli,
    write_csv,
)

PASSWORD = "hunter2-Pa55word"


@pytest.fixture(name="second", scope="module")
def second_fixture() -> Iterator[EmulatorHandle]:
    """Another DOKU (emulator) on another port: where BATCHPAY_BASE_URL points a resume."""
    handle = start_emulator(port=0, link_step_seconds=0.2, activation_seconds=0.2)
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def local(emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch, here: Path) -> EmulatorHandle:
    emulator.admin.reset()
    monkeypatch.setenv("BATCHPAY_BASE_URL", emulator.url)
    return emulator


def _ledger_path() -> Path:
    return load_settings(
        require_credentials=False, environ={"BATCHPAY_HOME": os.environ["BATCHPAY_HOME"]}
    ).ledger_path


def _clean(result: Result) -> None:
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def _planned_run(sheet: Path, base_url: str) -> str:
    """A run journaled against ``base_url`` with every row still PLANNED (as after a crash
    before the first send)."""
    result = validate_file(sheet)
    assert result.ok
    ledger = SqliteJournal(_ledger_path(), create=True)
    record = runs.create_run(
        ledger, planning.plan(result, env="emulator"), settings={"base_url": base_url}
    )
    return record.run_id


# --- finding 14: no credentials in a base URL ---------------------------------------------


def test_cli_run_base_url_env_with_password_exit_3_password_never_shown(
    here: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sheet = write_csv(here / "b.csv", payout_link_rows(2))
    monkeypatch.setenv("BATCHPAY_BASE_URL", f"http://ops:{PASSWORD}@127.0.0.1:8765")
    result = run_cli("run", str(sheet), "--quiet")
    _clean(result)
    assert result.exit_code == 3, result.output
    assert "contains a user name or password" in result.output
    assert "BATCHPAY_CLIENT_ID / BATCHPAY_SECRET_KEY" in result.output
    assert PASSWORD not in result.output
    assert not _ledger_path().exists()  # nothing journaled, so nothing stored


@pytest.mark.parametrize("command", ["run", "resume", "status", "retry-failed"])
def test_cli_base_url_option_with_password_exit_3_password_never_shown(
    here: Path, command: str
) -> None:
    sheet = write_csv(here / "b.csv", payout_link_rows(2))
    target = str(sheet) if command == "run" else "20260101-000000-dead"
    result = run_cli(command, target, "--base-url", f"https://ops:{PASSWORD}@api.example.com")
    _clean(result)
    assert result.exit_code == 3, result.output
    assert "contains a user name or password" in result.output
    assert PASSWORD not in result.output


def test_cli_resume_stored_url_with_password_exit_3_password_never_shown(here: Path) -> None:
    # A run journaled before such URLs were refused.
    sheet = write_csv(here / "b.csv", payout_link_rows(2))
    run_id = _planned_run(sheet, f"http://ops:{PASSWORD}@127.0.0.1:8765")
    result = run_cli("resume", run_id)
    _clean(result)
    assert result.exit_code == 3 and "--base-url" in result.output
    assert PASSWORD not in result.output


# --- finding 15: a dry run warns about repeats --------------------------------------------


def test_cli_run_dry_run_repeated_references_warned_not_refused(
    local: EmulatorHandle, here: Path
) -> None:
    sheet = write_csv(here / "b.csv", payout_link_rows(2))
    assert run_cli("run", str(sheet), "--quiet").exit_code == 0
    result = run_cli("run", str(sheet), "--dry-run", "--quiet")
    _clean(result)
    assert result.exit_code == 0, result.output
    assert "warning: row 2: 'PL-0001' was already used in run" in result.output
    assert "warning: row 3: 'PL-0002' was already used in run" in result.output
    assert "DRY RUN" in result.output and "error:" not in result.output
    assert local.admin.executed()["count"] == 2  # the dry run sent nothing
    runs = SqliteJournal(_ledger_path()).runs()
    assert len(runs) == 2 and sum(r.dry_run for r in runs) == 1
    # A real run is still refused.
    assert run_cli("run", str(sheet), "--quiet").exit_code == 1


# --- finding 6: resume honours BATCHPAY_BASE_URL / --base-url -----------------------------


def test_cli_resume_base_url_env_set_sends_there_and_says_so(
    local: EmulatorHandle, second: EmulatorHandle, here: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    second.admin.reset()
    sheet = write_csv(here / "b.csv", payout_link_rows(3))
    run_id = _planned_run(sheet, local.url)  # started against the first emulator
    # BATCHPAY_BASE_URL now names the second one (e.g. the gateway moved).
    monkeypatch.setenv("BATCHPAY_BASE_URL", second.url)
    result = run_cli("resume", run_id, "--quiet")
    _clean(result)
    assert result.exit_code == 0, result.output
    assert f"Using the DOKU URL from BATCHPAY_BASE_URL: {second.url}" in result.output
    assert f"(the run was started against {local.url})" in result.output
    assert second.admin.executed("payout-link")["count"] == 3
    assert local.admin.executed()["count"] == 0


def test_cli_resume_base_url_option_beats_env_and_stored(
    local: EmulatorHandle, second: EmulatorHandle, here: Path
) -> None:
    second.admin.reset()
    sheet = write_csv(here / "b.csv", payout_link_rows(2))
    run_id = _planned_run(sheet, "http://127.0.0.1:9")  # nothing listens there
    result = run_cli("resume", run_id, "--quiet", "--base-url", second.url)
    _clean(result)
    assert result.exit_code == 0, result.output
    assert f"Using the DOKU URL from --base-url: {second.url}" in result.output
    assert second.admin.executed("payout-link")["count"] == 2
    assert local.admin.executed()["count"] == 0


def test_cli_resume_no_base_url_uses_stored_url_and_says_so(
    emulator: EmulatorHandle, here: Path
) -> None:
    emulator.admin.reset()
    sheet = write_csv(here / "b.csv", payout_link_rows(2))
    run_id = _planned_run(sheet, emulator.url)
    result = run_cli("resume", run_id, "--quiet")  # no BATCHPAY_BASE_URL, no --base-url
    _clean(result)
    assert result.exit_code == 0, result.output
    assert f"Using the DOKU URL stored with the run: {emulator.url}" in result.output
    assert emulator.admin.executed("payout-link")["count"] == 2
    status = run_cli("status", run_id)
    assert f"Using the DOKU URL stored with the run: {emulator.url}" in status.output
