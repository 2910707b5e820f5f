"""The reconciliation workbook: Summary, Rows, Exceptions and Events sheets.

Cell writing only; what the numbers *mean* is decided in :mod:`batchpay.reconcile`.
docs/safety.md §8: text is never a formula, identifiers are text, amounts are numbers with a
thousands format, totals are values computed from the records (no formula anywhere), and the
file reaches disk through a temp file + ``os.replace`` (invariant 7).

The whole workbook is built in openpyxl's write-only mode so that a 100,000-row run streams
to disk instead of holding millions of cell objects (issue 5, item 4).
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from copy import copy
from datetime import UTC, datetime
from decimal import Decimal
from itertools import islice
from pathlib import Path
from typing import Any, Protocol

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import Cell
from openpyxl.chart import BarChart, Reference
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, NamedStyle
from openpyxl.utils import get_column_letter

from batchpay.errors import RunNotFound
from batchpay.ledger_records import EventRecord, RowRecord, RunRecord
from batchpay.reconcile import (
    Bucket,
    Reconciliation,
    Role,
    Summary,
    Table,
    classify,
    reconcile,
    reconcile_run_stream,
)
from batchpay.workbook import (
    BANNER_FILL,
    HEADER_FILL,
    HEADER_FONT,
    STATUS_FILLS,
    WHOLE_AMOUNT_FORMAT,
    atomic_save,
    quote_prefixed,
    write_only_text_cell,
)

TWO_DECIMAL_FORMAT = "#,##0.00"
# Excel keeps 15 significant digits and openpyxl writes numbers with "%.16g" through a float:
# an amount of more minor units than this could lose a digit, so it is written as text.
MAX_EXACT_MINOR = 10**15
BIG_AMOUNT_NOTE = ("Written as text: this amount has more digits than Excel can hold "
                   "exactly as a number (15).")
MAX_WIDTH = 60
MIN_WIDTH = 6
_WIDTH_CHUNK = 4096
# openpyxl refuses these control characters in a cell; journal text (a DOKU message, a detail)
# could carry one, so they are shown as U+FFFD instead of failing the whole report.
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
# Characters that make openpyxl infer a formula ("=") or an error value ("#N/A") from a str,
# or Excel a formula on F2+Enter (+, -, @, tab, CR): such text goes through text_cell.
_INFERRED_FIRST = frozenset("=#+-@\t\r")


def write_reconciliation(
    path: str | os.PathLike[str],
    runs: Sequence[RunRecord],
    rows: Sequence[RowRecord] | Mapping[str, Sequence[RowRecord]],
    events: Sequence[EventRecord] = (),
    *,
    now: datetime | None = None,
    retries: Sequence[RowRecord] = (),
) -> Path:
    """Write the reconciliation workbook of one run (or of several: a month) to ``path``.

    ``rows`` is a flat list (each row names its run) or a mapping run id → rows. ``now`` is
    the generation time shown on the Summary (default: the current UTC time). Returns the
    path written. ``retries`` (rows of later retry-failed runs) only annotate failed rows
    on the Exceptions sheet. The previous file at ``path``, if any, stays intact until the
    new one is complete.
    """
    return _write_workbook(path, reconcile(runs, rows, events, retries=retries), now)


def _write_workbook(path: str | os.PathLike[str], rec: Reconciliation,
                    now: datetime | None) -> Path:
    """Write ``rec`` (its tables are read twice: measured, then written) to ``path``."""
    generated = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    wb = Workbook(write_only=True)
    wb.properties.creator = "batchpay"
    # openpyxl stamps the real clock otherwise; the report's time is the caller's ``now``.
    wb.properties.created = wb.properties.modified = generated.replace(tzinfo=None)
    try:
        styles = _Styles(wb)
        _write_summary(wb, styles, rec, generated)
        _write_table(wb, styles, "Rows", rec.rows)
        _write_table(wb, styles, "Exceptions", rec.exceptions)
        _write_table(wb, styles, "Events", rec.events)
        return atomic_save(wb, path)
    except BaseException:
        _discard(wb)
        raise


def _discard(wb: Workbook) -> None:
    """After a failure: close the write-only sheets' streams and delete their temp files,
    so nothing half-written lingers in the temp directory (the target is untouched)."""
    for ws in wb.worksheets:
        writer = getattr(ws, "_writer", None)
        if writer is None:
            continue
        # Best effort: the original error is what the caller must see, not a cleanup one.
        with contextlib.suppress(Exception):
            if not ws.closed:
                ws.close()
        with contextlib.suppress(Exception):
            writer.cleanup()


class _Styles:
    """Named styles registered once; cells get a copy of a prepared style array.

    Assigning ``cell.style = name`` scans the workbook's style list on every call; copying
    the array it would produce is the same result for a fraction of the cost per cell.
    """

    def __init__(self, wb: Workbook) -> None:
        self.wb = wb
        self.ws = wb.create_sheet("_styles")  # a scratch parent for template cells
        self._arrays: dict[str, Any] = {}
        self.add("bp-header", font=HEADER_FONT, fill=HEADER_FILL)
        self.add("bp-amount-0", number_format=WHOLE_AMOUNT_FORMAT)
        self.add("bp-amount-2", number_format=TWO_DECIMAL_FORMAT)
        self.add("bp-banner", font=Font(bold=True, color="FFFFFF", size=16), fill=BANNER_FILL)
        self.add("bp-title", font=Font(bold=True, size=14))
        self.add("bp-section", font=Font(bold=True, size=12))
        self.add("bp-label", font=Font(bold=True))
        self.add("bp-wrap", alignment=Alignment(wrap_text=True, vertical="top"))
        for state, fill in STATUS_FILLS.items():
            self.add(f"bp-status-{state}", fill=fill)
        # The scratch sheet only existed to bind template cells; it must not be saved.
        wb.remove(self.ws)

    def add(self, name: str, **attrs: Any) -> None:
        style = NamedStyle(name=name, **attrs)
        self.wb.add_named_style(style)
        template = WriteOnlyCell(self.ws)
        template.style = name
        self._arrays[name] = template._style

    def cell(self, ws: Any, value: Any, name: str) -> Cell:
        """A cell holding ``value`` with the named style ``name`` (text stays text)."""
        cell = WriteOnlyCell(ws, value)
        if cell.data_type in ("f", "e"):
            cell.data_type = "s"
        cell._style = copy(self._arrays[name])
        return quote_prefixed(cell)

    def status(self, ws: Any, state: str) -> Cell:
        """A state name on its status colour (an unlisted state gets UNKNOWN's colour)."""
        name = f"bp-status-{state}" if state in STATUS_FILLS else "bp-status-UNKNOWN"
        return self.cell(ws, safe_text(state), name)


def safe_text(value: Any) -> str:
    """Text a cell can hold: illegal control characters replaced, never more than Excel's
    32,767 characters."""
    text = value if isinstance(value, str) else str(value)
    if _ILLEGAL.search(text):
        text = _ILLEGAL.sub("\ufffd", text)
    return text[:32767]


def text_cell(ws: Any, value: str) -> Cell:
    """A write-only cell that is text whatever the value starts with (=, #, +, -, @), with
    Excel's quote prefix when it looks like a formula (workbook.write_only_text_cell)."""
    return write_only_text_cell(ws, safe_text(value))


def amount_value(ws: Any, styles: _Styles, amount: Decimal | None, decimals: int) -> Any:
    """An amount cell: a number with a thousands format, or text when too long for Excel."""
    if amount is None:
        return None
    if abs(amount.scaleb(2)) >= MAX_EXACT_MINOR:
        cell = text_cell(ws, f"{amount:,.{decimals}f}")
        cell.comment = Comment(BIG_AMOUNT_NOTE, "batchpay")
        return cell
    # A whole amount is written as an int: exact, and cheaper than a Decimal for openpyxl.
    number: int | Decimal = int(amount) if amount == amount.to_integral_value() else amount
    return styles.cell(ws, number, f"bp-amount-{2 if decimals else 0}")


# --- table sheets -----------------------------------------------------------------------------


def _widths(table: Table) -> tuple[list[float], int]:
    """Column widths that fit the header and the longest value, capped at MAX_WIDTH, and
    the number of rows (one pass over the table, before any row is written)."""
    longest = [len(c.header) for c in table.columns]
    # Rows are built on demand: take them in chunks (bounded memory) and measure each chunk
    # column-wise with C-level max/map, several times faster than a Python loop per cell.
    rows = iter(table.rows)
    count = 0
    while chunk := list(islice(rows, _WIDTH_CHUNK)):
        count += len(chunk)
        for i, values in enumerate(zip(*chunk, strict=True)):
            n = max(map(len, map(str, values)))
            if n > longest[i]:
                longest[i] = n
    widths: list[float] = []
    for column, n in zip(table.columns, longest, strict=True):
        if column.role is Role.AMOUNT:
            # Thousands separators and the two decimals add about a third to the digits.
            n = max(len(column.header), n * 4 // 3 + 3)
        widths.append(float(min(MAX_WIDTH, max(MIN_WIDTH, n + 2))))
    return widths, count


# Wider tables than this stay readable only across several printed pages.
_FIT_TO_PAGE_MAX_COLUMNS = 14


def _printable(ws: Any, *, fit: bool = True) -> None:
    """Accountants print these: landscape A4; narrow sheets fit one page width."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = "9"  # A4 (ECMA-376 ST_PaperSize)
    if fit:
        ws.page_setup.fitToWidth = 1
        ws.page_setup.fitToHeight = 0
        ws.sheet_properties.pageSetUpPr.fitToPage = True


def _write_table(wb: Workbook, styles: _Styles, title: str, table: Table) -> None:
    ws = wb.create_sheet(title)
    _printable(ws, fit=len(table.columns) <= _FIT_TO_PAGE_MAX_COLUMNS)
    ws.print_title_rows = "1:1"  # the header row repeats on every printed page
    # Write-only sheets emit <cols> and <sheetViews> before the first row: set them first.
    widths, count = _widths(table)
    for i, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.freeze_panes = "A2"
    ncols = len(table.columns)
    ws.auto_filter.ref = f"A1:{get_column_letter(max(ncols, 1))}{count + 1}"
    ws.append([styles.cell(ws, safe_text(c.header), "bp-header") for c in table.columns])

    text_idx = [i for i, c in enumerate(table.columns)
                if c.role in (Role.TEXT, Role.ID, Role.TIME)]
    amount_idx = [(i, c.decimals) for i, c in enumerate(table.columns) if c.role is Role.AMOUNT]
    status_idx = [i for i, c in enumerate(table.columns) if c.role is Role.STATUS]
    status_cell = styles.status
    inferred = _INFERRED_FIRST
    illegal = _ILLEGAL.search
    for values in table.rows:
        row = list(values)
        for i in text_idx:
            v = row[i]
            if v is None or v == "":
                continue
            if v.__class__ is not str:
                v = row[i] = str(v)
            # openpyxl would store "=…" as a formula and "#N/A" as an error, and Excel
            # "-…"/"@…" as one after F2+Enter: force text, quote-prefixed.
            if v[0] in inferred or illegal(v):
                row[i] = text_cell(ws, v)
        for i, decimals in amount_idx:
            row[i] = amount_value(ws, styles, row[i], decimals)
        for i in status_idx:
            if row[i] is not None:
                row[i] = status_cell(ws, row[i])
        ws.append(row)


# --- summary sheet ----------------------------------------------------------------------------


class _SummaryWriter:
    """Appends the Summary sheet line by line, remembering where the chart data lies."""

    def __init__(self, wb: Workbook, styles: _Styles) -> None:
        self.ws = wb.create_sheet("Summary", 0)
        _printable(self.ws)
        self.styles = styles
        self.row = 0

    def line(self, *values: Any, style: str | None = None) -> int:
        """Append one line; str values are text, Decimal amounts are numbers. Returns its row."""
        cells: list[Any] = []
        for v in values:
            if isinstance(v, Cell) or v is None:
                cells.append(v)
            elif isinstance(v, str):
                cells.append(self.styles.cell(self.ws, safe_text(v), style) if style
                             else text_cell(self.ws, v))
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
        w.line(w.styles.status(w.ws, state), classify(state).value,
               *_bucket_cells(w, bucket, currencies, dec))
    last = w.row
    w.line("All rows", None, summary.rows,
           *(w.amount(sum((b.amount(c) for b in summary.by_state.values()), Decimal(0)), dec)
             for c in currencies), style=None)
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
    ("Run id", "run_id"), ("Kind", "kind"), ("Environment", "env"),
    ("Input file", "input_name"), ("Input SHA-256", "input_sha256"),
    ("Started (UTC)", "created_at"), ("Finished (UTC)", "finished_at"),
    ("Operator", "operator"), ("Retry of run", "parent_run_id"),
)


def _write_summary(wb: Workbook, styles: _Styles, rec: Reconciliation, now: datetime) -> None:
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
    if not rec.is_month:
        report = rec.runs[0]
        run = report.run
        for label, attr in _RUN_FIELDS:
            value = getattr(run, attr)
            w.line(styles.cell(ws, label, "bp-label"), None if value is None else str(value))
        w.line(styles.cell(ws, "Dry run", "bp-label"), "yes" if run.dry_run else "no")
        _write_status_block(w, report.summary, "By status", dec)
    else:
        currencies = sorted({c for s in rec.totals.values() for c in s.currencies},
                            key=lambda c: (c != "IDR", c)) or ["IDR"]
        w.line("Runs", style="bp-section")
        heads = ["Run id", "Kind", "Environment", "Input file", "Started (UTC)", "Operator",
                 "Rows"]
        for label, _ in rec.runs[0].summary.headline():
            heads += [f"{label}: rows", *(f"{label}: {c}" for c in currencies)]
        w.line(*heads, style="bp-header")
        for report in rec.runs:
            run, summary = report.run, report.summary
            cells: list[Any] = [run.run_id, run.kind, run.env, run.input_name, run.created_at,
                                run.operator, summary.rows]
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
    w.line()
    w.line("Notes", style="bp-section")
    for note in NOTES:
        w.line(note)


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


# --- from the journal -------------------------------------------------------------------------


class _ChunkReader(Protocol):
    """Chunked reads of one consistent journal state (:meth:`Ledger.snapshot`)."""

    def iter_rows(self, run_id: str, *, data: bool = True, body: bool = True,
                  chunk: int = 5000) -> Iterator[RowRecord]: ...
    def iter_events(self, run_id: str, *, chunk: int = 5000) -> Iterator[EventRecord]: ...


class LedgerReader(Protocol):
    """The read side of :class:`batchpay.ledger.Ledger` a report needs."""

    def run(self, run_id: str) -> RunRecord: ...
    def rows(self, run_id: str, *, data: bool = True) -> list[RowRecord]: ...
    def events(self, run_id: str) -> list[EventRecord]: ...
    def iter_rows(self, run_id: str, *, data: bool = True, body: bool = True,
                  chunk: int = 5000) -> Iterator[RowRecord]: ...
    def iter_events(self, run_id: str, *, chunk: int = 5000) -> Iterator[EventRecord]: ...
    def snapshot(self) -> contextlib.AbstractContextManager[_ChunkReader]: ...
    def children(self, run_id: str) -> list[RunRecord]: ...
    def runs_for_month(self, month: str) -> list[RunRecord]: ...


def default_report_path(name: str, *, directory: str | os.PathLike[str] = "reports") -> Path:
    """``reports/<run id or YYYY-MM>-reconciliation.xlsx``."""
    return Path(directory) / f"{name}-reconciliation.xlsx"


def _later_attempts(ledger: LedgerReader, run_id: str) -> list[RowRecord]:
    """Rows of every retry-failed run descending from ``run_id`` (children, grandchildren…)."""
    found: list[RowRecord] = []
    pending = [run_id]
    seen = {run_id}
    while pending:
        for child in ledger.children(pending.pop()):
            if child.run_id not in seen:
                seen.add(child.run_id)
                pending.append(child.run_id)
                # Only run id, attempt, state and reference are read: no input, no body.
                found += ledger.rows(child.run_id, data=False)
    return found


def write_run_report(ledger: LedgerReader, run_id: str, path: str | os.PathLike[str] | None = None,
                     *, now: datetime | None = None) -> Path:
    """The reconciliation workbook of one run, read from the journal (default path:
    :func:`default_report_path`). Failed rows already retried by a later run say so."""
    run = ledger.run(run_id)
    retries = _later_attempts(ledger, run_id)
    # Streamed (issue 5, item 4): the run's rows and events are read from the journal in
    # chunks on every pass — summary, widths, cells — never all held; the body is not read.
    with ledger.snapshot() as journal:

        def rows(data: bool) -> Iterable[RowRecord]:
            return journal.iter_rows(run_id, data=data, body=False)

        def events() -> Iterable[EventRecord]:
            return journal.iter_events(run_id)

        rec = reconcile_run_stream(run, rows, events, retries=retries)
        return _write_workbook(path or default_report_path(run_id), rec, now)


def write_month_report(ledger: LedgerReader, month: str,
                       path: str | os.PathLike[str] | None = None, *,
                       now: datetime | None = None) -> Path:
    """The reconciliation workbook of every run created in ``month`` (YYYY-MM, as the
    journal defines the month). Raises :class:`~batchpay.errors.RunNotFound` when there is
    none."""
    runs = ledger.runs_for_month(month)
    if not runs:
        raise RunNotFound(f"no run in {month} in the journal",
                          hint="list runs with `batchpay runs`")
    rows: dict[str, list[RowRecord]] = {}
    events: list[EventRecord] = []
    for run in runs:
        rows[run.run_id] = ledger.rows(run.run_id)
        events += ledger.events(run.run_id)
    return write_reconciliation(path or default_report_path(month), runs, rows, events, now=now)
