"""The SQLite journal: one file, written *before* the wire (docs/safety.md §1).

The run-level writes (create a run with every row PLANNED, apply a change, add an event,
finish a run), the run lock and the group-commit writer, and the reads (runs, rows, events,
references held by earlier runs). The file itself — opening, connections, transactions — is
:class:`~batchpay.journal.sqlite.file.JournalFile`.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from batchpay.errors import RunError, RunNotFound
from batchpay.journal.identities import WIB, current_operator, iso, new_run_id
from batchpay.journal.records import (
    EventRecord,
    NewRow,
    Repeat,
    RepeatedReferences,
    RowChange,
    RowRecord,
    RunRecord,
    SeenReference,
)
from batchpay.journal.sqlite import reads
from batchpay.journal.sqlite.approvals import ApprovalStore, with_approvals
from batchpay.journal.sqlite.claims import ClaimStore
from batchpay.journal.sqlite.holds import is_live_violation, refuse_live, take_over
from batchpay.journal.sqlite.lock import RunLock
from batchpay.journal.sqlite.sql import (
    Strings,
    apply_change,
    event_record,
    insert_event,
    insert_run,
    references_seen_in,
    repeats_in,
    row_record,
    run_record,
)
from batchpay.journal.sqlite.writer import SqliteJournalWriter


def _resume_hint(run_id: str) -> str:
    return (
        f"`batchpay resume {run_id}` (rows the journal shows SENDING or UNKNOWN may have "
        "been paid; resume asks DOKU about them before sending anything)"
    )


class SqliteJournal(ApprovalStore, ClaimStore):
    """The journal at ``path`` (a :class:`~batchpay.journal.protocol.Journal`). Cheap to
    construct; every call opens its own connection (so threads never share one), except the
    group-commit writer's.

    ``create=True`` (only ``batchpay run``, and set-up) makes a missing or empty journal —
    its directory 0700, the file 0600 (it holds names, phones, accounts). Without it a missing
    or empty journal is :class:`~batchpay.errors.JournalMissing` and nothing is created: a
    journal that went missing must be found, never silently replaced by an empty one.

    ``read_only=True`` (``runs``, ``report``) opens with SQLite's ``mode=ro`` and never
    writes, so a journal on a read-only file or disk can still be read. A writing journal on a
    read-only file is :class:`~batchpay.errors.JournalReadOnly`. Opening writes only to
    create the schema or migrate it (schemas 1 and 2 → 3, in one transaction).

    The run lock (:meth:`lock`) is ``flock`` on ``<journal>.locks/<run_id>.lock``: the kernel
    drops it when the process dies, so a crashed run never needs a manual unlock.
    """

    # write side -------------------------------------------------------------------------

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
        """Create a run with every row PLANNED, its Request-Id and exact body bytes stored
        (docs/safety.md: stored before the first send), in one transaction.

        Unless ``allow_repeat``, references an earlier run still holds are refused
        (:class:`RepeatedReferences`) *inside* that transaction: ``BEGIN IMMEDIATE``
        serialises writers, so two operators starting the same sheet at the same moment
        cannot both pass the check (docs/safety.md invariant 1). A submitted run starts
        ``status`` AWAITING_APPROVAL (with its ``expires_at``): its rows stay PLANNED until
        its approvers release it (docs/safety.md §9)."""
        now, path = self.clock(), Path(input_path)
        excluded = tuple(exclude_run_ids)  # once: it may be a one-pass iterator
        for _ in range(20):
            run = RunRecord(
                run_id=run_id or new_run_id(now),
                created_at=iso(now),
                finished_at=None,
                kind=kind,
                env=env,
                input_path=str(path.resolve()),
                input_name=input_name or path.name,
                input_sha256=input_sha256,
                operator=operator or current_operator(),
                dry_run=dry_run,
                parent_run_id=parent_run_id,
                settings=settings,
                status=status,
                expires_at=expires_at,
            )
            try:
                self._insert_run(
                    run, product=product, rows=rows, allow_repeat=allow_repeat, excluded=excluded
                )
                return self.run(run.run_id)
            except sqlite3.IntegrityError as exc:
                if self._live_refusal(exc, run, rows):
                    continue  # the holder gave the reference back meanwhile: check again
                if run_id is not None:
                    raise
                # Same second as another run: the next loop draws a fresh random suffix.
        raise RunError("could not allocate a unique run id")  # pragma: no cover

    def _live_refusal(self, exc: Exception, run: RunRecord, rows: Sequence[NewRow]) -> bool:
        """Whether the live-reference index (backing the check) refused ``run``: then
        RepeatedReferences naming the holder, or True if none holds it any more."""
        if not is_live_violation(exc):
            return False
        with self._reading() as conn:
            refuse_live(conn, run.kind, run.env, rows)
        return True

    def _insert_run(
        self,
        run: RunRecord,
        *,
        product: str,
        rows: Sequence[NewRow],
        allow_repeat: bool,
        excluded: tuple[str, ...],
    ) -> None:
        detail = (
            f"{len(rows)} rows planned from {run.input_name} (sha256 "
            f"{run.input_sha256[:12]}…), kind {run.kind}, env {run.env}"
            + (", dry run" if run.dry_run else "")
            + (f", retry of {run.parent_run_id}" if run.parent_run_id else "")
            + (f", {run.status}" if run.status != "OPEN" else "")
        )
        with self.transaction(
            doing="creating the run",
            then="run the command again (no run was created and nothing was sent)",
        ) as conn:
            if not allow_repeat:
                repeats = repeats_in(conn, run.kind, run.env, rows, excluded)
                if repeats:
                    raise RepeatedReferences(repeats)
            # A real run's rows hold their references live; an allowed repeat's never do.
            if holds := not (allow_repeat or run.dry_run):
                take_over(conn, run.kind, run.env, rows, excluded)
            insert_run(conn, run, product=product, rows=rows, detail=detail, holds=holds)

    def apply(self, change: RowChange) -> None:
        """Journal one change durably (its own transaction). Workers of a batch use
        :meth:`writer` instead, which groups commits."""
        with self.transaction(
            doing=f"journaling row {change.row_number} of run {change.run_id} ({change.new_state})",
            then=_resume_hint(change.run_id),
        ) as conn:
            apply_change(conn, change, iso(self.clock()))

    def add_event(
        self, run_id: str, type_: str, detail: str, *, row_number: int | None = None
    ) -> None:
        with self.transaction(
            doing=f"journaling the {type_} event of run {run_id}", then=_resume_hint(run_id)
        ) as conn:
            insert_event(conn, run_id, row_number, iso(self.clock()), type_, detail)

    def finish_run(self, run_id: str) -> None:
        """Mark the run finished (no row left to send or resolve); idempotent."""
        with self.transaction(doing=f"finishing run {run_id}", then=_resume_hint(run_id)) as conn:
            cur = conn.execute(
                "UPDATE runs SET finished_at=? WHERE run_id=? AND finished_at IS NULL",
                (iso(self.clock()), run_id),
            )
            if cur.rowcount:
                insert_event(
                    conn,
                    run_id,
                    None,
                    iso(self.clock()),
                    "run-finished",
                    "no row left to send or resolve",
                )

    def writer(self, *, max_batch: int = 256) -> SqliteJournalWriter:
        """The group-commit writer (one connection; close it, or use it as a context)."""
        return SqliteJournalWriter(self, max_batch=max_batch)

    @contextlib.contextmanager
    def lock(self, run_id: str, *, shared: bool = False) -> Iterator[None]:
        """Hold ``run_id`` for this process: :class:`~batchpay.errors.RunLocked` if another
        process holds it (docs/safety.md: it exits before sending anything); ``shared``:
        beside other workers of the run, never beside an exclusive holder."""
        with RunLock(self.path, run_id, clock=self.clock, shared=shared):
            yield

    # read side --------------------------------------------------------------------------

    def run(self, run_id: str) -> RunRecord:
        with self._reading() as conn:
            row = conn.execute("SELECT * FROM runs WHERE run_id=?", (run_id,)).fetchone()
            if row is None:
                raise RunNotFound(
                    f"no run {run_id!r} in the journal {self.location}",
                    hint="list runs with `batchpay runs`",
                )
            return with_approvals(conn, [run_record(row)], self.schema)[0]

    def runs(self, *, limit: int | None = None) -> list[RunRecord]:
        sql = "SELECT * FROM runs ORDER BY created_at DESC, run_id DESC"
        if limit:
            sql += f" LIMIT {int(limit)}"
        with self._reading() as conn:
            return with_approvals(conn, [run_record(r) for r in conn.execute(sql)], self.schema)

    def runs_for_month(self, month: str) -> list[RunRecord]:
        """Runs created in calendar month ``YYYY-MM`` *in Jakarta time* (WIB) — the month an
        Indonesian accountant closes — oldest first."""
        try:
            start = datetime.strptime(month, "%Y-%m").replace(tzinfo=WIB)
        except ValueError:
            raise RunError(f"month {month!r} is not YYYY-MM (e.g. 2026-11)") from None
        end = (start + timedelta(days=32)).replace(day=1)
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT * FROM runs WHERE created_at >= ? AND created_at < ? "
                "ORDER BY created_at, run_id",
                (iso(start), iso(end)),
            ).fetchall()
            return with_approvals(conn, [run_record(r) for r in rows], self.schema)

    def children(self, run_id: str) -> list[RunRecord]:
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT * FROM runs WHERE parent_run_id=? ORDER BY created_at", (run_id,)
            ).fetchall()
            return with_approvals(conn, [run_record(r) for r in rows], self.schema)

    def rows(
        self,
        run_id: str,
        *,
        states: Iterable[str] | None = None,
        data: bool = True,
        after: int | None = None,
        limit: int | None = None,
    ) -> list[RowRecord]:
        """The run's rows in row order (only those in ``states``, if given). ``data=False``
        leaves each record's ``input`` and ``normalised`` empty — what sending and summaries
        need, at a fraction of the memory (a 100,000-row run: ~60 MB instead of ~300 MB).
        ``after``/``limit``: one page, the rows numbered above ``after`` (the sending engine
        reads a large run a page at a time, each page in its own short read)."""
        selected = "*" if data else reads.columns(False, self.schema)
        # Only the column list and "?" placeholders are interpolated; values are bound.
        sql = f"SELECT {selected} FROM rows WHERE run_id=?"  # noqa: S608
        args: list[str | int] = [run_id]
        if states is not None:
            wanted = list(states)
            sql += f" AND state IN ({','.join('?' * len(wanted))})"
            args += wanted
        if after is not None:
            sql += " AND row_number > ?"
            args.append(after)
        sql += " ORDER BY row_number"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        strings = Strings()
        with self._reading() as conn:
            return [row_record(r, data=data, strings=strings) for r in conn.execute(sql, args)]

    def iter_rows(
        self, run_id: str, *, data: bool = True, body: bool = True, chunk: int = 5000
    ) -> Iterator[RowRecord]:
        """The run's rows in row order, like :meth:`rows`, but fetched ``chunk`` at a time.
        ``body=False`` leaves each record's request body empty. Each call reads on its own
        connection; :meth:`snapshot` reads several passes from one consistent state."""
        with self._reading() as conn:
            yield from reads.iter_rows(
                conn, run_id, data=data, body=body, chunk=chunk, schema=self.schema
            )

    def iter_events(self, run_id: str, *, chunk: int = 5000) -> Iterator[EventRecord]:
        """The run's events in journal order, fetched ``chunk`` at a time."""
        with self._reading() as conn:
            yield from reads.iter_events(conn, run_id, chunk=chunk)

    def source_accounts(self, run_id: str) -> list[str]:
        with self._reading() as conn:
            return [
                r[0]
                for r in conn.execute(
                    "SELECT DISTINCT source_account FROM rows WHERE run_id=? "
                    "AND source_account IS NOT NULL AND source_account != '' "
                    "ORDER BY source_account",
                    (run_id,),
                )
            ]

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[reads.SqliteSnapshot]:
        """One read transaction: every pass over rows and events inside the ``with`` block
        sees the same journal state, even if another process writes meanwhile (WAL)."""
        with self._reading() as conn:
            conn.execute("BEGIN")
            try:
                yield reads.SqliteSnapshot(conn, path=self.path, schema=self.schema)
            finally:
                conn.execute("COMMIT")

    def row(self, run_id: str, row_number: int) -> RowRecord:
        with self._reading() as conn:
            r = conn.execute(
                "SELECT * FROM rows WHERE run_id=? AND row_number=?", (run_id, row_number)
            ).fetchone()
        if r is None:
            raise RunNotFound(f"run {run_id} has no row {row_number}")
        return row_record(r)

    def events(self, run_id: str) -> list[EventRecord]:
        strings = Strings()
        with self._reading() as conn:
            return [
                event_record(r, strings=strings)
                for r in conn.execute("SELECT * FROM events WHERE run_id=? ORDER BY seq", (run_id,))
            ]

    def reference_seen(
        self, kind: str, reference: str, *, env: str, exclude_run_ids: Iterable[str] = ()
    ) -> list[SeenReference]:
        """Earlier rows of ``kind`` in ``env`` that used ``reference`` and still count
        (docs/safety.md: the same reference already paid in an earlier run is refused).

        Counts: every state except REJECTED with proof that nothing executed (DOKU proved it
        never executed), INVALID and NOT_SENT (never sent). So PLANNED/SENDING/UNKNOWN (may be
        or will be paid), progressing and successful rows, and FAILED/EXPIRED links (DOKU has
        used the reference_id up; `retry-failed` makes a new one) all block a new run.
        Environments are separate worlds: an emulator run never blocks production.
        """
        return self.references_seen(
            kind, [reference], env=env, exclude_run_ids=exclude_run_ids
        ).get(reference, [])

    def references_seen(
        self, kind: str, references: Iterable[str], *, env: str, exclude_run_ids: Iterable[str] = ()
    ) -> dict[str, list[SeenReference]]:
        """:meth:`reference_seen` for many references in one query batch."""
        with self._reading() as conn:
            return references_seen_in(conn, kind, env, references, tuple(exclude_run_ids))

    def repeats(
        self, kind: str, env: str, rows: Sequence[NewRow], *, exclude_run_ids: Iterable[str] = ()
    ) -> list[Repeat]:
        """The rows whose reference an earlier run still holds."""
        with self._reading() as conn:
            return repeats_in(conn, kind, env, rows, tuple(exclude_run_ids))
