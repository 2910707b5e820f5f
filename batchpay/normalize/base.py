"""What every normaliser shares: the :class:`Normalised` result, the column helpers, and the
two-tier shape (a vectorised fast path over the whole column, Python for what is left).

Columns are handled as pyarrow string arrays. The fast path asks pyarrow's RE2 kernels —
tens of nanoseconds per cell, no Python object per cell — whether a cell has one of the
shapes nearly every sheet uses; those cells are decided (and their normalised text built)
without Python. Every fast pattern is plain ASCII character classes, where RE2 and Python's
``re`` agree exactly, and each accepts only cells the Python rules would normalise to the same
text; everything else — Unicode, odd spacing, the errors — takes the Python path, once per
distinct value where that is cheaper.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from batchpay.sheet.grid import rebased

# Control characters, soft hyphen, zero-width and bidi marks, line/paragraph separators, BOM:
# invisible in Excel, but DOKU receives them and the receiver's bank may reject the name.
NON_PRINTABLE_RE = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u00ad\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff]"
)
# Python's \d matches every script's digits; money and identifiers must be ASCII 0-9.
NON_ASCII_DIGIT_RE = re.compile(r"(?![0-9])\d")
# What makes a spreadsheet read a typed cell as a formula (DDE: =cmd|' /C calc'!A0); free
# text and references must not start with one (docs/safety.md §8). Trimmed cells never start
# with the tab or CR, but the list is the same as the workbook writer's.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# What Excel shows for a long number in a General cell: 8.16291E+11, 1E+06, 1.5e6.
SCIENTIFIC_RE = re.compile(r"[+-]?[0-9]+(?:[.,][0-9]+)?[eE][+-]?[0-9]+")


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


# --- columns ----------------------------------------------------------------------------------

TEXT = pa.large_string()
BLANK = pa.scalar("", TEXT)


def as_arrow(
    column: pd.Series | np.ndarray | Sequence[str] | pa.Array | pa.ChunkedArray,
) -> pa.Array:
    """A column of text as one pyarrow string array (no copy for pyarrow-backed ``str``
    columns). Missing cells (NaN/None) become ''."""
    if isinstance(column, pd.Series):
        if isinstance(column.array, pd.arrays.ArrowStringArray):
            arr = pa.array(column.array)
        else:
            arr = pa.array(column.to_numpy(dtype=object), type=TEXT, from_pandas=True)
    elif isinstance(column, pa.Array | pa.ChunkedArray):
        arr = column
    else:
        arr = pa.array(np.asarray(column, dtype=object), type=TEXT, from_pandas=True)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    # A slice keeps its parent's offsets, which some kernels mishandle (see rebased).
    arr = rebased(arr)
    if arr.type != TEXT:
        # One string type everywhere (pandas' own), so kernels never meet a mix.
        arr = pc.cast(arr, TEXT)
    if arr.null_count:
        arr = pc.fill_null(arr, "")
    return arr


def release_unused_memory() -> None:
    """Return memory pyarrow's allocator keeps for reuse to the operating system."""
    pa.default_memory_pool().release_unused()


def blank_where(values: pa.Array, where: np.ndarray) -> pa.Array:
    """``values`` with '' wherever ``where`` is true."""
    return pc.if_else(pa.array(where), BLANK, values) if where.any() else values


def encode(values: pa.Array) -> tuple[np.ndarray, list[str]]:
    """(code per cell, distinct values): a column as integer codes."""
    encoded = pc.dictionary_encode(values)
    codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.intp, copy=False)
    return codes, encoded.dictionary.to_pylist()


def blanks(n: int) -> pa.Array:
    """A column of ``n`` empty cells."""
    return pa.repeat(BLANK, n)


def char_lengths(values: pa.Array) -> np.ndarray:
    """``len()`` of every cell (code points, as Python counts them), as int64. A column of
    ASCII text (nearly every one) has one character per byte: its lengths are the offsets'
    differences, with no kernel pass over the text."""
    if values.type == TEXT and not values.null_count and len(values):
        _, offsets_buffer, data_buffer = values.buffers()
        offsets = np.frombuffer(offsets_buffer, dtype=np.int64)
        offsets = offsets[values.offset : values.offset + len(values) + 1]
        start, end = int(offsets[0]), int(offsets[-1])
        if start == end or (
            data_buffer is not None
            and np.frombuffer(data_buffer, dtype=np.uint8)[start:end].max() < 0x80
        ):
            return np.diff(offsets)
    return np.asarray(pc.utf8_length(values).to_numpy(zero_copy_only=False), dtype=np.int64)


def text_series(values: pa.Array, index: pd.Index | None = None) -> pd.Series:
    """A pandas ``str`` column over ``values`` (no copy)."""
    return pd.Series(values, index=index, dtype="str", copy=False)


def matches(cells: pa.Array, pattern: str) -> np.ndarray:
    """Whether each cell matches the RE2 ``pattern`` in full (ASCII classes only: see the
    module docstring)."""
    if not len(cells):
        return np.zeros(0, dtype=bool)
    hit = pc.match_substring_regex(cells, f"^(?:{pattern})$")
    return np.asarray(hit.to_numpy(zero_copy_only=False), dtype=bool)


def py_fullmatch(values: Sequence[str] | np.ndarray, pattern: str | re.Pattern[str]) -> np.ndarray:
    """Python's ``re.fullmatch`` over a short list of cells (the slow path)."""
    fn = re.compile(pattern).fullmatch
    return np.fromiter((fn(v) is not None for v in values), dtype=bool, count=len(values))


def objects(items: Sequence[object] | np.ndarray) -> np.ndarray:
    """An object array from a sequence (a list assigned through a mask would first become a
    fixed-width unicode array)."""
    out = np.empty(len(items), dtype=object)
    out[:] = list(items)
    return out


class Out:
    """Assembles a :class:`Normalised`: fast-path tiers first (:meth:`keep`, :meth:`decide`,
    :meth:`reject`), then the Python path for the rest (:meth:`rest`, :meth:`set`)."""

    def __init__(self, raw: pd.Series | pa.Array) -> None:
        if isinstance(raw, pd.Series):
            self.index: pd.Index = raw.index
        else:
            self.index = pd.RangeIndex(len(raw))
        self.cells = as_arrow(raw)
        n = len(self.cells)
        self.n = n
        self.done = np.zeros(n, dtype=bool)
        self.codes = np.full(n, "", dtype=object)
        self.blank = np.zeros(n, dtype=bool)
        self.details: dict[Hashable, str] = {}
        self._kept = np.zeros(n, dtype=bool)  # rows whose cell is its own value
        self._parts: list[tuple[np.ndarray, pa.Array]] = []  # (rows, their values)
        self._patch: dict[int, str] = {}

    def keep(self, hit: np.ndarray) -> None:
        """Rows where ``hit`` (and not decided yet) are their own normalised value."""
        hit = hit & ~self.done
        self._kept |= hit
        self.done |= hit

    def decide(self, hit: np.ndarray, values: pa.Array) -> None:
        """Rows where ``hit`` (and not decided yet) take their value from ``values``, which
        is either a whole column or has one value per ``hit`` row."""
        fresh = hit & ~self.done
        if not fresh.any():
            return
        if len(values) == self.n:
            values = pc.filter(values, pa.array(fresh))
        elif not fresh[hit].all():
            values = pc.filter(values, pa.array(fresh[hit]))
        self._parts.append((fresh, values))
        self.done |= fresh

    def reject(self, positions: np.ndarray, code: str) -> None:
        """Rows a fast tier decided are a problem: no value, ``code``."""
        self.done[positions] = True
        self.codes[positions] = code

    def rest(self) -> tuple[np.ndarray, list[str]]:
        """Positions the fast path did not decide, and their trimmed non-blank text; blank
        cells are marked on the way."""
        pos = np.flatnonzero(~self.done)
        if not len(pos):
            return pos, []
        # str.strip() also removes NBSP and the other Unicode spaces copy-paste brings in.
        stripped = [c.strip() for c in self.cells.take(pa.array(pos, type=pa.int64())).to_pylist()]
        empty = np.fromiter((not t for t in stripped), dtype=bool, count=len(stripped))
        self.blank[pos[empty]] = True
        return pos[~empty], [t for t in stripped if t]

    def set(self, pos: int, value: str, code: str = "") -> None:
        if value:
            self._patch[int(pos)] = value
        if code:
            self.codes[pos] = code

    def detail(self, pos: int, text: str) -> None:
        self.details[self.index[pos]] = text

    def values(self) -> pa.Array:
        """The normalised text: decided rows' values, patched rows' values, '' elsewhere.

        One ``take`` from the pieces laid end to end (the cells, each decided part, the
        patches, a blank), instead of a masked replace per piece, which rebuilds the whole
        column each time."""
        if self._kept.all():
            return self.cells
        parts = list(self._parts)
        if self._patch:
            positions = np.fromiter(self._patch, dtype=np.int64, count=len(self._patch))
            positions.sort()
            mask = np.zeros(self.n, dtype=bool)
            mask[positions] = True
            parts.append((mask, pa.array([self._patch[int(p)] for p in positions], type=TEXT)))
        if not parts:
            return (
                pc.if_else(pa.array(self._kept), self.cells, BLANK)
                if self._kept.any()
                else (blanks(self.n))
            )
        pieces = [self.cells]
        offset = len(self.cells)
        index = np.full(self.n, -1, dtype=np.int64)
        kept = np.flatnonzero(self._kept)
        index[kept] = kept
        for mask, replacements in parts:
            rows = np.flatnonzero(mask)
            index[rows] = np.arange(offset, offset + len(rows), dtype=np.int64)
            pieces.append(replacements.cast(TEXT))
            offset += len(rows)
        pieces.append(pa.array([""], type=TEXT))
        index[index < 0] = offset
        return pa.concat_arrays(pieces).take(pa.array(index))

    def result(
        self, minor: np.ndarray | None = None, evidence: dict[str, int] | None = None
    ) -> Normalised:
        return Normalised(
            text_series(self.values(), self.index),
            pd.Series(self.codes, index=self.index, dtype=object),
            pd.Series(self.blank, index=self.index),
            self.details,
            None if minor is None else pd.Series(minor, index=self.index),
            evidence or {},
        )


# --- repeated values --------------------------------------------------------------------------


def per_unique(fn: Callable[[pd.Series], Normalised], raw: pd.Series) -> Normalised:
    """Run ``fn`` once per distinct value and spread the result back over the rows.

    Columns like sender name, description, currency or bank repeat a handful of values over a
    million rows; normalising the distinct values is far cheaper than the rows themselves.
    """
    encoded = pc.dictionary_encode(as_arrow(raw))
    positions = encoded.indices.to_numpy(zero_copy_only=False).astype(np.intp, copy=False)
    uniques = encoded.dictionary
    res = fn(text_series(uniques))
    taken = pa.array(positions)
    out = Normalised(
        values=text_series(pc.take(as_arrow(res.values), taken), raw.index),
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
    head = as_arrow(raw).slice(0, sample)
    return len(head) > 0 and pc.count_distinct(head).as_py() <= len(head) * ratio


def restrict(res: Normalised, ok: np.ndarray, code: str) -> Normalised:
    """Give ``code`` (and '' as value) to the non-blank normalised values where ``ok`` fails."""
    values = as_arrow(res.values)
    bad = (pc.not_equal(values, "").to_numpy(zero_copy_only=False)) & ~ok
    if not bad.any():
        return res
    codes = res.codes.to_numpy(dtype=object).copy()
    codes[bad] = code
    return Normalised(
        text_series(pc.if_else(pa.array(bad), BLANK, values), res.values.index),
        pd.Series(codes, index=res.codes.index, dtype=object),
        res.blank,
        res.details,
    )


def upper(values: pa.Array) -> pa.Array:
    """``str.upper`` of every cell (pyarrow's when the column is ASCII, where they agree)."""
    if pc.all(pc.string_is_ascii(values)).as_py() is not False:
        return pc.ascii_upper(values)
    return pa.array([v.upper() for v in values.to_pylist()], type=values.type)
