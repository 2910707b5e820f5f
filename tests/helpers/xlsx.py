"""Builders for real test spreadsheets: XLSX written by openpyxl (optionally patched at the XML
level for what openpyxl cannot write, such as cached formula values), CSVs in the encodings
and dialects clerks actually produce, and the non-workbooks people rename to .xlsx.

Every builder takes the target path and returns it, so tests read as
``load_sheet(write_xlsx(tmp_path / "bonus.xlsx", rows))``.
"""

from __future__ import annotations

import re
import struct
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

Row = Sequence[Any]

PAYOUT_LINK_HEADER = [
    "Amount",
    "Sender Name",
    "Receiver Name",
    "Receiver Phone Number",
    "Receiver Email",
    "Reference ID",
    "Description",
    "Currency",
]
SUB_ACCOUNT_PAYOUT_HEADER = [
    "Account ID",
    "Amount",
    "Invoice Number",
    "Bank Code",
    "Bank Account Number",
    "Bank Account Name",
]
FIRST_NAMES = ["Siti", "Budi", "Dewi", "Agus", "Rina", "Eko", "Putri", "Joko", "Ayu", "Hendra"]
LAST_NAMES = ["Rahayu", "Santoso", "Wijaya", "Saputra", "Lestari", "Hidayat", "Kusuma"]


def write_xlsx(
    path: Path,
    rows: Iterable[Row],
    *,
    title: str = "Sheet1",
    text_columns: Iterable[int] = (),
    number_formats: Mapping[str, str] | None = None,
    hidden_rows: Iterable[int] = (),
    hidden_columns: Iterable[str] = (),
    merged: Iterable[str] = (),
    sheets_before: Sequence[tuple[str, str]] = (),
    sheets_after: Sequence[tuple[str, str]] = (),
) -> Path:
    """Write ``rows`` (row 1 first) to one worksheet.

    ``text_columns`` (1-based) get the Text number format ("@"), as the templates do;
    ``number_formats`` maps a cell ("B2") to a format code; ``sheets_before``/``after`` add
    ``(name, state)`` sheets, state being "visible", "hidden" or "veryHidden", each with a
    single "ignored" cell. Strings starting with "=" are written as formulas.
    """
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = title
    text = set(text_columns)
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row, start=1):
            if value is None:
                continue
            cell = ws.cell(row=r, column=c, value=value)
            if c in text:
                cell.number_format = "@"
    for ref, fmt in (number_formats or {}).items():
        ws[ref].number_format = fmt
    for r in hidden_rows:
        ws.row_dimensions[r].hidden = True
    for letter in hidden_columns:
        ws.column_dimensions[letter].hidden = True
    for ref in merged:
        ws.merge_cells(ref)
    for i, (name, state) in enumerate(sheets_before):
        extra = wb.create_sheet(name, i)
        extra["A1"] = "ignored"
        extra.sheet_state = state
    for name, state in sheets_after:
        extra = wb.create_sheet(name)
        extra["A1"] = "ignored"
        extra.sheet_state = state
    if sheets_before:
        wb.active = len(sheets_before)
    wb.save(path)
    return path


def write_big_xlsx(path: Path, rows: Iterable[Row], *, text_columns: Iterable[int] = ()) -> Path:
    """Write many rows fast (openpyxl write-only mode), for timing tests."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Sheet1")
    text = set(text_columns)
    for row in rows:
        out = []
        for c, value in enumerate(row, start=1):
            cell = WriteOnlyCell(ws, value=value)
            if c in text:
                cell.number_format = "@"
            out.append(cell)
        ws.append(out)
    wb.save(path)
    return path


def patch_sheet_xml(path: Path, edit: Callable[[bytes], bytes], *, part: str | None = None) -> Path:
    """Rewrite one worksheet's XML inside the zip (default: the first sheet)."""
    target = part or "xl/worksheets/sheet1.xml"
    with zipfile.ZipFile(path) as src:
        items = [(info, src.read(info.filename)) for info in src.infolist()]
    edited = [(info, edit(data) if info.filename == target else data) for info, data in items]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for info, data in edited:
            out.writestr(info, data)
    return path


def set_cached_values(path: Path, values: Mapping[str, str], *, error: bool = False) -> Path:
    """Give formula cells the cached result Excel would have saved with them.

    openpyxl writes formulas without a value (``<f>…</f><v />``), exactly what a file from a
    generator that never ran Excel looks like; this adds ``<v>value</v>`` as Excel does, with
    ``t="e"`` for an error result such as ``#DIV/0!``.
    """

    def edit(xml: bytes) -> bytes:
        for ref, value in values.items():
            pattern = re.compile(
                rb'<c r="' + ref.encode() + rb'"([^>]*)>(<f>.*?</f>)<v\s*/>', re.DOTALL
            )
            attrs = b' t="e"' if error else (b' t="str"' if not _is_number(value) else b"")

            def fill(m: re.Match[bytes], head: bytes = attrs, cached: str = value) -> bytes:
                start = m.group(0)[: m.start(1) - m.start(0)]  # '<c r="B2"'
                return (
                    start
                    + m.group(1)
                    + head
                    + b">"
                    + m.group(2)
                    + b"<v>"
                    + cached.encode()
                    + b"</v>"
                )

            xml, count = pattern.subn(fill, xml)
            assert count == 1, f"no uncached formula in {ref}"
        return xml

    return patch_sheet_xml(path, edit)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def write_csv(
    path: Path,
    rows: Iterable[Row],
    *,
    delimiter: str = ",",
    encoding: str = "utf-8",
    bom: bool = False,
    newline: str = "\r\n",
) -> Path:
    """Write a CSV as Excel does: fields quoted only when needed, CRLF line ends."""
    lines = []
    for row in rows:
        lines.append(delimiter.join(_quote(str(v), delimiter) for v in row))
    data = (newline.join(lines) + newline).encode(encoding)
    if bom:
        data = b"\xef\xbb\xbf" + data
    path.write_bytes(data)
    return path


def _quote(value: str, delimiter: str) -> str:
    if any(ch in value for ch in (delimiter, '"', "\n", "\r")):
        return '"' + value.replace('"', '""') + '"'
    return value


def write_cfb(path: Path, *, encrypted: bool) -> Path:
    """An OLE2 compound file as Excel writes for an encrypted .xlsx (``EncryptionInfo`` and
    ``EncryptedPackage`` streams) or for a real 97-2003 .xls (a ``Workbook`` stream).

    Only the header signature and the directory entry names matter to a reader deciding
    what the file is; the rest is zero-filled sectors of the right size.
    """
    header = bytearray(512)
    header[0:8] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    struct.pack_into("<HHHH", header, 24, 0x3E, 3, 0xFFFE, 9)  # minor, major, BOM, 512 B
    struct.pack_into("<I", header, 48, 1)  # first directory sector
    names = (
        ["Root Entry", "EncryptionInfo", "EncryptedPackage"]
        if encrypted
        else ["Root Entry", "Workbook"]
    )
    directory = bytearray(512)
    for i, name in enumerate(names):
        raw = name.encode("utf-16-le") + b"\x00\x00"
        directory[i * 128 : i * 128 + len(raw)] = raw
        struct.pack_into("<H", directory, i * 128 + 64, len(raw))
        directory[i * 128 + 66] = 5 if i == 0 else 2  # root storage / stream
    path.write_bytes(bytes(header) + bytes(512) + bytes(directory) + bytes(1024))
    return path


def payout_link_rows(count: int, *, start: int = 1) -> list[list[str]]:
    """Realistic payout-link rows, every cell text (as a Text-formatted template holds them)."""
    rows = []
    for i in range(start, start + count):
        first = FIRST_NAMES[i % len(FIRST_NAMES)]
        last = LAST_NAMES[i % len(LAST_NAMES)]
        rows.append(
            [
                str(500000 + (i % 40) * 25000),
                "PT Maju Jaya",
                f"{first} {last}",
                f"0812{i:08d}",
                f"{first.lower()}.{last.lower()}{i}@example.co.id",
                f"BONUS-2026-{i:06d}",
                "Bonus Q4 2026",
                "IDR",
            ]
        )
    return rows
