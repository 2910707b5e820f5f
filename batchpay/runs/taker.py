"""Handing rows to the engine's workers: in order, one at a time, and — while a worker's
request is on the wire — its next row with that row's SENDING intent queued for the journal
(:meth:`batchpay.runs.engine.Engine.send_intent`)."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from batchpay.journal import JournalWriter, RowChange, RowRecord
from batchpay.states import State


class Stoppable(Protocol):
    def stopping(self) -> bool: ...


@dataclass
class Ahead:
    """The row a worker took while its current request is on the wire, and what it journals
    meanwhile: its held-back outcome and, for a PLANNED row, that row's SENDING intent.

    Called once the request is written, before its answer is read (the client's
    ``while_waiting``); :meth:`finish` runs it if the request never got that far and raises
    what the commit raised, on the worker's own path."""

    row: RowRecord
    journal: JournalWriter
    changes: list[RowChange]
    intent: bool  # the changes end with ``row``'s SENDING intent
    journaled: bool = False  # that intent is durable
    error: BaseException | None = None
    ran: bool = False

    def __call__(self) -> None:
        if self.ran:
            return
        self.ran = True
        if not self.changes:
            return
        try:
            self.journal.commit_all(self.changes)
        except BaseException as exc:  # raised by finish(), not inside the HTTP library
            self.error = exc
        else:
            self.journaled = self.intent

    def finish(self) -> None:
        self()
        if self.error is not None:
            error, self.error = self.error, None
            raise error


def intent_change(row: RowRecord, send: int) -> RowChange:
    """The SENDING intent of ``row``'s ``send``-th send in this execution."""
    return RowChange(
        run_id=row.run_id,
        row_number=row.row_number,
        new_state=State.SENDING,
        event="send",
        count_send=True,
        message=f"sending (send {row.sends + send})",
    )


class Taker:
    """Hands out the rows in order, one at a time, until they run out or the engine stops.
    ``check_first``: ask the engine whether it is stopping before looking for a row (so a
    stop that arrives after the last row was taken still halts it)."""

    def __init__(self, rows: Iterable[RowRecord], engine: Stoppable, *, check_first: bool) -> None:
        self._rows = iter(rows)  # a list, or pages read from the journal as they are needed
        self._engine = engine
        self._check_first = check_first
        self._lock = threading.Lock()
        self._ahead: RowRecord | None = None  # looked at, not handed out (stopping)

    def take(self) -> RowRecord | None:
        with self._lock:
            if self._check_first and self._engine.stopping():
                return None
            row = self._ahead if self._ahead is not None else next(self._rows, None)
            self._ahead = None
            if row is None:
                return None
            if not self._check_first and self._engine.stopping():
                self._ahead = row
                return None
            return row
