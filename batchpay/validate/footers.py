"""Totals, subtotals and footers in a table (issue 10): found before validation, taken out of
the payee rows, listed as skipped with their row and why — never dropped silently — and each
total checked against the rows it covers.

* A **control total** is a row whose label (any text cell) starts with one of
  :data:`TOTAL_WORDS` — total, jumlah, subtotal, sub total, grand total, total keseluruhan,
  jumlah total (any case) — and that carries no payee data. A subtotal covers its group (the
  payee rows since the previous total row); a grand total (or the last plain "total") covers
  every payee row above it.
* A **footer** is a sign-off or note row after the table ("Disetujui oleh", "Mengetahui",
  "Dibuat oleh", "( Manajer HRD )", "Catatan: …", "Jakarta, 30 November 2026", signature
  lines), and every row without payee data below the first of them or below the last total.
* A row with payee data (:func:`payee_fields`: name, phone, email, account, reference) is
  never a total or a footer: it is validated as a payee. The one exception is a signatory
  under a sign-off line: a row of names only (no digit, no @, so no phone, email or
  account) and no amount, which nothing could pay.

Cost on a normal sheet: one ``== ""`` pass per identifier column (a few ms per million rows)
and Python over the last :data:`TAIL_ROWS` rows only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from batchpay import normalize
from batchpay.kinds import Field, Kind
from batchpay.sheet import SkippedRow

if TYPE_CHECKING:
    import pandas as pd

    from batchpay.headers import Table

# Rows at the end of a table looked at for sign-off and note lines.
TAIL_ROWS = 60

_SEP = r"[\s._-]"
_GRAND = rf"grand{_SEP}*total|total{_SEP}+keseluruhan|jumlah{_SEP}+total|total{_SEP}+semua"
_SUB = rf"sub{_SEP}*total|sub{_SEP}*jumlah"
TOTAL_WORDS = (
    "total",
    "jumlah",
    "subtotal",
    "sub total",
    "grand total",
    "total keseluruhan",
    "jumlah total",
)
_WORDS = rf"(?:{_GRAND}|{_SUB}|total|jumlah)"
_TOTAL = re.compile(rf"[\W_]*({_WORDS})\b", re.IGNORECASE)
_TOTAL_RE2 = rf"^[^\pL\pN]*(?:{_WORDS})\b"
_IS_GRAND = re.compile(rf"[\W_]*(?:{_GRAND})\b", re.IGNORECASE)
_IS_SUB = re.compile(rf"[\W_]*(?:{_SUB})\b", re.IGNORECASE)

_MONTH = (
    r"(?:januari|februari|maret|april|mei|juni|juli|agustus|september|oktober|november|"
    r"desember|january|february|march|may|june|july|august|october|december|jan|feb|mar|"
    r"apr|jun|jul|agu|ags|aug|sep|sept|okt|oct|nov|des|dec)\.?"
)
_DATE = rf"(?:\d{{1,2}}\s+{_MONTH}\s+\d{{4}}|\d{{1,2}}[/.-]\d{{1,2}}[/.-]\d{{2,4}})"
# (what, pattern matched at the start of a stripped cell); the first that fits names it.
_MARKERS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "sign-off",
        re.compile(
            r"(?:disetujui|mengetahui|diketahui|menyetujui|dibuat|disiapkan|diperiksa|dicek|"
            r"diverifikasi|diajukan|hormat\s+kami|tanda\s+tangan|ttd|approved|prepared|"
            r"checked|reviewed|verified|acknowledged|signed|signature)\b",
            re.IGNORECASE,
        ),
    ),
    (
        "note",
        re.compile(
            r"(?:catatan|keterangan|terbilang|note|notes|remarks?)\b|(?:nb|n\.b\.?|ket)\s*[:.]"
            r"|\*+\)?\s",
            re.IGNORECASE,
        ),
    ),
    ("page footer", re.compile(r"(?:halaman|page|dicetak|printed)\b", re.IGNORECASE)),
    ("role", re.compile(r"\(\s*[^()]{2,60}\s*\)\s*$")),
    ("signature line", re.compile(r"[_.=~-]{3,}[\s_.=~-]*$")),
    ("place and date", re.compile(rf"[^\W\d_][\w .'-]{{1,30}},\s*{_DATE}\s*$", re.IGNORECASE)),
    ("date", re.compile(rf"{_DATE}\s*$", re.IGNORECASE)),
)

_NOT_A_NAME = re.compile(r"[\d@]")
_LETTER = re.compile(r"[^\W\d_]")
# Fields that never say who is paid: the sender (the same on every row) and free text.
_NOT_PAYEE_NAMES = frozenset({"sender_name", "description"})
_NOT_PAYEE_TYPES = frozenset({"amount", "currency", "account_type"})
# Payee fields where a total's or footer's label may sit (they hold free text or names).
_LABEL_TYPES = frozenset({"text", "name"})


def payee_fields(kind: Kind) -> list[Field]:
    """The fields that say who is paid: a row with any of them filled is a payee."""
    return [
        f for f in kind.fields if f.type not in _NOT_PAYEE_TYPES and f.name not in _NOT_PAYEE_NAMES
    ]


@dataclass(frozen=True)
class TotalRow:
    """A control-total row: its Excel row, label, kind, amount text, and the payee rows it
    covers as positions ``start:stop`` of the table once skipped rows are taken out."""

    row: int
    label: str
    kind: Literal["total", "subtotal"]
    amount_text: str
    start: int
    stop: int
    text: str


@dataclass
class Found:
    """What :func:`find` found: footer rows (as skipped rows) and control-total rows."""

    footers: list[SkippedRow] = field(default_factory=list)
    totals: list[TotalRow] = field(default_factory=list)

    @property
    def rows(self) -> set[int]:
        return {s.row for s in self.footers} | {t.row for t in self.totals}


@dataclass
class _Row:
    position: int
    row: int
    cells: list[tuple[str, str]]  # (frame column, stripped text), non-empty cells only

    @property
    def text(self) -> str:
        shown = " | ".join(text for _, text in self.cells)
        return shown if len(shown) <= 120 else shown[:119] + "…"


def find(table: Table) -> Found:
    """The totals and footers of ``table`` (see the module docstring)."""
    frame = table.frame
    n = len(frame)
    if not n:
        return Found()
    # Fields filled by --set are on every row, totals too: they say nothing about a row.
    payee = [
        f
        for f in payee_fields(table.kind)
        if f.name in table.field_headers and f.name not in table.derived
    ]
    examine = sorted(set(_total_candidates(table, payee)) | set(range(max(0, n - TAIL_ROWS), n)))
    rows = _rows(table, examine)
    payee_names = {f.name for f in payee}
    amount = table.kind.amount_field
    data = {r.position: _payee_cells(r, payee_names) for r in rows}
    totals = [r for r in rows if not data[r.position] and _label(r) is not None]
    footers = _footers(rows, data, totals, n, amount)
    position_of = {r.row: r.position for r in rows}
    skipped = {t.position for t in totals} | {position_of[s.row] for s in footers}
    return Found(footers, _coverage(table, totals, skipped, amount))


def _total_candidates(table: Table, payee: list[Field]) -> list[int]:
    """Positions of rows that may be control totals: at most one identifier cell filled, and
    some cell starting with a total word — vectorised, so a normal sheet costs a few
    ``== ""`` passes."""
    frame = table.frame
    strict = [f.name for f in payee if f.type not in _LABEL_TYPES] or [f.name for f in payee]
    if not strict:
        return []
    blank = np.zeros(len(frame), dtype=np.uint8)  # blank identifier cells per row
    for name in strict:
        empty = pc.equal(normalize.as_arrow(frame[name]), "")
        blank += np.asarray(empty.to_numpy(zero_copy_only=False), dtype=bool)
    positions = np.flatnonzero(blank >= len(strict) - 1)
    if not len(positions):
        return []
    take = pa.array(positions)
    hit = np.zeros(len(positions), dtype=bool)
    for column in frame.columns:
        cells = normalize.as_arrow(frame[column]).take(take)
        found = pc.match_substring_regex(cells, _TOTAL_RE2, ignore_case=True)
        hit |= np.asarray(found.to_numpy(zero_copy_only=False), dtype=bool)
    return [int(p) for p in positions[hit]]


def _rows(table: Table, positions: list[int]) -> list[_Row]:
    frame = table.frame
    if not positions:
        return []
    part = frame.iloc[positions]
    columns = _sheet_order(table)
    values = {c: [str(v) for v in part[c].tolist()] for c in columns}
    out = []
    for i, (position, row) in enumerate(zip(positions, part.index.tolist(), strict=True)):
        cells = [(c, values[c][i].strip()) for c in columns]
        out.append(_Row(position, int(row), [(c, t) for c, t in cells if t]))
    return out


def _sheet_order(table: Table) -> list[str]:
    """The frame's columns in the sheet's own order (fields under their header's place)."""
    frame = table.frame
    field_of = {header: f for f, header in table.field_headers.items()}
    order: list[str] = []
    for header in table.source.headers:
        for key in (field_of.get(header), header, f"{header} (extra)"):
            if key is not None and key in frame.columns and key not in order:
                order.append(key)
                break
    return order + [str(c) for c in frame.columns if c not in order and c not in table.derived]


def _label(row: _Row) -> str | None:
    for _, text in row.cells:
        if _TOTAL.match(text):
            return text
    return None


def _marker(text: str) -> str | None:
    for what, pattern in _MARKERS:
        if pattern.match(text):
            return what
    return None


def _payee_cells(row: _Row, payee: set[str]) -> set[str]:
    """The payee columns of ``row`` holding something other than a total's or a footer's
    label."""
    return {
        column
        for column, text in row.cells
        if column in payee and not _TOTAL.match(text) and _marker(text) is None
    }


def _footers(
    rows: list[_Row],
    data: dict[int, set[str]],
    totals: list[_Row],
    n: int,
    amount: str | None,
) -> list[SkippedRow]:
    """Sign-off and note rows at the end, and the rows without payee data below the first
    of them or below the last total (when no payee follows that total)."""
    tail = [r for r in rows if r.position >= n - TAIL_ROWS]
    total_at = {t.position for t in totals}
    start = next(
        (
            r.position
            for r in tail
            if r.position not in total_at
            and not data[r.position]
            and any(_marker(text) for _, text in r.cells)
        ),
        None,
    )
    if totals and not any(data[r.position] for r in tail if r.position > totals[-1].position):
        after_total = totals[-1].position + 1
        start = after_total if start is None else min(start, after_total)
    if start is None:
        return []
    out: list[SkippedRow] = []
    signed = False
    for r in tail:
        if r.position < start or r.position in total_at:
            continue
        what = next((m for _, text in r.cells if (m := _marker(text))), None)
        signed = signed or what == "sign-off"
        if data[r.position]:
            # A signatory's name under "Disetujui oleh", in whichever column the line was:
            # names only (no digit, no @: no phone, email or account), no amount.
            if not (signed and _names_only(r, amount)):
                continue
            what = "signatory"
        reason = f"{what} {_quote(r)}" if what else "below the table, no payee data"
        out.append(SkippedRow(r.row, "footer", reason, r.text))
    return out


def _names_only(row: _Row, amount: str | None) -> bool:
    return all(
        column != amount and not _NOT_A_NAME.search(text) and _LETTER.search(text)
        for column, text in row.cells
    )


def _quote(row: _Row) -> str:
    first = next((text for _, text in row.cells if _marker(text)), row.cells[0][1])
    return repr(first if len(first) <= 40 else first[:39] + "…")


def _coverage(
    table: Table, totals: list[_Row], skipped: set[int], amount: str | None
) -> list[TotalRow]:
    """Each total row's kind and the payee rows it covers (positions in the table once the
    skipped rows are taken out)."""
    n = len(table.frame)
    if not totals:
        return []
    kept = np.ones(n, dtype=np.int64)
    kept[list(skipped)] = 0
    kept_before = np.cumsum(kept)  # kept rows up to and including position i
    payees = int(kept_before[-1]) if n else 0
    out: list[TotalRow] = []
    group_start = 0
    for i, t in enumerate(totals):
        label = _label(t) or ""
        before = int(kept_before[t.position])  # kept rows above this one (it is skipped)
        later_total = i + 1 < len(totals)
        grand = bool(_IS_GRAND.match(label)) or not (
            _IS_SUB.match(label) or later_total or before < payees
        )
        if grand:
            start, stop = 0, before
            if before == 0 and payees and not later_total:  # a total above the rows
                stop = payees
        else:
            start, stop = group_start, before
        group_start = before
        text = dict(t.cells).get(amount, "") if amount else ""
        kind: Literal["total", "subtotal"] = "total" if grand else "subtotal"
        out.append(TotalRow(t.row, label, kind, text, start, stop, t.text))
    return out


def without_skipped(table: Table, rows: set[int]) -> Table:
    """``table`` without ``rows`` (Excel row numbers), and without the loader's problems on
    them (a merged "TOTAL" label, the SUM formula under it: not about a payee)."""
    if not rows:
        return table
    frame: pd.DataFrame = table.frame
    keep = ~frame.index.isin(list(rows))
    kept = [p for p in table.problems if p.row is None or p.row not in rows]
    return replace(table, frame=frame[keep], problems=kept)
