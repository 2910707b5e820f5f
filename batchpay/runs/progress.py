"""What a service call reports while it works: a small callback protocol. The CLI draws a
tqdm bar and prints lines with it (:mod:`batchpay.cli.render`); a web page can stream the same
calls; tests record them. ``row_done`` comes from worker threads; every other call from the
thread that called the service.

Order for a run: ``planned`` → ``note``s → ``created`` → ``sending`` → ``row_done`` × n →
``sent`` (only when sending ended without an exception).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from batchpay.journal import RowRecord, RunRecord
    from batchpay.runs.plan import Plan


class RowProgress(Protocol):
    """What the engine reports: one call per row it settled."""

    def row_done(self, row: RowRecord, state: str) -> None: ...


class Progress(RowProgress, Protocol):
    """What a service call reports."""

    def note(self, text: str, *, warning: bool = False) -> None:
        """A line for the operator (``warning``: something they must read)."""

    def planned(self, plan: Plan, *, previous: Mapping[int, RowRecord] | None = None) -> None:
        """The plan about to be confirmed and sent (run, retry-failed; ``previous``: the
        parent's row each retried row replaces, by row number)."""

    def opened(self, run: RunRecord) -> None:
        """An existing run was loaded in its own environment (resume)."""

    def created(self, run: RunRecord) -> None:
        """The run is in the journal, every row PLANNED (nothing sent yet)."""

    def sending(self, run: RunRecord, *, total: int, desc: str) -> None:
        """Requests are about to go to DOKU (``total`` rows; 0 for status look-ups)."""

    def polled(self, rows: list[RowRecord]) -> None:
        """Between two status refreshes (follow with watch / until_final)."""

    def sent(self) -> None:
        """Talking to DOKU is over; the workbook comes next."""


class NullProgress:
    """Reports nothing."""

    def row_done(self, row: RowRecord, state: str) -> None:
        """Ignore progress."""

    def note(self, text: str, *, warning: bool = False) -> None:
        """Ignore progress."""

    def planned(self, plan: Plan, *, previous: Mapping[int, RowRecord] | None = None) -> None:
        """Ignore progress."""

    def opened(self, run: RunRecord) -> None:
        """Ignore progress."""

    def created(self, run: RunRecord) -> None:
        """Ignore progress."""

    def sending(self, run: RunRecord, *, total: int, desc: str) -> None:
        """Ignore progress."""

    def polled(self, rows: list[RowRecord]) -> None:
        """Ignore progress."""

    def sent(self) -> None:
        """Ignore progress."""
