"""Formula-looking text in every workbook batchpay writes (issue 8, finding 13).

No cell is ever a formula, and a text cell that starts with ``=``, ``+``, ``-``, ``@``, tab or
CR carries Excel's quote prefix (``quotePrefix="1"`` on its ``<xf>`` in styles.xml): Excel
then shows it as typed and keeps it text when a user presses F2+Enter. Each workbook is
unzipped and its XML read directly, then read back with openpyxl.
"""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import openpyxl
import pytest

from batchpay.journal import RowRecord
from batchpay.kinds import KINDS
from batchpay.normalize import FORMULA_PREFIXES
from batchpay.templates import deterministic_xlsx_bytes, template_workbook
from batchpay.validate import validate_file
from batchpay.workbook import FORMULA_TRIGGERS, set_text
from batchpay.workbook.validation import FULL_ROWS_LIMIT, write_validation_report
from tests.test_reconcile import make_row
from tests.test_reconciliation_workbook import TRAPS, mixed_rows, write

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
NS = {"m": MAIN}
HYPERLINK = '=HYPERLINK("http://evil.example","click")'
DDE = "=cmd|' /C calc'!A0"


def _xml(data: bytes) -> ET.Element:
    return ET.fromstring(data)  # noqa: S314 - a workbook this test just wrote


def formula_looking_cells(path: Path) -> list[tuple[str, str, str, str | None]]:
    """(part, cell, text, its xf's quotePrefix) for every text cell starting with a formula
    trigger; asserts on the way that no worksheet holds an ``<f>`` element."""
    found = []
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        styles = _xml(z.read("xl/styles.xml"))
        cell_xfs = styles.find("m:cellXfs", NS)
        assert cell_xfs is not None
        xfs = cell_xfs.findall("m:xf", NS)
        shared: list[str] = []
        if "xl/sharedStrings.xml" in names:
            sst = _xml(z.read("xl/sharedStrings.xml"))
            shared = [
                "".join(t.text or "" for t in si.iter(f"{{{MAIN}}}t"))
                for si in sst.findall("m:si", NS)
            ]
        for name in names:
            if not (name.startswith("xl/worksheets/") and name.endswith(".xml")):
                continue
            root = _xml(z.read(name))
            assert root.find(".//m:f", NS) is None, name
            for c in root.iter(f"{{{MAIN}}}c"):
                kind = c.get("t")
                if kind == "inlineStr":
                    text = "".join(t.text or "" for t in c.iter(f"{{{MAIN}}}t"))
                elif kind == "s":
                    v = c.find("m:v", NS)
                    assert v is not None and v.text is not None
                    text = shared[int(v.text)]
                else:
                    assert kind != "str", (name, c.get("r"))  # a formula's cached text
                    continue
                if text.startswith(FORMULA_TRIGGERS):
                    xf = xfs[int(c.get("s", "0"))]
                    found.append((name, str(c.get("r")), text, xf.get("quotePrefix")))
    return found


def assert_all_quoted(path: Path, expected: set[str]) -> None:
    cells = formula_looking_cells(path)
    unquoted = [c for c in cells if c[3] != "1"]
    assert unquoted == []
    assert expected <= {text for _, _, text, _ in cells}


def all_values(path: Path) -> set[object]:
    wb = openpyxl.load_workbook(path)
    values = set()
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (ws.title, cell.coordinate)
                values.add(cell.value)
    return values


def test_formula_triggers_same_in_validation_and_workbooks() -> None:
    assert FORMULA_PREFIXES == FORMULA_TRIGGERS


def _sheet(tmp_path: Path, n: int, traps: dict[int, dict[str, str]]) -> Path:
    """A payout-link CSV of ``n`` rows with an extra 'note' column; ``traps`` overrides."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    header = [
        "receiver_name",
        "receiver_phone_number",
        "receiver_email",
        "amount",
        "reference_id",
        "sender_name",
        "description",
        "note",
    ]
    w.writerow(header)
    for i in range(1, n + 1):
        row = {
            "receiver_name": "Siti Rahayu",
            "receiver_phone_number": "081234567890",
            "receiver_email": f"u{i}@example.co.id",
            "amount": "1500000",
            "reference_id": f"BONUS-{i:05d}",
            "sender_name": "PT Maju",
            "description": "Bonus",
            "note": "ok",
        }
        row.update(traps.get(i, {}))
        w.writerow([row[h] for h in header])
    path = tmp_path / "bonus.csv"
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


# Rows with problems and plain rows take different paths through the Rows sheet's writer
# (workbook/validation/rows.py): both must quote.
_TRAPS = {
    1: {"note": "@SUM(1)", "description": HYPERLINK},
    2: {"receiver_name": DDE},
    30: {"note": "-R2 resent", "reference_id": "-R2"},
    31: {"note": "+62812", "sender_name": "@SUM(A1)"},
    32: {"note": "\t=1+1"},
}
_EXPECTED = {"@SUM(1)", HYPERLINK, DDE, "-R2 resent", "-R2", "+62812", "@SUM(A1)", "\t=1+1"}


def test_validation_report_formula_looking_text_quote_prefixed(tmp_path: Path) -> None:
    result = validate_file(_sheet(tmp_path, 40, _TRAPS))
    assert {(p.row, p.column, p.code) for p in result.problems} == {
        (2, "description", "formula-prefix"),
        (3, "receiver_name", "formula-prefix"),
        (31, "reference_id", "formula-prefix"),
        (32, "sender_name", "formula-prefix"),
    }
    report = write_validation_report(result, tmp_path / "r.xlsx")
    assert_all_quoted(report, _EXPECTED)
    assert _EXPECTED <= all_values(report)  # read back unchanged, as text


def test_validation_report_large_sheet_problem_rows_quote_prefixed(tmp_path: Path) -> None:
    traps = {FULL_ROWS_LIMIT - 5: {"receiver_name": DDE, "note": "-R2"}, 7: {"note": "@x"}}
    report = write_validation_report(
        validate_file(_sheet(tmp_path, FULL_ROWS_LIMIT + 1, traps)), tmp_path / "r.xlsx"
    )
    assert_all_quoted(report, {DDE, "-R2"})


def test_run_workbook_formula_looking_text_quote_prefixed(tmp_path: Path) -> None:
    extra = make_row(40, "REJECTED", 100_000, message="-R2 was sent before")
    rows: list[RowRecord] = [*mixed_rows(), extra]
    path = write(tmp_path, rows)
    expected = {t for t in TRAPS if t.startswith(FORMULA_TRIGGERS)} | {DDE, "-R2 was sent before"}
    assert_all_quoted(path, expected)
    assert expected <= all_values(path)


@pytest.mark.parametrize("kind", list(KINDS))
def test_template_formula_looking_text_quote_prefixed(kind: str, tmp_path: Path) -> None:
    wb = template_workbook(KINDS[kind])
    ws = wb["Instructions"]
    for r, text in enumerate((HYPERLINK, "-R2", "@SUM(1)", "+62812"), start=40):
        set_text(ws.cell(row=r, column=1), text)
    set_text(ws.cell(row=40, column=1), "plain again")  # a rewritten cell drops the prefix
    path = tmp_path / "t.xlsx"
    path.write_bytes(deterministic_xlsx_bytes(wb))
    assert_all_quoted(path, {"-R2", "@SUM(1)", "+62812"})
    assert {"plain again", "-R2", "@SUM(1)", "+62812"} <= all_values(path)
    quoted = {text for _, _, text, _ in formula_looking_cells(path)}
    assert "plain again" not in quoted and HYPERLINK not in quoted
