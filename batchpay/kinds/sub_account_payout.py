"""Sub Account payout: from a DOKU Sub Account straight to a bank account
(docs/doku-api.md §5). Whole rupiah; the reference is ``invoice_number``."""

from __future__ import annotations

from collections.abc import Mapping

from batchpay.kinds.base import AMOUNT_ALIASES, AnswerField, Field, Kind, dumps_exact, whole_rupiah


def build(row: Mapping[str, str]) -> bytes:
    return dumps_exact(
        {
            "account": {"id": row["account_id"]},
            "payout": {
                "amount": whole_rupiah(row["amount"]),
                "invoice_number": row["invoice_number"],
            },
            "beneficiary": {
                "bank_code": row["bank_code"],
                "bank_account_number": row["bank_account_number"],
                "bank_account_name": row["bank_account_name"],
            },
        }
    )


FIELDS = (
    Field(
        "account_id",
        "account_id",
        True,
        40,
        "The DOKU Sub Account the money leaves from",
        "SAC-0001-1234567890123",
        identifier=True,
        aliases=(
            "account",
            "sub account",
            "sub account id",
            "sac",
            "sac id",
            "akun",
            "id akun",
            "source account",
            "from account",
        ),
    ),
    Field(
        "amount",
        "amount",
        True,
        None,
        "Whole rupiah, greater than 0, at most 12 digits",
        "2500000",
        aliases=AMOUNT_ALIASES,
    ),
    Field(
        "invoice_number",
        "reference",
        True,
        100,
        "Your unique reference for this payout (never reuse one)",
        "INV-2026-11-0001",
        identifier=True,
        aliases=(
            "invoice",
            "invoice no",
            "no invoice",
            "nomor invoice",
            "no faktur",
            "reference",
            "ref",
        ),
    ),
    Field(
        "bank_code",
        "bic",
        True,
        12,
        "SWIFT/BIC of the receiving bank (CENAIDJA), or its name/BI code from the bank "
        "table (BCA, 014)",
        "CENAIDJA",
        identifier=True,
        aliases=("bank", "kode bank", "bank name", "nama bank", "swift", "bic", "swift code"),
    ),
    Field(
        "bank_account_number",
        "digits",
        True,
        40,
        "Digits only; leading zeros count",
        "0123456789",
        identifier=True,
        aliases=(
            "account number",
            "bank account",
            "no rekening",
            "nomor rekening",
            "rekening",
            "no. rekening",
            "norek",
            "acc no",
            "account no",
            "no rek",
            "nomor rek",
        ),
    ),
    Field(
        "bank_account_name",
        "name",
        True,
        40,
        "Account holder's name as the bank has it (letters and spaces)",
        "Budi Santoso",
        aliases=(
            "account name",
            "account holder",
            "nama rekening",
            "nama pemilik rekening",
            "atas nama",
            "beneficiary name",
            "nama penerima",
        ),
    ),
)

SUB_ACCOUNT_PAYOUT = Kind(
    name="sub-account-payout",
    title="Sub Account payout (from a DOKU Sub Account straight to a bank account)",
    path="/sac-merchant/v1/payouts",
    product="sub-account",
    reference_field="invoice_number",
    amount_field="amount",
    amount_decimals=0,
    amount_max_int_digits=12,
    moves_money=True,
    fields=FIELDS,
    build=build,
    answer_fields=(
        AnswerField("payout", "invoice_number", "payout", "invoice_number", required=True),
        AnswerField("payout", "amount", "payout", "amount", compare="amount"),
        AnswerField("account", "id", "account", "id"),
        AnswerField("beneficiary", "bank_code", "beneficiary", "bank_code"),
        AnswerField("beneficiary", "bank_account_number", "beneficiary", "bank_account_number"),
    ),
    source_field="account_id",
)
