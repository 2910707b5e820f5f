"""Real-looking HR and finance exports (issue 10): the sheets HR and finance actually hand over,
written the way spreadsheet programs write them.

XLSX files are built with openpyxl as Excel saves a formatted report: title rows (often merged
across the table), a bold header with a fill and borders, rupiah columns in ``#,##0``, frozen
panes, wide columns, and formulas (``=SUM(...)``) given the cached value Excel stores with
them. CSV files are written as Excel's "Save As CSV" does: ``;`` and Indonesian amounts in an
Indonesian locale (UTF-8 with a BOM, or Windows-1252), ``,`` and English amounts otherwise,
every row padded to the table's width with empty fields.

Every builder takes a folder, writes one file there under the name HR would give it and
returns its path. Row numbers in the layouts below are the ones Excel shows; the tests in
tests/test_exports.py assert against them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter

from tests.helpers.xlsx import patch_sheet_xml, write_csv

Row = list[Any]


class Staff(NamedTuple):
    nik: str
    name: str
    dept: str
    bonus: int
    phone: str
    email: str


def _email(name: str, domain: str = "sinarabadi.co.id") -> str:
    return f"{name.lower().replace(' ', '.')}@{domain}"


def _staff(nik: str, name: str, dept: str, bonus: int, n: int) -> Staff:
    return Staff(nik, name, dept, bonus, f"0812-1100-{n:04d}", _email(name))


# Finance 7,250,000 (3) · IT 12,000,000 (4) · Marketing 5,550,000 (3) · all 24,800,000 (10)
STAFF: list[Staff] = [
    _staff("190301", "Siti Rahayu", "Finance", 2_500_000, 1),
    _staff("190302", "Budi Santoso", "Finance", 3_000_000, 2),
    _staff("190315", "Dewi Lestari", "Finance", 1_750_000, 3),
    _staff("200104", "Agus Saputra", "IT", 4_000_000, 4),
    _staff("200111", "Rina Wijaya", "IT", 3_250_000, 5),
    _staff("210207", "Eko Hidayat", "IT", 2_000_000, 6),
    _staff("210219", "Putri Kusuma", "IT", 2_750_000, 7),
    _staff("220305", "Joko Susilo", "Marketing", 1_500_000, 8),
    _staff("220318", "Ayu Lestari", "Marketing", 2_250_000, 9),
    _staff("230401", "Hendra Gunawan", "Marketing", 1_800_000, 10),
]
TOTAL_ALL = 24_800_000
TOTAL_FIRST5 = 14_500_000  # STAFF[:5]

ID_HEADER = [
    "No",
    "NIK",
    "Nama Lengkap Karyawan",
    "Departemen",
    "Jumlah Bonus (Rp)",
    "No. HP",
    "Alamat E-mail",
]
EN_HEADER = [
    "No.",
    "Employee ID",
    "Employee Name",
    "Department",
    "Bonus Amount (IDR)",
    "Phone Number",
    "Email",
]
HR_SET = {"sender_name": "PT Sinar Abadi", "reference_id": "BNS-2612-{NIK}"}


def staff_rows(
    staff: Sequence[Staff], *, start: int = 1, amount: Callable[[int], Any] = int
) -> list[Row]:
    """One row per employee in ID_HEADER / EN_HEADER order; ``amount`` shapes the bonus cell."""
    return [
        [n, s.nik, s.name, s.dept, amount(s.bonus), s.phone, s.email]
        for n, s in enumerate(staff, start=start)
    ]


def id_amount(value: int) -> str:
    """1500000 → '1.500.000' (Indonesian grouping)."""
    return f"{value:,}".replace(",", ".")


def en_amount(value: int) -> str:
    return f"{value:,}"


def at(column: int, text: Any) -> Row:
    """A row with one cell filled, in 1-based ``column``."""
    return [None] * (column - 1) + [text]


def total(label: str, value: Any, *, label_col: int = 1, amount_col: int = 5) -> Row:
    row: Row = [None] * max(label_col, amount_col)
    row[label_col - 1] = label
    row[amount_col - 1] = value
    return row


# --- writing workbooks ------------------------------------------------------------------------

_THIN = Side(style="thin", color="808080")
_BOX = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_HEAD_FILL = PatternFill("solid", fgColor="D9E1F2")


@dataclass
class Sheet:
    """One worksheet as a report writer lays it out."""

    name: str
    rows: list[Row]
    header_row: int | None = None  # bold, filled, boxed; panes frozen below it
    merged: Sequence[str] = ()
    money: Sequence[str] = ()  # column letters shown as #,##0 below the header
    text: Sequence[str] = ()  # column letters typed as Text (@) below the header
    formats: Mapping[str, str] = field(default_factory=dict)  # cell -> number format
    cached: Mapping[str, str] = field(default_factory=dict)  # formula cell -> cached value
    bold_rows: Sequence[int] = ()  # totals and subtotals, as HR formats them


def write_workbook(path: Path, *sheets: Sheet) -> Path:
    wb = Workbook()
    first = wb.active
    assert first is not None
    wb.remove(first)
    for spec in sheets:
        _fill(wb.create_sheet(spec.name), spec)
    wb.active = 0
    wb.save(path)
    for i, spec in enumerate(sheets, start=1):
        if spec.cached:
            _cache(path, f"xl/worksheets/sheet{i}.xml", spec.cached)
    return path


def _fill(ws: Any, spec: Sheet) -> None:
    width = max((len(r) for r in spec.rows), default=1)
    head = spec.header_row
    for r, row in enumerate(spec.rows, start=1):
        for c, value in enumerate(row, start=1):
            if value is None:
                continue
            cell = ws.cell(row=r, column=c, value=value)
            letter = get_column_letter(c)
            if head is not None and r > head:
                if letter in spec.money:
                    cell.number_format = "#,##0"
                if letter in spec.text:
                    cell.number_format = "@"
                if r in spec.bold_rows:
                    cell.font = Font(bold=True)
            if head is not None and r < head:
                cell.font = Font(bold=True, size=14 if r == 1 else 12)
    if head is not None:
        for c in range(1, width + 1):
            cell = ws.cell(row=head, column=c)
            cell.font = Font(bold=True)
            cell.fill = _HEAD_FILL
            cell.border = _BOX
            cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        ws.freeze_panes = f"A{head + 1}"
    for ref, fmt in spec.formats.items():
        ws[ref].number_format = fmt
    for ref in spec.merged:
        ws.merge_cells(ref)
        ws[ref.split(":")[0]].alignment = Alignment(horizontal="center")
    for c in range(1, width + 1):
        ws.column_dimensions[get_column_letter(c)].width = 6 if c == 1 else 22


def _cache(path: Path, part: str, values: Mapping[str, str]) -> None:
    """Store the result Excel would have saved with each formula (openpyxl saves none)."""

    def edit(xml: bytes) -> bytes:
        for ref, value in values.items():
            pattern = re.compile(rb'(<c r="' + ref.encode() + rb'"[^>]*><f>.*?</f>)<v\s*/>')
            xml, n = pattern.subn(rb"\1<v>" + value.encode() + rb"</v>", xml)
            assert n == 1, f"no uncached formula in {ref}"
        return xml

    patch_sheet_xml(path, edit, part=part)


def write_excel_csv(
    path: Path, rows: Sequence[Row], *, delimiter: str, encoding: str = "utf-8", bom: bool = False
) -> Path:
    """As Excel saves a sheet as CSV: every row as wide as the table, empty cells as ''."""
    width = max(len(r) for r in rows)
    padded = [["" if v is None else v for v in r] + [""] * (width - len(r)) for r in rows]
    return write_csv(path, padded, delimiter=delimiter, encoding=encoding, bom=bom)


# --- the standard HR bonus sheet -------------------------------------------------------------

SIGN_OFF = [
    at(6, "Jakarta, 30 November 2026"),
    [None, "Dibuat oleh,", None, None, None, "Disetujui oleh,"],
    [],
    [],
    [None, "( Staf Payroll )", None, None, None, "( Manajer HRD )"],
]


def hr_bonus_rows(
    *,
    titles: Sequence[str] = ("PT SINAR ABADI", "Daftar Bonus Karyawan Periode Desember 2026"),
    header: Sequence[str] = ID_HEADER,
    staff: Sequence[Staff] = STAFF,
    total_row: Row | None = None,
    tail: Sequence[Row] = (),
    amount: Callable[[int], Any] = int,
) -> list[Row]:
    """Titles, a blank row, the header, one row per employee, the total, then ``tail``."""
    rows: list[Row] = [[t] for t in titles]
    if titles:
        rows.append([])
    rows.append(list(header))
    rows.extend(staff_rows(staff, amount=amount))
    if total_row is not None:
        rows.append(total_row)
    rows.extend(tail)
    return rows


def hr_sheet(
    rows: list[Row], *, name: str = "Bonus", merged: Sequence[str] = (), **kw: Any
) -> Sheet:
    header_row = next(i for i, r in enumerate(rows, start=1) if r and r[0] in ("No", "No."))
    bold = [i for i, r in enumerate(rows, start=1) if i > header_row and r and _is_label(r)]
    return Sheet(
        name,
        rows,
        header_row=header_row,
        merged=merged,
        money=kw.pop("money", ("E",)),
        text=kw.pop("text", ("B", "F")),
        bold_rows=bold,
        **kw,
    )


def _is_label(row: Row) -> bool:
    words = " ".join(str(v) for v in row if isinstance(v, str)).casefold()
    return any(w in words for w in ("total", "jumlah"))


def subtotal_rows(
    staff: Sequence[Staff], *, wrong: Mapping[str, int] | None = None, label_col: int = 4
) -> list[Row]:
    """Employees grouped by department, a "Subtotal <dept>" row after each group."""
    out: list[Row] = []
    n = 1
    for dept in dict.fromkeys(s.dept for s in staff):
        group = [s for s in staff if s.dept == dept]
        out.extend(staff_rows(group, start=n))
        n += len(group)
        figure = (wrong or {}).get(dept, sum(s.bonus for s in group))
        out.append(total(f"Subtotal {dept}", figure, label_col=label_col))
    return out


# --- the exports ------------------------------------------------------------------------------
# Each: folder -> path. The layout comment gives the Excel rows the tests assert against.


def id_bonus_title_total_signoff(folder: Path) -> Path:
    """The issue's export: titles 1–2 merged across A:G, header row 4, 10 employees (5–14),
    TOTAL row 15, place and date 17, sign-off 18, names 21, a note 22."""
    rows = hr_bonus_rows(
        total_row=total("TOTAL", TOTAL_ALL),
        tail=[[], *SIGN_OFF, ["Catatan: bonus dibayarkan bersama gaji Desember 2026"]],
    )
    sheet = hr_sheet(rows, merged=("A1:G1", "A2:G2"))
    return write_workbook(folder / "Bonus Desember 2026.xlsx", sheet)


def en_bonus_grand_total(folder: Path) -> Path:
    """English: titles 1–2, header row 3, rows 4–8, Grand Total 9, sign-off 11 and 14."""
    rows = hr_bonus_rows(
        titles=("Sinar Abadi Group", "Year-end Bonus - December 2026"),
        header=EN_HEADER,
        staff=STAFF[:5],
        total_row=total("Grand Total", TOTAL_FIRST5),
        tail=[
            [],
            [None, "Prepared by:", None, None, None, "Approved by:"],
            [],
            [],
            [None, "( Payroll Officer )", None, None, None, "( HR Manager )"],
        ],
    )
    del rows[2]  # no blank row between the titles and the header
    return write_workbook(folder / "Year-end bonus 2026.xlsx", hr_sheet(rows))


def _subtotal_layout(wrong: Mapping[str, int] | None = None) -> list[Row]:
    """Titles 1–2, header 4; Finance 5–7, subtotal 8; IT 9–12, subtotal 13; Marketing 14–16,
    subtotal 17; GRAND TOTAL 18; "Mengetahui," 20; "( Manajer HRD )" 23."""
    return [
        ["PT SINAR ABADI"],
        ["Rekap Bonus per Departemen - Desember 2026"],
        [],
        list(ID_HEADER),
        *subtotal_rows(STAFF, wrong=wrong),
        total("GRAND TOTAL", TOTAL_ALL),
        [],
        at(2, "Mengetahui,"),
        [],
        [],
        at(2, "( Manajer HRD )"),
    ]


def id_subtotals_per_department(folder: Path) -> Path:
    sheet = hr_sheet(_subtotal_layout(), merged=("A1:G1", "A2:G2"))
    return write_workbook(folder / "Rekap Bonus per Departemen.xlsx", sheet)


def id_subtotal_mismatch(folder: Path) -> Path:
    """As id_subtotals_per_department, but "Subtotal IT" (row 13) says 12.500.000."""
    sheet = hr_sheet(_subtotal_layout({"IT": 12_500_000}))
    return write_workbook(folder / "Rekap Bonus (revisi).xlsx", sheet)


def id_grand_total_mismatch(folder: Path) -> Path:
    """A row was corrected after the total was typed: TOTAL (row 15) says 25.000.000."""
    rows = hr_bonus_rows(total_row=total("TOTAL", 25_000_000), tail=[[], at(2, "Mengetahui,")])
    return write_workbook(folder / "Bonus Desember 2026 v2.xlsx", hr_sheet(rows))


def id_jumlah_label(folder: Path) -> Path:
    """Title 1, header 3, rows 4–8 (IT and Marketing), "JUMLAH" 9, sign-off 10 and 13."""
    rows = hr_bonus_rows(
        titles=("CV Berkah Mandiri - Bonus Desember 2026",),
        staff=STAFF[5:],
        total_row=total("JUMLAH", 10_300_000),
        tail=[at(2, "Disetujui oleh,"), [], [], at(2, "( Manajer HRD )")],
    )
    return write_workbook(folder / "bonus-des.xlsx", hr_sheet(rows))


YUNI = Staff(
    "240110", "Yuni Astuti", "Total Rewards", 2_200_000, "0812-1100-0011", _email("Yuni Astuti")
)


def department_total_rewards(folder: Path) -> Path:
    """Title 1, header 3, rows 4–8; row 6 is Yuni of the "Total Rewards" department (a
    payee whose row says total); TOTAL 9 covers all five."""
    staff = [*STAFF[:2], YUNI, *STAFF[2:4]]
    rows = hr_bonus_rows(
        titles=("PT Sinar Abadi - Bonus Desember 2026",),
        staff=staff,
        total_row=total("TOTAL", 13_450_000),
    )
    return write_workbook(folder / "Bonus per karyawan.xlsx", hr_sheet(rows))


def total_label_with_payee_name(folder: Path) -> Path:
    """Title 1, header 3, rows 4–6; row 7 says TOTAL and its amount is the sum above, but it
    carries a NIK and a name: a payee, with no phone and no e-mail."""
    rows = hr_bonus_rows(
        titles=("PT Sinar Abadi - Bonus Finance",),
        staff=STAFF[:3],
        total_row=["TOTAL", "190399", "Lina Marlina", None, 7_250_000],
    )
    return write_workbook(folder / "Bonus Finance.xlsx", hr_sheet(rows))


# Gaji Pokok, Bonus (%) and the bonus of STAFF[:5]: 25 % of the base salary each.
_SALARY = [10_000_000, 12_000_000, 7_000_000, 16_000_000, 13_000_000]
PAYROLL_HEADER = [
    "No",
    "NIK",
    "Nama Karyawan",
    "Departemen",
    "Gaji Pokok",
    "Bonus (%)",
    "Jumlah Bonus (Rp)",
    "No. Handphone",
    "E-mail Karyawan",
]


def _payroll_rows(formulas: bool) -> list[Row]:
    rows: list[Row] = [
        ["PT SINAR ABADI"],
        ["Perhitungan Bonus Kinerja 2026"],
        [],
        list(PAYROLL_HEADER),
    ]
    for n, (s, salary) in enumerate(zip(STAFF[:5], _SALARY, strict=True), start=1):
        r = 4 + n
        bonus: Any = f"=E{r}*F{r}" if formulas else s.bonus
        rows.append([n, s.nik, s.name, s.dept, salary, 0.25, bonus, s.phone, s.email])
    if formulas:
        rows.append(["TOTAL", None, None, None, "=SUM(E5:E9)", None, "=SUM(G5:G9)"])
    else:
        rows.append(["TOTAL", None, None, None, sum(_SALARY), None, TOTAL_FIRST5])
    rows += [[], at(2, "Dibuat oleh,"), [], [], at(2, "( Staf Payroll )")]
    return rows


def _payroll_sheet(formulas: bool) -> Sheet:
    rows = _payroll_rows(formulas)
    cached = {f"G{4 + n}": str(s.bonus) for n, s in enumerate(STAFF[:5], start=1)}
    cached |= {"E10": str(sum(_SALARY)), "G10": str(TOTAL_FIRST5)}
    return hr_sheet(
        rows,
        name="Bonus Kinerja",
        money=("E", "G"),
        text=("B", "H"),
        formats={f"F{r}": "0%" for r in range(5, 10)},
        cached=cached if formulas else {},
    )


def payroll_salary_and_percent(folder: Path) -> Path:
    """Titles 1–2, header 4, rows 5–9, TOTAL 10 (salary and bonus totals), sign-off 12, 15.
    "Gaji Pokok" and "Bonus (%)" look like money but are not the amount."""
    return write_workbook(folder / "Bonus Kinerja 2026.xlsx", _payroll_sheet(False))


def payroll_formulas_cached(folder: Path) -> Path:
    """As payroll_salary_and_percent, every bonus ``=E5*F5`` and the totals ``=SUM(...)``,
    with the values Excel cached."""
    return write_workbook(folder / "Bonus Kinerja 2026 (rumus).xlsx", _payroll_sheet(True))


PARTNERS = [
    (
        "INS-2611-001",
        "Toko Sumber Rejeki",
        "0813-2200-0101",
        "sumber.rejeki@example.co.id",
        1_250_000,
    ),
    ("INS-2611-002", "CV Cahaya Baru", "0813-2200-0102", "cahayabaru@example.co.id", 3_400_000),
    ("INS-2611-003", "Bambang Sutrisno", "0813-2200-0103", "bambang.s@example.co.id", 875_000),
    (
        "INS-2611-004",
        "UD Makmur Sentosa",
        "0813-2200-0104",
        "makmur.sentosa@example.co.id",
        2_100_000,
    ),
    ("INS-2611-005", "Sri Wahyuni", "0813-2200-0105", "sri.wahyuni@example.co.id", 1_500_000),
]  # 9,125,000


def finance_incentive_nominal(folder: Path) -> Path:
    """Finance's export: titles 1–3, header 5 ("No. Ref", "Nama Penerima", "No. HP",
    "Alamat E-mail", "Nominal (IDR)", "Keterangan"), rows 6–10, Total 11, place and date 13,
    sign-off 14 and 17."""
    rows: list[Row] = [
        ["PT Sinar Abadi - Divisi Keuangan"],
        ["Pembayaran Insentif Mitra Penjualan"],
        ["Periode: 1 - 30 November 2026"],
        [],
        ["No. Ref", "Nama Penerima", "No. HP", "Alamat E-mail", "Nominal (IDR)", "Keterangan"],
        *[[*p, "Insentif November"] for p in PARTNERS],
        ["Total", None, None, None, 9_125_000],
        [],
        ["Jakarta, 30 November 2026"],
        ["Dibuat oleh,", None, None, "Mengetahui,"],
        [],
        [],
        ["( Staf Keuangan )", None, None, "( Manajer Keuangan )"],
    ]
    sheet = Sheet(
        "Insentif",
        rows,
        header_row=5,
        money=("E",),
        text=("A", "C"),
        merged=("A1:F1",),
        bold_rows=(11,),
    )
    return write_workbook(folder / "Insentif Mitra Nov 2026.xlsx", sheet)


_CSV_SIGN_OFF = [
    at(6, "Jakarta, 30 November 2026"),
    [None, "Dibuat oleh,", None, None, None, "Disetujui oleh,"],
    [],
    [],
    [None, "( Staf Payroll )", None, None, None, "( Manajer HRD )"],
]


def csv_semicolon_id_amounts(folder: Path) -> Path:
    """Excel (Indonesian locale) "CSV UTF-8": ``;``, amounts "2.500.000"; titles 1–2, header
    4, rows 5–14, TOTAL 15, place and date 17, sign-off 18 and 21."""
    rows = hr_bonus_rows(
        amount=id_amount,
        total_row=total("TOTAL", id_amount(TOTAL_ALL)),
        tail=[[], *_CSV_SIGN_OFF],
    )
    return write_excel_csv(folder / "bonus_desember.csv", rows, delimiter=";", bom=True)


def csv_semicolon_cp1252(folder: Path) -> Path:
    """Excel's plain "CSV" on Windows: ``;``, Windows-1252 (an en dash in the title),
    "Rp 2.500.000"; titles 1–2, header 3, rows 4–8, "Jumlah" 9, sign-off 10–11."""
    rows = hr_bonus_rows(
        titles=("PT Sinar Abadi \u2013 Kantor Cabang Surabaya", "Bonus Desember 2026"),
        staff=STAFF[:5],
        amount=lambda v: f"Rp {id_amount(v)}",
        total_row=total("Jumlah", f"Rp {id_amount(TOTAL_FIRST5)}"),
        tail=[at(2, "Mengetahui,"), at(2, "( Manajer HRD )")],
    )
    del rows[2]
    return write_excel_csv(folder / "bonus surabaya.csv", rows, delimiter=";", encoding="cp1252")


def csv_comma_en_amounts(folder: Path) -> Path:
    """``,`` and English amounts "2,500,000"; titles 1–2, header 4, rows 5–14, Grand Total
    15, "Approved by:" 17, "( HR Manager )" 20."""
    rows = hr_bonus_rows(
        titles=("Sinar Abadi Group", "Year-end Bonus December 2026"),
        header=EN_HEADER,
        amount=en_amount,
        total_row=total("Grand Total", en_amount(TOTAL_ALL)),
        tail=[[], at(2, "Approved by:"), [], [], at(2, "( HR Manager )")],
    )
    return write_excel_csv(folder / "year-end-bonus.csv", rows, delimiter=",")


def csv_comma_subtotal_mismatch(folder: Path) -> Path:
    """``,``, plain amounts; titles 1–2, header 3; Finance 4–6, subtotal 7; IT 8–11, subtotal
    12; Marketing 13–15, "Subtotal Marketing" 16 says 5500000 (the rows make 5550000);
    Total 17; a note 19."""
    rows: list[Row] = [
        ["PT SINAR ABADI"],
        ["Rekap Bonus per Departemen"],
        list(ID_HEADER),
        *subtotal_rows(STAFF, wrong={"Marketing": 5_500_000}),
        total("Total", TOTAL_ALL),
        [],
        ["Catatan: subtotal Marketing belum termasuk koreksi, harap dicek"],
    ]
    return write_excel_csv(folder / "rekap-bonus.csv", rows, delimiter=",")


def several_sheets_cover_first(folder: Path) -> Path:
    """A "Cover" sheet first (title text only); the table on "Bonus Desember": title 1,
    header 3, rows 4–8, TOTAL 9."""
    cover = Sheet(
        "Cover",
        [
            ["PT SINAR ABADI"],
            [],
            ["Laporan Bonus Karyawan"],
            ["Periode Desember 2026"],
            [],
            ["Disusun oleh: Divisi HRD"],
            ["Tanggal: 30 November 2026"],
        ],
    )
    rows = hr_bonus_rows(
        titles=("Daftar Bonus Desember 2026",),
        staff=STAFF[:5],
        total_row=total("TOTAL", TOTAL_FIRST5),
    )
    return write_workbook(
        folder / "Laporan Bonus.xlsx", cover, hr_sheet(rows, name="Bonus Desember")
    )


def several_sheets_summary_first(folder: Path) -> Path:
    """ "Ringkasan" first (a per-department summary, no payees); the table on "Detail", laid
    out as id_bonus_title_total_signoff without the sign-off: header 4, rows 5–14, TOTAL 15."""
    summary = Sheet(
        "Ringkasan",
        [
            ["Ringkasan Bonus per Departemen"],
            [],
            ["Departemen", "Jumlah Karyawan", "Total Bonus (Rp)"],
            ["Finance", 3, 7_250_000],
            ["IT", 4, 12_000_000],
            ["Marketing", 3, 5_550_000],
            ["TOTAL", 10, TOTAL_ALL],
        ],
        header_row=3,
        money=("C",),
    )
    rows = hr_bonus_rows(total_row=total("TOTAL", TOTAL_ALL))
    return write_workbook(
        folder / "Bonus 2026 lengkap.xlsx", summary, hr_sheet(rows, name="Detail")
    )


VENDORS = [
    ("INV-2611-0001", "BCA", "0123456789", "Budi Santoso", 4_500_000),
    ("INV-2611-0002", "Mandiri", "1370012345678", "Siti Rahayu", 2_750_000),
    ("INV-2611-0003", "BRI", "002101000123456", "Agus Saputra", 1_200_000),
    ("INV-2611-0004", "BNI", "0987654321", "Dewi Lestari", 3_300_000),
    ("INV-2611-0005", "BCA", "5270123498", "Eko Hidayat", 650_000),
    ("INV-2611-0006", "Mandiri", "1370098765432", "Rina Wijaya", 1_800_000),
]  # 14,200,000
SAC_MAIN = "SAC-0001-1234567890123"


def sub_account_payout_finance(folder: Path) -> Path:
    """Finance's Sub Account payout export: titles 1–2, header 4 ("No", "No. Invoice", "Sub
    Account", "Bank", "No. Rekening", "Atas Nama", "Nominal (IDR)"), rows 5–10, TOTAL 11,
    sign-off 13 and 16."""
    rows: list[Row] = [
        ["PT SINAR ABADI"],
        ["Pembayaran Vendor via Sub Account - November 2026"],
        [],
        ["No", "No. Invoice", "Sub Account", "Bank", "No. Rekening", "Atas Nama", "Nominal (IDR)"],
        *[
            [n, inv, SAC_MAIN, bank, acc, name, amt]
            for n, (inv, bank, acc, name, amt) in enumerate(VENDORS, 1)
        ],
        total("TOTAL", 14_200_000, amount_col=7),
        [],
        [None, "Dibuat oleh,", None, None, "Disetujui oleh,"],
        [],
        [],
        [None, "( Staf Keuangan )", None, None, "( Manajer Keuangan )"],
    ]
    sheet = hr_sheet(
        rows, name="Payout", merged=("A1:G1", "A2:G2"), money=("G",), text=("B", "C", "E")
    )
    return write_workbook(folder / "Payout Vendor Nov 2026.xlsx", sheet)


def sub_account_payout_set_account(folder: Path) -> Path:
    """No Sub Account column (``--set account_id=...``): title 1, header 3 ("No", "No. Ref",
    "Bank", "No. Rekening", "Atas Nama", "Nominal (IDR)"), rows 4–8, TOTAL 9, note 11."""
    rows: list[Row] = [
        ["Pembayaran Komisi Agen - Desember 2026"],
        [],
        ["No", "No. Ref", "Bank", "No. Rekening", "Atas Nama", "Nominal (IDR)"],
        *[
            [n, f"KOM-2612-{n:03d}", b, a, nm, amt]
            for n, (_i, b, a, nm, amt) in enumerate(VENDORS[:5], 1)
        ],
        total("TOTAL", 12_400_000, amount_col=6),
        [],
        ["Catatan: dibayar dari Sub Account Operasional"],
    ]
    sheet = hr_sheet(rows, name="Komisi", money=("F",), text=("B", "D"))
    return write_workbook(folder / "Komisi Agen Des 2026.xlsx", sheet)


def set_duplicate_nik(folder: Path) -> Path:
    """Hendra (row 14) was given Agus's NIK 200104 (row 8): with reference_id
    "BNS-2612-{NIK}" both rows get one reference. Header 4, rows 5–14, TOTAL 15."""
    staff = [*STAFF[:9], STAFF[9]._replace(nik="200104")]
    rows = hr_bonus_rows(
        staff=staff, total_row=total("TOTAL", TOTAL_ALL), tail=[[], at(2, "Mengetahui,")]
    )
    return write_workbook(folder / "Bonus Desember 2026 (NIK).xlsx", hr_sheet(rows))


def set_reference_too_long(folder: Path) -> Path:
    """reference_id "BONUS-AKHIR-TAHUN-2026-{NIK}" is 29 characters for a 6-digit NIK and 31
    for Dewi's 8-digit one (row 6). Title 1, header 3, rows 4–8, TOTAL 9."""
    staff = [*STAFF[:2], STAFF[2]._replace(nik="20220415"), *STAFF[3:5]]
    rows = hr_bonus_rows(
        titles=("PT Sinar Abadi - Bonus Akhir Tahun",),
        staff=staff,
        total_row=total("TOTAL", TOTAL_FIRST5),
    )
    return write_workbook(folder / "Bonus Akhir Tahun.xlsx", hr_sheet(rows))


def amount_tiny_among_millions(folder: Path) -> Path:
    """Amounts typed as text "Rp 2.500.000"; Rina's (row 8) typed "Rp 1.500" — IDR 1,500
    under the Indonesian convention, 1,666× under the median. Title 1, header 3, rows 4–10,
    TOTAL 11 (the sum Excel showed, "Rp 16.001.500")."""
    staff = STAFF[:7]
    amounts = {s.nik: f"Rp {id_amount(s.bonus)}" for s in staff} | {STAFF[4].nik: "Rp 1.500"}
    rows: list[Row] = [["PT Sinar Abadi - Bonus Desember 2026"], [], list(ID_HEADER)]
    rows += [
        [n, s.nik, s.name, s.dept, amounts[s.nik], s.phone, s.email] for n, s in enumerate(staff, 1)
    ]
    rows.append(total("TOTAL", "Rp 16.001.500"))
    return write_workbook(
        folder / "bonus-rupiah.xlsx", hr_sheet(rows, money=(), text=("B", "E", "F"))
    )


def phone_numbers_stored_as_numbers(folder: Path) -> Path:
    """Phones typed as numbers 6281211000001… (format "0", so Excel shows every digit):
    intact. Titles 1–2, header 4, rows 5–9, TOTAL 10."""
    rows = hr_bonus_rows(staff=STAFF[:5], total_row=total("TOTAL", TOTAL_FIRST5))
    for r in rows[4:9]:
        r[5] = int("62" + r[5].replace("-", "")[1:])
    formats = {f"F{r}": "0" for r in range(5, 10)}
    return write_workbook(
        folder / "Bonus HP angka.xlsx", hr_sheet(rows, text=("B",), formats=formats)
    )


def phone_numbers_lost_leading_zero(folder: Path) -> Path:
    """Siti's (row 4) and Dewi's (row 6) phones typed as numbers: 81211000001, the leading 0
    gone but the mobile number still whole. Title 1, header 3, rows 4–8, TOTAL 9."""
    rows = hr_bonus_rows(
        titles=("Bonus Desember 2026",), staff=STAFF[:5], total_row=total("TOTAL", TOTAL_FIRST5)
    )
    for r in (rows[3], rows[5]):
        r[5] = int(r[5].replace("-", ""))
    return write_workbook(folder / "Bonus (HP).xlsx", hr_sheet(rows, text=("B",)))


def phone_numbers_general_format(folder: Path) -> Path:
    """Budi's (row 5) and Agus's (row 7) phones typed as 13-digit numbers in General format,
    which Excel shows as 6.28121E+12 (and a CSV copy keeps that way). Title 1, header 3, rows
    4–8, TOTAL 9."""
    rows = hr_bonus_rows(
        titles=("Bonus Desember 2026",), staff=STAFF[:5], total_row=total("TOTAL", TOTAL_FIRST5)
    )
    for r in (rows[4], rows[6]):
        r[5] = int("62" + r[5].replace("-", "")[1:])
    return write_workbook(folder / "Bonus (HP 62).xlsx", hr_sheet(rows, text=("B",)))


def header_on_row_6(folder: Path) -> Path:
    """Five title rows (company, address, report, period, printed at), header 6 with "No.",
    "No. Handphone", "E-mail Karyawan"; rows 7–16, Grand Total 17, a note 19."""
    header = [
        "No.",
        "NIK",
        "Nama Lengkap Karyawan",
        "Departemen",
        "Jumlah Bonus (Rp)",
        "No. Handphone",
        "E-mail Karyawan",
    ]
    rows = hr_bonus_rows(
        titles=(
            "PT SINAR ABADI",
            "Jl. Jend. Sudirman Kav. 52-53, Jakarta Selatan 12190",
            "LAPORAN BONUS TAHUNAN KARYAWAN",
            "Periode: Januari - Desember 2026",
            "Dicetak: 01/12/2026 08:15",
        ),
        header=header,
        total_row=total("Grand Total", TOTAL_ALL),
        tail=[[], ["Catatan: bonus dipotong PPh 21 pada slip gaji Desember"]],
    )
    del rows[5]
    merged = [f"A{r}:G{r}" for r in range(1, 6)]
    return write_workbook(folder / "Laporan Bonus Tahunan 2026.xlsx", hr_sheet(rows, merged=merged))


def merged_total_label(folder: Path) -> Path:
    """As id_bonus_title_total_signoff, with the TOTAL label merged across A15:D15 and the
    sign-off merged across F18:G18 and F21:G21, as HR centres them."""
    rows = hr_bonus_rows(total_row=total("TOTAL", TOTAL_ALL), tail=[[], *SIGN_OFF])
    merged = ("A1:G1", "A2:G2", "A15:D15", "F18:G18", "F21:G21")
    return write_workbook(
        folder / "Bonus Desember 2026 (final).xlsx", hr_sheet(rows, merged=merged)
    )


def clean_table_with_footer(folder: Path) -> Path:
    """No titles: header 1, rows 2–6, no total; a note 8 and a sign-off 9."""
    rows = hr_bonus_rows(
        titles=(),
        staff=STAFF[:5],
        tail=[[], ["Catatan: data per 30 November 2026"], at(2, "Dibuat oleh,")],
    )
    return write_workbook(folder / "bonus.xlsx", hr_sheet(rows))


def profile_workbook(folder: Path) -> Path:
    """What HR gets every month: a "Petunjuk" (instructions) sheet, then "Bonus" laid out as
    id_bonus_title_total_signoff (header 4, rows 5–14, TOTAL 15, footer 17–22)."""
    notes = Sheet("Petunjuk", [["Petunjuk pengisian"], ["1. Isi data bonus di sheet Bonus"]])
    rows = hr_bonus_rows(
        total_row=total("TOTAL", TOTAL_ALL),
        tail=[[], *SIGN_OFF, ["Catatan: bonus dibayarkan bersama gaji Desember 2026"]],
    )
    return write_workbook(
        folder / "Bonus Desember 2026.xlsx", notes, hr_sheet(rows, merged=("A1:G1", "A2:G2"))
    )


THR_HEADER = ["No", "NIK", "Karyawan", "Unit Kerja", "THR (Rp)", "No. HP", "Alamat E-mail"]


def thr_semicolon_csv(folder: Path) -> Path:
    """THR (holiday bonus) sheet from a branch: ``;``, "Rp 1.500.000"; "Karyawan" is mapped
    by the profile. Title 1, header 3, rows 4–8, TOTAL 9, sign-off 10."""
    rows: list[Row] = [["THR 2026 - Cabang Bandung"], [], list(THR_HEADER)]
    rows += [
        [n, s.nik, s.name, s.dept, f"Rp {id_amount(s.bonus)}", s.phone, s.email]
        for n, s in enumerate(STAFF[:5], 1)
    ]
    rows += [total("TOTAL", f"Rp {id_amount(TOTAL_FIRST5)}"), at(2, "Mengetahui,")]
    return write_excel_csv(folder / "thr-bandung.csv", rows, delimiter=";", bom=True)


def no_kind_matches(folder: Path) -> Path:
    """An attendance list, not a payout: title 1, header 3 ("No", "Nama", "Jabatan",
    "Departemen")."""
    rows: list[Row] = [
        ["Daftar Hadir Rapat"],
        [],
        ["No", "Nama", "Jabatan", "Departemen"],
        [1, "Siti Rahayu", "Staf", "Finance"],
        [2, "Budi Santoso", "Manajer", "IT"],
    ]
    return write_workbook(folder / "daftar hadir.xlsx", Sheet("Hadir", rows, header_row=3))


def no_sheet_has_a_table(folder: Path) -> Path:
    """Two sheets, neither with a payout table."""
    return write_workbook(
        folder / "catatan.xlsx",
        Sheet("Cover", [["PT SINAR ABADI"], ["Laporan Bonus"]]),
        Sheet("Catatan", [["Bonus akan dibayarkan tanggal 15"], ["Hubungi HRD"]]),
    )
