"""Cells of the reconciliation workbook: named styles, safe text, exact amounts, print setup.

docs/safety.md §8: text is never a formula, identifiers are text, amounts are numbers with a
thousands format (or text when Excel could not hold every digit).
"""

from __future__ import annotations

import re
from copy import copy
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import Cell
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, NamedStyle

from batchpay.workbook import (
    BANNER_FILL,
    HEADER_FILL,
    HEADER_FONT,
    STATUS_FILLS,
    WHOLE_AMOUNT_FORMAT,
    quote_prefixed,
    write_only_text_cell,
)

TWO_DECIMAL_FORMAT = "#,##0.00"
# Excel keeps 15 significant digits and openpyxl writes numbers with "%.16g" through a float:
# an amount of more minor units than this could lose a digit, so it is written as text.
MAX_EXACT_MINOR = 10**15
BIG_AMOUNT_NOTE = (
    "Written as text: this amount has more digits than Excel can hold exactly as a number (15)."
)
# openpyxl refuses these control characters in a cell; journal text (a DOKU message, a detail)
# could carry one, so they are shown as U+FFFD instead of failing the whole report.
ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
# Characters that make openpyxl infer a formula ("=") or an error value ("#N/A") from a str,
# or Excel a formula on F2+Enter (+, -, @, tab, CR): such text goes through text_cell.
INFERRED_FIRST = frozenset("=#+-@\t\r")


class Styles:
    """Named styles registered once; cells get a copy of a prepared style array.

    Assigning ``cell.style = name`` scans the workbook's style list on every call; copying
    the array it would produce is the same result for a fraction of the cost per cell.
    """

    def __init__(self, wb: Workbook) -> None:
        self.wb = wb
        self.ws = wb.create_sheet("_styles")  # a scratch parent for template cells
        self._arrays: dict[str, Any] = {}
        self.add("bp-header", font=HEADER_FONT, fill=HEADER_FILL)
        self.add("bp-amount-0", number_format=WHOLE_AMOUNT_FORMAT)
        self.add("bp-amount-2", number_format=TWO_DECIMAL_FORMAT)
        self.add("bp-banner", font=Font(bold=True, color="FFFFFF", size=16), fill=BANNER_FILL)
        self.add("bp-title", font=Font(bold=True, size=14))
        self.add("bp-section", font=Font(bold=True, size=12))
        self.add("bp-label", font=Font(bold=True))
        self.add("bp-wrap", alignment=Alignment(wrap_text=True, vertical="top"))
        for state, fill in STATUS_FILLS.items():
            self.add(f"bp-status-{state}", fill=fill)
        # The scratch sheet only existed to bind template cells; it must not be saved.
        wb.remove(self.ws)

    def add(self, name: str, **attrs: Any) -> None:
        style = NamedStyle(name=name, **attrs)
        self.wb.add_named_style(style)
        template = WriteOnlyCell(self.ws)
        template.style = name
        self._arrays[name] = template._style

    def cell(self, ws: Any, value: Any, name: str) -> Cell:
        """A cell holding ``value`` with the named style ``name`` (text stays text)."""
        cell = WriteOnlyCell(ws, value)
        if cell.data_type in ("f", "e"):
            cell.data_type = "s"
        cell._style = copy(self._arrays[name])
        return quote_prefixed(cell)

    def status(self, ws: Any, state: str) -> Cell:
        """A state name on its status colour (an unlisted state gets UNKNOWN's colour)."""
        name = f"bp-status-{state}" if state in STATUS_FILLS else "bp-status-UNKNOWN"
        return self.cell(ws, safe_text(state), name)


def safe_text(value: Any) -> str:
    """Text a cell can hold: illegal control characters replaced, never more than Excel's
    32,767 characters."""
    text = value if isinstance(value, str) else str(value)
    if ILLEGAL.search(text):
        text = ILLEGAL.sub("\ufffd", text)
    return text[:32767]


def text_cell(ws: Any, value: str) -> Cell:
    """A write-only cell that is text whatever the value starts with (=, #, +, -, @), with
    Excel's quote prefix when it looks like a formula (workbook.write_only_text_cell)."""
    return write_only_text_cell(ws, safe_text(value))


def amount_value(ws: Any, styles: Styles, amount: Decimal | None, decimals: int) -> Any:
    """An amount cell: a number with a thousands format, or text when too long for Excel."""
    if amount is None:
        return None
    if abs(amount.scaleb(2)) >= MAX_EXACT_MINOR:
        cell = text_cell(ws, f"{amount:,.{decimals}f}")
        cell.comment = Comment(BIG_AMOUNT_NOTE, "batchpay")
        return cell
    # A whole amount is written as an int: exact, and cheaper than a Decimal for openpyxl.
    number: int | Decimal = int(amount) if amount == amount.to_integral_value() else amount
    return styles.cell(ws, number, f"bp-amount-{2 if decimals else 0}")


def printable(ws: Any, *, fit: bool = True) -> None:
    """Accountants print these: landscape A4; narrow sheets fit one page width."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = "9"  # A4 (ECMA-376 ST_PaperSize)
    if fit:
        ws.page_setup.fitToWidth = 1
        ws.page_setup.fitToHeight = 0
        ws.sheet_properties.pageSetUpPr.fitToPage = True
