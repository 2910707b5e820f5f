"""What the emulator accepts: request-id formats, field limits and the Payout Link lifecycle.

Field limits come from :mod:`batchpay.kinds` (the single source of DOKU's limits), so a sheet
that slipped past validation is still refused here, the way DOKU would refuse it. Everything
in this module is pure: no I/O, no clock.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from batchpay.kinds import (
    PAYOUT_LINK,
    SUB_ACCOUNT_CREATE,
    SUB_ACCOUNT_PAYOUT,
    SUB_ACCOUNT_TRANSFER,
    Field,
    Kind,
)

# docs/doku-api.md §1: Payout Link ids are numeric strings; the length cap is ours (DOKU gives
# none) and generous enough for the ledger's 20-digit ids.
_PAYOUT_LINK_REQUEST_ID = re.compile(r"[0-9]{1,64}")
_SUB_ACCOUNT_REQUEST_ID_MAX = 128
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_LETTERS_AND_SPACES = re.compile(r"[^\W\d_]+(?: [^\W\d_]+)*")
_LETTERS = re.compile(r"[^\W\d_]+")
_DIGITS = re.compile(r"[0-9]+")

# JSON path of each field in the request body, per kind (docs/doku-api.md §4–§5).
BODY_PATHS: dict[str, dict[str, tuple[str, ...]]] = {
    PAYOUT_LINK.name: {f.name: (f.name,) for f in PAYOUT_LINK.fields},
    SUB_ACCOUNT_PAYOUT.name: {
        "account_id": ("account", "id"),
        "amount": ("payout", "amount"),
        "invoice_number": ("payout", "invoice_number"),
        "bank_code": ("beneficiary", "bank_code"),
        "bank_account_number": ("beneficiary", "bank_account_number"),
        "bank_account_name": ("beneficiary", "bank_account_name"),
    },
    SUB_ACCOUNT_TRANSFER.name: {f.name: ("transfer", f.name) for f in SUB_ACCOUNT_TRANSFER.fields},
    SUB_ACCOUNT_CREATE.name: {f.name: ("account", f.name) for f in SUB_ACCOUNT_CREATE.fields},
}


@dataclass(frozen=True)
class FieldError(Exception):
    """A request field DOKU would refuse with 400."""

    field: str  # dotted JSON path, e.g. ``payout.amount``
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


def request_id_problem(product: str, request_id: str | None) -> str | None:
    """Why ``request_id`` is not acceptable for ``product``, or None (docs/doku-api.md §1)."""
    if not request_id:
        return "the Request-Id header is missing"
    if product == "payout-link":
        if not _PAYOUT_LINK_REQUEST_ID.fullmatch(request_id):
            return "Payout Link Request-Id must be a numeric string (digits only, at most 64)"
        return None
    if len(request_id) > _SUB_ACCOUNT_REQUEST_ID_MAX:
        return f"Request-Id is longer than {_SUB_ACCOUNT_REQUEST_ID_MAX} characters"
    if not request_id.isprintable():
        return "Request-Id contains control characters"
    return None


def dig(body: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    """The value at ``path`` in a parsed body, or None when any step is missing."""
    node: Any = body
    for step in path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(step)
    return node


def check_kind(kind: Kind, body: Mapping[str, Any]) -> dict[str, Any]:
    """Every field of ``kind`` checked against batchpay.kinds limits → {field name: value}.

    Raises FieldError for the first bad field (DOKU answers one error per request).
    """
    values: dict[str, Any] = {}
    for spec in kind.fields:
        path = BODY_PATHS[kind.name][spec.name]
        values[spec.name] = check_field(kind, spec, ".".join(path), dig(body, path))
    if kind is SUB_ACCOUNT_TRANSFER and values["origin"] == values["destination"]:
        raise FieldError("transfer.destination", "must differ from transfer.origin")
    return values


def check_field(kind: Kind, spec: Field, where: str, value: Any) -> Any:
    """One field's value, checked; returns it (amounts as int or Decimal, the rest as str)."""
    if value is None or value == "":
        if spec.required:
            raise FieldError(where, "is required")
        return None
    if spec.type == "amount":
        return check_amount(kind, where, value)
    if not isinstance(value, str):
        raise FieldError(where, "must be a string")
    if len(value) < spec.min_len:
        raise FieldError(where, f"must be at least {spec.min_len} characters")
    if spec.max_len is not None and len(value) > spec.max_len:
        raise FieldError(where, f"is longer than {spec.max_len} characters")
    problem = _type_problem(spec, value)
    if problem:
        raise FieldError(where, problem)
    return value


def _type_problem(spec: Field, value: str) -> str | None:
    kind = spec.type
    if kind == "phone" and not (_DIGITS.fullmatch(value) and value.startswith("62")):
        return "must be digits starting with 62"
    if kind == "email" and not _EMAIL.fullmatch(value):
        return "is not an email address"
    if kind == "name" and not _LETTERS_AND_SPACES.fullmatch(value):
        return "may contain only letters and single spaces"
    if kind == "bic" and not _LETTERS.fullmatch(value):
        return "must be a SWIFT/BIC code (letters only)"
    if kind == "digits" and not _DIGITS.fullmatch(value):
        return "must be digits only (leading zeros count)"
    if kind == "currency" and not (value.isascii() and value.isalpha() and value.isupper()):
        return "must be a 3-letter ISO 4217 code such as IDR"
    if kind == "account_type" and value not in ("STANDARD", "DEFAULT"):
        return "must be STANDARD or DEFAULT"
    if kind in ("text", "reference") and not value.isprintable():
        return "contains control characters"
    return None


def check_amount(kind: Kind, where: str, value: Any) -> int | Decimal:
    """A JSON number > 0 within the kind's digits/decimals (never a string, never a bool)."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise FieldError(where, "must be a JSON number")
    amount = Decimal(value)
    if not amount.is_finite() or amount <= 0:
        raise FieldError(where, "must be greater than 0")
    if kind.amount_decimals == 0 and not isinstance(value, int):
        raise FieldError(where, "must be whole rupiah (digits only)")
    # Digits first: quantize() on a 40-digit number would overflow the decimal context.
    if max(amount.adjusted() + 1, 1) > kind.amount_max_int_digits:
        raise FieldError(where, f"has more than {kind.amount_max_int_digits} digits")
    if amount != amount.quantize(Decimal(1).scaleb(-kind.amount_decimals)):
        raise FieldError(where, f"has more than {kind.amount_decimals} decimals")
    return value


def text_field(
    body: Mapping[str, Any], path: tuple[str, ...], max_len: int, *, required: bool = True
) -> str | None:
    """A plain string field outside batchpay.kinds (status look-up, payments)."""
    where = ".".join(path)
    value = dig(body, path)
    if value is None or value == "":
        if required:
            raise FieldError(where, "is required")
        return None
    if not isinstance(value, str) or not value.isprintable():
        raise FieldError(where, "must be a printable string")
    if len(value) > max_len:
        raise FieldError(where, f"is longer than {max_len} characters")
    return value


def whole_amount(body: Mapping[str, Any], path: tuple[str, ...], max_digits: int = 12) -> int:
    """A whole-rupiah JSON integer > 0 (payments)."""
    value = dig(body, path)
    where = ".".join(path)
    if isinstance(value, bool) or not isinstance(value, int):
        raise FieldError(where, "must be a whole number of rupiah")
    if value <= 0 or len(str(value)) > max_digits:
        raise FieldError(where, f"must be greater than 0 and at most {max_digits} digits")
    return value


# --- Payout Link lifecycle (docs/doku-api.md §4) ----------------------------------------

NORMAL_PATH = ("PENDING", "EMAIL_SENT", "EMAIL_LINK_OPENED", "CONFIRMED", "COMPLETED")
# "+fail": confirmation fails, is retried (PENDING_PROCESS), and the remittance finally fails.
FAIL_PATH = ("PENDING", "EMAIL_SENT", "EMAIL_LINK_OPENED", "CONFIRMED", "PENDING_PROCESS", "FAILED")
# "+expire": the receiver never opens the link.
EXPIRE_PATH = ("PENDING", "EMAIL_SENT", "EXPIRED")
TERMINAL = frozenset({"COMPLETED", "FAILED", "EXPIRED"})


def link_path(receiver_email: str) -> tuple[str, ...]:
    """The statuses a link walks through, chosen by the receiver email's local part."""
    local = receiver_email.rsplit("@", 1)[0].lower()
    if "+fail" in local:
        return FAIL_PATH
    if "+expire" in local:
        return EXPIRE_PATH
    return NORMAL_PATH


def link_status(receiver_email: str, elapsed: float, step_seconds: float) -> str:
    """The status ``elapsed`` seconds after initiation: one step per ``step_seconds``."""
    path = link_path(receiver_email)
    if step_seconds <= 0:
        return path[-1]
    steps = int(max(elapsed, 0.0) // step_seconds)
    return path[min(steps, len(path) - 1)]
