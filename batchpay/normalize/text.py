"""Free text, names, references, Sub Account ids and types, currencies."""

from __future__ import annotations

import re
import unicodedata

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from batchpay.normalize.base import (
    FORMULA_PREFIXES,
    NON_ASCII_DIGIT_RE,
    NON_PRINTABLE_RE,
    Normalised,
    Out,
    as_arrow,
    matches,
    restrict,
    text_series,
)
from batchpay.normalize.base import upper as upper_cells
from batchpay.references import reference_key

# Printable ASCII words separated by single spaces: already trimmed, collapsed and free of
# control characters, so the cell is its own normalised value (nearly every cell).
_CLEAN_ASCII = r"[!-~]+(?: [!-~]+)*"
# The same, not starting with a formula prefix (= + - @): printable ASCII but those four.
_CLEAN_ASCII_NO_FORMULA = r"[!-*,.-<>-?A-~][!-~]*(?: [!-~]+)*"
_WHITESPACE_RUN = re.compile(r"\s+")

# docs/doku-api.md §5: names are "letters (and spaces)". Conservative reading: ASCII letters only;
# apostrophes, dots and hyphens (Ma'ruf, Muh. Ali) are rejected with a hint rather than sent
# for DOKU or the bank to reject after money is committed.
_NAME = r"[A-Za-z]+(?: [A-Za-z]+)*"
# DOKU's Sub Account ids look like SAC-9914-1628075940045 (docs/doku-api.md §5); the exact shape is
# not published, so only the prefix and the character set are enforced.
_ACCOUNT_ID = r"SAC-[A-Za-z0-9-]+"
_CURRENCY = r"[A-Z]{3}"
ACCOUNT_TYPES = ("STANDARD", "DEFAULT")


def normalise_text(
    raw: pd.Series, *, collapse: bool = True, upper: bool = False, formulas: bool = False
) -> Normalised:
    """Trim; flag non-printable characters; collapse internal whitespace runs (``collapse``);
    upper-case (``upper``: currency, account type); with ``formulas``, refuse text that
    starts with a formula prefix (``formula-prefix``: ``=``, ``+``, ``-``, ``@``)."""
    out = Out(raw)
    # Formula-looking cells miss the fast pattern, so the check costs nothing for the rest.
    out.keep(matches(out.cells, _CLEAN_ASCII_NO_FORMULA if formulas else _CLEAN_ASCII))
    pos, texts = out.rest()
    for p, text in zip(pos, texts, strict=True):
        if NON_PRINTABLE_RE.search(text):
            out.set(p, "", "non-printable")
        elif formulas and text.startswith(FORMULA_PREFIXES):
            _formula(out, p, text)
        else:
            out.set(p, _WHITESPACE_RUN.sub(" ", text) if collapse else text)
    res = out.result()
    if upper:
        res.values = text_series(upper_cells(as_arrow(res.values)), res.values.index)
    return res


def _formula(out: Out, p: int, text: str) -> None:
    """A cell that starts with a formula prefix: no value, ``formula-prefix``, and the
    character as the detail."""
    out.set(p, "", "formula-prefix")
    out.detail(int(p), text[0])


def normalise_references(raw: pd.Series) -> Normalised:
    """A payment reference (reference_id, invoice_number): trimmed, kept as typed, and plain
    ASCII as DOKU's limits say ("alphanumeric"): full-width or other non-ASCII digits are
    ``non-ascii-digits``, any other non-ASCII character ``reference-not-ascii`` (the detail
    names it: a Cyrillic О looks exactly like O, and would make another reference); a
    formula prefix is ``formula-prefix``. ASCII cells never leave pyarrow."""
    out = Out(raw)
    out.keep(matches(out.cells, _CLEAN_ASCII_NO_FORMULA))
    pos, texts = out.rest()
    for p, text in zip(pos, texts, strict=True):
        if NON_PRINTABLE_RE.search(text):
            out.set(p, "", "non-printable")
        elif NON_ASCII_DIGIT_RE.search(text):
            out.set(p, "", "non-ascii-digits")
        elif not text.isascii():
            out.set(p, "", "reference-not-ascii")
            out.detail(int(p), not_ascii_detail(text))
        elif text.startswith(FORMULA_PREFIXES):
            _formula(out, p, text)
        else:
            out.set(p, text)
    return out.result()


def not_ascii_detail(text: str) -> str:
    """The first non-ASCII character of ``text`` in words: "'О' (CYRILLIC CAPITAL LETTER O),
    which looks like a Latin letter but is not one"."""
    ch = next(c for c in text if not c.isascii())
    name = unicodedata.name(ch, f"U+{ord(ch):04X}")
    shown = f"'{ch}' ({name})"
    twin = reference_key(ch)
    if len(twin) == 1 and twin.isascii() and twin.isalpha():
        return f"{shown}, which looks like a Latin letter but is not one"
    if len(twin) == 1 and twin.isascii() and twin.isdigit():
        return f"{shown}, which looks like a digit but is not one"
    return shown


def normalise_names(raw: pd.Series) -> Normalised:
    """Trimmed, whitespace collapsed, letters and spaces only (``name-invalid-characters``;
    a leading formula prefix is ``formula-prefix``)."""
    res = normalise_text(raw, collapse=True, formulas=True)
    return restrict(res, matches(as_arrow(res.values), _NAME), "name-invalid-characters")


def normalise_account_ids(raw: pd.Series) -> Normalised:
    """A Sub Account id, ``SAC-…`` (``account-id-invalid``)."""
    res = normalise_text(raw, collapse=False)
    return restrict(res, matches(as_arrow(res.values), _ACCOUNT_ID), "account-id-invalid")


def normalise_account_types(raw: pd.Series) -> Normalised:
    """STANDARD or DEFAULT, any case (``account-type-invalid``)."""
    res = normalise_text(raw, collapse=False, upper=True)
    ok = pc.is_in(as_arrow(res.values), value_set=pa.array(ACCOUNT_TYPES))
    return restrict(
        res, np.asarray(ok.to_numpy(zero_copy_only=False), dtype=bool), "account-type-invalid"
    )


def normalise_currencies(raw: pd.Series) -> Normalised:
    """ISO 4217, upper-cased: not 3 letters is ``currency-invalid``; anything but IDR is
    ``currency-unsupported`` — Payout Link pays Indonesian receivers in rupiah (docs/doku-api.md §4
    "ISO 4217 (IDR)"), so another currency in a payroll sheet is a mistake, not a request to
    convert."""
    res = normalise_text(raw, collapse=False, upper=True)
    res = restrict(res, matches(as_arrow(res.values), _CURRENCY), "currency-invalid")
    idr = pc.equal(as_arrow(res.values), "IDR").to_numpy(zero_copy_only=False)
    return restrict(res, np.asarray(idr, dtype=bool), "currency-unsupported")
