"""Sub Account transfer: between two DOKU Sub Accounts (docs/doku-api.md §5). Whole
rupiah; the reference is ``invoice_number``; origin and destination must differ."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from batchpay.kinds.base import (
    AMOUNT_ALIASES,
    AnswerField,
    Field,
    Kind,
    RowCheck,
    dumps_exact,
    whole_rupiah,
)


def build(row: Mapping[str, str]) -> bytes:
    return dumps_exact(
        {
            "transfer": {
                "origin": row["origin"],
                "destination": row["destination"],
                "amount": whole_rupiah(row["amount"]),
                "invoice_number": row["invoice_number"],
            }
        }
    )


def different_accounts(frame: Any) -> Any:
    """docs/doku-api.md §5: "origin/destination ≤ 40 (and different)". A blank destination
    is reported by its own required-field check."""
    return (frame["destination"] == "") | (frame["origin"] != frame["destination"])


FIELDS = (
    Field(
        "origin",
        "account_id",
        True,
        40,
        "Sub Account the money leaves from",
        "SAC-0001-1234567890123",
        identifier=True,
        aliases=("from", "source", "from account", "asal", "akun asal", "origin account"),
    ),
    Field(
        "destination",
        "account_id",
        True,
        40,
        "Sub Account the money goes to",
        "SAC-0002-1234567890124",
        identifier=True,
        aliases=("to", "target", "to account", "tujuan", "akun tujuan", "destination account"),
    ),
    Field(
        "amount",
        "amount",
        True,
        None,
        "Whole rupiah, greater than 0, at most 12 digits",
        "750000",
        aliases=AMOUNT_ALIASES,
    ),
    Field(
        "invoice_number",
        "reference",
        True,
        100,
        "Your unique reference for this transfer (never reuse one)",
        "TRF-2026-11-0001",
        identifier=True,
        aliases=("invoice", "invoice no", "no invoice", "nomor invoice", "reference", "ref"),
    ),
)

SUB_ACCOUNT_TRANSFER = Kind(
    name="sub-account-transfer",
    title="Sub Account transfer (between two DOKU Sub Accounts)",
    path="/sac-merchant/v1/transfers",
    product="sub-account",
    reference_field="invoice_number",
    amount_field="amount",
    amount_decimals=0,
    amount_max_int_digits=12,
    moves_money=True,
    fields=FIELDS,
    build=build,
    answer_fields=(
        AnswerField("transfer", "invoice_number", "transfer", "invoice_number", required=True),
        AnswerField("transfer", "amount", "transfer", "amount", compare="amount"),
        AnswerField("transfer", "origin", "transfer", "origin"),
        AnswerField("transfer", "destination", "transfer", "destination"),
    ),
    row_checks=(RowCheck("transfer-same-account", different_accounts),),
    source_field="origin",
    row_noun="transfer",
)
