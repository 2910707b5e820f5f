"""``--json`` on run, resume, status, runs and report; ``report --format csv``; the terminal
summary's reasons and new account ids (issue 11, "Exports for automation").

Each JSON output is parsed from stdout alone: one document, its ``schema`` key first,
amounts as minor units beside a display string, nothing else on stdout."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from batchpay.config import load_settings
from batchpay.emulator.runtime import EmulatorHandle
from batchpay.journal.sqlite import SqliteJournal
from batchpay.runs import export
from tests.helpers.runs import create_rows, payout_link_rows, run_cli, write_csv


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def local(emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch, here: Path) -> EmulatorHandle:
    emulator.admin.reset()
    monkeypatch.setenv("BATCHPAY_BASE_URL", emulator.url)
    return emulator


def _doc(result: Result, schema: str) -> dict[str, Any]:
    """stdout is exactly one JSON document whose first key is the schema."""
    assert "Traceback" not in result.output
    doc = json.loads(result.stdout)
    assert next(iter(doc)) == "schema" and doc["schema"] == schema, doc.get("schema")
    return doc


def _only_run_id() -> str:
    runs = SqliteJournal(load_settings(require_credentials=False).ledger_path).runs()
    return runs[0].run_id


def test_cli_json_run_one_document_rows_totals_minor_and_display(
    local: EmulatorHandle, here: Path
) -> None:
    sheet = write_csv(here / "b.csv", payout_link_rows(3))
    result = run_cli("run", str(sheet), "--json")
    assert result.exit_code == 0, result.output
    doc = _doc(result, "batchpay.run/1")
    assert doc["valid"] is True and doc["exit_code"] == 0 and doc["sent_now"] == 3
    assert doc["run"]["id"] == _only_run_id() and doc["run"]["kind"] == "payout-link"
    assert doc["run"]["created_at"].endswith("+00:00")
    assert [r["reference"] for r in doc["rows"]] == ["PL-0001", "PL-0002", "PL-0003"]
    first = doc["rows"][0]
    assert first["amount"] == {"minor": 150_000_000, "currency": "IDR", "display": "IDR 1,500,000"}
    assert first["state"] == "PENDING" and first["doku_ids"]["payout_link_id"]
    assert doc["totals"]["sent"]["amounts"][0]["minor"] == 450_000_000
    assert Path(doc["workbook"]).is_file()
    # The human lines (banner, plan) went to stderr.
    assert "Plan:" in result.stderr and "Plan:" not in result.stdout


def test_cli_json_resume_status_runs_report_each_parse(local: EmulatorHandle, here: Path) -> None:
    sheet = write_csv(here / "b.csv", payout_link_rows(2))
    assert run_cli("run", str(sheet), "--quiet").exit_code == 0
    run_id = _only_run_id()

    resumed = _doc(run_cli("resume", run_id, "--json"), "batchpay.resume/1")
    assert resumed["run"]["id"] == run_id and resumed["sent_now"] == 0

    status = run_cli("status", run_id, "--json")
    doc = _doc(status, "batchpay.status/1")
    assert doc["exit_code"] == status.exit_code and doc["sent_now"] is None
    assert isinstance(doc["settled"], bool) and len(doc["rows"]) == 2

    runs = _doc(run_cli("runs", "--json"), "batchpay.runs/1")
    assert [r["id"] for r in runs["runs"]] == [run_id]
    assert runs["runs"][0]["totals"]["rows"] == 2

    report = _doc(run_cli("report", run_id, "--json"), "batchpay.report/1")
    assert report["format"] == "xlsx" and Path(report["path"]).is_file()
    assert report["runs"][0]["id"] == run_id


def test_cli_json_refusal_is_an_error_document_on_stdout(local: EmulatorHandle, here: Path) -> None:
    sheet = write_csv(here / "b.csv", payout_link_rows(2))
    assert run_cli("run", str(sheet), "--quiet").exit_code == 0
    again = run_cli("run", str(sheet), "--json")
    assert again.exit_code == 1
    doc = _doc(again, "batchpay.error/1")
    assert doc["error"]["type"] == "RepeatedReferences" and doc["error"]["exit_code"] == 1
    assert "already used in run" in again.stderr


def test_cli_json_usage_error_is_an_error_document(here: Path) -> None:
    result = run_cli("report", "20261101-090000-ab12", "-o", "x.txt", "--json")
    assert result.exit_code == 2
    assert _doc(result, "batchpay.error/1")["error"]["exit_code"] == 2


def test_cli_report_csv_one_row_per_payee_with_status_and_ids(
    local: EmulatorHandle, here: Path
) -> None:
    sheet = write_csv(here / "b.csv", payout_link_rows(3))
    assert run_cli("run", str(sheet), "--quiet").exit_code == 0
    run_id = _only_run_id()
    out = here / "export.csv"
    result = run_cli("report", run_id, "-o", str(out))  # format from the suffix
    assert result.exit_code == 0, result.output
    assert not out.read_bytes().startswith(b"PK")  # never XLSX bytes
    with out.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == list(export.CSV_COLUMNS)
    assert [r["reference"] for r in rows] == ["PL-0001", "PL-0002", "PL-0003"]
    assert {r["status"] for r in rows} == {"PENDING"}
    assert all(r["payout_link_id"] and r["request_id"] for r in rows)
    assert rows[0]["amount"] == "1500000" and rows[0]["amount_minor"] == "150000000"
    assert rows[0]["payee_email"] == "receiver1@example.co.id"
    assert (out.stat().st_mode & 0o777) == 0o600


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--format", "xlsx", "-o", "x.csv"], "ends in .csv but --format is xlsx"),
        (["--format", "csv", "-o", "x.xlsx"], "ends in .xlsx but --format is csv"),
        (["-o", "x.txt"], "ends in neither .xlsx nor .csv"),
    ],
)
def test_cli_report_suffix_format_mismatch_refused_nothing_written(
    local: EmulatorHandle, here: Path, args: list[str], said: str
) -> None:
    sheet = write_csv(here / "b.csv", payout_link_rows(1))
    assert run_cli("run", str(sheet), "--quiet").exit_code == 0
    result = run_cli("report", _only_run_id(), *args)
    assert result.exit_code == 2 and said in result.output
    assert not (here / "x.csv").exists() and not (here / "x.xlsx").exists()


def test_cli_run_report_option_refuses_csv_name(local: EmulatorHandle, here: Path) -> None:
    sheet = write_csv(here / "b.csv", payout_link_rows(1))
    result = run_cli("run", str(sheet), "--report", str(here / "r.csv"))
    assert result.exit_code == 2 and "does not end in .xlsx" in result.output
    assert local.admin.executed()["count"] == 0


def test_export_csv_formula_text_gets_an_apostrophe() -> None:
    assert export._safe("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert export._safe("@SUM") == "'@SUM" and export._safe("Budi") == "Budi"


def test_cli_run_summary_lists_reasons_not_paid_with_counts(
    local: EmulatorHandle, here: Path
) -> None:
    rows = payout_link_rows(4)
    for i in (0, 1):
        rows[i]["receiver_email"] = f"fail{i}+fail@example.co.id"
    rows[2]["receiver_email"] = "late+expire@example.co.id"
    sheet = write_csv(here / "b.csv", rows)
    assert run_cli("run", str(sheet), "--quiet").exit_code == 0
    run_id = _only_run_id()
    result = run_cli("status", run_id, "--until-final", "--timeout", "30", "--interval", "0.3")
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    at = lines.index("Not paid, by reason:")
    reasons = lines[at + 1 : at + 3]
    assert reasons[0].split()[:3] == ["2", "×", "FAILED"], reasons
    assert reasons[1].split()[:3] == ["1", "×", "EXPIRED"], reasons
    doc = _doc(run_cli("status", run_id, "--json"), "batchpay.status/1")
    assert [(x["state"], x["count"]) for x in doc["not_paid"]] == [("FAILED", 2), ("EXPIRED", 1)]


def test_cli_account_creation_run_prints_new_account_ids(local: EmulatorHandle, here: Path) -> None:
    sheet = write_csv(here / "c.csv", create_rows(2))
    result = run_cli("run", str(sheet), "--quiet")
    assert result.exit_code == 0, result.output
    ledger = SqliteJournal(load_settings(require_credentials=False).ledger_path)
    ids = [r.doku_ids["account_id"] for r in ledger.rows(_only_run_id())]
    assert len(ids) == 2 and all(ids)
    assert "New Sub Accounts (2):" in result.output
    for email, account in zip(("toko1@example.co.id", "toko2@example.co.id"), ids, strict=True):
        assert any(email in line and account in line for line in result.output.splitlines())
    doc = _doc(run_cli("status", _only_run_id(), "--json"), "batchpay.status/1")
    assert [a["account_id"] for a in doc["created_accounts"]] == ids


def test_cli_accounts_create_json_has_schema_and_account_id(local: EmulatorHandle) -> None:
    result = run_cli("accounts", "create", "--email", "j@example.com", "--name", "Toko J", "--json")
    assert result.exit_code == 0, result.output
    doc = _doc(result, "batchpay.accounts-create/1")
    assert doc["account_id"].startswith("SAC-") and doc["outcome"]["ids"]["account_id"]
