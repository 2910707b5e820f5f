"""The pandera models per kind: exact (row, column, code) lists, and the models' shape."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from batchpay import schemas
from batchpay.headers import Table
from batchpay.kinds import KINDS
from batchpay.sheet import RawSheet
from batchpay.validate import validate_table

GOOD = {
    "payout-link": {
        "amount": "1500000",
        "sender_name": "PT Maju Jaya",
        "receiver_name": "Siti Rahayu",
        "receiver_phone_number": "081629127182",
        "receiver_email": "siti@example.co.id",
        "reference_id": "BONUS-1",
        "description": "Bonus Q4",
        "currency": "IDR",
    },
    "sub-account-payout": {
        "account_id": "SAC-0001-1234567890123",
        "amount": "2500000",
        "invoice_number": "INV-1",
        "bank_code": "BCA",
        "bank_account_number": "0123456789",
        "bank_account_name": "Budi Santoso",
    },
    "sub-account-transfer": {
        "origin": "SAC-0001-1234567890123",
        "destination": "SAC-0002-1234567890124",
        "amount": "750000",
        "invoice_number": "TRF-1",
    },
    "sub-account-create": {
        "email": "toko@example.com",
        "type": "STANDARD",
        "name": "Toko Sejahtera",
    },
}


def make_table(kind: str, rows: list[dict[str, str]]) -> Table:
    k = KINDS[kind]
    names = [f.name for f in k.fields]
    frame = pd.DataFrame(
        [{n: r.get(n, "") for n in names} for r in rows], columns=names, dtype="str"
    )
    frame.index = pd.Index(range(2, 2 + len(rows)))
    raw = RawSheet(
        Path(f"{kind}.csv"), None, names, frame.reset_index(drop=True), list(frame.index)
    )
    return Table(raw, k, frame, {n: n for n in names})


def keys(kind: str, rows: list[dict[str, str]]) -> list[tuple[int | None, str | None, str]]:
    return [p.key for p in validate_table(make_table(kind, rows)).problems]


def row(kind: str, i: int, **changes: str) -> dict[str, str]:
    ref = KINDS[kind].reference_field
    base = dict(GOOD[kind])
    if ref:
        base[ref] = f"{i}-{base[ref]}" if ref != "email" else f"u{i}@example.com"
    base.update(changes)
    return base


@pytest.mark.parametrize("kind", list(KINDS))
def test_model_good_rows_have_no_problems(kind: str) -> None:
    assert keys(kind, [row(kind, i) for i in range(3)]) == []


def test_payout_link_model_reports_exact_cells() -> None:
    k = "payout-link"
    rows = [
        row(k, 1, amount="1.500", receiver_phone_number="8.16291E+11"),
        row(k, 2, amount="", sender_name="x" * 51, receiver_email="bad@"),
        row(k, 3, description="d" * 31, currency="usd", reference_id="R" * 31),
        row(k, 4, receiver_name=" ", amount="-5000", receiver_phone_number="+65 9123 4567"),
        row(k, 5, reference_id="dup"),
        row(k, 6, reference_id="DUP", description=""),
    ]
    assert keys(k, rows) == [
        (2, "amount", "amount-ambiguous"),
        (2, "receiver_phone_number", "scientific-notation"),
        (3, "amount", "required"),
        (3, "receiver_email", "email-invalid"),
        (3, "sender_name", "too-long"),
        (4, "currency", "currency-unsupported"),
        (4, "description", "too-long"),
        (4, "reference_id", "too-long"),
        (5, "amount", "amount-negative"),
        (5, "receiver_name", "required"),
        (5, "receiver_phone_number", "phone-not-indonesian"),
        (6, "reference_id", "duplicate-reference"),
        (7, "reference_id", "duplicate-reference"),
    ]


def test_sub_account_payout_model_reports_exact_cells() -> None:
    k = "sub-account-payout"
    rows = [
        row(k, 1, amount="1500000.50", bank_code="DEUTDEFF"),
        row(
            k,
            2,
            bank_code="Bank Entah",
            bank_account_number="1.23457E+11",
            bank_account_name="Ma'ruf",
        ),
        row(k, 3, account_id="Budi", amount="1234567890123", bank_account_name="B" * 41),
        row(k, 4, invoice_number="I" * 101, bank_account_number="12AB"),
    ]
    assert keys(k, rows) == [
        (2, "amount", "amount-not-whole"),
        (2, "bank_code", "bank-code-unknown"),
        (3, "bank_account_name", "name-invalid-characters"),
        (3, "bank_account_number", "scientific-notation"),
        (3, "bank_code", "bank-code-invalid"),
        (4, "account_id", "account-id-invalid"),
        (4, "amount", "amount-too-large"),
        (4, "bank_account_name", "too-long"),
        (5, "bank_account_number", "not-digits"),
        (5, "invoice_number", "too-long"),
    ]


def test_sub_account_transfer_model_reports_same_account_and_duplicates() -> None:
    k = "sub-account-transfer"
    rows = [
        row(k, 1, destination="SAC-0001-1234567890123"),
        row(k, 2, invoice_number="T-9"),
        row(k, 3, invoice_number="t-9", amount="0"),
        row(k, 4, origin="", destination="SAC-0001-1234567890123"),
    ]
    assert keys(k, rows) == [
        (2, "destination", "transfer-same-account"),
        (3, "invoice_number", "duplicate-reference"),
        (4, "amount", "amount-zero"),
        (4, "invoice_number", "duplicate-reference"),
        (5, "origin", "required"),
    ]


def test_sub_account_create_model_reports_exact_cells() -> None:
    k = "sub-account-create"
    rows = [
        {"email": "a@example.com", "type": "gold", "name": "Toko 99"},
        {"email": "A@EXAMPLE.COM", "type": "default", "name": "N" * 101},
        {"email": "x" * 30 + "@example.com", "type": "", "name": "Toko\tBaru"},
    ]
    assert keys(k, rows) == [
        (2, "email", "duplicate-reference"),
        (2, "name", "name-invalid-characters"),
        (2, "type", "account-type-invalid"),
        (3, "email", "duplicate-reference"),
        (3, "name", "too-long"),
        (4, "email", "too-long"),
        (4, "name", "non-printable"),
        (4, "type", "required"),
    ]


@pytest.mark.parametrize("kind", list(KINDS))
def test_model_length_limits_come_from_kinds_exactly(kind: str) -> None:
    k = KINDS[kind]
    for f in k.fields:
        if (
            not schemas.has_length_rule(f)
            or f.max_len is None
            or f.type not in ("text", "reference")
        ):
            continue
        at_limit = row(kind, 1, **{f.name: "A" * f.max_len})
        over = row(kind, 2, **{f.name: "B" * (f.max_len + 1)})
        assert keys(kind, [at_limit, over]) == [(3, f.name, "too-long")], f.name


@pytest.mark.parametrize("kind", list(KINDS))
def test_model_every_check_is_named_by_a_known_code(kind: str) -> None:
    schema = schemas.MODELS[kind].to_schema()
    names = {c.name for col in schema.columns.values() for c in col.checks}
    names |= {c.name for c in schema.checks}
    assert names <= set(schemas.RULES)
    # The normalisers' parse codes are reported as they gave them (validate/failures.py),
    # never checked a second time in the model.
    parse_codes = {c for f in KINDS[kind].fields for c in schemas.PARSE_CODES[f.type]}
    assert not names & parse_codes


def test_rules_every_code_has_message_and_hint_that_format() -> None:
    ctx = {
        "field": "amount",
        "description": "d",
        "max_len": 50,
        "min_len": 1,
        "length": 51,
        "decimals": 2,
        "max_int_digits": 16,
        "detail": "x",
        "others": "row 3",
        "evidence": "",
    }
    for rule in schemas.RULES.values():
        assert rule.message.format_map(ctx)
        assert rule.hint.format_map(ctx)
        assert rule.code == rule.code.lower() and " " not in rule.code
    used = {c for codes in schemas.PARSE_CODES.values() for c in codes}
    assert used <= set(schemas.RULES)


def test_model_duplicate_check_uses_reference_key_for_non_ascii() -> None:
    # References are refused unless ASCII, but the check itself must agree with the
    # cross-run key: a Cyrillic О and a full-width digit are the same reference.
    s = pd.Series(["B\u041eNUS-1", "bonus-1", "BONUS-\uff12", "bonus-2", "OTHER", ""])
    assert schemas._not_duplicated(s).tolist() == [False, False, False, False, True, True]


def test_model_formula_prefix_on_every_free_text_field() -> None:
    pl = "payout-link"
    assert keys(
        pl,
        [
            row(
                pl,
                1,
                sender_name="@SUM(A1)",
                receiver_name="=cmd|' /C calc'!A0",
                description="-R2 bonus",
                reference_id="+62812",
            )
        ],
    ) == [
        (2, "description", "formula-prefix"),
        (2, "receiver_name", "formula-prefix"),
        (2, "reference_id", "formula-prefix"),
        (2, "sender_name", "formula-prefix"),
    ]
    sap = "sub-account-payout"
    assert keys(sap, [row(sap, 1, bank_account_name="=Budi", invoice_number="@INV")]) == [
        (2, "bank_account_name", "formula-prefix"),
        (2, "invoice_number", "formula-prefix"),
    ]
    sac = "sub-account-create"
    assert keys(sac, [row(sac, 1, name="-Toko")]) == [(2, "name", "formula-prefix")]
    # Phones and amounts keep their own rules: +62… is a phone, -5000 a negative amount.
    assert keys(pl, [row(pl, 1, receiver_phone_number="+62 812-3456-7890", amount="-5000")]) == [
        (2, "amount", "amount-negative"),
    ]
