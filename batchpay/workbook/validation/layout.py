"""Which columns the Rows sheet shows, in the sheet's own order, and where each problem's cell
is."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from batchpay.normalize import as_arrow

if TYPE_CHECKING:
    from batchpay.validate import ValidationResult

_NORMALISED = " (normalised)"


class Layout:
    """Which sheet columns the Rows sheet shows, and where each problem's cell is."""

    def __init__(self, result: ValidationResult) -> None:
        table = result.table
        frame = table.frame
        header_of = {field: header for field, header in table.field_headers.items()}
        field_of_header = {header: field for field, header in header_of.items()}
        kind = table.kind
        # The sheet's own column order, so the report looks like the file the user knows.
        keys: list[str] = []
        for header in table.source.headers:
            key = field_of_header.get(header, header)
            if key in frame.columns and key not in keys:
                keys.append(key)
        for key in frame.columns:
            if key not in keys and (key in header_of or key not in kind.field_names):
                keys.append(str(key))
        self.titles: list[str] = ["Row", "Status"]
        self.sources: list[tuple[str, str]] = []  # ("original"|"normalised", key)
        normalised = result.normalised
        for key in keys:
            self.titles.append(header_of.get(key, key))
            self.sources.append(("original", key))
            if (
                key in kind.field_names
                and key in normalised.columns
                # The amount always gets its normalised twin: a number with a thousands
                # format the accountant can sum, whatever text the sheet held.
                and (key == kind.amount_field or _differs(frame[key], normalised[key]))
            ):
                self.titles.append(f"{key}{_NORMALISED}")
                self.sources.append(("normalised", key))
        # A problem's column may be the field name or the header as written.
        self.position: dict[str, int] = {}
        for i, (what, key) in enumerate(self.sources):
            if what == "original":
                self.position[key] = i + 2
                if key in header_of:
                    self.position.setdefault(header_of[key], i + 2)


def _differs(original: Any, normalised: Any) -> bool:
    """Whether normalising changed any valid value (invalid ones normalise to '')."""
    a, b = as_arrow(original), as_arrow(normalised)
    # Only cells whose text changed at all can differ by more than surrounding spaces.
    changed = np.flatnonzero(
        pc.and_(pc.not_equal(b, ""), pc.not_equal(a, b)).to_numpy(zero_copy_only=False)
    )
    for start in range(0, len(changed), 1000):
        positions = pa.array(changed[start : start + 1000])
        for x, y in zip(a.take(positions).to_pylist(), b.take(positions).to_pylist(), strict=True):
            if x.strip() != y:
                return True
    return False
