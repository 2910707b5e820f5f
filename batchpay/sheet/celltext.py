"""Calamine's cell values as the text Excel shows: a grid of Python values (rows) turned into
string columns, noting which cells were numbers and which Excel would show in scientific
notation."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from batchpay.sheet.grid import TEXT
from batchpay.sheet.model import Facts

_CellValue = int | float | str | bool | date | datetime | time | timedelta


def texts(values: list[list[_CellValue]], facts: Facts) -> list[pa.Array]:
    """Turn calamine values (rows) into the text Excel shows, as string columns, noting which
    cells were numbers. Column by column: a column of text cells (most of them) goes to
    pyarrow as it is, a column of text and numbers (amounts; phones Excel stored as numbers)
    is converted with numpy and pyarrow, and only dates, booleans and the like cell by
    cell."""
    widths = set(map(len, values))
    width = max(widths, default=0)
    columns: list[Any]  # per column: an object ndarray, or a list when rows are ragged
    if width and len(widths) == 1:
        # numpy transposes a grid of Python objects several times faster than zip(*rows).
        grid = np.empty((len(values), width), dtype=object)
        grid[:] = values
        columns = [np.ascontiguousarray(grid[:, c]) for c in range(width)]
        del grid
    else:
        columns = [[row[c] if c < len(row) else "" for row in values] for c in range(width)]
    out: list[pa.Array] = []
    for c, cells in enumerate(columns):
        try:
            arr = pa.array(cells, type=TEXT)  # raises unless every cell is text
        except (pa.ArrowTypeError, pa.ArrowInvalid):
            arr = None
        if arr is not None and not arr.null_count:
            out.append(arr)
            continue
        if set(map(type, cells)) <= {str, float, int}:
            out.append(_numbers_to_text(c, cells, facts))
            continue
        column = list(cells)
        numeric: set[int] = set()
        large: set[int] = set()
        for r, v in enumerate(column):
            if type(v) is str:
                continue
            if isinstance(v, int | float) and not isinstance(v, bool):
                numeric.add(r)
                if abs(v) >= _GENERAL_SCIENTIFIC_FROM:
                    large.add(r)
            column[r] = cell_text(v)
        _note_numbers(facts, c, numeric, large)
        out.append(pa.array(column, type=TEXT))
    return out


# Excel's General format switches to scientific notation from 12 digits on.
_GENERAL_SCIENTIFIC_FROM = 1e11


def _numbers_to_text(c: int, cells: Sequence[Any], facts: Facts) -> pa.Array:
    """A column of text and numbers as Excel shows them. Whole numbers (the common case:
    amounts, phones Excel stored as numbers) are turned into digits by pyarrow in one call;
    below 1e15 a whole float is exact and has at most 15 digits, as Excel shows it. Any
    other number goes through :func:`cell_text`."""
    column = np.array(cells, dtype=object)
    kinds = list(map(type, column))
    positions = np.flatnonzero(np.fromiter((k is not str for k in kinds), bool, len(kinds)))
    numbers = column[positions]
    as_float = numbers.astype(np.float64)
    floats = np.fromiter((kinds[r] is float for r in positions.tolist()), bool, len(positions))
    whole = floats & np.isfinite(as_float)
    whole[whole] = (as_float[whole] == np.trunc(as_float[whole])) & (np.abs(as_float[whole]) < 1e15)
    shown = np.empty(len(positions), dtype=object)
    if whole.any():
        digits = pc.cast(pa.array(as_float[whole].astype(np.int64)), pa.string())
        shown[whole] = digits.to_numpy(zero_copy_only=False)
    for i in np.flatnonzero(~whole).tolist():
        shown[i] = cell_text(numbers[i])
    column[positions] = shown
    with np.errstate(invalid="ignore"):
        large = positions[np.abs(as_float) >= _GENERAL_SCIENTIFIC_FROM]
    _note_numbers(facts, c, set(positions.tolist()), set(large.tolist()))
    return pa.array(column, type=TEXT)


def _note_numbers(facts: Facts, c: int, numeric: set[int], large: set[int]) -> None:
    if numeric:
        facts.numeric[c] = numeric
    if large:
        facts.large_numbers[c] = large


def cell_text(value: _CellValue) -> str:
    """The text of one cell value; numbers as Excel displays them, never a float repr.

    Excel shows at most 15 significant digits, so ``0.1+0.2`` is ``0.3`` to the user and
    ``816291271826.0`` is ``816291271826``.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return str(value)
        text = format(Decimal(format(value, ".15g")), "f")
        return "0" if text in ("-0", "-0.0") else text
    if isinstance(value, datetime):
        if value.time() == time(0):
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        seconds = int(value.total_seconds())
        return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
    return str(value)
