"""What one header cell names, by meaning: the field of a kind it belongs to, and how surely.

A header is compared three ways, strongest first (issue 10, "headers are matched by meaning"):

3. **the field's own name**, spelled any way: "reference_id", "Reference ID", "Amount (IDR)";
2. **an alias** of the field, spelled any way: "Jumlah Bonus (Rp)", "No. HP", "Alamat E-mail";
1. **words**: the header's words hold every word of an alias — "Nama Lengkap Karyawan"
   (nama lengkap, nama karyawan), "E-mail Karyawan" (email). The field covering most of the
   header's words wins; a header two fields cover equally names neither.

"Spelled any way" ignores case, spaces and punctuation, the units "Rp", "IDR", "rupiah", and a
leading "No."/"Nomor" ("No. Ref" is the reference). "E-mail" is one word. Never a field: a row
counter ("No", "No.", "#", "No. Urut"). Never an amount: a percentage ("Bonus (%)") or another
quantity ("Gaji Pokok", "Jumlah Hari"), which only look like money.

Matching is per header text and cached, so a sheet costs one look-up per column.
:func:`detect_kind` and :func:`assign_fields` then take a sheet's columns to a kind and its
fields.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache

from batchpay.errors import InputError
from batchpay.kinds import KINDS, Kind
from batchpay.sheet import RawSheet

_NOT_ALNUM = re.compile(r"[\W_]+", re.UNICODE)
_WORDS = re.compile(r"[^\W_]+|[%#]", re.UNICODE)

UNIT_WORDS = frozenset({"rp", "idr", "rupiah"})
# "No. HP", "Nomor Rekening": the number of what follows.
NUMBER_WORDS = frozenset({"no", "nomor", "nomer", "nr"})
# A header made only of these is a row counter.
COUNTER_WORDS = NUMBER_WORDS | {"#", "urut", "number", "num", "seq", "sn"}
PERCENT_WORDS = frozenset({"%", "persen", "percent", "pct", "persentase"})
# Words of money-looking columns that are not what to pay: base salary, tax, days, rates.
QUANTITY_WORDS = frozenset(
    {
        "gaji",
        "salary",
        "pokok",
        "base",
        "basic",
        "upah",
        "rate",
        "tarif",
        "hari",
        "days",
        "jam",
        "hours",
        "qty",
        "quantity",
        "kuantitas",
        "pcs",
        "pajak",
        "pph",
        "tax",
        "potongan",
        "deduction",
        "saldo",
        "balance",
    }
)
EXACT_NAME, EXACT_ALIAS, WORDS = 3, 2, 1


def fold(header: str) -> str:
    """The comparison key of a header: case-, space-, underscore- and punctuation-free."""
    return _NOT_ALNUM.sub("", header.casefold())


def words(header: str) -> tuple[str, ...]:
    """The header's meaningful words: units and a leading "No." dropped, "e mail" joined."""
    raw = _WORDS.findall(header.casefold())
    out: list[str] = []
    for word in raw:
        if word == "mail" and out and out[-1] == "e":
            out[-1] = "email"
        elif word not in UNIT_WORDS and word not in PERCENT_WORDS:
            out.append(word)
    if len(out) > 1 and out[0] in NUMBER_WORDS:
        out = out[1:]
    return tuple(out)


def is_counter(header: str) -> bool:
    """A row counter ("No", "No.", "#", "No. Urut"): never a field."""
    text = header.strip()
    if text and not fold(text):
        return True  # "#", "№"
    raw = _WORDS.findall(text.casefold())
    return bool(raw) and all(w in COUNTER_WORDS for w in raw)


def not_money(header: str) -> bool:
    """A column that only looks like money: a percentage, base salary, days, tax…"""
    raw = set(_WORDS.findall(header.casefold()))
    return bool(raw & PERCENT_WORDS) or bool(raw & QUANTITY_WORDS)


@dataclass(frozen=True)
class Match:
    field: str
    level: int  # EXACT_NAME, EXACT_ALIAS or WORDS
    covered: int = 0  # WORDS: how many of the header's words the field's aliases cover
    extra: int = 0  # WORDS: how many are left over

    @property
    def rank(self) -> tuple[int, int, int]:
        return (self.level, self.covered, -self.extra)


_Tables = tuple[dict[str, str], dict[str, str], list[tuple[str, frozenset[str]]]]


@cache
def _tables(kind_name: str) -> _Tables:
    """(names, aliases, alias words) of a kind: folded field name -> field, folded alias ->
    field (the field's own name first, then the earliest field), and each alias's words."""
    kind = KINDS[kind_name]
    names = {fold(f.name): f.name for f in kind.fields}
    aliases: dict[str, str] = dict(names)
    for f in kind.fields:
        for alias in f.aliases:
            aliases.setdefault(fold(alias), f.name)
    for f in kind.fields:
        for alias in f.aliases:
            aliases.setdefault("".join(words(alias)), f.name)
    spelled = [
        (f.name, frozenset(words(text)))
        for f in kind.fields
        for text in (f.name.replace("_", " "), *f.aliases)
    ]
    return names, aliases, [(name, ws) for name, ws in spelled if ws]


def exact_field(kind: Kind, header: str) -> str | None:
    """The field whose name or alias ``header`` is, ignoring case and punctuation only."""
    return _tables(kind.name)[1].get(fold(header))


@lru_cache(maxsize=8192)
def match(kind_name: str, header: str) -> Match | None:
    """The field of the kind ``header`` names, and how surely; None when it names none."""
    if not header.strip() or is_counter(header):
        return None
    found = _match(kind_name, header)
    if found is None:
        return None
    kind = KINDS[kind_name]
    if kind.field(found.field).type == "amount" and not_money(header):
        return None
    return found


def _match(kind_name: str, header: str) -> Match | None:
    names, aliases, spelled = _tables(kind_name)
    own = words(header)
    keys = (fold(header), "".join(own))
    for key in keys:
        if key in names:
            return Match(names[key], EXACT_NAME)
    for key in keys:
        if key in aliases:
            return Match(aliases[key], EXACT_ALIAS)
    present = set(own)
    covered: dict[str, set[str]] = {}
    for field_name, alias_words in spelled:
        if alias_words <= present:
            covered.setdefault(field_name, set()).update(alias_words)
    if not covered:
        return None
    ranked = sorted(covered.items(), key=lambda item: -len(item[1]))
    if len(ranked) > 1 and len(ranked[0][1]) == len(ranked[1][1]):
        return None  # "Email Pengirim": the receiver's email or the sender? Neither.
    field_name, cover = ranked[0]
    return Match(field_name, WORDS, len(cover), len(present - cover))


def row_score(cells: Sequence[str]) -> int:
    """How many distinct fields of the best-fitting kind a row of cells names."""
    best = 0
    for name in KINDS:
        named = {m.field for c in cells if c and (m := match(name, c)) is not None}
        best = max(best, len(named))
    return best


# --- a sheet's columns → a kind and its fields -----------------------------------------------


def matches(
    kind: Kind, originals: Sequence[str], mapped: Mapping[int, str]
) -> dict[str, list[int]]:
    """field -> the columns naming it most surely: the field's own name beats an alias, an
    alias beats words, more words covered beat fewer. A mapped field takes its mapped column
    only."""
    names = set(kind.field_names)
    out: dict[str, list[int]] = {}
    for index, field_name in mapped.items():
        if field_name in names:
            out[field_name] = [index]
    best: dict[str, tuple[tuple[int, int, int], list[int]]] = {}
    for index, header in enumerate(originals):
        found = None if index in mapped else match(kind.name, header)
        if found is None or found.field in out:
            continue
        rank, indexes = best.get(found.field, (found.rank, []))
        if found.rank > rank:
            rank, indexes = found.rank, []
        if found.rank == rank:
            indexes.append(index)
        best[found.field] = (rank, indexes)
    out.update({f: indexes for f, (_rank, indexes) in best.items()})
    return out


def detect_kind(raw: RawSheet, mapped: Mapping[int, str], provided: frozenset[str]) -> Kind:
    """The one kind whose required fields the columns (or ``provided``) all give; the most
    fields found wins. Otherwise an InputError naming the closest kind, the header row, the
    columns recognised and those missing."""
    file_name = raw.path.name
    originals = raw.original_headers or raw.headers
    fits: list[tuple[int, int, Kind, list[str]]] = []
    for kind in KINDS.values():
        found = set(matches(kind, originals, mapped)) | (provided & set(kind.field_names))
        missing = [f for f in kind.required_names if f not in found]
        fits.append((len(missing), -len(found), kind, missing))
    complete = [f for f in fits if f[0] == 0]
    if complete:
        complete.sort(key=lambda f: f[1])
        if len(complete) == 1 or complete[0][1] < complete[1][1]:
            return complete[0][2]
        tied = [f[2].name for f in complete if f[1] == complete[0][1]]
        raise InputError(
            f"{file_name}: couldn't tell which kind of sheet this is: the columns fit "
            f"{' and '.join(tied)}",
            hint="use --kind to say which one",
        )
    # Closest: the kind that recognises most columns, then the one missing fewest.
    fits.sort(key=lambda f: (f[1], f[0]))
    missing_count, found_count, closest, missing = fits[0]
    if found_count == 0:
        shown = ", ".join(repr(h) for h in originals)
        raise InputError(
            f"{file_name}: couldn't tell which kind of sheet this is: none of the column "
            f"headers ({shown}) is one batchpay knows (row {raw.header_row} was taken as the "
            "header)",
            hint="use the headers from `batchpay template KIND`, or --kind and --map"
            + _other_sheets(raw),
        )
    named = sorted((indexes[0], f) for f, indexes in matches(closest, originals, mapped).items())
    recognised = ", ".join(f"{originals[i]!r} as {f}" for i, f in named)
    raise InputError(
        f"{file_name}: couldn't tell which kind of sheet this is: closest is {closest.name} "
        f"(header row {raw.header_row}: {recognised}), "
        f"missing column{'s' if missing_count > 1 else ''} {', '.join(missing)}",
        hint="use --kind and --map 'Header In Sheet=field', or give the missing values with "
        "--set FIELD=VALUE" + _other_sheets(raw),
    )


def _other_sheets(raw: RawSheet) -> str:
    if len(raw.sheet_names) < 2:
        return ""
    listed = ", ".join(repr(n) for n in raw.sheet_names)
    return f"; the workbook's sheets are {listed} (pick one with --sheet NAME)"


def assign_fields(
    file_name: str, kind: Kind, raw: RawSheet, mapped: Mapping[int, str]
) -> dict[str, int]:
    """field -> its one column; two equally sure columns for a field are an InputError."""
    originals = raw.original_headers or raw.headers
    out: dict[str, int] = {}
    for field_name, indexes in matches(kind, originals, mapped).items():
        if len(indexes) > 1:
            shown = " and ".join(f"{originals[i]!r} ({_letter(raw, i)})" for i in indexes)
            raise InputError(
                f"{file_name}: columns {shown} both look like {field_name}",
                hint=f'pick one with --map "{originals[indexes[0]]}={field_name}" (or '
                "delete or rename the other)",
            )
        out[field_name] = indexes[0]
    return out


def _letter(raw: RawSheet, index: int) -> str:
    letters = raw.column_letters
    return f"column {letters[index]}" if index < len(letters) else f"column {index + 1}"
