"""The real-exports corpus (issue 10, "Done when"): HR and finance sheets as they are handed
over — titles above the header, Indonesian and English headers, subtotals per department, a
grand total, sign-off lines, no sender or reference column — each asserting the exact outcome
of :func:`batchpay.validate.validate_file`: the kind, the header row, the validated rows, the
totals, every skipped row with its kind, every control total (matching or not) and the exact
``(row, column, code)`` lists of errors and warnings.

The files are built by tests/helpers/exports.py; its docstrings give each layout's rows.
A few go through the CLI too (``--set``, a profile in the current directory, ``--profile``).

Codes the issue does not name are batchpay's: ``control-total-mismatch`` (an error on the
total row, column ``amount``), ``amount-far-below-median`` and ``phone-stored-as-number``
(warnings).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from batchpay import cli as cli_module
from batchpay.errors import InputError
from batchpay.validate import ValidationResult, validate_file
from batchpay.validate.result import ControlTotal
from tests.helpers import exports as ex

Key = tuple[int | None, str | None, str]
Skip = tuple[int, str, str]  # (row, kind, text the row shows)
Control = tuple[int, int | None, int, int, bool]  # (row, stated, sum of its rows, rows, matches)

PL = "payout-link"
SAP = "sub-account-payout"
MISMATCH = "control-total-mismatch"
TINY_AMOUNT = "amount-far-below-median"
PHONE = "receiver_phone_number"
PHONE_AS_NUMBER = "phone-stored-as-number"


def span(first: int, last: int) -> list[int]:
    return list(range(first, last + 1))


@dataclass
class Export:
    id: str
    build: Callable[[Path], Path]
    header_row: int
    rows: list[int]
    total: int | None  # IDR, valid rows only; None = no valid row
    skipped: list[Skip]
    controls: list[Control]
    errors: list[Key] = field(default_factory=list)
    warnings: list[Key] = field(default_factory=list)
    kind: str = PL
    options: dict[str, Any] = field(default_factory=dict)
    sheet: str | None = None  # the sheet read (XLSX)
    check: Callable[[ValidationResult], None] | None = None


HR = {"set_values": ex.HR_SET}
EN_SET = {"sender_name": "Sinar Abadi Group", "reference_id": "YEB-2026-{Employee ID}"}
TITLES = [(1, "title", "PT SINAR ABADI"), (2, "title", "Periode Desember 2026")]
SIGN_OFF = [
    (17, "footer", "Jakarta, 30 November 2026"),
    (18, "footer", "Disetujui oleh"),
    (21, "footer", "Manajer HRD"),
]
SUBTOTALS = [
    (8, "subtotal", "Subtotal Finance"),
    (13, "subtotal", "Subtotal IT"),
    (17, "subtotal", "Subtotal Marketing"),
    (18, "total", "GRAND TOTAL"),
    (20, "footer", "Mengetahui"),
    (23, "footer", "Manajer HRD"),
]
ALL10: Control = (15, 24_800_000, 24_800_000, 10, True)


# --- extra checks: the values themselves ------------------------------------------------------


def _column(result: ValidationResult, name: str) -> list[str]:
    return [str(v) for v in result.normalised[name]]


def _hr_values(
    staff: list[ex.Staff], prefix: str = "BNS-2612-", sender: str = "PT Sinar Abadi"
) -> Callable[[ValidationResult], None]:
    def check(result: ValidationResult) -> None:
        assert _column(result, "receiver_name") == [s.name for s in staff]
        assert _column(result, "amount") == [str(s.bonus) for s in staff]
        assert _column(result, "receiver_email") == [s.email for s in staff]
        assert _column(result, PHONE) == ["62" + s.phone.replace("-", "")[1:] for s in staff]
        assert _column(result, "reference_id") == [prefix + s.nik for s in staff]
        assert set(_column(result, "sender_name")) == {sender}

    return check


def _fields(**expected: str) -> Callable[[ValidationResult], None]:
    def check(result: ValidationResult) -> None:
        got = {f: result.table.field_headers.get(f) for f in expected}
        assert got == expected

    return check


def _both(*checks: Callable[[ValidationResult], None]) -> Callable[[ValidationResult], None]:
    def check(result: ValidationResult) -> None:
        for c in checks:
            c(result)

    return check


def _payroll_columns(result: ValidationResult) -> None:
    _fields(
        amount="Jumlah Bonus (Rp)",
        receiver_name="Nama Karyawan",
        receiver_phone_number="No. Handphone",
        receiver_email="E-mail Karyawan",
    )(result)
    # Money-looking columns that are not the amount, and the row counter, stay extra columns.
    assert {"No", "Gaji Pokok", "Bonus (%)"} <= set(result.table.extra_columns)


def _finance_values(result: ValidationResult) -> None:
    _fields(
        amount="Nominal (IDR)",
        reference_id="No. Ref",
        receiver_name="Nama Penerima",
        receiver_phone_number="No. HP",
        receiver_email="Alamat E-mail",
        description="Keterangan",
    )(result)
    assert _column(result, "reference_id") == [p[0] for p in ex.PARTNERS]
    assert _column(result, "amount") == [str(p[4]) for p in ex.PARTNERS]
    assert set(_column(result, "description")) == {"Insentif November"}
    assert set(_column(result, "sender_name")) == {"PT Sinar Abadi"}


def _vendor_values(result: ValidationResult) -> None:
    assert _column(result, "bank_code") == [
        "CENAIDJA",
        "BMRIIDJA",
        "BRINIDJA",
        "BNINIDJA",
        "CENAIDJA",
        "BMRIIDJA",
    ]
    assert _column(result, "bank_account_number") == [v[2] for v in ex.VENDORS]
    assert _column(result, "bank_account_name") == [v[3] for v in ex.VENDORS]
    assert _column(result, "invoice_number") == [v[0] for v in ex.VENDORS]
    assert set(_column(result, "account_id")) == {ex.SAC_MAIN}


def _commission_values(result: ValidationResult) -> None:
    assert set(_column(result, "account_id")) == {"SAC-0002-1234567890124"}
    assert _column(result, "invoice_number") == [f"KOM-2612-{n:03d}" for n in range(1, 6)]
    assert _column(result, "amount") == [str(v[4]) for v in ex.VENDORS[:5]]


def _sheet_note_names(sheet: str) -> Callable[[ValidationResult], None]:
    def check(result: ValidationResult) -> None:
        note = result.table.source.sheet_note
        assert note is not None and sheet in note

    return check


def _tiny_names_value(result: ValidationResult) -> None:
    (tiny,) = result.warnings
    assert tiny.value == "Rp 1.500"
    assert _column(result, "amount")[4] == "1500"


def _yuni_is_a_payee(result: ValidationResult) -> None:
    assert _column(result, "receiver_name")[2] == "Yuni Astuti"
    assert 6 not in result.invalid_row_numbers


def _long_reference(result: ValidationResult) -> None:
    assert _column(result, "reference_id")[0] == "BONUS-AKHIR-TAHUN-2026-190301"  # 29: fits


FIVE = ex.STAFF[:5]

EXPORTS: list[Export] = [
    Export(
        "id-bonus-title-total-signoff",
        ex.id_bonus_title_total_signoff,
        header_row=4,
        rows=span(5, 14),
        total=24_800_000,
        skipped=[*TITLES, (15, "total", "TOTAL"), *SIGN_OFF, (22, "footer", "Catatan:")],
        controls=[ALL10],
        options=HR,
        check=_both(
            _hr_values(ex.STAFF),
            _fields(
                amount="Jumlah Bonus (Rp)",
                receiver_name="Nama Lengkap Karyawan",
                receiver_phone_number="No. HP",
                receiver_email="Alamat E-mail",
            ),
        ),
    ),
    Export(
        "en-bonus-grand-total-approved-by",
        ex.en_bonus_grand_total,
        header_row=3,
        rows=span(4, 8),
        total=14_500_000,
        skipped=[
            (1, "title", "Sinar Abadi Group"),
            (2, "title", "Year-end Bonus"),
            (9, "total", "Grand Total"),
            (11, "footer", "Approved by"),
            (14, "footer", "HR Manager"),
        ],
        controls=[(9, 14_500_000, 14_500_000, 5, True)],
        options={"set_values": EN_SET},
        check=_both(
            _hr_values(FIVE, "YEB-2026-", "Sinar Abadi Group"),
            _fields(amount="Bonus Amount (IDR)", receiver_name="Employee Name"),
        ),
    ),
    Export(
        "id-subtotals-per-department",
        ex.id_subtotals_per_department,
        header_row=4,
        rows=[5, 6, 7, 9, 10, 11, 12, 14, 15, 16],
        total=24_800_000,
        skipped=[(1, "title", "PT SINAR ABADI"), (2, "title", "Rekap Bonus"), *SUBTOTALS],
        controls=[
            (8, 7_250_000, 7_250_000, 3, True),
            (13, 12_000_000, 12_000_000, 4, True),
            (17, 5_550_000, 5_550_000, 3, True),
            (18, 24_800_000, 24_800_000, 10, True),
        ],
        options=HR,
        check=_hr_values(ex.STAFF),
    ),
    Export(
        "id-subtotal-does-not-match",
        ex.id_subtotal_mismatch,
        header_row=4,
        rows=[5, 6, 7, 9, 10, 11, 12, 14, 15, 16],
        total=24_800_000,
        skipped=[(1, "title", "PT SINAR ABADI"), (2, "title", "Rekap Bonus"), *SUBTOTALS],
        controls=[
            (8, 7_250_000, 7_250_000, 3, True),
            (13, 12_500_000, 12_000_000, 4, False),
            (17, 5_550_000, 5_550_000, 3, True),
            (18, 24_800_000, 24_800_000, 10, True),
        ],
        errors=[(13, "amount", MISMATCH)],
        options=HR,
    ),
    Export(
        "id-grand-total-does-not-match",
        ex.id_grand_total_mismatch,
        header_row=4,
        rows=span(5, 14),
        total=24_800_000,
        skipped=[*TITLES, (15, "total", "TOTAL"), (17, "footer", "Mengetahui")],
        controls=[(15, 25_000_000, 24_800_000, 10, False)],
        errors=[(15, "amount", MISMATCH)],
        options=HR,
    ),
    Export(
        "id-jumlah-label",
        ex.id_jumlah_label,
        header_row=3,
        rows=span(4, 8),
        total=10_300_000,
        skipped=[
            (1, "title", "CV Berkah Mandiri"),
            (9, "total", "JUMLAH"),
            (10, "footer", "Disetujui oleh"),
            (13, "footer", "Manajer HRD"),
        ],
        controls=[(9, 10_300_000, 10_300_000, 5, True)],
        options=HR,
        check=_hr_values(ex.STAFF[5:]),
    ),
    Export(
        "department-total-rewards-is-a-payee",
        ex.department_total_rewards,
        header_row=3,
        rows=span(4, 8),
        total=13_450_000,
        skipped=[(1, "title", "PT Sinar Abadi"), (9, "total", "TOTAL")],
        controls=[(9, 13_450_000, 13_450_000, 5, True)],
        options=HR,
        check=_yuni_is_a_payee,
    ),
    Export(
        "total-label-with-a-name-is-validated-as-payee",
        ex.total_label_with_payee_name,
        header_row=3,
        rows=span(4, 7),
        total=7_250_000,
        skipped=[(1, "title", "Bonus Finance")],
        controls=[],
        errors=[(7, "receiver_email", "required"), (7, PHONE, "required")],
        options=HR,
    ),
    Export(
        "payroll-salary-and-percent-are-not-the-amount",
        ex.payroll_salary_and_percent,
        header_row=4,
        rows=span(5, 9),
        total=14_500_000,
        skipped=[
            (1, "title", "PT SINAR ABADI"),
            (2, "title", "Bonus Kinerja"),
            (10, "total", "TOTAL"),
            (12, "footer", "Dibuat oleh"),
            (15, "footer", "Staf Payroll"),
        ],
        controls=[(10, 14_500_000, 14_500_000, 5, True)],
        options=HR,
        check=_both(_payroll_columns, _hr_values(FIVE)),
    ),
    Export(
        "payroll-formulas-with-cached-values",
        ex.payroll_formulas_cached,
        header_row=4,
        rows=span(5, 9),
        total=14_500_000,
        skipped=[
            (1, "title", "PT SINAR ABADI"),
            (2, "title", "Bonus Kinerja"),
            (10, "total", "TOTAL"),
            (12, "footer", "Dibuat oleh"),
            (15, "footer", "Staf Payroll"),
        ],
        controls=[(10, 14_500_000, 14_500_000, 5, True)],
        warnings=[(r, "amount", "formula-cached") for r in span(5, 9)],
        options=HR,
        check=_both(_payroll_columns, _hr_values(FIVE)),
    ),
    Export(
        "finance-incentive-nominal-and-no-ref",
        ex.finance_incentive_nominal,
        header_row=5,
        rows=span(6, 10),
        total=9_125_000,
        skipped=[
            (1, "title", "Divisi Keuangan"),
            (2, "title", "Insentif Mitra"),
            (3, "title", "Periode"),
            (11, "total", "Total"),
            (13, "footer", "Jakarta, 30 November 2026"),
            (14, "footer", "Mengetahui"),
            (17, "footer", "Manajer Keuangan"),
        ],
        controls=[(11, 9_125_000, 9_125_000, 5, True)],
        options={"set_values": {"sender_name": "PT Sinar Abadi"}},
        check=_finance_values,
    ),
    Export(
        "csv-semicolon-indonesian-amounts",
        ex.csv_semicolon_id_amounts,
        header_row=4,
        rows=span(5, 14),
        total=24_800_000,
        skipped=[*TITLES, (15, "total", "TOTAL"), *SIGN_OFF],
        controls=[ALL10],
        options=HR,
        check=_hr_values(ex.STAFF),
    ),
    Export(
        "csv-semicolon-windows-1252",
        ex.csv_semicolon_cp1252,
        header_row=3,
        rows=span(4, 8),
        total=14_500_000,
        skipped=[
            (1, "title", "Kantor Cabang Surabaya"),
            (2, "title", "Bonus Desember 2026"),
            (9, "total", "Jumlah"),
            (10, "footer", "Mengetahui"),
            (11, "footer", "Manajer HRD"),
        ],
        controls=[(9, 14_500_000, 14_500_000, 5, True)],
        warnings=[(None, None, "csv-encoding-cp1252")],
        options=HR,
        check=_hr_values(FIVE),
    ),
    Export(
        "csv-comma-english-amounts",
        ex.csv_comma_en_amounts,
        header_row=4,
        rows=span(5, 14),
        total=24_800_000,
        skipped=[
            (1, "title", "Sinar Abadi Group"),
            (2, "title", "Year-end Bonus"),
            (15, "total", "Grand Total"),
            (17, "footer", "Approved by"),
            (20, "footer", "HR Manager"),
        ],
        controls=[ALL10],
        options={"set_values": EN_SET},
        check=_hr_values(ex.STAFF, "YEB-2026-", "Sinar Abadi Group"),
    ),
    Export(
        "csv-comma-subtotal-does-not-match",
        ex.csv_comma_subtotal_mismatch,
        header_row=3,
        rows=[4, 5, 6, 8, 9, 10, 11, 13, 14, 15],
        total=24_800_000,
        skipped=[
            (1, "title", "PT SINAR ABADI"),
            (2, "title", "Rekap Bonus"),
            (7, "subtotal", "Subtotal Finance"),
            (12, "subtotal", "Subtotal IT"),
            (16, "subtotal", "Subtotal Marketing"),
            (17, "total", "Total"),
            (19, "footer", "Catatan:"),
        ],
        controls=[
            (7, 7_250_000, 7_250_000, 3, True),
            (12, 12_000_000, 12_000_000, 4, True),
            (16, 5_500_000, 5_550_000, 3, False),
            (17, 24_800_000, 24_800_000, 10, True),
        ],
        errors=[(16, "amount", MISMATCH)],
        options=HR,
    ),
    Export(
        "several-sheets-cover-first",
        ex.several_sheets_cover_first,
        header_row=3,
        rows=span(4, 8),
        total=14_500_000,
        skipped=[(1, "title", "Daftar Bonus Desember 2026"), (9, "total", "TOTAL")],
        controls=[(9, 14_500_000, 14_500_000, 5, True)],
        options=HR,
        sheet="Bonus Desember",
        check=_both(_sheet_note_names("Bonus Desember"), _hr_values(FIVE)),
    ),
    Export(
        "several-sheets-summary-first",
        ex.several_sheets_summary_first,
        header_row=4,
        rows=span(5, 14),
        total=24_800_000,
        skipped=[*TITLES, (15, "total", "TOTAL")],
        controls=[ALL10],
        options=HR,
        sheet="Detail",
        check=_sheet_note_names("Detail"),
    ),
    Export(
        "sub-account-payout-finance",
        ex.sub_account_payout_finance,
        header_row=4,
        rows=span(5, 10),
        total=14_200_000,
        skipped=[
            (1, "title", "PT SINAR ABADI"),
            (2, "title", "Pembayaran Vendor"),
            (11, "total", "TOTAL"),
            (13, "footer", "Disetujui oleh"),
            (16, "footer", "Manajer Keuangan"),
        ],
        controls=[(11, 14_200_000, 14_200_000, 6, True)],
        kind=SAP,
        sheet="Payout",
        check=_vendor_values,
    ),
    Export(
        "sub-account-payout-set-account",
        ex.sub_account_payout_set_account,
        header_row=3,
        rows=span(4, 8),
        total=12_400_000,
        skipped=[(1, "title", "Komisi Agen"), (9, "total", "TOTAL"), (11, "footer", "Catatan:")],
        controls=[(9, 12_400_000, 12_400_000, 5, True)],
        kind=SAP,
        options={"set_values": {"account_id": "SAC-0002-1234567890124"}},
        check=_commission_values,
    ),
    Export(
        "set-template-duplicate-nik",
        ex.set_duplicate_nik,
        header_row=4,
        rows=span(5, 14),
        total=19_000_000,
        skipped=[*TITLES, (15, "total", "TOTAL"), (17, "footer", "Mengetahui")],
        controls=[ALL10],
        errors=[
            (8, "reference_id", "duplicate-reference"),
            (14, "reference_id", "duplicate-reference"),
        ],
        options=HR,
    ),
    Export(
        "set-template-reference-too-long",
        ex.set_reference_too_long,
        header_row=3,
        rows=span(4, 8),
        total=12_750_000,
        skipped=[(1, "title", "Bonus Akhir Tahun"), (9, "total", "TOTAL")],
        controls=[(9, 14_500_000, 14_500_000, 5, True)],
        errors=[(6, "reference_id", "too-long")],
        options={
            "set_values": {
                "sender_name": "PT Sinar Abadi",
                "reference_id": "BONUS-AKHIR-TAHUN-2026-{NIK}",
            }
        },
        check=_long_reference,
    ),
    Export(
        "amount-1000x-under-the-median-warns",
        ex.amount_tiny_among_millions,
        header_row=3,
        rows=span(4, 10),
        total=16_001_500,
        skipped=[(1, "title", "PT Sinar Abadi"), (11, "total", "TOTAL")],
        controls=[(11, 16_001_500, 16_001_500, 7, True)],
        warnings=[(8, "amount", TINY_AMOUNT)],
        options={**HR, "amount_format": "id"},
        check=_tiny_names_value,
    ),
    Export(
        "phone-stored-as-number-intact-warns",
        ex.phone_numbers_stored_as_numbers,
        header_row=4,
        rows=span(5, 9),
        total=14_500_000,
        skipped=[*TITLES, (10, "total", "TOTAL")],
        controls=[(10, 14_500_000, 14_500_000, 5, True)],
        warnings=[(r, PHONE, PHONE_AS_NUMBER) for r in span(5, 9)],
        options=HR,
        check=_hr_values(FIVE),
    ),
    Export(
        "phone-stored-as-number-without-its-zero-warns",
        ex.phone_numbers_lost_leading_zero,
        header_row=3,
        rows=span(4, 8),
        total=14_500_000,
        skipped=[(1, "title", "Bonus Desember 2026"), (9, "total", "TOTAL")],
        controls=[(9, 14_500_000, 14_500_000, 5, True)],
        warnings=[(4, PHONE, PHONE_AS_NUMBER), (6, PHONE, PHONE_AS_NUMBER)],
        options=HR,
        check=_hr_values(FIVE),
    ),
    Export(
        # Stored as numbers but every digit intact (13 < 15 significant digits): the issue
        # makes such a phone a warning, not an error, so all five rows are valid.
        "phone-13-digits-in-general-format-warns",
        ex.phone_numbers_general_format,
        header_row=3,
        rows=span(4, 8),
        total=14_500_000,
        skipped=[(1, "title", "Bonus Desember 2026"), (9, "total", "TOTAL")],
        controls=[(9, 14_500_000, 14_500_000, 5, True)],
        warnings=[(5, PHONE, PHONE_AS_NUMBER), (7, PHONE, PHONE_AS_NUMBER)],
        options=HR,
    ),
    Export(
        "header-on-row-6",
        ex.header_on_row_6,
        header_row=6,
        rows=span(7, 16),
        total=24_800_000,
        skipped=[
            (1, "title", "PT SINAR ABADI"),
            (2, "title", "Jl. Jend. Sudirman"),
            (3, "title", "LAPORAN BONUS TAHUNAN"),
            (4, "title", "Periode: Januari - Desember 2026"),
            (5, "title", "Dicetak: 01/12/2026"),
            (17, "total", "Grand Total"),
            (19, "footer", "Catatan:"),
        ],
        controls=[(17, 24_800_000, 24_800_000, 10, True)],
        options=HR,
        check=_both(
            _hr_values(ex.STAFF),
            _fields(receiver_phone_number="No. Handphone", receiver_email="E-mail Karyawan"),
        ),
    ),
    Export(
        "merged-title-and-merged-total-label",
        ex.merged_total_label,
        header_row=4,
        rows=span(5, 14),
        total=24_800_000,
        skipped=[*TITLES, (15, "total", "TOTAL"), *SIGN_OFF],
        controls=[ALL10],
        options=HR,
    ),
    Export(
        "clean-table-with-footer-only",
        ex.clean_table_with_footer,
        header_row=1,
        rows=span(2, 6),
        total=14_500_000,
        skipped=[(8, "footer", "Catatan:"), (9, "footer", "Dibuat oleh")],
        controls=[],
        options=HR,
        check=_hr_values(FIVE),
    ),
]


def test_exports_corpus_has_at_least_25_exports_with_unique_ids() -> None:
    assert len(EXPORTS) >= 25
    assert len({e.id for e in EXPORTS}) == len(EXPORTS)
    assert len({e.build for e in EXPORTS}) == len(EXPORTS)  # one file per export


def _control(ct: ControlTotal) -> Control:
    stated = None if ct.stated is None else int(ct.stated)
    return (ct.row, stated, int(ct.computed), ct.rows, ct.matches)


@pytest.mark.parametrize("export", EXPORTS, ids=[e.id for e in EXPORTS])
def test_export_validates_to_its_exact_outcome(export: Export, tmp_path: Path) -> None:
    path = export.build(tmp_path)
    result = validate_file(path, **export.options)

    assert result.table.kind.name == export.kind
    if export.sheet is not None:
        assert result.table.source.sheet_name == export.sheet
    assert result.table.source.header_row == export.header_row
    assert list(result.normalised.index) == export.rows
    assert result.totals == ({"IDR": Decimal(export.total)} if export.total else {})

    assert [p.key for p in result.errors] == export.errors
    assert [p.key for p in result.warnings] == export.warnings
    assert all(p.message and p.hint for p in result.problems)

    skipped = sorted(result.skipped, key=lambda s: s.row)
    assert [(s.row, s.kind) for s in skipped] == [(r, k) for r, k, _ in export.skipped]
    for s, (_row, _kind, text) in zip(skipped, export.skipped, strict=True):
        assert text in s.text, s
        assert s.reason, s  # every skipped row says why

    assert [_control(c) for c in result.control_totals] == export.controls
    kinds = {s.row: s.kind for s in skipped}
    assert all(kinds.get(c.row) == c.kind for c in result.control_totals)
    if export.check is not None:
        export.check(result)


# --- files that are not payouts: one clear error -------------------------------------------------


def test_export_no_kind_matches_names_the_closest_row(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        validate_file(ex.no_kind_matches(tmp_path))
    text = f"{info.value} {getattr(info.value, 'hint', '')}"
    # The row judged closest, the column recognised in it and what is missing.
    assert "row 3" in text
    assert "'Nama'" in text
    assert "missing" in text


def test_export_no_sheet_holds_a_table_lists_the_sheets(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        validate_file(ex.no_sheet_has_a_table(tmp_path))
    text = f"{info.value} {getattr(info.value, 'hint', '')}"
    assert "Cover" in text and "Catatan" in text


# --- through the CLI ---------------------------------------------------------------------------


class _Main:
    name = "batchpay"

    def main(self, args: Any = None, prog_name: str | None = None, **_: Any) -> None:
        cli_module.main(list(args or ()))


def run_cli(*args: str) -> Any:
    return CliRunner().invoke(_Main(), list(args))  # type: ignore[arg-type]


HR_ARGS = ("--set", "sender_name=PT Sinar Abadi", "--set", "reference_id=BNS-2612-{NIK}")
E01_SKIPPED = [(1, "title"), (2, "title"), (15, "total"), (17, "footer"), (18, "footer")]
E01_SKIPPED += [(21, "footer"), (22, "footer")]


def _json(result: Any) -> dict[str, Any]:
    assert "Traceback" not in result.output, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_export_cli_set_templates_json(tmp_path: Path) -> None:
    path = ex.id_bonus_title_total_signoff(tmp_path)
    result = run_cli("validate", str(path), *HR_ARGS, "--json", "--no-report")
    assert result.exit_code == 0, result.output
    data = _json(result)
    assert (data["kind"], data["rows"], data["valid_rows"]) == (PL, 10, 10)
    assert data["totals"] == {"IDR": "24800000"}
    assert data["problems"] == []
    assert [(s["row"], s["kind"]) for s in data["skipped"]] == E01_SKIPPED
    assert len(data["control_totals"]) == 1


def test_export_cli_summary_names_header_row_and_control_total(tmp_path: Path) -> None:
    path = ex.id_bonus_title_total_signoff(tmp_path)
    result = run_cli("validate", str(path), *HR_ARGS, "--no-report")
    assert result.exit_code == 0, result.output
    # Rows 1–2 are the titles; row 3 is blank (blank rows are never listed).
    assert "header on row 4 (rows 1–2 skipped: title)" in result.output
    assert re.search(r"control total (Rp|IDR) 24[.,]800[.,]000 matches 10 rows", result.output)


def test_export_cli_total_mismatch_exits_1_naming_the_row(tmp_path: Path) -> None:
    path = ex.id_grand_total_mismatch(tmp_path)
    result = run_cli("validate", str(path), *HR_ARGS, "--json", "--no-report")
    assert result.exit_code == 1, result.output
    data = _json(result)
    assert [(p["row"], p["column"], p["code"]) for p in data["problems"]] == [
        (15, "amount", MISMATCH)
    ]
    (problem,) = data["problems"]
    shown = problem["message"] + problem["hint"]
    # Both figures, as the sheet states them and as its rows add up.
    assert "25.000.000" in shown.replace(",", ".") and "24.800.000" in shown.replace(",", ".")


def test_export_cli_unknown_placeholder_is_a_one_line_usage_error(tmp_path: Path) -> None:
    path = ex.id_bonus_title_total_signoff(tmp_path)
    result = run_cli(
        "validate",
        str(path),
        "--set",
        "sender_name=PT Sinar Abadi",
        "--set",
        "reference_id=BNS-2612-{NIP}",
        "--no-report",
    )
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert "{NIP}" in lines[0]
    assert "NIK" in result.output and "Nama Lengkap Karyawan" in result.output


PROFILE = """\
# batchpay profile of PT Sinar Abadi (HRD)
[payout-link]
sheet = "Bonus"

[payout-link.set]
sender_name = "PT Sinar Abadi"
reference_id = "BNS-2612-{NIK}"
"""


def test_export_cli_profile_in_current_directory_needs_no_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = ex.profile_workbook(tmp_path)
    (tmp_path / "batchpay.toml").write_text(PROFILE, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = run_cli("validate", path.name, "--json", "--no-report")
    assert result.exit_code == 0, result.output
    data = _json(result)
    assert (data["kind"], data["sheet"], data["rows"]) == (PL, "Bonus", 10)
    assert data["totals"] == {"IDR": "24800000"}
    assert data["problems"] == []
    assert [(s["row"], s["kind"]) for s in data["skipped"]] == E01_SKIPPED


THR_PROFILE = """\
kind = "payout-link"

[payout-link]
amount_format = "id"

[payout-link.set]
sender_name = "PT Sinar Abadi"
reference_id = "THR-2026-{NIK}"

[payout-link.map]
"Karyawan" = "receiver_name"
"THR (Rp)" = "amount"
"""


def test_export_cli_profile_path_maps_and_sets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = tmp_path / "cabang"
    data_dir.mkdir()
    path = ex.thr_semicolon_csv(data_dir)
    profile = tmp_path / "hrd" / "thr.toml"
    profile.parent.mkdir()
    profile.write_text(THR_PROFILE, encoding="utf-8")
    monkeypatch.chdir(data_dir)  # no batchpay.toml here: --profile is the one
    result = run_cli("validate", str(path), "--profile", str(profile), "--json", "--no-report")
    assert result.exit_code == 0, result.output
    data = _json(result)
    assert (data["kind"], data["rows"], data["valid_rows"]) == (PL, 5, 5)
    assert data["totals"] == {"IDR": "14500000"}
    assert data["problems"] == []
    assert [(s["row"], s["kind"]) for s in data["skipped"]] == [
        (1, "title"),
        (9, "total"),
        (10, "footer"),
    ]
    lib = validate_file(
        path,
        kind=PL,
        mapping={"Karyawan": "receiver_name", "THR (Rp)": "amount"},
        amount_format="id",
        set_values={"sender_name": "PT Sinar Abadi", "reference_id": "THR-2026-{NIK}"},
    )
    assert _column(lib, "reference_id") == [f"THR-2026-{s.nik}" for s in FIVE]
