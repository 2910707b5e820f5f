"""The SQLite journal, batchpay's one :class:`~batchpay.journal.protocol.Journal` engine for
now. Three tables — ``runs``, ``rows`` (one state machine per input row), ``events``
(append-only audit trail) — in one file, WAL and ``synchronous=FULL`` on every connection.

By seam: :mod:`~batchpay.journal.sqlite.schema` (tables, creation, migration),
:mod:`~batchpay.journal.sqlite.file` (opening, connections, transactions),
:mod:`~batchpay.journal.sqlite.store` (:class:`SqliteJournal`: run writes and reads),
:mod:`~batchpay.journal.sqlite.reads` (chunked reads, snapshots),
:mod:`~batchpay.journal.sqlite.sql` (statements shared by the store and the writer),
:mod:`~batchpay.journal.sqlite.writer` (group commit), :mod:`~batchpay.journal.sqlite.lock`
(one process per run: ``flock`` beside the file), :mod:`~batchpay.journal.sqlite.faults`
(storage faults → JournalError).
"""

from __future__ import annotations

from batchpay.journal.sqlite.schema import SCHEMA_VERSION
from batchpay.journal.sqlite.store import SqliteJournal
from batchpay.journal.sqlite.writer import SqliteJournalWriter

__all__ = ["SCHEMA_VERSION", "SqliteJournal", "SqliteJournalWriter"]
