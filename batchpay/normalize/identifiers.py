"""Bank codes (BIC, BI code or bank name → BIC) and digit-only identifiers."""

from __future__ import annotations

import re

import pandas as pd

from batchpay.banks import BankTable
from batchpay.normalize.base import (
    NON_ASCII_DIGIT_RE,
    NON_PRINTABLE_RE,
    SCIENTIFIC_RE,
    Normalised,
    Out,
    matches,
    per_unique,
)

_SEPARATORS = re.compile(r"[\s-]")
_DIGITS = re.compile(r"[0-9]++")


def normalise_bank_codes(raw: pd.Series, banks: BankTable) -> Normalised:
    """BIC, BI code or bank name → upper-case BIC (the table decides; see banks.py)."""

    def on_uniques(u: pd.Series) -> Normalised:
        out = Out(u)
        pos, texts = out.rest()
        for p, text in zip(pos, texts, strict=True):
            if NON_PRINTABLE_RE.search(text):
                out.set(p, "", "non-printable")
                continue
            res = banks.resolve(text)
            out.set(p, res.bic, res.code)
            if res.detail:
                out.detail(int(p), res.detail)
        return out.result()

    return per_unique(on_uniques, raw)


def normalise_digits(raw: pd.Series) -> Normalised:
    """Digits only, leading zeros kept; spaces and dashes people type between groups dropped."""
    out = Out(raw)
    out.keep(matches(out.cells, "[0-9]+"))
    pos, texts = out.rest()
    for p, text in zip(pos, texts, strict=True):
        d = _SEPARATORS.sub("", text)
        if _DIGITS.fullmatch(d):
            out.set(p, d)
        elif SCIENTIFIC_RE.fullmatch(text):
            out.set(p, "", "scientific-notation")
        elif NON_ASCII_DIGIT_RE.search(text):
            out.set(p, "", "non-ascii-digits")
        elif NON_PRINTABLE_RE.search(text):
            out.set(p, "", "non-printable")
        else:
            out.set(p, "", "not-digits")
    return out.result()
