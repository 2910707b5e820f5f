"""Amounts: formatted text → canonical decimal text and int64 minor units, never a float."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from batchpay.normalize.base import (
    NON_ASCII_DIGIT_RE,
    NON_PRINTABLE_RE,
    SCIENTIFIC_RE,
    Normalised,
    Out,
    matches,
)

AmountFormat = Literal["id", "en"]

# A cell the sheet wrote as text, possibly formatted: "Rp 1.500.000", "Rp1.500.000,-",
# "1,500,000", "1.500.000,00", "IDR 1,500,000.50", "1.500,5", "1500000.5". The first
# alternative that fits names the style; "amb" (one separator, exactly three digits after a
# 1–3 digit group) is what dot-thousands (Indonesian) reads as 1500 and comma-thousands
# (English) as 1.5. ",-" / ".-" after the number is the Indonesian "no cents" mark.
_AMOUNT_TEXT = re.compile(
    r"""(?:(?:rp\.?|idr)\s*)?
    (?: (?P<amb>[1-9][0-9]{0,2}[.,][0-9]{3})
      | (?P<id>[1-9][0-9]{0,2}(?:\.[0-9]{3})+(?:,[0-9]+)?)
      | (?P<en>[1-9][0-9]{0,2}(?:,[0-9]{3})+(?:\.[0-9]+)?)
      | (?P<point>[0-9]+(?:\.[0-9]+)?)
      | (?P<comma>[0-9]+,[0-9]+) )
    (?P<mark>\s*[,.]-)?
    (?:\s*(?:idr|rp))?""",
    re.IGNORECASE | re.VERBOSE,
)
# Tier 3's optional currency before the number (ASCII spaces only; other spacing takes the
# Python path).
_PREFIX = r"(?:(?:[Rr][Pp]\.?|[Ii][Dd][Rr]) *)?"
_CURRENCY_PREFIX = re.compile(r"^(?:rp\.?|idr)\s*", re.IGNORECASE)
_NOT_A_NUMBER = re.compile(r"[+-]?(?:nan|inf|infinity)|#.*|n/?a", re.IGNORECASE)


@dataclass(frozen=True)
class AmountParse:
    """One amount cell: canonical text and minor units, or a problem code (and detail)."""

    canonical: str
    minor: int
    code: str = ""
    detail: str = ""
    style: str = ""  # "id" / "en" when the text shows its convention unmistakably


def parse_amount_text(
    text: str, *, decimals: int, max_int_digits: int, amount_format: AmountFormat | None = None
) -> AmountParse:
    """Parse one trimmed, non-blank amount cell (the reference the vectorised path matches)."""
    m = _AMOUNT_TEXT.fullmatch(text)
    if m is None:
        return AmountParse("", 0, _classify_bad_amount(text))
    style = ""
    if (a := m.group("amb")) is not None:
        fmt = "id" if m.group("mark") else amount_format
        if fmt is None:
            return AmountParse("", 0, "amount-ambiguous", _ambiguity(a))
        thousands = "." if fmt == "id" else ","
        plain = a.replace(thousands, "").replace(",", ".")
    elif (a := m.group("id")) is not None:
        plain, style = a.replace(".", "").replace(",", "."), "id"
    elif (a := m.group("en")) is not None:
        plain, style = a.replace(",", ""), "en"
    elif (a := m.group("point")) is not None:
        plain = a
    else:
        plain = m.group("comma").replace(",", ".")
    whole, _, frac = plain.partition(".")
    whole, frac = whole.lstrip("0"), frac.rstrip("0")
    if len(whole) > max_int_digits:
        return AmountParse("", 0, "amount-too-large", style=style)
    if len(frac) > decimals:
        code = "amount-not-whole" if decimals == 0 else "amount-too-many-decimals"
        return AmountParse("", 0, code, style=style)
    if not whole and not frac:
        return AmountParse("", 0, "amount-zero", style=style)
    cents = frac.ljust(2, "0")
    whole = whole or "0"
    canonical = f"{whole}.{cents}" if frac else whole
    return AmountParse(canonical, int(whole) * 100 + int(cents), style=style)


def amount_readings(
    text: str, *, decimals: int, max_int_digits: int
) -> dict[AmountFormat, AmountParse]:
    """How ``--amount-format id`` and ``en`` would each read one amount cell."""
    return {
        fmt: parse_amount_text(
            text.strip(), decimals=decimals, max_int_digits=max_int_digits, amount_format=fmt
        )
        for fmt in ("id", "en")
    }


_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand"))


def _words_below_1000(n: int) -> str:
    parts = []
    if n >= 100:
        parts.append(f"{_ONES[n // 100]} hundred")
        n %= 100
    if n >= 20:
        parts.append(_TENS[n // 10] + (f"-{_ONES[n % 10]}" if n % 10 else ""))
    elif n or not parts:
        parts.append(_ONES[n])
    return " ".join(parts)


def amount_in_words(minor: int) -> str:
    """``150000`` (minor units) → ``"one thousand five hundred"``; cents as ``and 50/100``,
    so an amount in a message cannot be misread whatever separators the reader expects."""
    whole, cents = divmod(minor, 100)
    parts = []
    for scale, name in _SCALES:
        if whole >= scale:
            parts.append(f"{amount_in_words(whole // scale * 100)} {name}")
            whole %= scale
    if whole or not parts:
        parts.append(_words_below_1000(whole))
    text = " ".join(parts)
    return f"{text} and {cents:02d}/100" if cents else text


def parse_amounts(
    raw: pd.Series,
    *,
    decimals: int,
    max_int_digits: int,
    amount_format: AmountFormat | None = None,
) -> Normalised:
    """Amount text → canonical decimal text (``1500000``, ``1500000.50``) and int64 minor units.

    Understood: ``1500000``, ``1500000.00``, ``Rp 1.500.000``, ``Rp1.500.000,-``,
    ``1,500,000``, ``1.500.000,00``, ``IDR 1,500,000.50``, ``1.500,5`` (both separators: the
    last one is the decimal separator), ``1,50`` (a separator then one or two digits is a
    decimal separator). ``1.500`` / ``1,500`` (one separator, then exactly three digits) are
    ``amount-ambiguous`` unless ``amount_format`` says "id" (dot = thousands, comma =
    decimal) or "en" (comma = thousands, point = decimal), or a ``,-`` suffix marks the
    Indonesian style. Digits beyond ``decimals`` must be zeros (``amount-not-whole`` when
    ``decimals`` is 0, else ``amount-too-many-decimals``); more than ``max_int_digits`` digits
    before the point is ``amount-too-large``.

    Three vectorised tiers cover what spreadsheets export for number cells (``1500000`` and
    ``1500000.00``) and the common formatted whole amounts (``Rp 1.500.000``,
    ``1,250,000``); any other text goes through :func:`parse_amount_text` once per distinct
    value.
    """
    out = Out(raw)
    minor = np.zeros(out.n, dtype=np.int64)
    styled: dict[str, set[str]] = {"id": set(), "en": set()}  # distinct cells per style
    if max_int_digits > 0:
        whole_digits = rf"[1-9][0-9]{{0,{max_int_digits - 1}}}"
        _plain_integers(out, minor, whole_digits)
        # The other tiers look only at what tier 1 left (a few percent of a typical sheet).
        left = np.flatnonzero(~out.done)
        rest = out.cells.take(pa.array(left)) if len(left) else out.cells.slice(0, 0)
        _two_decimals(out, minor, rest, left, whole_digits, decimals)
        _grouped_thousands(out, minor, rest, left, max_int_digits, styled)
    _formatted_text(
        out,
        minor,
        styled,
        decimals=decimals,
        max_int_digits=max_int_digits,
        amount_format=amount_format,
    )
    evidence = {style: len(texts_of_style) for style, texts_of_style in styled.items()}
    return out.result(minor=minor, evidence=evidence)


def _plain_integers(out: Out, minor: np.ndarray, whole_digits: str) -> None:
    """Tier 1: a plain integer, no leading zero, within the digit limit (int64-safe: ≤ 16
    digits × 100 < 2**63). The ASCII-only pattern keeps out the non-ASCII digits and
    underscores a number parser would otherwise accept."""
    ints = matches(out.cells, whole_digits)
    if ints.any():
        out.keep(ints)
        minor[ints] = _to_int64(pc.filter(out.cells, pa.array(ints))) * 100


def _two_decimals(
    out: Out,
    minor: np.ndarray,
    rest: pa.Array,
    left: np.ndarray,
    whole_digits: str,
    decimals: int,
) -> None:
    """Tier 2: two decimals, as Excel's 0.00 number format exports them."""
    hit = matches(rest, whole_digits + r"\.[0-9]{2}")
    if not hit.any():
        return
    tier = pc.filter(rest, pa.array(hit))
    m = _to_int64(pc.replace_substring(tier, ".", ""))
    whole = m % 100 == 0
    positions = left[hit]
    if decimals == 0:
        out.reject(positions[~whole], "amount-not-whole")
        positions, m = positions[whole], m[whole]
        tier = pc.filter(tier, pa.array(whole))
    minor[positions] = m
    # "1500000.00" → "1500000"; "1500000.50" stays as written (already canonical).
    canonical = pc.if_else(pc.ends_with(tier, ".00"), pc.utf8_slice_codeunits(tier, 0, -3), tier)
    out.decide(_mask(out.n, positions), canonical)


def _grouped_thousands(
    out: Out,
    minor: np.ndarray,
    rest: pa.Array,
    left: np.ndarray,
    max_int_digits: int,
    styled: dict[str, set[str]],
) -> None:
    """Tier 3: whole amounts grouped in thousands, two groups or more (so never the
    ambiguous 1.500), with an optional Rp/IDR: "Rp 1.500.000", "1,250,000"."""
    for style, separator in (("id", r"\."), ("en", ",")):
        hit = matches(rest, _PREFIX + rf"[1-9][0-9]{{0,2}}(?:{separator}[0-9]{{3}}){{2,}}")
        if not hit.any():
            continue
        tier = pc.filter(rest, pa.array(hit))
        digits = pc.replace_substring_regex(tier, "[^0-9]", "")
        fits = np.asarray(
            pc.less_equal(pc.utf8_length(digits), max_int_digits).to_numpy(zero_copy_only=False),
            dtype=bool,
        )
        positions = left[hit][fits]  # longer ones: amount-too-large, below
        digits = pc.filter(digits, pa.array(fits))
        minor[positions] = _to_int64(digits) * 100
        out.decide(_mask(out.n, positions), digits)
        styled[style].update(pc.unique(pc.filter(tier, pa.array(fits))).to_pylist())


def _formatted_text(
    out: Out,
    minor: np.ndarray,
    styled: dict[str, set[str]],
    *,
    decimals: int,
    max_int_digits: int,
    amount_format: AmountFormat | None,
) -> None:
    """The cells no tier decided: parse each distinct value once, then spread the results."""
    pos, texts = out.rest()
    if not len(pos):
        return
    parsed: dict[str, AmountParse] = {}
    for text in texts:
        if text not in parsed:
            parsed[text] = parse_amount_text(
                text,
                decimals=decimals,
                max_int_digits=max_int_digits,
                amount_format=amount_format,
            )
    for text, res in parsed.items():
        if res.style:
            styled[res.style].add(text)
    for p, text in zip(pos, texts, strict=True):
        res = parsed[text]
        out.set(p, res.canonical, res.code)
        minor[p] = res.minor
        if res.detail:
            out.detail(int(p), res.detail)


def _mask(n: int, positions: np.ndarray) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    mask[positions] = True
    return mask


def _to_int64(cells: pa.Array) -> np.ndarray:
    return np.asarray(pc.cast(cells, pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64)


def _ambiguity(text: str) -> str:
    head, sep, tail = text.partition("." if "." in text else ",")
    whole = head + tail
    small = f"{head}.{tail}".rstrip("0").rstrip(".")
    if sep == ".":
        return f"it could be {whole} (Indonesian style) or {small} (English style)"
    return f"it could be {whole} (English style) or {small} (Indonesian style)"


def _classify_bad_amount(text: str) -> str:
    """The most useful code for an amount the grammar did not understand."""
    if _NOT_A_NUMBER.fullmatch(text):
        return "amount-not-a-number"
    if SCIENTIFIC_RE.fullmatch(text):
        return "scientific-notation"
    if NON_ASCII_DIGIT_RE.search(text):
        return "non-ascii-digits"
    if NON_PRINTABLE_RE.search(text):
        return "non-printable"
    body = _CURRENCY_PREFIX.sub("", text)
    # Excel's accounting format shows zero as a lone dash.
    if body in ("-", "−", "–", "—"):
        return "amount-zero"
    if re.match(r"[-−–(]", body) or body.endswith(")") or body.endswith("-"):
        return "amount-negative"
    return "amount-invalid"
