"""Rebuild ``samples/hr-bonus-desember.xlsx``: an HR bonus export as HR sends it, with no
hand edits — the README's "HR exports with a profile" runs it with ``samples/hr-bonus.toml``.

Run from the repository root:  python samples/make_hr_bonus.py

What it holds (sheet "Bonus Desember"):

* rows 1–2: the company name (merged across the table) and the period; row 3 blank;
* row 4: the header — No, NIK, Nama Lengkap Karyawan, Departemen, No. HP, Alamat E-mail,
  Jumlah Bonus (Rp); no sender column and no reference column;
* rows 5–16: twelve employees (phones and NIKs typed as text, amounts as numbers);
* row 17: "TOTAL" with Rp 31.000.000, the sum of the twelve;
* rows 19–23: the sign-off block ("Disetujui oleh,", "Mengetahui,", "( Manajer HRD )").

Output is byte-for-byte reproducible (fixed timestamps), so a re-run shows no git diff.
"""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import openpyxl
from openpyxl.styles import Font

OUT = Path(__file__).resolve().parent / "hr-bonus-desember.xlsx"
FIXED = dt.datetime(2026, 12, 20, 9, 0, 0)

HEADER = [
    "No",
    "NIK",
    "Nama Lengkap Karyawan",
    "Departemen",
    "No. HP",
    "Alamat E-mail",
    "Jumlah Bonus (Rp)",
]
# (NIK, name, department, phone, email, bonus)
PEOPLE = [
    ("3201011507880001", "Siti Rahayu", "Keuangan", "081234567890", "siti.rahayu", 1_500_000),
    ("3201012208900002", "Budi Santoso", "Gudang", "081298765432", "budi.santoso", 2_000_000),
    ("3201010303910003", "Dewi Lestari", "Penjualan", "085612345678", "dewi.lestari", 2_500_000),
    ("3201011111850004", "Agus Wijaya", "Penjualan", "081311122233", "agus.wijaya", 3_000_000),
    ("3201012012920005", "Rina Marlina", "HRD", "087812345670", "rina.marlina", 1_750_000),
    ("3201010909870006", "Hendra Gunawan", "Gudang", "081377788899", "hendra.gunawan", 2_250_000),
    ("3201010101800007", "Sri Wahyuni", "Keuangan", "082112345678", "sri.wahyuni", 4_000_000),
    ("3201011703930008", "Yusuf Hidayat", "IT", "081955566677", "yusuf.hidayat", 2_750_000),
    ("3201012506890009", "Maya Sari", "IT", "085711223344", "maya.sari", 3_250_000),
    ("3201013012940010", "Fajar Nugroho", "Penjualan", "081244455566", "fajar.nugroho", 2_500_000),
    ("3201010707860011", "Lina Kusuma", "HRD", "089612345678", "lina.kusuma", 3_000_000),
    ("3201011404950012", "Eko Prasetyo", "Gudang", "081366677788", "eko.prasetyo", 2_500_000),
]


def build() -> openpyxl.Workbook:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "Bonus Desember"
    ws.append(["PT SINAR ABADI"])
    ws.merge_cells("A1:G1")
    ws.append(["Daftar Bonus Karyawan — Periode Desember 2026"])
    ws.append([])
    ws.append(HEADER)
    for cell in ws[4]:
        cell.font = Font(bold=True)
    for i, (nik, name, dept, phone, email, bonus) in enumerate(PEOPLE, start=1):
        ws.append([i, nik, name, dept, phone, f"{email}@sinarabadi.co.id", bonus])
    total_row = 5 + len(PEOPLE)
    ws.append(["TOTAL", None, None, None, None, None, sum(p[5] for p in PEOPLE)])
    ws.merge_cells(f"A{total_row}:F{total_row}")
    for row in ws.iter_rows(min_row=5, max_row=total_row, min_col=7, max_col=7):
        row[0].number_format = "#,##0"
    ws.append([])
    ws.append(["Disetujui oleh,", None, None, None, "Mengetahui,"])
    ws.append([])
    ws.append([])
    ws.append(["( Manajer HRD )", None, None, None, "( Direktur Keuangan )"])
    for column, width in zip("ABCDEFG", (6, 20, 26, 12, 15, 30, 18), strict=True):
        ws.column_dimensions[column].width = width
    wb.properties.created = FIXED
    wb.properties.modified = FIXED
    return wb


def main() -> None:
    build().save(OUT)
    # openpyxl stamps every zip entry with the current time: rewrite them with a fixed one.
    with zipfile.ZipFile(OUT) as z:
        entries = [(info, z.read(info.filename)) for info in z.infolist()]
    with zipfile.ZipFile(OUT, "w", zipfile.ZIP_DEFLATED) as z:
        for info, data in entries:
            fixed = zipfile.ZipInfo(info.filename, date_time=FIXED.timetuple()[:6])
            fixed.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(fixed, data)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
