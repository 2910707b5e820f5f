"""The Problems sheet: one line per problem (row, column, value, code, message, hint,
severity); the message and the fix wrap within capped widths and each row is as tall as its
longest text, so nothing is cut mid-sentence on screen or on paper."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from batchpay.workbook import (
    PROBLEM,
    QUOTED,
    TOP,
    WARNING,
    WRAP,
    Formats,
    clean_texts,
    print_setup,
    write_text_as,
)
from batchpay.workbook.fit import row_height
from batchpay.workbook.validation.cells import (
    Column,
    digits_width,
    header_row,
    lines_of,
    text_column,
)

if TYPE_CHECKING:
    from batchpay.validate import ValidationResult

_PROBLEM_TITLES = [
    "Row",
    "Column",
    "Header in sheet",
    "Value",
    "Code",
    "Message",
    "How to fix",
    "Severity",
]
# Caps per text column: identifiers and values narrower, the sentences widest; together they
# fit an A4 landscape page at a readable scale.
_CAPS = (24.0, 24.0, 30.0, 28.0, 50.0, 50.0, 10.0)


def _columns(rows: list[list[Any]]) -> list[Column]:
    largest = max((r[0] for r in rows if r[0] is not None), default=0)
    columns = [Column("Row", digits_width(largest))]
    for i, (title, cap) in enumerate(zip(_PROBLEM_TITLES[1:], _CAPS, strict=True), start=1):
        if title in ("Code", "Severity"):
            # Short words, never wrapped: sized from every distinct value.
            distinct = {str(r[i]) for r in rows}
            columns.append(text_column(title, sorted(distinct), cap=cap + 10, wrap=False))
        else:
            columns.append(text_column(title, (str(r[i]) for r in rows), cap=cap))
    return columns


def problems_sheet(wb: Any, formats: Formats, result: ValidationResult, title: str) -> None:
    ws = wb.add_worksheet("Problems")
    header_of = result.table.field_headers
    problems = result.problems
    # Column by column: one search for forbidden characters per column (clean_texts), not
    # one per cell.
    texts = [
        clean_texts([p.column or "" for p in problems]),
        clean_texts([header_of.get(p.column or "", p.column or "") for p in problems]),
        clean_texts([p.value if p.value is not None else "" for p in problems]),
        clean_texts([p.code for p in problems]),
        clean_texts([p.message for p in problems]),
        clean_texts([p.hint for p in problems]),
    ]
    rows: list[list[Any]] = [
        [p.row, *cells, p.severity] for p, *cells in zip(problems, *texts, strict=True)
    ]
    columns = _columns(rows)
    header_row(ws, formats, columns)
    ws.freeze_panes(1, 0)
    ws.autofilter(0, 0, len(rows), len(columns) - 1)
    print_setup(ws, f"{title} — Problems")
    top, wrap = formats(TOP), formats.text_pair(WRAP)
    plain = formats.text_pair(TOP)
    # A row of one line needs no alignment or wrap: its cells go out unstyled (quicker).
    short = [(None, formats(QUOTED))] * len(columns)
    tall = [wrap if c.wrap else plain for c in columns]
    severity = {
        "error": formats.text_pair(TOP, PROBLEM),
        "warning": formats.text_pair(TOP, WARNING),
    }
    cache: dict[Any, int] = {}
    for r, row in enumerate(rows, start=1):
        lines = lines_of(row, columns, cache)
        pairs = short
        if lines > 1:
            ws.set_row(r, row_height(lines))
            pairs = tall
        if row[0] is not None:
            ws.write_number(r, 0, row[0], top if lines > 1 else None)
        for col in range(1, 7):
            write_text_as(ws, r, col, row[col], pairs[col])
        write_text_as(ws, r, 7, row[7], severity[row[7]])
