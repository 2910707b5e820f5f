"""XLSX writing primitives shared by the validation report and the reconciliation workbook.

No business rules here: only how a cell is written safely (docs/safety.md §8) and how a
workbook reaches disk (never half-written: temp file + ``os.replace``, invariant 7).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from openpyxl.styles import Font, PatternFill

from batchpay.states import FAILURE, PROGRESS, SUCCESS, State

# A text cell starting with one of these could be read as a formula (formula injection).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", fgColor="1F4E78")
PROBLEM_FILL = PatternFill("solid", fgColor="FFC7CE")
WARNING_FILL = PatternFill("solid", fgColor="FFEB9C")
BANNER_FILL = PatternFill("solid", fgColor="C00000")
AMOUNT_FORMAT = "#,##0.##"
WHOLE_AMOUNT_FORMAT = "#,##0"
TEXT_FORMAT = "@"

# One colour per status (reconciliation workbook), consistent across sheets: paid green,
# progressing blue (CONFIRMED a shade darker), never sent grey, SENDING yellow, UNKNOWN orange,
# failed or invalid red. Listed in display order; the order is the styles' order in the file.
_PAID, _PROGRESSING, _NOT_SENT = "C6EFCE", "DDEBF7", "EDEDED"
_FAILED = "FFC7CE"
_STATUS_COLOURS: dict[str, str] = {
    **dict.fromkeys(SUCCESS, _PAID),
    **dict.fromkeys(PROGRESS, _PROGRESSING),
    State.CONFIRMED: "BDD7EE",
    # An older journal's state for "accepted, no business status yet" (reconcile.classes).
    "ACCEPTED": _PROGRESSING,
    State.PLANNED: _NOT_SENT,
    State.NOT_SENT: _NOT_SENT,
    State.SENDING: "FFEB9C",
    State.UNKNOWN: "F4B084",
    **dict.fromkeys(FAILURE, _FAILED),
    State.INVALID: _FAILED,
}
STATUS_FILLS: dict[str, PatternFill] = {
    str(name): PatternFill("solid", fgColor=colour) for name, colour in _STATUS_COLOURS.items()
}


def needs_quote_prefix(text: str) -> bool:
    """Whether a text cell holding ``text`` must carry Excel's quote prefix: one that starts
    with a formula trigger (``=``, ``+``, ``-``, ``@``, tab, CR) becomes a live formula when
    a user presses F2+Enter on it, unless the cell's style says "typed with a leading
    apostrophe" (``quotePrefix="1"`` in styles.xml), which shows the text as typed and
    keeps it text on re-entry."""
    return text.startswith(FORMULA_TRIGGERS)


def set_text(cell: Any, value: str | None) -> None:
    """Write ``value`` as a *string* cell, never a formula, even when it starts with ``=``;
    formula-looking text gets the quote prefix (see :func:`needs_quote_prefix`)."""
    if value is None:
        cell.value = None
        return
    text = str(value)
    cell.value = text
    # openpyxl infers a formula from a leading "="; force the string type back.
    cell.data_type = "s"
    if needs_quote_prefix(text):
        cell.quotePrefix = True
    elif cell.has_style and cell.quotePrefix:
        cell.quotePrefix = False


def write_only_text_cell(ws: Any, value: str | None) -> Any:
    """A write-only-mode cell holding ``value`` as text (never a formula); formula-looking
    text gets the quote prefix. Set fonts and fills afterwards: they keep it."""
    from openpyxl.cell import WriteOnlyCell

    text = None if value is None else str(value)
    cell = WriteOnlyCell(ws, value=text)
    if text is not None:
        cell.data_type = "s"
        if needs_quote_prefix(text):
            cell.quotePrefix = True
    return cell


def quote_prefixed(cell: Any) -> Any:
    """``cell`` (already styled) with the quote prefix added when its text needs it; for
    writers that copy a prepared style array onto a cell."""
    if isinstance(cell.value, str) and needs_quote_prefix(cell.value):
        cell.data_type = "s"
        cell.quotePrefix = True
    return cell


def atomic_save(workbook: Any, path: str | os.PathLike[str]) -> Path:
    """Save ``workbook`` to a temp file beside ``path`` and ``os.replace`` it into place."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        workbook.save(tmp)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
