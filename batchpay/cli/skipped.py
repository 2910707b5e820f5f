"""The summary lines about a sheet's layout: where the header is, the rows skipped (titles,
totals, subtotals, footers) and each control total checked (issue 10)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from batchpay.money import format_amount

if TYPE_CHECKING:
    import pandas as pd

    from batchpay.sheet import SkippedRow
    from batchpay.validate import ControlTotal, ValidationResult


def row_ranges(rows: Sequence[int]) -> str:
    """``[1, 2, 3, 7]`` → ``"1–3, 7"``."""
    parts: list[str] = []
    start = prev = None
    for r in sorted(rows):
        if prev is not None and r == prev + 1:
            prev = r
            continue
        if start is not None:
            parts.append(str(start) if start == prev else f"{start}–{prev}")
        start = prev = r
    if start is not None:
        parts.append(str(start) if start == prev else f"{start}–{prev}")
    return ", ".join(parts)


def _runs(skipped: Sequence[SkippedRow], payees: pd.Index) -> list[str]:
    """Skipped rows of one kind with no payee row between them as one run: ``18 total``,
    ``20–23 footer`` (blank rows between them do not split a run)."""
    out: list[str] = []
    run: list[SkippedRow] = []
    for s in sorted(skipped, key=lambda s: s.row):
        if run and (
            s.kind != run[-1].kind or payees.searchsorted(s.row) != payees.searchsorted(run[-1].row)
        ):
            out.append(f"{row_ranges([x.row for x in run])} {run[0].kind}")
            run = []
        run.append(s)
    if run:
        out.append(f"{row_ranges([x.row for x in run])} {run[0].kind}")
    return out


def _control_line(c: ControlTotal) -> str | None:
    if c.stated is None:
        return None
    word = "control total" if c.kind == "total" else "subtotal"
    n = f"{c.rows:,} row{'s' if c.rows != 1 else ''}"
    stated = format_amount(c.stated, c.currency)
    if c.matches:
        return f"  {word} {stated} matches {n} (row {c.row} {c.label!r})"
    computed = format_amount(c.computed, c.currency)
    return (
        f"  {word} {stated} on row {c.row} ({c.label!r}) does NOT match: its {n} add up to "
        f"{computed}"
    )


def structure_lines(result: ValidationResult) -> list[str]:
    """``header on row 4 (rows 1–3 skipped: title)``, ``skipped rows: 18 total, 20–23
    footer`` and one line per control total; nothing for a plain sheet."""
    source = result.table.source
    lines: list[str] = []
    if source.sheet_note:
        lines.append(f"  {source.sheet_note}")
    titles = [s.row for s in result.skipped if s.kind == "title"]
    if source.header_row > 1 or titles:
        head = f"  header on row {source.header_row}"
        if titles:
            word = "row" if len(titles) == 1 else "rows"
            head += f" ({word} {row_ranges(titles)} skipped: title)"
        lines.append(head)
    others = [s for s in result.skipped if s.kind != "title"]
    if others:
        lines.append(f"  skipped rows: {', '.join(_runs(others, result.normalised.index))}")
    for c in result.control_totals:
        line = _control_line(c)
        if line:
            lines.append(line)
    return lines
