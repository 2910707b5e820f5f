"""pandera models, one per kind, generated from ``batchpay.kinds`` (the single source of limits).

The models validate a *check frame* that ``validate/`` builds from the normalisers: for each
field ``F`` a column ``F`` (the normalised candidate text, '' when blank or not understood)
and, where a length rule applies, ``F__len``. They check what the normalisers do not decide:
lengths, duplicate references and the rules across columns. The normalisers' own verdicts —
a code per cell from :data:`PARSE_CODES` — are reported as they are
(:func:`batchpay.validate.failures.run_model`); checking each code again in pandera cost more
than the rest of the model together. Every pandera check is vectorised, named by its problem
code (``Check.name``) and carries the sentence a payroll clerk reads (``Check.error``);
:data:`RULES` holds the message and hint templates for every code, including those pandera
does not produce (parse codes, load problems).

Value checks skip '' cells: a blank cell is reported once as ``required`` and a cell the
normaliser could not read once under its own code, never again as "too short".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow
import pyarrow.compute as pc

from batchpay.kinds import KINDS, Field, Kind, RowCheck
from batchpay.normalize import as_arrow
from batchpay.pandera_lib import Series, pa
from batchpay.problems import Severity
from batchpay.references import reference_key

LENGTH_SUFFIX = "__len"


@dataclass(frozen=True)
class Rule:
    """A problem code with its clerk-facing message and hint (``str.format`` templates over
    ``field``, ``description``, ``max_len``, ``min_len``, ``length``, ``decimals``,
    ``max_int_digits``, ``detail``, ``others``, ``evidence``)."""

    code: str
    message: str
    hint: str
    severity: Severity = "error"


_SCI_HINT = (
    "Format the column as Text and retype the full number (e.g. 0816291271826); "
    "Excel drops digits when it shows 8.16291E+11."
)

RULES: dict[str, Rule] = {
    r.code: r
    for r in (
        Rule(
            "required", "The cell is empty, but {field} is required.", "Fill it in: {description}."
        ),
        Rule(
            "too-long",
            "It is {length} characters long; DOKU accepts at most {max_len}.",
            "Shorten it to {max_len} characters or fewer.",
        ),
        Rule(
            "too-short",
            "It is {length} characters long; DOKU needs at least {min_len}.",
            "Complete it: {description}.",
        ),
        Rule(
            "non-printable",
            "It contains an invisible control character (often pasted in from another program).",
            "Clear the cell and type the value again, or paste it as plain text.",
        ),
        Rule(
            "scientific-notation",
            "Excel turned the number into scientific notation, so digits may be lost.",
            _SCI_HINT,
        ),
        Rule(
            "non-ascii-digits",
            "It contains digits from another script (e.g. Arabic-Indic or full-width).",
            "Retype the number with the ordinary digits 0-9.",
        ),
        Rule(
            "amount-ambiguous",
            "The amount can be read two ways: {detail}.",
            # {evidence}: what each --amount-format pays on this row (validate/sanity.py)
            "Write the amount in full without thousands separators (1500000).{evidence}",
        ),
        Rule(
            "amount-zero",
            "The amount is zero (a lone dash is how Excel's accounting format shows zero).",
            "Enter an amount greater than 0, or remove the row.",
        ),
        Rule(
            "amount-negative",
            "The amount is negative.",
            "DOKU pays positive amounts only: remove the minus sign or brackets, "
            "or remove the row.",
        ),
        Rule(
            "amount-not-a-number",
            "It is not a number (NaN, infinity or an Excel error value such as #VALUE!).",
            "Enter the amount as digits, e.g. 1500000; if it is a formula, fix the formula.",
        ),
        Rule(
            "amount-invalid",
            "This is not an amount batchpay can read.",
            "Write digits, optionally with Rp and thousands separators: 1500000, Rp 1.500.000 "
            "or 1,500,000.50.",
        ),
        Rule(
            "amount-too-large",
            "The amount has more than {max_int_digits} digits before the decimal point.",
            "Check the amount; DOKU accepts at most {max_int_digits} digits before the point.",
        ),
        Rule(
            "amount-too-many-decimals",
            "The amount has more than {decimals} decimals.",
            "Round it to at most {decimals} decimals.",
        ),
        Rule(
            "amount-not-whole",
            "The amount has cents, but Sub Account amounts are whole rupiah.",
            "Round it to whole rupiah, e.g. 1500000.",
        ),
        Rule(
            "phone-invalid",
            "This is not a phone number.",
            "Write the receiver's Indonesian mobile number, e.g. 0816291271826 or "
            "+62 816-2912-71826.",
        ),
        Rule(
            "phone-not-indonesian",
            "It is not an Indonesian number; Payout Link sends to Indonesian mobiles (+62) only.",
            "Use the receiver's Indonesian mobile number.",
        ),
        Rule(
            "phone-not-mobile",
            "It is an Indonesian number but not a mobile number (mobiles start 08 or +62 8).",
            "Use the receiver's mobile number, e.g. 0816291271826.",
        ),
        Rule(
            "phone-length",
            "It has the wrong number of digits: written as 62… it must have {min_len}-{max_len}.",
            "Check for missing or extra digits.",
        ),
        Rule(
            "email-invalid",
            "This is not a valid email address: {detail}",
            "Correct the address, e.g. siti.rahayu@example.co.id.",
        ),
        Rule(
            "bank-code-unknown",
            "{detail}; DOKU may reject it.",
            "Check the BIC with the receiver's bank, or add the bank to the bank table "
            "(BATCHPAY_BANKS).",
            severity="warning",
        ),
        Rule(
            "bank-code-invalid",
            "This is not a SWIFT/BIC, BI code or bank name batchpay knows{detail}.",
            "Use the bank's SWIFT/BIC (e.g. CENAIDJA) or a name or BI code from the bank table "
            "(BCA, 014).",
        ),
        Rule(
            "not-digits",
            "An account number may contain digits only.",
            "Remove letters and other characters; keep leading zeros (format the column as Text).",
        ),
        Rule(
            "name-invalid-characters",
            "DOKU accepts only letters and spaces in this name.",
            "Remove digits and punctuation, e.g. Ma'ruf → Maruf, Muh. Ali → Muh Ali.",
        ),
        Rule(
            "account-id-invalid",
            "This is not a DOKU Sub Account id (they look like SAC-0001-1234567890123).",
            "Copy the id from DOKU Back Office or from the output of `batchpay accounts create`.",
        ),
        Rule(
            "account-type-invalid",
            "The account type must be STANDARD or DEFAULT.",
            "Write STANDARD or DEFAULT.",
        ),
        Rule(
            "currency-invalid",
            "This is not a 3-letter currency code.",
            "Write IDR, or leave the cell empty (IDR).",
        ),
        Rule(
            "currency-unsupported",
            "Only IDR is paid out; this row is in another currency.",
            "Convert the amount to rupiah and write IDR, or leave the cell empty.",
        ),
        Rule(
            "reference-not-ascii",
            "It contains {detail}; DOKU accepts references of plain letters A-Z, digits 0-9 "
            "and ASCII punctuation only.",
            "Retype the reference on an English (Latin) keyboard layout, or copy it from a "
            "plain-text source.",
        ),
        Rule(
            "formula-prefix",
            "The value starts with '{detail}', which Excel treats as the start of a formula "
            "(and DOKU would send it on as typed).",
            "Remove the leading '{detail}'; a name, description or reference never needs it.",
        ),
        Rule(
            "duplicate-reference",
            "The {field} is used more than once in this sheet (also in {others}).",
            "Give every row its own {field}; DOKU accepts a reference only once.",
        ),
        Rule(
            "transfer-same-account",
            "The destination is the origin Sub Account itself.",
            "A transfer must go to a different Sub Account.",
        ),
    )
}

# Codes a normaliser may give a cell, by field type (batchpay/normalize documents each).
_COMMON = ("required", "non-printable")
_NUMERIC = ("scientific-notation", "non-ascii-digits")
PARSE_CODES: dict[str, tuple[str, ...]] = {
    "amount": _COMMON
    + _NUMERIC
    + (
        "amount-ambiguous",
        "amount-zero",
        "amount-negative",
        "amount-not-a-number",
        "amount-invalid",
        "amount-too-large",
        "amount-too-many-decimals",
        "amount-not-whole",
    ),
    "phone": _COMMON
    + _NUMERIC
    + ("phone-invalid", "phone-not-indonesian", "phone-not-mobile", "phone-length"),
    "email": (*_COMMON, "email-invalid"),
    "bic": (*_COMMON, "bank-code-unknown", "bank-code-invalid"),
    "digits": _COMMON + _NUMERIC + ("not-digits",),
    "name": (*_COMMON, "formula-prefix", "name-invalid-characters"),
    "account_id": (*_COMMON, "account-id-invalid"),
    "account_type": (*_COMMON, "account-type-invalid"),
    "currency": (*_COMMON, "currency-invalid", "currency-unsupported"),
    "text": (*_COMMON, "formula-prefix"),
    "reference": (*_COMMON, "non-ascii-digits", "reference-not-ascii", "formula-prefix"),
}

# Types whose own rule already bounds the length (a BIC is 8/11, a currency 3 letters, a
# type STANDARD/DEFAULT, a phone its 9–14 digits): a length problem there would say it twice.
_OWN_LENGTH_RULE = {"phone", "bic", "currency", "account_type", "amount"}


def length_column(field_name: str) -> str:
    return field_name + LENGTH_SUFFIX


def has_length_rule(f: Field) -> bool:
    """Whether the model checks the field's length (then the check frame carries F__len)."""
    return f.type not in _OWN_LENGTH_RULE and (f.max_len is not None or f.min_len > 1)


def codes_for(f: Field, kind: Kind) -> tuple[str, ...]:
    """Every code the model can report for a field (parse codes first, then value checks)."""
    return PARSE_CODES[f.type] + tuple(code for _, code, _ in _value_checks(f, kind))


def _value_checks(f: Field, kind: Kind) -> list[tuple[str, str, Callable[[pd.Series], Any]]]:
    """(column, code, vectorised check) for one field's value checks. Lengths are checked on
    the precomputed F__len (0 for blank or unreadable cells, which other codes report)."""
    checks: list[tuple[str, str, Callable[[pd.Series], Any]]] = []
    if has_length_rule(f):
        if f.max_len is not None:
            max_len = f.max_len
            checks.append((length_column(f.name), "too-long", lambda n: n <= max_len))
        if f.min_len > 1:
            min_len = f.min_len
            checks.append((length_column(f.name), "too-short", lambda n: (n == 0) | (n >= min_len)))
    if f.name == kind.reference_field:
        # On reference_key (case-folded, NFKC, look-alikes mapped), as across runs: "inv-1"
        # and "INV-1" in one sheet are a typo far more often than two payments, and a
        # duplicate can pay twice (docs/safety.md §8).
        checks.append((f.name, "duplicate-reference", _not_duplicated))
    return checks


def _not_duplicated(s: pd.Series) -> pd.Series:
    cells = as_arrow(s)
    # reference_key of ASCII text (trimmed, as every normalised value is) is str.lower,
    # which pyarrow does without a Python call per cell; any other text gets the full key.
    if pc.all(pc.string_is_ascii(cells)).as_py() is not False:
        keys = pc.ascii_lower(cells)
    else:
        keys = pyarrow.array([reference_key(v) for v in cells.to_pylist()], type=cells.type)
    blank = np.asarray(pc.equal(cells, "").to_numpy(zero_copy_only=False), dtype=bool)
    return pd.Series(blank | ~_repeated(keys), index=s.index)


def _repeated(keys: pyarrow.Array) -> np.ndarray:
    """Whether each key occurs more than once."""
    n = len(keys)
    if n < 2:
        return np.zeros(n, dtype=bool)
    before, after = keys.slice(0, n - 1), keys.slice(1)
    if pc.all(pc.less_equal(before, after)).as_py():
        # References usually come in order (BONUS-0001, BONUS-0002, …): then equal keys
        # are neighbours, and no hashing is needed.
        same = np.asarray(pc.equal(before, after).to_numpy(zero_copy_only=False), dtype=bool)
        out = np.zeros(n, dtype=bool)
        out[1:] |= same
        out[:-1] |= same
        return out
    codes = pc.dictionary_encode(keys).indices.to_numpy(zero_copy_only=False)
    return np.bincount(codes)[codes] > 1


def _column_check(column: str, code: str, fn: Callable[[pd.Series], Any]) -> Any:
    def check(cls: Any, series: pd.Series) -> Any:
        return fn(series)

    check.__name__ = f"check_{column}_{code}".replace("-", "_")
    check.__doc__ = RULES[code].message
    return pa.check(column, name=code, error=RULES[code].message)(check)


def _frame_check(row_check: RowCheck) -> Any:
    """A kind's cross-column check (``Kind.row_checks``) as a pandera dataframe check."""

    def check(cls: Any, df: pd.DataFrame) -> Any:
        return row_check.check(df)

    check.__name__ = f"check_{row_check.code}".replace("-", "_")
    check.__doc__ = RULES[row_check.code].message
    return pa.dataframe_check(name=row_check.code, error=RULES[row_check.code].message)(check)


def build_model(kind: Kind) -> type[pa.DataFrameModel]:
    """The DataFrameModel for ``kind``: one candidate column per field (and its length)."""
    annotations: dict[str, Any] = {}
    namespace: dict[str, Any] = {
        "__annotations__": annotations,
        "__doc__": f"pandera model for {kind.title}.",
    }
    for f in kind.fields:
        # str: the check frame's candidate columns are pandas str columns backed by pyarrow
        # (see batchpay/validate/table.py), even when they have no rows.
        annotations[f.name] = Series[str]
        namespace[f.name] = pa.Field(description=f.description)
        if has_length_rule(f):
            annotations[length_column(f.name)] = Series[int]
            namespace[length_column(f.name)] = pa.Field()
        for column, code, fn in _value_checks(f, kind):
            namespace[f"_value_{f.name}_{code}"] = _column_check(column, code, fn)
    for row_check in kind.row_checks:
        namespace[f"_row_{row_check.code}"] = _frame_check(row_check)

    class Config:
        strict = False  # amount_minor and extra columns ride along unvalidated
        coerce = False

    namespace["Config"] = Config
    name = "".join(part.title() for part in kind.name.split("-")) + "Model"
    return type(name, (pa.DataFrameModel,), namespace)


MODELS: dict[str, type[pa.DataFrameModel]] = {name: build_model(k) for name, k in KINDS.items()}
PayoutLinkModel = MODELS["payout-link"]
SubAccountPayoutModel = MODELS["sub-account-payout"]
SubAccountTransferModel = MODELS["sub-account-transfer"]
SubAccountCreateModel = MODELS["sub-account-create"]
