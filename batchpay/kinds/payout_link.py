"""Payout Link: DOKU emails each receiver a link to enter their bank details
(docs/doku-api.md §4). Amounts have up to 2 decimals; the reference is ``reference_id``."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from batchpay.kinds.base import (
    AMOUNT_ALIASES,
    AnswerField,
    Field,
    Kind,
    canonical_amount,
    dumps_exact,
)

_TEXT_FIELDS = (
    "sender_name",
    "receiver_name",
    "receiver_phone_number",
    "receiver_email",
    "reference_id",
)


def build(row: Mapping[str, str]) -> bytes:
    obj: dict[str, Any] = {"amount": canonical_amount(Decimal(row["amount"]))}
    for name in _TEXT_FIELDS:
        obj[name] = row[name]
    if row.get("description"):
        obj["description"] = row["description"]
    obj["currency"] = row.get("currency") or "IDR"
    return dumps_exact(obj)


FIELDS = (
    Field(
        "amount",
        "amount",
        True,
        None,
        "Amount to pay, greater than 0, at most 16 digits and 2 decimals",
        "1500000",
        aliases=(*AMOUNT_ALIASES, "bonus", "bonus amount", "jumlah bonus"),
    ),
    Field(
        "sender_name",
        "text",
        True,
        50,
        "Who the money is from, as the receiver sees it",
        "PT Maju Jaya",
        aliases=("sender", "nama pengirim", "pengirim", "from"),
    ),
    Field(
        "receiver_name",
        "text",
        True,
        50,
        "The receiver's full name",
        "Siti Rahayu",
        aliases=(
            "receiver",
            "name",
            "nama",
            "nama penerima",
            "penerima",
            "employee name",
            "nama karyawan",
            "full name",
            "nama lengkap",
        ),
    ),
    Field(
        "receiver_phone_number",
        "phone",
        True,
        14,
        "Indonesian mobile number; 0816…, +62 816… and 62816… all become 62…, 9–14 digits",
        "6281234567890",
        min_len=9,
        identifier=True,
        aliases=(
            "phone",
            "phone number",
            "receiver phone",
            "no hp",
            "nomor hp",
            "no. hp",
            "hp",
            "telepon",
            "no telepon",
            "nomor telepon",
            "mobile",
            "whatsapp",
            "no wa",
            "handphone",
            "no handphone",
            "nomor handphone",
            "nomor wa",
        ),
    ),
    Field(
        "receiver_email",
        "email",
        True,
        50,
        "Where DOKU sends the payout link",
        "siti.rahayu@example.co.id",
        aliases=(
            "email",
            "e-mail",
            "receiver email",
            "alamat email",
            "surel",
            "email penerima",
        ),
    ),
    Field(
        "reference_id",
        "reference",
        True,
        30,
        "Your unique reference for this payment (never reuse one)",
        "BONUS-2026-0001",
        identifier=True,
        aliases=("reference", "ref", "ref id", "referensi", "no referensi", "id referensi"),
    ),
    Field(
        "description",
        "text",
        False,
        30,
        "Shown to the receiver (optional)",
        "Bonus Q4 2026",
        aliases=("keterangan", "deskripsi", "notes", "memo", "berita"),
    ),
    Field(
        "currency",
        "currency",
        False,
        3,
        "ISO 4217 currency code (optional, IDR)",
        "IDR",
        min_len=3,
        aliases=("mata uang", "ccy", "cur"),
    ),
)

PAYOUT_LINK = Kind(
    name="payout-link",
    title="Payout Link (DOKU emails each receiver a link to enter their bank details)",
    path="/v1/payout/initiate",
    product="payout-link",
    reference_field="reference_id",
    amount_field="amount",
    amount_decimals=2,
    amount_max_int_digits=16,
    moves_money=True,
    fields=FIELDS,
    build=build,
    answer_fields=(
        AnswerField("data", "reference_id", None, "reference_id"),
        AnswerField("data", "amount", None, "amount", compare="amount"),
        AnswerField("data", "currency", None, "currency"),
    ),
)
