"""Cell facts python-calamine does not expose, read from the sheet's XML with byte searches.

A full openpyxl pass costs ~10 s per 100,000 rows even in read-only mode, whereas
``bytes.find`` over the XML is milliseconds, and the per-cell regex work only runs when the
cheap search says there is something to find.
"""

from __future__ import annotations

import html
import re
import zipfile

import pyarrow as pa

from batchpay.sheet.grid import TEXT, column_letter
from batchpay.sheet.model import Facts

# XML facts calamine does not expose. Excel, LibreOffice, openpyxl and xlsxwriter all write
# unprefixed SpreadsheetML with ``r`` as the first attribute of <c>, which these rely on.
_F_TAG = re.compile(rb"<f[ />]")
_ROW_HIDDEN = re.compile(rb'<row\b[^>]*?\bhidden="(?:1|true)"[^>]*>')
_ATTR_R = re.compile(rb'\br="([A-Z]{1,3})(\d+)"')
_ATTR_ROW_R = re.compile(rb'\br="(\d+)"')
_ATTR_T = re.compile(rb'\bt="(\w+)"')
_V = re.compile(rb"<v>([^<]*)</v>")
_COL_TAG = re.compile(rb"<col\b[^>]*>")


def sheet_xml(archive: zipfile.ZipFile, index: int) -> bytes:
    """The XML of the ``index``-th sheet (workbook order, as calamine numbers them)."""
    return archive.read(_sheet_part(archive, index))


def scan_xml(
    archive: zipfile.ZipFile, xml: bytes, columns: list[pa.Array], facts: Facts
) -> list[pa.Array]:
    """Record formulas, error cells, hidden rows/columns and scientific-notation cells of
    a sheet in ``facts``. Returns ``columns`` grown to include formula cells calamine
    dropped, with error cells showing the text Excel shows."""
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
    # that was never calculated; grow the columns so such cells are seen (and reported).
    if facts.formulas or facts.errors:
        lists = [c.to_pylist() for c in columns]
        if facts.formulas:
            rows = max(max(r for r, _ in facts.formulas) + 1, len(lists[0]) if lists else 0)
            width = max(max(c for _, c in facts.formulas) + 1, len(lists))
            lists.extend([] for _ in range(width - len(lists)))
            for column in lists:
                column.extend([""] * (rows - len(column)))
        for (r, c), text in facts.errors.items():
            # calamine reads error cells as blank; the user sees "#N/A", so the frame
            # should too.
            if c < len(lists) and r < len(lists[c]):
                lists[c][r] = text
        columns = [pa.array(column, type=TEXT) for column in lists]
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
    _scan_scientific(archive, xml, facts)
    return columns


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


def _scan_scientific(archive: zipfile.ZipFile, xml: bytes, facts: Facts) -> None:
    """Mark number cells Excel displays as ``8.16291E+11`` (scientific format, or General
    with 12+ digits). Only scans cell styles when such a cell can exist at all."""
    if not facts.numeric:
        return
    scientific_styles, general_styles = _number_format_styles(archive)
    big = facts.large_numbers
    candidates = facts.numeric if scientific_styles else big
    if not candidates:
        return
    # Only the columns holding candidates are matched: a tenth of the cells in a typical
    # sheet, which keeps a 100,000-row scan well under a second.
    letters = {column_letter(c).encode(): c for c in candidates}
    cell = re.compile(rb'<c r="(' + b"|".join(letters) + rb')(\d+)"(?: s="(\d+)")?')
    for m in cell.finditer(xml):
        r, c = int(m.group(2)) - 1, letters[m.group(1)]
        if r not in candidates[c]:
            continue
        style = int(m.group(3) or 0)
        if style in scientific_styles or (style in general_styles and r in big.get(c, ())):
            facts.scientific.add((r, c))


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
