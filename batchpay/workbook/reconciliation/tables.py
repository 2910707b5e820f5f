"""Table sheets (Rows, Exceptions, Events, Retries, Balances): one header row, then one line
per table row, each value written by its column's role.

The table is read twice — measured, then written — because XlsxWriter's constant_memory
mode streams rows in order: every column width and which columns wrap must be known before
the first row. Widths come from the widest value as shown (numbers never capped, so never
``###``; text capped at :data:`~batchpay.workbook.fit.TEXT_CAP` and wrapped beyond it, the
row as tall as its wrapped text).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any

from batchpay.reconcile import Role, Table
from batchpay.workbook import FORMULA_TRIGGERS, clean_text, print_setup
from batchpay.workbook.fit import TEXT_CAP, line_count, row_height, text_width, thousands
from batchpay.workbook.reconciliation.cells import (
    BOLD_SCALE,
    PADDING,
    Styles,
    header_width,
    put_amount,
    put_text,
)

MAX_WIDTH = TEXT_CAP
MIN_WIDTH = 6.0
_CHUNK = 4096
_WIDEST = 12  # per chunk and column, the longest values measured exactly
_TEXTUAL = (Role.TEXT, Role.ID, Role.TIME, Role.STATUS)
# Wider than this (in column units), one page wide would print too small to read (under
# ~40 %): the sheet prints at half size across several pages, its key columns repeated.
_FIT_MAX_WIDTH = 450.0
_ACROSS_SCALE = 50


@dataclass
class Measured:
    widths: list[float]
    wraps: list[int]  # columns whose text is wider than their capped width
    count: int
    header_lines: int


def _text_widest(values: Sequence[Any]) -> float:
    """The widest of ``values`` as text: the longest few distinct ones measured exactly
    (set and sort run in C; a 100,000-row column costs milliseconds)."""
    uniq = set(values)
    uniq.discard(None)
    uniq.discard("")
    if not uniq:
        return 0.0
    texts = sorted(set(map(str, uniq)), key=len)[-_WIDEST:]
    return max(text_width(t) for t in texts)


def _number_widest(values: Sequence[Any], decimals: int) -> float:
    """The widest of ``values`` as shown: the largest and smallest few (a minus sign), with
    room for cents when the column may have them."""
    numbers = sorted(set(values) - {None})
    if not numbers:
        return 0.0
    ends = [*numbers[:2], *numbers[-_WIDEST:]]
    if decimals:
        return max(text_width(thousands(v, 2)) for v in ends)
    return max(text_width(str(v) if isinstance(v, int) else thousands(v, 0)) for v in ends)


def measure(table: Table) -> Measured:
    """One pass over ``table``: widths, columns that wrap, the row count."""
    cols = table.columns
    widest = [0.0] * len(cols)
    rows = iter(table.rows)
    count = 0
    while chunk := list(islice(rows, _CHUNK)):
        count += len(chunk)
        for i, values in enumerate(zip(*chunk, strict=True)):
            role = cols[i].role
            if role in _TEXTUAL:
                w = _text_widest(values)
            elif role is Role.AMOUNT:
                w = _number_widest(values, cols[i].decimals)
            else:
                w = _number_widest(values, 0)
            if w > widest[i]:
                widest[i] = w
    widths, wraps = [], []
    for i, c in enumerate(cols):
        data = widest[i] * (1.05 if c.role in _TEXTUAL else 1.0) + PADDING
        width = max(data, header_width(c.header), MIN_WIDTH)
        if c.role in _TEXTUAL and width > MAX_WIDTH:
            width = MAX_WIDTH
            wraps.append(i)
        widths.append(round(width, 1))
    lines = max(
        (line_count(c.header, w, scale=BOLD_SCALE) for c, w in zip(cols, widths, strict=True)),
        default=1,
    )
    return Measured(widths, wraps, count, lines)


def write_table(wb: Any, styles: Styles, title: str, table: Table, *, book_title: str) -> None:
    """A table sheet named ``title``: widths, frozen and filtered header, print set-up."""
    ws = wb.add_worksheet(title)
    m = measure(table)
    ncols = len(table.columns)
    for i, width in enumerate(m.widths):
        ws.set_column(i, i, width)
    ws.freeze_panes(1, 0)
    ws.autofilter(0, 0, m.count, max(ncols, 1) - 1)
    print_setup(ws, f"{book_title} — {title}")
    if sum(m.widths) > _FIT_MAX_WIDTH:
        ws.set_print_scale(_ACROSS_SCALE)  # turns fit-to-width off
        key = _key_columns(table)
        if key:
            ws.repeat_columns(0, key - 1)
    if m.header_lines > 1:
        ws.set_row(0, row_height(m.header_lines))
    for i, c in enumerate(table.columns):
        put_text(ws, 0, i, c.header, styles.header)
    _write_rows(ws, styles, table, m)


def _write_rows(ws: Any, styles: Styles, table: Table, m: Measured) -> None:
    cols = table.columns
    cells = styles.cells(top=bool(m.wraps))
    plain = [
        (i, styles.wrap if i in m.wraps else cells.text)
        for i, c in enumerate(cols)
        if c.role in (Role.TEXT, Role.ID, Role.TIME)
    ]
    amounts = [i for i, c in enumerate(cols) if c.role is Role.AMOUNT]
    counts = [i for i, c in enumerate(cols) if c.role is Role.COUNT]
    statuses = [i for i, c in enumerate(cols) if c.role is Role.STATUS]
    wraps = [(i, m.widths[i], m.widths[i] * 0.45) for i in m.wraps]
    status_of, count_format = cells.status, cells.count
    write_number, write_string = ws.write_number, ws.write_string
    r = 0
    for values in table.rows:
        r += 1
        if wraps:
            lines = _lines(values, wraps)
            if lines > 1:
                ws.set_row(r, row_height(lines))
        for i, pair in plain:
            # put_text, inlined: this loop writes millions of cells.
            v = values[i]
            if v is None or v == "":
                continue
            if v.__class__ is not str:
                v = str(v)
            if not v.isprintable():
                v = clean_text(v)
            write_string(r, i, v, pair[1] if v.startswith(FORMULA_TRIGGERS) else pair[0])
        for i in amounts:
            put_amount(ws, r, i, values[i], cells)
        for i in counts:
            v = values[i]
            if v is not None:
                write_number(r, i, v, count_format)
        for i in statuses:
            v = values[i]
            if v is not None:
                put_text(ws, r, i, v, status_of(v))


def _key_columns(table: Table) -> int:
    """How many leading columns identify a line (up to its Status), to repeat on each page."""
    heads = table.headers
    return heads.index("Status") + 1 if "Status" in heads[:4] else min(len(heads), 2)


def _lines(values: Sequence[Any], wraps: list[tuple[int, float, float]]) -> int:
    """Lines the tallest wrapped cell of a row takes (short texts are one line unmeasured)."""
    lines = 1
    for i, width, short in wraps:
        v = values[i]
        if v is not None and len(text := str(v)) > short:
            lines = max(lines, line_count(text, width))
    return lines
