"""CSV/XLSX → a frame of strings plus the row numbers the user sees in Excel.

Knows file formats, not payments: every cell becomes the text the user sees, each row keeps
its Excel row number, and cell-level traps (hidden rows, merged cells, formulas, numbers
stored as numbers) are recorded as problems or facts. Which columns are identifiers is a
payment question, so :mod:`batchpay.headers` turns the recorded facts into problems.

The package, by seam:

* :mod:`~batchpay.sheet.files` — bytes, and files that are not what their name says;
* :mod:`~batchpay.sheet.csvfile` — encodings, delimiters, quoting (pyarrow for UTF-8, pandas'
  C parser and the csv module for the rest);
* :mod:`~batchpay.sheet.xlsxfile` — values from python-calamine, as the text Excel shows;
* :mod:`~batchpay.sheet.xmlscan` — the facts calamine cannot give, from the sheet's XML;
* :mod:`~batchpay.sheet.grid` — text columns → header row, data rows, :class:`RawSheet`;
* :mod:`~batchpay.sheet.cells` — the cell-level problems (hidden, merged, formulas, errors).

The frame's columns are pandas ``str`` columns backed by pyarrow: a million-row sheet is a
few hundred MB of Arrow buffers instead of ten million Python objects.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from batchpay.problems import Problem
from batchpay.sheet.cells import column_letter
from batchpay.sheet.celltext import cell_text
from batchpay.sheet.files import read_bytes, unsupported
from batchpay.sheet.grid import build
from batchpay.sheet.model import (
    CSV_SUFFIXES,
    XLSX_SUFFIXES,
    Facts,
    HeaderScorer,
    RawSheet,
    SkippedRow,
)

__all__ = [
    "CSV_SUFFIXES",
    "XLSX_SUFFIXES",
    "HeaderScorer",
    "RawSheet",
    "SkippedRow",
    "cell_text",
    "column_letter",
    "load_sheet",
]


# Files from this size on are hashed on a thread of their own while they are parsed.
_HASH_ASIDE_FROM = 1 << 20


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load_sheet(
    path: str | Path,
    *,
    sheet: str | None = None,
    header_scorer: HeaderScorer | None = None,
    on_parse: Callable[[], None] | None = None,
) -> RawSheet:
    """Read a CSV or XLSX file into text cells with Excel row numbers.

    ``header_scorer`` (given by :func:`batchpay.headers.load_table`) lets the header row be
    found below title rows (which are listed in ``skipped``), and a workbook whose first
    sheet holds no table be read from the one sheet that does (``sheet_note`` says so);
    without it the first row with two or more filled cells is the header.
    ``on_parse`` is called once the file has passed its checks (a workbook's size limits),
    as the parser that releases the GIL starts (pyarrow's CSV reader, calamine): the time to
    do other work on another core without slowing the checks down (``batchpay validate``
    imports pandas then). It may be called more than once (a second sheet read).
    Raises :class:`InputError` (one line, naming the file) when the file cannot be read.
    """
    p = Path(path)
    data = read_bytes(p)
    suffix = p.suffix.lower()
    if suffix not in CSV_SUFFIXES and suffix not in XLSX_SUFFIXES:
        raise unsupported(p)
    # hashlib releases the GIL: a large file is hashed on another core while it is parsed.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="batchpay-sha256") as pool:
        hashing = pool.submit(_sha256, data) if len(data) >= _HASH_ASIDE_FROM else None
        problems: list[Problem] = []
        if suffix in CSV_SUFFIXES:
            from batchpay.sheet.csvfile import read_csv

            if on_parse is not None:
                on_parse()
            grid = read_csv(p, data, problems)
            facts = Facts()
            sheet_name = None
            names: list[str] = []
            note = None
        else:
            from batchpay.sheet.xlsxfile import read_xlsx

            grid, facts, sheet_name, choice = read_xlsx(
                p, data, sheet, problems, header_scorer, on_parse
            )
            names, note = choice.names, choice.note
        digest = hashing.result() if hashing is not None else _sha256(data)
    del data
    raw = build(p, sheet_name, grid, facts, problems, digest, header_scorer)
    raw.sheet_names = names
    raw.sheet_note = note
    return raw
