"""The run workbook's Summary sheet: the run's facts (times in WIB with UTC beside them),
counts and exact totals by status, the headline totals, a chart whose value axis starts at
0, and the notes an accountant reads first."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from batchpay.reconcile import Reconciliation, RunReport, Summary, classify, now_texts, utc, wib
from batchpay.workbook import print_setup
from batchpay.workbook.fit import LINE_HEIGHT
from batchpay.workbook.reconciliation.cells import Styles
from batchpay.workbook.reconciliation.grid import ALL, Cell, Grid, amount, count, write_grid

SHEET = "Summary"
_PX_PER_UNIT = 7.0  # a column unit in pixels (Calibri 11's "0"), for sizing charts
ROW_PX = LINE_HEIGHT * 4 / 3


def head(grid: Grid, rec: Reconciliation, title: str, now: datetime, *, span: int = ALL) -> None:
    """Banners (a test environment's report must never pass for real money), the title and
    when the workbook was generated."""
    for banner in rec.banners:
        grid.line(Cell(banner, "banner", ALL))
    grid.line(Cell(title, "title", ALL))
    at_wib, at_utc = now_texts(now)
    grid.line(Cell("Generated (WIB)", "label"), Cell(at_wib, span=span))
    grid.line(Cell("Generated (UTC)", "label"), Cell(at_utc, span=span))
    grid.blank()


# Axis ticks in millions or thousands: full rupiah figures would crowd the axis.
AXIS_FORMAT = '[>=1000000]#,##0.0,,"M";[>=1000]#,##0,"K";0'


def bar_chart(
    wb: Any, title: str, rows: tuple[int, int], cols: tuple[int, int], size: tuple[int, int]
) -> Any:
    """A horizontal bar chart of the amounts in column ``cols[1]`` labelled by column
    ``cols[0]``, over ``rows`` (0-based, inclusive), ``size`` pixels. The value axis starts
    at 0, so bars compare as the amounts do (the exact amounts are in the table beside)."""
    first, last = rows
    chart = wb.add_chart({"type": "bar"})
    chart.add_series(
        {
            "name": title,
            "categories": [SHEET, first, cols[0], last, cols[0]],
            "values": [SHEET, first, cols[1], last, cols[1]],
            "fill": {"color": "#1F4E78"},
            "gap": 60,
        }
    )
    # For a bar chart XlsxWriter's x axis is the value axis (the horizontal one).
    chart.set_x_axis({"min": 0, "num_format": AXIS_FORMAT, "major_gridlines": {"visible": True}})
    chart.set_y_axis({"reverse": True})
    chart.set_title({"name": title, "name_font": {"size": 11, "bold": True}})
    chart.set_legend({"none": True})
    chart.set_size({"width": size[0], "height": size[1]})
    return chart


_RUN_FIELDS = (
    ("Run id", "run_id"),
    ("Kind", "kind"),
    ("Environment", "env"),
    ("Input file", "input_name"),
    ("Input SHA-256", "input_sha256"),
    ("Operator", "operator"),
    ("Retry of run", "parent_run_id"),
    # Maker–checker (runs/approval.py); empty for an ordinary run.
    ("Prepared by", "prepared_by"),
    ("Approved by", "approved_by"),
    ("Plan digest (SHA-256)", "plan_digest"),
)


def _facts(grid: Grid, report: RunReport, span: int) -> None:
    """The run's facts, each value across ``span`` columns (the chart sits to the right)."""
    run = report.run
    for label, attr in _RUN_FIELDS:
        value = getattr(run, attr)
        grid.line(Cell(label, "label"), Cell(None if value is None else str(value), span=span))
    grid.line(Cell("Retried by run", "label"), Cell(", ".join(report.retried_by), span=span))
    for label, at in (("Started", run.created_at), ("Finished", run.finished_at)):
        grid.line(Cell(f"{label} (WIB)", "label"), Cell(wib(at), span=span))
        grid.line(Cell(f"{label} (UTC)", "label"), Cell(utc(at), span=span))
    grid.line(Cell("Dry run", "label"), Cell("yes" if run.dry_run else "no", span=span))


def status_block(grid: Grid, summary: Summary, title: str) -> tuple[int, int] | None:
    """Counts and amounts by status, all rows, then the headline totals. Returns the rows
    of the status lines (for a chart), or None when there are none."""
    currencies = summary.currencies or ["IDR"]
    grid.blank()
    grid.line(Cell(title, "section", ALL))
    grid.line(*(Cell(h, "header") for h in ("Status", "Class", "Rows")),
              *(Cell(f"Amount {c}", "header") for c in currencies))  # fmt: skip
    first = len(grid.lines)
    for state in summary.states():
        bucket = summary.by_state[state]
        grid.line(
            Cell(state, "status"),
            classify(state).value,
            count(bucket.count),
            *(amount(bucket.amount(c)) for c in currencies),
        )
    last = len(grid.lines) - 1
    totals = [sum((b.amount(c) for b in summary.by_state.values()), Decimal(0)) for c in currencies]
    grid.line(Cell("All rows", "label"), None, count(summary.rows),
              *(amount(t, total=True) for t in totals))  # fmt: skip
    grid.blank()
    grid.line(Cell("Totals", "header"), Cell(None, "header"), Cell("Rows", "header"),
              *(Cell(f"Amount {c}", "header") for c in currencies))  # fmt: skip
    for label, bucket in summary.headline():
        grid.line(Cell(label, "label"), None, count(bucket.count),
                  *(amount(bucket.amount(c), total=True) for c in currencies))  # fmt: skip
    return (first, last) if last >= first else None


def write_run_summary(wb: Any, styles: Styles, rec: Reconciliation, now: datetime) -> None:
    """The Summary sheet of one run, first in the workbook, generated at ``now``."""
    report = rec.runs[0]
    currencies = report.summary.currencies or ["IDR"]
    width = 3 + len(currencies)  # the status block's columns: the chart goes beyond them
    grid = Grid()
    head(grid, rec, "batchpay reconciliation", now, span=width - 1)
    top = len(grid.lines)
    _facts(grid, report, width - 1)
    lines = status_block(grid, report.summary, "By status")
    if lines is not None:
        # Beside the facts (the first page), as tall as they are.
        height = int((lines[0] - 2 - top) * ROW_PX) - 8
        title = f"Amount by status ({currencies[0]})"
        chart = bar_chart(wb, title, lines, (0, 3), (440, height))
        grid.place(chart, top, width)
    notes(grid, NOTES)
    ws = wb.add_worksheet(SHEET)
    print_setup(ws, f"batchpay reconciliation — run {report.run.run_id}", header_rows=0)
    write_grid(ws, styles, grid)


def notes(grid: Grid, texts: tuple[str, ...]) -> None:
    grid.blank()
    grid.line(Cell("Notes", "section", ALL))
    for note in texts:
        grid.line(Cell(note, "text", ALL))


NOTES = (
    "Confirmed paid: rows DOKU reported COMPLETED, SUCCESS, CREATED or ACTIVE — nothing else.",
    "Outstanding: accepted and still progressing (Payout Link PENDING…CONFIRMED), or UNKNOWN/"
    "SENDING (may or may not have executed) — UNKNOWN is never counted as paid.",
    "Total sent: every row DOKU accepted, including links that later FAILED or EXPIRED; "
    "REJECTED rows were never executed.",
    "Times are Jakarta time (WIB) with UTC beside them. Rupiah amounts are whole numbers.",
    "All totals are values computed from the journal, not formulas. Amounts with more than 15 "
    "significant digits are written as text so no digit is lost.",
    "Each row not paid is on the Exceptions sheet with who it pays, what happened and what "
    "to do next.",
)
