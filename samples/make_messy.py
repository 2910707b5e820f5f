"""Rebuild the XLSX samples: ``messy-bonus.xlsx`` (every trap a real bonus sheet falls into)
and ``bonus-payout-link.xlsx`` (the clean CSV sample as a well-formed workbook).

Run from the repository root:  python samples/make_messy.py

Output is byte-for-byte reproducible (fixed timestamps), so a re-run shows no git diff.

The traps in messy-bonus.xlsx, by Excel row (header is row 1 of sheet "Bonus November";
a hidden sheet "Draft" comes first, so the loader must pick the first *visible* sheet):

====  ==========================================================================
row   trap
====  ==========================================================================
 3    phone stored as a number: 81234567891 (Excel dropped the leading 0)
 4    phone stored as a number in scientific format (shows 8.16291E+11)
 5    phone typed as the text "8.16291E+11" (a CSV round trip through Excel)
 6    hidden row
 7-8  description merged across two rows (row 8 seems to have it, but does not)
 9    amount is a formula (=1250000*1.2), cached value 1500000
10    receiver_name is "NA" (a real name in some places; pandas would make it missing)
11    amount "1.500" — 1,500 or 1.5? ambiguous
12    reference_id duplicates row 2
13    email without a domain suffix
14    negative amount
15    receiver_email blank (required)
16    amount with three decimals
17    phone too short
18    description longer than DOKU's 30 characters
====  ==========================================================================
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill

from batchpay.templates import deterministic_xlsx_bytes

HERE = Path(__file__).resolve().parent
HEADERS = [
    "employee_id",
    "receiver_name",
    "department",
    "receiver_phone_number",
    "receiver_email",
    "amount",
    "reference_id",
    "description",
    "sender_name",
]
IDENTIFIERS = {"receiver_phone_number", "reference_id", "employee_id"}
SENDER = "PT Maju Jaya Sejahtera"
DESC = "Bonus kinerja Q4 2026"


def _row(
    emp: str, name: str, dept: str, phone: Any, email: Any, amount: Any, ref: str, desc: Any = DESC
) -> list[Any]:
    return [emp, name, dept, phone, email, amount, ref, desc, SENDER]


MESSY_ROWS: list[list[Any]] = [
    _row(
        "EMP-0201",
        "Siti Rahayu",
        "Finance",
        "081234567890",
        "siti.rahayu@example.co.id",
        1500000,
        "BONUS-2026-12-0001",
    ),
    _row(
        "EMP-0202",
        "Budi Santoso",
        "Sales",
        81234567891,
        "budi.santoso@example.co.id",
        2750000,
        "BONUS-2026-12-0002",
    ),
    _row(
        "EMP-0203",
        "Dewi Lestari",
        "Operasional",
        816291271826,
        "dewi.lestari@example.co.id",
        2000000,
        "BONUS-2026-12-0003",
    ),
    _row(
        "EMP-0204",
        "Agus Setiawan",
        "Gudang",
        "8.16291E+11",
        "agus.setiawan@example.co.id",
        1250000,
        "BONUS-2026-12-0004",
    ),
    _row(
        "EMP-0205",
        "Rina Wulandari",
        "HR",
        "081345678905",
        "rina.wulandari@example.co.id",
        3500000,
        "BONUS-2026-12-0005",
    ),
    _row(
        "EMP-0206",
        "Eko Prasetyo",
        "IT",
        "081345678906",
        "eko.prasetyo@example.co.id",
        1000000,
        "BONUS-2026-12-0006",
        "Bonus tim proyek",
    ),
    _row(
        "EMP-0207",
        "Sri Mulyani",
        "Finance",
        "081345678907",
        "sri.mulyani@example.co.id",
        1750000,
        "BONUS-2026-12-0007",
        None,
    ),
    _row(
        "EMP-0208",
        "Andi Wijaya",
        "Sales",
        "+62 812-3456-7908",
        "andi.wijaya@example.co.id",
        "=1250000*1.2",
        "BONUS-2026-12-0008",
    ),
    _row(
        "EMP-0209",
        "NA",
        "Operasional",
        "6281234567909",
        "na@example.co.id",
        1200000,
        "BONUS-2026-12-0009",
    ),
    _row(
        "EMP-0210",
        "Joko Susilo",
        "Gudang",
        "081234567910",
        "joko.susilo@example.co.id",
        "1.500",
        "BONUS-2026-12-0010",
    ),
    _row(
        "EMP-0211",
        "Nur Aisyah",
        "HR",
        "081234567911",
        "nur.aisyah@example.co.id",
        2250000,
        "BONUS-2026-12-0001",
    ),
    _row(
        "EMP-0212",
        "Hendra Gunawan",
        "IT",
        "081234567912",
        "hendra.gunawan@example",
        1800000,
        "BONUS-2026-12-0012",
    ),
    _row(
        "EMP-0213",
        "Wahyu Hidayat",
        "Sales",
        "081234567913",
        "wahyu.hidayat@example.co.id",
        -250000,
        "BONUS-2026-12-0013",
    ),
    _row(
        "EMP-0214",
        "Fitri Handayani",
        "Finance",
        "081234567914",
        None,
        1600000,
        "BONUS-2026-12-0014",
    ),
    _row(
        "EMP-0215",
        "Bayu Saputra",
        "Operasional",
        "081234567915",
        "bayu.saputra@example.co.id",
        "1500000.555",
        "BONUS-2026-12-0015",
    ),
    _row(
        "EMP-0216",
        "Indah Permatasari",
        "Sales",
        "0812345",
        "indah.permatasari@example.co.id",
        2100000,
        "BONUS-2026-12-0016",
    ),
    _row(
        "EMP-0217",
        "Rudi Hartono",
        "Gudang",
        "081234567917",
        "rudi.hartono@example.co.id",
        1900000,
        "BONUS-2026-12-0017",
        "Bonus kinerja kuartal keempat tahun 2026",
    ),
    _row(
        "EMP-0218",
        "Yuliana Sari",
        "HR",
        "081234567918",
        "yuliana.sari@example.co.id",
        1300000,
        "BONUS-2026-12-0018",
    ),
    _row(
        "EMP-0219",
        "Dimas Anggara",
        "IT",
        "+62 813-4567-8919",
        "dimas.anggara@example.co.id",
        2400000,
        "BONUS-2026-12-0019",
    ),
    _row(
        "EMP-0220",
        "Ratna Sari Dewi",
        "Finance",
        "6281345678920",
        "ratna.dewi@example.co.id",
        1100000,
        "BONUS-2026-12-0020",
    ),
]
FORMULA_CELL = "F9"
FORMULA_CACHED = "1500000"


def _header(ws: Any, headers: list[str]) -> None:
    ws.append(headers)
    for cell in ws[1]:
        cell.font = Font(bold=True, color="FFFFFF")
        cell.fill = PatternFill("solid", fgColor="1F4E78")
    ws.freeze_panes = "A2"


def messy_workbook() -> Workbook:
    wb = Workbook()
    draft = wb.active
    assert draft is not None
    draft.title = "Draft"
    draft.append(["catatan"])
    draft.append(["versi lama, jangan dipakai"])
    draft.sheet_state = "hidden"
    ws = wb.create_sheet("Bonus November")
    _header(ws, HEADERS)
    for values in MESSY_ROWS:
        ws.append(values)
    # Typed into General-format cells, as a hurried clerk would: the phone numbers became
    # numbers; one shows in scientific notation, exactly as Excel displays a 12-digit number.
    ws["D4"].number_format = "0.00000E+00"
    ws["F9"].number_format = "#,##0"
    ws.row_dimensions[6].hidden = True
    ws.merge_cells("H7:H8")
    for col, width in zip("ABCDEFGHI", (12, 20, 14, 22, 32, 14, 22, 28, 24), strict=True):
        ws.column_dimensions[col].width = width
    return wb


def bonus_workbook() -> Workbook:
    """The clean CSV sample as a workbook prepared the right way: identifiers as Text,
    amounts as numbers with a thousands format."""
    with (HERE / "bonus-payout-link.csv").open(encoding="utf-8", newline="") as f:
        records = list(csv.DictReader(f))
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "Bonus"
    headers = list(records[0])
    _header(ws, headers)
    for r, rec in enumerate(records, start=2):
        for c, name in enumerate(headers, start=1):
            cell = ws.cell(row=r, column=c)
            if name == "amount":
                cell.value = int(re.sub(r"[^\d]", "", rec[name].removesuffix(".00")))
                cell.number_format = "#,##0"
            else:
                cell.value = rec[name]
                cell.data_type = "s"
                cell.number_format = "@"
    for c, name in enumerate(headers, start=1):
        letter = ws.cell(row=1, column=c).column_letter
        ws.column_dimensions[letter].width = max(14, len(name) + 4)
        if name in IDENTIFIERS:
            ws.column_dimensions[letter].number_format = "@"
    return wb


def _with_cached_value(data: bytes, sheet_part: str, cell: str, value: str) -> bytes:
    """openpyxl cannot store a formula's cached result; Excel always does. Add it, so the
    sample behaves like a file saved by Excel."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == sheet_part:
                text = body.decode("utf-8")
                pattern = re.compile(rf'(<c r="{cell}"[^>]*>)<f>([^<]*)</f><v\s*/>')
                text, n = pattern.subn(rf"\1<f>\2</f><v>{value}</v>", text)
                if n != 1:
                    raise RuntimeError(f"formula cell {cell} not found in {sheet_part}")
                body = text.encode("utf-8")
            dst.writestr(info, body)
    return out.getvalue()


def main() -> None:
    messy = deterministic_xlsx_bytes(messy_workbook())
    messy = _with_cached_value(messy, "xl/worksheets/sheet2.xml", FORMULA_CELL, FORMULA_CACHED)
    (HERE / "messy-bonus.xlsx").write_bytes(messy)
    (HERE / "bonus-payout-link.xlsx").write_bytes(deterministic_xlsx_bytes(bonus_workbook()))
    print("wrote samples/messy-bonus.xlsx and samples/bonus-payout-link.xlsx")


if __name__ == "__main__":
    main()
