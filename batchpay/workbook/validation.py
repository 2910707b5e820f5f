"""The validation report: one workbook that makes it obvious what to fix in a sheet.

Sheets, in order:

- **Summary** — file, kind, row counts, totals of the valid rows, problems by code;
- **Rows** — every row as read (original headers, extra columns too), the Excel row number
  first and a status column, normalised values beside the originals; problem cells filled
  red (warnings yellow) with a comment giving the message and how to fix it;
- **Problems** — one line per problem: row, column, value, code, message, hint, severity.

Written in openpyxl's write-only mode so 100,000 rows take seconds: plain values stream out
as they are, and only problem cells, amounts and formula-looking text become styled cells.
No business rules here; the result says what is wrong, this module only shows it.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from batchpay.problems import Problem
from batchpay.workbook import (
    AMOUNT_FORMAT,
    FORMULA_TRIGGERS,
    HEADER_FILL,
    HEADER_FONT,
    PROBLEM_FILL,
    TEXT_FORMAT,
    WARNING_FILL,
    WHOLE_AMOUNT_FORMAT,
    atomic_save,
    write_only_text_cell,
)

if TYPE_CHECKING:
    from batchpay.validate import ValidationResult

# Excel refuses a cell longer than this (Excel specifications and limits).
_MAX_CELL_CHARS = 32_767
_MAX_WIDTH = 50
_WIDTH_SAMPLE = 2_000  # rows looked at when sizing columns; enough to fit typical values
_NORMALISED = " (normalised)"
_COMMENT_AUTHOR = "batchpay"
_DECIMAL_FORMAT = "#,##0.00"
# Excel slows to a crawl with tens of thousands of comments; past this many problem cells the
# red fill alone marks them and the Problems sheet carries the full text.
_MAX_COMMENTS = 10_000
_BOLD = Font(bold=True)
_TOP_WRAP = Alignment(vertical="top", wrap_text=True)


def default_report_path(source: str | Path) -> Path:
    """``reports/<sheet-stem>-validation.xlsx``, relative to the working directory."""
    return Path("reports") / f"{Path(source).stem}-validation.xlsx"


def clean_text(value: Any) -> str:
    """Text a workbook can hold: control characters XML forbids become U+FFFD (openpyxl
    raises on them), and over-long values are cut to Excel's cell limit."""
    text = "" if value is None else str(value)
    if ILLEGAL_CHARACTERS_RE.search(text):
        text = ILLEGAL_CHARACTERS_RE.sub("\ufffd", text)
    return text[:_MAX_CELL_CHARS]


def _text_cell(ws: Any, value: Any, *, fill: Any = None, comment: Comment | None = None) -> Any:
    """A text cell, never a formula (SAFETY.md "Output"); plain ``str`` when no style is needed
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


def _amount_cell(ws: Any, text: str, number_format: str) -> Any:
    """A normalised amount as a number with a thousands format; Decimal, never float."""
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        return _text_cell(ws, text)
    cell = WriteOnlyCell(ws, value=value)
    cell.number_format = number_format
    return cell


def _header_row(ws: Any, headers: Sequence[str]) -> list[Any]:
    cells = []
    for h in headers:
        cell = write_only_text_cell(ws, clean_text(h))
        cell.font = HEADER_FONT
        cell.fill = HEADER_FILL
        cells.append(cell)
    return cells


def _size_columns(ws: Any, headers: Sequence[str], columns: Sequence[Sequence[Any]]) -> None:
    for i, header in enumerate(headers):
        sample = columns[i][:_WIDTH_SAMPLE] if i < len(columns) else []
        longest = max([len(str(header))] + [len(str(v)) for v in sample if v is not None])
        ws.column_dimensions[get_column_letter(i + 1)].width = min(longest + 2, _MAX_WIDTH)


def _comment_for(problems: Sequence[Problem]) -> Comment:
    text = "\n\n".join(f"{p.message}\nFix: {p.hint}" for p in problems)
    comment = Comment(clean_text(text), _COMMENT_AUTHOR)
    # The default box (about 2 lines) hides most of the hint; size it to the text.
    lines = sum(max(1, len(chunk) // 45 + 1) for chunk in text.split("\n"))
    comment.width = 320
    comment.height = min(40 + 15 * lines, 400)
    return comment


def _fill_for(problems: Iterable[Problem]) -> Any:
    return PROBLEM_FILL if any(p.severity == "error" for p in problems) else WARNING_FILL


def _status(problems: Sequence[Problem]) -> str:
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


class _Layout:
    """Which sheet columns the Rows sheet shows, and where each problem's cell is."""

    def __init__(self, result: ValidationResult) -> None:
        table = result.table
        frame = table.frame
        header_of = {field: header for field, header in table.field_headers.items()}
        field_of_header = {header: field for field, header in header_of.items()}
        kind = table.kind
        # The sheet's own column order, so the report looks like the file the user knows.
        keys: list[str] = []
        for header in table.source.headers:
            key = field_of_header.get(header, header)
            if key in frame.columns and key not in keys:
                keys.append(key)
        for key in frame.columns:
            if key not in keys and (key in header_of or key not in kind.field_names):
                keys.append(str(key))
        self.titles: list[str] = ["Row", "Status"]
        self.sources: list[tuple[str, str]] = []  # ("original"|"normalised", key)
        normalised = result.normalised
        for key in keys:
            self.titles.append(header_of.get(key, key))
            self.sources.append(("original", key))
            if (
                key in kind.field_names
                and key in normalised.columns
                # The amount always gets its normalised twin: a number with a thousands
                # format the accountant can sum, whatever text the sheet held.
                and (key == kind.amount_field or _differs(frame[key], normalised[key]))
            ):
                self.titles.append(f"{key}{_NORMALISED}")
                self.sources.append(("normalised", key))
        # A problem's column may be the field name or the header as written.
        self.position: dict[str, int] = {}
        for i, (what, key) in enumerate(self.sources):
            if what == "original":
                self.position[key] = i + 2
                if key in header_of:
                    self.position.setdefault(header_of[key], i + 2)


def _differs(original: Any, normalised: Any) -> bool:
    """Whether normalising changed any valid value (invalid ones normalise to '')."""
    for a, b in zip(original.tolist(), normalised.tolist(), strict=False):
        if b != "" and str(a).strip() != str(b):
            return True
    return False


class _Deferred:
    """Rows of a write-only sheet rendered straight to XML after openpyxl has saved.

    openpyxl spends ~10 µs serialising each cell, which is most of the time on a 100,000-row
    report. Rows that need openpyxl (styled or commented cells) go through it; every other row
    is appended empty (``<row r="N"></row>``) and filled in here from the column lists, as
    inline strings (never formulas) and plain numbers. Style ids are read from cells openpyxl
    wrote (``probes``), so they always match its styles.xml.
    """

    def __init__(self, ws: Any, render: Callable[[int, dict[str, str]], str]) -> None:
        self.ws = ws
        self.rows: set[int] = set()
        self.probes: dict[str, str] = {}  # style name -> coordinate of a cell carrying it
        self.styles: dict[str, str] = {}
        self._render = render
        self._count = 0

    def append(self, cells: list[Any]) -> None:
        self.ws.append(cells)
        self._count += 1

    def defer(self) -> None:
        self.ws.append([])
        self._count += 1
        self.rows.add(self._count)

    @property
    def next_row(self) -> int:
        return self._count + 1

    @property
    def part(self) -> str:
        return str(self.ws.path).lstrip("/")

    def splice(self, xml: str) -> str:
        for name, ref in self.probes.items():
            m = re.search(rf'<c r="{ref}" s="(\d+)"', xml)
            if m:
                self.styles[name] = m.group(1)

        def fill(m: re.Match[str]) -> str:
            r = int(m.group(1))
            return self._render(r, self.styles) if r in self.rows else m.group(0)

        return _EMPTY_ROW.sub(fill, xml)


_EMPTY_ROW = re.compile(r'<row r="(\d+)"></row>')
_PLAIN_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]+)?")


def _xml_cell_text(ref: str, text: str) -> str:
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    space = ' xml:space="preserve"' if text != text.strip() else ""
    return f'<c r="{ref}" t="inlineStr"><is><t{space}>{escaped}</t></is></c>'


def _xml_cell_number(ref: str, number: str | int, style: str | None) -> str:
    s = f' s="{style}"' if style else ""
    return f'<c r="{ref}"{s} t="n"><v>{number}</v></c>'


def _rows_sheet(
    wb: Workbook, result: ValidationResult, by_row: dict[int, list[Problem]], comment_cap: int
) -> _Deferred:
    ws = wb.create_sheet("Rows")
    table = result.table
    kind = table.kind
    layout = _Layout(result)
    frame = table.frame
    normalised = result.normalised
    row_numbers = [int(r) for r in frame.index.tolist()]
    columns: list[list[Any]] = []
    for what, key in layout.sources:
        source = frame if what == "original" else normalised
        columns.append([clean_text(v) for v in source[key].tolist()])
    amount_fmt = WHOLE_AMOUNT_FORMAT if kind.amount_decimals == 0 else _DECIMAL_FORMAT
    amount_col = {
        i
        for i, (what, key) in enumerate(layout.sources)
        if what == "normalised" and key == kind.amount_field
    }
    identifier_cols = {
        i
        for i, (_, key) in enumerate(layout.sources)
        if key in kind.field_names and kind.field(key).identifier
    }
    letters = [get_column_letter(i + 1) for i in range(len(layout.titles))]

    status_col = [_status(by_row.get(r, [])) for r in row_numbers]
    _size_columns(
        ws, layout.titles, [[str(r) for r in row_numbers[:_WIDTH_SAMPLE]], status_col, *columns]
    )
    for i in identifier_cols:
        ws.column_dimensions[letters[i + 2]].number_format = TEXT_FORMAT
    ws.freeze_panes = "C2"
    ws.auto_filter.ref = f"A1:{letters[-1]}{len(row_numbers) + 1}"

    def render(r: int, styles: dict[str, str]) -> str:
        n = r - 2
        parts = [
            f'<row r="{r}">',
            _xml_cell_number(f"A{r}", row_numbers[n], None),
            _xml_cell_text(f"B{r}", status_col[n]),
        ]
        for i, column in enumerate(columns):
            value = column[n]
            if not value:
                continue
            ref = f"{letters[i + 2]}{r}"
            if i in amount_col and _PLAIN_DECIMAL.fullmatch(value):
                parts.append(_xml_cell_number(ref, value, styles.get("amount")))
            else:
                parts.append(_xml_cell_text(ref, value))
        parts.append("</row>")
        return "".join(parts)

    sheet = _Deferred(ws, render)
    sheet.append(_header_row(ws, layout.titles))
    comments = 0
    for n, row_number in enumerate(row_numbers):
        problems = by_row.get(row_number)
        if not problems and (n > 0 or not amount_col):
            sheet.defer()
            continue
        out: list[Any] = [row_number]
        if problems:
            out.append(_text_cell(ws, status_col[n], fill=_fill_for(problems)))
        else:
            out.append(status_col[n])
        for i, column in enumerate(columns):
            value = column[n]
            if i in amount_col:
                if n == 0 and (not value or _PLAIN_DECIMAL.fullmatch(value)):
                    # The first row carries the amount style for every deferred row.
                    cell = WriteOnlyCell(ws, value=Decimal(value) if value else None)
                    cell.number_format = amount_fmt
                    sheet.probes["amount"] = f"{letters[i + 2]}{sheet.next_row}"
                    out.append(cell)
                else:
                    out.append(_amount_cell(ws, value, amount_fmt))
            else:
                out.append(_text_cell(ws, value) if value else None)
        if problems:
            by_cell: dict[int, list[Problem]] = defaultdict(list)
            for p in problems:
                # Row-level problems (no column, or one not shown) mark the row number cell.
                by_cell[layout.position.get(p.column or "", 0)].append(p)
            for pos, cell_problems in by_cell.items():
                fill = _fill_for(cell_problems)
                # Past the cap the fill still marks the cell; the Problems sheet has the text.
                comment = _comment_for(cell_problems) if comments < comment_cap else None
                comments += 1
                if pos == 0:
                    number_cell = WriteOnlyCell(ws, value=row_number)
                    number_cell.fill = fill
                    number_cell.comment = comment
                    out[0] = number_cell
                else:
                    out[pos] = _text_cell(ws, columns[pos - 2][n], fill=fill, comment=comment)
        sheet.append(out)
    return sheet


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


def _problems_sheet(wb: Workbook, result: ValidationResult) -> _Deferred:
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
    _size_columns(ws, _PROBLEM_TITLES, columns)
    ws.column_dimensions["D"].number_format = TEXT_FORMAT
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(_PROBLEM_TITLES))}{len(rows) + 1}"

    def render(r: int, styles: dict[str, str]) -> str:
        row = rows[r - 2]
        parts = [f'<row r="{r}">']
        if row[0] is not None:
            parts.append(_xml_cell_number(f"A{r}", row[0], None))
        for letter, value in zip("BCDEFG", row[1:7], strict=True):
            if value:
                parts.append(_xml_cell_text(f"{letter}{r}", value))
        style = styles.get(row[7])
        s = f' s="{style}"' if style else ""
        parts.append(f'<c r="H{r}"{s} t="inlineStr"><is><t>{row[7]}</t></is></c></row>')
        return "".join(parts)

    sheet = _Deferred(ws, render)
    sheet.append(_header_row(ws, _PROBLEM_TITLES))
    for r in rows:
        severity = str(r[7])
        if severity in sheet.probes:
            sheet.defer()
            continue
        # The first row of each severity goes through openpyxl to register its fill.
        sheet.probes[severity] = f"H{sheet.next_row}"
        fill = PROBLEM_FILL if severity == "error" else WARNING_FILL
        sheet.append(
            [
                r[0],
                *(_text_cell(ws, v) if v else None for v in r[1:7]),
                _text_cell(ws, severity, fill=fill),
            ]
        )
    return sheet


def _summary_sheet(
    wb: Workbook, result: ValidationResult, report_name: str, problem_cells: int
) -> None:
    ws = wb.create_sheet("Summary")
    table = result.table
    source = table.source
    ws.column_dimensions["A"].width = 24
    ws.column_dimensions["B"].width = 60
    ws.column_dimensions["C"].width = 12

    def label(text: str) -> Any:
        cell = write_only_text_cell(ws, text)
        cell.font = _BOLD
        return cell

    verdict = (
        "VALID — nothing to fix"
        if result.ok
        else "NOT VALID — fix the red cells on the Rows sheet (hover for how), "
        "then run batchpay validate again"
    )
    banner = write_only_text_cell(ws, verdict)
    banner.font = Font(bold=True, size=13, color="006100" if result.ok else "9C0006")
    ws.append([banner])
    ws.append([])
    facts: list[tuple[str, Any]] = [
        ("File", str(source.path)),
        ("Sheet", source.sheet_name or "(CSV)"),
        ("Kind", table.kind.name),
        ("SHA-256", source.sha256),
        ("Rows", result.rows),
        ("Valid rows", result.valid_rows),
        ("Invalid rows", len(result.invalid_row_numbers)),
        ("Errors", len(result.errors)),
        ("Warnings", len(result.warnings)),
    ]
    for label_text, value in facts:
        ws.append([label(label_text), _text_cell(ws, value) if isinstance(value, str) else value])
    for currency, total in sorted(result.totals.items()):
        cell = WriteOnlyCell(ws, value=total)
        cell.number_format = (
            AMOUNT_FORMAT if total != total.to_integral_value() else WHOLE_AMOUNT_FORMAT
        )
        cell.alignment = Alignment(horizontal="left")
        ws.append([label(f"Total {currency} (valid rows)"), cell])
    ws.append([])
    counts = result.problem_counts()
    if counts:
        ws.append([label("Problem code"), label("What it means"), label("Count")])
        first: dict[str, Problem] = {}
        for p in result.problems:
            first.setdefault(p.code, p)
        for code, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
            example = first.get(code)
            meaning = write_only_text_cell(ws, clean_text(example.message if example else ""))
            meaning.alignment = _TOP_WRAP
            code_cell = _text_cell(ws, code, fill=_fill_for([example]) if example else None)
            ws.append([code_cell, meaning, count])
    sheet_level = [p for p in result.problems if p.row is None]
    if sheet_level:
        ws.append([])
        ws.append([label("About the whole sheet")])
        for p in sheet_level:
            ws.append(
                [
                    _text_cell(ws, p.code, fill=_fill_for([p])),
                    _text_cell(ws, f"{p.message} — {p.hint}"),
                ]
            )
    if problem_cells > _MAX_COMMENTS:
        ws.append([])
        ws.append(
            [
                _text_cell(
                    ws,
                    f"Comments are on the first {_MAX_COMMENTS:,} of {problem_cells:,} problem "
                    "cells; every problem is listed on the Problems sheet.",
                )
            ]
        )
    ws.append([])
    ws.append([_text_cell(ws, f"Report: {report_name}")])


def write_validation_report(result: ValidationResult, path: str | Path | None = None) -> Path:
    """Write the validation report for ``result`` (default
    ``reports/<sheet-stem>-validation.xlsx``) atomically and return its path."""
    target = Path(path) if path is not None else default_report_path(result.table.source.path)
    by_row: dict[int, list[Problem]] = defaultdict(list)
    for p in result.problems:
        if p.row is not None:
            by_row[p.row].append(p)
    problem_cells = len({(p.row, p.column) for p in result.problems if p.row is not None})
    wb = Workbook(write_only=True)
    _summary_sheet(wb, result, target.name, problem_cells)
    deferred = [_rows_sheet(wb, result, by_row, _MAX_COMMENTS), _problems_sheet(wb, result)]
    buf = io.BytesIO()
    wb.save(buf)
    return atomic_save(_Bytes(_splice(buf.getvalue(), deferred)), target)


def _splice(data: bytes, sheets: list[_Deferred]) -> bytes:
    by_part = {s.part: s for s in sheets if s.rows}
    if not by_part:
        return data
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as src,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as dst,
    ):
        for info in src.infolist():
            body = src.read(info.filename)
            sheet = by_part.get(info.filename)
            if sheet is not None:
                body = sheet.splice(body.decode("utf-8")).encode("utf-8")
            dst.writestr(info, body, compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


class _Bytes:
    """Adapter so finished bytes go through :func:`atomic_save` like a workbook."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def save(self, path: str) -> None:
        Path(path).write_bytes(self.data)
