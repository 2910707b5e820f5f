"""Header matching: sheet headers → a kind's fields (aliases, ``--map``), and kind detection.

Each header is matched by meaning (:mod:`batchpay.header_match`: units, punctuation and a
leading "No." ignored, words matched, row counters and money look-alikes never fields). When
two columns name one field, the surer one wins (the field's own name, then an alias, then
more words covered); two equally sure are an error that gives the ``--map`` fix.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from batchpay.errors import InputError
from batchpay.header_match import assign_fields, detect_kind, exact_field, fold, row_score
from batchpay.kinds import KINDS, Kind
from batchpay.problems import Problem, sort_key
from batchpay.sheet import RawSheet, load_sheet
from batchpay.sheet.grid import TEXT

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class Table:
    source: RawSheet
    kind: Kind
    # index = Excel row numbers; columns = every field of the kind (missing optional = ''),
    # then extra columns under their original header; all values str.
    frame: pd.DataFrame
    field_headers: dict[str, str]  # field name -> header as written in the sheet
    extra_columns: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    # field -> the --set / profile template its values were made from (validate/derived.py)
    derived: dict[str, str] = field(default_factory=dict)


# "8.16291E+11", "8,16291E+11" (Indonesian decimal comma), "1E10": what Excel leaves behind
# when a long number was displayed in scientific notation and then saved or copied as text.
# The phone and digits normalisers (batchpay/normalize) already report scientific-notation text;
# flagging it here too would list the same (row, column, code) twice.
_NORMALISER_FLAGS_SCIENTIFIC = frozenset({"phone", "digits"})
_SCIENTIFIC = re.compile(r"\s*[+-]?\d+(?:[.,]\d+)?[eE][+-]?\d+\s*")


def match_field(kind: Kind, header: str) -> str | None:
    """The field of ``kind`` a sheet header names by its exact spelling (case, spaces and
    punctuation aside), or None. Matching by meaning is :func:`batchpay.header_match.match`."""
    return exact_field(kind, header)


def load_table(
    path: str | Path,
    *,
    kind: str | None = None,
    sheet: str | None = None,
    mapping: Mapping[str, str] | None = None,
    provided: Collection[str] | None = None,
    on_parse: Callable[[], None] | None = None,
) -> Table:
    """Load a sheet and resolve its headers: :func:`load_sheet` then :func:`resolve`.
    ``on_parse``: see :func:`load_sheet`."""
    mapped = {fold(h) for h in (mapping or {})}

    def score(cells: Sequence[str]) -> int:
        return row_score(cells) + sum(1 for c in cells if c and fold(c) in mapped)

    raw = load_sheet(path, sheet=sheet, header_scorer=score, on_parse=on_parse)
    return resolve(raw, kind=kind, mapping=mapping, provided=provided)


def resolve(
    raw: RawSheet,
    *,
    kind: str | None = None,
    mapping: Mapping[str, str] | None = None,
    provided: Collection[str] | None = None,
) -> Table:
    """Match the sheet's headers to a kind's fields and build the :class:`Table`.

    Raises :class:`InputError` for an unknown kind, an unknown header or field in
    ``mapping``, an undetectable kind, missing required columns or two columns for one field.
    Fields in ``provided`` (filled by ``--set``, validate/derived.py) count as present.
    """
    name = raw.path.name
    forced = _forced_kind(name, kind)
    mapped = _apply_mapping(raw, mapping or {}, forced)
    given = frozenset(provided or ())
    chosen = forced or detect_kind(raw, mapped, given)
    assign = assign_fields(name, chosen, raw, mapped)
    _require(name, chosen, assign, given)

    import pandas as pd  # not at import time: see batchpay/cli/sheets.py

    index = pd.Index(raw.row_index_values(), dtype="int64", name="row")
    # The loader's columns as they are (pyarrow-backed str: no copy, no Python objects).
    columns: dict[str, pd.Series] = {}
    field_headers: dict[str, str] = {}
    for f in chosen.fields:
        if f.name in assign:
            header = raw.headers[assign[f.name]]
            field_headers[f.name] = header
            columns[f.name] = _text_column(raw.frame[header], index)
        else:
            columns[f.name] = pd.Series(
                pa.repeat(pa.scalar("", TEXT), len(index)), index=index, dtype="str"
            )
    used = set(assign.values())
    extras: list[str] = []
    for i, header in enumerate(raw.headers):
        if i in used:
            continue
        label = header if header not in columns else f"{header} (extra)"
        extras.append(label)
        columns[label] = _text_column(raw.frame[header], index)
    frame = pd.DataFrame(columns, index=index, copy=False)

    to_field = {header: f for f, header in field_headers.items()}
    problems = [_rekey(p, to_field) for p in raw.problems]
    problems.extend(_identifier_problems(chosen, raw, frame, field_headers))
    problems.sort(key=sort_key)
    return Table(
        source=raw,
        kind=chosen,
        frame=frame,
        field_headers=field_headers,
        extra_columns=extras,
        problems=problems,
    )


def _require(file_name: str, kind: Kind, assign: Mapping[str, int], given: frozenset[str]) -> None:
    """Every required field has a column, or is ``given`` (``--set``)."""
    missing = [f for f in kind.required_names if f not in assign and f not in given]
    if missing:
        raise InputError(
            f"{file_name}: missing column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)} for a {kind.name} sheet",
            hint="add the column, rename a header (see `batchpay template "
            f"{kind.name}`), use --map 'Header In Sheet=field', or give the values with "
            "--set FIELD=VALUE",
        )


def _text_column(column: pd.Series, index: pd.Index) -> pd.Series:
    """``column`` re-indexed by Excel row number, as a ``str`` column (values untouched)."""
    import pandas as pd

    if column.dtype == "str":
        return pd.Series(column.array, index=index, copy=False)
    return pd.Series(column.to_numpy(dtype=object), index=index, dtype=object)


def _forced_kind(file_name: str, kind: str | None) -> Kind | None:
    if kind is None:
        return None
    if kind in KINDS:
        return KINDS[kind]
    raise InputError(
        f"{file_name}: unknown kind {kind!r}", hint=f"use --kind with one of {', '.join(KINDS)}"
    )


def _apply_mapping(
    raw: RawSheet, mapping: Mapping[str, str], forced: Kind | None
) -> dict[int, str]:
    """``{"Header In Sheet": "field"}`` → {column index: field name}, checked."""
    name = raw.path.name
    originals = raw.original_headers or raw.headers
    kinds = [forced] if forced else list(KINDS.values())
    valid = sorted({f.name for k in kinds for f in k.fields})
    out: dict[int, str] = {}
    for header, field_name in mapping.items():
        index = _find_header(raw.headers, originals, header)
        if index is None:
            shown = ", ".join(repr(h) for h in raw.headers)
            raise InputError(
                f"{name}: --map names a column {header!r} that is not in the sheet",
                hint=f"the sheet's columns are {shown}",
            )
        wanted = field_name.strip().casefold().replace("-", "_").replace(" ", "_")
        if wanted not in valid:
            what = f"{forced.name} fields" if forced else "fields"
            raise InputError(
                f"{name}: --map names an unknown field {field_name!r}",
                hint=f"valid {what}: {', '.join(valid)}",
            )
        if wanted in out.values():
            raise InputError(
                f"{name}: --map maps two columns to {wanted}",
                hint="map each field from exactly one column",
            )
        out[index] = wanted
    return out


def _find_header(headers: list[str], originals: list[str], wanted: str) -> int | None:
    for candidates, key in (
        (headers, lambda s: s),
        (originals, lambda s: s.strip().casefold()),
        (originals, fold),
    ):
        keys = [key(h) for h in candidates]
        target = key(wanted)
        if keys.count(target) == 1:
            return keys.index(target)
    return None


def _rekey(p: Problem, to_field: Mapping[str, str]) -> Problem:
    if p.column is None or p.column not in to_field:
        return p
    return Problem(p.row, to_field[p.column], p.value, p.code, p.message, p.hint, p.severity)


def _identifier_problems(
    kind: Kind, raw: RawSheet, frame: pd.DataFrame, field_headers: Mapping[str, str]
) -> list[Problem]:
    """Number cells and scientific-notation text in identifier columns (lost digits)."""
    out: list[Problem] = []
    for f in kind.fields:
        if not f.identifier or f.name not in field_headers:
            continue
        header = field_headers[f.name]
        numeric = raw.numeric_cells.get(header, set())
        scientific = raw.scientific_cells.get(header, set())
        values = frame[f.name]
        for row in sorted(numeric):
            value = str(values.at[row])
            if row in scientific:
                out.append(
                    Problem(
                        row,
                        f.name,
                        value,
                        "scientific-notation",
                        "Excel stores this as a number and shows it as scientific notation "
                        "(like 8.16291E+11); leading zeros are lost and copying or saving as CSV "
                        "cuts the digits",
                        "format the column as Text (Format Cells → Text) and retype the full "
                        "number",
                    )
                )
            else:
                out.append(
                    Problem(
                        row,
                        f.name,
                        value,
                        "numeric-identifier",
                        "this cell is stored as a number in Excel, so leading zeros (0816…, "
                        "0123…) may already be lost",
                        "format the column as Text (Format Cells → Text) and retype the value, "
                        "or type an apostrophe first: '0816…",
                    )
                )
        if f.type in _NORMALISER_FLAGS_SCIENTIFIC:
            continue
        for row, text in _scientific_text(frame[f.name]):
            if row in numeric:
                continue
            out.append(
                Problem(
                    row,
                    f.name,
                    text,
                    "scientific-notation",
                    "looks like Excel turned the number into scientific notation; the real digits "
                    "are gone",
                    "format the column as Text (Format Cells → Text) and retype the full number",
                )
            )
    return out


def _scientific_text(column: pd.Series) -> list[tuple[int, str]]:
    """(row, text) of the cells that look like scientific notation. The pattern needs an
    "e"/"E", so only cells containing one reach the (Unicode-aware, like Python's ``\\d`` and
    ``\\s``) regex; on a million-row column that is a handful of cells."""
    from batchpay.normalize import as_arrow

    cells = as_arrow(column)
    positions = _cells_with_e(cells)
    if not len(positions):
        return []
    rows = column.index.to_numpy()[positions]
    texts = cells.take(pa.array(positions)).to_pylist()
    return [(int(r), t) for r, t in zip(rows, texts, strict=True) if _SCIENTIFIC.fullmatch(t)]


def _cells_with_e(cells: pa.Array) -> np.ndarray:
    """Positions of the cells holding an ASCII "e" or "E", found in the column's bytes at once
    (no byte of a UTF-8 multibyte character is ASCII, so a byte 'e' is the letter)."""
    if cells.type != pa.large_string():
        has_e = pc.match_substring(cells, "e", ignore_case=True).to_numpy(zero_copy_only=False)
        return np.flatnonzero(has_e)
    _, offsets_buffer, data_buffer = cells.buffers()
    if data_buffer is None or offsets_buffer is None:
        return np.zeros(0, dtype=np.intp)
    offsets = np.frombuffer(offsets_buffer, dtype=np.int64)
    offsets = offsets[cells.offset : cells.offset + len(cells) + 1]
    data = np.frombuffer(data_buffer, dtype=np.uint8)[offsets[0] : offsets[-1]]
    hits = np.flatnonzero((data == ord("e")) | (data == ord("E"))) + offsets[0]
    found = np.zeros(len(cells), dtype=bool)
    found[np.searchsorted(offsets, hits, side="right") - 1] = True
    return np.flatnonzero(found)
