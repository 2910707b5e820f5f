"""load_sheet: CSV dialects and encodings, XLSX cell facts, and files that cannot be read."""

from __future__ import annotations

import datetime
import hashlib
import zipfile
from collections.abc import Sequence
from pathlib import Path

import pytest
from openpyxl import Workbook

from batchpay.cli.exits import exit_code_for
from batchpay.errors import InputError
from batchpay.sheet import SkippedRow, cell_text, load_sheet
from tests.helpers.xlsx import (
    PAYOUT_LINK_HEADER,
    payout_link_rows,
    set_cached_values,
    write_cfb,
    write_csv,
    write_xlsx,
)


def keys(problems: list) -> list[tuple[int | None, str | None, str]]:
    return sorted(p.key for p in problems)


def rows_of(raw) -> list[list[str]]:  # type: ignore[no-untyped-def]
    return raw.frame.to_numpy(dtype=object).tolist()


# --- CSV ------------------------------------------------------------------------------------


def test_load_sheet_comma_csv_reads_text_cells_with_excel_row_numbers(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "bonus.csv", [["Name", "Amount"], ["Siti", "1500000"], ["Budi", "250000.50"]]
    )
    raw = load_sheet(path)
    assert raw.headers == ["Name", "Amount"]
    assert rows_of(raw) == [["Siti", "1500000"], ["Budi", "250000.50"]]
    assert raw.row_numbers == [2, 3]
    assert raw.sheet_name is None
    assert raw.problems == []
    assert all(isinstance(v, str) for v in raw.frame.to_numpy().ravel())


def test_load_sheet_semicolon_csv_with_indonesian_amounts_splits_on_semicolon(
    tmp_path: Path,
) -> None:
    path = write_csv(
        tmp_path / "gaji.csv",
        [
            ["Nama", "Nominal", "No HP"],
            ["Siti", "1.500.000,00", "0816123"],
            ["Budi", "2.000.000,50", "0816124"],
        ],
        delimiter=";",
    )
    raw = load_sheet(path)
    assert raw.headers == ["Nama", "Nominal", "No HP"]
    assert rows_of(raw)[0] == ["Siti", "1.500.000,00", "0816123"]


def test_load_sheet_tab_separated_csv_splits_on_tab(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "bonus.csv", [["Name", "Amount"], ["Siti, S.E.", "1,500"]], delimiter="\t"
    )
    raw = load_sheet(path)
    assert rows_of(raw) == [["Siti, S.E.", "1,500"]]


def test_load_sheet_utf8_bom_csv_strips_bom_from_first_header(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "bonus.csv", [["Amount", "Name"], ["1", "Dédé"]], bom=True)
    raw = load_sheet(path)
    assert raw.headers == ["Amount", "Name"]
    assert rows_of(raw) == [["1", "Dédé"]]
    assert raw.problems == []


def test_load_sheet_cp1252_csv_decodes_and_warns(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "bonus.csv", [["Name", "Amount"], ["José Müller", "1"]], encoding="cp1252"
    )
    raw = load_sheet(path)
    assert rows_of(raw) == [["José Müller", "1"]]
    assert keys(raw.problems) == [(None, None, "csv-encoding-cp1252")]
    assert raw.problems[0].severity == "warning"


def test_load_sheet_utf16_unicode_text_export_is_read(tmp_path: Path) -> None:
    path = tmp_path / "bonus.txt"
    path.write_bytes("Name\tAmount\r\nSiti\t1\r\n".encode("utf-16"))
    raw = load_sheet(path)
    assert rows_of(raw) == [["Siti", "1"]]


def test_load_sheet_csv_names_like_na_and_null_stay_text(tmp_path: Path) -> None:
    names = ["NA", "null", "None", "N/A", "NaN", "nan", "#N/A", "NULL", "-"]
    path = write_csv(tmp_path / "names.csv", [["Name", "Amount"]] + [[n, "1"] for n in names])
    raw = load_sheet(path)
    assert raw.frame["Name"].tolist() == names


def test_load_sheet_csv_blank_rows_are_skipped_and_row_numbers_keep_gaps(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "bonus.csv",
        [["Name", "Amount"], ["Siti", "1"], ["", ""], ["  ", " "], ["Budi", "2"]],
    )
    raw = load_sheet(path)
    assert raw.row_numbers == [2, 5]
    assert raw.frame["Name"].tolist() == ["Siti", "Budi"]


def test_load_sheet_csv_quoted_newline_stays_in_one_row_numbered_like_excel(
    tmp_path: Path,
) -> None:
    path = write_csv(
        tmp_path / "bonus.csv",
        [["Name", "Note"], ["Siti", "line one\nline, two"], ["Budi", 'say "hi"']],
    )
    raw = load_sheet(path)
    assert rows_of(raw) == [["Siti", "line one\nline, two"], ["Budi", 'say "hi"']]
    assert raw.row_numbers == [2, 3]


def test_load_sheet_csv_row_with_extra_value_keeps_it_in_its_own_column(tmp_path: Path) -> None:
    path = tmp_path / "bonus.csv"
    path.write_text("Name,Amount\nSiti,1\nBudi,2,oops\n", encoding="utf-8")
    raw = load_sheet(path)
    assert raw.headers == ["Name", "Amount", "Column C"]
    assert rows_of(raw) == [["Siti", "1", ""], ["Budi", "2", "oops"]]


def test_load_sheet_duplicate_headers_are_made_unique_and_originals_kept(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "bonus.csv", [["Name", "Name", "Name (2)"], ["a", "b", "c"]])
    raw = load_sheet(path)
    assert raw.headers == ["Name", "Name (3)", "Name (2)"]
    assert raw.original_headers == ["Name", "Name", "Name (2)"]


def test_load_sheet_empty_trailing_columns_are_dropped(tmp_path: Path) -> None:
    path = tmp_path / "bonus.csv"
    path.write_text("Name,Amount,,\nSiti,1,,\n", encoding="utf-8")
    raw = load_sheet(path)
    assert raw.headers == ["Name", "Amount"]


def test_load_sheet_sha256_is_of_the_file_bytes(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "bonus.csv", [["Name"], ["Siti"]])
    assert load_sheet(path).sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_load_sheet_header_without_rows_reports_no_rows(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "bonus.csv", [["Name", "Amount"]])
    raw = load_sheet(path)
    assert len(raw.frame) == 0
    assert list(raw.frame.columns) == ["Name", "Amount"]
    assert keys(raw.problems) == [(None, None, "no-rows")]


def test_load_sheet_title_rows_above_header_are_skipped_without_scorer(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "bonus.csv", [["Bonus November 2026"], [], ["Name", "Amount"], ["Siti", "1"]]
    )
    raw = load_sheet(path)
    assert raw.header_row == 3
    assert raw.headers == ["Name", "Amount"]
    assert raw.row_numbers == [4]


def known(cells: Sequence[str]) -> int:
    """A header scorer, as batchpay.headers gives one: how many known column names."""
    return sum(1 for c in cells if c in ("Name", "Amount", "Phone"))


def test_load_sheet_title_rows_above_found_header_are_listed_as_skipped(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "bonus.csv",
        [
            ["PT Sinar Abadi", ""],
            ["Periode", "Desember 2026"],
            [],
            ["Name", "Amount"],
            ["Siti", "1"],
        ],
    )
    raw = load_sheet(path, header_scorer=known)
    assert raw.header_row == 4
    assert raw.skipped == [
        SkippedRow(1, "title", "title", "PT Sinar Abadi"),
        SkippedRow(2, "title", "title", "Periode | Desember 2026"),
    ]
    assert raw.row_numbers == [5]


def test_load_sheet_header_on_first_row_skips_nothing(tmp_path: Path) -> None:
    raw = load_sheet(
        write_csv(tmp_path / "b.csv", [["Name", "Amount"], ["Siti", "1"]]), header_scorer=known
    )
    assert raw.skipped == []
    assert raw.sheet_names == []
    assert raw.sheet_note is None


# --- XLSX values ----------------------------------------------------------------------------


def test_load_sheet_xlsx_number_cells_become_text_without_float_artifacts(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "bonus.xlsx",
        [
            ["Phone", "Amount", "Paid on", "Flag", "Sum"],
            [816291271826, 1500000.5, datetime.datetime(2026, 1, 31), True, 0.1 + 0.2],
            [81234567890, 1500000, datetime.datetime(2026, 1, 31, 9, 30), False, 1e16],
        ],
    )
    raw = load_sheet(path)
    assert rows_of(raw) == [
        ["816291271826", "1500000.5", "2026-01-31", "TRUE", "0.3"],
        ["81234567890", "1500000", "2026-01-31T09:30:00", "FALSE", "10000000000000000"],
    ]
    assert raw.numeric_cells == {"Phone": {2, 3}, "Amount": {2, 3}, "Sum": {2, 3}}
    assert raw.sheet_name == "Sheet1"


def test_load_sheet_xlsx_text_formatted_cells_are_not_numeric(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "bonus.xlsx", [["Phone"], ["0816291271826"]], text_columns=[1])
    raw = load_sheet(path)
    assert rows_of(raw) == [["0816291271826"]]
    assert raw.numeric_cells == {}


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (816291271826.0, "816291271826"),
        (1500000.5, "1500000.5"),
        (1e-05, "0.00001"),
        (-0.0, "0"),
        (12345678901234567.0, "12345678901234600"),
        (7, "7"),
        (datetime.time(9, 5), "09:05:00"),
        (datetime.timedelta(hours=26, minutes=3), "26:03:00"),
    ],
)
def test_cell_text_values_render_as_excel_shows_them(value: object, text: str) -> None:
    assert cell_text(value) == text  # type: ignore[arg-type]


def test_texts_of_a_column_of_text_and_numbers_agree_with_cell_text() -> None:
    """The vectorised path of a mixed column (whole floats to digits in one pyarrow call)
    shows every number as cell_text does, and notes which cells were numbers and which
    Excel would show in scientific notation."""
    from batchpay.sheet.celltext import texts
    from batchpay.sheet.model import Facts

    numbers: list[object] = [
        816291271826.0,
        1500000.5,
        1e-05,
        -0.0,
        12345678901234567.0,
        999999999999999.0,
        7,
        -2500000.0,
        float("nan"),
        float("inf"),
    ]
    column: list[object] = ["Amount", *numbers, "Rp 1.500.000"]
    rows = [[v, "x"] for v in column]
    facts = Facts()
    shown = texts(rows, facts)[0].to_pylist()  # type: ignore[arg-type]
    assert shown == ["Amount", *(cell_text(v) for v in numbers), "Rp 1.500.000"]  # type: ignore[arg-type]
    assert shown[4] == "0" and shown[5] == "12345678901234600" and shown[8] == "-2500000"
    assert facts.numeric == {0: set(range(1, len(numbers) + 1))}
    assert facts.large_numbers == {0: {1, 5, 6, 10}}


def test_load_sheet_xlsx_scientific_display_is_recorded(tmp_path: Path) -> None:
    # 12 digits in General format and any number in a scientific format (built-in 0.00E+00
    # or a custom one) display as 8.16E+11; "0" shows every digit and a quoted "E-" is text.
    path = write_xlsx(
        tmp_path / "bonus.xlsx",
        [
            ["Phone", "Account"],
            [816291271826, 1234567],
            [81629127182, 2345678],
            [816291271826, 3456789],
            [81629127182, 4567890],
        ],
        number_formats={"B3": "0.00E+00", "A4": "0", "A5": "##0.0E+0", "B5": '"E-"0'},
    )
    raw = load_sheet(path)
    assert raw.scientific_cells == {"Phone": {2, 5}, "Account": {3}}


# --- XLSX cell traps ------------------------------------------------------------------------


def test_load_sheet_xlsx_hidden_data_row_is_a_problem(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "bonus.xlsx",
        [["Name", "Amount"], ["Siti", "1"], ["Budi", "2"], [None, None], ["Dewi", "3"]],
        hidden_rows=[3, 4],
    )
    raw = load_sheet(path)
    assert raw.row_numbers == [2, 3, 5]  # the hidden row is read, the blank one skipped
    assert keys(raw.problems) == [(3, None, "hidden-row")]


def test_load_sheet_xlsx_hidden_column_is_a_warning(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "bonus.xlsx", [["Name", "Amount"], ["Siti", "1"]], hidden_columns=["B"]
    )
    raw = load_sheet(path)
    assert keys(raw.problems) == [(None, "Amount", "hidden-column")]
    assert raw.problems[0].severity == "warning"


def test_load_sheet_xlsx_merged_cells_in_data_region_are_a_problem(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "bonus.xlsx",
        [
            ["Payroll November"],
            ["Name", "Amount", "Department"],
            ["Siti", "1", "Sales"],
            ["Budi", "2", None],
            ["Dewi", "3", "Ops"],
        ],
        merged=["A1:C1", "C3:C4"],
    )
    raw = load_sheet(path)
    assert raw.header_row == 2
    assert keys(raw.problems) == [(3, "Department", "merged-cells")]
    assert raw.problems[0].value == "C3:C4"


def test_load_sheet_xlsx_merged_title_cells_above_found_header_are_not_problems(
    tmp_path: Path,
) -> None:
    path = write_xlsx(
        tmp_path / "bonus.xlsx",
        [
            ["PT Sinar Abadi"],
            ["Bonus", None, "Desember 2026"],
            [],
            ["No", "Name", "Amount", "Phone"],
            ["1", "Siti", "1", "0816"],
            ["2", "Budi", "2", None],
        ],
        merged=["A1:D1", "A2:B3", "D5:D6"],
    )
    raw = load_sheet(path, header_scorer=known)
    assert raw.header_row == 4
    assert [s.row for s in raw.skipped] == [1, 2]
    assert keys(raw.problems) == [(5, "Phone", "merged-cells")]  # at or below the header only


def test_load_sheet_xlsx_formula_with_cached_value_uses_it_and_warns(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "bonus.xlsx", [["Name", "Amount"], ["Siti", "=1000*1500"]])
    set_cached_values(path, {"B2": "1500000"})
    raw = load_sheet(path)
    assert rows_of(raw) == [["Siti", "1500000"]]
    assert keys(raw.problems) == [(2, "Amount", "formula-cached")]
    assert raw.problems[0].severity == "warning"


def test_load_sheet_xlsx_formula_with_text_result_uses_it(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "bonus.xlsx", [["Name", "Amount"], ['=UPPER("siti")', "1"]])
    set_cached_values(path, {"A2": "SITI"})
    raw = load_sheet(path)
    assert rows_of(raw) == [["SITI", "1"]]
    assert keys(raw.problems) == [(2, "Name", "formula-cached")]


def test_load_sheet_xlsx_formula_without_cached_value_is_an_error_and_row_kept(
    tmp_path: Path,
) -> None:
    # A generator that never ran Excel leaves formulas without values; the row must not be
    # skipped as blank.
    path = write_xlsx(tmp_path / "bonus.xlsx", [["Name", "Amount"], ["Siti", "1"], [None, "=A2*2"]])
    raw = load_sheet(path)
    assert raw.row_numbers == [2, 3]
    assert rows_of(raw)[1] == ["", ""]
    assert keys(raw.problems) == [(3, "Amount", "formula-no-value")]
    assert raw.problems[0].severity == "error"


def test_load_sheet_xlsx_formula_with_error_result_shows_the_error(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "bonus.xlsx", [["Name", "Amount"], ["Siti", "=1/0"]])
    set_cached_values(path, {"B2": "#DIV/0!"}, error=True)
    raw = load_sheet(path)
    assert rows_of(raw) == [["Siti", "#DIV/0!"]]
    assert keys(raw.problems) == [(2, "Amount", "error-value")]


def test_load_sheet_xlsx_formula_above_header_is_ignored(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "bonus.xlsx", [["=TODAY()"], ["Name", "Amount"], ["Siti", "1"]])
    raw = load_sheet(path)
    assert raw.header_row == 2
    assert raw.problems == []


def test_load_sheet_xlsx_hidden_first_sheet_reads_first_visible_and_warns(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "bonus.xlsx",
        [["Name"], ["Siti"]],
        title="Payroll",
        sheets_before=[("Old", "hidden"), ("Secret", "veryHidden")],
    )
    raw = load_sheet(path)
    assert raw.sheet_name == "Payroll"
    assert keys(raw.problems) == [(None, None, "hidden-sheet-skipped")]
    assert raw.problems[0].value == "Old, Secret"


def test_load_sheet_xlsx_sheet_option_picks_named_sheet_case_insensitively(
    tmp_path: Path,
) -> None:
    path = write_xlsx(
        tmp_path / "bonus.xlsx",
        [["Name"], ["Siti"]],
        title="Payroll",
        sheets_before=[("Notes", "visible")],
    )
    assert load_sheet(path).sheet_name == "Notes"
    raw = load_sheet(path, sheet="payroll")
    assert raw.sheet_name == "Payroll"
    assert rows_of(raw) == [["Siti"]]


def test_load_sheet_xlsx_unknown_sheet_lists_the_sheets(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "bonus.xlsx",
        [["Name"], ["Siti"]],
        title="Payroll",
        sheets_after=[("Notes", "hidden")],
    )
    with pytest.raises(InputError) as info:
        load_sheet(path, sheet="Gaji")
    assert str(info.value).startswith(
        "bonus.xlsx: no sheet named 'Gaji'; the sheets are 'Payroll', 'Notes'"
    )


def workbook(path: Path, sheets: Sequence[tuple[str, Sequence[Sequence[object]]]]) -> Path:
    """A workbook with the given sheets, in order, the first one active."""
    wb = Workbook()
    assert wb.active is not None
    wb.remove(wb.active)
    for name, rows in sheets:
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(list(row))
    wb.save(path)
    return path


COVER = ("Cover", [["Bonus Desember 2026"], ["PT Sinar Abadi", "Dibuat 2026-12-20"]])
TABLE = [["Name", "Amount"], ["Siti", "1"]]


def test_load_sheet_xlsx_first_sheet_without_table_reads_the_sheet_that_has_one(
    tmp_path: Path,
) -> None:
    path = workbook(tmp_path / "bonus.xlsx", [COVER, ("Bonus", TABLE), ("Notes", [["x"]])])
    raw = load_sheet(path, header_scorer=known)
    assert raw.sheet_name == "Bonus"
    assert raw.sheet_note == "sheet 'Bonus' used: the first sheet 'Cover' holds no table"
    assert raw.sheet_names == ["Cover", "Bonus", "Notes"]
    assert rows_of(raw) == [["Siti", "1"]]


def test_load_sheet_xlsx_explicit_sheet_is_obeyed_even_without_a_table(tmp_path: Path) -> None:
    path = workbook(tmp_path / "bonus.xlsx", [COVER, ("Bonus", TABLE)])
    raw = load_sheet(path, sheet="Cover", header_scorer=known)
    assert raw.sheet_name == "Cover"
    assert raw.sheet_note is None


def test_load_sheet_xlsx_first_sheet_with_table_is_read_without_looking_further(
    tmp_path: Path,
) -> None:
    path = workbook(tmp_path / "bonus.xlsx", [("Bonus", TABLE), ("Other", TABLE)])
    raw = load_sheet(path, header_scorer=known)
    assert raw.sheet_name == "Bonus"
    assert raw.sheet_note is None


def test_load_sheet_xlsx_two_other_sheets_with_tables_is_an_input_error(tmp_path: Path) -> None:
    path = workbook(tmp_path / "bonus.xlsx", [COVER, ("Sales", TABLE), ("Ops", TABLE)])
    with pytest.raises(InputError) as info:
        load_sheet(path, header_scorer=known)
    assert info.value.message == (
        "bonus.xlsx: the first sheet 'Cover' holds no table, and sheets 'Sales' and 'Ops' both do"
    )
    assert info.value.hint == "say which one to read with --sheet NAME"


def test_load_sheet_xlsx_no_sheet_with_a_table_reads_the_first(tmp_path: Path) -> None:
    path = workbook(tmp_path / "bonus.xlsx", [COVER, ("Notes", [["x", "y"], ["1", "2"]])])
    raw = load_sheet(path, header_scorer=known)
    assert raw.sheet_name == "Cover"
    assert raw.sheet_note is None
    assert raw.sheet_names == ["Cover", "Notes"]


def test_load_sheet_xlsx_empty_sheet_is_an_input_error(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "bonus.xlsx", [])
    with pytest.raises(InputError, match=r"bonus\.xlsx: sheet 'Sheet1' is empty"):
        load_sheet(path)


def test_load_sheet_xlsx_and_csv_of_same_rows_read_the_same(tmp_path: Path) -> None:
    rows = [PAYOUT_LINK_HEADER, *payout_link_rows(30)]
    from_xlsx = load_sheet(write_xlsx(tmp_path / "b.xlsx", rows, text_columns=range(1, 9)))
    from_csv = load_sheet(write_csv(tmp_path / "b.csv", rows, delimiter=";"))
    assert rows_of(from_xlsx) == rows_of(from_csv)
    assert from_xlsx.row_numbers == from_csv.row_numbers == list(range(2, 32))


# --- unreadable files -----------------------------------------------------------------------


def _not_a_zip(path: Path) -> None:
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)


def _truncated_zip(path: Path) -> None:
    write_xlsx(path, [["Name"], ["Siti"]])
    path.write_bytes(path.read_bytes()[:200])


def _zip_without_workbook(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("word/document.xml", "<w:document/>")


@pytest.mark.parametrize(
    ("name", "make", "expected"),
    [
        ("gone.xlsx", None, "gone.xlsx: file not found"),
        ("empty.xlsx", lambda p: p.write_bytes(b""), "empty.xlsx: the file is empty"),
        ("empty.csv", lambda p: p.write_bytes(b""), "empty.csv: the file is empty"),
        ("blank.csv", lambda p: p.write_bytes(b"\r\n,,\r\n"), "blank.csv: the file is empty"),
        ("bonus.ods", lambda p: p.write_bytes(b"x"), "bonus.ods: unsupported file type (.ods)"),
        ("bonus", lambda p: p.write_bytes(b"x"), "bonus: unsupported file type (no extension)"),
        ("bonus.xls", lambda p: write_cfb(p, encrypted=False), "bonus.xls: old Excel 97-2003"),
        (
            "locked.xlsx",
            lambda p: write_cfb(p, encrypted=True),
            "locked.xlsx: the workbook is password-protected",
        ),
        (
            "old.xlsx",
            lambda p: write_cfb(p, encrypted=False),
            "old.xlsx: this is an old Excel 97-2003 (.xls) file with a .xlsx name",
        ),
        (
            "old.csv",
            lambda p: write_cfb(p, encrypted=False),
            "old.csv: this is an old Excel 97-2003 (.xls) file with a .csv name",
        ),
        (
            "text.xlsx",
            lambda p: p.write_text("Name,Amount\nSiti,1\n"),
            "text.xlsx: this is a text file (CSV?) with a .xlsx name",
        ),
        (
            "page.xlsx",
            lambda p: p.write_text("<html><table><tr><td>1</td></tr></table></html>"),
            "page.xlsx: this is a web page saved with a .xlsx name",
        ),
        ("image.xlsx", _not_a_zip, "image.xlsx: not an Excel workbook (the file is not a zip"),
        ("cut.xlsx", _truncated_zip, "cut.xlsx: the workbook is damaged"),
        ("letter.xlsx", _zip_without_workbook, "letter.xlsx: this zip file is not an Excel"),
        (
            "book.csv",
            lambda p: write_xlsx(p, [["a"], ["b"]]),
            "book.csv: this is an Excel workbook with a .csv name",
        ),
        ("binary.csv", _not_a_zip, "binary.csv: this is not a text CSV file"),
    ],
)
def test_load_sheet_unreadable_file_raises_one_line_input_error(
    tmp_path: Path,
    name: str,
    make: object,
    expected: str,
) -> None:
    path = tmp_path / name
    if make is not None:
        make(path)  # type: ignore[operator]
    with pytest.raises(InputError) as info:
        load_sheet(path)
    message = str(info.value)
    assert expected in message
    assert "\n" not in message
    assert info.value.hint
    assert exit_code_for(info.value) == 2


def test_load_sheet_folder_path_raises_input_error(tmp_path: Path) -> None:
    folder = tmp_path / "bonus.xlsx"
    folder.mkdir()
    with pytest.raises(InputError, match="is a folder"):
        load_sheet(folder)


def test_load_sheet_csv_unclosed_quote_is_input_error_naming_the_row(tmp_path: Path) -> None:
    path = tmp_path / "bonus.csv"
    path.write_text('Name,Amount\nSiti,1\nBudi "Bud,2\nDewi,3\n"Eko,4\n', encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_sheet(path)
    assert info.value.message.startswith('bonus.csv: row 5 opens a quote (") that is never')


def test_load_sheet_xlsm_is_read_like_xlsx(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "bonus.xlsm", [["Name"], ["Siti"]])
    assert rows_of(load_sheet(path)) == [["Siti"]]


def test_load_sheet_xlsx_hidden_sheet_asked_for_by_name_is_read_without_warning(
    tmp_path: Path,
) -> None:
    path = write_xlsx(
        tmp_path / "bonus.xlsx",
        [["Name"], ["Siti"]],
        title="Payroll",
        sheets_before=[("Old", "hidden")],
    )
    raw = load_sheet(path, sheet="Old")
    assert rows_of(raw) == []  # its only cell is the header "ignored"
    assert raw.headers == ["ignored"]
    assert keys(raw.problems) == [(None, None, "no-rows")]


# --- on_parse: the moment the parser that releases the GIL starts (batchpay validate's
# imports run from then on) -----------------------------------------------------------------


def test_load_sheet_on_parse_called_as_csv_and_xlsx_are_parsed(tmp_path: Path) -> None:
    calls: list[str] = []
    csv_path = tmp_path / "bonus.csv"
    csv_path.write_text("Name,Amount\nSiti,1500000\n", encoding="utf-8")
    xlsx_path = write_xlsx(tmp_path / "bonus.xlsx", [["Name", "Amount"], ["Siti", 1500000]])
    for path in (csv_path, xlsx_path):
        raw = load_sheet(path, on_parse=lambda p=path: calls.append(p.suffix))
        assert rows_of(raw) == [["Siti", "1500000"]]
    assert calls == [".csv", ".xlsx"]


def test_load_sheet_on_parse_not_called_for_a_file_refused_before_parsing(
    tmp_path: Path,
) -> None:
    calls: list[int] = []
    with pytest.raises(InputError):
        load_sheet(tmp_path / "missing.csv", on_parse=lambda: calls.append(1))
    not_a_workbook = tmp_path / "bonus.xlsx"
    not_a_workbook.write_text("Name,Amount\n", encoding="utf-8")
    with pytest.raises(InputError):
        load_sheet(not_a_workbook, on_parse=lambda: calls.append(1))
    assert calls == []


def test_load_sheet_xlsx_facts_from_the_xml_read_beside_calamine(tmp_path: Path) -> None:
    """Hidden rows and columns, formulas and error cells are read from the XML on another
    thread while calamine parses; they still reach the sheet's problems."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["Name", "Amount", "Note"])
    ws.append(["Siti", 1500000, "a"])
    ws.append(["Budi", "=B2*2", "b"])
    ws.row_dimensions[2].hidden = True
    ws.column_dimensions["C"].hidden = True
    path = tmp_path / "facts.xlsx"
    wb.save(path)
    raw = load_sheet(path)
    assert sorted((p.row or 0, p.column or "", p.code) for p in raw.problems) == [
        (0, "Note", "hidden-column"),
        (2, "", "hidden-row"),
        (3, "Amount", "formula-no-value"),
    ]
