"""``batchpay run / resume / status / runs / retry-failed`` through :func:`batchpay.cli.main`:
exit codes, what the operator reads, and never a traceback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import Result

from batchpay.config import load_settings
from batchpay.emulator import EMULATOR_CLIENT_ID, EMULATOR_SECRET_KEY
from batchpay.emulator.runtime import EmulatorHandle
from batchpay.journal.sqlite import SqliteJournal
from tests.helpers.runs import (
    FUNDED,
    payout_link_rows,
    run_cli,
    sac_payout_rows,
    write_csv,
)

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "samples" / "bonus-payout-link.csv"


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def local(emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch, here: Path) -> EmulatorHandle:
    """Point the CLI at the module's emulator (env emulator, built-in test credentials)."""
    emulator.admin.reset()
    monkeypatch.setenv("BATCHPAY_BASE_URL", emulator.url)
    return emulator


def _ledger() -> SqliteJournal:
    return SqliteJournal(load_settings(require_credentials=False).ledger_path, read_only=True)


def _runs() -> list[object]:
    """The journal's runs; none when no journal was created (only `run` creates one)."""
    path = load_settings(require_credentials=False).ledger_path
    return list(_ledger().runs()) if path.exists() else []


def _clean(result: Result) -> None:
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_cli_run_sample_builtin_emulator_exit_0_workbook_written(here: Path) -> None:
    result = run_cli("run", str(SAMPLE), "--env", "emulator", "--quiet")
    _clean(result)
    assert result.exit_code == 0, result.output
    assert "EMULATOR" in result.output and "NO REAL MONEY" in result.output
    runs = _ledger().runs()
    assert len(runs) == 1
    workbooks = list((here / "reports").glob(f"*{runs[0].run_id}.xlsx"))
    assert len(workbooks) == 1 and str(workbooks[0].name) in result.output


def test_cli_run_invalid_sheet_exit_1_no_run_nothing_sent(
    local: EmulatorHandle, here: Path
) -> None:
    rows = payout_link_rows(2)
    rows[1]["amount"] = "-5"
    sheet = write_csv(here / "bad.csv", rows)
    result = run_cli("run", str(sheet))
    _clean(result)
    assert result.exit_code == 1
    assert "Nothing was sent" in result.output
    assert _runs() == [] and local.admin.executed()["count"] == 0
    assert (here / "reports" / "bad-validation.xlsx").is_file()


def test_cli_run_repeat_refused_exit_1_unless_allow_repeat(
    local: EmulatorHandle, here: Path
) -> None:
    sheet = write_csv(here / "b.csv", payout_link_rows(2))
    assert run_cli("run", str(sheet), "--quiet").exit_code == 0
    again = run_cli("run", str(sheet), "--quiet")
    _clean(again)
    assert again.exit_code == 1 and "already used in run" in again.output
    assert local.admin.executed()["count"] == 2 and len(_ledger().runs()) == 1


def test_cli_run_dry_run_exit_0_rows_not_sent(local: EmulatorHandle, here: Path) -> None:
    sheet = write_csv(here / "b.csv", payout_link_rows(3))
    result = run_cli("run", str(sheet), "--dry-run")
    _clean(result)
    assert result.exit_code == 0 and "DRY RUN" in result.output
    run = _ledger().runs()[0]
    assert run.dry_run and {r.state for r in _ledger().rows(run.run_id)} == {"NOT_SENT"}
    assert local.admin.executed()["count"] == 0


def test_cli_run_expect_total_mismatch_exit_1_nothing_sent(
    local: EmulatorHandle, here: Path
) -> None:
    sheet = write_csv(here / "b.csv", payout_link_rows(2))  # total 3,000,000
    result = run_cli("run", str(sheet), "--expect-total", "2,000,000")
    _clean(result)
    assert result.exit_code == 1 and "does not match" in result.output
    assert _runs() == [] and local.admin.executed()["count"] == 0


def test_cli_run_shortfall_exit_1_lists_need_and_available(
    local: EmulatorHandle, here: Path
) -> None:
    local.admin.fund(FUNDED, 100_000)
    sheet = write_csv(here / "v.csv", sac_payout_rows(2))
    result = run_cli("run", str(sheet))
    _clean(result)
    assert result.exit_code == 1
    assert "needs 200,000, available 100,000" in result.output
    assert local.admin.executed()["count"] == 0


def _production(monkeypatch: pytest.MonkeyPatch, url: str, secret: str) -> None:
    # "production" aimed at the local emulator: the confirmation rules without real money.
    monkeypatch.setenv("BATCHPAY_BASE_URL", url)
    monkeypatch.setenv("BATCHPAY_CLIENT_ID", EMULATOR_CLIENT_ID)
    monkeypatch.setenv("BATCHPAY_SECRET_KEY", secret)


def test_cli_run_production_yes_without_expect_total_exit_2(
    local: EmulatorHandle, here: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _production(monkeypatch, local.url, EMULATOR_SECRET_KEY)
    sheet = write_csv(here / "b.csv", payout_link_rows(2))
    result = run_cli("run", str(sheet), "--env", "production", "--yes")
    _clean(result)
    assert result.exit_code == 2 and "--expect-total" in result.output
    assert local.admin.executed()["count"] == 0


def test_cli_run_production_typed_wrong_count_exit_1_nothing_sent(
    local: EmulatorHandle, here: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _production(monkeypatch, local.url, EMULATOR_SECRET_KEY)
    sheet = write_csv(here / "b.csv", payout_link_rows(2))
    result = run_cli("run", str(sheet), "--env", "production", input="3\n")
    _clean(result)
    assert result.exit_code == 1 and "PRODUCTION" in result.output
    assert local.admin.executed()["count"] == 0


def test_cli_run_production_typed_count_and_total_sends(
    local: EmulatorHandle, here: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _production(monkeypatch, local.url, EMULATOR_SECRET_KEY)
    sheet = write_csv(here / "b.csv", payout_link_rows(2))
    result = run_cli("run", str(sheet), "--env", "production", "--quiet", input="2\n3.000.000\n")
    _clean(result)
    assert result.exit_code == 0, result.output
    assert local.admin.executed()["count"] == 2


def test_cli_run_auth_failure_exit_3_names_fix_rows_planned(
    local: EmulatorHandle, here: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _production(monkeypatch, local.url, "SK-WRONG-KEY-0000000000")
    sheet = write_csv(here / "b.csv", payout_link_rows(3))
    result = run_cli("run", str(sheet), "--env", "sandbox", "--quiet")
    _clean(result)
    assert result.exit_code == 3
    assert "BATCHPAY_PAYOUT_LINK_SIGNATURE" in result.output and "resume" in result.output
    assert "SK-WRONG-KEY" not in result.output
    run = _ledger().runs()[0]
    assert {r.state for r in _ledger().rows(run.run_id)} == {"PLANNED"}
    assert local.admin.executed()["count"] == 0


def test_cli_resume_unknown_run_exit_2(here: Path) -> None:
    SqliteJournal(load_settings(require_credentials=False).ledger_path, create=True)
    result = run_cli("resume", "20260101-000000-dead")
    _clean(result)
    assert result.exit_code == 2 and "batchpay runs" in result.output


def test_cli_resume_finished_run_exit_0_sends_nothing(local: EmulatorHandle, here: Path) -> None:
    sheet = write_csv(here / "b.csv", payout_link_rows(2))
    assert run_cli("run", str(sheet), "--quiet").exit_code == 0
    run_id = _ledger().runs()[0].run_id
    result = run_cli("resume", run_id)
    _clean(result)
    assert result.exit_code == 0 and "nothing left to send" in result.output
    assert local.admin.executed()["count"] == 2


def test_cli_resume_changed_file_exit_2(local: EmulatorHandle, here: Path) -> None:
    sheet = write_csv(here / "b.csv", payout_link_rows(2))
    local.admin.queue_fault("drop-after", op="payout-link", nth=1, count=99)
    run_cli("run", str(sheet), "--quiet")
    with sheet.open("a") as fh:
        fh.write("\n")
    result = run_cli("resume", _ledger().runs()[0].run_id)
    _clean(result)
    assert result.exit_code == 2 and "changed since run" in result.output


def test_cli_status_until_final_exit_0_completed(local: EmulatorHandle, here: Path) -> None:
    sheet = write_csv(here / "b.csv", payout_link_rows(2))
    assert run_cli("run", str(sheet), "--quiet").exit_code == 0
    run_id = _ledger().runs()[0].run_id
    result = run_cli("status", run_id, "--until-final", "--timeout", "20", "--interval", "0.3")
    _clean(result)
    assert result.exit_code == 0, result.output
    assert {r.state for r in _ledger().rows(run_id)} == {"COMPLETED"}


def test_cli_runs_lists_run_with_amounts(local: EmulatorHandle, here: Path) -> None:
    sheet = write_csv(here / "b.csv", payout_link_rows(2))
    run_cli("run", str(sheet), "--quiet")
    result = run_cli("runs")
    _clean(result)
    assert result.exit_code == 0
    assert _ledger().runs()[0].run_id in result.output and "IDR 3,000,000" in result.output


def test_cli_retry_failed_confirmed_sends_linked_run(local: EmulatorHandle, here: Path) -> None:
    rows = payout_link_rows(2)
    rows[0]["receiver_email"] = "x+fail@example.co.id"  # the emulator fails this link
    sheet = write_csv(here / "b.csv", rows)
    assert run_cli("run", str(sheet), "--quiet").exit_code == 0
    parent = _ledger().runs()[0]
    final = run_cli(
        "status", parent.run_id, "--until-final", "--timeout", "20", "--interval", "0.3"
    )
    assert final.exit_code == 1 and "retry-failed" in final.output
    declined = run_cli("retry-failed", parent.run_id, input="n\n")
    assert declined.exit_code == 1 and len(_ledger().runs()) == 1
    result = run_cli("retry-failed", parent.run_id, "--quiet", input="y\n")
    _clean(result)
    assert result.exit_code == 0, result.output
    assert "PL-0001 → PL-0001-R2" in result.output
    child = _ledger().runs()[0]
    assert child.parent_run_id == parent.run_id
    references = [i["reference"] for i in local.admin.executed("payout-link")["items"]]
    assert sorted(references) == ["PL-0001", "PL-0001-R2", "PL-0002"]


def test_cli_run_secret_never_printed(
    local: EmulatorHandle, here: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    canary = "SK-CANARY-" + os.urandom(8).hex()
    _production(monkeypatch, local.url, canary)
    sheet = write_csv(here / "b.csv", payout_link_rows(1))
    result = run_cli("run", str(sheet), "--env", "sandbox", "--quiet")
    assert canary not in result.output
    for path in (
        p for p in Path(load_settings(require_credentials=False).home).rglob("*") if p.is_file()
    ):
        assert canary.encode() not in path.read_bytes()


def test_cli_run_workbook_write_fails_summary_still_shown_and_journal_intact(
    here: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Money has moved by the time the workbook is written: a writer failure must not hide
    the summary or the exit code, and must say how to rebuild the workbook."""
    from batchpay.runs import service

    def broken(*args: object, **kwargs: object) -> Path:
        raise RuntimeError("writer exploded")

    monkeypatch.setattr(service, "write_workbook", broken)
    result = run_cli("run", str(SAMPLE), "--env", "emulator", "--quiet")
    _clean(result)
    assert result.exit_code == 0, result.output
    assert "could not write the workbook (RuntimeError: writer exploded)" in result.output
    run_id = _ledger().runs()[0].run_id
    assert f"batchpay report {run_id}" in result.output
    assert "PENDING" in result.output  # the one-screen summary is there
    assert all(r.state == "PENDING" for r in _ledger().rows(run_id))


# --- --set and profiles (issue 10) ----------------------------------------------------------

_HR = (
    "No,NIK,Nama Lengkap Karyawan,No. HP,Alamat E-mail,Jumlah Bonus\n"
    "1,3201001,Siti Rahayu,081234567890,siti@example.co.id,1.500.000\n"
    "2,3201002,Budi Santoso,081234567891,budi@example.co.id,2.500.000\n"
)
_PROFILE = """\
[payout-link]
amount_format = "id"

[payout-link.set]
sender_name = "PT Sinar Abadi"
reference_id = "BNS-2612-{NIK}"
"""


def test_cli_run_dry_run_with_profile_in_cwd_records_derived_references(
    local: EmulatorHandle, here: Path
) -> None:
    (here / "desember.csv").write_text(_HR, encoding="utf-8")
    (here / "batchpay.toml").write_text(_PROFILE, encoding="utf-8")
    result = run_cli("run", "desember.csv", "--dry-run", "--quiet")
    _clean(result)
    assert result.exit_code == 0, result.output
    run = _ledger().runs()[0]
    assert run.settings["set"] == {
        "sender_name": "PT Sinar Abadi",
        "reference_id": "BNS-2612-{NIK}",
    }
    assert run.settings["amount_format"] == "id" and run.settings["profile"] == "batchpay.toml"
    refs = sorted(r.reference for r in _ledger().rows(run.run_id))
    assert refs == ["BNS-2612-3201001", "BNS-2612-3201002"]
    assert local.admin.executed()["count"] == 0


def test_cli_run_set_option_and_reupload_refuses_paid_reference(
    local: EmulatorHandle, here: Path
) -> None:
    (here / "desember.csv").write_text(_HR, encoding="utf-8")
    sets = ("--set", "sender_name=PT Sinar Abadi", "--set", "reference_id=BNS-2612-{NIK}")
    first = run_cli("run", "desember.csv", "--amount-format", "id", "--quiet", *sets)
    assert first.exit_code == 0, first.output
    # The corrected sheet, re-uploaded: the same people get the same references, refused.
    (here / "desember-v2.csv").write_text(_HR.replace("2.500.000", "2.600.000"), encoding="utf-8")
    again = run_cli("run", "desember-v2.csv", "--amount-format", "id", "--quiet", *sets)
    _clean(again)
    assert again.exit_code != 0 and "BNS-2612-3201001" in again.output
    assert len(_runs()) == 1


def test_cli_run_unknown_placeholder_exits_2_no_run(local: EmulatorHandle, here: Path) -> None:
    (here / "desember.csv").write_text(_HR, encoding="utf-8")
    result = run_cli(
        "run", "desember.csv", "--set", "sender_name=PT", "--set", "reference_id=B-{Nik Karyawan}"
    )
    assert result.exit_code == 2 and "{Nik Karyawan}" in result.output
    assert _runs() == []
