"""One key for "is this the same payee reference?", used inside a sheet and across runs.

DOKU's limits call references alphanumeric, and batchpay refuses anything else in a new
sheet (validation). But journals written by earlier versions may hold references typed with
full-width digits, another case, or a look-alike letter from another script, and a reference
must block every spelling a person would read as the same: ``BONUS-NOV-0001``,
``bonus-nov-0001``, ``BONUS-NOV-０００1`` and ``BОNUS-NOV-0001`` (Cyrillic О) are one key.

The key is: Unicode NFKC (full-width and compatibility forms → ASCII), case-folded, then
look-alike letters of Cyrillic and Greek mapped to the Latin letter they imitate (Unicode
TR39 "confusables", restricted to the letters that survive case-folding and look exactly
like a Latin one), and zero-width characters dropped.
"""

from __future__ import annotations

import unicodedata

# TR39 confusables for the lower-case forms (the key is case-folded first). Only letters that
# render like the Latin letter in common fonts; enough for every reference a person can type.
_CONFUSABLES = {
    # Cyrillic
    "а": "a",
    "в": "b",
    "е": "e",
    "ё": "e",
    "һ": "h",
    "і": "i",
    "ї": "i",
    "ј": "j",
    "к": "k",
    "м": "m",
    "н": "h",
    "о": "o",
    "р": "p",
    "с": "c",
    "т": "t",
    "у": "y",
    "х": "x",
    "ѕ": "s",
    "ԁ": "d",
    "ԛ": "q",
    "ԝ": "w",
    "ӏ": "l",
    "ɡ": "g",
    "ь": "b",
    # Greek
    "α": "a",
    "β": "b",
    "ε": "e",
    "η": "n",
    "ι": "i",
    "κ": "k",
    "ν": "v",
    "ο": "o",
    "ρ": "p",
    "τ": "t",
    "υ": "u",
    "χ": "x",
    "ζ": "z",
    "μ": "u",
    # Latin look-alikes outside ASCII
    "ı": "i",
    "ȷ": "j",
    "ℓ": "l",
}
_DROP = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))
_TABLE = str.maketrans({**{ord(k): v for k, v in _CONFUSABLES.items()}, **_DROP})


def reference_key(reference: str) -> str:
    """The comparison key of a reference (reference_id / invoice_number / email)."""
    text = unicodedata.normalize("NFKC", reference).casefold()
    if text.isascii():
        return text.strip()
    return text.translate(_TABLE).strip()
