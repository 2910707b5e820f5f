"""Issue 12, validation side: the speed-ups keep what the user gets.

* ``batchpay validate`` (report written) never imports openpyxl: the report is XlsxWriter,
  and openpyxl's fonts and fills are made only when templates or tests ask for them;
* the table's index comes from the loader's row-number array, and from ``row_numbers`` when
  someone replaced those;
* a large file is hashed on a thread of its own: the digest is the file's SHA-256;
* a CSV with Excel's UTF-8 BOM reads as the same cells as without it (a view past the BOM,
  not a copy).

No timings here (the machine is shared): benchmarks/validation_speed.py and startup.py
measure.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

import batchpay.workbook as workbook
from batchpay.headers import resolve
from batchpay.sheet import load_sheet

HEADER = "receiver_name,receiver_phone_number,receiver_email,amount,reference_id,sender_name\n"


def _csv(path: Path, rows: int, *, bom: bool = False) -> Path:
    lines = [
        f"Orang {i},08161234{i % 10000:04d},orang{i}@example.co.id,{150000 + i},"
        f"REF-{i:07d},PT Maju\n"
        for i in range(rows)
    ]
    data = (HEADER + "".join(lines)).encode()
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    return path


def _validate_in_child(
    tmp_path: Path, sheet: Path, codes: tuple[int, ...], after: str
) -> subprocess.CompletedProcess[str]:
    """``batchpay validate SHEET --report r.xlsx`` in a fresh interpreter (exit status in
    ``codes``), then the Python lines ``after``."""
    code = (
        "import sys\n"
        "from batchpay.cli import main\n"
        "try:\n"
        f"    main(['validate', {str(sheet)!r}, '--report', {str(tmp_path / 'r.xlsx')!r}])\n"
        "except SystemExit as exc:\n"
        f"    assert (exc.code or 0) in {codes!r}, exc.code\n" + after
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, check=False
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "r.xlsx").exists()
    return done


def test_validate_with_report_does_not_import_openpyxl(tmp_path: Path) -> None:
    sheet = _csv(tmp_path / "bonus.csv", 5)
    done = _validate_in_child(
        tmp_path, sheet, (0, 1), "print('OPENPYXL', 'openpyxl' in sys.modules)\n"
    )
    assert "valid: 5 rows" in done.stdout
    assert "OPENPYXL False" in done.stdout


def test_validate_does_not_import_hypothesis_yet_a_later_import_works(tmp_path: Path) -> None:
    """pandera would import hypothesis (0.13 s) for strategies batchpay never uses; it is
    hidden only while pandera loads, so the rows are still checked by the model (a repeated
    reference is found) and hypothesis imports normally afterwards."""
    pytest.importorskip("hypothesis")  # the test environment has it; the check needs it
    sheet = _csv(tmp_path / "bonus.csv", 5)
    sheet.write_text(sheet.read_text() + sheet.read_text().splitlines()[1] + "\n")
    done = _validate_in_child(
        tmp_path,
        sheet,
        (1,),
        "print('HYPOTHESIS', 'hypothesis' in sys.modules)\n"
        "import hypothesis.strategies\n"
        "print('LATER', hypothesis.strategies.integers() is not None)\n",
    )
    assert "duplicate-reference  2" in done.stdout, done.stdout
    assert "HYPOTHESIS False" in done.stdout
    assert "LATER True" in done.stdout


def test_openpyxl_fills_are_made_on_first_use() -> None:
    assert workbook.PROBLEM_FILL.fgColor.rgb.endswith(workbook.PROBLEM_COLOUR)
    assert workbook.WARNING_FILL.fgColor.rgb.endswith(workbook.WARNING_COLOUR)
    assert workbook.HEADER_FONT.bold
    assert workbook.HEADER_FILL.fgColor.rgb.endswith(workbook.HEADER_COLOUR)
    assert set(workbook.STATUS_FILLS) == {str(s) for s in workbook.STATUS_COLOURS}
    assert workbook.STATUS_FILLS is workbook.STATUS_FILLS  # made once
    with pytest.raises(AttributeError):
        _ = workbook.NO_SUCH_FILL  # type: ignore[attr-defined]


def test_index_from_the_row_array_and_from_replaced_row_numbers(tmp_path: Path) -> None:
    raw = load_sheet(_csv(tmp_path / "bonus.csv", 4))
    assert raw.row_numbers == [2, 3, 4, 5]
    table = resolve(raw)
    assert table.frame.index.tolist() == [2, 3, 4, 5]
    assert table.frame.index.name == "row"
    assert str(table.frame.index.dtype) == "int64"
    raw.row_numbers = [7, 8, 9, 10]  # replaced: the array no longer says the same
    assert resolve(raw).frame.index.tolist() == [7, 8, 9, 10]


def test_large_file_digest_is_its_sha256(tmp_path: Path) -> None:
    sheet = _csv(tmp_path / "big.csv", 30_000)
    assert sheet.stat().st_size > 1 << 20  # hashed on a thread of its own
    raw = load_sheet(sheet)
    assert raw.sha256 == hashlib.sha256(sheet.read_bytes()).hexdigest()
    assert len(raw.row_numbers) == 30_000
    small = _csv(tmp_path / "small.csv", 3)
    assert load_sheet(small).sha256 == hashlib.sha256(small.read_bytes()).hexdigest()


def test_bom_csv_reads_as_without_bom(tmp_path: Path) -> None:
    plain = load_sheet(_csv(tmp_path / "plain.csv", 50))
    bom = load_sheet(_csv(tmp_path / "bom.csv", 50, bom=True))
    assert bom.headers == plain.headers
    assert bom.row_numbers == plain.row_numbers
    assert bom.frame.equals(plain.frame)
    assert bom.sha256 != plain.sha256


def test_cells_with_e_agree_with_the_kernel() -> None:
    import random

    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from batchpay.headers import _cells_with_e

    rng = random.Random(12)
    alphabet = ["e", "E", "é", "ë", "x", "1", "", ".", "Ɛ", "ｅ", "ᴇ", "8.16291E+11"]
    for _ in range(300):
        values = [
            "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 4)))
            for _ in range(rng.randint(0, 30))
        ]
        column = pa.array(values, pa.large_string())
        for cells in (column, column.slice(min(3, len(column))), column.slice(0, len(column) // 2)):
            hit = pc.match_substring(cells, "e", ignore_case=True).to_numpy(zero_copy_only=False)
            assert _cells_with_e(cells).tolist() == np.flatnonzero(hit).tolist(), values


def test_char_lengths_count_code_points_as_len_does() -> None:
    import random

    import pyarrow as pa

    from batchpay.normalize import char_lengths

    rng = random.Random(5)
    alphabet = ["a", "é", "", " ", "ｅ", "😀", "Z"]
    for _ in range(300):
        values = [
            "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 4)))
            for _ in range(rng.randint(0, 30))
        ]
        for kind in (pa.large_string(), pa.string()):
            column = pa.array(values, kind)
            for cells in (column, column.slice(min(3, len(column))), column.slice(0, 2)):
                lengths = char_lengths(cells)
                assert str(lengths.dtype) == "int64"
                assert lengths.tolist() == [len(v) for v in cells.to_pylist()], values
