"""How wide a column must be and how tall a row, so a spreadsheet program shows every value
whole: numbers never turn into ``###`` and wrapped text is never cut at a cell's edge.

Widths are in Excel's column unit, the width of the digit ``0`` in the default font (Calibri
11; LibreOffice substitutes Carlito or DejaVu Sans when Calibri is missing). Text is measured
with DejaVu Sans' advance widths relative to its ``0``: it is the widest of the fonts a
reader's program may use, so an estimate from it is never short, only sometimes generous.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from decimal import Decimal
from functools import lru_cache

# Widest a text column grows before its text wraps (readable-as-rendered rule, issue 11).
TEXT_CAP = 60.0
# Points per line of 11 pt text: the line height plus the cell's padding.
LINE_HEIGHT = 15.0
# Excel's tallest row (409 pt): a value needing more lines is cut there, whatever we do.
MAX_ROW_HEIGHT = 409.0
_PADDING = 2.0  # a column is this much wider than its widest value, like Excel's autofit


def _widths() -> dict[str, float]:
    """Advance widths of printable ASCII in DejaVu Sans (units per em 2048), divided by the
    width of ``0`` (1303 units)."""
    units = {
        " ": 651, "!": 821, '"': 942, "#": 1716, "$": 1303, "%": 1946, "&": 1597, "'": 563,
        "(": 799, ")": 799, "*": 1024, "+": 1716, ",": 651, "-": 739, ".": 651, "/": 690,
        ":": 690, ";": 690, "<": 1716, "=": 1716, ">": 1716, "?": 1087, "@": 2048,
        "A": 1401, "B": 1405, "C": 1430, "D": 1577, "E": 1294, "F": 1178, "G": 1587,
        "H": 1540, "I": 604, "J": 604, "K": 1343, "L": 1141, "M": 1767, "N": 1532,
        "O": 1612, "P": 1235, "Q": 1612, "R": 1423, "S": 1300, "T": 1251, "U": 1499,
        "V": 1401, "W": 2025, "X": 1403, "Y": 1251, "Z": 1403, "[": 799, "\\": 690,
        "]": 799, "^": 1716, "_": 1024, "`": 1024, "a": 1255, "b": 1300, "c": 1126,
        "d": 1300, "e": 1260, "f": 721, "g": 1300, "h": 1298, "i": 569, "j": 569,
        "k": 1186, "l": 569, "m": 1995, "n": 1298, "o": 1253, "p": 1300, "q": 1300,
        "r": 842, "s": 1067, "t": 803, "u": 1298, "v": 1212, "w": 1675, "x": 1212,
        "y": 1212, "z": 1075, "{": 1303, "|": 690, "}": 1303, "~": 1716,
    }  # fmt: skip
    table = {c: u / 1303 for c, u in units.items()}
    table.update(dict.fromkeys("0123456789", 1.0))
    return table


_WIDTH = _widths()
# Anything else (accented letters, dashes, arrows, ellipses, other scripts): as wide as an
# em, which no common character exceeds by much.
_OTHER = 1.6


# Each ASCII character as that many sixteenths of a digit's width: ``str.translate`` then
# measures a text in C, and len() / 16 is its width (tabs and control characters count 1).
_SIXTEENTHS = {i: "x" * 16 for i in range(128)}
_SIXTEENTHS.update({ord(c): "x" * round(w * 16) for c, w in _WIDTH.items()})


@lru_cache(maxsize=65_536)
def text_width(text: str) -> float:
    """Width of ``text`` on one line, in column units (11 pt, regular weight)."""
    if text.isascii():
        return len(text.translate(_SIXTEENTHS)) / 16
    get = _WIDTH.get
    return sum(get(c, _OTHER) for c in text)


# The same, keeping line breaks: to measure a whole column joined by "\n" in one call.
_SIXTEENTHS_KEEP_NEWLINE = {**_SIXTEENTHS, ord("\n"): "\n"}


def text_widths(values: list[str]) -> list[float]:
    """:func:`text_width` of each of ``values`` (none holding a line break), a column at a
    time: ASCII text is measured in C in one ``str.translate`` over the whole column."""
    if not values:
        return []
    joined = "\n".join(values)
    if not joined.isascii():
        return [text_width(v) for v in values]
    return [len(t) / 16 for t in joined.translate(_SIXTEENTHS_KEEP_NEWLINE).split("\n")]


def _words_lines(line: str, room: float) -> int:
    """Lines the greedy word wrap of a spreadsheet program takes for ``line`` in ``room``
    units; a word longer than the room is broken wherever it must be."""
    space = _WIDTH[" "]
    lines, used = 1, 0.0
    for word in line.split(" "):
        width = text_width(word)
        if used and used + space + width <= room:
            used += space + width
            continue
        if used:
            lines += 1
        while width > room:  # a word wider than the cell is broken across lines
            lines += 1
            width -= room
        used = width
    return lines


def line_count(text: str, width: float, *, scale: float = 1.0) -> int:
    """Lines ``text`` takes in a wrapping cell ``width`` units wide; ``scale`` is the font's
    size relative to 11 pt (×1.1 more when bold)."""
    room = max(width - 1.0, 1.0) / scale  # a cell's padding takes about one unit
    if text_width(text) <= room and "\n" not in text:
        return 1
    return sum(_words_lines(line, room) for line in text.split("\n"))


def row_height(lines: int, *, scale: float = 1.0) -> float:
    """A row's height in points for ``lines`` lines of text of relative size ``scale``."""
    return min(math.ceil(LINE_HEIGHT * scale * max(lines, 1)), MAX_ROW_HEIGHT)


def column_width(texts: Iterable[str], *, cap: float = TEXT_CAP, minimum: float = 4.0) -> float:
    """A text column's width: its widest value plus padding, at most ``cap`` (wider text
    wraps) and at least ``minimum``."""
    widest = max((text_width(t) for t in texts if t), default=0.0)
    return round(min(max(widest + _PADDING, minimum), cap), 1)


def number_width(formatted: Iterable[str], *, minimum: float = 4.0) -> float:
    """A number column's width from its values *as displayed* (``1,500,000.00``): never
    capped, so a spreadsheet program has no reason to show ``###``. Every character counts
    a digit's width (separators are narrower): a little room to spare, never too little."""
    widest = max((max(len(t), text_width(t)) for t in formatted), default=0.0)
    return round(max(widest + _PADDING, minimum), 1)


def thousands(value: float | int | Decimal, decimals: int = 0) -> str:
    """``value`` as ``#,##0`` (or ``#,##0.00``) shows it: for :func:`number_width`."""
    return f"{value:,.{decimals}f}"
