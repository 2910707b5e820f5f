"""XLSX writing primitives shared by every workbook batchpay writes.

No business rules here: only how a cell is written safely (docs/safety.md §8), how a
workbook reaches disk (never half-written: temp file + ``os.replace``, invariant 7; 0600,
it holds payee data) and how it prints. Workbooks are written with XlsxWriter
(:func:`xlsx_workbook`, :class:`Formats`, :func:`write_text`, :func:`print_setup`; sizes
from :mod:`batchpay.workbook.fit`). The openpyxl helpers below them (fills, fonts,
:func:`set_text`, :func:`atomic_save`) serve the templates, which tests edit as openpyxl
workbooks; tests compare the colours they read back with the fills.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from batchpay.states import FAILURE, PROGRESS, SUCCESS, State

if TYPE_CHECKING:
    from openpyxl.styles import Font, PatternFill

    HEADER_FONT: Font
    HEADER_FILL: PatternFill
    PROBLEM_FILL: PatternFill
    WARNING_FILL: PatternFill
    STATUS_FILLS: dict[str, PatternFill]

# A text cell starting with one of these could be read as a formula (formula injection).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

HEADER_COLOUR = "1F4E78"
PROBLEM_COLOUR = "FFC7CE"
WARNING_COLOUR = "FFEB9C"
BANNER_COLOUR = "C00000"
WHOLE_AMOUNT_FORMAT = "#,##0"
DECIMAL_FORMAT = "#,##0.00"
TEXT_FORMAT = "@"

# One colour per status (reconciliation workbook), consistent across sheets: paid green,
# progressing blue (CONFIRMED a shade darker), never sent grey, SENDING yellow, UNKNOWN orange,
# failed or invalid red. Listed in display order; the order is the styles' order in the file.
_PAID, _PROGRESSING, _NOT_SENT = "C6EFCE", "DDEBF7", "EDEDED"
_FAILED = "FFC7CE"
STATUS_COLOURS: dict[str, str] = {
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


def _openpyxl_styles() -> dict[str, Any]:
    """The openpyxl fonts and fills (templates, tests), made on first use: openpyxl takes
    ~0.1 s to import, and the XlsxWriter workbooks (every report) need none of it."""
    from openpyxl.styles import Font, PatternFill

    return {
        "HEADER_FONT": Font(name="Calibri", bold=True, color="FFFFFF"),
        "HEADER_FILL": PatternFill("solid", fgColor=HEADER_COLOUR),
        "PROBLEM_FILL": PatternFill("solid", fgColor=PROBLEM_COLOUR),
        "WARNING_FILL": PatternFill("solid", fgColor=WARNING_COLOUR),
        "STATUS_FILLS": {
            str(name): PatternFill("solid", fgColor=colour)
            for name, colour in STATUS_COLOURS.items()
        },
    }


def __getattr__(name: str) -> Any:
    if name in ("HEADER_FONT", "HEADER_FILL", "PROBLEM_FILL", "WARNING_FILL", "STATUS_FILLS"):
        made = _openpyxl_styles()
        globals().update(made)  # made once; later look-ups find the module attributes
        return made[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# XlsxWriter format properties, combined by Formats: Formats(wb)(HEADER), (PROBLEM, WRAP)…
HEADER: Mapping[str, Any] = {
    "bold": True,
    "font_color": "#FFFFFF",
    "bg_color": f"#{HEADER_COLOUR}",
    "text_wrap": True,
    "valign": "top",
}
PROBLEM: Mapping[str, Any] = {"bg_color": f"#{PROBLEM_COLOUR}"}
WARNING: Mapping[str, Any] = {"bg_color": f"#{WARNING_COLOUR}"}
BOLD: Mapping[str, Any] = {"bold": True}
WRAP: Mapping[str, Any] = {"text_wrap": True, "valign": "top"}
TOP: Mapping[str, Any] = {"valign": "top"}
TEXT: Mapping[str, Any] = {"num_format": TEXT_FORMAT}
QUOTED: Mapping[str, Any] = {"quote_prefix": True}
WHOLE: Mapping[str, Any] = {"num_format": WHOLE_AMOUNT_FORMAT}
DECIMAL: Mapping[str, Any] = {"num_format": DECIMAL_FORMAT}

# Characters XML 1.0 forbids; a workbook holding one will not open (openpyxl's list).
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
# Excel refuses a cell longer than this (Excel specifications and limits).
MAX_CELL_CHARS = 32_767


def clean_text(value: Any) -> str:
    """Text a workbook can hold: control characters XML forbids become U+FFFD, and
    over-long values are cut to Excel's cell limit."""
    text = "" if value is None else str(value)
    if _ILLEGAL.search(text):
        text = _ILLEGAL.sub("\ufffd", text)
    return text[:MAX_CELL_CHARS]


def clean_texts(values: list[Any]) -> list[str]:
    """:func:`clean_text` of a column of values; one search over the whole column when (as
    nearly always) it holds no forbidden character and no over-long value."""
    texts = ["" if v is None else str(v) for v in values]
    if _ILLEGAL.search("".join(texts)) or any(len(t) > MAX_CELL_CHARS for t in texts):
        return [clean_text(t) for t in texts]
    return texts


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


# --- XlsxWriter ---------------------------------------------------------------------------


class Formats:
    """XlsxWriter formats of one workbook, one per distinct set of properties, made on first
    use: ``formats(HEADER)``, ``formats(PROBLEM, WRAP)``, ``formats(TOP, QUOTED)``. Later
    property sets win; no properties at all give ``None`` (the default style)."""

    def __init__(self, workbook: Any) -> None:
        self.workbook = workbook
        self._made: dict[tuple[tuple[str, Any], ...], Any] = {}

    def __call__(self, *parts: Mapping[str, Any] | None) -> Any:
        props: dict[str, Any] = {}
        for part in parts:
            if part:
                props.update(part)
        if not props:
            return None
        key = tuple(sorted(props.items()))
        made = self._made.get(key)
        if made is None:
            made = self._made[key] = self.workbook.add_format(props)
        return made

    def text_pair(self, *parts: Mapping[str, Any] | None) -> tuple[Any, Any]:
        """The format of ``parts`` and its quote-prefixed twin, for hot loops that call
        :func:`write_text_as` with formats fetched once."""
        return self(*parts), self(*parts, QUOTED)


def write_text(ws: Any, row: int, col: int, value: Any, formats: Formats, *style: Any) -> None:
    """Write ``value`` as a *string* cell (never a formula, whatever it starts with) with
    the format of ``style``; formula-looking text (see :func:`needs_quote_prefix`) gets the
    quote prefix as well. ``None`` and ``""`` write a blank, styled cell (or nothing)."""
    text = clean_text(value)
    write_text_as(ws, row, col, text, formats.text_pair(*style))


def write_text_as(ws: Any, row: int, col: int, text: str, pair: tuple[Any, Any]) -> None:
    """:func:`write_text` for clean text and a prepared :meth:`Formats.text_pair`."""
    if not text:
        if pair[0] is not None:
            ws.write_blank(row, col, None, pair[0])
        return
    ws.write_string(row, col, text, pair[1] if text.startswith(FORMULA_TRIGGERS) else pair[0])


@contextlib.contextmanager
def xlsx_workbook(path: str | os.PathLike[str], *, constant_memory: bool = False) -> Iterator[Any]:
    """An XlsxWriter workbook that lands at ``path`` only once complete: written to a private
    (0600) temp file beside it, closed, then ``os.replace``d into place; on any error the
    temp file is removed and ``path`` is untouched. ``constant_memory`` streams each row to
    disk as the next starts (rows in order, strings inline), for sheets of any length.

    Text is only ever written with ``write_string`` (see :func:`write_text`); the options
    stop XlsxWriter's ``write()`` from turning text into formulas, numbers or links too."""
    import xlsxwriter

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    workbook = xlsxwriter.Workbook(
        tmp,
        {
            "constant_memory": constant_memory,
            "strings_to_formulas": False,
            "strings_to_numbers": False,
            "strings_to_urls": False,
            "tmpdir": str(target.parent),
        },
    )
    try:
        yield workbook
        workbook.close()
        os.chmod(tmp, 0o600)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(Exception):
            workbook.close()  # releases its temp files; the result is thrown away
        Path(tmp).unlink(missing_ok=True)
        raise


def print_setup(ws: Any, title: str, *, header_rows: int = 1, first_row: int = 0) -> None:
    """Print set-up for a sheet: A4 landscape, fit to one page wide (as many pages down as
    it takes), ``header_rows`` rows from ``first_row`` (0-based) repeated on every page, and
    ``title`` with the page number in the page header."""
    ws.set_landscape()
    ws.set_paper(9)  # A4
    ws.fit_to_pages(1, 0)
    if header_rows:
        ws.repeat_rows(first_row, first_row + header_rows - 1)
    # "&" starts a header code: a literal one is "&&"; Excel caps the header at 255.
    safe = clean_text(title).replace("&", "&&")[:200]
    ws.set_header(f'&L&"-,Bold"{safe}&RPage &P of &N')
