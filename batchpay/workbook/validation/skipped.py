"""The Skipped rows sheet: every row of the sheet that was not validated as a payee — titles
above the header, totals, subtotals and footers — with why, and for control totals the stated
and computed amounts (issue 10: nothing is dropped silently)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from batchpay.workbook import (
    DECIMAL,
    PROBLEM,
    TOP,
    WHOLE,
    WRAP,
    Formats,
    clean_text,
    print_setup,
    write_text,
)
from batchpay.workbook.fit import number_width, row_height, thousands
from batchpay.workbook.validation.cells import (
    Column,
    digits_width,
    header_row,
    lines_of,
    text_column,
)

if TYPE_CHECKING:
    from decimal import Decimal

    from batchpay.validate import ControlTotal, ValidationResult

TITLES = [
    "Row",
    "Kind",
    "Why",
    "Row as written",
    "Stated total",
    "Sum of covered rows",
    "Rows covered",
    "Check",
]
_AMOUNT_COLUMNS = (4, 5)


def _check(c: ControlTotal) -> str:
    if c.stated is None:
        return "not checked"
    return "matches" if c.matches else "DOES NOT MATCH"


def _shown(value: Decimal | None) -> str:
    """An amount as its cell shows it (whole, or with two decimals)."""
    if value is None:
        return ""
    return thousands(value, 0 if value == value.to_integral_value() else 2)


def _rows(result: ValidationResult) -> list[list[Any]]:
    totals = {c.row: c for c in result.control_totals}
    rows: list[list[Any]] = []
    for s in result.skipped:
        c = totals.get(s.row)
        covered = ""
        if c is not None and c.rows:
            span = f"{c.first_row}–{c.last_row}" if c.first_row != c.last_row else c.first_row
            covered = f"{c.rows:,} (rows {span})"
        rows.append(
            [
                s.row,
                clean_text(s.kind),
                clean_text(s.reason),
                clean_text(s.text),
                c.stated if c else None,
                c.computed if c else None,
                covered,
                _check(c) if c else "",
            ]
        )
    return rows


def _columns(rows: list[list[Any]]) -> list[Column]:
    columns = [Column("Row", digits_width(max(r[0] for r in rows)))]
    for i, title in enumerate(TITLES[1:], start=1):
        if i in _AMOUNT_COLUMNS:
            width = number_width([_shown(r[i]) for r in rows] + [title])
            columns.append(Column(title, width))
        else:
            cap = 50.0 if title in ("Why", "Row as written") else 24.0
            columns.append(text_column(title, (str(r[i]) for r in rows), cap=cap))
    return columns


def skipped_sheet(wb: Any, formats: Formats, result: ValidationResult, title: str) -> None:
    """The sheet, written only when some row was skipped."""
    if not result.skipped:
        return
    ws = wb.add_worksheet("Skipped rows")
    rows = _rows(result)
    columns = _columns(rows)
    header_row(ws, formats, columns)
    ws.freeze_panes(1, 0)
    print_setup(ws, f"{title} — Skipped rows")
    cache: dict[Any, int] = {}
    for r, row in enumerate(rows, start=1):
        texts = ["" if v is None or i in _AMOUNT_COLUMNS else str(v) for i, v in enumerate(row)]
        lines = lines_of(texts, columns, cache)
        if lines > 1:
            ws.set_row(r, row_height(lines))
        ws.write_number(r, 0, row[0], formats(TOP))
        for col in (1, 2, 3, 6, 7):
            fill = PROBLEM if col == 7 and row[7] == "DOES NOT MATCH" else None
            write_text(ws, r, col, row[col], formats, WRAP, fill)
        for col in _AMOUNT_COLUMNS:
            value = row[col]
            if value is not None:
                whole = value == value.to_integral_value()
                number = int(value) if whole else float(value)
                ws.write_number(r, col, number, formats(TOP, WHOLE if whole else DECIMAL))
