"""The Rows sheet: every row as read (extra columns too), the Excel row number and a status
first, normalised values beside the originals; problem cells filled red (warnings yellow)
with a comment giving the message and how to fix it.

Rows that register something with openpyxl (the first row's amount style, the first cell
of each fill, the first comment) go through it; every other row is rendered straight to XML
(:class:`~batchpay.workbook.validation.xlsx.Deferred`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.utils import get_column_letter

from batchpay.problems import Problem
from batchpay.workbook import TEXT_FORMAT, WHOLE_AMOUNT_FORMAT
from batchpay.workbook.validation.cells import (
    DECIMAL_FORMAT,
    WIDTH_SAMPLE,
    amount_cell,
    cell_style,
    clean_text,
    comment_for,
    fill_for,
    fill_name,
    header_row,
    size_columns,
    status_text,
    text_cell,
)
from batchpay.workbook.validation.layout import Layout
from batchpay.workbook.validation.xlsx import (
    PLAIN_DECIMAL,
    Deferred,
    quoted_style_name,
    xml_cell_number,
    xml_cell_text,
    xml_text,
)

if TYPE_CHECKING:
    from batchpay.validate import ValidationResult


@dataclass
class _Rows:
    """What the Rows sheet shows: the rows' numbers, their status and one text column per
    shown source column (see :class:`Layout`), and where the problems are."""

    layout: Layout
    by_row: dict[int, list[Problem]]
    row_numbers: list[int]
    columns: list[list[Any]]
    status_col: list[str]
    amount_col: set[int]
    identifier_cols: set[int]
    amount_fmt: str
    letters: list[str]
    # Per problem row: sheet position (0 = row number, 1 = status, 2+ = column) -> the
    # problems of that cell; and which of those cells carry a comment.
    marked: dict[int, dict[int, list[Problem]]] = field(default_factory=dict)
    commented: dict[int, set[int]] = field(default_factory=dict)


def _rows(
    result: ValidationResult, by_row: dict[int, list[Problem]], only_problem_rows: bool
) -> _Rows:
    """The Rows sheet's values, as clean text, for every row (or only the problem rows)."""
    table = result.table
    kind = table.kind
    layout = Layout(result)
    frame = table.frame
    normalised = result.normalised
    if only_problem_rows:
        shown = np.flatnonzero(frame.index.isin(list(by_row)))
        frame, normalised = frame.iloc[shown], normalised.iloc[shown]
    row_numbers = [int(r) for r in frame.index.tolist()]
    columns: list[list[Any]] = []
    for what, key in layout.sources:
        source = frame if what == "original" else normalised
        columns.append([clean_text(v) for v in source[key].tolist()])
    return _Rows(
        layout=layout,
        by_row=by_row,
        row_numbers=row_numbers,
        columns=columns,
        status_col=[status_text(by_row.get(r, [])) for r in row_numbers],
        amount_col={
            i
            for i, (what, key) in enumerate(layout.sources)
            if what == "normalised" and key == kind.amount_field
        },
        identifier_cols={
            i
            for i, (_, key) in enumerate(layout.sources)
            if key in kind.field_names and kind.field(key).identifier
        },
        amount_fmt=WHOLE_AMOUNT_FORMAT if kind.amount_decimals == 0 else DECIMAL_FORMAT,
        letters=[get_column_letter(i + 1) for i in range(len(layout.titles))],
    )


def _mark(rows: _Rows, comment_cap: int) -> None:
    """Which cells each problem marks, and which carry a comment: the first ``comment_cap``
    in problem order; past the cap the fill alone marks the cell."""
    comments = 0
    for n, row_number in enumerate(rows.row_numbers):
        problems = rows.by_row.get(row_number)
        if not problems:
            continue
        by_cell: dict[int, list[Problem]] = defaultdict(list)
        for p in problems:
            # Row-level problems (no column, or one not shown) mark the row number cell.
            by_cell[rows.layout.position.get(p.column or "", 0)].append(p)
        rows.marked[n] = by_cell
        for pos in by_cell:
            if comments < comment_cap:
                rows.commented.setdefault(n, set()).add(pos)
            comments += 1


def _render(rows: _Rows, r: int, styles: dict[str, str]) -> str:
    """Sheet row ``r`` as XML, with the style ids openpyxl gave the probed cells."""
    n = r - 2
    problems = rows.by_row.get(rows.row_numbers[n])
    by_cell = rows.marked.get(n, {})
    row_fill = styles.get(fill_name(problems)) if problems else None
    quoted = styles[quoted_style_name(None)]
    cells = [
        xml_cell_number(f"A{r}", rows.row_numbers[n], cell_style(by_cell.get(0), styles)),
        xml_cell_text(f"B{r}", rows.status_col[n], row_fill),
    ]
    for i, column in enumerate(rows.columns):
        value = column[n]
        ref = f"{rows.letters[i + 2]}{r}"
        cell_problems = by_cell.get(i + 2)
        if cell_problems:
            cells.append(xml_text(ref, value, fill_name(cell_problems), styles))
        elif not value:
            continue
        elif i in rows.amount_col and PLAIN_DECIMAL.fullmatch(value):
            cells.append(xml_cell_number(ref, value, styles.get("amount")))
        else:
            cells.append(xml_cell_text(ref, value, None, quoted))
    return f'<row r="{r}">{"".join(cells)}</row>'


def _openpyxl_row(ws: Any, sheet: Deferred, rows: _Rows, n: int) -> list[Any]:
    """Row ``n`` as openpyxl cells, probing the styles deferred rows reuse."""
    row_number = rows.row_numbers[n]
    by_cell = rows.marked.get(n, {})
    notes = rows.commented.get(n, set())
    problems = rows.by_row.get(row_number)
    out: list[Any] = [row_number]
    if problems:
        out.append(text_cell(ws, rows.status_col[n], fill=fill_for(problems)))
    else:
        out.append(rows.status_col[n])
    for i, column in enumerate(rows.columns):
        value = column[n]
        if i in rows.amount_col:
            if n == 0 and (not value or PLAIN_DECIMAL.fullmatch(value)):
                # The first row carries the amount style for every deferred row.
                cell = WriteOnlyCell(ws, value=Decimal(value) if value else None)
                cell.number_format = rows.amount_fmt
                sheet.probe("amount", rows.letters[i + 2])
                out.append(cell)
            else:
                out.append(amount_cell(ws, value, rows.amount_fmt))
        else:
            out.append(text_cell(ws, value) if value else None)
    for pos, cell_problems in by_cell.items():
        fill = fill_for(cell_problems)
        sheet.probe(fill_name(cell_problems), rows.letters[pos])
        comment = comment_for(cell_problems) if pos in notes else None
        if comment is not None:
            sheet.comments_written = True
        if pos == 0:
            number_cell = WriteOnlyCell(ws, value=row_number)
            number_cell.fill = fill
            number_cell.comment = comment
            out[0] = number_cell
        else:
            out[pos] = text_cell(ws, rows.columns[pos - 2][n], fill=fill, comment=comment)
    return out


def rows_sheet(
    wb: Workbook,
    result: ValidationResult,
    by_row: dict[int, list[Problem]],
    comment_cap: int,
    *,
    only_problem_rows: bool = False,
) -> Deferred:
    """The Rows sheet (see the module); ``comment_cap`` problem cells at most get a comment."""
    ws = wb.create_sheet("Rows")
    rows = _rows(result, by_row, only_problem_rows)
    letters, titles = rows.letters, rows.layout.titles
    size_columns(
        ws,
        titles,
        [[str(r) for r in rows.row_numbers[:WIDTH_SAMPLE]], rows.status_col, *rows.columns],
    )
    for i in rows.identifier_cols:
        ws.column_dimensions[letters[i + 2]].number_format = TEXT_FORMAT
    ws.freeze_panes = "C2"
    ws.auto_filter.ref = f"A1:{letters[-1]}{len(rows.row_numbers) + 1}"
    _mark(rows, comment_cap)

    sheet = Deferred(ws, lambda r, styles: _render(rows, r, styles))
    sheet.append(header_row(ws, titles))
    for n in range(len(rows.row_numbers)):
        by_cell = rows.marked.get(n, {})
        notes = rows.commented.get(n, set())
        r = sheet.next_row
        for pos, cell_problems in by_cell.items():
            if pos in notes:
                sheet.comments.append(
                    (f"{letters[pos]}{r}", r - 1, pos, comment_for(cell_problems))
                )
        # openpyxl writes the first row (it carries the amount style), the first cell of
        # each fill (they carry the fill styles) and the first comment (so the workbook
        # has the comments part that every other comment is then written into); every
        # other row is rendered straight to XML.
        fills = {fill_name(cell_problems) for cell_problems in by_cell.values()}
        needs_openpyxl = (
            (n == 0 and bool(rows.amount_col))
            or not fills <= sheet.probes.keys()
            or (bool(notes) and not sheet.comments_written)
        )
        if needs_openpyxl:
            sheet.append(_openpyxl_row(ws, sheet, rows, n))
        else:
            sheet.defer()
    return sheet
