"""The Summary sheet: the verdict, the file's facts, totals of the valid rows, problems by
code (with every column each code's problems are in), problems about the whole sheet, and
notes on what the Rows sheet leaves out.

Four columns — label or code, value or meaning, count, columns — with the verdict and the
notes merged across all four; wrapped text gets rows as tall as its lines.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from batchpay.problems import Problem
from batchpay.workbook import (
    BOLD,
    HEADER,
    TOP,
    WHOLE,
    WRAP,
    Formats,
    clean_text,
    print_setup,
    write_text,
)
from batchpay.workbook.fit import (
    column_width,
    line_count,
    number_width,
    row_height,
    text_width,
    thousands,
)
from batchpay.workbook.validation.cells import HEADER_SCALE, fill_for

if TYPE_CHECKING:
    from batchpay.validate import ValidationResult

_VALUE_WIDTH = 66.0  # a SHA-256 (64 hex digits) on one line
_COLUMNS_CAP = 40.0
_VERDICT_SIZE = 13
_INDENT = {"align": "left", "indent": 1}  # LibreOffice indents left-aligned text only
_TABLE = ("Problem code", "What it means", "Count", "In columns")


class _Sheet:
    """The Summary's cursor: the next row, the four column widths, and writers that size
    each row to its wrapped text."""

    def __init__(self, ws: Any, formats: Formats, widths: Sequence[float]) -> None:
        self.ws, self.formats, self.widths = ws, formats, list(widths)
        self.row = 0
        for col, width in enumerate(self.widths):
            ws.set_column(col, col, width)

    def skip(self) -> None:
        self.row += 1

    def fit(self, texts: Sequence[tuple[str, float]], size: float = 11, bold: bool = False) -> None:
        """Make the current row tall enough for each (text, width) wrapped, in ``size`` pt."""
        scale = size / 11 * (HEADER_SCALE if bold else 1.0)
        lines = max((line_count(t, w, scale=scale) for t, w in texts if t), default=1)
        if lines > 1 or size > 11:
            self.ws.set_row(self.row, row_height(lines, scale=size / 11))

    def merged(self, text: str, *style: Mapping[str, Any] | None, size: float = 11) -> None:
        """``text`` across all four columns, wrapped."""
        self.fit([(text, sum(self.widths))], size, bold=size > 11)
        fmt = self.formats(*style, WRAP)
        self.ws.merge_range(self.row, 0, self.row, len(self.widths) - 1, "", fmt)
        write_text(self.ws, self.row, 0, text, self.formats, *style, WRAP)
        self.row += 1

    def fact(self, label: str, value: Any) -> None:
        ws, row = self.ws, self.row
        write_text(ws, row, 0, label, self.formats, BOLD, TOP)
        if isinstance(value, str):
            self.fit([(value, self.widths[1])])
            write_text(ws, row, 1, value, self.formats, WRAP)
        else:
            number = int(value) if value == int(value) else float(value)
            fmt = WHOLE if number == int(number) else {"num_format": "#,##0.00"}
            ws.write_number(row, 1, number, self.formats(fmt, {"align": "left"}))
        self.row += 1


def summary_sheet(
    wb: Any,
    formats: Formats,
    result: ValidationResult,
    report_name: str,
    problem_cells: int,
    comment_cap: int,
    *,
    title: str,
    rows_listed: int | None = None,
) -> None:
    """The Summary sheet; ``rows_listed`` is set when the Rows sheet lists only the rows
    with problems, and more than ``comment_cap`` problem cells say not all have a comment."""
    ws = wb.add_worksheet("Summary")
    print_setup(ws, title, header_rows=0)
    facts = _facts(result)
    codes = _codes(result)
    labels = [label for label, _ in facts] + [code for code, *_ in codes] + ["Problem code"]
    counts = [thousands(count) for _, _, count, _ in codes] + ["Count"]
    sheet = _Sheet(
        ws,
        formats,
        [
            # Bold labels are a tenth wider than the same text in a regular cell.
            min(max(max(map(text_width, labels)) * HEADER_SCALE + 3, 14), 40),
            _VALUE_WIDTH,
            number_width(counts, minimum=8),
            # +2: the column is indented, clear of the counts right-aligned beside it.
            column_width([c for *_, c in codes] + [_TABLE[3]], cap=_COLUMNS_CAP, minimum=12) + 2,
        ],
    )
    _verdict(sheet, result)
    for label, value in facts:
        sheet.fact(label, value)
    sheet.skip()
    _problem_codes(sheet, codes)
    _sheet_level(sheet, result)
    notes = []
    if rows_listed is not None:
        notes.append(
            f"The sheet has {result.rows:,} rows, so only the rows with problems are "
            f"listed on the Rows sheet ({rows_listed:,} rows); every problem is on the "
            "Problems sheet."
        )
    if problem_cells > comment_cap:
        notes.append(
            f"Comments are on the first {comment_cap:,} of {problem_cells:,} problem "
            "cells; every problem is listed on the Problems sheet."
        )
    for note in [*notes, f"Report: {report_name}"]:
        sheet.skip()
        sheet.merged(clean_text(note))


def _verdict(sheet: _Sheet, result: ValidationResult) -> None:
    verdict = (
        "VALID — nothing to fix"
        if result.ok
        else "NOT VALID — fix the red cells on the Rows sheet (hover for how), "
        "then run batchpay validate again"
    )
    colour = "#006100" if result.ok else "#9C0006"
    style = {"bold": True, "font_size": _VERDICT_SIZE, "font_color": colour}
    sheet.merged(verdict, style, size=_VERDICT_SIZE)
    sheet.skip()


def _facts(result: ValidationResult) -> list[tuple[str, Any]]:
    """The file, its kind, the row and problem counts, and the valid rows' totals."""
    table = result.table
    source = table.source
    facts: list[tuple[str, Any]] = [
        ("File", clean_text(source.path)),
        ("Sheet", clean_text(source.sheet_name or "(CSV)")),
        ("Kind", table.kind.name),
        ("SHA-256", source.sha256),
        ("Rows", result.rows),
        ("Valid rows", result.valid_rows),
        ("Invalid rows", len(result.invalid_row_numbers)),
        ("Errors", len(result.errors)),
        ("Warnings", len(result.warnings)),
    ]
    if source.header_row != 1 or result.skipped:
        facts.append(("Header row", source.header_row))
        # Titles, totals and footers: listed with why on the Skipped rows sheet.
        facts.append(("Skipped rows", len(result.skipped)))
    for c in result.control_totals:
        if c.stated is not None:
            verdict = "matches" if c.matches else f"does NOT match ({c.computed:,} computed)"
            facts.append((f"Control total, row {c.row}", f"{c.stated:,} {verdict}"))
    for currency, total in sorted(result.totals.items()):
        facts.append((f"Total {currency} (valid rows)", total))
    return facts


def _codes(result: ValidationResult) -> list[tuple[str, Problem, int, str]]:
    """Per code, most frequent first: the code, its first problem, the count, and every
    column its problems are in (as the sheet's headers name them, most frequent first)."""
    header_of = result.table.field_headers
    first: dict[str, Problem] = {}
    where: dict[str, Counter[str]] = {}
    for p in result.problems:
        first.setdefault(p.code, p)
        if p.row is None:
            column = "(whole sheet)"
        elif p.column:
            column = header_of.get(p.column, p.column)
        else:
            column = "(whole row)"
        where.setdefault(p.code, Counter())[column] += 1
    rows = []
    for code, count in sorted(result.problem_counts().items(), key=lambda kv: (-kv[1], kv[0])):
        spread = where.get(code, Counter()).most_common()
        if len(spread) == 1:
            columns = spread[0][0]
        else:
            columns = ", ".join(f"{name} ({n:,})" for name, n in spread)
        rows.append((code, first[code], count, clean_text(columns)))
    return rows


def _problem_codes(sheet: _Sheet, codes: list[tuple[str, Problem, int, str]]) -> None:
    """Problems by code: what the first one says, how many, and in which columns."""
    if not codes:
        return
    ws, formats = sheet.ws, sheet.formats
    for col, head in enumerate(_TABLE):
        write_text(ws, sheet.row, col, head, formats, HEADER, _INDENT if col == 3 else None)
    sheet.row += 1
    for code, example, count, columns in codes:
        meaning = clean_text(example.message)
        if count > 1 and example.row is not None:
            meaning = f"e.g. row {example.row}: {meaning}"
        sheet.fit([(meaning, sheet.widths[1]), (columns, sheet.widths[3] - 2)])
        write_text(ws, sheet.row, 0, code, formats, TOP, fill_for([example]))
        write_text(ws, sheet.row, 1, meaning, formats, WRAP)
        ws.write_number(sheet.row, 2, count, formats(TOP, WHOLE))
        write_text(ws, sheet.row, 3, columns, formats, WRAP, _INDENT)
        sheet.row += 1


def _sheet_level(sheet: _Sheet, result: ValidationResult) -> None:
    """Problems about the whole sheet (no row), with how to fix each."""
    sheet_level = [p for p in result.problems if p.row is None]
    if not sheet_level:
        return
    sheet.skip()
    write_text(sheet.ws, sheet.row, 0, "About the whole sheet", sheet.formats, BOLD)
    sheet.row += 1
    width = sum(sheet.widths[1:])
    for p in sheet_level:
        text = clean_text(f"{p.message} — {p.hint}")
        sheet.fit([(text, width)])
        write_text(sheet.ws, sheet.row, 0, p.code, sheet.formats, TOP, fill_for([p]))
        fmt = sheet.formats(WRAP)
        sheet.ws.merge_range(sheet.row, 1, sheet.row, 3, "", fmt)
        write_text(sheet.ws, sheet.row, 1, text, sheet.formats, WRAP)
        sheet.row += 1
