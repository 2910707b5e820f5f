"""The validation report: one workbook that makes it obvious what to fix in a sheet.

Sheets, in order:

- **Summary** — file, kind, row counts, totals of the valid rows, problems by code;
- **Rows** — every row as read (original headers, extra columns too), the Excel row number
  first and a status column, normalised values beside the originals; problem cells filled
  red (warnings yellow) with a comment giving the message and how to fix it. A sheet of more
  than :data:`FULL_ROWS_LIMIT` rows gets only its rows with problems here (the Summary says
  so): a copy of a million-row sheet would not fit in Excel (1,048,576 rows at most) nor
  help anyone find the few rows to fix;
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

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from batchpay.normalize import as_arrow
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
# Above this many rows the Rows sheet lists only the rows with problems.
FULL_ROWS_LIMIT = 50_000
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
    a, b = as_arrow(original), as_arrow(normalised)
    # Only cells whose text changed at all can differ by more than surrounding spaces.
    changed = np.flatnonzero(
        pc.and_(pc.not_equal(b, ""), pc.not_equal(a, b)).to_numpy(zero_copy_only=False)
    )
    for start in range(0, len(changed), 1000):
        positions = pa.array(changed[start : start + 1000])
        for x, y in zip(a.take(positions).to_pylist(), b.take(positions).to_pylist(),
                        strict=True):
            if x.strip() != y:
                return True
    return False


class _Deferred:
    """Rows of a write-only sheet rendered straight to XML after openpyxl has saved.

    openpyxl spends ~10 µs serialising each cell, which is most of the time on a 100,000-row
    report. Only the rows that must register something with openpyxl go through it — the
    header, the first cell of each style (``probes``: their style ids are then read back
    from what openpyxl wrote, so they always match its styles.xml) and the first comment
    (so the workbook has the comments part and its relationships). openpyxl numbers those
    rows 1, 2, 3…; every other row is rendered here from the column lists, as inline strings
    (never formulas) and plain numbers, and :meth:`splice` puts all of them in their real
    places. Formula-looking text (``=…``, ``-…``, ``@…``) takes the quote-prefixed twin of its
    cell's style; those are registered with openpyxl up front (:func:`_quoted_styles`).
    """

    def __init__(self, ws: Any, render: Callable[[int, dict[str, str]], str]) -> None:
        self.ws = ws
        self.rows: set[int] = set()  # real row numbers rendered here
        self.written: list[int] = []  # real row number of openpyxl's 1st, 2nd, … row
        self.probes: dict[str, str] = {}  # style name -> openpyxl coordinate carrying it
        self.styles: dict[str, str] = _quoted_styles(ws)
        # Every comment of the sheet, in order: (ref, 0-based row, 0-based column, comment).
        # openpyxl writes the first one (and with it the comments part, its relationship and
        # content type); the parts are then rewritten with all of them (see _splice).
        self.comments: list[tuple[str, int, int, Comment]] = []
        self.comments_written = False
        self._render = render
        self._count = 0

    def append(self, cells: list[Any]) -> None:
        self.ws.append(cells)
        self._count += 1
        self.written.append(self._count)

    def defer(self) -> None:
        self._count += 1
        self.rows.add(self._count)

    def probe(self, name: str, letter: str) -> None:
        """The next appended row carries style ``name`` in column ``letter``."""
        self.probes.setdefault(name, f"{letter}{len(self.written) + 1}")

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
        head, found, rest = xml.partition("<sheetData>")
        body, found_end, tail = rest.partition("</sheetData>")
        if not found or not found_end:  # nothing appended through openpyxl at all
            return xml
        by_row = {}
        for m in _ROW.finditer(body):
            real = self.written[int(m.group(1)) - 1]
            by_row[real] = _CELL_REF.sub(rf'\g<1>{real}"', m.group(0)).replace(
                f'<row r="{m.group(1)}"', f'<row r="{real}"', 1
            )
        rows = [
            by_row[r] if r in by_row else self._render(r, self.styles)
            for r in range(1, self._count + 1)
            if r in by_row or r in self.rows
        ]
        return f"{head}<sheetData>{''.join(rows)}</sheetData>{tail}"


_ROW = re.compile(r'<row r="(\d+)"[^>]*(?:/>|>.*?</row>)', re.DOTALL)
_CELL_REF = re.compile(r'(<c r="[A-Z]+)\d+"')
_PLAIN_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]+)?")


def _xml_escape(text: str) -> str:
    if "&" in text or "<" in text or ">" in text:
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text


_TRIGGER_CHARS = frozenset(FORMULA_TRIGGERS)  # one character each


def _xml_cell_text(
    ref: str, text: str, style: str | None = None, quoted: str | None = None
) -> str:
    """An inline-string cell with ``style``; text that looks like a formula takes ``quoted``
    (the style's quote-prefixed twin, see :func:`_quoted_styles`) when given."""
    if not text:
        s = f' s="{style}"' if style else ""
        return f'<c r="{ref}"{s} t="inlineStr" />'
    if quoted is not None and text[0] in _TRIGGER_CHARS:
        style = quoted
    s = f' s="{style}"' if style else ""
    # text != text.strip(), without building the stripped copy
    space = ' xml:space="preserve"' if text[0].isspace() or text[-1].isspace() else ""
    return f'<c r="{ref}"{s} t="inlineStr"><is><t{space}>{_xml_escape(text)}</t></is></c>'


def _quoted(fill: str | None) -> str:
    """The style name of the quote-prefixed twin of ``fill`` ('error', 'warning' or none)."""
    return f"{fill or 'text'}-quoted"


def _quoted_styles(ws: Any) -> dict[str, str]:
    """Style ids of quote-prefixed text cells, plain and on each problem fill, registered
    in openpyxl's style list now: ``style_id`` is the index openpyxl writes as ``s`` and the
    position of the ``<xf quotePrefix="1">`` in styles.xml, so deferred rows use the very
    style openpyxl gives the same cell (it keeps one entry per distinct style)."""
    ids = {}
    for fill_name, fill in ((None, None), ("error", PROBLEM_FILL), ("warning", WARNING_FILL)):
        cell = write_only_text_cell(ws, "=")
        if fill is not None:
            cell.fill = fill
        ids[_quoted(fill_name)] = str(cell.style_id)
    return ids


def _xml_text(ref: str, text: str, fill: str | None, styles: dict[str, str]) -> str:
    """A text cell on ``fill`` (a style name or None); quote-prefixed when it looks like a
    formula, so Excel shows it as typed and keeps it text on F2+Enter."""
    return _xml_cell_text(ref, text, styles.get(fill) if fill else None, styles[_quoted(fill)])


def _xml_cell_number(ref: str, number: str | int, style: str | None) -> str:
    s = f' s="{style}"' if style else ""
    return f'<c r="{ref}"{s} t="n"><v>{number}</v></c>'


def _rows_sheet(
    wb: Workbook,
    result: ValidationResult,
    by_row: dict[int, list[Problem]],
    comment_cap: int,
    *,
    only_problem_rows: bool = False,
) -> _Deferred:
    ws = wb.create_sheet("Rows")
    table = result.table
    kind = table.kind
    layout = _Layout(result)
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

    # Per problem row: sheet position (0 = row number, 1 = status, 2+ = column) -> the
    # problems of that cell; and which of those cells carry a comment (the first
    # ``comment_cap`` in problem order; past the cap the fill alone marks the cell).
    marked: dict[int, dict[int, list[Problem]]] = {}
    commented: dict[int, set[int]] = {}
    comments = 0
    for n, row_number in enumerate(row_numbers):
        problems = by_row.get(row_number)
        if not problems:
            continue
        by_cell: dict[int, list[Problem]] = defaultdict(list)
        for p in problems:
            # Row-level problems (no column, or one not shown) mark the row number cell.
            by_cell[layout.position.get(p.column or "", 0)].append(p)
        marked[n] = by_cell
        for pos in by_cell:
            if comments < comment_cap:
                commented.setdefault(n, set()).add(pos)
            comments += 1

    def render(r: int, styles: dict[str, str]) -> str:
        n = r - 2
        problems = by_row.get(row_numbers[n])
        by_cell = marked.get(n, {})
        row_fill = styles.get(_fill_name(problems)) if problems else None
        quoted = styles[_quoted(None)]
        cells = [
            _xml_cell_number(f"A{r}", row_numbers[n], _cell_style(by_cell.get(0), styles)),
            _xml_cell_text(f"B{r}", status_col[n], row_fill),
        ]
        for i, column in enumerate(columns):
            value = column[n]
            ref = f"{letters[i + 2]}{r}"
            cell_problems = by_cell.get(i + 2)
            if cell_problems:
                cells.append(_xml_text(ref, value, _fill_name(cell_problems), styles))
            elif not value:
                continue
            elif i in amount_col and _PLAIN_DECIMAL.fullmatch(value):
                cells.append(_xml_cell_number(ref, value, styles.get("amount")))
            else:
                cells.append(_xml_cell_text(ref, value, None, quoted))
        return f'<row r="{r}">{"".join(cells)}</row>'

    sheet = _Deferred(ws, render)
    sheet.append(_header_row(ws, layout.titles))
    for n, row_number in enumerate(row_numbers):
        by_cell = marked.get(n, {})
        notes = commented.get(n, set())
        r = sheet.next_row
        for pos, cell_problems in by_cell.items():
            if pos in notes:
                sheet.comments.append(
                    (f"{letters[pos]}{r}", r - 1, pos, _comment_for(cell_problems))
                )
        # openpyxl writes the first row (it carries the amount style), the first cell of
        # each fill (they carry the fill styles) and the first comment (so the workbook
        # has the comments part that every other comment is then written into); every
        # other row is rendered straight to XML.
        fills = {_fill_name(cell_problems) for cell_problems in by_cell.values()}
        needs_openpyxl = (
            (n == 0 and bool(amount_col))
            or not fills <= sheet.probes.keys()
            or (bool(notes) and not sheet.comments_written)
        )
        if not needs_openpyxl:
            sheet.defer()
            continue
        problems = by_row.get(row_number)
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
                    sheet.probe("amount", letters[i + 2])
                    out.append(cell)
                else:
                    out.append(_amount_cell(ws, value, amount_fmt))
            else:
                out.append(_text_cell(ws, value) if value else None)
        for pos, cell_problems in by_cell.items():
            fill = _fill_for(cell_problems)
            sheet.probe(_fill_name(cell_problems), letters[pos])
            comment = _comment_for(cell_problems) if pos in notes else None
            if comment is not None:
                sheet.comments_written = True
            if pos == 0:
                number_cell = WriteOnlyCell(ws, value=row_number)
                number_cell.fill = fill
                number_cell.comment = comment
                out[0] = number_cell
            else:
                out[pos] = _text_cell(ws, columns[pos - 2][n], fill=fill, comment=comment)
        sheet.append(out)
    return sheet


def _fill_name(problems: Sequence[Problem] | None) -> str:
    return "error" if problems and any(p.severity == "error" for p in problems) else "warning"


def _cell_style(problems: Sequence[Problem] | None, styles: dict[str, str]) -> str | None:
    return styles.get(_fill_name(problems)) if problems else None


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
        quoted = styles[_quoted(None)]
        if row[0] is not None:
            parts.append(_xml_cell_number(f"A{r}", row[0], None))
        for letter, value in zip("BCDEFG", row[1:7], strict=True):
            if value:
                parts.append(_xml_cell_text(f"{letter}{r}", value, None, quoted))
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
        sheet.probe(severity, "H")
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
    wb: Workbook,
    result: ValidationResult,
    report_name: str,
    problem_cells: int,
    *,
    rows_listed: int | None = None,
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
    if rows_listed is not None:
        ws.append([])
        ws.append(
            [
                _text_cell(
                    ws,
                    f"The sheet has {result.rows:,} rows, so only the rows with problems are "
                    f"listed on the Rows sheet ({rows_listed:,} rows); every problem is on the "
                    "Problems sheet.",
                )
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
    large = result.rows > FULL_ROWS_LIMIT
    wb = Workbook(write_only=True)
    _summary_sheet(
        wb, result, target.name, problem_cells, rows_listed=len(by_row) if large else None
    )
    deferred = [
        _rows_sheet(wb, result, by_row, _MAX_COMMENTS, only_problem_rows=large),
        _problems_sheet(wb, result),
    ]
    buf = io.BytesIO()
    wb.save(buf)
    return atomic_save(_Bytes(_splice(buf.getvalue(), deferred)), target)


def _splice(data: bytes, sheets: list[_Deferred]) -> bytes:
    by_part = {s.part: s for s in sheets if s.rows or s.comments_written}
    if not by_part:
        return data
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as src,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as dst,
    ):
        replaced: dict[str, bytes] = {}
        for part, sheet in by_part.items():
            if sheet.comments_written:
                replaced.update(_comment_parts(src, part, sheet.comments))
        for info in src.infolist():
            body = replaced.get(info.filename) or src.read(info.filename)
            deferred = by_part.get(info.filename)
            if deferred is not None:
                body = deferred.splice(body.decode("utf-8")).encode("utf-8")
            # Level 1: a third of the time of the default for a few percent more bytes, on
            # parts that can be tens of MB for a large sheet.
            dst.writestr(info, body, compress_type=zipfile.ZIP_DEFLATED, compresslevel=1)
    return out.getvalue()


_RELATIONSHIP = re.compile(r'<Relationship\b[^>]*>')
_COMMENTS_XMLNS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def _comment_parts(
    src: zipfile.ZipFile, part: str, comments: list[tuple[str, int, int, Comment]]
) -> dict[str, bytes]:
    """The sheet's comments part and its VML drawing, holding every comment — the same
    markup openpyxl writes for one (openpyxl takes ~100 µs per comment; this, a few)."""
    folder, _, name = part.rpartition("/")
    rels = src.read(f"{folder}/_rels/{name}.rels").decode("utf-8")
    targets: dict[str, str] = {}
    for rel in _RELATIONSHIP.findall(rels):
        kind = re.search(r'Type="[^"]*/(comments|vmlDrawing)"', rel)
        target = re.search(r'Target="([^"]+)"', rel)
        if kind and target:
            path = target.group(1)
            targets[kind.group(1)] = path.lstrip("/") if path.startswith("/") else (
                f"{folder}/{path}"
            )
    if set(targets) != {"comments", "vmlDrawing"}:
        return {}
    authors = list(dict.fromkeys(c.author for *_, c in comments))
    notes = "".join(
        f'<comment ref="{ref}" authorId="{authors.index(c.author)}" shapeId="0"><text>'
        f"<t{_space(c.text)}>{_xml_escape(c.text)}</t></text></comment>"
        for ref, _row, _col, c in comments
    )
    comments_xml = (
        f'<comments xmlns="{_COMMENTS_XMLNS}"><authors>'
        + "".join(f"<author>{_xml_escape(a)}</author>" for a in authors)
        + f"</authors><commentList>{notes}</commentList></comments>"
    )
    shapes = "".join(
        _VML_SHAPE.format(id=1026 + i, width=c.width, height=c.height, row=row, col=col)
        for i, (_ref, row, col, c) in enumerate(comments)
    )
    return {
        targets["comments"]: comments_xml.encode("utf-8"),
        targets["vmlDrawing"]: (_VML_HEAD + shapes + "</xml>").encode("utf-8"),
    }


def _space(text: str) -> str:
    return ' xml:space="preserve"' if text != text.strip() else ""


# openpyxl's comment shape (openpyxl/comments/shape_writer.py), as text.
_VML_HEAD = (
    '<xml xmlns:ns0="urn:schemas-microsoft-com:office:office" '
    'xmlns:ns1="urn:schemas-microsoft-com:vml" '
    'xmlns:ns2="urn:schemas-microsoft-com:office:excel">'
    '<ns0:shapelayout ns1:ext="edit"><ns0:idmap ns1:ext="edit" data="1" /></ns0:shapelayout>'
    '<ns1:shapetype id="_x0000_t202" coordsize="21600,21600" ns0:spt="202" '
    'path="m,l,21600r21600,l21600,xe"><ns1:stroke joinstyle="miter" />'
    '<ns1:path gradientshapeok="t" ns0:connecttype="rect" /></ns1:shapetype>'
)
_VML_SHAPE = (
    '<ns1:shape type="#_x0000_t202" style="position:absolute; margin-left:59.25pt;'
    'margin-top:1.5pt;width:{width}px;height:{height}px;z-index:1;visibility:hidden" '
    'fillcolor="#ffffe1" ns0:insetmode="auto" id="_x0000_s{id:04d}">'
    '<ns1:fill color2="#ffffe1" /><ns1:shadow color="black" obscured="t" />'
    '<ns1:path ns0:connecttype="none" /><ns1:textbox style="mso-direction-alt:auto">'
    '<div style="text-align:left" /></ns1:textbox><ns2:ClientData ObjectType="Note">'
    "<ns2:MoveWithCells /><ns2:SizeWithCells /><ns2:AutoFill>False</ns2:AutoFill>"
    "<ns2:Row>{row}</ns2:Row><ns2:Column>{col}</ns2:Column></ns2:ClientData></ns1:shape>"
)


class _Bytes:
    """Adapter so finished bytes go through :func:`atomic_save` like a workbook."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def save(self, path: str) -> None:
        Path(path).write_bytes(self.data)
