"""The validation report: one workbook that makes it obvious what to fix in a sheet.

Sheets, in order:

- **Summary** — file, kind, row counts, totals of the valid rows, problems by code;
- **Rows** — every row as read (original headers, extra columns too), the Excel row number
  first and a status column, normalised values beside the originals; problem cells filled
  red (warnings yellow) with a comment giving the message and how to fix it. A sheet of more
  than :data:`FULL_ROWS_LIMIT` rows gets only its rows with problems here (the Summary says
  so): a copy of a million-row sheet would not fit in Excel (1,048,576 rows at most) nor
  help anyone find the few rows to fix;
- **Problems** — one line per problem: row, column, value, code, message, hint, severity;
- **Skipped rows** (only when some were) — titles, totals, subtotals and footers with why,
  and for control totals the stated total, the sum of the rows covered and the verdict.

Written with XlsxWriter in ``constant_memory`` mode: each row streams to disk as the next
starts, so 100,000 rows take seconds and little memory. Every sheet is readable as rendered
(widths from the content, wrapped text in rows as tall as its lines, numbers never ``###``)
and prints one page wide, landscape, header row repeated, the report's title on each page.
No business rules here; the result says what is wrong, this package only shows it.

Modules: ``summary``, ``rows``, ``problems`` and ``skipped`` lay out the sheets
(``layout`` picks the Rows sheet's columns, ``cells`` sizes table sheets and makes comments).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING

from batchpay.problems import Problem
from batchpay.workbook import Formats, xlsx_workbook
from batchpay.workbook.validation.problems import problems_sheet
from batchpay.workbook.validation.rows import rows_sheet
from batchpay.workbook.validation.skipped import skipped_sheet
from batchpay.workbook.validation.summary import summary_sheet

if TYPE_CHECKING:
    from batchpay.validate import ValidationResult

__all__ = ["FULL_ROWS_LIMIT", "default_report_path", "write_validation_report"]

# Past this many problem cells the red fill alone marks them and the Problems sheet carries
# the full text: nobody hovers over thousands of cells, Excel slows down opening thousands
# of comments, and each costs XlsxWriter ~55 µs (10,000 took a quarter of a 1,000,000-row
# sheet's report).
_MAX_COMMENTS = 2_000
# Above this many rows the Rows sheet lists only the rows with problems.
FULL_ROWS_LIMIT = 50_000


def default_report_path(source: str | Path) -> Path:
    """``reports/<sheet-stem>-validation.xlsx``, relative to the working directory."""
    return Path("reports") / f"{Path(source).stem}-validation.xlsx"


def write_validation_report(result: ValidationResult, path: str | Path | None = None) -> Path:
    """Write the validation report for ``result`` (default
    ``reports/<sheet-stem>-validation.xlsx``) atomically and return its path."""
    target = Path(path) if path is not None else default_report_path(result.table.source.path)
    by_row: dict[int, list[Problem]] = defaultdict(list)
    for p in result.problems:
        if p.row is not None:
            by_row[p.row].append(p)
    problem_cells = len({(p.row, p.column) for p in result.problems if p.row is not None})
    large = result.rows > FULL_ROWS_LIMIT
    title = f"batchpay validation report — {Path(result.table.source.path).name}"
    with xlsx_workbook(target, constant_memory=True) as wb:
        formats = Formats(wb)
        # Read here, at call time: tests lower both limits on this module.
        summary_sheet(
            wb,
            formats,
            result,
            target.name,
            problem_cells,
            _MAX_COMMENTS,
            title=title,
            rows_listed=len(by_row) if large else None,
        )
        rows_sheet(wb, formats, result, by_row, _MAX_COMMENTS, title, only_problem_rows=large)
        problems_sheet(wb, formats, result, title)
        skipped_sheet(wb, formats, result, title)
    return target
