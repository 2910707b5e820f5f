"""Cells of the validation report: clean text, amounts, headers, problem fills and comments."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from batchpay.problems import Problem
from batchpay.workbook import (
    FORMULA_TRIGGERS,
    HEADER_FILL,
    HEADER_FONT,
    PROBLEM_FILL,
    WARNING_FILL,
    write_only_text_cell,
)

# Excel refuses a cell longer than this (Excel specifications and limits).
_MAX_CELL_CHARS = 32_767
_MAX_WIDTH = 50
WIDTH_SAMPLE = 2_000  # rows looked at when sizing columns; enough to fit typical values
_COMMENT_AUTHOR = "batchpay"
DECIMAL_FORMAT = "#,##0.00"
BOLD = Font(bold=True)
TOP_WRAP = Alignment(vertical="top", wrap_text=True)


def clean_text(value: Any) -> str:
    """Text a workbook can hold: control characters XML forbids become U+FFFD (openpyxl
    raises on them), and over-long values are cut to Excel's cell limit."""
    text = "" if value is None else str(value)
    if ILLEGAL_CHARACTERS_RE.search(text):
        text = ILLEGAL_CHARACTERS_RE.sub("\ufffd", text)
    return text[:_MAX_CELL_CHARS]


def text_cell(ws: Any, value: Any, *, fill: Any = None, comment: Comment | None = None) -> Any:
    """A text cell, never a formula (docs/safety.md §8); plain ``str`` when no style is needed
    because write-only mode streams those fastest."""
    text = clean_text(value)
    if fill is None and comment is None and not text.startswith(FORMULA_TRIGGERS):
        return text
    cell = write_only_text_cell(ws, text)
    if fill is not None:
        cell.fill = fill
    if comment is not None:
        cell.comment = comment
    return cell


def amount_cell(ws: Any, text: str, number_format: str) -> Any:
    """A normalised amount as a number with a thousands format; Decimal, never float."""
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        return text_cell(ws, text)
    cell = WriteOnlyCell(ws, value=value)
    cell.number_format = number_format
    return cell


def header_row(ws: Any, headers: Sequence[str]) -> list[Any]:
    cells = []
    for h in headers:
        cell = write_only_text_cell(ws, clean_text(h))
        cell.font = HEADER_FONT
        cell.fill = HEADER_FILL
        cells.append(cell)
    return cells


def size_columns(ws: Any, headers: Sequence[str], columns: Sequence[Sequence[Any]]) -> None:
    for i, header in enumerate(headers):
        sample = columns[i][:WIDTH_SAMPLE] if i < len(columns) else []
        longest = max([len(str(header))] + [len(str(v)) for v in sample if v is not None])
        ws.column_dimensions[get_column_letter(i + 1)].width = min(longest + 2, _MAX_WIDTH)


def comment_for(problems: Sequence[Problem]) -> Comment:
    text = "\n\n".join(f"{p.message}\nFix: {p.hint}" for p in problems)
    comment = Comment(clean_text(text), _COMMENT_AUTHOR)
    # The default box (about 2 lines) hides most of the hint; size it to the text.
    lines = sum(max(1, len(chunk) // 45 + 1) for chunk in text.split("\n"))
    comment.width = 320
    comment.height = min(40 + 15 * lines, 400)
    return comment


def fill_for(problems: Iterable[Problem]) -> Any:
    return PROBLEM_FILL if any(p.severity == "error" for p in problems) else WARNING_FILL


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


def cell_style(problems: Sequence[Problem] | None, styles: dict[str, str]) -> str | None:
    return styles.get(fill_name(problems)) if problems else None
