"""Property (issue 10, "Done when"): adding random title rows above a valid table, and footers
and a correct totals row below it, never changes its validated rows (values and count) or its
totals — in XLSX (titles possibly merged across the table) and in CSV with ``;`` and ``,``.

Every added row is listed as skipped, with its own kind, and a total row is a matching control
total over every row.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batchpay.validate import ValidationResult, validate_file
from tests.helpers import exports as ex

HEADERS = {
    "id": [
        "No",
        "NIK",
        "Nama Karyawan",
        "Departemen",
        "Jumlah Bonus",
        "No HP",
        "Email",
        "Referensi",
        "Pengirim",
    ],
    "en": [
        "No.",
        "Employee ID",
        "Employee Name",
        "Department",
        "Bonus Amount",
        "Phone Number",
        "Email",
        "Reference",
        "Sender",
    ],
}
TITLES = [
    "PT SINAR ABADI",
    "PT Maju Jaya Tbk",
    "Daftar Bonus Karyawan",
    "Periode Desember 2026",
    "Periode: 1 - 31 Desember 2026",
    "Laporan Insentif Triwulan IV",
    "Divisi Human Resources",
    "Jl. Jend. Sudirman Kav. 52-53, Jakarta Selatan",
    "Year-end Bonus 2026",
]
FOOTERS = [
    "Disetujui oleh,",
    "Mengetahui,",
    "Dibuat oleh,",
    "( Manajer HRD )",
    "Catatan: bonus dibayarkan bersama gaji Desember",
    "Jakarta, 30 November 2026",
]
TOTAL_LABELS = ["TOTAL", "Total", "GRAND TOTAL", "Grand Total", "JUMLAH", "Jumlah"]
AMOUNT_COLUMN = 4  # 0-based: "Jumlah Bonus" / "Bonus Amount"


@dataclass
class Sheet:
    fmt: str  # xlsx | csv; | csv,
    header: list[str]
    people: list[list[Any]]  # rows under the header, amounts as ints
    titles: list[str]
    gap_after_titles: bool
    merge_titles: bool
    total_label: str | None
    footers: list[tuple[int, str]]  # (1-based column, text); "" = a blank row


def _people(amounts: list[int], depts: list[str]) -> list[list[Any]]:
    rows = []
    for i, (amount, dept) in enumerate(zip(amounts, depts, strict=True)):
        s = ex.STAFF[i % len(ex.STAFF)]
        rows.append(
            [
                i + 1,
                f"{s.nik}{i}",
                s.name,
                dept,
                amount,
                f"0812-1100-{i + 1:04d}",
                f"staff{i + 1}@sinarabadi.co.id",
                f"BNS-2612-{i + 1:04d}",
                "PT Sinar Abadi",
            ]
        )
    return rows


@st.composite
def sheets(draw: st.DrawFn) -> Sheet:
    n = draw(st.integers(1, 8))
    # From 1.000.000: "100.000" alone would be ambiguous (and is, in tests/test_corpus.py).
    amounts = draw(st.lists(st.integers(1_000, 50_000), min_size=n, max_size=n))
    depts = draw(st.lists(st.sampled_from(["Finance", "IT", "Marketing"]), min_size=n, max_size=n))
    footer = st.one_of(
        st.just((1, "")),
        st.tuples(st.sampled_from([1, 2, 6]), st.sampled_from(FOOTERS)),
    )
    return Sheet(
        fmt=draw(st.sampled_from(["xlsx", "csv;", "csv,"])),
        header=HEADERS[draw(st.sampled_from(sorted(HEADERS)))],
        people=_people([a * 1000 for a in amounts], depts),
        titles=draw(st.lists(st.sampled_from(TITLES), max_size=5)),
        gap_after_titles=draw(st.booleans()),
        merge_titles=draw(st.booleans()),
        total_label=draw(st.one_of(st.none(), st.sampled_from(TOTAL_LABELS))),
        footers=draw(st.lists(footer, max_size=4)),
    )


def _amount(value: int, fmt: str) -> Any:
    if fmt == "csv;":
        return ex.id_amount(value)  # 1.500.000
    if fmt == "csv,":
        return ex.en_amount(value)  # 1,500,000
    return value


@dataclass
class Layout:
    rows: list[list[Any]]
    header_row: int
    titles: list[int]  # Excel rows
    total: int | None
    footers: list[int]


def layout(sheet: Sheet, *, decorated: bool) -> Layout:
    rows: list[list[Any]] = []
    titles: list[int] = []
    if decorated:
        for text in sheet.titles:
            rows.append([text])
            titles.append(len(rows))
        if sheet.titles and sheet.gap_after_titles:
            rows.append([])
    rows.append(list(sheet.header))
    header_row = len(rows)
    for person in sheet.people:
        row = list(person)
        row[AMOUNT_COLUMN] = _amount(row[AMOUNT_COLUMN], sheet.fmt)
        rows.append(row)
    total: int | None = None
    footers: list[int] = []
    if decorated:
        if sheet.total_label is not None:
            figure = sum(p[AMOUNT_COLUMN] for p in sheet.people)
            rows.append(ex.total(sheet.total_label, _amount(figure, sheet.fmt)))
            total = len(rows)
        for column, text in sheet.footers:
            rows.append(ex.at(column, text) if text else [])
            if text:
                footers.append(len(rows))
    return Layout(rows, header_row, titles, total, footers)


def write(sheet: Sheet, lay: Layout, folder: Path, name: str) -> Path:
    if sheet.fmt == "xlsx":
        width = len(sheet.header)
        last = chr(ord("A") + width - 1)
        merged = [f"A{r}:{last}{r}" for r in lay.titles] if sheet.merge_titles else []
        spec = ex.Sheet("Bonus", lay.rows, header_row=lay.header_row, merged=merged, money=("E",))
        return ex.write_workbook(folder / f"{name}.xlsx", spec)
    delimiter = sheet.fmt[-1]
    return ex.write_excel_csv(folder / f"{name}.csv", lay.rows, delimiter=delimiter)


def _payees(result: ValidationResult) -> pd.DataFrame:
    return result.normalised.reset_index(drop=True)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sheets())
def test_titles_footers_and_a_correct_total_never_change_the_rows(sheet: Sheet) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        plain = layout(sheet, decorated=False)
        dressed = layout(sheet, decorated=True)
        base = validate_file(write(sheet, plain, folder, "plain"))
        got = validate_file(write(sheet, dressed, folder, "dressed"))

    assert base.problems == [] and base.skipped == []
    assert got.problems == []
    assert got.table.source.header_row == dressed.header_row
    assert got.rows == base.rows == len(sheet.people)
    pd.testing.assert_frame_equal(_payees(got), _payees(base))
    offset = dressed.header_row - plain.header_row
    assert list(got.normalised.index) == [r + offset for r in base.normalised.index]
    assert got.totals == base.totals

    expected = [(r, "title") for r in dressed.titles] + [(r, "footer") for r in dressed.footers]
    if dressed.total is not None:
        expected.append((dressed.total, "total"))
    assert sorted((s.row, s.kind) for s in got.skipped) == sorted(expected)

    controls = [(c.row, c.matches, c.rows, c.stated) for c in got.control_totals]
    if dressed.total is None:
        assert controls == []
    else:
        assert controls == [(dressed.total, True, got.rows, base.totals["IDR"])]
