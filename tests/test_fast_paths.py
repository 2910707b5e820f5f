"""The fast paths of issue 5 agree with the slow ones they stand in for.

The CSV reader (pyarrow, with pandas/csv as fallback), the Rows sheet of a large sheet's
validation report (only rows with problems), every problem cell up to the comment cap commented,
the journal's group commit of several changes, a plan's rows built as they are read, and the
journal's lean rows.
"""

from __future__ import annotations

import csv
import threading
from pathlib import Path

import openpyxl
import pytest

import batchpay.sheet.csvfile as csvfile
import batchpay.workbook.validation as report_module
from batchpay.errors import IllegalTransition
from batchpay.journal import RowChange
from batchpay.journal.sqlite import SqliteJournal
from batchpay.kinds import build_body
from batchpay.runs import plan as planning
from batchpay.sheet import load_sheet
from batchpay.states import State
from batchpay.validate import validate_file

HEADER = [
    "receiver_name",
    "receiver_phone_number",
    "receiver_email",
    "amount",
    "reference_id",
    "sender_name",
    "description",
]


def _sheet(path: Path, rows: list[list[str]], *, newline: str = "\r\n") -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, lineterminator=newline).writerows([HEADER, *rows])
    return path


def _row(i: int, **changes: str) -> list[str]:
    row = {
        "receiver_name": "Siti Rahayu",
        "receiver_phone_number": f"0812345{i:05d}",
        "receiver_email": f"siti{i}@example.co.id",
        "amount": "1500000",
        "reference_id": f"REF-{i:04d}",
        "sender_name": "PT Maju Jaya",
        "description": "Bonus",
    }
    row.update(changes)
    return [row[h] for h in HEADER]


# --- CSV: pyarrow reader and the fallback read the same cells ---------------------------------

CSV_CASES = {
    "quoted-comma-and-newline": [
        _row(1, receiver_name='Siti, "S.E."'),
        _row(2, description="line one\nline two"),
    ],
    "blank-rows-between": [_row(1), ["", "", "", "", "", "", ""], _row(3)],
    "spaces-and-nbsp": [_row(1, receiver_name="  Budi "), _row(2, receiver_name="\u00a0Dewi")],
    "formatted-amounts": [_row(1, amount="Rp 1.500.000"), _row(2, amount="1,250,000.50")],
    "empty-trailing-cells": [_row(1, description=""), _row(2, description="")],
}


@pytest.mark.parametrize("case", list(CSV_CASES))
@pytest.mark.parametrize("newline", ["\r\n", "\n"])
def test_load_sheet_csv_pyarrow_reader_matches_fallback_reader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str, newline: str
) -> None:
    path = _sheet(tmp_path / "bonus.csv", CSV_CASES[case], newline=newline)
    fast = load_sheet(path)
    monkeypatch.setattr(csvfile, "_read_utf8_arrow", lambda data: None)
    slow = load_sheet(path)
    assert fast.headers == slow.headers
    assert fast.row_numbers == slow.row_numbers
    assert fast.frame.to_numpy(dtype=object).tolist() == slow.frame.to_numpy(dtype=object).tolist()
    assert [p.key for p in fast.problems] == [p.key for p in slow.problems]


def test_load_sheet_csv_ragged_row_falls_back_and_keeps_extra_value(tmp_path: Path) -> None:
    path = tmp_path / "bonus.csv"
    path.write_text("Name,Amount\nSiti,1\nBudi,2,oops\n", encoding="utf-8")
    assert load_sheet(path).frame.to_numpy(dtype=object).tolist() == [
        ["Siti", "1", ""],
        ["Budi", "2", "oops"],
    ]


# --- validation report ------------------------------------------------------------------------


def test_report_large_sheet_rows_sheet_lists_only_rows_with_problems(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(report_module, "FULL_ROWS_LIMIT", 3)
    path = _sheet(
        tmp_path / "bonus.csv",
        [_row(1), _row(2, amount="abc"), _row(3), _row(4, receiver_email="x@")],
    )
    result = validate_file(path)
    wb = openpyxl.load_workbook(report_module.write_validation_report(result, tmp_path / "r.xlsx"))
    rows = [r for r in wb["Rows"].iter_rows(values_only=True)]
    assert [r[0] for r in rows] == ["Row", 3, 5]
    summary = [c for r in wb["Summary"].iter_rows(values_only=True) for c in r if c]
    assert any("only the rows with problems are listed" in str(c) for c in summary)
    assert wb["Rows"].auto_filter.ref.endswith("3")


def test_report_small_sheet_rows_sheet_lists_every_row(tmp_path: Path) -> None:
    path = _sheet(tmp_path / "bonus.csv", [_row(1), _row(2, amount="abc"), _row(3)])
    wb = openpyxl.load_workbook(
        report_module.write_validation_report(validate_file(path), tmp_path / "r.xlsx")
    )
    assert [r[0] for r in wb["Rows"].iter_rows(values_only=True)] == ["Row", 2, 3, 4]


def test_report_every_problem_cell_up_to_the_cap_has_its_comment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(report_module, "_MAX_COMMENTS", 5)
    bad = [_row(i, amount="abc") if i % 2 else _row(i, receiver_email="x@") for i in range(1, 9)]
    path = _sheet(tmp_path / "bonus.csv", bad)
    wb = openpyxl.load_workbook(
        report_module.write_validation_report(validate_file(path), tmp_path / "r.xlsx")
    )
    ws = wb["Rows"]
    commented = [c for row in ws.iter_rows() for c in row if c.comment is not None]
    assert len(commented) == 5
    assert all(c.fill.fgColor.rgb.endswith("FFC7CE") for c in commented)
    assert all("Fix:" in c.comment.text for c in commented)


# --- journal ----------------------------------------------------------------------------------


def _run(ledger: SqliteJournal, tmp_path: Path, n: int) -> str:
    path = _sheet(tmp_path / "plan.csv", [_row(i) for i in range(1, n + 1)])
    the_plan = planning.plan(validate_file(path), env="emulator")
    return ledger.create_run(
        kind="payout-link",
        product="payout-link",
        env="emulator",
        input_path=path,
        input_sha256="0" * 64,
        rows=the_plan.rows,
        settings={},
    ).run_id


def test_journal_writer_commit_all_one_transaction_all_durable(tmp_path: Path) -> None:
    ledger = SqliteJournal(tmp_path / "l.sqlite", create=True)
    run_id = _run(ledger, tmp_path, 2)
    with ledger.writer() as journal:
        journal.commit_all(
            [
                RowChange(run_id, 2, State.SENDING, "send", count_send=True),
                RowChange(run_id, 3, State.SENDING, "send", count_send=True),
            ]
        )
        commits = journal.commits
    assert commits == 1
    assert [r.state for r in SqliteJournal(ledger.path).rows(run_id)] == [
        State.SENDING,
        State.SENDING,
    ]


def test_journal_writer_commit_all_refused_change_raises_others_commit(tmp_path: Path) -> None:
    ledger = SqliteJournal(tmp_path / "l.sqlite", create=True)
    run_id = _run(ledger, tmp_path, 2)
    with ledger.writer() as journal, pytest.raises(IllegalTransition):
        journal.commit_all(
            [
                RowChange(run_id, 2, "COMPLETED", "outcome"),
                RowChange(run_id, 3, State.SENDING, "send", count_send=True),
            ]
        )
    assert [r.state for r in ledger.rows(run_id)] == [State.PLANNED, State.SENDING]


def test_journal_writer_many_threads_every_change_durable(tmp_path: Path) -> None:
    ledger = SqliteJournal(tmp_path / "l.sqlite", create=True)
    run_id = _run(ledger, tmp_path, 40)
    with ledger.writer() as journal:

        def worker(rows: range) -> None:
            for r in rows:
                journal.commit(RowChange(run_id, r, State.SENDING, "send", count_send=True))
                journal.submit(RowChange(run_id, r, "PENDING", "outcome"))

        threads = [threading.Thread(target=worker, args=(range(2 + i, 42, 8),)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert {(r.state, r.sends) for r in SqliteJournal(ledger.path).rows(run_id)} == {("PENDING", 1)}


def test_ledger_rows_lean_equal_full_rows_but_for_input_and_normalised(tmp_path: Path) -> None:
    ledger = SqliteJournal(tmp_path / "l.sqlite", create=True)
    run_id = _run(ledger, tmp_path, 3)
    full, lean = ledger.rows(run_id), ledger.rows(run_id, data=False)
    assert all(r.input and r.normalised for r in full)
    assert [(r.row_number, r.request_id, r.body, r.state, r.amount_minor) for r in lean] == [
        (r.row_number, r.request_id, r.body, r.state, r.amount_minor) for r in full
    ]
    assert all(r.input == {} and r.normalised == {} for r in lean)


# --- plan -------------------------------------------------------------------------------------


def test_plan_rows_built_as_read_match_the_validated_sheet(tmp_path: Path) -> None:
    path = _sheet(
        tmp_path / "plan.csv", [_row(1), _row(2, amount="Rp 2.500.000", description=""), _row(3)]
    )
    result = validate_file(path)
    rows = planning.plan(result, env="emulator").rows
    assert len(rows) == 3 and rows
    listed = list(rows)
    assert [r.row_number for r in listed] == [2, 3, 4]
    assert rows[1] == listed[1] and rows[-1] == listed[2]
    second = listed[1]
    assert second.normalised["amount"] == "2500000" and second.amount_minor == 250000000
    assert second.input["amount"] == "Rp 2.500.000"
    assert second.body == build_body(result.table.kind, second.normalised)
    assert second.reference == "REF-0002" and second.currency == "IDR"
