"""The four kinds of sheet batchpay understands: their columns, DOKU's limits for each
(``docs/doku-api.md`` §4–§5), header aliases, and how a normalised row becomes
the exact request body DOKU receives.

This module is the single source of the field limits: schemas, templates, the validation
workbook and the emulator all read them from here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

FieldType = Literal[
    "amount",  # money; see Kind.amount_decimals
    "text",  # free text
    "name",  # letters and spaces (Sub Account names)
    "phone",  # Indonesian mobile number, normalised to 62…
    "email",
    "reference",  # business reference, unique in the sheet and across runs
    "bic",  # SWIFT/BIC bank code (or a bank name / BI code from the shipped table)
    "digits",  # digits only, leading zeros significant (bank account numbers)
    "account_id",  # a DOKU Sub Account id (SAC-…)
    "currency",  # ISO 4217, 3 letters
    "account_type",  # STANDARD or DEFAULT
]


@dataclass(frozen=True)
class Field:
    name: str
    type: FieldType
    required: bool
    max_len: int | None
    description: str
    example: str
    min_len: int = 1
    aliases: tuple[str, ...] = ()
    # Identifier columns must be typed as Text in Excel; a numeric cell there is a trap
    # (lost leading zeros, 8.16291E+11).
    identifier: bool = False


@dataclass(frozen=True)
class Kind:
    name: str
    title: str
    fields: tuple[Field, ...]
    path: str  # DOKU request target
    product: Literal["payout-link", "sub-account"]
    reference_field: str | None  # unique business reference of a row
    amount_field: str | None
    amount_decimals: int  # 2 for Payout Link, 0 (whole rupiah) for Sub Account
    amount_max_int_digits: int  # digits before the point
    moves_money: bool
    extra_field_names: tuple[str, ...] = field(default=())

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @property
    def required_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.required)

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    def source_field(self) -> str | None:
        """The column naming the Sub Account money leaves from (for balance preflight)."""
        if self.name == "sub-account-payout":
            return "account_id"
        if self.name == "sub-account-transfer":
            return "origin"
        return None


_AMOUNT_ALIASES = ("amount", "nominal", "amount (idr)", "amount idr", "jumlah", "nilai", "total")

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
    fields=(
        Field(
            "amount",
            "amount",
            True,
            None,
            "Amount to pay, greater than 0, at most 16 digits and 2 decimals",
            "1500000",
            aliases=(*_AMOUNT_ALIASES, "bonus", "bonus amount", "jumlah bonus"),
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
    fields=(
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
            aliases=_AMOUNT_ALIASES,
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
    fields=(
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
            aliases=_AMOUNT_ALIASES,
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
    ),
)

SUB_ACCOUNT_CREATE = Kind(
    name="sub-account-create",
    title="Sub Account creation",
    path="/sac-merchant/v1/accounts",
    product="sub-account",
    reference_field="email",
    amount_field=None,
    amount_decimals=0,
    amount_max_int_digits=0,
    moves_money=False,
    fields=(
        Field(
            "email",
            "email",
            True,
            40,
            "The Sub Account owner's email",
            "toko.sejahtera@example.com",
            aliases=("e-mail", "alamat email", "surel", "owner email"),
        ),
        Field(
            "type",
            "account_type",
            True,
            20,
            "STANDARD or DEFAULT",
            "STANDARD",
            aliases=("account type", "tipe", "jenis", "tipe akun"),
        ),
        Field(
            "name",
            "name",
            True,
            100,
            "Sub Account name (letters and spaces)",
            "Toko Sejahtera",
            aliases=("account name", "nama", "nama akun", "merchant name"),
        ),
    ),
)

KINDS: dict[str, Kind] = {
    k.name: k for k in (PAYOUT_LINK, SUB_ACCOUNT_PAYOUT, SUB_ACCOUNT_TRANSFER, SUB_ACCOUNT_CREATE)
}


def get_kind(name: str) -> Kind:
    try:
        return KINDS[name]
    except KeyError:
        raise KeyError(f"unknown kind {name!r}; choose one of {', '.join(KINDS)}") from None


# --- request bodies -------------------------------------------------------------------------


def dumps_exact(obj: Any) -> bytes:
    """Serialise once, compactly, with Decimals written as JSON numbers (never via float).

    These are the exact bytes that are hashed, signed, journaled and sent
    (docs/doku-api.md §2.1: ``separators=(",", ":")``, ``ensure_ascii=False``).
    """
    return _dump(obj).encode("utf-8")


# One encoder for every string: json.dumps(s, ensure_ascii=False) builds a new encoder per
# call, which costs ~2 s per 100,000 rows; the output is byte-identical.
_encode_str = json.JSONEncoder(ensure_ascii=False).encode


def _dump(obj: Any) -> str:
    if isinstance(obj, Mapping):
        return "{" + ",".join(f"{_dump(str(k))}:{_dump(v)}" for k, v in obj.items()) + "}"
    if isinstance(obj, list | tuple):
        return "[" + ",".join(_dump(v) for v in obj) + "]"
    if isinstance(obj, Decimal):
        if not obj.is_finite():
            raise ValueError("non-finite amount")
        text = format(obj, "f")
        return text
    if isinstance(obj, bool) or obj is None:
        return json.dumps(obj)
    if isinstance(obj, int):
        return str(obj)
    if isinstance(obj, float):
        raise TypeError("floats are never serialised: money must be Decimal or int")
    if isinstance(obj, str):
        return _encode_str(obj)
    raise TypeError(f"cannot serialise {type(obj).__name__}")


def canonical_amount(value: Decimal) -> Decimal:
    """Whole amounts are sent without a point (DOKU's examples: ``"amount":11500``),
    others with exactly two decimals."""
    if value == value.to_integral_value():
        return value.quantize(Decimal(1))
    return value.quantize(Decimal("0.01"))


def build_body(kind: Kind, row: Mapping[str, str]) -> bytes:
    """The request body for one *normalised* row (every value a string as normalised by
    validation; amount in canonical decimal text). Extra columns are never sent."""
    if kind is PAYOUT_LINK:
        obj: dict[str, Any] = {"amount": canonical_amount(Decimal(row["amount"]))}
        for name in (
            "sender_name",
            "receiver_name",
            "receiver_phone_number",
            "receiver_email",
            "reference_id",
        ):
            obj[name] = row[name]
        if row.get("description"):
            obj["description"] = row["description"]
        obj["currency"] = row.get("currency") or "IDR"
        return dumps_exact(obj)
    if kind is SUB_ACCOUNT_PAYOUT:
        return dumps_exact(
            {
                "account": {"id": row["account_id"]},
                "payout": {
                    "amount": int(Decimal(row["amount"])),
                    "invoice_number": row["invoice_number"],
                },
                "beneficiary": {
                    "bank_code": row["bank_code"],
                    "bank_account_number": row["bank_account_number"],
                    "bank_account_name": row["bank_account_name"],
                },
            }
        )
    if kind is SUB_ACCOUNT_TRANSFER:
        return dumps_exact(
            {
                "transfer": {
                    "origin": row["origin"],
                    "destination": row["destination"],
                    "amount": int(Decimal(row["amount"])),
                    "invoice_number": row["invoice_number"],
                }
            }
        )
    if kind is SUB_ACCOUNT_CREATE:
        return dumps_exact(
            {"account": {"email": row["email"], "type": row["type"], "name": row["name"]}}
        )
    raise KeyError(kind.name)
