"""Sub Account creation (docs/doku-api.md §5): moves no money; the reference is the owner's
email. An accepted creation is journaled CREATED (the account exists), whatever DOKU's
``account.status`` (PENDING until activated, kept as ``doku_status``)."""

from __future__ import annotations

from collections.abc import Mapping

from batchpay.kinds.base import AnswerField, Field, Kind, dumps_exact


def build(row: Mapping[str, str]) -> bytes:
    return dumps_exact(
        {"account": {"email": row["email"], "type": row["type"], "name": row["name"]}}
    )


FIELDS = (
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
    fields=FIELDS,
    build=build,
    answer_fields=(
        AnswerField("account", "email", "account", "email", required=True, compare="email"),
        AnswerField("account", "type", "account", "type"),
        AnswerField("account", "name", "account", "name"),
    ),
    accepted_as="CREATED",
    row_noun="account",
)
