"""The Summary sheet: the verdict, the file's facts, totals of the valid rows, problems by
code, problems about the whole sheet, and notes on what the Rows sheet leaves out."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font

from batchpay.problems import Problem
from batchpay.workbook import AMOUNT_FORMAT, WHOLE_AMOUNT_FORMAT, write_only_text_cell
from batchpay.workbook.validation.cells import BOLD, TOP_WRAP, clean_text, fill_for, text_cell

if TYPE_CHECKING:
    from batchpay.validate import ValidationResult


def summary_sheet(
    wb: Workbook,
    result: ValidationResult,
    report_name: str,
    problem_cells: int,
    comment_cap: int,
    *,
    rows_listed: int | None = None,
) -> None:
    """The Summary sheet; ``rows_listed`` is set when the Rows sheet lists only the rows
    with problems, and more than ``comment_cap`` problem cells say not all have a comment."""
    ws = wb.create_sheet("Summary")
    ws.column_dimensions["A"].width = 24
    ws.column_dimensions["B"].width = 60
    ws.column_dimensions["C"].width = 12
    _verdict(ws, result)
    _facts(ws, result)
    _problem_codes(ws, result)
    _sheet_level(ws, result)
    if rows_listed is not None:
        ws.append([])
        ws.append(
            [
                text_cell(
                    ws,
                    f"The sheet has {result.rows:,} rows, so only the rows with problems are "
                    f"listed on the Rows sheet ({rows_listed:,} rows); every problem is on the "
                    "Problems sheet.",
                )
            ]
        )
    if problem_cells > comment_cap:
        ws.append([])
        ws.append(
            [
                text_cell(
                    ws,
                    f"Comments are on the first {comment_cap:,} of {problem_cells:,} problem "
                    "cells; every problem is listed on the Problems sheet.",
                )
            ]
        )
    ws.append([])
    ws.append([text_cell(ws, f"Report: {report_name}")])


def _label(ws: Any, text: str) -> Any:
    cell = write_only_text_cell(ws, text)
    cell.font = BOLD
    return cell


def _verdict(ws: Any, result: ValidationResult) -> None:
    verdict = (
        "VALID — nothing to fix"
        if result.ok
        else "NOT VALID — fix the red cells on the Rows sheet (hover for how), "
        "then run batchpay validate again"
    )
    banner = write_only_text_cell(ws, verdict)
    banner.font = Font(bold=True, size=13, color="006100" if result.ok else "9C0006")
    ws.append([banner])
    ws.append([])


def _facts(ws: Any, result: ValidationResult) -> None:
    """The file, its kind, the row and problem counts, and the valid rows' totals."""
    table = result.table
    source = table.source
    facts: list[tuple[str, Any]] = [
        ("File", str(source.path)),
        ("Sheet", source.sheet_name or "(CSV)"),
        ("Kind", table.kind.name),
        ("SHA-256", source.sha256),
        ("Rows", result.rows),
        ("Valid rows", result.valid_rows),
        ("Invalid rows", len(result.invalid_row_numbers)),
        ("Errors", len(result.errors)),
        ("Warnings", len(result.warnings)),
    ]
    if source.header_row != 1 or result.skipped:
        facts.append(("Header row", source.header_row))
        # Titles, totals and footers: listed with why on the Skipped rows sheet.
        facts.append(("Skipped rows", len(result.skipped)))
    for c in result.control_totals:
        if c.stated is not None:
            verdict = "matches" if c.matches else f"does NOT match ({c.computed:,} computed)"
            facts.append((f"Control total, row {c.row}", f"{c.stated:,} {verdict}"))
    for label_text, value in facts:
        ws.append(
            [_label(ws, label_text), text_cell(ws, value) if isinstance(value, str) else value]
        )
    for currency, total in sorted(result.totals.items()):
        cell = WriteOnlyCell(ws, value=total)
        cell.number_format = (
            AMOUNT_FORMAT if total != total.to_integral_value() else WHOLE_AMOUNT_FORMAT
        )
        cell.alignment = Alignment(horizontal="left")
        ws.append([_label(ws, f"Total {currency} (valid rows)"), cell])
    ws.append([])


def _problem_codes(ws: Any, result: ValidationResult) -> None:
    """Problems by code, most frequent first, each with the message of its first problem."""
    counts = result.problem_counts()
    if not counts:
        return
    ws.append([_label(ws, "Problem code"), _label(ws, "What it means"), _label(ws, "Count")])
    first: dict[str, Problem] = {}
    for p in result.problems:
        first.setdefault(p.code, p)
    for code, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        example = first.get(code)
        meaning = write_only_text_cell(ws, clean_text(example.message if example else ""))
        meaning.alignment = TOP_WRAP
        code_cell = text_cell(ws, code, fill=fill_for([example]) if example else None)
        ws.append([code_cell, meaning, count])


def _sheet_level(ws: Any, result: ValidationResult) -> None:
    """Problems about the whole sheet (no row), with how to fix each."""
    sheet_level = [p for p in result.problems if p.row is None]
    if not sheet_level:
        return
    ws.append([])
    ws.append([_label(ws, "About the whole sheet")])
    for p in sheet_level:
        ws.append(
            [
                text_cell(ws, p.code, fill=fill_for([p])),
                text_cell(ws, f"{p.message} — {p.hint}"),
            ]
        )
