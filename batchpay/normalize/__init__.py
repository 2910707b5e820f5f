"""Vectorised normalisers: raw sheet text → normalised text plus a problem code per cell.

Every normaliser takes a column of raw cell text (a ``pd.Series`` of ``str``) and returns a
:class:`Normalised` with the same index: ``values`` (normalised text, '' where blank or not
understood), ``codes`` (a problem code where the text could not be normalised, '' otherwise),
``blank`` (the cell is empty after trimming; the caller decides whether that is ``required``)
and ``details`` (row label → a sentence for the problem message, only for odd cells).

Speed matters (a 1,000,000-row sheet must validate in about the time pandas takes to read it),
so each normaliser first runs pyarrow's regex kernels over the whole column for the shapes
almost every sheet uses (:mod:`~batchpay.normalize.base` explains why that is exact), and only
the leftover rows go through Python; per-value Python (Decimal parsing, ``phonenumbers``,
``email-validator``) runs only for the rows nothing else decided, once per distinct value.
Money never becomes a float: amounts are split as text and turned into ``int64`` minor units
(× 100), and the canonical text is built from digits.

Codes emitted here (the pandera models in ``schemas.py`` turn them into problems):
``amount-*``, ``scientific-notation``, ``non-ascii-digits``, ``non-printable``, ``phone-*``,
``email-invalid``, ``bank-code-*``, ``not-digits``, ``formula-prefix`` (free text, names,
references), ``reference-not-ascii``.

Modules: :mod:`~batchpay.normalize.base` (result type, column helpers, per-unique),
:mod:`~batchpay.normalize.text` (text, names, references, Sub Account ids/types, currencies),
:mod:`~batchpay.normalize.amounts`, :mod:`~batchpay.normalize.phones`,
:mod:`~batchpay.normalize.emails`, :mod:`~batchpay.normalize.identifiers` (bank codes,
digits).
"""

from __future__ import annotations

from batchpay.normalize.amounts import (
    AmountFormat,
    AmountParse,
    amount_in_words,
    amount_readings,
    parse_amount_text,
    parse_amounts,
)
from batchpay.normalize.base import (
    FORMULA_PREFIXES,
    TEXT,
    Normalised,
    as_arrow,
    blank_where,
    blanks,
    char_lengths,
    encode,
    mostly_repeated,
    per_unique,
    release_unused_memory,
    text_series,
)
from batchpay.normalize.emails import _check_email as _check_email  # tests compare with it
from batchpay.normalize.emails import normalise_emails
from batchpay.normalize.identifiers import normalise_bank_codes, normalise_digits
from batchpay.normalize.phones import normalise_phones
from batchpay.normalize.text import (
    ACCOUNT_TYPES,
    normalise_account_ids,
    normalise_account_types,
    normalise_currencies,
    normalise_names,
    normalise_references,
    normalise_text,
    not_ascii_detail,
)

__all__ = [
    "ACCOUNT_TYPES",
    "FORMULA_PREFIXES",
    "TEXT",
    "AmountFormat",
    "AmountParse",
    "Normalised",
    "amount_in_words",
    "amount_readings",
    "as_arrow",
    "blank_where",
    "blanks",
    "char_lengths",
    "encode",
    "mostly_repeated",
    "normalise_account_ids",
    "normalise_account_types",
    "normalise_bank_codes",
    "normalise_currencies",
    "normalise_digits",
    "normalise_emails",
    "normalise_names",
    "normalise_phones",
    "normalise_references",
    "normalise_text",
    "not_ascii_detail",
    "parse_amount_text",
    "parse_amounts",
    "per_unique",
    "release_unused_memory",
    "text_series",
]
