"""A worksheet as text columns → :class:`RawSheet`: the header row, the data rows (blank rows
skipped, Excel row numbers kept), the columns worth keeping, and cell-level problems.

Columns are pyarrow string arrays, so a million-row sheet never becomes ten million Python
objects here: whether a cell is blank is decided from its first byte for nearly every cell
(a printable ASCII character other than space cannot be stripped away), and ``str.strip`` —
the definition of blank — runs only on the few cells that start with whitespace or a
non-ASCII character.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from batchpay.errors import InputError
from batchpay.problems import Problem
from batchpay.sheet.cells import cell_problems, column_letter
from batchpay.sheet.model import Facts, HeaderScorer, RawSheet, SkippedRow

if TYPE_CHECKING:
    import pandas as pd

TEXT = pa.large_string()  # pandas' own string type: its str columns wrap it without a copy
_HEADER_SEARCH_ROWS = 30  # title rows above the header rarely exceed a handful
_TABLE_SEARCH_ROWS = 1000  # where a sheet's header is looked for when choosing a sheet


class Grid:
    """Rectangular text cells: ``columns[c][r]``, every cell a str ('' when empty)."""

    def __init__(self, columns: Sequence[pa.Array], n_rows: int) -> None:
        self.columns = list(columns)
        self.n_rows = n_rows

    @classmethod
    def from_columns(cls, columns: Sequence[Sequence[str]]) -> Grid:
        n = max((len(c) for c in columns), default=0)
        return cls([pa.array(list(c) + [""] * (n - len(c)), type=TEXT) for c in columns], n)

    @classmethod
    def from_rows(cls, rows: Sequence[Sequence[str]]) -> Grid:
        """Rows of possibly different widths (the csv module keeps ragged rows), padded."""
        width = max((len(r) for r in rows), default=0)
        if all(len(r) == width for r in rows):
            columns: list[Sequence[str]] = list(zip(*rows, strict=True)) if rows else []
        else:
            columns = [[r[c] if c < len(r) else "" for r in rows] for c in range(width)]
        return cls.from_columns(columns)

    @property
    def width(self) -> int:
        return len(self.columns)

    def row(self, r: int) -> list[str]:
        return [str(col[r].as_py()) for col in self.columns]

    def cell(self, r: int, c: int) -> str:
        if r >= self.n_rows or c >= self.width:
            return ""
        return str(self.columns[c][r].as_py())


def rebased(arr: pa.Array) -> pa.Array:
    """A string array whose value offsets start at 0, sharing the character data.

    A slice keeps its parent's offsets, which is valid Arrow, but some kernels mishandle it
    (pyarrow 26: ascii_lower/ascii_upper return corrupt arrays), so columns are rebased
    before anything else sees them. Only the offsets are copied."""
    if not pa.types.is_string(arr.type) and not pa.types.is_large_string(arr.type):
        return arr
    n = len(arr)
    width = np.int64 if pa.types.is_large_string(arr.type) else np.int32
    _validity, offsets_buf, data_buf = arr.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=width)[arr.offset : arr.offset + n + 1]
    if not n or (arr.offset == 0 and offsets[0] == 0):
        return arr
    if arr.null_count:
        return pa.concat_arrays([arr])
    first = int(offsets[0])
    data = data_buf.slice(first, int(offsets[-1]) - first) if data_buf is not None else None
    return pa.Array.from_buffers(arr.type, n, [None, pa.py_buffer(offsets - first), data])


def _first_bytes(col: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(sure, maybe) per cell: *sure* — the first byte is printable ASCII other than space, so
    ``str.strip`` cannot empty the cell; *maybe* — non-empty but starting with whitespace or a
    non-ASCII character (U+00A0, U+3000 … are whitespace to ``str.strip``)."""
    n = len(col)
    width = np.int64 if pa.types.is_large_string(col.type) else np.int32
    _validity, offsets_buf, data_buf = col.buffers()
    offsets: np.ndarray = np.frombuffer(offsets_buf, dtype=width)[col.offset : col.offset + n + 1]
    starts = offsets[:-1]
    nonempty = np.greater(offsets[1:], starts)
    first = np.zeros(n, dtype=np.uint8)
    if data_buf is not None and nonempty.any():
        data = np.frombuffer(data_buf, dtype=np.uint8)
        first[nonempty] = data[starts[nonempty]]
    sure = (first > 0x20) & (first < 0x7F)
    return sure, nonempty & ~sure


def _strip_nonblank(col: pa.Array, positions: np.ndarray) -> np.ndarray:
    """``bool(cell.strip())`` for the cells at ``positions``."""
    if not len(positions):
        return np.zeros(0, dtype=bool)
    cells = col.take(pa.array(positions, type=pa.int64())).to_pylist()
    return np.fromiter((bool(v.strip()) for v in cells), dtype=bool, count=len(cells))


def _find_header(rows: list[list[str]], scorer: HeaderScorer | None) -> int:
    """Index (into ``rows``, the first filled rows) of the header row: the row naming most
    fields (the first of equals), when it names two or more."""
    if scorer is not None:
        scores = [scorer([c.strip() for c in row]) for row in rows]
        best = max(scores)
        if best >= 2:
            return scores.index(best)
    # No known column names: title rows usually have a single filled cell, headers several.
    for i, row in enumerate(rows):
        if sum(1 for c in row if c.strip()) >= 2:
            return i
    return 0


def table_score(grid: Grid, scorer: HeaderScorer) -> int:
    """How well the sheet's best candidate header row (among its first filled rows) scores:
    2 or more is a table batchpay recognises. Reads only the top of the sheet."""
    top = [col.slice(0, _TABLE_SEARCH_ROWS).to_pylist() for col in grid.columns]
    best = seen = 0
    for row in zip(*top, strict=True):
        cells = [str(c or "").strip() for c in row]
        if any(cells):
            best = max(best, scorer(cells))
            seen += 1
            if seen == _HEADER_SEARCH_ROWS:
                break
    return best


def _titles(grid: Grid, candidates: list[int], header_at: int) -> list[SkippedRow]:
    """The filled rows above the header (company name, period…): skipped, and listed."""
    out = []
    for r in candidates:
        if r >= header_at:
            break
        text = " | ".join(c.strip() for c in grid.row(r) if c.strip())
        out.append(SkippedRow(r + 1, "title", "title", text))
    return out


def build(
    p: Path,
    sheet_name: str | None,
    grid: Grid,
    facts: Facts,
    problems: list[Problem],
    digest: str,
    scorer: HeaderScorer | None,
) -> RawSheet:
    n = grid.n_rows
    filled, sure, maybe = _filled_rows(grid)
    if not filled.any():
        where = f"sheet {sheet_name!r}" if sheet_name else "the file"
        raise InputError(
            f"{p.name}: {where} is empty",
            hint="put the header row and the payment rows in it, or pick another "
            "sheet with --sheet",
        )

    header_at, data_at, titles = _header_and_data(grid, facts, filled, scorer)
    header_cells = [c.strip() for c in grid.row(header_at)]
    keep = _kept_columns(grid, header_cells, data_at, sure, maybe)
    letters = [column_letter(c) for c in keep]
    originals = [header_cells[c] or f"Column {column_letter(c)}" for c in keep]
    headers = _unique(originals)
    column_of = dict(zip(keep, headers, strict=True))
    is_data = np.zeros(n, dtype=bool)
    is_data[data_at] = True

    last = int(data_at[-1]) if len(data_at) else header_at
    problems.extend(cell_problems(grid, facts, header_at, last, is_data, column_of))
    if not len(data_at):
        problems.append(
            Problem(
                None,
                None,
                None,
                "no-rows",
                "there are no payment rows under the header row",
                "add one row per payment below the header",
            )
        )
    return RawSheet(
        path=p,
        sheet_name=sheet_name,
        headers=headers,
        frame=_frame(grid, data_at, column_of, headers),
        row_numbers=(data_at + 1).tolist(),
        row_array=(data_at + 1).astype(np.int64),
        problems=problems,
        sha256=digest,
        header_row=header_at + 1,
        original_headers=originals,
        column_letters=letters,
        numeric_cells=_numeric_cells(facts, n, is_data, column_of),
        scientific_cells=_scientific_cells(facts, is_data, column_of),
        skipped=titles,
    )


def _header_and_data(
    grid: Grid, facts: Facts, filled: np.ndarray, scorer: HeaderScorer | None
) -> tuple[int, np.ndarray, list[SkippedRow]]:
    """(header_at, data_at, titles): the header row's index, the indexes of the data rows
    and the title rows above the header."""
    candidates = np.flatnonzero(filled)[:_HEADER_SEARCH_ROWS].tolist()
    header_at = candidates[_find_header([grid.row(i) for i in candidates], scorer)]
    data_mask = filled.copy()
    for r, _c in facts.formulas:
        data_mask[r] = True  # a formula with no value is still a row the user filled
    data_mask[: header_at + 1] = False
    return header_at, np.flatnonzero(data_mask), _titles(grid, candidates, header_at)


def _filled_rows(grid: Grid) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]:
    """(filled, sure, maybe): which rows hold any non-blank cell, and per column the
    :func:`_first_bytes` verdicts."""
    sure: list[np.ndarray] = []
    maybe: list[np.ndarray] = []
    for col in grid.columns:
        s, m = _first_bytes(col)
        sure.append(s)
        maybe.append(m)
    if not grid.width:
        return np.zeros(grid.n_rows, dtype=bool), sure, maybe
    filled = np.logical_or.reduce(sure)
    unsure = np.logical_or.reduce(maybe) & ~filled
    if unsure.any():
        for c, col in enumerate(grid.columns):
            pos = np.flatnonzero(unsure & maybe[c])
            filled[pos[_strip_nonblank(col, pos)]] = True
    return filled, sure, maybe


def _kept_columns(
    grid: Grid,
    header_cells: list[str],
    data_at: np.ndarray,
    sure: list[np.ndarray],
    maybe: list[np.ndarray],
) -> list[int]:
    """Keep a column when it has a header or any value, so stray values are never dropped."""
    return [
        c
        for c in range(grid.width)
        if header_cells[c]
        or sure[c][data_at].any()
        or _strip_nonblank(grid.columns[c], data_at[maybe[c][data_at]]).any()
    ]


def _frame(
    grid: Grid, data_at: np.ndarray, column_of: dict[int, str], headers: list[str]
) -> pd.DataFrame:
    """The data rows of the kept columns, as pandas str columns wrapping the Arrow arrays."""
    # pandas only now: reading the file above needs none of it, so the CLI imports pandas
    # on another thread meanwhile (batchpay/cli/sheets.py).
    import pandas as pd

    contiguous = len(data_at) == 0 or data_at[-1] - data_at[0] + 1 == len(data_at)
    take = None if contiguous else pa.array(data_at, type=pa.int64())
    start = int(data_at[0]) if len(data_at) else 0
    return pd.DataFrame(
        {
            h: pd.Series(
                # Some pyarrow kernels mishandle sliced string arrays (see rebased).
                rebased(grid.columns[c].slice(start, len(data_at)))
                if take is None
                else grid.columns[c].take(take),
                dtype="str",
            )
            for c, h in column_of.items()
        },
        columns=headers,
    )


def _numeric_cells(
    facts: Facts, n: int, is_data: np.ndarray, column_of: dict[int, str]
) -> dict[str, set[int]]:
    """Excel row numbers, per kept column, of the data cells that were stored as numbers."""
    numeric: dict[str, set[int]] = {}
    for c, rows in facts.numeric.items():
        if c in column_of:
            at = np.fromiter(rows, dtype=np.int64, count=len(rows))
            at = at[at < n]
            kept = set((at[is_data[at]] + 1).tolist())
            if kept:
                numeric[column_of[c]] = kept
    return numeric


def _scientific_cells(
    facts: Facts, is_data: np.ndarray, column_of: dict[int, str]
) -> dict[str, set[int]]:
    """Excel row numbers, per kept column, of the data cells shown in scientific notation."""
    scientific: dict[str, set[int]] = {}
    for r, c in facts.scientific:
        if is_data[r] and c in column_of:
            scientific.setdefault(column_of[c], set()).add(r + 1)
    return scientific


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    taken = set(names)
    out = []
    for name in names:
        count = seen.get(name, 0) + 1
        seen[name] = count
        candidate = name if count == 1 else f"{name} ({count})"
        while count > 1 and candidate in taken:
            count += 1
            candidate = f"{name} ({count})"
        taken.add(candidate)
        out.append(candidate)
    return out
