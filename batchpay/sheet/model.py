"""The loader's data: :class:`RawSheet` (what :func:`batchpay.sheet.load_sheet` returns) and the
cell-level :class:`Facts` of a worksheet that calamine does not give."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from batchpay.problems import Problem

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

CSV_SUFFIXES = (".csv", ".tsv", ".txt")
XLSX_SUFFIXES = (".xlsx", ".xlsm")

# Scores a candidate header row (higher = more known column names); see load_sheet.
HeaderScorer = Callable[[Sequence[str]], int]


SkipKind = Literal["title", "total", "subtotal", "footer"]


@dataclass(frozen=True)
class SkippedRow:
    """A row of the sheet that is not a payee and is not validated as one — never dropped
    silently: every one is listed with its Excel row number and why (issue 10).

    ``kind``: ``title`` (above the header), ``total`` / ``subtotal`` (a control total, checked
    against the rows it covers), ``footer`` (sign-off and note lines after the table)."""

    row: int
    kind: SkipKind
    reason: str  # e.g. "title", "control total 'TOTAL'", "sign-off 'Disetujui oleh'"
    text: str = ""  # the row's text as shown, for the listing


@dataclass
class RawSheet:
    path: Path
    sheet_name: str | None  # None for CSV
    headers: list[str]  # header cells as text, in order, made unique ("Name", "Name (2)")
    frame: pd.DataFrame  # one column per header, every cell a str ('' when empty)
    row_numbers: list[int]  # Excel row number of each frame row
    problems: list[Problem] = field(default_factory=list)  # column = the header text
    sha256: str = ""
    header_row: int = 1
    # Header text as written, before de-duplication: two "Phone" columns must be seen as two
    # candidates for the same field, not as "Phone" and an unknown "Phone (2)".
    original_headers: list[str] = field(default_factory=list)
    column_letters: list[str] = field(default_factory=list)  # "A", "B", … per header
    # header -> Excel rows whose cell is stored as a number (XLSX only). Identifier columns
    # are only known after kind detection, so headers.resolve() turns these into problems.
    numeric_cells: dict[str, set[int]] = field(default_factory=dict)
    # header -> rows of number cells Excel *displays* in scientific notation (8.16291E+11).
    scientific_cells: dict[str, set[int]] = field(default_factory=dict)
    # Rows skipped while loading (titles above the header), listed, never silent.
    skipped: list[SkippedRow] = field(default_factory=list)
    # When the first visible sheet held no table and another one did: why this sheet.
    sheet_note: str | None = None
    # The workbook's visible worksheets, in order (empty for CSV), for errors that list them.
    sheet_names: list[str] = field(default_factory=list)
    # ``row_numbers`` as the int64 array the loader made it from, so the table's index is
    # built without a million Python ints (None when the sheet was built another way).
    row_array: np.ndarray | None = field(default=None, repr=False, compare=False)

    def row_index_values(self) -> np.ndarray | list[int]:
        """``row_numbers``, as the loader's array when it still matches them."""
        arr, rows = self.row_array, self.row_numbers
        if (
            arr is not None
            and len(arr) == len(rows)
            and (not rows or (arr[0] == rows[0] and arr[-1] == rows[-1]))
        ):
            return arr
        return rows


@dataclass
class Facts:
    """Cell-level facts of one worksheet, keyed by 0-based (row, col)."""

    # column -> rows of number cells, and of those whose absolute value is ≥ 1e11 (the ones
    # Excel's General format shows in scientific notation)
    numeric: dict[int, set[int]] = field(default_factory=dict)
    large_numbers: dict[int, set[int]] = field(default_factory=dict)
    scientific: set[tuple[int, int]] = field(default_factory=set)
    formulas: dict[tuple[int, int], bool] = field(default_factory=dict)  # -> has cached value
    errors: dict[tuple[int, int], str] = field(default_factory=dict)  # -> "#N/A", "#REF!", …
    hidden_rows: set[int] = field(default_factory=set)
    hidden_cols: set[int] = field(default_factory=set)
    merged: list[tuple[int, int, int, int]] = field(default_factory=list)  # r0, c0, r1, c1
