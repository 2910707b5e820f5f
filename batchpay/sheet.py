"""CSV/XLSX → a frame of strings plus the row numbers the user sees in Excel.

Knows file formats, not payments: every cell becomes the text the user sees, each row keeps
its Excel row number, and cell-level traps (hidden rows, merged cells, formulas, numbers
stored as numbers) are recorded as problems or facts. Which columns are identifiers is a
payment question, so :mod:`batchpay.headers` turns the recorded facts into problems.

XLSX values come from python-calamine (fast, Rust). The few facts calamine cannot give
(formulas, error cells, hidden rows/columns, number formats) come from scanning the sheet's
XML directly with byte searches: a full openpyxl pass costs ~10 s per 100,000 rows even in
read-only mode, whereas ``bytes.find`` over the XML is milliseconds and the per-cell regex
work only runs when the cheap search says there is something to find.
"""

from __future__ import annotations

import csv
import hashlib
import html
import io
import re
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import pandas as pd
from python_calamine import (
    CalamineWorkbook,
    PasswordError,
    SheetTypeEnum,
    SheetVisibleEnum,
)

from batchpay.errors import InputError
from batchpay.problems import Problem

CSV_SUFFIXES = (".csv", ".tsv", ".txt")
XLSX_SUFFIXES = (".xlsx", ".xlsm")

# Scores a candidate header row (higher = more known column names); see load_sheet.
HeaderScorer = Callable[[Sequence[str]], int]

_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP_MAGIC = b"PK\x03\x04"
# Excel stores a password-protected .xlsx as an OLE2 container holding this stream.
_ENCRYPTION_STREAM = "EncryptionInfo".encode("utf-16-le")
_HEADER_SEARCH_ROWS = 30  # title rows above the header rarely exceed a handful


@dataclass
class RawSheet:
    path: Path
    sheet_name: str | None  # None for CSV
    headers: list[str]  # header cells as text, in order, made unique ("Name", "Name (2)")
    frame: pd.DataFrame  # one column per header, every cell a str ('' when empty)
    row_numbers: list[int]  # Excel row number of each frame row
    problems: list[Problem] = field(default_factory=list)  # column = the header text
    sha256: str = ""
    header_row: int = 1
    # Header text as written, before de-duplication: two "Phone" columns must be seen as two
    # candidates for the same field, not as "Phone" and an unknown "Phone (2)".
    original_headers: list[str] = field(default_factory=list)
    column_letters: list[str] = field(default_factory=list)  # "A", "B", … per header
    # header -> Excel rows whose cell is stored as a number (XLSX only). Identifier columns
    # are only known after kind detection, so headers.resolve() turns these into problems.
    numeric_cells: dict[str, set[int]] = field(default_factory=dict)
    # header -> rows of number cells Excel *displays* in scientific notation (8.16291E+11).
    scientific_cells: dict[str, set[int]] = field(default_factory=dict)


@dataclass
class _Facts:
    """Cell-level facts of one worksheet, keyed by 0-based (row, col)."""

    numeric: set[tuple[int, int]] = field(default_factory=set)
    scientific: set[tuple[int, int]] = field(default_factory=set)
    formulas: dict[tuple[int, int], bool] = field(default_factory=dict)  # -> has cached value
    errors: dict[tuple[int, int], str] = field(default_factory=dict)  # -> "#N/A", "#REF!", …
    hidden_rows: set[int] = field(default_factory=set)
    hidden_cols: set[int] = field(default_factory=set)
    merged: list[tuple[int, int, int, int]] = field(default_factory=list)  # r0, c0, r1, c1


def load_sheet(
    path: str | Path, *, sheet: str | None = None, header_scorer: HeaderScorer | None = None
) -> RawSheet:
    """Read a CSV or XLSX file into text cells with Excel row numbers.

    ``header_scorer`` (given by :func:`batchpay.headers.load_table`) lets the header row be
    found below title rows; without it the first row with two or more filled cells is used.
    Raises :class:`InputError` (one line, naming the file) when the file cannot be read.
    """
    p = Path(path)
    data = _read_bytes(p)
    digest = hashlib.sha256(data).hexdigest()
    suffix = p.suffix.lower()
    problems: list[Problem] = []
    if suffix in CSV_SUFFIXES:
        grid = _read_csv(p, data, problems)
        facts = _Facts()
        sheet_name = None
    elif suffix in XLSX_SUFFIXES:
        grid, facts, sheet_name = _read_xlsx(p, data, sheet, problems)
    else:
        raise _unsupported(p)
    if not any(_row_filled(row) for row in grid):
        where = f"sheet {sheet_name!r}" if sheet_name else "the file"
        raise InputError(
            f"{p.name}: {where} is empty",
            hint="put the header row and the payment rows in it, or pick another "
            "sheet with --sheet",
        )
    return _build(p, sheet_name, grid, facts, problems, digest, header_scorer)


# --- bytes and containers -------------------------------------------------------------------


def _read_bytes(p: Path) -> bytes:
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{p}: file not found", hint="check the path and the file name") from None
    except IsADirectoryError:
        raise InputError(
            f"{p}: is a folder, not a file", hint="give the path of the .xlsx or .csv file"
        ) from None
    except OSError as exc:
        raise InputError(
            f"{p}: cannot be read ({exc.strerror or exc})",
            hint="close it in Excel or check its permissions, then try again",
        ) from None
    if not data:
        raise InputError(
            f"{p.name}: the file is empty (0 bytes)",
            hint="save the sheet again from Excel and retry",
        )
    return data


def _unsupported(p: Path) -> InputError:
    if p.suffix.lower() == ".xls":
        return InputError(
            f"{p.name}: old Excel 97-2003 (.xls) files are not supported",
            hint="open it in Excel and use Save As → Excel Workbook (.xlsx)",
        )
    shown = p.suffix or "no extension"
    return InputError(
        f"{p.name}: unsupported file type ({shown})", hint="save the sheet as .xlsx or .csv"
    )


def _ole2_error(p: Path, data: bytes) -> InputError:
    # Both an encrypted .xlsx and a real .xls are OLE2 containers; only the former holds
    # an EncryptionInfo stream (MS-OFFCRYPTO §2.3.4).
    if _ENCRYPTION_STREAM in data:
        return _encrypted_error(p)
    return InputError(
        f"{p.name}: this is an old Excel 97-2003 (.xls) file with a {p.suffix} name",
        hint="open it in Excel and use Save As → Excel Workbook (.xlsx)",
    )


def _encrypted_error(p: Path) -> InputError:
    return InputError(
        f"{p.name}: the workbook is password-protected",
        hint="open it in Excel, remove the password (File → Info → Protect "
        "Workbook) and save it as .xlsx",
    )


def _looks_like_text(data: bytes) -> bool:
    head = data[:4096]
    return b"\x00" not in head


# --- CSV ------------------------------------------------------------------------------------


def _read_csv(p: Path, data: bytes, problems: list[Problem]) -> list[list[str]]:
    if data.startswith(_ZIP_MAGIC):
        raise InputError(
            f"{p.name}: this is an Excel workbook with a {p.suffix} name",
            hint="rename it to .xlsx, or open it in Excel and Save As CSV UTF-8",
        )
    if data.startswith(_OLE2_MAGIC):
        raise _ole2_error(p, data)
    text = _decode(p, data, problems)
    delimiter = _sniff_delimiter(text)
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=delimiter,
            header=None,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            skip_blank_lines=False,
            engine="c",
        )
    except pd.errors.EmptyDataError:
        return []
    except pd.errors.ParserError as exc:
        unclosed = re.search(r"EOF inside string starting at row (\d+)", str(exc))
        if unclosed:
            row = int(unclosed.group(1)) + 1
            raise InputError(
                f'{p.name}: row {row} opens a quote (") that is never closed, so '
                "every row after it would be read as one cell",
                hint=f"remove the stray quote in row {row} or close it, then save again",
            ) from None
        # A row with more values than the first one (a stray delimiter). pandas refuses
        # ragged rows; the csv module keeps them, and the extra values land in a column of
        # their own where the user can see them.
        try:
            return [list(r) for r in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)]
        except csv.Error as exc:
            raise InputError(
                f"{p.name}: not a readable CSV file ({exc})",
                hint="open it in Excel and save it again as CSV UTF-8",
            ) from None
    rows: list[list[str]] = frame.to_numpy(dtype=object).tolist()
    return rows


def _decode(p: Path, data: bytes, problems: list[Problem]) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        # Excel's "Unicode Text" export is UTF-16 with a BOM.
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass
    elif not _looks_like_text(data):
        raise InputError(
            f"{p.name}: this is not a text CSV file (it contains binary data)",
            hint="open it in Excel and save it as CSV UTF-8 or .xlsx",
        )
    else:
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError:
            pass
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError:
            pass
        else:
            problems.append(
                Problem(
                    None,
                    None,
                    None,
                    "csv-encoding-cp1252",
                    "the file is not UTF-8; it was read as Windows-1252 (Western European)",
                    "check names with accents look right; to be sure, save it from Excel as "
                    "'CSV UTF-8 (Comma delimited)'",
                    severity="warning",
                )
            )
            return text
    raise InputError(
        f"{p.name}: cannot tell the text encoding of this CSV file",
        hint="open it in Excel and save it as 'CSV UTF-8 (Comma delimited)'",
    )


def _sniff_delimiter(text: str) -> str:
    """Pick the delimiter among , ; tab that splits the first lines most consistently.

    csv.Sniffer guesses from character frequencies and is easily fooled by Indonesian
    amounts such as ``1.500.000,00``; counting rows that agree on one width is not.
    """
    sample = text[:65536].splitlines(keepends=True)[:50]
    best, best_score = ",", (0, 0)
    for delimiter in (",", ";", "\t"):
        try:
            widths = [len(r) for r in csv.reader(sample, delimiter=delimiter) if _row_filled(r)]
        except csv.Error:
            continue
        if not widths:
            continue
        mode = max(set(widths), key=lambda w: (widths.count(w), w))
        score = (widths.count(mode) if mode > 1 else 0, mode)
        if score > best_score:
            best, best_score = delimiter, score
    return best


# --- XLSX -----------------------------------------------------------------------------------


def _read_xlsx(
    p: Path, data: bytes, sheet: str | None, problems: list[Problem]
) -> tuple[list[list[str]], _Facts, str]:
    if data.startswith(_OLE2_MAGIC):
        raise _ole2_error(p, data)
    if not data.startswith(_ZIP_MAGIC):
        if _looks_like_text(data):
            head = data[:512].lstrip().lower()
            if head.startswith((b"<html", b"<!doctype", b"<table")):
                raise InputError(
                    f"{p.name}: this is a web page saved with a {p.suffix} name",
                    hint="open it in Excel and use Save As → Excel Workbook (.xlsx)",
                )
            raise InputError(
                f"{p.name}: this is a text file (CSV?) with a {p.suffix} name",
                hint="rename it to .csv, or open it in Excel and save as .xlsx",
            )
        raise InputError(
            f"{p.name}: not an Excel workbook (the file is not a zip archive)",
            hint="open it in Excel and use Save As → Excel Workbook (.xlsx)",
        )
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        names = set(archive.namelist())
    except Exception:  # see _scan_xml below: any zip failure is damage
        raise InputError(
            f"{p.name}: the workbook is damaged (incomplete or corrupt zip)",
            hint="copy or download the file again, or re-save it from Excel",
        ) from None
    if "xl/workbook.xml" not in names:
        raise InputError(
            f"{p.name}: this zip file is not an Excel workbook",
            hint="save the sheet from Excel as Excel Workbook (.xlsx)",
        )
    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
    except PasswordError:
        raise _encrypted_error(p) from None
    except Exception as exc:  # any reader failure on a user's file is damage (see _scan_xml)
        raise InputError(
            f"{p.name}: the workbook is damaged and cannot be read ({_one_line(exc)})",
            hint="open it in Excel, re-save it as .xlsx and try again",
        ) from None
    with workbook:
        index, name = _pick_sheet(p, workbook, sheet, problems)
        try:
            cells = workbook.get_sheet_by_index(index)
            values = cells.to_python(skip_empty_area=False)
            merged = cells.merged_cell_ranges or []
        except Exception as exc:  # see above
            raise InputError(
                f"{p.name}: sheet {name!r} is damaged and cannot be read ({_one_line(exc)})",
                hint="open it in Excel, re-save it as .xlsx and try again",
            ) from None
    facts = _Facts(merged=[(a[0], a[1], b[0], b[1]) for a, b in merged])
    grid = _texts(values, facts)
    try:
        _scan_xml(archive, index, grid, facts)
    except Exception:
        # zipfile and zlib report damage with a dozen exception types (BadZipFile,
        # NotImplementedError for garbled versions, zlib.error, KeyError, …); every one of
        # them means the same thing to the user, who must get one line, never a traceback.
        raise InputError(
            f"{p.name}: the workbook is damaged (sheet {name!r} cannot be read)",
            hint="open it in Excel, re-save it as .xlsx and try again",
        ) from None
    return grid, facts, name


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:160]


def _pick_sheet(
    p: Path, workbook: CalamineWorkbook, sheet: str | None, problems: list[Problem]
) -> tuple[int, str]:
    metas = workbook.sheets_metadata
    names = [m.name for m in metas]
    if sheet is not None:
        if sheet in names:
            return names.index(sheet), sheet
        folded = [i for i, n in enumerate(names) if n.casefold() == sheet.strip().casefold()]
        if len(folded) == 1:
            return folded[0], names[folded[0]]
        listed = ", ".join(repr(n) for n in names)
        raise InputError(
            f"{p.name}: no sheet named {sheet!r}; the sheets are {listed}",
            hint="use --sheet with one of those names",
        )
    for i, meta in enumerate(metas):
        if meta.visible == SheetVisibleEnum.Visible and meta.typ == SheetTypeEnum.WorkSheet:
            skipped = [m.name for m in metas[:i] if m.visible != SheetVisibleEnum.Visible]
            if skipped:
                problems.append(
                    Problem(
                        None,
                        None,
                        ", ".join(skipped),
                        "hidden-sheet-skipped",
                        f"the first sheet is hidden, so the first visible sheet {meta.name!r} "
                        "was read",
                        "if the payments are on the hidden sheet, unhide it or use --sheet NAME",
                        severity="warning",
                    )
                )
            return i, meta.name
    raise InputError(
        f"{p.name}: the workbook has no visible worksheet",
        hint="unhide the sheet with the payments, or use --sheet NAME",
    )


_CellValue = int | float | str | bool | date | datetime | time | timedelta


def _texts(values: list[list[_CellValue]], facts: _Facts) -> list[list[str]]:
    """Turn calamine values into the text Excel shows, noting which cells were numbers."""
    grid: list[list[str]] = []
    for r, row in enumerate(values):
        if all(type(v) is str for v in row):
            grid.append(row)  # type: ignore[arg-type]  # every cell is str: checked above
            continue
        out: list[str] = []
        for c, v in enumerate(row):
            if isinstance(v, str):
                out.append(v)
            elif isinstance(v, float) and v.is_integer() and -1e15 < v < 1e15:
                # The common case (whole numbers) without the Decimal round trip; below 1e15
                # a whole float is exact and has at most 15 digits, as Excel shows it.
                facts.numeric.add((r, c))
                out.append(str(int(v)))
            else:
                if isinstance(v, int | float) and not isinstance(v, bool):
                    facts.numeric.add((r, c))
                out.append(cell_text(v))
        grid.append(out)
    return grid


def cell_text(value: _CellValue) -> str:
    """The text of one cell value; numbers as Excel displays them, never a float repr.

    Excel shows at most 15 significant digits, so ``0.1+0.2`` is ``0.3`` to the user and
    ``816291271826.0`` is ``816291271826``.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return str(value)
        text = format(Decimal(format(value, ".15g")), "f")
        return "0" if text in ("-0", "-0.0") else text
    if isinstance(value, datetime):
        if value.time() == time(0):
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        seconds = int(value.total_seconds())
        return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
    return str(value)


# XML facts calamine does not expose. Excel, LibreOffice, openpyxl and xlsxwriter all write
# unprefixed SpreadsheetML with ``r`` as the first attribute of <c>, which these rely on.
_F_TAG = re.compile(rb"<f[ />]")
_ROW_HIDDEN = re.compile(rb'<row\b[^>]*?\bhidden="(?:1|true)"[^>]*>')
_ATTR_R = re.compile(rb'\br="([A-Z]{1,3})(\d+)"')
_ATTR_ROW_R = re.compile(rb'\br="(\d+)"')
_ATTR_T = re.compile(rb'\bt="(\w+)"')
_V = re.compile(rb"<v>([^<]*)</v>")
_COL_TAG = re.compile(rb"<col\b[^>]*>")
# Excel's General format switches to scientific notation from 12 digits on.
_GENERAL_SCIENTIFIC_FROM = 1e11


def _scan_xml(archive: zipfile.ZipFile, index: int, grid: list[list[str]], facts: _Facts) -> None:
    xml = archive.read(_sheet_part(archive, index))
    if _F_TAG.search(xml):
        for m in _F_TAG.finditer(xml):
            ref = _enclosing_cell(xml, m.start())
            if ref is None:
                continue
            (r, c), attrs, body = ref
            value = _V.search(body)
            has_value = value is not None and value.group(1) != b""
            facts.formulas[(r, c)] = has_value
            if has_value and value is not None and b't="e"' in attrs:
                facts.errors[(r, c)] = html.unescape(value.group(1).decode("utf-8", "replace"))
    if b't="e"' in xml:
        for m in re.finditer(rb't="e"', xml):
            ref = _enclosing_cell(xml, m.start())
            if ref is None:
                continue
            (r, c), _attrs, body = ref
            value = _V.search(body)
            if value is not None:
                facts.errors[(r, c)] = html.unescape(value.group(1).decode("utf-8", "replace"))
    # calamine trims trailing rows and columns that hold no value, which drops a formula
    # that was never calculated; grow the grid so such cells are seen (and reported).
    for r, c in facts.formulas:
        while len(grid) <= r:
            grid.append([""] * len(grid[0]) if grid else [])
        if len(grid[r]) <= c:
            grid[r] = grid[r] + [""] * (c + 1 - len(grid[r]))
    for (r, c), text in facts.errors.items():
        # calamine reads error cells as blank; the user sees "#N/A", so the frame should too.
        if r < len(grid) and c < len(grid[r]):
            grid[r][c] = text
    if b'hidden="' in xml:
        for m in _ROW_HIDDEN.finditer(xml):
            row = _ATTR_ROW_R.search(m.group(0))
            if row:
                facts.hidden_rows.add(int(row.group(1)) - 1)
        for m in _COL_TAG.finditer(xml):
            tag = m.group(0)
            if re.search(rb'\bhidden="(?:1|true)"', tag):
                lo = re.search(rb'\bmin="(\d+)"', tag)
                hi = re.search(rb'\bmax="(\d+)"', tag)
                if lo and hi:
                    facts.hidden_cols.update(range(int(lo.group(1)) - 1, int(hi.group(1))))
    _scan_scientific(archive, xml, grid, facts)


def _enclosing_cell(xml: bytes, pos: int) -> tuple[tuple[int, int], bytes, bytes] | None:
    start = xml.rfind(b"<c ", 0, pos)
    head_end = xml.find(b">", start)
    end = xml.find(b"</c>", head_end)
    if start < 0 or head_end < 0 or end < 0:
        return None
    attrs = xml[start:head_end]
    ref = _ATTR_R.search(attrs)
    if ref is None:
        return None
    return _cell_index(ref.group(1), ref.group(2)), attrs, xml[head_end:end]


def _scan_scientific(
    archive: zipfile.ZipFile, xml: bytes, grid: list[list[str]], facts: _Facts
) -> None:
    """Mark number cells Excel displays as ``8.16291E+11`` (scientific format, or General
    with 12+ digits). Only scans cell styles when such a cell can exist at all."""
    if not facts.numeric:
        return
    scientific_styles, general_styles = _number_format_styles(archive)
    big = {
        rc for rc in facts.numeric if _abs_number(grid[rc[0]][rc[1]]) >= _GENERAL_SCIENTIFIC_FROM
    }
    candidates = facts.numeric if scientific_styles else big
    if not candidates:
        return
    # Only the columns holding candidates are matched: a tenth of the cells in a typical
    # sheet, which keeps a 100,000-row scan well under a second.
    letters = {column_letter(c).encode(): c for c in {c for _, c in candidates}}
    cell = re.compile(rb'<c r="(' + b"|".join(letters) + rb')(\d+)"(?: s="(\d+)")?')
    for m in cell.finditer(xml):
        rc = (int(m.group(2)) - 1, letters[m.group(1)])
        if rc not in candidates:
            continue
        style = int(m.group(3) or 0)
        if style in scientific_styles or (style in general_styles and rc in big):
            facts.scientific.add(rc)


def _abs_number(text: str) -> float:
    try:
        return abs(float(text))
    except ValueError:
        return 0.0


def _number_format_styles(archive: zipfile.ZipFile) -> tuple[set[int], set[int]]:
    """Style indices whose number format is scientific, and those that are General."""
    try:
        styles = archive.read("xl/styles.xml")
    except KeyError:
        return set(), {0}
    custom_scientific = {
        int(m.group(1))
        for m in re.finditer(rb'<numFmt\b[^>]*?numFmtId="(\d+)"[^>]*?formatCode="([^"]*)"', styles)
        if _is_scientific_format(html.unescape(m.group(2).decode("utf-8", "replace")))
    }
    builtin_scientific = {11, 48}  # ECMA-376 §18.8.30: 0.00E+00 and ##0.0E+0
    section = re.search(rb"<cellXfs\b.*?</cellXfs>", styles, re.DOTALL)
    scientific: set[int] = set()
    general: set[int] = set()
    if section is None:
        return scientific, {0}
    for i, xf in enumerate(re.finditer(rb"<xf\b[^>]*>", section.group(0))):
        fmt = re.search(rb'numFmtId="(\d+)"', xf.group(0))
        fmt_id = int(fmt.group(1)) if fmt else 0
        if fmt_id in builtin_scientific or fmt_id in custom_scientific:
            scientific.add(i)
        elif fmt_id == 0:
            general.add(i)
    return scientific, general


def _is_scientific_format(code: str) -> bool:
    """Whether an Excel number format code shows numbers as 8.16E+11.

    Quoted literals ("E-mail"), escaped characters (\\E) and bracketed sections ([$-421],
    [Red]) are not format tokens, so they are removed before looking for E+ / E-.
    """
    tokens = re.sub(r'"[^"]*"|\\.|\[[^\]]*\]', "", code)
    return re.search(r"E[+-]", tokens, re.IGNORECASE) is not None


def _sheet_part(archive: zipfile.ZipFile, index: int) -> str:
    """Zip member of the index-th sheet (workbook order, as calamine numbers them)."""
    workbook = archive.read("xl/workbook.xml")
    sheets = re.findall(rb"<sheet\b[^>]*>", workbook)
    rel_id = re.search(rb'\b\w+:id="([^"]+)"', sheets[index])
    if rel_id is None:
        raise ValueError("sheet without relationship id")
    rels = archive.read("xl/_rels/workbook.xml.rels")
    for rel in re.findall(rb"<Relationship\b[^>]*>", rels):
        if re.search(rb'\bId="' + re.escape(rel_id.group(1)) + rb'"', rel):
            target = re.search(rb'\bTarget="([^"]+)"', rel)
            if target is None:
                break
            part = html.unescape(target.group(1).decode())
            return part.lstrip("/") if part.startswith("/") else "xl/" + part
    raise ValueError("sheet part not found")


def _cell_index(letters: bytes, digits: bytes) -> tuple[int, int]:
    col = 0
    for ch in letters:
        col = col * 26 + (ch - 64)
    return int(digits) - 1, col - 1


def column_letter(index: int) -> str:
    """0 → "A", 27 → "AB"."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


# --- grid → RawSheet ------------------------------------------------------------------------


def _row_filled(row: Sequence[str]) -> bool:
    return any(cell.strip() for cell in row)


def _find_header(grid: list[list[str]], scorer: HeaderScorer | None) -> int:
    candidates = [i for i, row in enumerate(grid) if _row_filled(row)][:_HEADER_SEARCH_ROWS]
    if scorer is not None:
        scores = [scorer([c.strip() for c in grid[i]]) for i in candidates]
        best = max(scores)
        if best >= 2:
            return candidates[scores.index(best)]
    # No known column names: title rows usually have a single filled cell, headers several.
    for i in candidates:
        if sum(1 for c in grid[i] if c.strip()) >= 2:
            return i
    return candidates[0]


def _build(
    p: Path,
    sheet_name: str | None,
    grid: list[list[str]],
    facts: _Facts,
    problems: list[Problem],
    digest: str,
    scorer: HeaderScorer | None,
) -> RawSheet:
    header_at = _find_header(grid, scorer)
    width = max(len(row) for row in grid)
    data_at = (
        [
            i
            for i in range(header_at + 1, len(grid))
            if _row_filled(grid[i]) or any((i, c) in facts.formulas for c in range(width))
        ]
        if facts.formulas
        else [i for i in range(header_at + 1, len(grid)) if _row_filled(grid[i])]
    )
    header_cells = [
        (grid[header_at][c] if c < len(grid[header_at]) else "").strip() for c in range(width)
    ]
    # Keep a column when it has a header or any value, so stray values are never dropped.
    keep = [
        c
        for c in range(width)
        if header_cells[c] or any(c < len(grid[i]) and grid[i][c].strip() for i in data_at)
    ]
    letters = [column_letter(c) for c in keep]
    originals = [header_cells[c] or f"Column {column_letter(c)}" for c in keep]
    headers = _unique(originals)
    column_of = dict(zip(keep, headers, strict=True))
    if len(keep) == width and all(len(grid[i]) == width for i in data_at):
        rows = [grid[i] for i in data_at]  # calamine and pandas give rectangular grids
    else:
        rows = [[grid[i][c] if c < len(grid[i]) else "" for c in keep] for i in data_at]
    frame = (
        pd.DataFrame(rows, columns=headers, dtype=object)
        if rows
        else pd.DataFrame({h: pd.Series([], dtype=object) for h in headers})
    )
    row_numbers = [i + 1 for i in data_at]
    data_rows = set(data_at)

    numeric: dict[str, set[int]] = {}
    for r, c in facts.numeric:
        if r in data_rows and c in column_of:
            numeric.setdefault(column_of[c], set()).add(r + 1)
    scientific: dict[str, set[int]] = {}
    for r, c in facts.scientific:
        if r in data_rows and c in column_of:
            scientific.setdefault(column_of[c], set()).add(r + 1)

    problems.extend(_cell_problems(grid, facts, header_at, data_rows, column_of))
    if not rows:
        problems.append(
            Problem(
                None,
                None,
                None,
                "no-rows",
                "there are no payment rows under the header row",
                "add one row per payment below the header",
            )
        )
    return RawSheet(
        path=p,
        sheet_name=sheet_name,
        headers=headers,
        frame=frame,
        row_numbers=row_numbers,
        problems=problems,
        sha256=digest,
        header_row=header_at + 1,
        original_headers=originals,
        column_letters=letters,
        numeric_cells=numeric,
        scientific_cells=scientific,
    )


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    taken = set(names)
    out = []
    for name in names:
        count = seen.get(name, 0) + 1
        seen[name] = count
        candidate = name if count == 1 else f"{name} ({count})"
        while count > 1 and candidate in taken:
            count += 1
            candidate = f"{name} ({count})"
        taken.add(candidate)
        out.append(candidate)
    return out


def _cell_problems(
    grid: list[list[str]],
    facts: _Facts,
    header_at: int,
    data_rows: set[int],
    column_of: dict[int, str],
) -> list[Problem]:
    out: list[Problem] = []
    for r in sorted(facts.hidden_rows & data_rows):
        out.append(
            Problem(
                r + 1,
                None,
                None,
                "hidden-row",
                "this row is hidden in Excel but would still be paid",
                "unhide the row (select the rows around it → right-click → Unhide) "
                "and check it, or delete it if it should not be paid",
            )
        )
    for c in sorted(facts.hidden_cols):
        if c in column_of:
            out.append(
                Problem(
                    None,
                    column_of[c],
                    None,
                    "hidden-column",
                    "this column is hidden in Excel, so its values cannot be checked by eye",
                    "unhide the column and check it",
                    severity="warning",
                )
            )
    last = max(data_rows, default=header_at)
    for r0, c0, r1, c1 in facts.merged:
        if r1 < header_at or r0 > last:
            continue  # merged title cells above the header, or notes below the rows: harmless
        ref = f"{column_letter(c0)}{r0 + 1}:{column_letter(c1)}{r1 + 1}"
        column = next((column_of[c] for c in range(c0, c1 + 1) if c in column_of), None)
        out.append(
            Problem(
                max(r0, header_at) + 1,
                column,
                ref,
                "merged-cells",
                f"cells {ref} are merged, so only the first of them holds a value",
                "select the cells → Home → Merge & Center to unmerge them, then "
                "type the value into every row",
            )
        )
    for (r, c), has_value in facts.formulas.items():
        if r not in data_rows or c not in column_of:
            continue
        value = grid[r][c] if c < len(grid[r]) else ""
        if (r, c) in facts.errors:
            continue  # reported as an error value below
        if has_value:
            out.append(
                Problem(
                    r + 1,
                    column_of[c],
                    value,
                    "formula-cached",
                    "this cell is a formula; the value Excel last calculated is used",
                    "check the value is right, or paste it as a value (Paste Special → Values)",
                    severity="warning",
                )
            )
        else:
            out.append(
                Problem(
                    r + 1,
                    column_of[c],
                    "",
                    "formula-no-value",
                    "this cell is a formula that has never been calculated, so it has no value",
                    "open the file in Excel, let it calculate and "
                    "save it, or type the value instead of the formula",
                )
            )
    for (r, c), text in facts.errors.items():
        if r in data_rows and c in column_of:
            out.append(
                Problem(
                    r + 1,
                    column_of[c],
                    text,
                    "error-value",
                    f"this cell shows the Excel error {text}",
                    "fix the formula or type the correct value",
                )
            )
    return out
