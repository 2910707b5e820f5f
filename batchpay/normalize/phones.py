"""Phone numbers: every way people write an Indonesian mobile → ``62…``."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from batchpay.normalize.base import (
    BLANK,
    NON_ASCII_DIGIT_RE,
    NON_PRINTABLE_RE,
    SCIENTIFIC_RE,
    TEXT,
    Normalised,
    Out,
    matches,
)

_62 = pa.scalar("62", TEXT)
_PHONE_SEPARATORS = re.compile(r"[\s\-.()/]")
# The ASCII cells the separator tier may handle: digits, "+", and separators, where the
# explicit class below is exactly what Python's \s and _PHONE_SEPARATORS remove.
_ASCII_PHONE_CHARS = r"[0-9+ \t\n\r\f\v\-.()/]*"
_ASCII_SEPARATOR = r"[ \t\n\r\f\v\-.()/]"


def _mobile(max_digits: int) -> str:
    # Indonesian mobile numbers: national significant number 8[1-9] + 7–10 digits (9–12 in
    # all, libphonenumber's ID mobile lengths); with the 62 prefix that must fit DOKU's 14.
    return rf"8[1-9][0-9]{{7,{max_digits - 4}}}"


def normalise_phones(raw: pd.Series, *, min_digits: int = 9, max_digits: int = 14) -> Normalised:
    """``0816…``, ``+62 816-…``, ``62816…``, ``(0816) …``, ``816…`` → ``62816…``.

    A number must be an Indonesian mobile (``628[1-9]…``) of ``min_digits``–``max_digits``
    digits (DOKU: 9–14). ``phonenumbers`` parses only what the regexes could not.
    """
    out = Out(raw)
    cells = out.cells
    mobile = _mobile(max_digits)
    # Separators people type or paste: spaces, dashes, dots, brackets, slashes; 00 or +
    # before 62, and the trunk 0 some write after it ("+62 (0)816…").
    prefixed = rf"(?:(?:\+|00)?620?|0)?({mobile})"
    # Tier 1, the shapes nearly every sheet uses: 0816…, 62816…, +62816…, 816… (Excel ate
    # the 0). The national number starts at its 8 (the prefixes hold no 8): strip "+", "6",
    # "2", "0" from the left and put 62 back.
    fast = matches(cells, rf"(?:\+?62|0)?{mobile}")
    if fast.any():
        national = pc.utf8_ltrim(pc.filter(cells, pa.array(fast)), characters="+620")
        out.decide(fast, pc.binary_join_element_wise(_62, national, BLANK))
    # Tier 2: the same with ASCII separators ("+62 816-2912-7182", "(0816) 291 271").
    left = np.flatnonzero(~out.done)
    if len(left):
        cells_left = cells.take(pa.array(left))
        typed = matches(cells_left, _ASCII_PHONE_CHARS)
        if typed.any():
            left, cells_left = left[typed], pc.filter(cells_left, pa.array(typed))
            stripped = pc.replace_substring_regex(cells_left, _ASCII_SEPARATOR, "")
            hit = matches(stripped, prefixed)
            if hit.any():
                mask = np.zeros(out.n, dtype=bool)
                mask[left[hit]] = True
                numbers = pc.filter(stripped, pa.array(hit))
                out.decide(mask, pc.replace_substring_regex(numbers, f"^{prefixed}$", "62\\1"))
    pos, texts = out.rest()
    if len(pos):
        match2 = re.compile(prefixed).fullmatch
        verdicts: dict[str, tuple[str, str]] = {}
        for p, text in zip(pos, texts, strict=True):
            found = match2(_PHONE_SEPARATORS.sub("", text))
            if found:
                out.set(p, "62" + found[1])
                continue
            if text not in verdicts:
                verdicts[text] = _classify_phone(text, mobile, min_digits, max_digits)
            value, code = verdicts[text]
            out.set(p, value, code)
    return out.result()


def _classify_phone(text: str, mobile: str, min_digits: int, max_digits: int) -> tuple[str, str]:
    """(normalised, code) for a phone cell the regexes did not understand."""
    if SCIENTIFIC_RE.fullmatch(text):
        return "", "scientific-notation"
    if NON_ASCII_DIGIT_RE.search(text):
        return "", "non-ascii-digits"
    if NON_PRINTABLE_RE.search(text):
        return "", "non-printable"
    if re.search(r"[^0-9\s\-.()/+]", text):
        # phonenumbers would read letters as a vanity number (0800-FLOWERS); a payee's
        # mobile never has letters, so this is a typo or the wrong column.
        return "", "phone-invalid"
    import phonenumbers  # only for the odd cells: its import costs more than the fast path

    try:
        number = phonenumbers.parse(text, "ID")
    except phonenumbers.NumberParseException:
        return "", "phone-invalid"
    if number.country_code != 62:
        return "", "phone-not-indonesian"
    # national_number, not national_significant_number: the latter keeps a trunk 0 that
    # phonenumbers flags as an "Italian leading zero" for short inputs like 0812345.
    nsn = str(number.national_number)
    if re.fullmatch(mobile, nsn):
        return "62" + nsn, ""
    if not min_digits <= len(nsn) + 2 <= max_digits:
        return "", "phone-length"
    return "", "phone-not-mobile"
