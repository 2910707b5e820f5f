"""A small sheet laid out line by line (the Summary): built in memory, measured, then
written in row order (XlsxWriter's constant_memory mode).

Column widths come from the cells that stand in one column; a cell spanning several
columns (a banner, a note, a run fact) is merged across them and wraps in their total
width, its row made as tall as the wrapped text. Banners and notes span every used column,
so they fit whatever the table widths turn out to be.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from batchpay.workbook.fit import TEXT_CAP, line_count, row_height, text_width
from batchpay.workbook.reconciliation.cells import (
    PADDING,
    Styles,
    amount_width,
    header_width,
    put_amount,
    put_text,
    style_scale,
)

ALL = 0  # a span of every used column
_MIN_WIDTH = 6.0


@dataclass
class Cell:
    """One value: ``style`` is a text style (text, label, header, title, section, banner,
    wrap), ``"status"``, ``"amount"`` (a Decimal), ``"total"`` (a bold amount) or
    ``"count"``; ``span`` columns wide (1, or :data:`ALL`)."""

    value: Any
    style: str = "text"
    span: int = 1


@dataclass
class Chart:
    """A chart anchored at a line and a column (beside the block it sits next to)."""

    chart: Any
    col: int


@dataclass
class Grid:
    lines: list[list[Cell]] = field(default_factory=list)
    charts: dict[int, Chart] = field(default_factory=dict)
    widths: list[float] = field(default_factory=list)

    def line(self, *cells: Cell | Any) -> int:
        """Append a line (plain values become text cells); returns its 0-based row."""
        self.lines.append([c if isinstance(c, Cell) else Cell(c) for c in cells])
        return len(self.lines) - 1

    def blank(self) -> None:
        self.lines.append([])

    def place(self, chart: Any, line: int, col: int) -> None:
        """Anchor ``chart`` at ``line`` (0-based) and column ``col``: the lines it covers
        must leave those columns empty (a block of narrower lines beside it)."""
        self.charts[line] = Chart(chart, col)

    @property
    def ncols(self) -> int:
        return max((sum(max(c.span, 1) for c in line) for line in self.lines), default=1)

    def measure(self) -> list[float]:
        widths = [_MIN_WIDTH] * self.ncols
        for line in self.lines:
            col = 0
            for c in line:
                if c.span == 1:
                    widths[col] = max(widths[col], _width(c))
                col += max(c.span, 1)
        self.widths = [round(w, 1) for w in widths]
        return self.widths


def _width(c: Cell) -> float:
    v = c.value
    if v is None or v == "":
        return 0.0
    if c.style in ("amount", "total"):
        return amount_width([v], bold=c.style == "total")
    if c.style == "count":
        return text_width(str(v)) + PADDING
    if c.style == "header":
        return header_width(str(v))
    wide = text_width(str(v)) * style_scale(c.style) * 1.05 + PADDING
    return min(wide, TEXT_CAP)


def write_grid(ws: Any, styles: Styles, grid: Grid) -> None:
    """Write ``grid`` into ``ws`` (widths, heights, merges, charts), rows in order."""
    widths = grid.measure()
    for i, w in enumerate(widths):
        ws.set_column(i, i, w)
    for r, line in enumerate(grid.lines):
        if r in grid.charts:
            placed = grid.charts[r]
            ws.insert_chart(r, placed.col, placed.chart, {"x_offset": 12, "y_offset": 4})
        lines = _row_lines(line, widths)
        if lines > 1 or any(c.style in ("banner", "title", "section") for c in line):
            scale = max((style_scale(c.style) for c in line), default=1.0)
            ws.set_row(r, row_height(lines, scale=max(scale, 1.0)) + 4)
        _write_line(ws, styles, r, line, len(widths))


def _spans(line: list[Cell], ncols: int) -> list[tuple[int, int, Cell]]:
    out, col = [], 0
    for c in line:
        span = ncols - col if c.span == ALL else c.span
        out.append((col, col + span - 1, c))
        col += span
    return out


def _row_lines(line: list[Cell], widths: list[float]) -> int:
    lines = 1
    for first, last, c in _spans(line, len(widths)):
        if c.value is None or c.style in ("amount", "total", "count", "status"):
            continue
        width = sum(widths[first : last + 1])
        lines = max(lines, line_count(str(c.value), width, scale=style_scale(c.style)))
    return lines


def _write_line(ws: Any, styles: Styles, r: int, line: list[Cell], ncols: int) -> None:
    for first, last, c in _spans(line, ncols):
        if last > first:
            pair = styles.named.get(c.style, styles.wrap)
            wrap = styles.named["wrap"] if c.style == "text" else pair
            text = "" if c.value is None else str(c.value)
            ws.merge_range(r, first, r, last, "", wrap[0])
            put_text(ws, r, first, text, wrap)
        elif c.style in ("amount", "total"):
            put_amount(ws, r, first, c.value, styles.totals if c.style == "total" else styles)
        elif c.style == "count":
            if c.value is not None:
                ws.write_number(r, first, c.value, styles.count)
        elif c.style == "status":
            put_text(ws, r, first, c.value, styles.status(str(c.value)))
        else:
            # Plain text wraps too: a value wider than its capped column grows its row.
            style = "wrap" if c.style == "text" else c.style
            pair = styles.named.get(style, styles.wrap)
            if c.value is None and style == "header":
                ws.write_blank(r, first, None, pair[0])  # the header band stays unbroken
            put_text(ws, r, first, c.value, pair)


def amount(value: Decimal | None, *, total: bool = False) -> Cell:
    return Cell(value, "total" if total else "amount")


def count(value: int | None) -> Cell:
    return Cell(value, "count")
