"""Generated sheets for the benchmarks: payout-link bonus sheets (CSV and XLSX) that look like
what HR exports, with about 1% bad rows, and clean Sub Account payout / Payout Link sheets for
the run benchmarks.

Deterministic (a seeded ``random.Random``), so two runs of a benchmark read the same bytes.

    .venv/bin/python benchmarks/datagen.py payout-link-csv OUT.csv --rows 1000000
"""

from __future__ import annotations

import argparse
import csv
import random
from collections.abc import Iterator
from pathlib import Path

FIRST = (
    "Siti Budi Dewi Agus Rina Andi Sri Joko Putri Eko Ayu Hendra Wati Rudi Indah Bayu Nur "
    "Fajar Lestari Dian Yusuf Ratna Arif Maya Teguh Fitri Bambang Intan Wahyu Sari Rizky Dina "
    "Hadi Novi Yoga Ani Dimas Tuti Adi Mega"
).split()
LAST = (
    "Rahayu Santoso Lestari Setiawan Wijaya Pratama Hidayat Saputra Kusuma Nugroho Siregar "
    "Hasibuan Nasution Sihombing Simanjuntak Gunawan Halim Susanto Purnomo Utomo Hartono "
    "Wibowo Permana Firmansyah Kurniawan Ramadhan Syahputra Maharani Anggraini Puspita"
).split()
DEPARTMENTS = (
    "Finance",
    "Sales",
    "Operasional",
    "Gudang",
    "IT",
    "HR",
    "Marketing",
    "Legal",
    "Produksi",
    "Logistik",
)
DOMAINS = ("example.co.id", "gmail.com", "yahoo.co.id", "majujaya.co.id", "outlook.com")
DESCRIPTIONS = ("Bonus kinerja Q4 2026", "Bonus tahunan 2026", "THR 2026", "Insentif penjualan")
PREFIXES = ("0812", "0813", "0821", "0822", "0852", "0853", "0856", "0857", "0878", "0895")
CSV_HEADER = (
    "employee_id",
    "receiver_name",
    "department",
    "receiver_phone_number",
    "receiver_email",
    "amount",
    "reference_id",
    "description",
    "sender_name",
    "currency",
)

# Defects of the ~1% bad rows: (column, bad value or None for a duplicate reference).
DEFECTS: tuple[tuple[str, str | None], ...] = (
    ("receiver_phone_number", "12345"),
    ("receiver_phone_number", "8.16291E+11"),
    ("receiver_phone_number", "+1 415 555 0100"),
    ("receiver_email", "budi.santoso@"),
    ("receiver_email", "siti@@example.co.id"),
    ("amount", "-500000"),
    ("amount", "1.500"),
    ("amount", "abc"),
    ("receiver_name", ""),
    ("currency", "USD"),
    ("reference_id", None),
)


def _phone(rng: random.Random) -> str:
    digits = f"{rng.randrange(10**7, 10**9)}"
    prefix = rng.choice(PREFIXES)
    shape = rng.random()
    if shape < 0.65:
        return prefix + digits
    if shape < 0.85:
        return "62" + prefix[1:] + digits
    if shape < 0.95:
        return f"+62 {prefix[1:]}-{digits[:4]}-{digits[4:]}"
    return prefix[1:] + digits  # Excel ate the leading 0


def _amount(rng: random.Random, as_text: bool) -> str | int:
    whole = rng.randrange(500, 25_000) * 1000
    if not as_text:
        return whole
    shape = rng.random()
    # Formatted only from a million up: "Rp 516.000" or "745,000" (one separator, three
    # digits) is genuinely ambiguous, and the bad rows carry their own "1.500".
    if shape < 0.75 or whole < 1_000_000:
        return str(whole)
    if shape < 0.85:
        return "Rp " + f"{whole:,}".replace(",", ".")
    if shape < 0.93:
        return f"{whole:,}"
    return f"{whole}.00"


def payout_link_rows(
    n: int, *, seed: int = 20261101, bad_rate: float = 0.01, as_text: bool = True
) -> Iterator[list[str | int]]:
    """``n`` bonus rows in :data:`CSV_HEADER` order; ``bad_rate`` of them carry one defect."""
    rng = random.Random(seed)
    previous_ref = "BONUS-2026-11-0000000"
    for i in range(1, n + 1):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        ref = f"BONUS-2026-11-{i:07d}"
        row: list[str | int] = [
            f"EMP-{i:07d}",
            f"{first} {last}",
            rng.choice(DEPARTMENTS),
            _phone(rng),
            f"{first.lower()}.{last.lower()}{i}@{rng.choice(DOMAINS)}",
            _amount(rng, as_text),
            ref,
            rng.choice(DESCRIPTIONS),
            "PT Maju Jaya Sejahtera",
            "IDR",
        ]
        if rng.random() < bad_rate:
            column, value = rng.choice(DEFECTS)
            row[CSV_HEADER.index(column)] = previous_ref if value is None else value
        previous_ref = ref
        yield row


def write_payout_link_csv(path: Path, n: int, **kw: object) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(CSV_HEADER)
        writer.writerows(payout_link_rows(n, **kw))  # type: ignore[arg-type]
    return path


def write_payout_link_xlsx(path: Path, n: int, **kw: object) -> Path:
    """An Excel-made-looking sheet: amounts are number cells, identifiers text cells."""
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Bonus November")
    ws.append(list(CSV_HEADER))
    for row in payout_link_rows(n, as_text=False, **kw):  # type: ignore[arg-type]
        ws.append(row)
    wb.save(path)
    return path


SAC_HEADER = (
    "account_id",
    "amount",
    "invoice_number",
    "bank_code",
    "bank_account_number",
    "bank_account_name",
)
BANKS = ("CENAIDJA", "BNINIDJA", "BRINIDJA", "BMRIIDJA", "BCA", "014", "Bank Mandiri")


def write_sac_payout_csv(
    path: Path, n: int, *, account: str, prefix: str = "INV", amount: int = 10_000, seed: int = 7
) -> Path:
    """A clean Sub Account payout sheet of ``n`` rows from ``account``."""
    rng = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(SAC_HEADER)
        for i in range(1, n + 1):
            writer.writerow(
                [
                    account,
                    amount,
                    f"{prefix}-{i:07d}",
                    rng.choice(BANKS),
                    f"{rng.randrange(10**9, 10**10):010d}",
                    f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                ]
            )
    return path


def write_clean_payout_link_csv(
    path: Path, n: int, *, prefix: str = "BONUS", seed: int = 11
) -> Path:
    """A payout-link sheet of ``n`` valid rows with references ``<prefix>-NNNNNNN``."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(CSV_HEADER)
        for row in payout_link_rows(n, seed=seed, bad_rate=0.0):
            row[CSV_HEADER.index("reference_id")] = f"{prefix}-{str(row[0])[4:]}"
            writer.writerow(row)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["payout-link-csv", "payout-link-xlsx"])
    parser.add_argument("out", type=Path)
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    if args.what == "payout-link-csv":
        write_payout_link_csv(args.out, args.rows)
    else:
        write_payout_link_xlsx(args.out, args.rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
