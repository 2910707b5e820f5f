"""The Skipped rows sheet: every row of the sheet that was not validated as a payee — titles
above the header, totals, subtotals and footers — with why, and for control totals the stated
and computed amounts (issue 10: nothing is dropped silently)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from batchpay.workbook import PROBLEM_FILL, WHOLE_AMOUNT_FORMAT
from batchpay.workbook.validation.cells import (
    DECIMAL_FORMAT,
    header_row,
    size_columns,
    text_cell,
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


def _amount(ws: Any, value: Decimal | None) -> Any:
    if value is None:
        return None
    cell = WriteOnlyCell(ws, value=value)
    whole = value == value.to_integral_value()
    cell.number_format = WHOLE_AMOUNT_FORMAT if whole else DECIMAL_FORMAT
    return cell


def _check(c: ControlTotal) -> str:
    if c.stated is None:
        return "not checked"
    return "matches" if c.matches else "DOES NOT MATCH"


def skipped_sheet(wb: Workbook, result: ValidationResult) -> None:
    """The sheet, written only when some row was skipped."""
    if not result.skipped:
        return
    ws = wb.create_sheet("Skipped rows")
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
                s.kind,
                s.reason,
                s.text,
                c.stated if c else None,
                c.computed if c else None,
                covered,
                _check(c) if c else "",
            ]
        )
    columns = [[r[i] for r in rows] for i in range(len(TITLES))]
    size_columns(ws, TITLES, columns)
    ws.freeze_panes = "A2"
    ws.append(header_row(ws, TITLES))
    for r in rows:
        check = r[7]
        ws.append(
            [
                r[0],
                text_cell(ws, r[1]),
                text_cell(ws, r[2]),
                text_cell(ws, r[3]),
                _amount(ws, r[4]),
                _amount(ws, r[5]),
                text_cell(ws, r[6]),
                text_cell(ws, check, fill=PROBLEM_FILL if check == "DOES NOT MATCH" else None),
            ]
        )
