"""What a kind is: its columns with DOKU's limits (``docs/doku-api.md`` §4–§5), header
aliases, the body builder, cross-row checks and the answer fields DOKU must echo back — and
the one serialiser every request body goes through (:func:`dumps_exact`).

This package is the single source of the field limits: schemas, templates, the validation
workbook and the emulator all read them from here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
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
# The DOKU API family a kind belongs to; the name is stored in journals, never change it.
# batchpay.doku.products holds one object per name.
ProductName = Literal["payout-link", "sub-account"]
Compare = Literal["text", "amount", "email"]

AMOUNT_ALIASES = ("amount", "nominal", "amount (idr)", "amount idr", "jumlah", "nilai", "total")


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
class AnswerField:
    """One value of an accepted answer that must agree with the body sent
    (:func:`batchpay.doku.answers.check_answer`). ``sent_section`` None = top level of the
    sent body; ``required``: the answer must carry it, or it is not about anything we sent."""

    section: str
    key: str
    sent_section: str | None
    sent_key: str
    required: bool = False
    compare: Compare = "text"


@dataclass(frozen=True)
class RowCheck:
    """A check across the columns of a row, run over the whole check frame (pandera
    dataframe check, :mod:`batchpay.schemas`). ``check(frame)`` returns a boolean Series,
    True where the row passes; ``code`` names the rule in ``batchpay.problems.RULES``."""

    code: str
    check: Callable[[Any], Any]


@dataclass(frozen=True)
class Kind:
    name: str
    title: str
    fields: tuple[Field, ...]
    path: str  # DOKU request target
    product: ProductName
    reference_field: str | None  # unique business reference of a row
    amount_field: str | None
    amount_decimals: int  # 2 for Payout Link, 0 (whole rupiah) for Sub Account
    amount_max_int_digits: int  # digits before the point
    moves_money: bool
    # normalised row -> the exact request bytes (see build_body)
    build: Callable[[Mapping[str, str]], bytes]
    # what an accepted answer to this kind's request must agree on with the body sent
    answer_fields: tuple[AnswerField, ...] = ()
    row_checks: tuple[RowCheck, ...] = ()
    # the column naming the Sub Account money leaves from (balance preflight)
    source_field: str | None = None
    # a fixed journal state for every accepted answer (account creation: CREATED), instead
    # of the product's status mapping
    accepted_as: str | None = None
    row_noun: str = "payment"  # what one row is, in the template's instructions
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


def whole_rupiah(text: str) -> int:
    """A Sub Account amount (normalised decimal text, no fraction) as the int DOKU takes."""
    return int(Decimal(text))
