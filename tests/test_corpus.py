"""The malformed-input corpus: every trap a real payout sheet falls into (issue #2 "Done when",
docs/safety.md §8), each asserting the exact ``(row, column, code)`` list
:func:`batchpay.validate.validate_file` reports — nothing more, nothing less — and that no
case ends in a traceback.

Every file is generated here: CSV as text or bytes, XLSX as real workbooks built with openpyxl
(numbers in identifier columns, hidden rows, merged cells, formulas, error cells), so each
case shows exactly what the sheet looked like.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner

from batchpay import cli as cli_module
from batchpay.errors import InputError
from batchpay.problems import sort_key
from batchpay.validate import validate_file

Key = tuple[int | None, str | None, str]

PL = (
    "receiver_name",
    "receiver_phone_number",
    "receiver_email",
    "amount",
    "reference_id",
    "sender_name",
)
SAP = (
    "account_id",
    "amount",
    "invoice_number",
    "bank_code",
    "bank_account_number",
    "bank_account_name",
)
SAT = ("origin", "destination", "amount", "invoice_number")
SAC = ("email", "type", "name")

_DEFAULTS: dict[str, dict[str, Any]] = {
    "payout-link": {
        "receiver_name": "Siti Rahayu",
        "receiver_phone_number": "081234567890",
        "receiver_email": "siti.rahayu@example.co.id",
        "amount": "1500000",
        "sender_name": "PT Maju Jaya",
    },
    "sub-account-payout": {
        "account_id": "SAC-0001-1234567890123",
        "amount": "2500000",
        "bank_code": "CENAIDJA",
        "bank_account_number": "0123456789",
        "bank_account_name": "Budi Santoso",
    },
    "sub-account-transfer": {
        "origin": "SAC-0001-1234567890123",
        "destination": "SAC-0002-1234567890124",
        "amount": "750000",
    },
    "sub-account-create": {"type": "STANDARD", "name": "Toko Sejahtera"},
}
_REF = {
    "payout-link": "reference_id",
    "sub-account-payout": "invoice_number",
    "sub-account-transfer": "invoice_number",
    "sub-account-create": "email",
}
_COLUMNS = {
    "payout-link": PL,
    "sub-account-payout": SAP,
    "sub-account-transfer": SAT,
    "sub-account-create": SAC,
}


def rows(kind: str, *overrides: dict[str, Any]) -> list[dict[str, Any]]:
    """Valid rows of ``kind`` (unique references), each changed by its override."""
    out = []
    for i, over in enumerate(overrides, start=1):
        row = dict(_DEFAULTS[kind])
        row[_REF[kind]] = (
            f"shop{i}@example.co.id" if kind == "sub-account-create" else f"REF-{i:04d}"
        )
        row.update(over)
        out.append(
            {c: row.get(c, "") for c in _COLUMNS[kind]}
            | {k: v for k, v in row.items() if k not in _COLUMNS[kind]}
        )
    return out


@dataclass
class Case:
    id: str
    expected: list[Key]
    kind: str = "payout-link"
    records: list[dict[str, Any]] = field(default_factory=list)
    fmt: str = "csv"  # csv | xlsx
    raw: bytes | None = None  # exact file bytes (CSV encoding / delimiter cases)
    tweak: Callable[[Any], None] | None = None  # edits the openpyxl worksheet
    options: dict[str, Any] = field(default_factory=dict)
    post: Callable[[bytes], bytes] | None = None  # edits the saved XLSX bytes
    # A known bug elsewhere, with the reason: the case asserts what is right and is expected
    # to fail (strictly) until the bug is fixed.
    known_bug: str | None = None


def write_case(case: Case, folder: Path) -> Path:
    path = folder / f"{case.id}.{case.fmt}"
    if case.raw is not None:
        path.write_bytes(case.raw)
        return path
    headers = list(case.records[0])
    if case.fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(headers)
        for rec in case.records:
            writer.writerow(["" if rec.get(h) is None else rec.get(h, "") for h in headers])
        path.write_text(buf.getvalue(), encoding="utf-8")
        return path
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "Data"
    ws.append(headers)
    for rec in case.records:
        ws.append([rec.get(h) for h in headers])
    if case.tweak is not None:
        case.tweak(ws)
    wb.save(path)
    if case.post is not None:
        path.write_bytes(case.post(path.read_bytes()))
    return path


def cached_value(cell: str, value: str) -> Callable[[bytes], bytes]:
    """Give a formula cell the cached result Excel would have stored (openpyxl cannot)."""

    def post(data: bytes) -> bytes:
        src = zipfile.ZipFile(io.BytesIO(data))
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
            for info in src.infolist():
                body = src.read(info.filename)
                if info.filename == "xl/worksheets/sheet1.xml":
                    body, n = re.subn(
                        rf'(<c r="{cell}"[^>]*>)<f>([^<]*)</f><v\s*/>'.encode(),
                        rf"\1<f>\2</f><v>{value}</v>".encode(),
                        body,
                    )
                    assert n == 1
                dst.writestr(info, body)
        return out.getvalue()

    return post


def error_cell(cell: str, error: str) -> Callable[[bytes], bytes]:
    """Turn ``cell`` into an Excel error cell (#N/A, #REF!) as Excel writes it."""

    def post(data: bytes) -> bytes:
        src = zipfile.ZipFile(io.BytesIO(data))
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
            for info in src.infolist():
                body = src.read(info.filename)
                if info.filename == "xl/worksheets/sheet1.xml":
                    body, n = re.subn(
                        rf'<c r="{cell}"[^>]*>.*?</c>'.encode(),
                        f'<c r="{cell}" t="e"><v>{error}</v></c>'.encode(),
                        body,
                    )
                    assert n == 1
                dst.writestr(info, body)
        return out.getvalue()

    return post


def _hide_row(n: int) -> Callable[[Any], None]:
    def tweak(ws: Any) -> None:
        ws.row_dimensions[n].hidden = True

    return tweak


def _merge(rng: str) -> Callable[[Any], None]:
    def tweak(ws: Any) -> None:
        ws.merge_cells(rng)

    return tweak


def _fmt(cell: str, number_format: str) -> Callable[[Any], None]:
    def tweak(ws: Any) -> None:
        ws[cell].number_format = number_format

    return tweak


def _hide_column(letter: str) -> Callable[[Any], None]:
    def tweak(ws: Any) -> None:
        ws.column_dimensions[letter].hidden = True

    return tweak


def _hidden_first_sheet(ws: Any) -> None:
    wb = ws.parent
    old = wb.create_sheet("Old", 0)
    old.append(["catatan"])
    old.sheet_state = "hidden"


P = "payout-link"
ok = {}  # an unchanged valid row, for readability

CASES: list[Case] = [
    # --- amounts ---------------------------------------------------------------------------
    Case(
        "amount-ambiguous-dot",
        [(3, "amount", "amount-ambiguous")],
        records=rows(P, ok, {"amount": "1.500"}),
    ),
    Case(
        "amount-ambiguous-comma",
        [(2, "amount", "amount-ambiguous")],
        records=rows(P, {"amount": "1,500"}),
    ),
    Case(
        "amount-ambiguous-dot-with-id-format",
        [],
        records=rows(P, {"amount": "1.500"}),
        options={"amount_format": "id"},
    ),
    Case(
        "amount-ambiguous-comma-with-en-format",
        [],
        records=rows(P, {"amount": "1,500"}),
        options={"amount_format": "en"},
    ),
    Case(
        "amount-understood-forms",
        [],
        records=rows(
            P,
            {"amount": "1500000"},
            {"amount": "1500000.00"},
            {"amount": "Rp 1.500.000"},
            {"amount": "1,500,000"},
            {"amount": "1.500.000,00"},
            {"amount": "IDR 1.500.000,50"},
        ),
    ),
    Case("amount-zero", [(2, "amount", "amount-zero")], records=rows(P, {"amount": "0"})),
    Case(
        "amount-negative",
        [(2, "amount", "amount-negative")],
        records=rows(P, {"amount": "-250000"}),
    ),
    Case("amount-nan", [(2, "amount", "amount-not-a-number")], records=rows(P, {"amount": "NaN"})),
    Case(
        "amount-exponent",
        [(2, "amount", "scientific-notation")],
        records=rows(P, {"amount": "1e6"}),
    ),
    Case(
        "amount-non-ascii-digits",
        [(2, "amount", "non-ascii-digits")],
        records=rows(P, {"amount": "١٥٠٠٠٠٠"}),
    ),
    Case(
        "amount-words", [(2, "amount", "amount-invalid")], records=rows(P, {"amount": "satu juta"})
    ),
    Case(
        "amount-three-decimals",
        [(2, "amount", "amount-too-many-decimals")],
        records=rows(P, {"amount": "1500000.555"}),
    ),
    Case("amount-blank", [(2, "amount", "required")], records=rows(P, {"amount": ""})),
    Case(
        "amount-too-many-digits",
        [(2, "amount", "amount-too-large")],
        records=rows(P, {"amount": "12345678901234567"}),
    ),
    Case(
        "sub-account-amount-cents",
        [(2, "amount", "amount-not-whole")],
        kind="sub-account-payout",
        records=rows("sub-account-payout", {"amount": "1500000.50"}),
    ),
    Case(
        "sub-account-amount-zero-cents-ok",
        [],
        kind="sub-account-payout",
        records=rows("sub-account-payout", {"amount": "1500000.00"}),
    ),
    Case(
        "sub-account-amount-13-digits",
        [(2, "amount", "amount-too-large")],
        kind="sub-account-transfer",
        records=rows("sub-account-transfer", {"amount": "1234567890123"}),
    ),
    # --- phones ----------------------------------------------------------------------------
    Case(
        "phone-scientific-text",
        [(2, "receiver_phone_number", "scientific-notation")],
        records=rows(P, {"receiver_phone_number": "8.16291E+11"}),
    ),
    Case(
        "phone-too-short",
        [(2, "receiver_phone_number", "phone-length")],
        records=rows(P, {"receiver_phone_number": "0812345"}),
    ),
    Case(
        "phone-foreign",
        [(2, "receiver_phone_number", "phone-not-indonesian")],
        records=rows(P, {"receiver_phone_number": "+1 415 555 0100"}),
    ),
    Case(
        "phone-letters",
        [(2, "receiver_phone_number", "phone-invalid")],
        records=rows(P, {"receiver_phone_number": "0812-ABCD-7890"}),
    ),
    Case(
        "phone-formats-understood",
        [],
        records=rows(
            P,
            {"receiver_phone_number": "0812-3456-7890"},
            {"receiver_phone_number": "+62 812 3456 7891"},
            {"receiver_phone_number": "6281234567892"},
            {"receiver_phone_number": "(0812) 3456 7893"},
        ),
    ),
    # --- emails, names, lengths ------------------------------------------------------------
    Case(
        "email-no-domain-dot",
        [(2, "receiver_email", "email-invalid")],
        records=rows(P, {"receiver_email": "budi@example"}),
    ),
    Case(
        "email-two-ats",
        [(2, "receiver_email", "email-invalid")],
        records=rows(P, {"receiver_email": "budi@@example.co.id"}),
    ),
    Case(
        "email-too-long",
        [(2, "receiver_email", "too-long")],
        records=rows(P, {"receiver_email": "a" * 40 + "@example.co.id"}),
    ),
    Case(
        "email-blank", [(2, "receiver_email", "required")], records=rows(P, {"receiver_email": ""})
    ),
    Case(
        "names-that-pandas-would-drop",
        [],
        records=rows(
            P,
            {"receiver_name": "NA"},
            {"receiver_name": "null"},
            {"receiver_name": "None"},
            {"receiver_name": "N/A"},
            {"receiver_name": "nan"},
        ),
    ),
    Case(
        "description-31-chars",
        [(2, "description", "too-long")],
        records=rows(P, {"description": "x" * 31}),
    ),
    Case(
        "reference-31-chars",
        [(2, "reference_id", "too-long")],
        records=rows(P, {"reference_id": "R" * 31}),
    ),
    Case(
        "sender-name-51-chars",
        [(2, "sender_name", "too-long")],
        records=rows(P, {"sender_name": "S" * 51}),
    ),
    Case(
        "limits-exactly-met",
        [],
        records=rows(
            P,
            {
                "description": "x" * 30,
                "reference_id": "R" * 30,
                "sender_name": "S" * 50,
                "receiver_name": "N" * 50,
            },
        ),
    ),
    Case(
        "currency-not-iso",
        [(2, "currency", "currency-invalid")],
        records=rows(P, {"currency": "Rupiah"}),
    ),
    Case(
        "blank-required-name",
        [(2, "receiver_name", "required")],
        records=rows(P, {"receiver_name": "   "}),
    ),
    # --- cross-row -------------------------------------------------------------------------
    Case(
        "duplicate-reference",
        [(2, "reference_id", "duplicate-reference"), (4, "reference_id", "duplicate-reference")],
        records=rows(P, {"reference_id": "BONUS-1"}, ok, {"reference_id": "BONUS-1"}),
    ),
    Case(
        "duplicate-invoice",
        [
            (2, "invoice_number", "duplicate-reference"),
            (3, "invoice_number", "duplicate-reference"),
        ],
        kind="sub-account-payout",
        records=rows(
            "sub-account-payout", {"invoice_number": "INV-1"}, {"invoice_number": "INV-1"}
        ),
    ),
    Case(
        "transfer-origin-is-destination",
        [(2, "destination", "transfer-same-account")],
        kind="sub-account-transfer",
        records=rows("sub-account-transfer", {"destination": "SAC-0001-1234567890123"}),
    ),
    # --- look-alike references and formula-prefixed text (issue 8, findings 2 and 13) -------
    Case(
        "reference-full-width-digits",
        [(2, "reference_id", "non-ascii-digits")],
        records=rows(P, {"reference_id": "BONUS-NOV-\uff10\uff10\uff101"}),
    ),
    Case(
        "reference-cyrillic-letter",
        [(2, "reference_id", "reference-not-ascii")],
        records=rows(P, {"reference_id": "B\u041eNUS-NOV-0001"}),
    ),
    Case(
        "invoice-cyrillic-letter",
        [(2, "invoice_number", "reference-not-ascii")],
        kind="sub-account-payout",
        records=rows("sub-account-payout", {"invoice_number": "INV-\u0421-1"}),
    ),
    Case(
        "receiver-name-dde-payload",
        [(2, "receiver_name", "formula-prefix")],
        records=rows(P, {"receiver_name": "=cmd|' /C calc'!A0"}),
    ),
    Case(
        "sender-name-at-sum",
        [(2, "sender_name", "formula-prefix")],
        records=rows(P, {"sender_name": "@SUM(A1)"}),
    ),
    Case(
        "reference-leading-dash",
        [(2, "reference_id", "formula-prefix")],
        records=rows(P, {"reference_id": "-R2"}),
    ),
    Case(
        "bank-account-name-formula",
        [(2, "bank_account_name", "formula-prefix")],
        kind="sub-account-payout",
        records=rows("sub-account-payout", {"bank_account_name": "+Budi"}),
    ),
    Case(
        "references-ascii-punctuation-and-inner-dashes-understood",
        [],
        records=rows(
            P,
            {"reference_id": "INV/2026_11.0001#A", "description": "Bonus Q4 - 2026"},
            {"reference_id": "R2-", "receiver_phone_number": "+62 812-3456-7890"},
        ),
    ),
    # --- banks and accounts ----------------------------------------------------------------
    Case(
        "bank-names-and-bi-codes-understood",
        [],
        kind="sub-account-payout",
        records=rows(
            "sub-account-payout",
            {"bank_code": "BCA"},
            {"bank_code": "Mandiri"},
            {"bank_code": "014"},
            {"bank_code": "bninidja"},
        ),
    ),
    Case(
        "bank-code-unknown-bic-warns",
        [(2, "bank_code", "bank-code-unknown")],
        kind="sub-account-payout",
        records=rows("sub-account-payout", {"bank_code": "ZZZZIDJA"}),
    ),
    Case(
        "bank-code-garbage",
        [(2, "bank_code", "bank-code-invalid")],
        kind="sub-account-payout",
        records=rows("sub-account-payout", {"bank_code": "12!"}),
    ),
    Case(
        "account-number-not-digits",
        [(2, "bank_account_number", "not-digits")],
        kind="sub-account-payout",
        records=rows("sub-account-payout", {"bank_account_number": "0123 456 78A"}),
    ),
    Case(
        "account-name-with-digits",
        [(2, "bank_account_name", "name-invalid-characters")],
        kind="sub-account-payout",
        records=rows("sub-account-payout", {"bank_account_name": "Budi 123"}),
    ),
    Case(
        "account-id-malformed",
        [(2, "account_id", "account-id-invalid")],
        kind="sub-account-payout",
        records=rows("sub-account-payout", {"account_id": "12345"}),
    ),
    Case(
        "create-type-unknown",
        [(2, "type", "account-type-invalid")],
        kind="sub-account-create",
        records=rows("sub-account-create", {"type": "PREMIUM"}),
    ),
    Case(
        "create-email-41-chars",
        [(2, "email", "too-long")],
        kind="sub-account-create",
        records=rows("sub-account-create", {"email": "a" * 27 + "@example.co.id"}),
    ),
    # --- CSV encodings and layout ----------------------------------------------------------
    Case(
        "csv-semicolon",
        [],
        raw=(
            b"receiver_name;receiver_phone_number;receiver_email;amount;reference_id;"
            b"sender_name\nSiti;081234567890;s@example.co.id;1.500.000;R-1;PT Maju\n"
        ),
    ),
    Case(
        "csv-utf8-bom",
        [],
        raw=(
            "\ufeffreceiver_name,receiver_phone_number,receiver_email,amount,reference_id,"
            "sender_name\nSiti,081234567890,s@example.co.id,1500000,R-1,PT Maju\n"
        ).encode("utf-8"),
    ),
    Case(
        "csv-cp1252",
        [(None, None, "csv-encoding-cp1252")],
        raw=(
            "receiver_name,receiver_phone_number,receiver_email,amount,reference_id,"
            "sender_name\nJosé Rizal,081234567890,s@example.co.id,1500000,R-1,PT Maju\n"
        ).encode("cp1252"),
    ),
    Case(
        "csv-blank-lines-keep-row-numbers",
        [(5, "amount", "amount-negative")],
        raw=(
            b"receiver_name,receiver_phone_number,receiver_email,amount,reference_id,"
            b"sender_name\nSiti,081234567890,s@example.co.id,1500000,R-1,PT Maju\n,,,,,\n\n"
            b"Budi,081234567891,b@example.co.id,-1,R-2,PT Maju\n"
        ),
    ),
    Case(
        "csv-indonesian-headers",
        [],
        raw=(
            b"Nama Penerima,No HP,Email,Nominal,No Referensi,Nama Pengirim,Departemen\n"
            b"Siti,081234567890,s@example.co.id,Rp 1.500.000,R-1,PT Maju,Finance\n"
        ),
    ),
    # --- XLSX cell traps -------------------------------------------------------------------
    Case(
        "xlsx-phone-as-number",
        # Issue 10: still a valid mobile (0 eaten, 812… → 62812…): a warning, not an error.
        [(2, "receiver_phone_number", "phone-stored-as-number")],
        fmt="xlsx",
        records=rows(P, {"receiver_phone_number": 81234567890, "amount": 1500000}),
    ),
    Case(
        "xlsx-phone-scientific-format",
        # Issue 10: shown as 8.16E+11, but the file holds every digit of a valid mobile.
        [(2, "receiver_phone_number", "phone-stored-as-number")],
        fmt="xlsx",
        records=rows(P, {"receiver_phone_number": 816291271826}),
        tweak=_fmt("B2", "0.00E+00"),
    ),
    Case(
        "xlsx-account-number-as-number",
        [(2, "bank_account_number", "numeric-identifier")],
        fmt="xlsx",
        kind="sub-account-payout",
        records=rows("sub-account-payout", {"bank_account_number": 123456789}),
    ),
    Case(
        "xlsx-amount-as-number-is-fine",
        [],
        fmt="xlsx",
        records=rows(P, {"amount": 1500000}, {"amount": 2750000.5}),
    ),
    Case(
        "xlsx-hidden-row",
        [(3, None, "hidden-row")],
        fmt="xlsx",
        records=rows(P, ok, ok, ok),
        tweak=_hide_row(3),
    ),
    Case(
        "xlsx-merged-cells",
        [(2, "description", "merged-cells")],
        fmt="xlsx",
        records=rows(P, {"description": "Bonus Q4"}, {"description": None}),
        tweak=_merge("G2:G3"),
    ),
    Case(
        "xlsx-formula-with-cached-value",
        [(2, "amount", "formula-cached")],
        fmt="xlsx",
        records=rows(P, {"amount": "=1250000*1.2"}),
        post=cached_value("D2", "1500000"),
    ),
    Case(
        "xlsx-formula-without-value",
        [(2, "amount", "formula-no-value")],
        fmt="xlsx",
        records=rows(P, {"amount": "=1250000*1.2"}),
    ),
    Case(
        "xlsx-error-value",
        [(2, "receiver_phone_number", "error-value")],
        fmt="xlsx",
        records=rows(P, ok),
        post=error_cell("B2", "#N/A"),
    ),
    Case(
        "xlsx-hidden-first-sheet",
        [(None, None, "hidden-sheet-skipped")],
        fmt="xlsx",
        records=rows(P, ok),
        tweak=_hidden_first_sheet,
    ),
    Case(
        "xlsx-hidden-column",
        [(None, "department", "hidden-column")],
        fmt="xlsx",
        records=rows(P, {"department": "Finance"}),
        tweak=_hide_column("G"),
    ),
    # --- invisible characters, odd amounts, encodings ---------------------------------------
    Case(
        "name-zero-width-space",
        [(2, "receiver_name", "non-printable")],
        records=rows(P, {"receiver_name": "Siti\u200bRahayu"}),
    ),
    Case(
        "currency-not-idr",
        [(2, "currency", "currency-unsupported")],
        records=rows(P, {"currency": "USD"}),
    ),
    Case(
        "amount-accounting-dash", [(2, "amount", "amount-zero")], records=rows(P, {"amount": "-"})
    ),
    Case(
        "amount-in-brackets",
        [(2, "amount", "amount-negative")],
        records=rows(P, {"amount": "(250.000)"}),
    ),
    Case(
        "csv-utf16-tab-separated",
        [],
        raw=(
            "receiver_name\treceiver_phone_number\treceiver_email\tamount\treference_id\t"
            "sender_name\r\nSiti\t081234567890\ts@example.co.id\t1500000\tR-1\tPT Maju\r\n"
        ).encode("utf-16"),
    ),
    Case(
        "csv-title-rows-above-header",
        [(4, "amount", "amount-zero")],
        raw=(
            b"Bonus November 2026,,,,,\n,,,,,\n"
            b"receiver_name,receiver_phone_number,receiver_email,amount,reference_id,sender_name\n"
            b"Siti,081234567890,s@example.co.id,0,R-1,PT Maju\n"
        ),
    ),
    Case("xlsx-name-NA-cell", [], fmt="xlsx", records=rows(P, {"receiver_name": "NA"})),
]


def _params() -> list[Any]:
    return [
        pytest.param(c, id=c.id, marks=pytest.mark.xfail(reason=c.known_bug, strict=True))
        if c.known_bug
        else pytest.param(c, id=c.id)
        for c in CASES
    ]


def _ids() -> list[str]:
    return [c.id for c in CASES]


def test_corpus_has_at_least_40_cases_with_unique_ids() -> None:
    assert len(CASES) >= 40
    assert len(set(_ids())) == len(CASES)


@pytest.mark.parametrize("case", _params())
def test_corpus_case_reports_exact_problems(case: Case, tmp_path: Path) -> None:
    path = write_case(case, tmp_path)
    result = validate_file(path, **case.options)
    assert result.table.kind.name == case.kind
    got = [p.key for p in result.problems]
    assert got == sorted(case.expected, key=lambda k: sort_key(_as_problem(k)))
    # Problems are values a clerk can act on: every one says what is wrong and how to fix it.
    assert all(p.message and p.hint for p in result.problems)


def _as_problem(key: Key) -> Any:
    from batchpay.problems import Problem

    return Problem(key[0], key[1], None, key[2], "", "")


def test_corpus_names_that_look_missing_stay_names(tmp_path: Path) -> None:
    case = next(c for c in CASES if c.id == "names-that-pandas-would-drop")
    result = validate_file(write_case(case, tmp_path))
    assert list(result.normalised["receiver_name"]) == ["NA", "null", "None", "N/A", "nan"]


def test_corpus_lost_leading_zero_never_normalised_silently(tmp_path: Path) -> None:
    case = next(c for c in CASES if c.id == "xlsx-account-number-as-number")
    result = validate_file(write_case(case, tmp_path))
    assert not result.ok
    assert 2 in result.invalid_row_numbers


# --- files that cannot be read at all: one clear InputError, never a traceback -------------

UNREADABLE: list[tuple[str, bytes]] = [
    ("xls-renamed.xlsx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 1024),
    ("not-a-zip.xlsx", b"this is plain text, not a workbook"),
    ("truncated.xlsx", b"PK\x03\x04\x14\x00\x00\x00\x08\x00"),
    ("empty.csv", b""),
    ("header-only-unknown.csv", b"foo,bar,baz\n1,2,3\n"),
    ("binary.csv", bytes(range(256)) * 4),
    ("picture.png", b"\x89PNG\r\n\x1a\n"),
]


@pytest.mark.parametrize("name,content", UNREADABLE, ids=[n for n, _ in UNREADABLE])
def test_corpus_unreadable_file_raises_input_error(
    name: str, content: bytes, tmp_path: Path
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputError) as info:
        validate_file(path)
    assert "\n" not in str(info.value)


def test_corpus_missing_required_column_names_it(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text(
        "receiver_name,receiver_phone_number,amount,reference_id,sender_name\n"
        "Siti,081234567890,1500000,R-1,PT Maju\n",
        encoding="utf-8",
    )
    with pytest.raises(InputError, match="receiver_email"):
        validate_file(path, kind="payout-link")


# --- a handful through the CLI: exit code and no traceback --------------------------------


class _Main:
    name = "batchpay"

    def main(self, args: Any = None, prog_name: str | None = None, **_: Any) -> None:
        cli_module.main(list(args or ()))


CLI_CASES = [
    "amount-ambiguous-dot",
    "xlsx-hidden-row",
    "xlsx-merged-cells",
    "xlsx-formula-with-cached-value",
    "duplicate-reference",
    "csv-cp1252",
    "amount-understood-forms",
    "xlsx-phone-as-number",
    "receiver-name-dde-payload",
    "reference-cyrillic-letter",
]


@pytest.mark.parametrize("case_id", CLI_CASES)
def test_corpus_through_cli_exit_code_and_no_traceback(case_id: str, tmp_path: Path) -> None:
    case = next(c for c in CASES if c.id == case_id)
    path = write_case(case, tmp_path)
    args = ["validate", str(path), "--report", str(tmp_path / "r.xlsx")]
    if "amount_format" in case.options:
        args += ["--amount-format", case.options["amount_format"]]
    result = CliRunner().invoke(_Main(), args)  # type: ignore[arg-type]
    errors = [k for k in case.expected if k[2] not in _WARNING_CODES]
    assert result.exit_code == (1 if errors else 0), result.output
    assert "Traceback" not in result.output and "internal error" not in result.output
    assert (tmp_path / "r.xlsx").is_file()


@pytest.mark.parametrize("name,content", UNREADABLE[:4], ids=[n for n, _ in UNREADABLE[:4]])
def test_corpus_unreadable_through_cli_exits_2(name: str, content: bytes, tmp_path: Path) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    result = CliRunner().invoke(_Main(), ["validate", str(path)])  # type: ignore[arg-type]
    assert result.exit_code == 2
    assert "Traceback" not in result.output and "internal error" not in result.output


_WARNING_CODES = {
    "phone-stored-as-number",
    "formula-cached",
    "csv-encoding-cp1252",
    "bank-code-unknown",
    "hidden-sheet-skipped",
}
