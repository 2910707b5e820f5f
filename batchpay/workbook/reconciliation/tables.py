"""The Rows, Exceptions and Events sheets: one header row, then one line per table row,
each value written by its column's role (text, identifier, amount, count, status, time)."""

from __future__ import annotations

from itertools import islice

from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from batchpay.reconcile import Role, Table
from batchpay.workbook.reconciliation.cells import (
    ILLEGAL,
    INFERRED_FIRST,
    Styles,
    amount_value,
    printable,
    safe_text,
    text_cell,
)

MAX_WIDTH = 60
MIN_WIDTH = 6
_WIDTH_CHUNK = 4096
# Wider tables than this stay readable only across several printed pages.
_FIT_TO_PAGE_MAX_COLUMNS = 14


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


def write_table(wb: Workbook, styles: Styles, title: str, table: Table) -> None:
    ws = wb.create_sheet(title)
    printable(ws, fit=len(table.columns) <= _FIT_TO_PAGE_MAX_COLUMNS)
    ws.print_title_rows = "1:1"  # the header row repeats on every printed page
    # Write-only sheets emit <cols> and <sheetViews> before the first row: set them first.
    widths, count = _widths(table)
    for i, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.freeze_panes = "A2"
    ncols = len(table.columns)
    ws.auto_filter.ref = f"A1:{get_column_letter(max(ncols, 1))}{count + 1}"
    ws.append([styles.cell(ws, safe_text(c.header), "bp-header") for c in table.columns])

    text_idx = [i for i, c in enumerate(table.columns) if c.role in (Role.TEXT, Role.ID, Role.TIME)]
    amount_idx = [(i, c.decimals) for i, c in enumerate(table.columns) if c.role is Role.AMOUNT]
    status_idx = [i for i, c in enumerate(table.columns) if c.role is Role.STATUS]
    status_cell = styles.status
    inferred = INFERRED_FIRST
    illegal = ILLEGAL.search
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
