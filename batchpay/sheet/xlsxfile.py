"""XLSX → :class:`~batchpay.sheet.grid.Grid` plus the cell :class:`Facts` Excel users trip over.

Values come from python-calamine (fast, Rust); the facts calamine cannot give (formulas,
error cells, hidden rows and columns, number formats) from :mod:`batchpay.sheet.xmlscan`.
"""

from __future__ import annotations

import functools
import io
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from python_calamine import (
    CalamineWorkbook,
    PasswordError,
    SheetTypeEnum,
    SheetVisibleEnum,
)

from batchpay.errors import InputError
from batchpay.problems import Problem
from batchpay.sheet.celltext import texts
from batchpay.sheet.files import (
    OLE2_MAGIC,
    ZIP_MAGIC,
    encrypted_error,
    looks_like_text,
    ole2_error,
    one_line,
)
from batchpay.sheet.grid import Grid, table_score
from batchpay.sheet.model import Facts, HeaderScorer
from batchpay.sheet.xmlscan import (
    LimitExceeded,
    measure_part,
    measure_sheet,
    sheet_part,
    sheet_xml,
    with_xml_facts,
    xml_facts,
)

_T = TypeVar("_T")


def read_xlsx(
    p: Path,
    data: bytes,
    sheet: str | None,
    problems: list[Problem],
    scorer: HeaderScorer | None = None,
    on_parse: Callable[[], None] | None = None,
) -> tuple[Grid, Facts, str, Choice]:
    """The sheet asked for, else the first visible one — or, when that holds no table the
    ``scorer`` recognises and exactly one other visible worksheet does, that one (issue 10)."""
    archive = _open_archive(p, data)
    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
    except PasswordError:
        raise encrypted_error(p) from None
    except Exception as exc:  # any reader failure on a user's file is damage (see _read_sheet)
        raise InputError(
            f"{p.name}: the workbook is damaged and cannot be read ({one_line(exc)})",
            hint="open it in Excel, re-save it as .xlsx and try again",
        ) from None
    with workbook, ThreadPoolExecutor(max_workers=1) as pool:
        index, name = _pick_sheet(p, workbook, sheet, problems)
        visible = _visible_sheets(workbook)
        choice = Choice([n for _i, n in visible])
        grid, facts = _read_sheet(p, archive, workbook, pool, index, name, on_parse)
        if sheet is not None or scorer is None or table_score(grid, scorer) >= 2:
            return grid, facts, name, choice
        found = []
        for other, other_name in visible:
            if other != index:
                other_grid, other_facts = _read_sheet(
                    p, archive, workbook, pool, other, other_name, on_parse
                )
                if table_score(other_grid, scorer) >= 2:
                    found.append((other_grid, other_facts, other_name))
    if len(found) > 1:
        listed = " and ".join(repr(f[2]) for f in found)
        raise InputError(
            f"{p.name}: the first sheet {name!r} holds no table, and sheets {listed} both do",
            hint="say which one to read with --sheet NAME",
        )
    if not found:
        return grid, facts, name, choice
    grid, facts, used = found[0]
    choice.note = f"sheet {used!r} used: the first sheet {name!r} holds no table"
    return grid, facts, used, choice


@dataclass
class Choice:
    """How the sheet was chosen: the workbook's visible worksheets, and why this one."""

    names: list[str]
    note: str | None = None


def _visible_sheets(workbook: CalamineWorkbook) -> list[tuple[int, str]]:
    return [
        (i, m.name)
        for i, m in enumerate(workbook.sheets_metadata)
        if m.visible == SheetVisibleEnum.Visible and m.typ == SheetTypeEnum.WorkSheet
    ]


def _read_sheet(
    p: Path,
    archive: zipfile.ZipFile,
    workbook: CalamineWorkbook,
    pool: ThreadPoolExecutor,
    index: int,
    name: str,
    on_parse: Callable[[], None] | None = None,
) -> tuple[Grid, Facts]:
    # The sheet's XML streamed once, and refused before calamine reads it when it is
    # larger than Excel allows or than any real sheet (issue 8, finding 8).
    try:
        part = sheet_part(archive, index)
    except Exception:  # unreadable workbook.xml or relationships
        raise _damaged(p, name) from None
    size = _within_limits(p, name, lambda: measure_sheet(archive, part))
    kept = size.xml if size is not None else None
    # While calamine parses the sheet (without the GIL), another thread inflates it again
    # when it was too big to keep, and reads the facts that need the XML alone.
    found = Facts()

    def xml_and_facts() -> bytes:
        xml = kept if kept is not None else sheet_xml(archive, index)
        xml_facts(xml, found)
        return xml

    xml = pool.submit(xml_and_facts)
    if on_parse is not None:
        on_parse()  # measured and within the limits: calamine parses without the GIL
    try:
        cells = workbook.get_sheet_by_index(index)
        values = cells.to_python(skip_empty_area=False)
        merged = cells.merged_cell_ranges or []
    except Exception as exc:  # see above
        raise InputError(
            f"{p.name}: sheet {name!r} is damaged and cannot be read ({one_line(exc)})",
            hint="open it in Excel, re-save it as .xlsx and try again",
        ) from None
    facts = Facts(merged=[(a[0], a[1], b[0], b[1]) for a, b in merged])
    columns = texts(values, facts)
    del values
    try:
        data = xml.result()
        facts.formulas, facts.errors = found.formulas, found.errors
        facts.hidden_rows, facts.hidden_cols = found.hidden_rows, found.hidden_cols
        columns = with_xml_facts(archive, data, columns, facts)
    except Exception:
        # zipfile and zlib report damage with a dozen exception types (BadZipFile,
        # NotImplementedError for garbled versions, zlib.error, KeyError, …); every one
        # of them means the same thing to the user, who must get one line, never a
        # traceback.
        raise _damaged(p, name) from None
    return Grid(columns, max((len(c) for c in columns), default=0)), facts


def _open_archive(p: Path, data: bytes) -> zipfile.ZipFile:
    """The workbook's zip archive, once the bytes are known to be one whose opening parts
    are within the limits; anything else is an :class:`InputError` saying what the file is."""
    if not data.startswith(ZIP_MAGIC):
        raise _not_a_zip(p, data)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        names = set(archive.namelist())
        if len(names) != len(archive.namelist()):
            # Excel never writes one part twice; readers disagree on which copy counts, so
            # the one measured below might not be the one calamine reads.
            raise zipfile.BadZipFile("duplicate part names")
    except Exception:  # see _read_sheet: any zip failure is damage
        raise InputError(
            f"{p.name}: the workbook is damaged (incomplete or corrupt zip)",
            hint="copy or download the file again, or re-save it from Excel",
        ) from None
    if "xl/workbook.xml" not in names:
        raise InputError(
            f"{p.name}: this zip file is not an Excel workbook",
            hint="save the sheet from Excel as Excel Workbook (.xlsx)",
        )
    # The parts calamine reads when it opens the workbook, measured before it does.
    for part_name in _opened_parts(names):
        _within_limits(p, None, functools.partial(measure_part, archive, part_name))
    return archive


def _not_a_zip(p: Path, data: bytes) -> InputError:
    """What a file with an .xlsx name is when it is not a zip archive."""
    if data.startswith(OLE2_MAGIC):
        return ole2_error(p, data)
    if looks_like_text(data):
        head = data[:512].lstrip().lower()
        if head.startswith((b"<html", b"<!doctype", b"<table")):
            return InputError(
                f"{p.name}: this is a web page saved with a {p.suffix} name",
                hint="open it in Excel and use Save As → Excel Workbook (.xlsx)",
            )
        return InputError(
            f"{p.name}: this is a text file (CSV?) with a {p.suffix} name",
            hint="rename it to .csv, or open it in Excel and save as .xlsx",
        )
    return InputError(
        f"{p.name}: not an Excel workbook (the file is not a zip archive)",
        hint="open it in Excel and use Save As → Excel Workbook (.xlsx)",
    )


def _damaged(p: Path, sheet: str) -> InputError:
    return InputError(
        f"{p.name}: the workbook is damaged (sheet {sheet!r} cannot be read)",
        hint="open it in Excel, re-save it as .xlsx and try again",
    )


# Parts calamine reads when it opens a workbook (the sheets it reads only when asked).
_OPENED_PARTS = ("sharedstrings.xml", "styles.xml", "workbook.xml", "workbook.xml.rels")


def _opened_parts(names: set[str]) -> list[str]:
    return sorted(n for n in names if n.lower().rsplit("/", 1)[-1] in _OPENED_PARTS)


def _within_limits(p: Path, sheet: str | None, measure: Callable[[], _T]) -> _T | None:
    """``measure()``, with a part over the limits as one line naming the file and sheet.

    Damage found while measuring gives None: the readers that follow report it in their own
    words, and can only read as far as the damage, which was within the limits."""
    try:
        return measure()
    except LimitExceeded as exc:
        where = f"sheet {sheet!r}" if sheet is not None else "the workbook"
        raise InputError(
            f"{p.name}: {where} cannot be read safely: {exc}",
            hint="open it in Excel and save it again as .xlsx, or export the sheet as CSV",
        ) from None
    except Exception:  # zip damage (see _read_sheet)
        return None


def _pick_sheet(
    p: Path, workbook: CalamineWorkbook, sheet: str | None, problems: list[Problem]
) -> tuple[int, str]:
    metas = workbook.sheets_metadata
    names = [m.name for m in metas]
    if sheet is not None:
        if sheet in names:
            return names.index(sheet), sheet
        folded = [i for i, n in enumerate(names) if n.casefold() == sheet.strip().casefold()]
        if len(folded) == 1:
            return folded[0], names[folded[0]]
        listed = ", ".join(repr(n) for n in names)
        raise InputError(
            f"{p.name}: no sheet named {sheet!r}; the sheets are {listed}",
            hint="use --sheet with one of those names",
        )
    for i, meta in enumerate(metas):
        if meta.visible == SheetVisibleEnum.Visible and meta.typ == SheetTypeEnum.WorkSheet:
            skipped = [m.name for m in metas[:i] if m.visible != SheetVisibleEnum.Visible]
            if skipped:
                problems.append(
                    Problem(
                        None,
                        None,
                        ", ".join(skipped),
                        "hidden-sheet-skipped",
                        f"the first sheet is hidden, so the first visible sheet {meta.name!r} "
                        "was read",
                        "if the payments are on the hidden sheet, unhide it or use --sheet NAME",
                        severity="warning",
                    )
                )
            return i, meta.name
    raise InputError(
        f"{p.name}: the workbook has no visible worksheet",
        hint="unhide the sheet with the payments, or use --sheet NAME",
    )
