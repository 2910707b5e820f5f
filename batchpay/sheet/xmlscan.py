"""Cell facts python-calamine does not expose, read from the sheet's XML with byte searches;
and the size limits a workbook must pass before calamine reads it.

A full openpyxl pass costs ~10 s per 100,000 rows even in read-only mode, whereas
``bytes.find`` over the XML is milliseconds, and the per-cell regex work only runs when the
cheap search says there is something to find.

Limits (issue 8, finding 8): calamine builds a whole sheet in memory — about three times the
XML, plus a dense grid of every cell between A1 and the last one — so a 1 MB zip that unpacks
to 1 GiB of XML, a million-row sheet past Excel's last row, or two cells far apart would
exhaust memory and time. :func:`measure_part` and :func:`measure_sheet` stream a part in 1 MiB
pieces, counting the bytes really unpacked (a zip's declared sizes are only a first, cheap
refusal, never trusted to accept), and raise :class:`LimitExceeded` at the first limit passed.
"""

from __future__ import annotations

import copy
import html
import re
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from batchpay.sheet.cells import column_letter
from batchpay.sheet.grid import TEXT
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


MAX_ROWS = 1_048_576  # Excel's last row
MAX_COLUMNS = 16_384  # Excel's last column, XFD
# The dense grid calamine builds (last row × last column): a full-height sheet 32 columns wide.
MAX_CELLS = MAX_ROWS * 32
# Unpacked XML per part. A full-height payment sheet is ~300 MB of XML; calamine needs about
# three times a part's size in memory.
MAX_PART_BYTES = 512 << 20
# measure_sheet keeps a sheet's XML up to this size for xml_facts, so it is unpacked once.
_KEEP_BYTES = 64 << 20
_PIECE = 1 << 20
_TAIL = 32  # bytes of one piece carried into the next, so no match is cut in two
# Rare matches only, so this stays about as fast as a byte search: a cell reference with two
# or more letters (column AA or later), or any row number with seven or more digits.
_FAR_REF = re.compile(rb' r="(?:([A-Z]{2,})|[A-Z]{0,3}(\d{7,}))')
_ROOT_PREFIX = re.compile(rb"<(?:([A-Za-z_][\w.-]*):)?worksheet\b")


class LimitExceeded(Exception):
    """A part of the workbook is bigger than any real sheet; ``str()`` says how."""


@dataclass
class SheetSize:
    """What :func:`measure_sheet` counted."""

    size: int  # unpacked bytes of XML
    rows: int  # <row> elements
    last_row: int  # highest row number in a reference (0 = none past 999,999)
    last_column: int  # highest column number in a reference (1 = only column A … Z)
    xml: bytes | None  # the XML when at most _KEEP_BYTES, so it need not be unpacked again


def sheet_part(archive: zipfile.ZipFile, index: int) -> str:
    """Zip member of the ``index``-th sheet (workbook order, as calamine numbers them)."""
    return _sheet_part(archive, index)


def sheet_xml(archive: zipfile.ZipFile, index: int) -> bytes:
    """The XML of the ``index``-th sheet (workbook order, as calamine numbers them)."""
    return archive.read(_sheet_part(archive, index))


def _pieces(archive: zipfile.ZipFile, part: str, limit: int) -> Iterator[bytes]:
    """The unpacked part in pieces, refusing a declared or an actual size over ``limit``
    before that many bytes are unpacked.

    A deflated part is inflated here from its raw bytes until its deflate stream ends — what
    calamine's own zip reader does — so a directory that understates the size cannot hide
    the real one (zipfile stops at the declared size)."""
    info = archive.getinfo(part)
    if info.file_size > limit:
        raise LimitExceeded(_too_big(part, info, info.file_size, limit))
    size = 0
    for piece in _inflated(archive, info):
        size += len(piece)
        if size > limit:
            raise LimitExceeded(_too_big(part, info, size, limit))
        yield piece
    if size != info.file_size:
        raise zipfile.BadZipFile(f"{part}: unpacks to {size} bytes, the zip says {info.file_size}")


def _inflated(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Iterator[bytes]:
    if info.compress_type != zipfile.ZIP_DEFLATED or info.flag_bits & 0x1:
        with archive.open(info) as stream:  # stored: its size is its size; others: damage
            while piece := stream.read(_PIECE):
                yield piece
        return
    raw = copy.copy(info)  # the same member read as stored: its compressed bytes
    raw.compress_type = zipfile.ZIP_STORED
    raw.file_size = info.compress_size
    del raw.CRC  # those bytes are not what the CRC covers
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    with archive.open(raw) as stream:
        while not inflater.eof and (packed := stream.read(_PIECE >> 2)):
            piece = inflater.decompress(packed, _PIECE)
            while True:
                if piece:
                    yield piece
                if not inflater.unconsumed_tail or inflater.eof:
                    break
                piece = inflater.decompress(inflater.unconsumed_tail, _PIECE)
    if not inflater.eof:
        raise zipfile.BadZipFile(f"{info.filename}: the compressed data is incomplete")


def _too_big(part: str, info: zipfile.ZipInfo, size: int, limit: int) -> str:
    what = "its sheet XML" if "worksheets/" in part else f"its part {part}"
    text = f"{what} unpacks to more than {limit >> 20} MiB"
    if size > 100 * max(info.compress_size, 1):
        text += (
            f" from {_mib(info.compress_size)} packed (a compressed file this small cannot hold "
            "a real sheet that large)"
        )
    return text


def _mib(n: int) -> str:
    return f"{n / (1 << 20):.1f} MiB" if n >= 1 << 20 else f"{max(n >> 10, 1)} KiB"


def measure_part(archive: zipfile.ZipFile, part: str, limit: int = MAX_PART_BYTES) -> int:
    """Unpacked size of ``part`` (streamed, bounded memory); :class:`LimitExceeded` over
    ``limit``."""
    return sum(len(piece) for piece in _pieces(archive, part, limit))


def measure_sheet(archive: zipfile.ZipFile, part: str, limit: int = MAX_PART_BYTES) -> SheetSize:
    """Stream a sheet's XML once, counting bytes, rows, the last row and the last column;
    :class:`LimitExceeded` as soon as one passes Excel's limits or ``limit`` bytes."""
    kept: list[bytes] | None = []
    size = rows = last_row = 0
    last_column = 1
    tail = b""
    row_tag = b"<row"
    for piece in _pieces(archive, part, limit):
        if not size:
            root = _ROOT_PREFIX.search(piece, 0, 4096)
            if root is not None and root.group(1):
                row_tag = b"<" + root.group(1) + b":row"
        size += len(piece)
        if kept is not None:
            kept.append(piece)
            if size > _KEEP_BYTES:
                kept = None  # unpacked again later, so memory stays bounded
        window = tail + piece
        rows += window.count(row_tag) - tail.count(row_tag)
        if _other_spellings(window):
            # Other (valid) spellings of the attribute, made to match the fast pattern.
            window = window.replace(b"r='", b'r="').translate(_BLANKS_TO_SPACE)
        for m in _FAR_REF.finditer(window) if _far_ref_in(window) else ():
            if m.group(1):
                last_column = max(last_column, _column_number(m.group(1)))
            else:
                last_row = max(last_row, int(m.group(2)))
        _check_sheet_limits(rows, last_row, last_column)
        tail = piece[-_TAIL:]
    xml = b"".join(kept) if kept is not None else None
    return SheetSize(size, rows, last_row, last_column, xml)


_BLANKS_TO_SPACE = bytes.maketrans(b"\t\n\r", b"   ")
_FAR_REF_TEXT = _FAR_REF.pattern.decode()


def _far_ref_in(window: bytes) -> bool:
    """Whether ``window`` has a match of :data:`_FAR_REF`. pyarrow's RE2 answers in a third
    of the time of Python's ``re`` and without the GIL, so Python's regex only runs where
    there is a match. The window is handed over as one binary value built from its buffer
    (no copy, no UTF-8 check): converting a Python object would import pandas, 0.3 s that
    the validation imports on another thread meanwhile (cli/startup.py)."""
    offsets = pa.py_buffer(struct.pack("<ii", 0, len(window)))
    value = pa.Array.from_buffers(pa.binary(), 1, [None, offsets, pa.py_buffer(window)])
    return bool(pc.match_substring_regex(value, _FAR_REF_TEXT)[0].as_py())


def _other_spellings(window: bytes) -> bool:
    """Whether ``window`` may spell an ``r`` attribute as ``r='…'`` or after a tab or line
    break. Single-byte searches first: they are many times faster than the pairs."""
    return (
        (b"'" in window and b"r='" in window)
        or (b"\t" in window and b"\tr=" in window)
        or (b"\n" in window and b"\nr=" in window)
        or (b"\r" in window and b"\rr=" in window)
    )


def _check_sheet_limits(rows: int, last_row: int, last_column: int) -> None:
    if rows > MAX_ROWS:
        raise LimitExceeded(f"it has more than {MAX_ROWS:,} rows, more than Excel allows")
    if last_row > MAX_ROWS:
        raise LimitExceeded(
            f"it has a cell in row {last_row:,}, past Excel's last row {MAX_ROWS:,}"
        )
    if last_column > MAX_COLUMNS:
        raise LimitExceeded("it has a cell past Excel's last column XFD")
    height = max(rows, last_row)
    if height * last_column > MAX_CELLS:
        raise LimitExceeded(
            f"its cells span {height:,} rows × {last_column:,} columns, more than the "
            f"{MAX_CELLS:,} cells batchpay reads"
        )


def _column_number(letters: bytes) -> int:
    col = 0
    for ch in letters:
        col = col * 26 + (ch - 64)
    return col


def xml_facts(xml: bytes, facts: Facts) -> None:
    """Record the formulas, error cells and hidden rows and columns of a sheet in ``facts``:
    what needs the XML alone, so it runs while calamine parses the same sheet (see
    :func:`with_xml_facts` for the rest)."""
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


def with_xml_facts(
    archive: zipfile.ZipFile, xml: bytes, columns: list[pa.Array], facts: Facts
) -> list[pa.Array]:
    """Once calamine's values are text (``facts`` holds :func:`xml_facts` and the number
    cells): ``columns`` grown to include formula cells calamine dropped, with error cells
    showing the text Excel shows, and the scientific-notation cells recorded."""
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
