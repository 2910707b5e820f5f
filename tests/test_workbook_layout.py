"""Readable as rendered (issue 11): the validation report and the templates size their columns
from the content, wrap long text in rows tall enough for it, never leave a number too wide
for its column, and print one page wide, landscape, header row repeated, a title on each
page. Checked in the XLSX itself (openpyxl and the sheet XML); tests/test_render_libreoffice.py
checks the same workbooks as LibreOffice shows them."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from batchpay.kinds import KINDS
from batchpay.templates import write_template
from batchpay.validate import validate_file
from batchpay.workbook import xlsx_workbook
from batchpay.workbook.fit import (
    LINE_HEIGHT,
    TEXT_CAP,
    line_count,
    number_width,
    text_width,
    text_widths,
)
from batchpay.workbook.validation import write_validation_report

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
NS = {"m": MAIN}
HEADER = (
    "receiver_name,receiver_phone_number,receiver_email,amount,reference_id,"
    "sender_name,department\n"
)
LONG_DEPARTMENT = (
    "Operasional Gudang Cikarang dan Distribusi Wilayah Jawa Barat bagian Timur "
    "termasuk cabang Karawang dan Purwakarta dan Subang"
)


def _row(
    n: int,
    *,
    name: str = "Siti Rahayu",
    phone: str = "081234567890",
    email: str | None = None,
    amount: str = "1500000",
    dept: str = "Finance",
) -> str:
    email = email if email is not None else f"user{n}@example.co.id"
    return f"{name},{phone},{email},{amount},BONUS-{n:04d},PT Maju Jaya,{dept}\n"


def _report(tmp_path: Path, body: str) -> Path:
    sheet = tmp_path / "bonus.csv"
    sheet.write_text(HEADER + body, encoding="utf-8")
    return write_validation_report(validate_file(sheet), tmp_path / "report.xlsx")


def _xml(data: bytes) -> ET.Element:
    return ET.fromstring(data)  # noqa: S314 - a workbook this test just wrote


def print_setup(path: Path) -> dict[str, dict[str, Any]]:
    """Per sheet name: its pageSetup attributes, fitToPage, page header and print titles."""
    with zipfile.ZipFile(path) as z:
        book = _xml(z.read("xl/workbook.xml"))
        rels = _xml(z.read("xl/_rels/workbook.xml.rels"))
        targets = {r.get("Id"): r.get("Target", "") for r in rels}
        rel_id = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
        sheets = book.findall("m:sheets/m:sheet", NS)
        titles = {
            int(d.get("localSheetId", "-1")): d.text or ""
            for d in book.findall("m:definedNames/m:definedName", NS)
            if d.get("name") == "_xlnm.Print_Titles"
        }
        found: dict[str, dict[str, Any]] = {}
        for i, sheet in enumerate(sheets):
            target = targets[sheet.get(rel_id)].lstrip("/")
            part = target if target.startswith("xl/") else f"xl/{target}"
            root = _xml(z.read(part))
            setup = root.find("m:pageSetup", NS)
            fit = root.find("m:sheetPr/m:pageSetUpPr", NS)
            header = root.find("m:headerFooter/m:oddHeader", NS)
            found[str(sheet.get("name"))] = {
                "setup": dict(setup.attrib) if setup is not None else {},
                "fit_to_page": fit.get("fitToPage") if fit is not None else None,
                "header": header.text if header is not None else "",
                "titles": titles.get(i, ""),
            }
    return found


def assert_prints_one_page_wide(sheet: dict[str, Any], title_rows: str | None) -> None:
    setup = sheet["setup"]
    assert setup.get("orientation") == "landscape"
    assert setup.get("paperSize") == "9"  # A4
    # fitToWidth defaults to 1 in the schema: writers may leave it out.
    assert setup.get("fitToWidth", "1") == "1" and setup.get("fitToHeight") == "0"
    assert sheet["fit_to_page"] == "1"
    assert "&P" in sheet["header"] and "batchpay" in sheet["header"]
    if title_rows is not None:
        assert sheet["titles"].endswith(title_rows), sheet["titles"]


# --- sizes --------------------------------------------------------------------------------


def test_fit_line_count_short_text_one_line_long_text_wraps_by_words() -> None:
    assert line_count("The amount is negative.", 50) == 1
    sentence = "word " * 40  # 200 characters of 4-letter words
    lines = line_count(sentence.strip(), 30)
    assert 7 <= lines <= 10
    assert line_count("x" * 100, 21) == 5  # one long word is broken wherever it must be
    assert line_count("first\nsecond", 50) == 2


def test_fit_text_width_capitals_wider_than_lowercase_digits_one_unit() -> None:
    assert text_width("0" * 60) == pytest.approx(60.0)
    assert text_width("WWWW") > text_width("wwww") > text_width("iiii")
    assert text_width("Jalan café") > text_width("Jalan cafe")  # non-ASCII counted wide


def test_fit_text_widths_of_a_column_match_one_at_a_time() -> None:
    for column in (["Siti", "WWW", "", "x@y.co"], ["Jalan café", "Budi"], []):
        assert text_widths(column) == [text_width(v) for v in column]


def test_fit_number_width_from_formatted_value() -> None:
    assert number_width(["1,234,567,890,123.00"]) >= len("1,234,567,890,123.00") + 2


# --- validation report --------------------------------------------------------------------


def width_of(ws: Any, col: int) -> float:
    """Column ``col``'s width; writers store runs of equal columns as one ``<col>`` range."""
    for dim in ws.column_dimensions.values():
        if dim.min is not None and dim.min <= col <= dim.max:
            return float(dim.width)
    raise AssertionError(f"column {col} has no width set")


def _heights(ws: Any) -> dict[int, float]:
    return {r: d.height for r, d in ws.row_dimensions.items() if d.height}


def test_report_problems_sheet_wraps_message_and_fix_rows_tall_enough(tmp_path: Path) -> None:
    wb = openpyxl.load_workbook(_report(tmp_path, _row(1, amount="1.500") + _row(2)))
    ws = wb["Problems"]
    head = [c.value for c in ws[1]]
    message, fix = head.index("Message") + 1, head.index("How to fix") + 1
    for col in (message, fix):
        width = width_of(ws, col)
        assert width <= TEXT_CAP
        cell = ws.cell(row=2, column=col)
        assert cell.alignment.wrap_text and cell.alignment.vertical == "top"
        lines = line_count(str(cell.value), width)
        assert lines > 1  # the ambiguous-amount hint is a paragraph
    needed = max(
        line_count(str(ws.cell(row=2, column=c).value), width_of(ws, c)) for c in (message, fix)
    )
    assert _heights(ws)[2] >= LINE_HEIGHT * needed


def test_report_summary_wrapped_meanings_get_row_heights(tmp_path: Path) -> None:
    body = _row(1, amount="1.500") + _row(2, email="not-an-email") + _row(3)
    ws = openpyxl.load_workbook(_report(tmp_path, body))["Summary"]
    width = width_of(ws, 2)
    heights = _heights(ws)
    checked = 0
    for row in ws.iter_rows(min_row=2):
        cell = row[1]
        if isinstance(cell.value, str) and line_count(cell.value, width) > 1:
            assert cell.alignment.wrap_text
            assert heights.get(cell.row, 0) >= LINE_HEIGHT * line_count(cell.value, width)
            checked += 1
    assert checked >= 1
    verdict = ws["A1"]
    assert str(verdict.value).startswith("NOT VALID")
    assert "A1:D1" in {str(m) for m in ws.merged_cells.ranges}  # the banner spans the table


def test_report_summary_code_line_names_every_column_its_problems_span(tmp_path: Path) -> None:
    body = "".join(
        [
            _row(1, email=""),
            _row(2, email=""),
            _row(3, name=""),
            _row(4, phone=""),
            _row(5, name=""),
            _row(6, email=""),
        ]
    )
    ws = openpyxl.load_workbook(_report(tmp_path, body))["Summary"]
    rows = [list(r) for r in ws.iter_rows(values_only=True)]
    head = rows.index(["Problem code", "What it means", "Count", "In columns"])
    table = {r[0]: r for r in rows[head + 1 :] if r[0]}
    _code, meaning, count, columns = table["required"]
    assert count == 6
    assert columns == "receiver_email (3), receiver_name (2), receiver_phone_number (1)"
    assert meaning.startswith("e.g. row 2: ")


def test_report_summary_single_column_code_names_it_plainly(tmp_path: Path) -> None:
    ws = openpyxl.load_workbook(_report(tmp_path, _row(1, amount="-5")))["Summary"]
    rows = [list(r) for r in ws.iter_rows(values_only=True)]
    line = next(r for r in rows if r[0] == "amount-negative")
    assert line[1:] == ["The amount is negative.", 1, "amount"]


def test_report_every_sheet_prints_landscape_one_page_wide_with_titles(tmp_path: Path) -> None:
    path = _report(tmp_path, _row(1, amount="abc") + _row(2))
    sheets = print_setup(path)
    assert list(sheets) == ["Summary", "Rows", "Problems"]
    assert_prints_one_page_wide(sheets["Summary"], None)
    assert_prints_one_page_wide(sheets["Rows"], "$1:$1")
    assert_prints_one_page_wide(sheets["Problems"], "$1:$1")
    assert "bonus.csv" in sheets["Rows"]["header"]


def test_report_long_value_on_rows_sheet_wraps_in_a_taller_row(tmp_path: Path) -> None:
    ws = openpyxl.load_workbook(_report(tmp_path, _row(1) + _row(2, dept=LONG_DEPARTMENT)))["Rows"]
    head = [c.value for c in ws[1]]
    col = head.index("department") + 1
    width = width_of(ws, col)
    assert width <= 51  # the cap (XlsxWriter stores a width with its 5 px padding)
    cell = ws.cell(row=3, column=col)
    assert cell.value == LONG_DEPARTMENT and cell.alignment.wrap_text
    assert _heights(ws)[3] >= LINE_HEIGHT * line_count(LONG_DEPARTMENT, width)
    assert 2 not in _heights(ws)  # a short row keeps the default height


def test_report_amount_column_wide_enough_for_its_largest_formatted_value(
    tmp_path: Path,
) -> None:
    ws = openpyxl.load_workbook(_report(tmp_path, _row(1, amount="9876543210123.45")))["Rows"]
    head = [c.value for c in ws[1]]
    col = head.index("amount (normalised)") + 1
    width = width_of(ws, col)
    assert ws.cell(row=2, column=col).value == pytest.approx(9876543210123.45)
    assert width >= len("9,876,543,210,123.45") + 1
    assert width_of(ws, 1) >= len("2") + 2


def test_report_file_is_private_and_has_no_formulas(tmp_path: Path) -> None:
    path = _report(tmp_path, _row(1, name="=1+1") + _row(2))
    assert (path.stat().st_mode & 0o777) == 0o600
    with zipfile.ZipFile(path) as z:
        for name in z.namelist():
            if name.startswith("xl/worksheets/") and name.endswith(".xml"):
                assert b"<f>" not in z.read(name) and b"<f " not in z.read(name)


def test_xlsx_workbook_failure_leaves_old_file_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "r.xlsx"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), xlsx_workbook(target, constant_memory=True) as wb:
        wb.add_worksheet("S").write_string(0, 0, "half")
        raise RuntimeError("boom")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["r.xlsx"]


# --- templates ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(KINDS))
def test_template_instructions_rows_tall_enough_for_wrapped_text(name: str, tmp_path: Path) -> None:
    path = write_template(KINDS[name], tmp_path / "t.xlsx")
    ws = openpyxl.load_workbook(path)["Instructions"]
    heights = _heights(ws)
    head = next(r for r in range(1, 20) if ws.cell(row=r, column=1).value == "Column")
    merged = {str(m) for m in ws.merged_cells.ranges}
    for r in range(1, head - 1):  # the notes span the table, each on rows of their own
        assert f"A{r}:F{r}" in merged and r in heights
    for r in range(head + 1, ws.max_row + 1):
        needed = 1
        for col in range(1, 7):
            cell = ws.cell(row=r, column=col)
            lines = line_count(str(cell.value or ""), width_of(ws, col))
            if lines > 1:
                assert cell.alignment.wrap_text, (r, col, cell.value)
            needed = max(needed, lines)
        assert heights.get(r, LINE_HEIGHT) >= LINE_HEIGHT * needed, (r, needed)


@pytest.mark.parametrize("name", sorted(KINDS))
def test_template_sheets_print_landscape_one_page_wide_with_titles(
    name: str, tmp_path: Path
) -> None:
    sheets = print_setup(write_template(KINDS[name], tmp_path / "t.xlsx"))
    assert_prints_one_page_wide(sheets[name], "$1:$1")
    assert_prints_one_page_wide(sheets["Instructions"], "$7:$7")
    assert re.search(r"batchpay template: .+", sheets[name]["header"])
