"""Cell-level :class:`Problem` values from the :class:`Facts` a reader noted (hidden rows and
columns, merged cells, formulas, Excel error values), and Excel's column letters."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from batchpay.problems import Problem
from batchpay.sheet.model import Facts

if TYPE_CHECKING:
    from batchpay.sheet.grid import Grid


def column_letter(index: int) -> str:
    """0 → "A", 27 → "AB"."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def cell_problems(
    grid: Grid,
    facts: Facts,
    header_at: int,
    last: int,
    is_data: np.ndarray,
    column_of: dict[int, str],
) -> list[Problem]:
    """The problems Excel users trip over in the cells :func:`~batchpay.sheet.grid.build`
    keeps: hidden rows and columns, merged cells, formulas, error values."""
    return [
        *_hidden_problems(facts, is_data, column_of),
        *_merged_problems(facts, header_at, last, column_of),
        *_formula_problems(grid, facts, is_data, column_of),
        *_error_value_problems(facts, is_data, column_of),
    ]


def _hidden_problems(facts: Facts, is_data: np.ndarray, column_of: dict[int, str]) -> list[Problem]:
    out: list[Problem] = []
    for r in sorted(r for r in facts.hidden_rows if r < len(is_data) and is_data[r]):
        out.append(
            Problem(
                r + 1,
                None,
                None,
                "hidden-row",
                "this row is hidden in Excel but would still be paid",
                "unhide the row (select the rows around it → right-click → Unhide) "
                "and check it, or delete it if it should not be paid",
            )
        )
    for c in sorted(facts.hidden_cols):
        if c in column_of:
            out.append(
                Problem(
                    None,
                    column_of[c],
                    None,
                    "hidden-column",
                    "this column is hidden in Excel, so its values cannot be checked by eye",
                    "unhide the column and check it",
                    severity="warning",
                )
            )
    return out


def _merged_problems(
    facts: Facts, header_at: int, last: int, column_of: dict[int, str]
) -> list[Problem]:
    out: list[Problem] = []
    for r0, c0, r1, c1 in facts.merged:
        if r1 < header_at or r0 > last:
            continue  # merged title cells above the header, or notes below the rows: harmless
        ref = f"{column_letter(c0)}{r0 + 1}:{column_letter(c1)}{r1 + 1}"
        column = next((column_of[c] for c in range(c0, c1 + 1) if c in column_of), None)
        out.append(
            Problem(
                max(r0, header_at) + 1,
                column,
                ref,
                "merged-cells",
                f"cells {ref} are merged, so only the first of them holds a value",
                "select the cells → Home → Merge & Center to unmerge them, then "
                "type the value into every row",
            )
        )
    return out


def _formula_problems(
    grid: Grid, facts: Facts, is_data: np.ndarray, column_of: dict[int, str]
) -> list[Problem]:
    out: list[Problem] = []
    for (r, c), has_value in facts.formulas.items():
        if not is_data[r] or c not in column_of:
            continue
        value = grid.cell(r, c)
        if (r, c) in facts.errors:
            continue  # reported as an error value (_error_value_problems)
        if has_value:
            out.append(
                Problem(
                    r + 1,
                    column_of[c],
                    value,
                    "formula-cached",
                    "this cell is a formula; the value Excel last calculated is used",
                    "check the value is right, or paste it as a value (Paste Special → Values)",
                    severity="warning",
                )
            )
        else:
            out.append(
                Problem(
                    r + 1,
                    column_of[c],
                    "",
                    "formula-no-value",
                    "this cell is a formula that has never been calculated, so it has no value",
                    "open the file in Excel, let it calculate and "
                    "save it, or type the value instead of the formula",
                )
            )
    return out


def _error_value_problems(
    facts: Facts, is_data: np.ndarray, column_of: dict[int, str]
) -> list[Problem]:
    out: list[Problem] = []
    for (r, c), text in facts.errors.items():
        if r < len(is_data) and is_data[r] and c in column_of:
            out.append(
                Problem(
                    r + 1,
                    column_of[c],
                    text,
                    "error-value",
                    f"this cell shows the Excel error {text}",
                    "fix the formula or type the correct value",
                )
            )
    return out
