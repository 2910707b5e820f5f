"""Vectorised normalisers: raw sheet text → normalised text plus a problem code per cell.

Every normaliser takes a column of raw cell text (a ``pd.Series`` of ``str``) and returns a
:class:`Normalised` with the same index: ``values`` (normalised text, '' where blank or not
understood), ``codes`` (a problem code where the text could not be normalised, '' otherwise),
``blank`` (the cell is empty after trimming; the caller decides whether that is ``required``)
and ``details`` (row label → a sentence for the problem message, only for odd cells).

Speed matters (a 1,000,000-row sheet must validate in about the time pandas takes to read it),
so each normaliser first runs one regex over the whole column for the shapes almost every
sheet uses, and only the leftover rows go through slower steps; per-value Python (Decimal
parsing, ``phonenumbers``, ``email-validator``) runs only for the rows nothing else decided,
once per distinct value. Money never becomes a float: amounts are split as text and turned
into ``int64`` minor units (× 100), and the canonical text is built from digits.

Codes emitted here (the pandera models in ``schemas.py`` turn them into problems):
``amount-*``, ``scientific-notation``, ``non-ascii-digits``, ``non-printable``, ``phone-*``,
``email-invalid``, ``bank-code-*``, ``not-digits``.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from functools import partial
from itertools import repeat
from typing import Literal

import email_validator
import numpy as np
import pandas as pd
import phonenumbers

from batchpay.banks import BankTable

AmountFormat = Literal["id", "en"]

# Control characters, soft hyphen, zero-width and bidi marks, line/paragraph separators, BOM:
# invisible in Excel, but DOKU receives them and the receiver's bank may reject the name.
_NON_PRINTABLE = r"[\x00-\x1f\x7f-\x9f\u00ad\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff]"
_NON_PRINTABLE_RE = re.compile(_NON_PRINTABLE)
# Python's \d matches every script's digits; money and identifiers must be ASCII 0-9.
_NON_ASCII_DIGIT_RE = re.compile(r"(?![0-9])\d")
# What Excel shows for a long number in a General cell: 8.16291E+11, 1E+06, 1.5e6.
_SCIENTIFIC_RE = re.compile(r"[+-]?[0-9]+(?:[.,][0-9]+)?[eE][+-]?[0-9]+")


@dataclass
class Normalised:
    values: pd.Series
    codes: pd.Series
    blank: pd.Series
    details: dict[Hashable, str] = field(default_factory=dict)
    minor: pd.Series | None = None  # amounts only: int64 minor units (× 100), 0 where invalid
    # amounts only: how many distinct cells are unmistakably Indonesian ("id") or English
    # ("en") style, for the hint on amount-ambiguous.
    evidence: dict[str, int] = field(default_factory=dict)


def _str(values: np.ndarray | list[str]) -> pd.Series:
    """A positional str Series (pandas' string ops; no index to align)."""
    return pd.Series(values, dtype="str")


# pandas' string methods on Python-backed strings (pandas 3 without pyarrow) call a Python
# lambda per cell plus NA bookkeeping; mapping the compiled pattern's C method over the column
# is the same single pass without a Python frame per cell, 25–50% faster on a million rows.
# Cells are always str here (validate fills NA with '').


def _cells(s: pd.Series | np.ndarray) -> np.ndarray:
    return s if isinstance(s, np.ndarray) else s.to_numpy(dtype=object)


def _fullmatch(s: pd.Series | np.ndarray, pattern: str | re.Pattern[str]) -> np.ndarray:
    a = _cells(s)
    return np.fromiter(map(bool, map(re.compile(pattern).fullmatch, a)), dtype=bool, count=len(a))


def _contains(s: pd.Series | np.ndarray, pattern: str | re.Pattern[str]) -> np.ndarray:
    a = _cells(s)
    return np.fromiter(map(bool, map(re.compile(pattern).search, a)), dtype=bool, count=len(a))


def _objects(items: Iterable[object], n: int) -> np.ndarray:
    """An object array from an iterable (a list assigned through a mask would first become a
    fixed-width unicode array, which costs more than the work itself)."""
    out = np.empty(n, dtype=object)
    out[:] = list(items)
    return out


def _apply(fn: Callable[[str], str], s: pd.Series | np.ndarray) -> np.ndarray:
    """``fn`` (a C-level ``str`` method such as ``str.strip``) over every cell."""
    a = _cells(s)
    return _objects(map(fn, a), len(a))


class _Out:
    """Assembles a :class:`Normalised` position by position (numpy, no index alignment)."""

    def __init__(self, raw: pd.Series) -> None:
        n = len(raw)
        self.index = raw.index
        self.raw = raw.to_numpy(dtype=object)
        self.values = np.full(n, "", dtype=object)
        self.codes = np.full(n, "", dtype=object)
        self.blank = np.zeros(n, dtype=bool)
        self.details: dict[Hashable, str] = {}

    def rest(self, done: np.ndarray) -> tuple[np.ndarray, pd.Series]:
        """Positions the fast path did not decide, and their trimmed non-blank text; blank
        cells are marked on the way."""
        pos = np.flatnonzero(~done)
        if not pos.size:
            return pos, _str([])
        # str.strip() also removes NBSP and the other Unicode spaces copy-paste brings in.
        t = _apply(str.strip, self.raw[pos])
        empty = t == ""
        self.blank[pos[empty]] = True
        return pos[~empty], _str(t[~empty])

    def detail(self, pos: int, text: str) -> None:
        self.details[self.index[pos]] = text

    def result(
        self, minor: pd.Series | None = None, evidence: dict[str, int] | None = None
    ) -> Normalised:
        return Normalised(
            pd.Series(self.values, index=self.index, dtype=object),
            pd.Series(self.codes, index=self.index, dtype=object),
            pd.Series(self.blank, index=self.index),
            self.details,
            minor,
            evidence or {},
        )


def per_unique(fn: Callable[[pd.Series], Normalised], raw: pd.Series) -> Normalised:
    """Run ``fn`` once per distinct value and spread the result back over the rows.

    Columns like sender name, description, currency or bank repeat a handful of values over a
    million rows; normalising the distinct values is far cheaper than the rows themselves.
    """
    positions, uniques = pd.factorize(raw, sort=False)
    res = fn(_str(np.asarray(uniques, dtype=object)))
    out = Normalised(
        values=pd.Series(
            res.values.to_numpy(dtype=object)[positions], index=raw.index, dtype=object
        ),
        codes=pd.Series(res.codes.to_numpy(dtype=object)[positions], index=raw.index, dtype=object),
        blank=pd.Series(res.blank.to_numpy(dtype=bool)[positions], index=raw.index),
        evidence=res.evidence,
    )
    if res.minor is not None:
        out.minor = pd.Series(res.minor.to_numpy(dtype=np.int64)[positions], index=raw.index)
    if res.details:
        per = np.full(len(uniques), None, dtype=object)
        for label, text in res.details.items():
            per[int(label)] = text  # type: ignore[call-overload]
        spread = per[positions]
        hit = np.flatnonzero(pd.notna(spread))
        out.details = dict(zip(raw.index[hit], spread[hit], strict=True))
    return out


def mostly_repeated(raw: pd.Series, *, sample: int = 20_000, ratio: float = 0.2) -> bool:
    """Whether a column repeats its values enough for :func:`per_unique` to pay off."""
    head = raw.iloc[:sample]
    return len(head) > 0 and head.nunique() <= len(head) * ratio


# --- text -------------------------------------------------------------------------------------

# Printable ASCII words separated by single spaces: already trimmed, collapsed and free of
# control characters, so the cell is its own normalised value (nearly every cell).
_CLEAN_ASCII = re.compile(r"[!-~]++(?: [!-~]++)*+")


def normalise_text(raw: pd.Series, *, collapse: bool = True, upper: bool = False) -> Normalised:
    """Trim; flag non-printable characters; collapse internal whitespace runs (``collapse``);
    upper-case (``upper``: currency, account type)."""
    out = _Out(raw)
    fast = _fullmatch(raw, _CLEAN_ASCII)
    out.values[fast] = out.raw[fast]
    pos, t = out.rest(fast)
    if pos.size:
        bad = _contains(t, _NON_PRINTABLE_RE)
        out.codes[pos[bad]] = "non-printable"
        good = t[~bad]
        if collapse:
            good = good.str.replace(r"\s+", " ", regex=True)
        out.values[pos[~bad]] = good.to_numpy(dtype=object)
    if upper:
        out.values = _apply(str.upper, out.values)
    return out.result()


def _restrict(res: Normalised, ok: np.ndarray, code: str) -> Normalised:
    """Give ``code`` (and '' as value) to the non-blank normalised values where ``ok`` fails."""
    values = res.values.to_numpy(dtype=object).copy()
    codes = res.codes.to_numpy(dtype=object).copy()
    bad = (values != "") & ~ok
    codes[bad] = code
    values[bad] = ""
    return Normalised(
        pd.Series(values, index=res.values.index, dtype=object),
        pd.Series(codes, index=res.codes.index, dtype=object),
        res.blank,
        res.details,
    )


# doku-api.md §5: names are "letters (and spaces)". Conservative reading: ASCII letters only;
# apostrophes, dots and hyphens (Ma'ruf, Muh. Ali) are rejected with a hint rather than sent
# for DOKU or the bank to reject after money is committed.
_NAME_RE = re.compile(r"[A-Za-z]++(?: [A-Za-z]++)*+")
# DOKU's Sub Account ids look like SAC-9914-1628075940045 (doku-api.md §5); the exact shape is
# not published, so only the prefix and the character set are enforced.
_ACCOUNT_ID_RE = re.compile(r"SAC-[A-Za-z0-9-]++")
_CURRENCY_RE = re.compile(r"[A-Z]{3}")
ACCOUNT_TYPES = ("STANDARD", "DEFAULT")


def normalise_names(raw: pd.Series) -> Normalised:
    """Trimmed, whitespace collapsed, letters and spaces only (``name-invalid-characters``)."""
    res = normalise_text(raw, collapse=True)
    return _restrict(
        res, _fullmatch(_str(res.values.to_numpy()), _NAME_RE), "name-invalid-characters"
    )


def normalise_account_ids(raw: pd.Series) -> Normalised:
    """A Sub Account id, ``SAC-…`` (``account-id-invalid``)."""
    res = normalise_text(raw, collapse=False)
    return _restrict(
        res, _fullmatch(_str(res.values.to_numpy()), _ACCOUNT_ID_RE), "account-id-invalid"
    )


def normalise_account_types(raw: pd.Series) -> Normalised:
    """STANDARD or DEFAULT, any case (``account-type-invalid``)."""
    res = normalise_text(raw, collapse=False, upper=True)
    return _restrict(res, res.values.isin(ACCOUNT_TYPES).to_numpy(), "account-type-invalid")


def normalise_currencies(raw: pd.Series) -> Normalised:
    """ISO 4217, upper-cased: not 3 letters is ``currency-invalid``; anything but IDR is
    ``currency-unsupported`` — Payout Link pays Indonesian receivers in rupiah (doku-api.md §4
    "ISO 4217 (IDR)"), so another currency in a payroll sheet is a mistake, not a request to
    convert."""
    res = normalise_text(raw, collapse=False, upper=True)
    res = _restrict(res, _fullmatch(_str(res.values.to_numpy()), _CURRENCY_RE), "currency-invalid")
    return _restrict(res, (res.values == "IDR").to_numpy(), "currency-unsupported")


# --- amounts ----------------------------------------------------------------------------------

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

    Two vectorised tiers cover what spreadsheets export for number cells (``1500000`` and
    ``1500000.00``); formatted text goes through :func:`parse_amount_text` once per distinct
    value.
    """
    out = _Out(raw)
    minor = np.zeros(len(raw), dtype=np.int64)
    evidence = {"id": 0, "en": 0}
    done = np.zeros(len(raw), dtype=bool)
    if max_int_digits > 0:
        # Tier 1: a plain integer, no leading zero, within the digit limit (int64-safe: ≤ 16
        # digits × 100 < 2**63). int() is exact and, after the ASCII-only regex, cannot meet
        # the non-ASCII digits or underscores it would otherwise accept.
        ints = _fullmatch(out.raw, rf"[1-9][0-9]{{0,{max_int_digits - 1}}}")
        cells = out.raw[ints]
        out.values[ints] = cells
        minor[ints] = np.fromiter(map(int, cells), dtype=np.int64, count=len(cells)) * 100
        done |= ints
        # Tier 2: two decimals, as Excel's 0.00 number format exports them.
        pos = np.flatnonzero(~done)
        hit = _fullmatch(out.raw[pos], rf"[1-9][0-9]{{0,{max_int_digits - 1}}}\.[0-9]{{2}}")
        if hit.any():
            hp = pos[hit]
            cells = out.raw[hp]
            m = np.fromiter(
                map(int, map(str.replace, cells, repeat("."), repeat(""))),
                dtype=np.int64,
                count=len(cells),
            )
            whole = m % 100 == 0
            if decimals == 0:
                out.codes[hp[~whole]] = "amount-not-whole"
                hp, cells, m, whole = hp[whole], cells[whole], m[whole], whole[whole]
            minor[hp] = m
            # "1500000.00" → "1500000"; "1500000.50" stays as written (already canonical).
            out.values[hp] = np.where(whole, _objects((c[:-3] for c in cells), len(cells)), cells)
            done[pos[hit]] = True
    pos, t = out.rest(done)
    if pos.size:
        # Formatted text: parse each distinct value once, then spread the results.
        which, uniques = pd.factorize(t.to_numpy(dtype=object))
        parsed = [
            parse_amount_text(
                str(u),
                decimals=decimals,
                max_int_digits=max_int_digits,
                amount_format=amount_format,
            )
            for u in uniques
        ]
        for res in parsed:
            if res.style:
                evidence[res.style] += 1
        out.values[pos] = _objects((r.canonical for r in parsed), len(parsed))[which]
        out.codes[pos] = _objects((r.code for r in parsed), len(parsed))[which]
        minor[pos] = np.fromiter((r.minor for r in parsed), dtype=np.int64, count=len(parsed))[
            which
        ]
        for i in np.flatnonzero(
            np.fromiter((bool(r.detail) for r in parsed), dtype=bool, count=len(parsed))[which]
        ):
            out.detail(int(pos[i]), parsed[which[i]].detail)
    return out.result(minor=pd.Series(minor, index=raw.index), evidence=evidence)


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
    if _SCIENTIFIC_RE.fullmatch(text):
        return "scientific-notation"
    if _NON_ASCII_DIGIT_RE.search(text):
        return "non-ascii-digits"
    if _NON_PRINTABLE_RE.search(text):
        return "non-printable"
    body = _CURRENCY_PREFIX.sub("", text)
    # Excel's accounting format shows zero as a lone dash.
    if body in ("-", "−", "–", "—"):
        return "amount-zero"
    if re.match(r"[-−–(]", body) or body.endswith(")") or body.endswith("-"):
        return "amount-negative"
    return "amount-invalid"


# --- phones -----------------------------------------------------------------------------------


def _mobile(max_digits: int) -> str:
    # Indonesian mobile numbers: national significant number 8[1-9] + 7–10 digits (9–12 in
    # all, libphonenumber's ID mobile lengths); with the 62 prefix that must fit DOKU's 14.
    return rf"8[1-9][0-9]{{7,{max_digits - 4}}}"


def normalise_phones(raw: pd.Series, *, min_digits: int = 9, max_digits: int = 14) -> Normalised:
    """``0816…``, ``+62 816-…``, ``62816…``, ``(0816) …``, ``816…`` → ``62816…``.

    A number must be an Indonesian mobile (``628[1-9]…``) of ``min_digits``–``max_digits``
    digits (DOKU: 9–14). ``phonenumbers`` parses only what the regexes could not.
    """
    out = _Out(raw)
    mobile = _mobile(max_digits)
    # The shapes nearly every sheet uses: 0816…, 62816…, +62816…, 816… (Excel ate the 0).
    fast = _fullmatch(out.raw, rf"(?:\+?62|0)?+{mobile}")
    # The national number starts at its 8 (the prefixes hold no 8): strip "+", "6", "2", "0"
    # from the left and put 62 back; C-level str methods, no Python frame per cell.
    national = map(str.lstrip, out.raw[fast], repeat("+620"))
    out.values[fast] = _objects(map(operator.add, repeat("62"), national), int(fast.sum()))
    pos, t = out.rest(fast)
    if pos.size:
        # Separators people type or paste: spaces, dashes, dots, brackets, slashes; 00 or +
        # before 62, and the trunk 0 some write after it ("+62 (0)816…").
        stripped = _apply(partial(_PHONE_SEPARATORS.sub, ""), t)
        match2 = re.compile(rf"(?:(?:\+|00)?620?|0)?({mobile})").fullmatch
        found2 = list(map(match2, stripped))
        ok = np.fromiter(map(bool, found2), dtype=bool, count=len(found2))
        out.values[pos[ok]] = _objects(("62" + m[1] for m in found2 if m), int(ok.sum()))
        verdicts: dict[str, tuple[str, str]] = {}
        for p, text in zip(pos[~ok], t.to_numpy(dtype=object)[~ok], strict=True):
            if text not in verdicts:
                verdicts[text] = _classify_phone(text, mobile, min_digits, max_digits)
            out.values[p], out.codes[p] = verdicts[text]
    return out.result()


_PHONE_SEPARATORS = re.compile(r"[\s\-.()/]")


def _classify_phone(text: str, mobile: str, min_digits: int, max_digits: int) -> tuple[str, str]:
    """(normalised, code) for a phone cell the regexes did not understand."""
    if _SCIENTIFIC_RE.fullmatch(text):
        return "", "scientific-notation"
    if _NON_ASCII_DIGIT_RE.search(text):
        return "", "non-ascii-digits"
    if _NON_PRINTABLE_RE.search(text):
        return "", "non-printable"
    if re.search(r"[^0-9\s\-.()/+]", text):
        # phonenumbers would read letters as a vanity number (0800-FLOWERS); a payee's
        # mobile never has letters, so this is a typo or the wrong column.
        return "", "phone-invalid"
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


# --- emails -----------------------------------------------------------------------------------

# A conservative subset of what email-validator accepts, for the fast path: a dot-atom local
# part of common characters; lower-case domain labels of letters/digits joined by single
# hyphens (so no punycode "xn--", which takes the slow way); an alphabetic TLD; no RFC 6761
# special-use domain (.test, .local, …, email-validator's own list). Possessive quantifiers
# keep the regex linear. Label (63) and local-part (64) limits hold because the fields allow
# at most 50 characters and longer cells are reported as too long anyway.
_EMAIL_FAST = re.compile(
    r"[A-Za-z0-9_%+-]++(?:\.[A-Za-z0-9_%+-]++)*+"
    r"@(?:[a-z0-9]++(?:-[a-z0-9]++)*+\.)++[a-z]{2,63}+"
    + "".join(rf"(?<!\.{re.escape(d)})" for d in email_validator.SPECIAL_USE_DOMAIN_NAMES)
)


def normalise_emails(raw: pd.Series) -> Normalised:
    """Syntax check (email-validator, no DNS, no SMTPUTF8); the domain is lower-cased."""
    out = _Out(raw)
    fast = _fullmatch(raw, _EMAIL_FAST)
    out.values[fast] = out.raw[fast]
    pos, t = out.rest(fast)
    verdicts: dict[str, tuple[str, str, str]] = {}
    for p, text in zip(pos, t.to_numpy(dtype=object), strict=True):
        if text not in verdicts:
            verdicts[text] = _check_email(text)
        value, code, detail = verdicts[text]
        out.values[p] = value
        out.codes[p] = code
        if detail:
            out.detail(int(p), detail)
    return out.result()


def _check_email(text: str) -> tuple[str, str, str]:
    if _NON_PRINTABLE_RE.search(text):
        return "", "non-printable", ""
    try:
        # DOKU emails the receiver; an address its mail system cannot encode is useless,
        # hence no SMTPUTF8. Deliverability (DNS) cannot be checked offline.
        checked = email_validator.validate_email(
            text, check_deliverability=False, allow_smtputf8=False
        )
    except email_validator.EmailNotValidError as exc:
        return "", "email-invalid", str(exc)
    # The ASCII (punycode) form: an internationalised domain is valid, but DOKU's mailer and
    # the receiver's bank systems are safest with plain ASCII; SMTPUTF8 is off, so the local
    # part is ASCII already.
    return checked.ascii_email or checked.normalized, "", ""


# --- bank codes, digits -----------------------------------------------------------------------


def normalise_bank_codes(raw: pd.Series, banks: BankTable) -> Normalised:
    """BIC, BI code or bank name → upper-case BIC (the table decides; see banks.py)."""

    def on_uniques(u: pd.Series) -> Normalised:
        out = _Out(u)
        pos, t = out.rest(np.zeros(len(u), dtype=bool))
        for p, text in zip(pos, t.to_numpy(dtype=object), strict=True):
            if _NON_PRINTABLE_RE.search(text):
                out.codes[p] = "non-printable"
                continue
            res = banks.resolve(text)
            out.values[p] = res.bic
            out.codes[p] = res.code
            if res.detail:
                out.detail(int(p), res.detail)
        return out.result()

    return per_unique(on_uniques, raw)


def normalise_digits(raw: pd.Series) -> Normalised:
    """Digits only, leading zeros kept; spaces and dashes people type between groups dropped."""
    out = _Out(raw)
    fast = _fullmatch(raw, re.compile(r"[0-9]++"))
    out.values[fast] = out.raw[fast]
    pos, t = out.rest(fast)
    if pos.size:
        d = t.str.replace(r"[\s-]", "", regex=True)
        ok = _fullmatch(d, re.compile(r"[0-9]++"))
        out.values[pos[ok]] = d[ok].to_numpy(dtype=object)
        for p, text in zip(pos[~ok], t.to_numpy(dtype=object)[~ok], strict=True):
            if _SCIENTIFIC_RE.fullmatch(text):
                out.codes[p] = "scientific-notation"
            elif _NON_ASCII_DIGIT_RE.search(text):
                out.codes[p] = "non-ascii-digits"
            elif _NON_PRINTABLE_RE.search(text):
                out.codes[p] = "non-printable"
            else:
                out.codes[p] = "not-digits"
    return out.result()
