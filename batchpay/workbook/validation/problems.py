"""The Problems sheet: one line per problem (row, column, value, code, message, hint, severity)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from batchpay.workbook import PROBLEM_FILL, TEXT_FORMAT, WARNING_FILL
from batchpay.workbook.validation.cells import clean_text, header_row, size_columns, text_cell
from batchpay.workbook.validation.xlsx import (
    Deferred,
    quoted_style_name,
    xml_cell_number,
    xml_cell_text,
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


def problems_sheet(wb: Workbook, result: ValidationResult) -> Deferred:
    ws = wb.create_sheet("Problems")
    header_of = result.table.field_headers
    rows: list[list[Any]] = [
        [
            p.row,
            clean_text(p.column or ""),
            clean_text(header_of.get(p.column or "", p.column or "")),
            clean_text(p.value if p.value is not None else ""),
            clean_text(p.code),
            clean_text(p.message),
            clean_text(p.hint),
            p.severity,
        ]
        for p in result.problems
    ]
    columns = [[r[i] for r in rows] for i in range(len(_PROBLEM_TITLES))]
    size_columns(ws, _PROBLEM_TITLES, columns)
    ws.column_dimensions["D"].number_format = TEXT_FORMAT
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(_PROBLEM_TITLES))}{len(rows) + 1}"

    def render(r: int, styles: dict[str, str]) -> str:
        row = rows[r - 2]
        parts = [f'<row r="{r}">']
        quoted = styles[quoted_style_name(None)]
        if row[0] is not None:
            parts.append(xml_cell_number(f"A{r}", row[0], None))
        for letter, value in zip("BCDEFG", row[1:7], strict=True):
            if value:
                parts.append(xml_cell_text(f"{letter}{r}", value, None, quoted))
        style = styles.get(row[7])
        s = f' s="{style}"' if style else ""
        parts.append(f'<c r="H{r}"{s} t="inlineStr"><is><t>{row[7]}</t></is></c></row>')
        return "".join(parts)

    sheet = Deferred(ws, render)
    sheet.append(header_row(ws, _PROBLEM_TITLES))
    for r in rows:
        severity = str(r[7])
        if severity in sheet.probes:
            sheet.defer()
            continue
        # The first row of each severity goes through openpyxl to register its fill.
        sheet.probe(severity, "H")
        fill = PROBLEM_FILL if severity == "error" else WARNING_FILL
        sheet.append(
            [
                r[0],
                *(text_cell(ws, v) if v else None for v in r[1:7]),
                text_cell(ws, severity, fill=fill),
            ]
        )
    return sheet
