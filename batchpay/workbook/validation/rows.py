"""The Rows sheet: every row as read (extra columns too), the Excel row number and a status
first, normalised values beside the originals; problem cells filled red (warnings yellow)
with a comment giving the message and how to fix it.

Rows stream out in order (XlsxWriter ``constant_memory``). A row without problems and
without over-long values takes the fast path: bare ``write_string``/``write_number`` calls,
formats fetched once. A value wider than its (capped) column wraps, and its row grows.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from batchpay.problems import Problem
from batchpay.workbook import (
    DECIMAL,
    FORMULA_TRIGGERS,
    PROBLEM,
    QUOTED,
    TEXT,
    TOP,
    WARNING,
    WHOLE,
    WRAP,
    Formats,
    clean_texts,
    print_setup,
    write_text_as,
)
from batchpay.workbook.fit import line_count, row_height, text_widths
from batchpay.workbook.validation.cells import (
    Column,
    amount_width,
    comment_for,
    digits_width,
    fill_name,
    header_row,
    status_text,
    text_column,
)
from batchpay.workbook.validation.layout import Layout

if TYPE_CHECKING:
    from batchpay.validate import ValidationResult

PLAIN_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_VALUE_CAP = 50.0
# Characters of any text that fit in a column ``w`` wide: no character is wider than 1.6
# digit widths (batchpay.workbook.fit), so shorter values never need measuring.
_WIDEST_CHAR = 1.6


@dataclass
class _Rows:
    """What the Rows sheet shows: the rows' numbers, their status and one text column per
    shown source column (see :class:`Layout`), and where the problems are."""

    layout: Layout
    by_row: dict[int, list[Problem]]
    row_numbers: list[int]
    columns: list[list[str]]
    status_col: list[str]
    amount_col: int | None  # index into columns of the normalised amount
    identifier_cols: set[int]
    decimals: int
    # Per problem row: sheet position (0 = row number, 1 = status, 2+ = column) -> the
    # problems of that cell; and which of those cells carry a comment.
    marked: dict[int, dict[int, list[Problem]]] = field(default_factory=dict)
    commented: dict[int, set[int]] = field(default_factory=dict)
    # Per row with a value wider than its column: sheet position -> lines it wraps to.
    tall: dict[int, dict[int, int]] = field(default_factory=dict)


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
    columns: list[list[str]] = []
    for what, key in layout.sources:
        source = frame if what == "original" else normalised
        columns.append(clean_texts(source[key].tolist()))
    amount = [
        i
        for i, (what, key) in enumerate(layout.sources)
        if what == "normalised" and key == kind.amount_field
    ]
    return _Rows(
        layout=layout,
        by_row=by_row,
        row_numbers=row_numbers,
        columns=columns,
        status_col=[status_text(by_row.get(r, [])) for r in row_numbers],
        amount_col=amount[0] if amount else None,
        identifier_cols={
            i
            for i, (_, key) in enumerate(layout.sources)
            if key in kind.field_names and kind.field(key).identifier
        },
        decimals=kind.amount_decimals,
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


def _columns(rows: _Rows) -> list[Column]:
    """Widths from the content: numbers from their formatted values, text capped (wider
    values wrap, see :func:`_measure_tall`)."""
    titles = rows.layout.titles
    columns = [
        Column(titles[0], digits_width(max(rows.row_numbers, default=0))),
        text_column(titles[1], sorted(set(rows.status_col)), cap=30, wrap=False),
    ]
    for i, values in enumerate(rows.columns):
        title = titles[i + 2]
        if i == rows.amount_col:
            width = max(amount_width(values, rows.decimals), len(title) + 2.0)
            columns.append(Column(title, min(width, _VALUE_CAP)))
        else:
            columns.append(text_column(title, values, cap=_VALUE_CAP))
    return columns


def _measure_tall(rows: _Rows, columns: list[Column]) -> None:
    """Which rows hold a value wider than its column, and how many lines it wraps to."""
    for i, values in enumerate(rows.columns):
        if i == rows.amount_col:
            continue
        width = columns[i + 2].width
        fits = int((width - 1) / _WIDEST_CHAR)
        long = [n for n, v in enumerate(values) if len(v) > fits]
        room = width - 1
        measured = text_widths([values[n].replace("\n", " ") for n in long])
        for n, wide in zip(long, measured, strict=True):
            if wide > room or "\n" in values[n]:
                lines = line_count(values[n], width)
                if lines > 1:
                    rows.tall.setdefault(n, {})[i + 2] = lines


class _Writer:
    """Writes the Rows sheet's rows: bare ``write_string``/``write_number`` calls for plain
    cells, formats fetched once per combination (top-aligned, fill, wrapped) for the rest."""

    def __init__(self, ws: Any, formats: Formats, rows: _Rows) -> None:
        self.ws, self.formats, self.rows = ws, formats, rows
        self.quoted = formats(QUOTED)
        self.amount_props = DECIMAL if rows.decimals else WHOLE
        self.amount = formats(self.amount_props)
        self._pairs: dict[tuple[bool, str | None, bool], tuple[Any, Any]] = {}
        self._numbers: dict[tuple[bool, str | None, bool], Any] = {}

    def pair(self, top: bool, fill: str | None, wrap: bool) -> tuple[Any, Any]:
        key = (top, fill, wrap)
        made = self._pairs.get(key)
        if made is None:
            made = self._pairs[key] = self.formats.text_pair(
                TOP if top else None, _FILLS.get(fill or ""), WRAP if wrap else None
            )
        return made

    def number(self, top: bool, fill: str | None, amount: bool) -> Any:
        key = (top, fill, amount)
        if key not in self._numbers:
            self._numbers[key] = self.formats(
                TOP if top else None,
                _FILLS.get(fill or ""),
                self.amount_props if amount else None,
            )
        return self._numbers[key]

    def plain_cell(self, r: int, i: int, value: str) -> None:
        if i == self.rows.amount_col and PLAIN_DECIMAL.fullmatch(value):
            self.ws.write_number(r, i + 2, float(value), self.amount)
        else:
            quoted = self.quoted if value.startswith(FORMULA_TRIGGERS) else None
            self.ws.write_string(r, i + 2, value, quoted)

    def row(self, n: int, r: int) -> None:
        """Row ``n`` of the shown rows as sheet row ``r``: a tall row (a wrapped value) has
        every cell top-aligned; problem cells are filled and the commented ones get their
        comment."""
        ws, rows = self.ws, self.rows
        by_cell = rows.marked.get(n, _NONE)
        tall = rows.tall.get(n, _NONE)
        top = bool(tall)
        if top:
            ws.set_row(r, row_height(max(tall.values())))
        problems = rows.by_row.get(rows.row_numbers[n])
        number_fill = fill_name(by_cell[0]) if 0 in by_cell else None
        ws.write_number(r, 0, rows.row_numbers[n], self.number(top, number_fill, False))
        status_fill = fill_name(problems) if problems else None
        write_text_as(ws, r, 1, rows.status_col[n], self.pair(top, status_fill, False))
        for i, column in enumerate(rows.columns):
            value = column[n]
            cell = by_cell.get(i + 2)
            if cell is None and not top:
                if value:
                    self.plain_cell(r, i, value)
            elif cell is None and i == rows.amount_col and PLAIN_DECIMAL.fullmatch(value):
                ws.write_number(r, i + 2, float(value), self.number(top, None, True))
            elif cell is None:
                write_text_as(ws, r, i + 2, value, self.pair(top, None, i + 2 in tall))
            else:
                write_text_as(ws, r, i + 2, value, self.pair(top, fill_name(cell), i + 2 in tall))
        for pos in sorted(rows.commented.get(n, ())):
            text, options = comment_for(by_cell[pos])
            ws.write_comment(r, pos, text, options)

    def plain(self, n: int, r: int) -> None:
        """A row with no problems and no wrapped value: bare writes, no format lookups."""
        ws, rows = self.ws, self.rows
        ws.write_number(r, 0, rows.row_numbers[n])
        ws.write_string(r, 1, rows.status_col[n])
        quoted, amount, amount_col = self.quoted, self.amount, rows.amount_col
        write_string = ws.write_string
        for i, column in enumerate(rows.columns):
            value = column[n]
            if not value:
                continue
            if i == amount_col and PLAIN_DECIMAL.fullmatch(value):
                ws.write_number(r, i + 2, float(value), amount)
            else:
                style = quoted if value.startswith(FORMULA_TRIGGERS) else None
                write_string(r, i + 2, value, style)


_FILLS = {"error": PROBLEM, "warning": WARNING}
_NONE: dict[int, Any] = {}


def rows_sheet(
    wb: Any,
    formats: Formats,
    result: ValidationResult,
    by_row: dict[int, list[Problem]],
    comment_cap: int,
    title: str,
    *,
    only_problem_rows: bool = False,
) -> None:
    """The Rows sheet (see the module); ``comment_cap`` problem cells at most get a comment."""
    ws = wb.add_worksheet("Rows")
    rows = _rows(result, by_row, only_problem_rows)
    columns = _columns(rows)
    header_row(ws, formats, columns)
    text_format = formats(TEXT)
    for i in rows.identifier_cols:
        ws.set_column(i + 2, i + 2, columns[i + 2].width, text_format)
    ws.freeze_panes(1, 2)
    ws.autofilter(0, 0, len(rows.row_numbers), len(columns) - 1)
    print_setup(ws, f"{title} — Rows")
    _mark(rows, comment_cap)
    _measure_tall(rows, columns)
    writer = _Writer(ws, formats, rows)
    marked, tall = rows.marked, rows.tall
    for n in range(len(rows.row_numbers)):
        if n in marked or n in tall:
            writer.row(n, n + 1)
        else:
            writer.plain(n, n + 1)
