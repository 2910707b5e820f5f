"""The journal: a SQLite file that is written *before* the wire (docs/safety.md §1).

Three tables — ``runs``, ``rows`` (one state machine per input row), ``events`` (append-only
audit trail) — and one rule for every change of a row's state: :func:`check_transition`.

Durability: every connection sets ``journal_mode=WAL`` and ``synchronous=FULL`` (docs/safety.md:
"set on every connection"), so a commit that returned is on disk and survives kill -9 or a
power cut. :class:`JournalWriter` is the group-commit writer the runner's workers share: it
commits the changes queued by many workers in one transaction (one fsync), and each worker
waits for *its* change to be committed before it touches the socket.

A run is locked with ``fcntl.flock`` on a file beside the ledger (:class:`RunLock`): the
kernel drops the lock when the process dies, so a crashed run never needs a manual unlock,
and a second live process on the same run gets :class:`~batchpay.errors.RunLocked` before it
sends anything. (POSIX only; ``flock`` is not reliable on NFS — keep the ledger on local disk.)

Opening never creates a journal by accident: only ``Ledger(path, create=True)`` (``batchpay
run``) makes one (0600, in 0700 directories); elsewhere a missing or empty journal is
:class:`~batchpay.errors.JournalMissing`. ``read_only=True`` reads a journal on a read-only
file or disk without writing. Every storage fault (disk full, read-only, damaged file) becomes
one :class:`~batchpay.errors.JournalError` in :mod:`~batchpay.ledger.faults`.

The package, by seam: :mod:`~batchpay.ledger.model` (states, transitions, identities, change
records), :mod:`~batchpay.ledger.store` (the file, runs, reads), :mod:`~batchpay.ledger.sql`
(statements shared by the store and the writer), :mod:`~batchpay.ledger.writer` (group
commit), :mod:`~batchpay.ledger.lock` (one process per run), :mod:`~batchpay.ledger.faults`
(storage faults → JournalError).
"""

from __future__ import annotations

from batchpay.ledger.lock import RunLock
from batchpay.ledger.model import (
    ACCEPTED_STATES,
    FINAL_STATES,
    NOT_EXECUTED_REASONS,
    OPEN_STATES,
    REFERENCE_FREE_STATES,
    REQUEST_ID_NAMESPACE,
    SCHEMA_VERSION,
    WIB,
    Clock,
    IllegalTransition,
    NewRow,
    Repeat,
    RepeatedReferences,
    RowChange,
    SeenReference,
    check_transition,
    current_operator,
    iso,
    new_run_id,
    request_id_for,
    utc_now,
)
from batchpay.ledger.sql import apply_change
from batchpay.ledger.store import Ledger
from batchpay.ledger.writer import JournalWriter

__all__ = [
    "ACCEPTED_STATES",
    "FINAL_STATES",
    "NOT_EXECUTED_REASONS",
    "OPEN_STATES",
    "REFERENCE_FREE_STATES",
    "REQUEST_ID_NAMESPACE",
    "SCHEMA_VERSION",
    "WIB",
    "Clock",
    "IllegalTransition",
    "JournalWriter",
    "Ledger",
    "NewRow",
    "Repeat",
    "RepeatedReferences",
    "RowChange",
    "RunLock",
    "SeenReference",
    "apply_change",
    "check_transition",
    "current_operator",
    "iso",
    "new_run_id",
    "request_id_for",
    "utc_now",
]
