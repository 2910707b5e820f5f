"""batchpay.workbook.reconciliation, read back with openpyxl as an accountant's Excel would."""

from __future__ import annotations

import re
import zipfile
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import xlsxwriter

from batchpay.journal import EventRecord, RowRecord
from batchpay.workbook import STATUS_FILLS
from batchpay.workbook.reconciliation import MAX_WIDTH, write_reconciliation
from tests.test_reconcile import RUN_ID, make_row, make_run

NOW = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)
TRAPS = [
    '=HYPERLINK("http://evil.example","click")',
    "+62812",
    "@SUM(A1)",
    "-1+1",
    "#N/A",
    "\tTAB",
    "=1+1",
]


def mixed_rows() -> list[RowRecord]:
    """One row per interesting state, each with a formula-looking extra column."""
    states = [
        "COMPLETED",
        "SUCCESS",
        "PENDING",
        "CONFIRMED",
        "UNKNOWN",
        "SENDING",
        "FAILED",
        "EXPIRED",
        "REJECTED",
        "PLANNED",
        "NOT_SENT",
        "INVALID",
    ]
    rows = []
    for i, state in enumerate(states):
        base = make_row(i + 2, state, 150_000_000 + 101 * i, message=f"msg {state}")
        rows.append(
            RowRecord(
                **{
                    **base.__dict__,
                    "input": {
                        **base.input,
                        "Catatan": TRAPS[i % len(TRAPS)],
                        "Rekening": "0012345678",
                    },
                }
            )
        )
    return rows


def write(tmp_path: Path, rows: list[RowRecord] | None = None, **run_over: Any) -> Path:
    events = [
        EventRecord(
            1,
            RUN_ID,
            2,
            "2026-11-01T02:01:00Z",
            "row-state",
            "=cmd|' /C calc'!A0",
            old_state="SENDING",
            new_state="COMPLETED",
            outcome="ACCEPTED",
            http_status=200,
            request_id="0" * 20,
        )
    ]
    return write_reconciliation(
        tmp_path / "out" / "r.xlsx",
        [make_run(**run_over)],
        mixed_rows() if rows is None else rows,
        events,
        now=NOW,
    )


def header_index(ws: Any, header: str) -> int:
    heads = [c.value for c in next(ws.iter_rows(max_row=1))]
    return heads.index(header)


def as_decimal(value: Any) -> Decimal:
    """An amount cell's exact value: numbers via their shortest repr, big ones are text."""
    return Decimal(value.replace(",", "")) if isinstance(value, str) else Decimal(str(value))


def summary_line(ws: Any, label: str) -> tuple[Any, ...]:
    for row in ws.iter_rows(values_only=True):
        if row[0] == label:
            return row
    raise AssertionError(f"no line {label!r} on Summary")


def test_write_reconciliation_sheets_present_in_order(tmp_path: Path) -> None:
    wb = openpyxl.load_workbook(write(tmp_path))
    assert wb.sheetnames == ["Summary", "Rows", "Exceptions", "Events"]


@pytest.mark.parametrize(
    ("env", "banner"),
    [("emulator", "EMULATOR — NO REAL MONEY MOVED"), ("sandbox", "SANDBOX — NO REAL MONEY MOVED")],
)
def test_write_reconciliation_test_environment_has_red_banner(
    tmp_path: Path, env: str, banner: str
) -> None:
    ws = openpyxl.load_workbook(write(tmp_path, env=env))["Summary"]
    assert ws["A1"].value == banner
    assert ws["A1"].fill.fgColor.rgb.endswith("C00000")


def test_write_reconciliation_production_has_no_banner(tmp_path: Path) -> None:
    wb = openpyxl.load_workbook(write(tmp_path, env="production"))
    texts = [
        v for ws in wb for row in ws.iter_rows(values_only=True) for v in row if isinstance(v, str)
    ]
    assert not any("NO REAL MONEY" in t for t in texts)
    assert wb["Summary"]["A1"].value == "batchpay reconciliation"


@pytest.mark.parametrize("sheet", ["Rows", "Exceptions", "Events"])
def test_write_reconciliation_table_sheet_header_frozen_and_filtered(
    tmp_path: Path, sheet: str
) -> None:
    ws = openpyxl.load_workbook(write(tmp_path))[sheet]
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref is not None
    assert ws.auto_filter.ref.startswith("A1:")
    assert ws.auto_filter.ref.endswith(str(ws.max_row))


def test_write_reconciliation_identifiers_keep_leading_zeros(tmp_path: Path) -> None:
    ws = openpyxl.load_workbook(write(tmp_path))["Rows"]
    for header, expected in [
        ("No HP", "081234567890"),
        ("Rekening", "0012345678"),
        ("Request-Id", "00000000000000000002"),
    ]:
        cell = ws.cell(row=2, column=header_index(ws, header) + 1)
        assert (cell.value, cell.data_type) == (expected, "s")


def test_write_reconciliation_formula_looking_text_stays_text(tmp_path: Path) -> None:
    wb = openpyxl.load_workbook(write(tmp_path))
    ws = wb["Rows"]
    col = header_index(ws, "Catatan") + 1
    cells = [ws.cell(row=r, column=col) for r in range(2, 2 + len(TRAPS))]
    assert [c.value for c in cells] == TRAPS
    assert {c.data_type for c in cells} == {"s"}
    detail = wb["Events"].cell(row=2, column=header_index(wb["Events"], "Detail") + 1)
    assert (detail.value, detail.data_type) == ("=cmd|' /C calc'!A0", "s")


def test_write_reconciliation_no_formula_anywhere(tmp_path: Path) -> None:
    wb = openpyxl.load_workbook(write(tmp_path))
    formulas = [
        (ws.title, c.coordinate)
        for ws in wb
        for row in ws.iter_rows()
        for c in row
        if c.data_type == "f"
    ]
    assert formulas == []


def test_write_reconciliation_summary_totals_equal_record_sums(tmp_path: Path) -> None:
    rows = mixed_rows()
    ws = openpyxl.load_workbook(write(tmp_path, rows=rows))["Summary"]
    paid = [r for r in rows if r.state in ("COMPLETED", "SUCCESS")]
    outstanding = [r for r in rows if r.state in ("PENDING", "CONFIRMED", "UNKNOWN", "SENDING")]
    failed = [r for r in rows if r.state in ("FAILED", "EXPIRED", "REJECTED")]
    for label, subset in [
        ("Confirmed paid", paid),
        ("Outstanding (progressing + unknown)", outstanding),
        ("Failed", failed),
        ("All rows", rows),
    ]:
        line = summary_line(ws, label)
        assert line[2] == len(subset), label
        assert as_decimal(line[3]) == Decimal(sum(r.amount_minor or 0 for r in subset)) / 100


def test_write_reconciliation_rows_amounts_numbers_equal_records(tmp_path: Path) -> None:
    rows = mixed_rows()
    ws = openpyxl.load_workbook(write(tmp_path, rows=rows))["Rows"]
    col = header_index(ws, "Amount") + 1
    cells = [ws.cell(row=r, column=col) for r in range(2, 2 + len(rows))]
    assert {c.data_type for c in cells} == {"n"}
    # Rupiah show no decimals (issue 11); an amount with cents keeps them, exactly.
    for cell, row in zip(cells, rows, strict=True):
        whole = (row.amount_minor or 0) % 100 == 0
        assert cell.number_format == ("#,##0" if whole else "#,##0.00"), cell.value
    assert (
        sum(as_decimal(c.value) for c in cells)
        == Decimal(sum(r.amount_minor or 0 for r in rows)) / 100
    )


def test_write_reconciliation_rupiah_kind_uses_whole_number_format(tmp_path: Path) -> None:
    ws = openpyxl.load_workbook(write(tmp_path, kind="sub-account-payout"))["Rows"]
    assert ws.cell(row=2, column=header_index(ws, "Amount") + 1).number_format == "#,##0"


def test_write_reconciliation_amount_beyond_excel_precision_written_as_text(tmp_path: Path) -> None:
    huge = 12_345_678_901_234_567_89  # 17 digits and 2 decimals: a float would round it
    ws = openpyxl.load_workbook(write(tmp_path, rows=[make_row(2, "COMPLETED", huge)]))["Rows"]
    cell = ws.cell(row=2, column=header_index(ws, "Amount") + 1)
    assert (cell.value, cell.data_type) == ("12,345,678,901,234,567.89", "s")
    assert cell.comment is not None


def test_write_reconciliation_status_cells_have_status_fill(tmp_path: Path) -> None:
    wb = openpyxl.load_workbook(write(tmp_path))
    for sheet in ("Rows", "Exceptions"):
        ws = wb[sheet]
        col = header_index(ws, "Status") + 1
        for r in range(2, ws.max_row + 1):
            cell = ws.cell(row=r, column=col)
            # XlsxWriter writes opaque ARGB ("FF…"), openpyxl's fills are "00…": same colour.
            want = STATUS_FILLS[cell.value].fgColor.rgb[-6:]
            assert cell.fill.fgColor.rgb[-6:] == want, cell.value


def test_write_reconciliation_exceptions_exclude_paid_rows(tmp_path: Path) -> None:
    ws = openpyxl.load_workbook(write(tmp_path))["Exceptions"]
    statuses = [c.value for c in ws[get_col(ws, "Status")][1:]]
    assert "COMPLETED" not in statuses and "SUCCESS" not in statuses
    assert len(statuses) == len(mixed_rows()) - 2


def get_col(ws: Any, header: str) -> str:
    return openpyxl.utils.get_column_letter(header_index(ws, header) + 1)


def test_write_reconciliation_widths_fit_and_capped(tmp_path: Path) -> None:
    rows = [make_row(2, "FAILED", message="x" * 500)]
    ws = openpyxl.load_workbook(write(tmp_path, rows=rows))["Rows"]
    # XlsxWriter stores a width with the cell padding Excel adds (60 → 60.71).
    assert abs(ws.column_dimensions[get_col(ws, "DOKU's last message")].width - MAX_WIDTH) < 1
    assert ws.column_dimensions[get_col(ws, "Request-Id")].width >= 20


def test_write_reconciliation_summary_bar_chart_references_amount_values(tmp_path: Path) -> None:
    rows = mixed_rows()
    path = write(tmp_path, rows=rows)
    with zipfile.ZipFile(path) as z:
        xml = z.read("xl/charts/chart1.xml").decode()
    assert "barChart" in xml
    ((first, last),) = re.findall(r"<c:f>'?Summary'?!\$D\$(\d+):\$D\$(\d+)</c:f>", xml)
    ws = openpyxl.load_workbook(path)["Summary"]
    charted = [ws[f"D{r}"].value for r in range(int(first), int(last) + 1)]
    assert (
        sum(as_decimal(v) for v in charted) == Decimal(sum(r.amount_minor or 0 for r in rows)) / 100
    )


def test_write_reconciliation_control_character_does_not_break_report(tmp_path: Path) -> None:
    ws = openpyxl.load_workbook(
        write(tmp_path, rows=[make_row(2, "FAILED", message="bad\x07bell")])
    )["Rows"]
    assert (
        ws.cell(row=2, column=header_index(ws, "DOKU's last message") + 1).value == "bad\ufffdbell"
    )


def test_write_reconciliation_leaves_no_temp_file(tmp_path: Path) -> None:
    path = write(tmp_path)
    assert sorted(p.name for p in path.parent.iterdir()) == ["r.xlsx"]


def test_write_reconciliation_interrupted_save_keeps_previous_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path)
    before = path.read_bytes()

    def half_write_then_fail(self: xlsxwriter.Workbook) -> None:
        Path(self.filename).write_bytes(b"PK\x03\x04 half a workbook")
        raise OSError("disk full")

    monkeypatch.setattr(xlsxwriter.Workbook, "close", half_write_then_fail)
    with pytest.raises(OSError, match="disk full"):
        write(tmp_path, env="production")
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["r.xlsx"]


def test_write_reconciliation_month_has_run_column_and_total_per_env(tmp_path: Path) -> None:
    a, b = make_run("run-a"), make_run("run-b", env="production")
    rows = [
        make_row(2, "COMPLETED", 100, run_id="run-a"),
        make_row(2, "COMPLETED", 250, run_id="run-b"),
        make_row(3, "FAILED", 50, run_id="run-b"),
    ]
    path = write_reconciliation(tmp_path / "m.xlsx", [a, b], rows, [], now=NOW)
    wb = openpyxl.load_workbook(path)
    assert [c.value for c in wb["Rows"]["A"][1:]] == ["run-a", "run-b", "run-b"]
    summary = wb["Summary"]
    assert summary["A1"].value == "EMULATOR — NO REAL MONEY MOVED"
    lines = list(summary.iter_rows(values_only=True))
    start = lines.index(next(r for r in lines if r[0] == "Totals — production"))
    by_label = {r[0]: r for r in reversed(lines[start:]) if r[0]}
    assert (by_label["Money out: paid"][1], as_decimal(by_label["Money out: paid"][2])) == (
        1,
        Decimal("2.50"),
    )
    assert by_label["Money out: failed, not paid"][1] == 1
    heads = next(r for r in lines if r[0] == "Run")
    assert summary_line(summary, "run-b")[heads.index("Rows")] == 2


def test_write_reconciliation_summary_prints_landscape_on_one_page_width(
    tmp_path: Path,
) -> None:
    wb = openpyxl.load_workbook(write(tmp_path))
    summary = wb["Summary"]
    assert summary.page_setup.orientation == "landscape"
    assert summary.sheet_properties.pageSetUpPr.fitToPage is True
    assert summary.page_setup.fitToWidth in (None, 1)  # 1 is the default XlsxWriter omits
    assert wb["Exceptions"].print_title_rows == "$1:$1"  # header repeats on each page


# --- streamed from the journal (issue 5, item 4) -------------------------------------------


def _journal_run(tmp_path: Path) -> tuple[Any, str]:
    from batchpay.journal.sqlite import SqliteJournal
    from tests.test_journal import _move, _run

    ledger = SqliteJournal(tmp_path / "ledger.sqlite", create=True)
    run_id = _run(ledger, 7)
    _move(ledger, run_id, 2, "SENDING", "COMPLETED")
    _move(ledger, run_id, 3, "SENDING", "FAILED")
    _move(ledger, run_id, 4, "SENDING", "UNKNOWN")
    return ledger, run_id


def test_ledger_iter_rows_in_chunks_equal_rows_without_body(tmp_path: Path) -> None:
    ledger, run_id = _journal_run(tmp_path)
    whole = ledger.rows(run_id)
    chunked = list(ledger.iter_rows(run_id, chunk=2, body=False))
    assert [RowRecord(**{**r.__dict__, "body": b""}) for r in whole] == chunked
    assert list(ledger.iter_rows(run_id, chunk=3)) == whole
    assert list(ledger.iter_events(run_id, chunk=2)) == ledger.events(run_id)
    with ledger.snapshot() as snap:
        assert list(snap.iter_rows(run_id, data=False)) == ledger.rows(run_id, data=False)


def test_write_run_report_streamed_is_identical_to_lists(tmp_path: Path) -> None:
    from batchpay.workbook.reconciliation import write_run_report

    ledger, run_id = _journal_run(tmp_path)
    streamed = write_run_report(ledger, run_id, tmp_path / "streamed.xlsx", now=NOW)
    listed = write_reconciliation(
        tmp_path / "listed.xlsx",
        [ledger.run(run_id)],
        ledger.rows(run_id),
        ledger.events(run_id),
        now=NOW,
    )
    with zipfile.ZipFile(streamed) as a, zipfile.ZipFile(listed) as b:
        assert a.namelist() == b.namelist()
        for name in a.namelist():
            if name == "docProps/core.xml":
                continue  # openpyxl stamps the save time as "modified": may differ by a second
            assert a.read(name) == b.read(name), name
