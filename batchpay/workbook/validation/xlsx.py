"""The XLSX XML writer behind the validation report: rows rendered straight to sheet XML
after openpyxl has saved, and the comments parts written whole (openpyxl takes ~10 µs a
cell and ~100 µs a comment; a 100,000-row report would spend most of its time there).

Nothing here knows what a problem is: it writes inline strings (never formulas), plain
numbers and the quote-prefixed styles of formula-looking text (docs/safety.md §8).
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from openpyxl.comments import Comment

from batchpay.workbook import FORMULA_TRIGGERS, PROBLEM_FILL, WARNING_FILL, write_only_text_cell


class Deferred:
    """Rows of a write-only sheet rendered straight to XML after openpyxl has saved.

    openpyxl spends ~10 µs serialising each cell, which is most of the time on a 100,000-row
    report. Only the rows that must register something with openpyxl go through it — the
    header, the first cell of each style (``probes``: their style ids are then read back
    from what openpyxl wrote, so they always match its styles.xml) and the first comment
    (so the workbook has the comments part and its relationships). openpyxl numbers those
    rows 1, 2, 3…; every other row is rendered here from the column lists, as inline strings
    (never formulas) and plain numbers, and :meth:`splice` puts all of them in their real
    places. Formula-looking text (``=…``, ``-…``, ``@…``) takes the quote-prefixed twin of its
    cell's style; those are registered with openpyxl up front (:func:`_quoted_styles`).
    """

    def __init__(self, ws: Any, render: Callable[[int, dict[str, str]], str]) -> None:
        self.ws = ws
        self.rows: set[int] = set()  # real row numbers rendered here
        self.written: list[int] = []  # real row number of openpyxl's 1st, 2nd, … row
        self.probes: dict[str, str] = {}  # style name -> openpyxl coordinate carrying it
        self.styles: dict[str, str] = _quoted_styles(ws)
        # Every comment of the sheet, in order: (ref, 0-based row, 0-based column, comment).
        # openpyxl writes the first one (and with it the comments part, its relationship and
        # content type); the parts are then rewritten with all of them (see splice_deferred).
        self.comments: list[tuple[str, int, int, Comment]] = []
        self.comments_written = False
        self._render = render
        self._count = 0

    def append(self, cells: list[Any]) -> None:
        self.ws.append(cells)
        self._count += 1
        self.written.append(self._count)

    def defer(self) -> None:
        self._count += 1
        self.rows.add(self._count)

    def probe(self, name: str, letter: str) -> None:
        """The next appended row carries style ``name`` in column ``letter``."""
        self.probes.setdefault(name, f"{letter}{len(self.written) + 1}")

    @property
    def next_row(self) -> int:
        return self._count + 1

    @property
    def part(self) -> str:
        return str(self.ws.path).lstrip("/")

    def splice(self, xml: str) -> str:
        for name, ref in self.probes.items():
            m = re.search(rf'<c r="{ref}" s="(\d+)"', xml)
            if m:
                self.styles[name] = m.group(1)
        head, found, rest = xml.partition("<sheetData>")
        body, found_end, tail = rest.partition("</sheetData>")
        if not found or not found_end:  # nothing appended through openpyxl at all
            return xml
        by_row = {}
        for m in _ROW.finditer(body):
            real = self.written[int(m.group(1)) - 1]
            by_row[real] = _CELL_REF.sub(rf'\g<1>{real}"', m.group(0)).replace(
                f'<row r="{m.group(1)}"', f'<row r="{real}"', 1
            )
        rows = [
            by_row[r] if r in by_row else self._render(r, self.styles)
            for r in range(1, self._count + 1)
            if r in by_row or r in self.rows
        ]
        return f"{head}<sheetData>{''.join(rows)}</sheetData>{tail}"


_ROW = re.compile(r'<row r="(\d+)"[^>]*(?:/>|>.*?</row>)', re.DOTALL)
_CELL_REF = re.compile(r'(<c r="[A-Z]+)\d+"')
PLAIN_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]+)?")


def _xml_escape(text: str) -> str:
    if "&" in text or "<" in text or ">" in text:
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text


_TRIGGER_CHARS = frozenset(FORMULA_TRIGGERS)  # one character each


def xml_cell_text(ref: str, text: str, style: str | None = None, quoted: str | None = None) -> str:
    """An inline-string cell with ``style``; text that looks like a formula takes ``quoted``
    (the style's quote-prefixed twin, see :func:`_quoted_styles`) when given."""
    if not text:
        s = f' s="{style}"' if style else ""
        return f'<c r="{ref}"{s} t="inlineStr" />'
    if quoted is not None and text[0] in _TRIGGER_CHARS:
        style = quoted
    s = f' s="{style}"' if style else ""
    # text != text.strip(), without building the stripped copy
    space = ' xml:space="preserve"' if text[0].isspace() or text[-1].isspace() else ""
    return f'<c r="{ref}"{s} t="inlineStr"><is><t{space}>{_xml_escape(text)}</t></is></c>'


def quoted_style_name(fill: str | None) -> str:
    """The style name of the quote-prefixed twin of ``fill`` ('error', 'warning' or none)."""
    return f"{fill or 'text'}-quoted"


def _quoted_styles(ws: Any) -> dict[str, str]:
    """Style ids of quote-prefixed text cells, plain and on each problem fill, registered
    in openpyxl's style list now: ``style_id`` is the index openpyxl writes as ``s`` and the
    position of the ``<xf quotePrefix="1">`` in styles.xml, so deferred rows use the very
    style openpyxl gives the same cell (it keeps one entry per distinct style)."""
    ids = {}
    for fill_name, fill in ((None, None), ("error", PROBLEM_FILL), ("warning", WARNING_FILL)):
        cell = write_only_text_cell(ws, "=")
        if fill is not None:
            cell.fill = fill
        ids[quoted_style_name(fill_name)] = str(cell.style_id)
    return ids


def xml_text(ref: str, text: str, fill: str | None, styles: dict[str, str]) -> str:
    """A text cell on ``fill`` (a style name or None); quote-prefixed when it looks like a
    formula, so Excel shows it as typed and keeps it text on F2+Enter."""
    style = styles.get(fill) if fill else None
    return xml_cell_text(ref, text, style, styles[quoted_style_name(fill)])


def xml_cell_number(ref: str, number: str | int, style: str | None) -> str:
    s = f' s="{style}"' if style else ""
    return f'<c r="{ref}"{s} t="n"><v>{number}</v></c>'


def splice_deferred(data: bytes, sheets: list[Deferred]) -> bytes:
    """The saved workbook ``data`` with each deferred sheet's rows spliced into its XML and
    its comments parts rewritten whole."""
    by_part = {s.part: s for s in sheets if s.rows or s.comments_written}
    if not by_part:
        return data
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as src,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as dst,
    ):
        replaced: dict[str, bytes] = {}
        for part, sheet in by_part.items():
            if sheet.comments_written:
                replaced.update(_comment_parts(src, part, sheet.comments))
        for info in src.infolist():
            body = replaced.get(info.filename) or src.read(info.filename)
            deferred = by_part.get(info.filename)
            if deferred is not None:
                body = deferred.splice(body.decode("utf-8")).encode("utf-8")
            # Level 1: a third of the time of the default for a few percent more bytes, on
            # parts that can be tens of MB for a large sheet.
            dst.writestr(info, body, compress_type=zipfile.ZIP_DEFLATED, compresslevel=1)
    return out.getvalue()


_RELATIONSHIP = re.compile(r"<Relationship\b[^>]*>")
_COMMENTS_XMLNS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def _comment_parts(
    src: zipfile.ZipFile, part: str, comments: list[tuple[str, int, int, Comment]]
) -> dict[str, bytes]:
    """The sheet's comments part and its VML drawing, holding every comment — the same
    markup openpyxl writes for one (openpyxl takes ~100 µs per comment; this, a few)."""
    folder, _, name = part.rpartition("/")
    rels = src.read(f"{folder}/_rels/{name}.rels").decode("utf-8")
    targets: dict[str, str] = {}
    for rel in _RELATIONSHIP.findall(rels):
        kind = re.search(r'Type="[^"]*/(comments|vmlDrawing)"', rel)
        target = re.search(r'Target="([^"]+)"', rel)
        if kind and target:
            path = target.group(1)
            targets[kind.group(1)] = (
                path.lstrip("/") if path.startswith("/") else (f"{folder}/{path}")
            )
    if set(targets) != {"comments", "vmlDrawing"}:
        return {}
    authors = list(dict.fromkeys(c.author for *_, c in comments))
    notes = "".join(
        f'<comment ref="{ref}" authorId="{authors.index(c.author)}" shapeId="0"><text>'
        f"<t{_space(c.text)}>{_xml_escape(c.text)}</t></text></comment>"
        for ref, _row, _col, c in comments
    )
    comments_xml = (
        f'<comments xmlns="{_COMMENTS_XMLNS}"><authors>'
        + "".join(f"<author>{_xml_escape(a)}</author>" for a in authors)
        + f"</authors><commentList>{notes}</commentList></comments>"
    )
    shapes = "".join(
        _VML_SHAPE.format(id=1026 + i, width=c.width, height=c.height, row=row, col=col)
        for i, (_ref, row, col, c) in enumerate(comments)
    )
    return {
        targets["comments"]: comments_xml.encode("utf-8"),
        targets["vmlDrawing"]: (_VML_HEAD + shapes + "</xml>").encode("utf-8"),
    }


def _space(text: str) -> str:
    return ' xml:space="preserve"' if text != text.strip() else ""


# openpyxl's comment shape (openpyxl/comments/shape_writer.py), as text.
_VML_HEAD = (
    '<xml xmlns:ns0="urn:schemas-microsoft-com:office:office" '
    'xmlns:ns1="urn:schemas-microsoft-com:vml" '
    'xmlns:ns2="urn:schemas-microsoft-com:office:excel">'
    '<ns0:shapelayout ns1:ext="edit"><ns0:idmap ns1:ext="edit" data="1" /></ns0:shapelayout>'
    '<ns1:shapetype id="_x0000_t202" coordsize="21600,21600" ns0:spt="202" '
    'path="m,l,21600r21600,l21600,xe"><ns1:stroke joinstyle="miter" />'
    '<ns1:path gradientshapeok="t" ns0:connecttype="rect" /></ns1:shapetype>'
)
_VML_SHAPE = (
    '<ns1:shape type="#_x0000_t202" style="position:absolute; margin-left:59.25pt;'
    'margin-top:1.5pt;width:{width}px;height:{height}px;z-index:1;visibility:hidden" '
    'fillcolor="#ffffe1" ns0:insetmode="auto" id="_x0000_s{id:04d}">'
    '<ns1:fill color2="#ffffe1" /><ns1:shadow color="black" obscured="t" />'
    '<ns1:path ns0:connecttype="none" /><ns1:textbox style="mso-direction-alt:auto">'
    '<div style="text-align:left" /></ns1:textbox><ns2:ClientData ObjectType="Note">'
    "<ns2:MoveWithCells /><ns2:SizeWithCells /><ns2:AutoFill>False</ns2:AutoFill>"
    "<ns2:Row>{row}</ns2:Row><ns2:Column>{col}</ns2:Column></ns2:ClientData></ns1:shape>"
)


class Bytes:
    """Adapter so finished bytes go through :func:`atomic_save` like a workbook."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def save(self, path: str) -> None:
        Path(path).write_bytes(self.data)
