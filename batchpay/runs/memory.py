"""Giving freed memory back to the operating system once a run is journaled (issue 12).

The sheet, its validation and the plan are dropped as soon as every row is in the journal
(:func:`batchpay.runs.service.start`). Freed, their memory still stays with the process:
Arrow's allocator keeps freed blocks for reuse, and so does the C library's ``malloc``. A
100,000-row run would carry ~100 MB of them through a sending phase of minutes and the
workbook. Handing them back costs well under a millisecond.
"""

from __future__ import annotations

import contextlib
import ctypes
import sys
from collections.abc import Callable
from functools import cache


def release_freed_memory() -> None:
    """Return freed memory to the operating system (best effort: never raises)."""
    arrow = sys.modules.get("pyarrow")  # only if the sheet was read with it
    if arrow is not None:
        with contextlib.suppress(Exception):
            arrow.default_memory_pool().release_unused()
    trim = _malloc_trim()
    if trim is not None:
        with contextlib.suppress(Exception):
            trim(0)


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim`` (None elsewhere: macOS, musl, Windows)."""
    try:
        trim: Callable[[int], int] = ctypes.CDLL(None).malloc_trim
    except (AttributeError, OSError, TypeError):
        return None
    return trim
