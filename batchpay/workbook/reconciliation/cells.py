"""Cells of the reconciliation workbook, on XlsxWriter: the formats, how each role of value
is written, and how wide each is shown (:mod:`batchpay.workbook.fit`).

docs/safety.md §8: text is never a formula (``write_string`` only; quote prefix on text
starting with ``= + - @`` tab or CR), identifiers are text, amounts are numbers with a
thousands format — ``#,##0`` for a whole amount (rupiah), ``#,##0.00`` only when there are
cents — or text when Excel could not hold every digit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from batchpay.workbook import (
    BANNER_COLOUR,
    DECIMAL,
    FORMULA_TRIGGERS,
    HEADER,
    STATUS_COLOURS,
    TOP,
    WHOLE,
    WRAP,
    Formats,
    clean_text,
)
from batchpay.workbook.fit import text_width, thousands

# Excel keeps 15 significant digits: an amount of more minor units than this could lose a
# digit as a number, so it is written as text (with a note saying why).
MAX_EXACT_MINOR = 10**15
MAX_EXACT_AMOUNT = Decimal(MAX_EXACT_MINOR) / 100
BIG_AMOUNT_NOTE = (
    "Written as text: this amount has more digits than Excel can hold exactly as a number (15)."
)
BOLD_SCALE = 1.1  # bold text is about a tenth wider
PADDING = 2.0
_BANNER_POINTS = 16
_TITLE_POINTS = 14
_SECTION_POINTS = 12
# Relative size of each text style (11 pt regular = 1), for widths and row heights.
SCALES = {
    "banner": _BANNER_POINTS / 11 * BOLD_SCALE,
    "title": _TITLE_POINTS / 11 * BOLD_SCALE,
    "section": _SECTION_POINTS / 11 * BOLD_SCALE,
    "header": BOLD_SCALE,
    "label": BOLD_SCALE,
}


class Styles:
    """Every format the workbook uses, made once; text formats come as (plain, quoted)."""

    def __init__(self, wb: Any) -> None:
        f = self.formats = Formats(wb)
        self.header = f.text_pair(HEADER)
        self.text = f.text_pair(TOP)
        self.wrap = f.text_pair(WRAP)
        self.whole = f(WHOLE, TOP)
        self.decimal = f(DECIMAL, TOP)
        self.count = f(TOP)
        self.totals = CellStyles(
            text=self.text,
            whole=f(WHOLE, TOP, {"bold": True}),
            decimal=f(DECIMAL, TOP, {"bold": True}),
            count=self.count,
            status=self.status,
        )
        self.named: dict[str, tuple[Any, Any]] = {
            "text": self.text,
            "wrap": self.wrap,
            "header": self.header,
            "label": f.text_pair(TOP, WRAP, {"bold": True}),
            "title": f.text_pair({"bold": True, "font_size": _TITLE_POINTS, "valign": "top"}),
            "section": f.text_pair({"bold": True, "font_size": _SECTION_POINTS, "valign": "top"}),
            "banner": f.text_pair(
                {
                    "bold": True,
                    "font_size": _BANNER_POINTS,
                    "font_color": "#FFFFFF",
                    "bg_color": f"#{BANNER_COLOUR}",
                    "valign": "vcenter",
                    "text_wrap": True,
                }
            ),
        }
        self._status: dict[tuple[str, bool], tuple[Any, Any]] = {}
        self._cells = {top: self._make_cells(top) for top in (True, False)}

    def status(self, state: str, *, top: bool = True) -> tuple[Any, Any]:
        """A state's format pair, on its colour (an unlisted state gets UNKNOWN's)."""
        pair = self._status.get((state, top))
        if pair is None:
            colour = STATUS_COLOURS.get(state) or STATUS_COLOURS["UNKNOWN"]
            fill = {"bg_color": f"#{colour}"}
            pair = self._status[state, top] = self.formats.text_pair(TOP if top else None, fill)
        return pair

    def cells(self, *, top: bool) -> CellStyles:
        """A table's cell formats: aligned to the top when some of its rows wrap onto more
        lines; otherwise plain (a cell with no format is the cheapest one to write)."""
        return self._cells[top]

    def _make_cells(self, top: bool) -> CellStyles:
        f, align = self.formats, TOP if top else None
        return CellStyles(
            text=f.text_pair(align),
            whole=f(WHOLE, align),
            decimal=f(DECIMAL, align),
            count=f(align),
            status=lambda state: self.status(state, top=top),
        )


@dataclass(frozen=True)
class CellStyles:
    text: tuple[Any, Any]
    whole: Any
    decimal: Any
    count: Any
    status: Callable[[str], tuple[Any, Any]]


def put_text(ws: Any, row: int, col: int, value: Any, pair: tuple[Any, Any]) -> None:
    """A text cell (never a formula): ``None``/"" leave the cell empty (nothing written)."""
    if value is None or value == "":
        return
    text = value if value.__class__ is str else str(value)
    if not text.isprintable() or len(text) > 32_767:
        text = clean_text(text)  # control characters XML forbids, Excel's length limit
    ws.write_string(row, col, text, pair[1] if text.startswith(FORMULA_TRIGGERS) else pair[0])


def put_amount(
    ws: Any, row: int, col: int, amount: Decimal | None, styles: Styles | CellStyles
) -> None:
    """An amount: a number (``#,##0`` when whole, ``#,##0.00`` with cents), or text with a
    note when Excel could not hold every digit."""
    if amount is None:
        return
    if not -MAX_EXACT_AMOUNT < amount < MAX_EXACT_AMOUNT:
        put_text(ws, row, col, amount_text(amount), styles.text)
        ws.write_comment(row, col, BIG_AMOUNT_NOTE, {"author": "batchpay"})
        return
    whole = int(amount)
    if whole == amount:
        ws.write_number(row, col, whole, styles.whole)
    else:
        ws.write_number(row, col, amount, styles.decimal)


def amount_text(amount: Decimal) -> str:
    """An amount as its number format shows it."""
    return thousands(amount, 0 if amount == amount.to_integral_value() else 2)


def amount_width(amounts: Iterable[Decimal | None], *, bold: bool = False) -> float:
    """The width the widest of ``amounts`` needs as shown (never capped: no ``###``)."""
    widest = 0.0
    for a in amounts:
        if a is not None:
            widest = max(widest, text_width(amount_text(a)))
    return widest * (BOLD_SCALE if bold else 1.0) + PADDING


def header_width(title: str) -> float:
    """A header's wish for its column: whole on one line when short, else as wide as its
    longest word (it wraps; the header row grows)."""
    full = text_width(title) * BOLD_SCALE + PADDING
    if full <= 16:
        return full
    longest = max(text_width(w) for w in title.split())
    return max(longest * BOLD_SCALE + PADDING, 12.0)


def style_scale(style: str) -> float:
    return SCALES.get(style, 1.0)
