"""Checking an uploaded sheet with the same library calls as ``batchpay validate``
(profile + options → :func:`batchpay.validate.derived.load_with_options` →
:func:`batchpay.validate.validate_table` → the validation workbook), and the page's view of
the result: the sheet's rows with their bad cells marked, every Problem as it is."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from batchpay.errors import BatchpayError
from batchpay.problems import Problem
from batchpay.profile import Profile, SheetOptions

if TYPE_CHECKING:
    from batchpay.validate import ValidationResult

# A page lists at most this many sheet rows (all rows with a problem first); the workbook
# holds every row.
SHOWN_ROWS = 500
SHOWN_PROBLEMS = 2000


def error_line(exc: BatchpayError) -> str:
    """The one line the CLI prints for ``exc`` (``error: message — hint``)."""
    if not exc.hint:
        return f"error: {exc.message}"
    return f"error: {exc.message} — {exc.hint}"


def shown_error(exc: BatchpayError, stored: Path | None, display: str) -> str:
    """The CLI's line with the stored file's random name replaced by the name the user
    uploaded (the loader names the file it read)."""
    text = error_line(exc)
    if stored is not None:
        text = text.replace(str(stored), display).replace(stored.name, display)
    return text


def check_sheet(
    stored: Path, display: str, options: SheetOptions, profile: Profile | None, report: Path
) -> tuple[ValidationResult, Path | None]:
    """Validate ``stored`` and write its workbook to ``report``. Raises what the CLI would
    (InputError for an unreadable file, UsageError for a bad option)."""
    from batchpay.validate import validate_table
    from batchpay.validate.derived import load_with_options
    from batchpay.workbook.validation import write_validation_report

    table, effective = load_with_options(stored, options, profile)
    result = validate_table(table, amount_format=effective.amount_format)
    # The workbook and the page name the file as the user knows it; the stored copy's
    # random name means nothing to them. Nothing reads the sheet again through this path.
    table.source.path = Path(display)
    try:
        written: Path | None = write_validation_report(result, report)
    except OSError:
        written = None
    return result, written


@dataclass
class Cell:
    text: str
    css: str = ""  # "bad" (an error), "warn" (a warning only) or ""
    title: str = ""  # the problems' messages, as a tooltip


@dataclass
class SheetView:
    """What the validation page shows."""

    ok: bool
    kind: str
    file: str
    sheet: str | None
    rows: int
    valid_rows: int
    invalid_rows: int
    errors: int
    warnings: int
    totals: list[str]
    headers: list[str]
    table: list[tuple[int, list[Cell]]]
    hidden_rows: int
    problems: list[dict[str, str]]
    hidden_problems: int
    counts: list[tuple[str, int]]
    header_row: int
    sheet_note: str | None
    skipped: list[dict[str, str]] = field(default_factory=list)
    controls: list[str] = field(default_factory=list)


def _columns(result: ValidationResult) -> list[tuple[str, str]]:
    """(frame column, heading) for every column the sheet has or ``--set`` made."""
    table = result.table
    out = []
    for column in table.frame.columns:
        if column in table.field_headers:
            out.append((column, table.field_headers[column]))
        elif column in table.derived:
            out.append((column, f"{column} (set)"))
        elif column in table.extra_columns:
            out.append((column, column))
    return out


def _marks(problems: list[Problem]) -> dict[tuple[int, str], list[Problem]]:
    marks: dict[tuple[int, str], list[Problem]] = {}
    for p in problems:
        if p.row is not None and p.column is not None:
            marks.setdefault((p.row, p.column), []).append(p)
    return marks


def _cell(text: str, found: list[Problem]) -> Cell:
    if not found:
        return Cell(text)
    css = "bad" if any(p.severity == "error" for p in found) else "warn"
    return Cell(text, css, " · ".join(f"{p.message} — {p.hint}" for p in found))


def _rows(result: ValidationResult, columns: list[tuple[str, str]]) -> tuple[list, int]:
    marks = _marks(result.problems)
    frame = result.table.frame
    index = list(frame.index)
    marked = {r for r, _ in marks}
    chosen = [r for r in index if r in marked] + [r for r in index if r not in marked]
    shown = sorted(chosen[:SHOWN_ROWS])
    by_name = {c: frame[c] for c, _ in columns}
    header_of = {c: h for c, h in columns}
    table = []
    for row in shown:
        cells = []
        for column, _ in columns:
            found = marks.get((row, column), []) + marks.get((row, header_of[column]), [])
            cells.append(_cell(str(by_name[column].loc[row]), found))
        table.append((int(row), cells))
    return table, len(index) - len(shown)


def _problem(p: Problem, headers: dict[str, str]) -> dict[str, str]:
    return {
        "row": "" if p.row is None else str(p.row),
        "column": headers.get(p.column or "", p.column or ""),
        "value": "" if p.value is None else str(p.value),
        "message": p.message,
        "hint": p.hint,
        "code": p.code,
        "severity": p.severity,
    }


def _controls(result: ValidationResult) -> list[str]:
    from batchpay.money import format_amount

    lines = []
    for c in result.control_totals:
        if c.stated is None:
            continue
        word = "control total" if c.kind == "total" else "subtotal"
        stated = format_amount(c.stated, c.currency)
        if c.matches:
            lines.append(f"{word} {stated} on row {c.row} ({c.label!r}) matches {c.rows:,} rows")
        else:
            computed = format_amount(c.computed, c.currency)
            lines.append(
                f"{word} {stated} on row {c.row} ({c.label!r}) does NOT match: its "
                f"{c.rows:,} rows add up to {computed}"
            )
    return lines


def sheet_view(result: ValidationResult) -> SheetView:
    from batchpay.money import format_amount

    columns = _columns(result)
    table, hidden = _rows(result, columns)
    source = result.table.source
    headers = result.table.field_headers
    return SheetView(
        ok=result.ok,
        kind=result.table.kind.name,
        file=Path(source.path).name,
        sheet=source.sheet_name,
        rows=result.rows,
        valid_rows=result.valid_rows,
        invalid_rows=len(result.invalid_row_numbers),
        errors=len(result.errors),
        warnings=len(result.warnings),
        totals=[format_amount(t, c) for c, t in sorted(result.totals.items())],
        headers=[h for _, h in columns],
        table=table,
        hidden_rows=hidden,
        problems=[_problem(p, headers) for p in result.problems[:SHOWN_PROBLEMS]],
        hidden_problems=max(len(result.problems) - SHOWN_PROBLEMS, 0),
        counts=sorted(result.problem_counts().items(), key=lambda kv: (-kv[1], kv[0])),
        header_row=source.header_row,
        sheet_note=source.sheet_note,
        skipped=[
            {"row": str(s.row), "kind": s.kind, "reason": s.reason, "text": s.text}
            for s in result.skipped
        ],
        controls=_controls(result),
    )
