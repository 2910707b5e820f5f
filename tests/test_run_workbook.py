"""The run workbook a person reads (issue 11): Exceptions carry the payee and a specific next
step, the Rows sheet keeps the sheet's own columns first in their order with Status near
the left, times in WIB with UTC beside them, rupiah without decimals, a chart whose value
axis starts at 0, a banner that fits, wrapped rows as tall as their text."""

from __future__ import annotations

import re
import time
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from batchpay import runs
from batchpay.emulator.runtime import EmulatorHandle
from batchpay.journal import RowRecord
from batchpay.profile import load_profile
from batchpay.runs import service
from batchpay.runs.options import RunOptions, Sending, Target
from batchpay.states import FINAL
from batchpay.workbook.reconciliation import write_reconciliation
from tests.helpers.runs import Harness, payout_link_rows
from tests.test_reconcile import make_row, make_run

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
NOW = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)


def _records(ws: Any) -> list[dict[str, Any]]:
    lines = list(ws.iter_rows(values_only=True))
    return [dict(zip(lines[0], line, strict=True)) for line in lines[1:]]


def _settle(h: Harness, run_id: str) -> list[RowRecord]:
    deadline = time.monotonic() + 20
    while True:
        rows = runs.refresh_statuses(h.ledger, h.client, run_id).rows
        if all(r.state in FINAL for r in rows):
            return rows
        assert time.monotonic() < deadline, [r.state for r in rows]
        time.sleep(0.2)


def _endings_run(h: Harness) -> str:
    rows = payout_link_rows(3, prefix="BONUS")
    rows[0]["receiver_name"] = "Budi Santoso"
    rows[1].update(receiver_name="Dewi Lestari", receiver_email="dewi.lestari+expire@example.co.id")
    rows[2].update(receiver_name="Agus Setiawan", receiver_email="agus+fail@example.co.id")
    run = h.start(h.sheet("bonus.csv", rows))
    h.execute(run.run_id, concurrency=1)
    _settle(h, run.run_id)
    return run.run_id


def test_run_workbook_exceptions_name_payee_and_specific_next_step(
    harness: Harness, tmp_path: Path
) -> None:
    run_id = _endings_run(harness)
    path = runs.write_workbook(harness.ledger, run_id, tmp_path / "run.xlsx")
    wb = openpyxl.load_workbook(path)
    by_status = {r["Status"]: r for r in _records(wb["Exceptions"])}
    assert set(by_status) == {"EXPIRED", "FAILED"}
    expired = by_status["EXPIRED"]
    assert (expired["Payee"], expired["Email or account"]) == (
        "Dewi Lestari",
        "dewi.lestari+expire@example.co.id",
    )
    assert (expired["Reference"], expired["Amount"]) == ("BONUS-0002", 1_500_000)
    assert "never opened" in expired["What happened"]
    step = expired["What to do next"]
    assert "The link was never opened" in step
    assert f"`batchpay retry-failed {run_id}` sends a new link" in step
    assert "dewi.lestari+expire@example.co.id" in step
    failed = by_status["FAILED"]
    assert failed["Payee"] == "Agus Setiawan"
    assert "Ask Agus Setiawan to check the bank account" in failed["What to do next"]
    assert f"batchpay retry-failed {run_id}" in failed["What to do next"]


def test_run_workbook_failed_link_retried_points_at_retry_run(
    harness: Harness, tmp_path: Path
) -> None:
    """A Payout Link retry has a new reference (X-R2): the original row still finds it."""
    run_id = _endings_run(harness)
    child = runs.retry_failed(
        harness.ledger,
        harness.client,
        runs.plan_retry(harness.ledger, run_id),
        options=harness.options(),
    )
    path = runs.write_workbook(harness.ledger, run_id, tmp_path / "run.xlsx")
    wb = openpyxl.load_workbook(path)
    steps = [r["What to do next"] for r in _records(wb["Exceptions"])]
    assert all(f"Already retried in run {child.run.run_id} (attempt 2" in s for s in steps)
    facts = {line[0]: line[1] for line in wb["Summary"].iter_rows(values_only=True)}
    assert facts["Retried by run"] == child.run.run_id


def test_run_workbook_rows_keep_hr_columns_first_in_sheet_order(
    emulator: EmulatorHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HR's export, paid through its profile: No, NIK, Nama… as HR laid them out, the
    profile's values after them, batchpay's columns after those, Status second."""
    emulator.admin.reset()
    monkeypatch.chdir(tmp_path)
    options = RunOptions(
        target=Target(env="emulator", base_url=emulator.url),
        sending=Sending(concurrency=2),
        profile=load_profile(SAMPLES / "hr-bonus.toml"),
        report_dir=tmp_path,
    )
    prepared = service.prepare(SAMPLES / "hr-bonus-desember.xlsx", options)
    result = service.start(prepared, confirm=lambda *a: None, progress=_Quiet())
    assert result.workbook is not None, result.workbook_error
    heads = [c.value for c in openpyxl.load_workbook(result.workbook)["Rows"][1]]
    sheet = openpyxl.load_workbook(SAMPLES / "hr-bonus-desember.xlsx").active
    hr = [c for c in next(r for r in sheet.iter_rows(values_only=True) if r[0] == "No") if c]
    assert heads[:2] == ["Row", "Status"]
    assert heads[2 : 2 + len(hr)] == hr
    assert heads[2 + len(hr)].endswith("(set)")  # what the profile supplied, after HR's


class _Quiet:
    def __getattr__(self, name: str) -> Any:
        return lambda *a, **k: None


def _write(tmp_path: Path, rows: list[RowRecord], **run: Any) -> Path:
    return write_reconciliation(tmp_path / "r.xlsx", [make_run(**run)], rows, [], now=NOW)


def test_run_workbook_times_in_wib_with_utc_beside(tmp_path: Path) -> None:
    row = make_row(2, "FAILED", last_seen_at="2026-11-01T20:30:00.123+00:00")
    wb = openpyxl.load_workbook(_write(tmp_path, [row]))
    (rec,) = _records(wb["Rows"])
    assert rec["Last seen by DOKU (WIB)"] == "2026-11-02 03:30:00"  # the next day in Jakarta
    assert rec["Last seen by DOKU (UTC)"] == "2026-11-01 20:30:00"
    (exc,) = _records(wb["Exceptions"])
    assert exc["Last seen by DOKU (WIB)"] == "2026-11-02 03:30:00"
    facts = {line[0]: line[1] for line in wb["Summary"].iter_rows(values_only=True)}
    assert (facts["Generated (WIB)"], facts["Generated (UTC)"]) == (
        "2026-11-01 10:00:00",
        "2026-11-01 03:00:00",
    )
    assert (facts["Started (WIB)"], facts["Started (UTC)"]) == (
        "2026-11-01 09:00:00",
        "2026-11-01 02:00:00",
    )


def test_run_workbook_rupiah_amounts_show_no_decimals(tmp_path: Path) -> None:
    rows = [make_row(2, "COMPLETED", 150_000_000), make_row(3, "FAILED", 275_000_000)]
    wb = openpyxl.load_workbook(_write(tmp_path, rows))
    amount_cells = [
        c
        for ws in (wb["Rows"], wb["Exceptions"], wb["Summary"])
        for row in ws.iter_rows()
        for c in row
        if c.data_type == "n" and isinstance(c.value, int) and c.value >= 1_000_000
    ]
    assert amount_cells and {c.number_format for c in amount_cells} == {"#,##0"}


def test_run_workbook_chart_value_axis_starts_at_zero(tmp_path: Path) -> None:
    rows = [make_row(2, "COMPLETED", 325_000_000), make_row(3, "FAILED", 300_000_000)]
    with zipfile.ZipFile(_write(tmp_path, rows)) as z:
        xml = z.read("xl/charts/chart1.xml").decode()
    (value_axis,) = re.findall(r"<c:valAx>.*?</c:valAx>", xml, re.S)
    assert '<c:min val="0"/>' in value_axis


def test_run_workbook_banner_merged_across_used_width_and_tall_enough(tmp_path: Path) -> None:
    wb = openpyxl.load_workbook(_write(tmp_path, [make_row(2, "COMPLETED")]))
    ws = wb["Summary"]
    assert ws["A1"].value == "EMULATOR — NO REAL MONEY MOVED"
    (banner,) = [r for r in ws.merged_cells.ranges if r.min_row == 1]
    assert (banner.min_col, banner.max_col) == (1, 4)  # Status, Class, Rows, Amount
    assert ws.row_dimensions[1].height >= 16 * 1.3


def test_run_workbook_long_next_step_wraps_and_row_grows(tmp_path: Path) -> None:
    row = make_row(2, "UNKNOWN", message="the gateway said something long " * 6)
    wb = openpyxl.load_workbook(_write(tmp_path, [row]))
    ws = wb["Exceptions"]
    heads = [c.value for c in ws[1]]
    cell = ws.cell(row=2, column=heads.index("What to do next") + 1)
    assert cell.alignment.wrap_text
    assert ws.row_dimensions[2].height >= 45  # three lines or more, not one


def test_run_workbook_print_setup_landscape_header_row_and_title(tmp_path: Path) -> None:
    path = _write(tmp_path, [make_row(2, "FAILED")])
    assert path.stat().st_mode & 0o777 == 0o600  # it holds payee data
    wb = openpyxl.load_workbook(path)
    for name in ("Rows", "Exceptions", "Events"):
        ws = wb[name]
        assert ws.page_setup.orientation == "landscape"
        assert ws.print_title_rows == "$1:$1"
        assert "batchpay reconciliation" in (ws.oddHeader.left.text or "")


def test_a_small_runs_records_are_read_once_a_big_runs_on_every_pass(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The run report's passes replay a whole first pass of at most _HELD records from
    memory; a bigger one, or a pass given up half-way, is read again (memory stays bounded)."""
    from batchpay.workbook.reconciliation import from_journal

    monkeypatch.setattr(from_journal, "_HELD", 3)
    reads: list[bool] = []

    def read(n: int) -> Callable[[bool], list[int]]:
        def go(key: bool) -> list[int]:
            reads.append(key)
            return list(range(n))

        return go

    small = from_journal._Held(read(3))
    assert [list(small(True)) for _ in range(3)] == [[0, 1, 2]] * 3
    assert reads == [True]
    half = from_journal._Held(read(3))
    next(iter(half(True)))  # given up after one record
    assert list(half(True)) == [0, 1, 2] and list(half(True)) == [0, 1, 2]
    assert reads == [True, True, True]
    reads.clear()
    big = from_journal._Held(read(4))
    assert [list(big(False)) for _ in range(3)] == [[0, 1, 2, 3]] * 3
    assert reads == [False, False, False]
