"""The Summary sheet: run facts (or the month's runs), counts and exact totals by status,
the headline totals, a chart per status block and the notes an accountant reads first."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import Cell
from openpyxl.chart import BarChart, Reference
from openpyxl.utils import get_column_letter

from batchpay.reconcile import Bucket, Reconciliation, Role, RunReport, Summary, classify
from batchpay.workbook.reconciliation.cells import (
    Styles,
    amount_value,
    printable,
    safe_text,
    text_cell,
)


class _SummaryWriter:
    """Appends the Summary sheet line by line, remembering where the chart data lies."""

    def __init__(self, wb: Workbook, styles: Styles) -> None:
        self.ws = wb.create_sheet("Summary", 0)
        printable(self.ws)
        self.styles = styles
        self.row = 0

    def line(self, *values: Any, style: str | None = None) -> int:
        """Append one line; str values are text, Decimal amounts are numbers. Returns its row."""
        cells: list[Any] = []
        for v in values:
            if isinstance(v, Cell) or v is None:
                cells.append(v)
            elif isinstance(v, str):
                cells.append(
                    self.styles.cell(self.ws, safe_text(v), style)
                    if style
                    else text_cell(self.ws, v)
                )
            else:
                cells.append(self.styles.cell(self.ws, v, style) if style else v)
        self.ws.append(cells)
        self.row += 1
        return self.row

    def amount(self, amount: Decimal, decimals: int) -> Any:
        return amount_value(self.ws, self.styles, amount, decimals)


def _decimals(rec: Reconciliation) -> int:
    amount_cols = [c for c in rec.rows.columns if c.role is Role.AMOUNT]
    return amount_cols[0].decimals if amount_cols else 0


def _bucket_cells(w: _SummaryWriter, bucket: Bucket, currencies: list[str], dec: int) -> list[Any]:
    return [bucket.count, *(w.amount(bucket.amount(c), dec) for c in currencies)]


def _write_status_block(w: _SummaryWriter, summary: Summary, title: str, dec: int) -> None:
    currencies = summary.currencies or ["IDR"]
    w.line()
    w.line(title, style="bp-section")
    w.line("Status", "Class", "Rows", *(f"Amount {c}" for c in currencies), style="bp-header")
    first = w.row + 1
    for state in summary.states():
        bucket = summary.by_state[state]
        w.line(
            w.styles.status(w.ws, state),
            classify(state).value,
            *_bucket_cells(w, bucket, currencies, dec),
        )
    last = w.row
    w.line(
        "All rows",
        None,
        summary.rows,
        *(
            w.amount(sum((b.amount(c) for b in summary.by_state.values()), Decimal(0)), dec)
            for c in currencies
        ),
        style=None,
    )
    w.line()
    w.line("Totals", None, "Rows", *(f"Amount {c}" for c in currencies), style="bp-header")
    for label, bucket in summary.headline():
        w.line(label, None, *_bucket_cells(w, bucket, currencies, dec))
    if last >= first:
        chart = BarChart()
        chart.type = "bar"
        chart.title = f"{title}: amount by status ({currencies[0]})"
        chart.y_axis.title = currencies[0]
        chart.legend = None
        data = Reference(w.ws, min_col=4, min_row=first - 1, max_row=last)
        chart.add_data(data, titles_from_data=True)
        chart.set_categories(Reference(w.ws, min_col=1, min_row=first, max_row=last))
        chart.height = max(6.0, 0.8 * (last - first + 1) + 3)
        chart.width = 16
        w.ws.add_chart(chart, f"{get_column_letter(5 + len(currencies))}{first - 1}")


_RUN_FIELDS = (
    ("Run id", "run_id"),
    ("Kind", "kind"),
    ("Environment", "env"),
    ("Input file", "input_name"),
    ("Input SHA-256", "input_sha256"),
    ("Started (UTC)", "created_at"),
    ("Finished (UTC)", "finished_at"),
    ("Operator", "operator"),
    ("Retry of run", "parent_run_id"),
)


def write_summary(wb: Workbook, styles: Styles, rec: Reconciliation, now: datetime) -> None:
    """The Summary sheet, first in the workbook, generated at ``now`` (UTC)."""
    w = _SummaryWriter(wb, styles)
    ws = w.ws
    ws.column_dimensions["A"].width = 38
    ws.column_dimensions["B"].width = 24 if rec.is_month else 68
    for letter in "CDEFGH":
        ws.column_dimensions[letter].width = 20
    dec = _decimals(rec)
    for banner in rec.banners:
        # A full-width red line: an emulator or sandbox report must never pass for real money.
        w.line(*([banner] + [""] * 7), style="bp-banner")
    w.line("batchpay reconciliation" + (" — month" if rec.is_month else ""), style="bp-title")
    w.line("Generated (UTC)", now.strftime("%Y-%m-%dT%H:%M:%SZ"))
    w.line()
    if rec.is_month:
        _write_month_runs(w, rec, dec)
    else:
        _write_run_facts(w, rec.runs[0], dec)
    w.line()
    w.line("Notes", style="bp-section")
    for note in NOTES:
        w.line(note)


def _write_run_facts(w: _SummaryWriter, report: RunReport, dec: int) -> None:
    """One run: its facts (id, kind, environment, file…), then its status block."""
    run = report.run
    for label, attr in _RUN_FIELDS:
        value = getattr(run, attr)
        w.line(w.styles.cell(w.ws, label, "bp-label"), None if value is None else str(value))
    w.line(w.styles.cell(w.ws, "Dry run", "bp-label"), "yes" if run.dry_run else "no")
    _write_status_block(w, report.summary, "By status", dec)


def _write_month_runs(w: _SummaryWriter, rec: Reconciliation, dec: int) -> None:
    """A month: one line per run with its headline totals, a total line per environment
    (test money never adds up with real money), then a status block per environment."""
    currencies = sorted(
        {c for s in rec.totals.values() for c in s.currencies}, key=lambda c: (c != "IDR", c)
    ) or ["IDR"]
    w.line("Runs", style="bp-section")
    heads = ["Run id", "Kind", "Environment", "Input file", "Started (UTC)", "Operator", "Rows"]
    for label, _ in rec.runs[0].summary.headline():
        heads += [f"{label}: rows", *(f"{label}: {c}" for c in currencies)]
    w.line(*heads, style="bp-header")
    for report in rec.runs:
        run, summary = report.run, report.summary
        cells: list[Any] = [
            run.run_id,
            run.kind,
            run.env,
            run.input_name,
            run.created_at,
            run.operator,
            summary.rows,
        ]
        for _, bucket in summary.headline():
            cells += _bucket_cells(w, bucket, currencies, dec)
        w.line(*cells)
    for env, total in rec.totals.items():
        cells = [f"Total ({env})", None, env, None, None, None, total.rows]
        for _, bucket in total.headline():
            cells += _bucket_cells(w, bucket, currencies, dec)
        w.line(*cells, style=None)
    for env, total in rec.totals.items():
        _write_status_block(w, total, f"Month by status ({env})", dec)


NOTES = (
    "Confirmed paid: rows DOKU reported COMPLETED, SUCCESS, CREATED or ACTIVE — nothing else.",
    "Outstanding: accepted and still progressing (Payout Link PENDING…CONFIRMED), or UNKNOWN/"
    "SENDING (may or may not have executed) — UNKNOWN is never counted as paid.",
    "Total sent: every row DOKU accepted, including links that later FAILED or EXPIRED; "
    "REJECTED rows were never executed.",
    "All totals are values computed from the journal, not formulas. Amounts with more than 15 "
    "significant digits are written as text so no digit is lost.",
    "Each row not paid is on the Exceptions sheet with what to do next.",
)
