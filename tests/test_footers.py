"""Issue 10: totals, subtotals and footers understood (validate/footers.py, control.py) and
amount sanity (validate/sanity.py): control totals checked, sign-off rows skipped and
listed, payee rows never skipped, an amount far under the median and a phone stored as a
number are warnings."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path

import numpy as np
import openpyxl
import pytest

from batchpay.validate import ControlTotal, validate_file
from batchpay.validate.footers import TOTAL_WORDS
from tests.helpers.xlsx import write_xlsx

HEADER = ["No", "Nama", "No HP", "Email", "Jumlah", "Referensi", "Pengirim", "Departemen"]


def payee(n: int, amount: str = "Rp 1.500.000", dept: str = "Finance", name: str = "") -> list[str]:
    return [
        str(n),
        name or f"Karyawan {n}",
        f"0812345678{n:02d}",
        f"k{n}@example.co.id",
        amount,
        f"BNS-{n:03d}",
        "PT Maju",
        dept,
    ]


def label(text: str, amount: str = "", column: int = 1) -> list[str]:
    cells = [""] * len(HEADER)
    cells[column] = text
    cells[4] = amount
    return cells


def write(tmp_path: Path, rows: list[list[str]], name: str = "bonus.csv") -> Path:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([HEADER, *rows])
    path = tmp_path / name
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


def skipped(result: object) -> list[tuple[int, str]]:
    return [(s.row, s.kind) for s in result.skipped]  # type: ignore[attr-defined]


# --- control totals -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "word", ["TOTAL", "Jumlah", "Grand Total", "Total Keseluruhan", "JUMLAH TOTAL", "total:"]
)
def test_grand_total_that_matches_is_shown_and_skipped(tmp_path: Path, word: str) -> None:
    rows = [payee(1), payee(2, "Rp 2.500.000"), label(word, "Rp 4.000.000")]
    result = validate_file(write(tmp_path, rows))
    assert result.ok, result.problems
    assert result.rows == 2 and result.valid_rows == 2
    assert result.totals == {"IDR": Decimal("4000000")}
    assert skipped(result) == [(4, "total")]
    assert result.control_totals == [
        ControlTotal(4, word, "total", Decimal("4000000"), Decimal("4000000"), 2, 2, 3)
    ]
    assert result.control_totals[0].matches
    assert result.skipped[0].reason == f"control total {word!r}: IDR 4,000,000 matches 2 rows"


def test_grand_total_that_does_not_match_is_an_error_with_both_figures(tmp_path: Path) -> None:
    rows = [payee(1), payee(2, "Rp 2.500.000"), label("TOTAL", "Rp 4.500.000")]
    result = validate_file(write(tmp_path, rows))
    assert not result.ok
    assert result.valid_rows == 2 and result.invalid_row_numbers == set()
    (p,) = result.problems
    assert p.key == (4, "amount", "control-total-mismatch")
    assert "IDR 4,500,000" in p.message and "IDR 4,000,000" in p.message
    assert "2 rows (rows 2–3)" in p.message and "IDR 500,000 more" in p.message
    assert "correct it" in p.hint
    assert not result.control_totals[0].matches


def test_subtotals_per_department_cover_their_group_grand_total_covers_all(
    tmp_path: Path,
) -> None:
    rows = [
        payee(1, dept="Finance"),
        payee(2, "Rp 2.500.000", dept="Finance"),
        label("Subtotal Finance", "Rp 4.000.000"),
        payee(3, "Rp 3.000.000", dept="HRD"),
        label("Sub Total HRD", "Rp 3.100.000"),  # wrong: the group is 3,000,000
        label("GRAND TOTAL", "Rp 7.000.000"),
    ]
    result = validate_file(write(tmp_path, rows))
    assert skipped(result) == [(4, "subtotal"), (6, "subtotal"), (7, "total")]
    got = [
        (c.row, c.kind, c.rows, c.first_row, c.last_row, c.matches) for c in result.control_totals
    ]
    assert got == [
        (4, "subtotal", 2, 2, 3, True),
        (6, "subtotal", 1, 5, 5, False),
        (7, "total", 3, 2, 5, True),
    ]
    assert [p.key for p in result.problems] == [(6, "amount", "control-total-mismatch")]
    assert result.rows == 3 and result.totals == {"IDR": Decimal("7000000")}


def test_plain_total_per_group_then_grand_total(tmp_path: Path) -> None:
    rows = [
        payee(1),
        label("Total Finance", "1500000"),
        payee(2),
        label("Total HRD", "1500000"),
        label("Grand Total", "3000000"),
    ]
    result = validate_file(write(tmp_path, rows))
    assert result.ok, result.problems
    assert [(c.kind, c.rows) for c in result.control_totals] == [
        ("subtotal", 1),
        ("subtotal", 1),
        ("total", 2),
    ]


def test_total_label_in_row_counter_column_and_amount_as_number(tmp_path: Path) -> None:
    rows = [payee(1, "1500000"), payee(2, "2500000"), label("JUMLAH", "4000000", column=0)]
    result = validate_file(write(tmp_path, rows))
    assert result.ok and skipped(result) == [(4, "total")]


def test_total_without_amount_is_listed_not_checked(tmp_path: Path) -> None:
    result = validate_file(write(tmp_path, [payee(1), label("Total")]))
    assert result.ok
    assert skipped(result) == [(3, "total")]
    assert result.control_totals[0].stated is None
    assert "nothing to check" in result.skipped[0].reason


def test_total_with_unreadable_amount_is_a_warning(tmp_path: Path) -> None:
    result = validate_file(write(tmp_path, [payee(1), label("Total", "lihat lampiran")]))
    assert result.ok
    assert [p.key for p in result.problems] == [(3, "amount", "control-total-unreadable")]


def test_total_looking_row_with_payee_data_is_validated_as_payee(tmp_path: Path) -> None:
    # A person named like a total, a description saying "total": payee data wins.
    rows = [payee(1), payee(2, name="Total Sitompul"), label("Total", "Rp 3.000.000")]
    rows[1][7] = "Total bonus"
    result = validate_file(write(tmp_path, rows))
    assert result.ok, result.problems
    assert result.rows == 2 and skipped(result) == [(4, "total")]
    assert list(result.normalised["receiver_name"]) == ["Karyawan 1", "Total Sitompul"]


def test_total_row_with_a_phone_is_a_payee_with_problems(tmp_path: Path) -> None:
    row = label("TOTAL", "Rp 1.500.000")
    row[2] = "081234567899"
    result = validate_file(write(tmp_path, [payee(1), row]))
    assert result.rows == 2 and result.skipped == [] and not result.ok
    assert {p.code for p in result.problems if p.row == 3} == {"required"}


# --- footers ------------------------------------------------------------------------------


def test_sign_off_and_note_rows_after_the_table_are_skipped_as_footer(tmp_path: Path) -> None:
    rows = [
        payee(1),
        payee(2),
        label("TOTAL", "Rp 3.000.000"),
        label("Jakarta, 30 November 2026", column=0),
        ["Dibuat oleh,", "", "", "Disetujui oleh,", "", "", "Mengetahui,", ""],
        label("Diperiksa oleh", column=6),
        ["", "Rina Wulandari", "", "Budi Santoso", "", "", "Sri Wahyuni", ""],
        ["", "( Staf HRD )", "", "( Manajer HRD )", "", "", "(Direktur)", ""],
        label("______________", column=3),
        label("Catatan: bonus dibayar bersama gaji Desember", column=0),
        label("Keterangan:", column=0),
    ]
    result = validate_file(write(tmp_path, rows))
    assert result.ok, result.problems
    assert result.rows == 2
    assert skipped(result) == [(4, "total")] + [(r, "footer") for r in range(5, 13)]
    reasons = [s.reason for s in result.skipped[1:]]
    assert reasons == [
        "place and date 'Jakarta, 30 November 2026'",
        "sign-off 'Dibuat oleh,'",
        "sign-off 'Diperiksa oleh'",
        "signatory 'Rina Wulandari'",
        "role '( Staf HRD )'",
        "signature line '______________'",
        "note 'Catatan: bonus dibayar bersama gaji Des…'",
        "note 'Keterangan:'",
    ]
    assert result.skipped[4].text == "Rina Wulandari | Budi Santoso | Sri Wahyuni"


def test_footer_without_total_and_a_payee_below_the_sign_off_stays_a_payee(
    tmp_path: Path,
) -> None:
    rows = [payee(1), label("Disetujui oleh", column=0), payee(3)]
    result = validate_file(write(tmp_path, rows))
    assert result.rows == 2 and skipped(result) == [(3, "footer")]
    assert result.ok


def test_name_only_row_without_sign_off_is_not_skipped(tmp_path: Path) -> None:
    rows = [payee(1), label("Budi Santoso")]
    result = validate_file(write(tmp_path, rows))
    assert result.rows == 2 and result.skipped == [] and not result.ok


def test_total_words_recognised_are_documented() -> None:
    assert set(TOTAL_WORDS) >= {"total", "jumlah", "subtotal", "sub total", "grand total"}


# --- amount sanity ------------------------------------------------------------------------


def test_amount_far_below_median_is_a_warning_naming_row_and_value(tmp_path: Path) -> None:
    rows = [payee(n, "Rp 2.000.000") for n in range(1, 5)] + [payee(5, "1500")]
    result = validate_file(write(tmp_path, rows))
    assert result.ok
    (p,) = result.problems
    assert p.key == (6, "amount", "amount-far-below-median") and p.severity == "warning"
    assert p.value == "1500"
    assert "IDR 1,500 (one thousand five hundred)" in p.message
    assert "IDR 2,000,000" in p.message and "1,333×" in p.message


def test_amount_under_1000_times_the_median_is_fine(tmp_path: Path) -> None:
    rows = [payee(n, "Rp 2.000.000") for n in range(1, 5)] + [payee(5, "2001")]
    assert validate_file(write(tmp_path, rows)).problems == []


def test_ambiguous_amount_with_format_id_then_warns_far_below_median(tmp_path: Path) -> None:
    rows = [payee(n, "Rp 2.000.000") for n in range(1, 5)] + [payee(5, "Rp 1.500")]
    path = write(tmp_path, rows)
    (p,) = validate_file(path).problems
    assert p.code == "amount-ambiguous"
    assert "with --amount-format id this row would pay IDR 1,500 (one thousand five" in p.hint
    result = validate_file(path, amount_format="id")
    assert [q.key for q in result.problems] == [(6, "amount", "amount-far-below-median")]


def test_median_warning_is_vectorised_over_a_large_sheet() -> None:
    from batchpay.validate.sanity import median_minor

    minor = np.full(1_000_000, 150_000_000, dtype=np.int64)
    minor[::2] = 0
    assert median_minor(minor) == 150_000_000
    assert median_minor(None) is None and median_minor(np.zeros(3, dtype=np.int64)) is None


# --- phone stored as a number -------------------------------------------------------------

XLSX_HEADER: list[object] = [
    "receiver_name",
    "receiver_phone_number",
    "receiver_email",
    "amount",
    "reference_id",
    "sender_name",
]


def test_phone_stored_as_number_but_valid_is_a_warning(tmp_path: Path) -> None:
    rows: list[list[object]] = [
        XLSX_HEADER,
        ["Siti", 81234567890, "s@example.co.id", 1500000, "R-1", "PT Maju"],
        ["Budi", 6281234567891, "b@example.co.id", 1500000, "R-2", "PT Maju"],
        ["Ani", 12345, "a@example.co.id", 1500000, "R-3", "PT Maju"],
    ]
    path = write_xlsx(tmp_path / "phones.xlsx", rows, text_columns=[1, 3, 5, 6])
    result = validate_file(path)
    keys = [(p.key, p.severity) for p in result.problems]
    assert ((2, "receiver_phone_number", "phone-stored-as-number"), "warning") in keys
    # 6281234567891 shows as 6.28123E+12 in Excel, but the file holds every digit.
    assert ((3, "receiver_phone_number", "phone-stored-as-number"), "warning") in keys
    assert ((4, "receiver_phone_number", "numeric-identifier"), "error") in keys
    assert "scientific notation" in result.problems[1].message
    assert result.invalid_row_numbers == {4}
    assert list(result.normalised["receiver_phone_number"])[:2] == [
        "6281234567890",
        "6281234567891",
    ]


# --- JSON and the report ------------------------------------------------------------------


def test_to_dict_lists_skipped_rows_and_control_totals(tmp_path: Path) -> None:
    rows = [payee(1), label("TOTAL", "Rp 1.500.000"), label("Mengetahui,", column=0)]
    data = validate_file(write(tmp_path, rows)).to_dict()
    assert data["header_row"] == 1
    assert data["skipped"] == [
        {
            "row": 3,
            "kind": "total",
            "reason": "control total 'TOTAL': IDR 1,500,000 matches 1 row",
            "text": "TOTAL | Rp 1.500.000",
        },
        {"row": 4, "kind": "footer", "reason": "sign-off 'Mengetahui,'", "text": "Mengetahui,"},
    ]
    assert data["control_totals"] == [
        {
            "row": 3,
            "label": "TOTAL",
            "kind": "total",
            "currency": "IDR",
            "stated": "1500000",
            "computed": "1500000",
            "rows": 1,
            "first_row": 2,
            "last_row": 2,
            "unreadable": 0,
            "matches": True,
        }
    ]


def test_report_has_skipped_rows_sheet(tmp_path: Path) -> None:
    from batchpay.workbook.validation import write_validation_report

    rows = [payee(1), payee(2), label("TOTAL", "Rp 3.100.000"), label("Disetujui oleh", column=0)]
    result = validate_file(write(tmp_path, rows))
    target = write_validation_report(result, tmp_path / "r.xlsx")
    wb = openpyxl.load_workbook(target)
    assert wb.sheetnames == ["Summary", "Rows", "Problems", "Skipped rows"]
    got = [list(r) for r in wb["Skipped rows"].iter_rows(values_only=True)]
    assert got[0] == [
        "Row",
        "Kind",
        "Why",
        "Row as written",
        "Stated total",
        "Sum of covered rows",
        "Rows covered",
        "Check",
    ]
    assert got[1][:2] == [4, "total"] and got[1][4:] == [
        3100000,
        3000000,
        "2 (rows 2–3)",
        "DOES NOT MATCH",
    ]
    assert got[2][:4] == [5, "footer", "sign-off 'Disetujui oleh'", "Disetujui oleh"]
    assert [r[0] for r in wb["Rows"].iter_rows(values_only=True)] == ["Row", 2, 3]
