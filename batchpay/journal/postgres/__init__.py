"""The PostgreSQL journal (issue 14): the :class:`~batchpay.journal.protocol.Journal` of a team
that shares one database — several operators, one exactly-once truth. The same tables as the
SQLite journal (``runs``, ``rows``, ``events``, ``approvals``, ``plans``) plus
``batchpay_meta`` (the schema version), with the guarantees the database enforces itself:
Request-Ids UNIQUE, events and approvals append-only (triggers).

By seam: :mod:`~batchpay.journal.postgres.schema` (tables, version, triggers),
:mod:`~batchpay.journal.postgres.database` (opening, connections, transactions),
:mod:`~batchpay.journal.postgres.store` (:class:`PostgresJournal`),
:mod:`~batchpay.journal.postgres.approvals` (maker–checker; the principal is
``current_user``), :mod:`~batchpay.journal.postgres.reads` (server-side cursors, snapshots),
:mod:`~batchpay.journal.postgres.sql` (statements shared by the store and the writer),
:mod:`~batchpay.journal.postgres.writer` (group commit), :mod:`~batchpay.journal.postgres.lock`
(advisory lock per run), :mod:`~batchpay.journal.postgres.faults` (location without password;
server faults → JournalError).

``psycopg`` (3) is imported only once a PostgreSQL URL is opened: SQLite users never need it
(``pip install 'batchpay[postgres]'``).
"""

from __future__ import annotations

from batchpay.journal.postgres.faults import public_location
from batchpay.journal.postgres.schema import SCHEMA_VERSION
from batchpay.journal.postgres.store import PostgresJournal
from batchpay.journal.postgres.writer import PostgresJournalWriter

__all__ = [
    "SCHEMA_VERSION",
    "PostgresJournal",
    "PostgresJournalWriter",
    "public_location",
]
