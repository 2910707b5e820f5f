"""The kinds of sheet batchpay understands, one module each: its columns with DOKU's limits,
header aliases, the exact request body, cross-row checks and the answer fields compared.

Adding a kind: one new module here declaring a :class:`Kind` (its ``product`` names the DOKU
API family in :mod:`batchpay.doku.products`), listed in :data:`KINDS` below, plus its
behaviour in the emulator.
"""

from __future__ import annotations

from collections.abc import Mapping

from batchpay.kinds.base import (
    AnswerField,
    Field,
    FieldType,
    Kind,
    ProductName,
    RowCheck,
    canonical_amount,
    dumps_exact,
)
from batchpay.kinds.payout_link import PAYOUT_LINK
from batchpay.kinds.sub_account_create import SUB_ACCOUNT_CREATE
from batchpay.kinds.sub_account_payout import SUB_ACCOUNT_PAYOUT
from batchpay.kinds.sub_account_transfer import SUB_ACCOUNT_TRANSFER

# Order matters: kind detection, error messages and `batchpay template` list them this way.
KINDS: dict[str, Kind] = {
    k.name: k for k in (PAYOUT_LINK, SUB_ACCOUNT_PAYOUT, SUB_ACCOUNT_TRANSFER, SUB_ACCOUNT_CREATE)
}


def get_kind(name: str) -> Kind:
    try:
        return KINDS[name]
    except KeyError:
        raise KeyError(f"unknown kind {name!r}; choose one of {', '.join(KINDS)}") from None


def build_body(kind: Kind, row: Mapping[str, str]) -> bytes:
    """The request body for one *normalised* row (every value a string as normalised by
    validation; amount in canonical decimal text). Extra columns are never sent."""
    return kind.build(row)


__all__ = [
    "KINDS",
    "PAYOUT_LINK",
    "SUB_ACCOUNT_CREATE",
    "SUB_ACCOUNT_PAYOUT",
    "SUB_ACCOUNT_TRANSFER",
    "AnswerField",
    "Field",
    "FieldType",
    "Kind",
    "ProductName",
    "RowCheck",
    "build_body",
    "canonical_amount",
    "dumps_exact",
    "get_kind",
]
