"""What the rest of batchpay may ask of a journal: the :class:`Journal` protocol.

The journal is written *before* the wire (docs/safety.md §1): a run with every row PLANNED,
its Request-Id and exact body stored; then one :class:`~batchpay.journal.records.RowChange`
per transition, each checked by :func:`batchpay.states.check_transition` and committed with
its event. Callers never see the storage: no file path, no connection, no SQL. A message names
the journal by :attr:`Journal.location` (a SQLite file's path, or a PostgreSQL URL without its
password).

An implementation must keep these promises:

* **Durable before it returns**: ``apply``, ``add_event``, ``finish_run``, ``create_run`` and
  :meth:`JournalWriter.commit` / :meth:`JournalWriter.commit_all` return only once the change
  is on disk (it survives kill -9 and a power cut).
* **Repeats checked inside the write**: ``create_run`` refuses references an earlier run still
  holds (:class:`~batchpay.journal.records.RepeatedReferences`) in the same transaction that
  inserts the run, so two operators starting the same sheet cannot both pass; and a partial
  UNIQUE index on the rows that hold their reference live (``rows.holds``) refuses a second
  holder even if both read it free — that too is :class:`RepeatedReferences`, naming the
  holder, with nothing of the refused run journaled.
* **One process per run**: :meth:`Journal.lock` raises :class:`~batchpay.errors.RunLocked`
  while another process holds the run; a holder that dies frees it without clean-up. Workers
  hold it shared and divide the rows by claims with leases (:meth:`Journal.claim_rows`).
* **Storage faults are JournalErrors** (:class:`~batchpay.errors.JournalMissing`,
  ``JournalFull``, ``JournalReadOnly``, ``JournalCorrupt``) naming the journal and what to do.
* **Never created by accident**: opening a missing journal is ``JournalMissing`` unless the
  caller asked to create it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import AbstractContextManager
from typing import Any, Protocol

from batchpay.journal.records import (
    ApprovalRecord,
    EventRecord,
    NewRow,
    Repeat,
    RowChange,
    RowRecord,
    RunRecord,
    SeenReference,
    StatusChange,
)


class JournalWriter(Protocol):
    """Group commit for the sending workers: many workers' changes share one durable commit;
    each caller waits for *its* change. A change the state machine refuses fails alone."""

    def submit(self, change: RowChange) -> Future[None]:
        """Queue ``change``; the future completes once it is committed (or with why not)."""
        ...

    def commit(self, change: RowChange) -> None:
        """Queue ``change`` and return once it is durably committed (or raise why not)."""
        ...

    def commit_all(self, changes: Sequence[RowChange]) -> None:
        """Queue ``changes`` in order (usually one commit) and return once all are durable;
        raise the first one's failure."""
        ...

    def close(self) -> None: ...


class Snapshot(Protocol):
    """Chunked reads of one consistent journal state (:meth:`Journal.snapshot`)."""

    def iter_rows(
        self, run_id: str, *, data: bool = True, body: bool = True, chunk: int = 5000
    ) -> Iterator[RowRecord]: ...

    def iter_events(self, run_id: str, *, chunk: int = 5000) -> Iterator[EventRecord]: ...


class Journal(Protocol):
    """The journal of runs, rows and events (see the module docstring for its promises)."""

    @property
    def location(self) -> str:
        """Where the journal is, for messages (never a password)."""
        ...

    @property
    def read_only(self) -> bool: ...

    # --- writes -------------------------------------------------------------------------

    def create_run(
        self,
        *,
        kind: str,
        product: str,
        env: str,
        input_path: str | os.PathLike[str],
        input_sha256: str,
        rows: Sequence[NewRow],
        settings: dict[str, Any],
        dry_run: bool = False,
        parent_run_id: str | None = None,
        operator: str | None = None,
        run_id: str | None = None,
        allow_repeat: bool = False,
        exclude_run_ids: Iterable[str] = (),
        status: str = "OPEN",
        expires_at: str | None = None,
        input_name: str | None = None,
    ) -> RunRecord:
        """A new run, every row PLANNED with its Request-Id and exact body, in one commit
        (``status`` AWAITING_APPROVAL for a submitted run, docs/safety.md §9). ``input_name``:
        the sheet's name as its user knows it (a web upload is stored under a random name);
        default the name of ``input_path``."""
        ...

    def apply(self, change: RowChange) -> None:
        """Journal one change durably on its own (workers use :meth:`writer`)."""
        ...

    def add_event(
        self, run_id: str, type_: str, detail: str, *, row_number: int | None = None
    ) -> None: ...

    def finish_run(self, run_id: str) -> None:
        """Mark the run finished (no row left to send or resolve); idempotent."""
        ...

    def release_references(self, run_id: str, type_: str, detail: str) -> None:
        """The run's rows stop holding their references live (the unique index), with the
        event ``type_`` in the same transaction: ``batchpay emulator reset`` forgot the run."""
        ...

    def writer(self) -> AbstractContextManager[JournalWriter]:
        """The group-commit writer; closing it commits what is still queued."""
        ...

    def lock(self, run_id: str, *, shared: bool = False) -> AbstractContextManager[None]:
        """Hold ``run_id`` for this process (:class:`~batchpay.errors.RunLocked` if held).
        ``shared``: workers of one run hold it together; an exclusive holder (``run``,
        ``resume``, a single-process ``send``) never runs beside them."""
        ...

    # --- workers' claims (issue 14, docs/safety.md §10) -----------------------------------

    def claim_rows(
        self, run_id: str, worker: str, *, limit: int, lease_seconds: float
    ) -> list[RowRecord]:
        """Atomically claim up to ``limit`` open rows nobody holds (or whose lease ran out)
        for ``worker`` until now + ``lease_seconds``: SENDING/UNKNOWN first, then PLANNED in
        row order. Two claimers never get the same row. Lean records (``data=False``)."""
        ...

    def renew_claims(self, run_id: str, worker: str, lease_seconds: float) -> int:
        """Extend ``worker``'s live leases on open rows; how many. An expired lease is never
        extended (the row may be someone else's now)."""
        ...

    def release_claims(self, run_id: str, worker: str) -> int:
        """Give back all of ``worker``'s claims on the run; how many."""
        ...

    def held_by_others(self, run_id: str, worker: str) -> int:
        """Open rows of the run another worker holds under a live lease."""
        ...

    def state_counts(self, run_id: str) -> dict[str, int]:
        """Rows of the run per state (a cheap count for progress)."""
        ...

    # --- maker–checker (docs/safety.md §9) ------------------------------------------------

    def principal(self) -> str:
        """Who is using the journal: the OS login for SQLite, the database role
        (``current_user``) for PostgreSQL. Approvals are recorded under this name."""
        ...

    def seal_plan(self, run_id: str, digest: str, manifest: bytes) -> RunRecord:
        """Store a submitted run's plan digest and manifest (once) with its ``submit`` event."""
        ...

    def plan_manifest(self, run_id: str) -> bytes | None: ...

    def change_status(self, change: StatusChange) -> RunRecord:
        """Change a run's status atomically with its event and decision; refused
        (NotAwaitingApproval) when the run is no longer in ``change.expected``."""
        ...

    def approvals(self, run_id: str) -> list[ApprovalRecord]: ...

    # --- reads --------------------------------------------------------------------------

    def run(self, run_id: str) -> RunRecord:
        """The run (:class:`~batchpay.errors.RunNotFound` if there is none)."""
        ...

    def runs(self, *, limit: int | None = None) -> list[RunRecord]:
        """Newest first."""
        ...

    def runs_for_month(self, month: str) -> list[RunRecord]:
        """Runs created in ``YYYY-MM`` in Jakarta time (WIB), oldest first."""
        ...

    def children(self, run_id: str) -> list[RunRecord]:
        """The retry-failed runs made from ``run_id``, oldest first."""
        ...

    def rows(
        self,
        run_id: str,
        *,
        states: Iterable[str] | None = None,
        data: bool = True,
        after: int | None = None,
        limit: int | None = None,
    ) -> list[RowRecord]:
        """Rows in row order; ``data=False`` leaves ``input`` and ``normalised`` empty;
        ``after`` and ``limit``: at most ``limit`` rows numbered above ``after`` (a page)."""
        ...

    def iter_rows(
        self, run_id: str, *, data: bool = True, body: bool = True, chunk: int = 5000
    ) -> Iterator[RowRecord]: ...

    def iter_events(self, run_id: str, *, chunk: int = 5000) -> Iterator[EventRecord]: ...

    def source_accounts(self, run_id: str) -> list[str]:
        """The distinct source Sub Accounts of the run's rows, sorted (none for kinds
        without one)."""
        ...

    def snapshot(self) -> AbstractContextManager[Snapshot]:
        """Several passes over rows and events that all see the same journal state."""
        ...

    def row(self, run_id: str, row_number: int) -> RowRecord: ...

    def events(self, run_id: str) -> list[EventRecord]: ...

    def reference_seen(
        self, kind: str, reference: str, *, env: str, exclude_run_ids: Iterable[str] = ()
    ) -> list[SeenReference]:
        """Earlier rows of ``kind`` in ``env`` that still hold ``reference``."""
        ...

    def references_seen(
        self, kind: str, references: Iterable[str], *, env: str, exclude_run_ids: Iterable[str] = ()
    ) -> dict[str, list[SeenReference]]: ...

    def repeats(
        self, kind: str, env: str, rows: Sequence[NewRow], *, exclude_run_ids: Iterable[str] = ()
    ) -> list[Repeat]:
        """The rows whose reference an earlier run still holds."""
        ...
