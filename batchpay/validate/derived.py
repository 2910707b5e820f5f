"""Constant and derived columns (``--set FIELD=VALUE``, a profile's ``[kind.set]``), and the
one place a sheet is loaded with a profile.

A value becomes that field's real cell in every row before validation, so every rule applies
to it (length limits, duplicates). ``{Header}`` placeholders are filled from the row's own
cells, so a reference made this way is a pure function of the row: re-uploading a corrected
sheet gives a person already paid the same reference, and the journal refuses it again.
Built per placeholder with pyarrow kernels, never a Python loop over the rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from batchpay.errors import UsageError
from batchpay.problems import Problem, sort_key
from batchpay.profile import Profile, SheetOptions, field_key, parse_template
from batchpay.profile import effective as effective_options

if TYPE_CHECKING:
    import pandas as pd

    from batchpay.headers import Table

# A template whose placeholder cell is empty makes no value: the row gets this error instead
# of a half-made reference ("BNS-2612-") that would look valid.
SET_BLANK_CELL = "set-blank-cell"
SET_LABEL = "{field} (set)"


def load_with_options(
    path: str | Path, options: SheetOptions, profile: Profile | None = None
) -> tuple[Table, SheetOptions]:
    """Load ``path`` as ``options`` say, with ``profile``'s section for the sheet's kind
    underneath; apply the set values. Returns the table and the options in effect."""
    from batchpay.headers import load_table, resolve

    options = _normalised(options)
    effective = effective_options(profile, options)
    if effective is None and profile is not None:
        # Several sections: the sheet's kind picks one. Fields any section sets count as
        # present, so a sheet without its sender or reference column is still recognised.
        probe = load_table(
            path,
            sheet=options.sheet,
            mapping=dict(options.mapping) or None,
            provided=profile.provided() | set(options.set_values),
        )
        effective = profile.merged(probe.kind.name, options)
        if effective.sheet == options.sheet:
            table = resolve(
                probe.source,
                kind=effective.kind,
                mapping=dict(effective.mapping) or None,
                provided=set(effective.set_values),
            )
            return apply_set_values(table, effective.set_values), effective
    effective = effective or options
    table = load_table(
        path,
        kind=effective.kind,
        sheet=effective.sheet,
        mapping=dict(effective.mapping) or None,
        provided=set(effective.set_values),
    )
    return apply_set_values(table, effective.set_values), effective


def _normalised(options: SheetOptions) -> SheetOptions:
    return replace(options, set_values={field_key(k): v for k, v in options.set_values.items()})


def apply_set_values(table: Table, set_values: Mapping[str, str] | None) -> Table:
    """``table`` with each field of ``set_values`` filled from its template. Raises
    :class:`UsageError` for a field the kind does not have, a field the sheet already has a
    column for, or a placeholder that names no column."""
    if not set_values:
        return table
    name = table.source.path.name
    kind = table.kind
    frame = table.frame.copy(deep=False)
    field_headers = dict(table.field_headers)
    problems = list(table.problems)
    for raw_field, template in set_values.items():
        field = field_key(raw_field)
        if field not in kind.field_names:
            raise UsageError(
                f"{name}: --set names {raw_field!r}, which a {kind.name} sheet does not have",
                hint=f"{kind.name} fields: {', '.join(kind.field_names)}",
            )
        if field in field_headers:
            # Replacing a column the sheet has would change references already paid.
            raise UsageError(
                f"{name}: --set {field}: the sheet already has a column for it "
                f"({field_headers[field]!r})",
                hint=f"drop --set {field} (or its profile line), or remove the column",
            )
        values, blank = _fill(table, field, template)
        frame[field] = values
        field_headers[field] = SET_LABEL.format(field=field)
        problems.extend(_blank_problems(table, field, template, blank))
    problems.sort(key=sort_key)
    derived = {**table.derived, **{field_key(f): t for f, t in set_values.items()}}
    return replace(
        table, frame=frame, field_headers=field_headers, problems=problems, derived=derived
    )


def _fill(table: Table, field: str, template: str) -> tuple[pd.Series, np.ndarray]:
    """The field's column from ``template`` (a ``str`` Series) and where a placeholder cell
    was blank."""
    from batchpay.normalize import TEXT, as_arrow, text_series

    try:
        parts = parse_template(template)
    except ValueError as exc:
        raise UsageError(
            f"{table.source.path.name}: --set {field}={template!r} has {exc}",
            hint="write placeholders as {Header}, a column of the sheet",
        ) from None
    index = table.frame.index
    if all(header is None for _, header in parts):
        constant = "".join(literal for literal, _ in parts)
        return text_series(pa.repeat(pa.scalar(constant, TEXT), len(index)), index), np.zeros(
            len(index), dtype=bool
        )
    pieces: list[pa.Array | pa.Scalar] = []
    for literal, header in parts:
        if literal:
            pieces.append(pa.scalar(literal, TEXT))
        if header is not None:
            cells = pc.utf8_trim_whitespace(
                as_arrow(table.source.frame[_column(table, field, header)])
            )
            # '' → null, so a row with any blank placeholder makes null (emit_null).
            pieces.append(pc.if_else(pc.equal(cells, ""), pa.scalar(None, TEXT), cells))
    joined = pc.binary_join_element_wise(*pieces, pa.scalar("", TEXT), null_handling="emit_null")
    blank = np.asarray(joined.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    return text_series(as_arrow(joined), table.frame.index), blank


def _column(table: Table, field: str, wanted: str) -> str:
    """The sheet column (its unique header) a placeholder names: exactly, then ignoring case
    and surrounding spaces, then ignoring punctuation as header matching does."""
    from batchpay.headers import fold

    raw = table.source
    originals = raw.original_headers or raw.headers
    for candidates, key in (
        (raw.headers, lambda s: s),
        (originals, lambda s: s.strip().casefold()),
        (originals, fold),
    ):
        keys = [key(h) for h in candidates]
        if keys.count(key(wanted)) == 1:
            return raw.headers[keys.index(key(wanted))]
    shown = ", ".join(repr(h) for h in originals if h)
    raise UsageError(
        f"{raw.path.name}: --set {field}: no column {{{wanted}}} in the sheet; its headers "
        f"are {shown}",
        hint="write the placeholder exactly as the header is written",
    )


def _blank_problems(table: Table, field: str, template: str, blank: np.ndarray) -> list[Problem]:
    positions = np.flatnonzero(blank)
    if not len(positions):
        return []
    headers = [h for _, h in parse_template(template) if h is not None]
    rows = table.frame.index.to_numpy()[positions]
    return [
        Problem(
            int(row),
            field,
            "",
            SET_BLANK_CELL,
            f"{field} is made from {template!r}, and this row's "
            f"{' / '.join(headers)} cell is empty",
            f"fill in {' / '.join(headers)} for this row",
        )
        for row in rows
    ]
