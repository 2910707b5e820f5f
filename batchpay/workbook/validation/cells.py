"""Cells of the validation report: problem fills, comments, statuses, and the table sheets'
header row, column widths and row heights (widths from the content with caps, text wrapped
beyond them, rows as tall as their wrapped text: issue 11, "readable as rendered")."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from batchpay.problems import Problem
from batchpay.workbook import HEADER, PROBLEM, WARNING, Formats, clean_text, write_text
from batchpay.workbook.fit import column_width, line_count, row_height, text_width

WIDTH_SAMPLE = 2_000  # rows looked at when sizing a text column; longer values wrap
HEADER_SCALE = 1.1  # bold text is about a tenth wider
_COMMENT_AUTHOR = "batchpay"
_COMMENT_WIDTH_PX = 320


@dataclass(frozen=True)
class Column:
    """One column of a table sheet: its title, its width in column units, and whether text
    longer than the width wraps onto more lines (rows then grow to show all of it)."""

    title: str
    width: float
    wrap: bool = False


def text_column(
    title: str, values: Iterable[str], *, cap: float, wrap: bool = True, minimum: float = 6.0
) -> Column:
    """A text column as wide as its widest value (of the first :data:`WIDTH_SAMPLE` given)
    or its title, up to ``cap``; wider text wraps when ``wrap``."""
    sample = [v for _, v in zip(range(WIDTH_SAMPLE), values, strict=False)]
    width = column_width(sample, cap=cap, minimum=minimum)
    # The title is bold: it needs a little more room than the same text in a cell.
    title_width = min(text_width(title) * HEADER_SCALE + 2, cap)
    return Column(title, round(max(width, title_width), 1), wrap)


def header_row(ws: Any, formats: Formats, columns: Sequence[Column], row: int = 0) -> None:
    """The header row: widths set, titles white on blue, wrapped when a title is wider than
    its column (the row then grows)."""
    lines = 1
    for col, c in enumerate(columns):
        ws.set_column(col, col, c.width)
        lines = max(lines, line_count(c.title, c.width, scale=HEADER_SCALE))
    if lines > 1:
        ws.set_row(row, row_height(lines))
    for col, c in enumerate(columns):
        write_text(ws, row, col, c.title, formats, HEADER)


def lines_of(values: Sequence[str], columns: Sequence[Column], cache: dict[Any, int]) -> int:
    """Lines the tallest wrapped cell of a row takes; ``cache`` remembers repeated texts
    (hints and messages repeat across thousands of rows)."""
    lines = 1
    for value, c in zip(values, columns, strict=False):
        if not c.wrap or not value or len(value) < c.width * 0.6:
            continue  # short enough to fit whatever its letters are
        key = (value, c.width)
        n = cache.get(key)
        if n is None:
            n = cache[key] = line_count(value, c.width)
        lines = max(lines, n)
    return lines


def comment_for(problems: Sequence[Problem]) -> tuple[str, Mapping[str, Any]]:
    """A problem cell's comment (message and fix of each problem on it) and its options: a
    box sized to the text, since the default one (about 2 lines) hides most of the hint."""
    text = clean_text("\n\n".join(f"{p.message}\nFix: {p.hint}" for p in problems))
    options = {
        "author": _COMMENT_AUTHOR,
        "width": _COMMENT_WIDTH_PX,
        "height": _comment_height(text),
    }
    return text, options


@lru_cache(maxsize=4_096)
def _comment_height(text: str) -> int:
    """Pixels for ``text`` in a comment box (hints repeat across thousands of cells)."""
    return min(40 + 15 * line_count(text, _COMMENT_WIDTH_PX / 7), 400)


def fill_for(problems: Iterable[Problem]) -> Mapping[str, Any]:
    return PROBLEM if any(p.severity == "error" for p in problems) else WARNING


def status_text(problems: Sequence[Problem]) -> str:
    errors = sum(p.severity == "error" for p in problems)
    warnings = len(problems) - errors
    if errors:
        word = "problem" if errors == 1 else "problems"
        return f"{errors} {word}" + (
            f", {warnings} warning{'s' * (warnings != 1)}" if warnings else ""
        )
    if warnings:
        return f"OK ({warnings} warning{'s' * (warnings != 1)})"
    return "OK"


def fill_name(problems: Sequence[Problem] | None) -> str:
    return "error" if problems and any(p.severity == "error" for p in problems) else "warning"


def digits_width(largest: int) -> float:
    """Width of a column of plain whole numbers up to ``largest`` (General format)."""
    return float(max(len(str(largest)), 3) + 2)


def amount_width(texts: Iterable[str], decimals: int) -> float:
    """Width of a column of amounts (plain decimal text) shown with a thousands format and
    ``decimals`` decimals, from the longest integer part of any of them: no ``###``."""
    digits = max((len(t.partition(".")[0].lstrip("-")) for t in texts if t), default=1)
    shown = digits + (digits - 1) // 3 + (decimals + 1 if decimals else 0)
    return float(shown + 3)
