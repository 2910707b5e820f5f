"""The journal: every run, row and event, written *before* the wire (docs/safety.md §1).

Callers hold a :class:`Journal` (:mod:`~batchpay.journal.protocol`) and never the storage
behind it: :func:`open_journal` picks the engine from the location. SQLite
(:mod:`~batchpay.journal.sqlite`) is the embedded default; PostgreSQL
(:mod:`~batchpay.journal.postgres`, a ``postgresql://`` location) is the shared one, with the
same protocol (its lock is a journal operation too, not a file).

Records (:mod:`~batchpay.journal.records`) and identities (:mod:`~batchpay.journal.identities`)
are plain values the rest of batchpay shares; row states and the transition table are
:mod:`batchpay.states`.
"""

from __future__ import annotations

import os

from batchpay.config import is_database_url
from batchpay.journal.identities import (
    REQUEST_ID_NAMESPACE,
    WIB,
    Clock,
    current_operator,
    iso,
    new_run_id,
    request_id_for,
    utc_now,
)
from batchpay.journal.protocol import Journal, JournalWriter, Snapshot
from batchpay.journal.records import (
    DUPLICATE_REFERENCE,
    ApprovalRecord,
    EventRecord,
    NewRow,
    Repeat,
    RepeatedReferences,
    RowChange,
    RowRecord,
    RunRecord,
    SeenReference,
    StatusChange,
)


def open_journal(
    location: str | os.PathLike[str],
    *,
    create: bool = False,
    read_only: bool = False,
    clock: Clock = utc_now,
) -> Journal:
    """The journal at ``location``: a ``postgresql://`` (or ``postgres://``) URL opens the
    PostgreSQL journal (:mod:`~batchpay.journal.postgres`); anything else is the path of a
    SQLite file.

    ``create=True`` (only ``batchpay run``) makes a missing or empty journal (on PostgreSQL:
    batchpay's tables in an existing database); otherwise a missing one is
    :class:`~batchpay.errors.JournalMissing` — a journal that went missing is found, never
    silently replaced. ``read_only=True`` never writes (a journal on a read-only disk can
    still be read). Storage faults raise :class:`~batchpay.errors.JournalError`.
    """
    if is_database_url(location):
        from batchpay.journal.postgres import PostgresJournal

        return PostgresJournal(str(location), create=create, read_only=read_only, clock=clock)
    from batchpay.journal.sqlite import SqliteJournal

    return SqliteJournal(location, create=create, read_only=read_only, clock=clock)


__all__ = [
    "DUPLICATE_REFERENCE",
    "REQUEST_ID_NAMESPACE",
    "WIB",
    "ApprovalRecord",
    "Clock",
    "EventRecord",
    "Journal",
    "JournalWriter",
    "NewRow",
    "Repeat",
    "RepeatedReferences",
    "RowChange",
    "RowRecord",
    "RunRecord",
    "SeenReference",
    "Snapshot",
    "StatusChange",
    "current_operator",
    "iso",
    "new_run_id",
    "open_journal",
    "request_id_for",
    "utc_now",
]
