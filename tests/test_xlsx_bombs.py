"""XLSX bombs (issue 8, finding 8): small files whose sheet XML unpacks to hundreds of MiB, holds
more rows than Excel allows, or spans a grid of billions of cells. Each must be refused with one
line (exit 2) before calamine reads the sheet, in seconds and bounded memory.

The bombs are built here with zipfile, the sheet XML streamed into the archive so that building
a 600 MiB sheet never holds it in memory.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from batchpay.errors import InputError
from batchpay.sheet import load_sheet
from batchpay.sheet.xmlscan import MAX_PART_BYTES, MAX_ROWS

NS = b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
REL_NS = b'xmlns="http://schemas.openxmlformats.org/package/2006/relationships"'
OFFICE = b"http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PARTS = {
    "[Content_Types].xml": b'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas'
    b'.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="'
    b'application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" '
    b'ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="'
    b'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override '
    b'PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-'
    b'officedocument.spreadsheetml.worksheet+xml"/></Types>',
    "_rels/.rels": b"<Relationships "
    + REL_NS
    + b'><Relationship Id="rId1" Type="'
    + OFFICE
    + b'/officeDocument" Target="xl/workbook.xml"/></Relationships>',
    "xl/workbook.xml": b"<workbook " + NS + b' xmlns:r="' + OFFICE + b'"><sheets><sheet '
    b'name="Pay" sheetId="1" r:id="rId1"/></sheets></workbook>',
    "xl/_rels/workbook.xml.rels": b"<Relationships " + REL_NS + b'><Relationship Id="rId1" '
    b'Type="' + OFFICE + b'/worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
}
SHEET = "xl/worksheets/sheet1.xml"
HEADER = b'<row r="1"><c r="A1" t="inlineStr"><is><t>Amount</t></is></c></row>'


def write_workbook(path: Path, sheet_xml: Iterable[bytes], *, zip64: bool = True) -> Path:
    """A minimal workbook whose one sheet's XML is streamed from ``sheet_xml``."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, data in PARTS.items():
            archive.writestr(name, data)
        with archive.open(SHEET, "w", force_zip64=zip64) as stream:
            stream.write(b'<?xml version="1.0" encoding="UTF-8"?><worksheet ' + NS + b">")
            for piece in sheet_xml:
                stream.write(piece)
            stream.write(b"</worksheet>")
    return path


def _sheet_data(rows: Iterable[bytes]) -> Iterator[bytes]:
    yield b"<sheetData>"
    yield from rows
    yield b"</sheetData>"


def _whitespace(mib: int) -> Iterator[bytes]:
    """A header row, then ``mib`` MiB of spaces inside sheetData."""
    block = b" " * (1 << 20)
    yield b"<sheetData>" + HEADER
    for _ in range(mib):
        yield block
    yield b"</sheetData>"


def _many_rows(count: int) -> Iterator[bytes]:
    yield b"<sheetData>" + HEADER
    row = b"<row><c><v>1</v></c></row>"  # no r=: only the count can tell how deep it goes
    for _ in range(count // 10_000):
        yield row * 10_000
    yield b"</sheetData>"


@pytest.fixture(scope="module")
def whitespace_bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """600 MiB of sheet XML (over the default 512 MiB cap) in a file of about 600 KB."""
    path = tmp_path_factory.mktemp("bombs") / "whitespace.xlsx"
    write_workbook(path, _whitespace(600), zip64=False)
    return path


# Runs the command as its own child and writes that child's peak RSS (KiB) to argv[1]. A
# direct child of pytest would not do: Linux carries the parent's high-water RSS into a
# forked child across exec, so the figure would be pytest's own size.
_PEAK_WRAPPER = """
import resource, subprocess, sys
code = subprocess.call(sys.argv[2:])
with open(sys.argv[1], "w") as fh:
    fh.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
sys.exit(code)
"""


def _validate(path: Path, tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], float, int]:
    """``batchpay validate PATH`` in a subprocess: result, seconds, its peak RSS in MiB."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATCHPAY_")}
    env["BATCHPAY_HOME"] = str(tmp_path / "home")
    peak_file = tmp_path / "peak-kib.txt"
    start = time.monotonic()
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            _PEAK_WRAPPER,
            str(peak_file),
            sys.executable,
            "-m",
            "batchpay",
            "validate",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=tmp_path,
    )
    took = time.monotonic() - start
    return done, took, int(peak_file.read_text()) // 1024


def _assert_one_line_refusal(done: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr + done.stdout
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


# --- through the CLI: exit 2, one line, seconds, bounded memory ---------------------------------


def test_validate_whitespace_bomb_refused_fast_in_bounded_memory(
    whitespace_bomb: Path, tmp_path: Path
) -> None:
    assert whitespace_bomb.stat().st_size < 2 << 20
    done, took, peak_mib = _validate(whitespace_bomb, tmp_path)
    line = _assert_one_line_refusal(
        done,
        "whitespace.xlsx",
        "sheet 'Pay'",
        f"unpacks to more than {MAX_PART_BYTES >> 20} MiB",
        "a compressed file this small cannot hold a real sheet that large",
        "export the sheet as CSV",
    )
    assert "\n" not in line
    assert took < 60, took  # ~2 s on a quiet machine; generous for shared CI cores
    assert peak_mib < 250, peak_mib


def test_validate_row_bomb_refused_fast_in_bounded_memory(tmp_path: Path) -> None:
    path = write_workbook(tmp_path / "rows.xlsx", _many_rows(MAX_ROWS + 10_000))
    done, took, peak_mib = _validate(path, tmp_path)
    _assert_one_line_refusal(
        done, "rows.xlsx", "sheet 'Pay'", f"more than {MAX_ROWS:,} rows", "save it again"
    )
    assert took < 60, took
    assert peak_mib < 250, peak_mib


# --- in process: the other shapes of bomb ------------------------------------------------------


def test_load_sheet_row_past_excel_last_row_refused(tmp_path: Path) -> None:
    far = b'<row r="3000000"><c r="A3000000"><v>1</v></c></row>'
    path = write_workbook(tmp_path / "deep.xlsx", _sheet_data([HEADER, far]))
    with pytest.raises(InputError, match="a cell in row 3,000,000, past Excel's last row"):
        load_sheet(path)


def test_load_sheet_two_far_apart_cells_refused(tmp_path: Path) -> None:
    """Two cells, A1 and XFD1048576: calamine would build a grid of 17 billion cells."""
    far = b'<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>'
    path = write_workbook(tmp_path / "sparse.xlsx", _sheet_data([HEADER, far]))
    start = time.monotonic()
    with pytest.raises(InputError, match=r"its cells span 1,048,576 rows × 16,384 columns"):
        load_sheet(path)
    assert time.monotonic() - start < 10


def test_load_sheet_attribute_spelled_otherwise_still_counted(tmp_path: Path) -> None:
    far = b"<row r='40000'>\n<c\nr='ZZZ40000'><v>1</v></c></row>"
    path = write_workbook(tmp_path / "quotes.xlsx", _sheet_data([HEADER, far]))
    with pytest.raises(InputError, match="past Excel's last column XFD"):
        load_sheet(path)


def test_load_sheet_understated_zip_size_still_refused(
    whitespace_bomb: Path, tmp_path: Path
) -> None:
    """The zip's directory says the sheet is 1 KB; the deflate stream says 600 MiB."""
    path = tmp_path / "liar.xlsx"
    shutil.copy(whitespace_bomb, path)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(SHEET)
    offset = info.header_offset
    assert data[offset : offset + 4] == b"PK\x03\x04"
    struct.pack_into("<I", data, offset + 22, 1024)  # local header: uncompressed size
    central = data.rfind(b"PK\x01\x02" + data[offset + 4 : offset + 8])
    name_at = data.find(SHEET.encode(), central)
    entry = data.rfind(b"PK\x01\x02", 0, name_at)
    struct.pack_into("<I", data, entry + 24, 1024)  # central directory: uncompressed size
    path.write_bytes(bytes(data))
    with zipfile.ZipFile(path) as archive:
        assert archive.getinfo(SHEET).file_size == 1024
    start = time.monotonic()
    with pytest.raises(InputError, match="unpacks to more than 512 MiB"):
        load_sheet(path)
    assert time.monotonic() - start < 30


def test_load_sheet_normal_sheet_under_the_limits_read(tmp_path: Path) -> None:
    head = b'<row r="1"><c r="A1" t="inlineStr"><is><t>Amount</t></is></c>'
    head += b'<c r="AB1" t="inlineStr"><is><t>Note</t></is></c></row>'
    rows = [head] + [
        b'<row r="%d"><c r="A%d"><v>%d</v></c><c r="AB%d"><v>7</v></c></row>' % (i, i, i, i)
        for i in range(2, 2002)
    ]
    path = write_workbook(tmp_path / "fine.xlsx", _sheet_data(rows))
    sheet = load_sheet(path)
    assert len(sheet.frame) == 2000


def test_measure_sheet_finds_far_cells_across_pieces_without_importing_pandas(
    tmp_path: Path,
) -> None:
    """The size scan's RE2 pre-check: a column past Z and a seven-digit row, both in the last
    of several 1 MiB pieces, found in a fresh interpreter that never imports pandas for it
    (pandas loads on another thread while calamine parses)."""
    filler = b"".join(
        b'<row r="%d"><c r="A%d"><v>%d</v></c></row>' % (i, i, i) for i in range(2, 60_000)
    )
    assert len(filler) > 1 << 21  # the scan reads 1 MiB pieces: this spans three or more
    far = b'<row r="999999"><c r="AF999999"><v>1</v></c><c r="C1000001"><v>2</v></c></row>'
    path = write_workbook(tmp_path / "far.xlsx", _sheet_data([HEADER, filler, far]))
    code = (
        "import sys, zipfile\n"
        "from batchpay.sheet import xmlscan\n"
        f"archive = zipfile.ZipFile({str(path)!r})\n"
        "size = xmlscan.measure_sheet(archive, xmlscan.sheet_part(archive, 0))\n"
        "print(size.last_column, size.last_row, 'pandas' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["32", "1000001", "False"]
