"""The PostgreSQL journal: a shared database, written *before* the wire (docs/safety.md §1),
with the semantics of :class:`~batchpay.journal.sqlite.SqliteJournal` — the same records, the
same state machine on every change, the same repeat rules — for a team on one database.

The database itself — opening, connections, transactions — is
:class:`~batchpay.journal.postgres.database.Database`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from batchpay.errors import RunError, RunNotFound
from batchpay.journal.identities import WIB, current_operator, iso, new_run_id
from batchpay.journal.postgres import reads
from batchpay.journal.postgres.approvals import ApprovalStore, with_approvals
from batchpay.journal.postgres.claims import ClaimStore
from batchpay.journal.postgres.lock import RunLock
from batchpay.journal.postgres.sql import (
    LIVE_INDEX,
    apply_change,
    insert_event,
    insert_run,
    lock_references,
    references_seen_in,
    refuse_live,
    repeats_in,
    take_over,
)
from batchpay.journal.postgres.writer import PostgresJournalWriter
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
from batchpay.journal.sqlite.sql import Strings, event_record, row_record, run_record


def _resume_hint(run_id: str) -> str:
    return (
        f"`batchpay resume {run_id}` (rows the journal shows SENDING or UNKNOWN may have "
        "been paid; resume asks DOKU about them before sending anything)"
    )


class PostgresJournal(ApprovalStore, ClaimStore):
    """The journal in the PostgreSQL database at ``url`` (a
    :class:`~batchpay.journal.protocol.Journal`). Cheap to construct after the first open;
    every call opens its own connection, except the group-commit writer's and a held lock's.

    ``create=True`` (only ``batchpay run``) creates batchpay's tables in an existing, empty
    database; it never creates the database. Without it an empty database is
    :class:`~batchpay.errors.JournalMissing`. ``read_only=True`` opens sessions that refuse
    every write. The run lock (:meth:`lock`) is an advisory lock the server frees when the
    holder's session ends.
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
        """Create a run with every row PLANNED, its Request-Id and exact body, in one
        transaction; unless ``allow_repeat``, references an earlier run still holds are
        refused inside it, new runs of the same (environment, kind) waiting on an advisory
        lock meanwhile: two operators starting the same sheet at the same moment, from two
        machines, cannot both pass (docs/safety.md invariant 1)."""
        import psycopg

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
            except psycopg.errors.UniqueViolation as exc:
                if self._live_refusal(exc.diag.constraint_name, run, rows):
                    continue  # the holder gave the reference back meanwhile: check again
                if run_id is not None or exc.diag.constraint_name != "runs_pkey":
                    raise
                # Same second as another run: the next loop draws a fresh random suffix.
        raise RunError("could not allocate a unique run id")  # pragma: no cover

    def _live_refusal(self, constraint: str | None, run: RunRecord, rows: Sequence[NewRow]) -> bool:
        """Whether the violated ``constraint`` is the live-reference index refusing ``run``
        (a run took one of its references since the check read it free: READ COMMITTED lets
        two transactions read, the advisory lock aside): then :class:`RepeatedReferences`
        naming the holder, like the check (nothing of ``run`` was journaled), or True if
        none holds it any more."""
        if constraint != LIVE_INDEX:
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
            lock_references(conn, run.kind, run.env)
            if not allow_repeat:
                repeats = repeats_in(conn, run.kind, run.env, rows, excluded)
                if repeats:
                    raise RepeatedReferences(repeats)
            # A real run's rows hold their references live; an allowed repeat's never do.
            if holds := not (allow_repeat or run.dry_run):
                take_over(conn, run.kind, run.env, rows, excluded)
            insert_run(conn, run, product=product, rows=rows, detail=detail, holds=holds)

    def apply(self, change: RowChange) -> None:
        """Journal one change durably (its own transaction); refused like the writer's
        when this journal's lock on the run was lost."""
        held = self.held.get(change.run_id)
        if held is not None:
            held.check()
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
            at = iso(self.clock())
            cur = conn.execute(
                "UPDATE runs SET finished_at=%s WHERE run_id=%s AND finished_at IS NULL",
                (at, run_id),
            )
            if cur.rowcount:
                insert_event(
                    conn, run_id, None, at, "run-finished", "no row left to send or resolve"
                )

    def writer(self, *, max_batch: int = 256) -> PostgresJournalWriter:
        """The group-commit writer (one connection; close it, or use it as a context)."""
        return PostgresJournalWriter(self, max_batch=max_batch)

    @contextlib.contextmanager
    def lock(self, run_id: str, *, shared: bool = False) -> Iterator[None]:
        """Hold ``run_id`` for this process: :class:`~batchpay.errors.RunLocked` if another
        session holds it; ``shared``: beside other workers, never beside an exclusive holder."""
        with RunLock(self, run_id, shared=shared) as held:
            # The writer checks the lock's session before committing this run's changes.
            self.held[run_id] = held
            try:
                yield
            finally:
                self.held.pop(run_id, None)

    # read side --------------------------------------------------------------------------

    def run(self, run_id: str) -> RunRecord:
        with self._reading() as conn:
            row = conn.execute("SELECT * FROM runs WHERE run_id=%s", (run_id,)).fetchone()
            if row is None:
                raise RunNotFound(
                    f"no run {run_id!r} in the journal {self.location}",
                    hint="list runs with `batchpay runs`",
                )
            return with_approvals(conn, [run_record(row)])[0]

    def _runs_where(self, where: str, args: Sequence[Any]) -> list[RunRecord]:
        with self._reading() as conn:
            found = conn.execute(f"SELECT * FROM runs {where}", args).fetchall()  # noqa: S608
            return with_approvals(conn, [run_record(r) for r in found])

    def runs(self, *, limit: int | None = None) -> list[RunRecord]:
        return self._runs_where(
            "ORDER BY created_at DESC, run_id DESC" + (" LIMIT %s" if limit else ""),
            [int(limit)] if limit else [],
        )

    def runs_for_month(self, month: str) -> list[RunRecord]:
        """Runs created in calendar month ``YYYY-MM`` *in Jakarta time* (WIB), oldest first."""
        try:
            start = datetime.strptime(month, "%Y-%m").replace(tzinfo=WIB)
        except ValueError:
            raise RunError(f"month {month!r} is not YYYY-MM (e.g. 2026-11)") from None
        end = (start + timedelta(days=32)).replace(day=1)
        return self._runs_where(
            "WHERE created_at >= %s AND created_at < %s ORDER BY created_at, run_id",
            [iso(start), iso(end)],
        )

    def children(self, run_id: str) -> list[RunRecord]:
        return self._runs_where("WHERE parent_run_id=%s ORDER BY created_at, run_id", [run_id])

    def rows(
        self,
        run_id: str,
        *,
        states: Iterable[str] | None = None,
        data: bool = True,
        after: int | None = None,
        limit: int | None = None,
    ) -> list[RowRecord]:
        """The run's rows in row order (see :meth:`SqliteJournal.rows`)."""
        sql = f"SELECT {reads.columns(data)} FROM rows WHERE run_id=%s"  # noqa: S608
        args: list[Any] = [run_id]
        if states is not None:
            sql += " AND state = ANY(%s)"
            args.append([str(s) for s in states])
        if after is not None:
            sql += " AND row_number > %s"
            args.append(after)
        sql += " ORDER BY row_number"
        if limit is not None:
            sql += " LIMIT %s"
            args.append(limit)
        strings = Strings()
        with self._reading() as conn:
            found = conn.execute(sql, args).fetchall()
            return [row_record(r, data=data, strings=strings) for r in found]

    def iter_rows(
        self, run_id: str, *, data: bool = True, body: bool = True, chunk: int = 5000
    ) -> Iterator[RowRecord]:
        """The run's rows in row order, fetched ``chunk`` at a time (a server-side cursor)."""
        with self._cursor_reading() as conn:
            yield from reads.iter_rows(conn, run_id, data=data, body=body, chunk=chunk)

    def iter_events(self, run_id: str, *, chunk: int = 5000) -> Iterator[EventRecord]:
        with self._cursor_reading() as conn:
            yield from reads.iter_events(conn, run_id, chunk=chunk)

    def source_accounts(self, run_id: str) -> list[str]:
        with self._reading() as conn:
            found = conn.execute(
                "SELECT DISTINCT source_account FROM rows WHERE run_id=%s "
                "AND source_account IS NOT NULL AND source_account <> '' "
                "ORDER BY source_account",
                (run_id,),
            ).fetchall()
        return [str(r["source_account"]) for r in found]

    @contextlib.contextmanager
    def _cursor_reading(self, *, snapshot: bool = False) -> Iterator[Any]:
        """A connection inside a read transaction (named cursors live in one): REPEATABLE
        READ for a snapshot. Rolled back at the end: it never wrote anything."""
        from batchpay.journal.postgres.faults import storage_faults

        with storage_faults(self.location, "reading it"):
            conn = self.connect()
            try:
                if snapshot:
                    conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                yield conn
            finally:
                if not conn.broken:
                    conn.rollback()
                conn.close()

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[reads.PostgresSnapshot]:
        """One REPEATABLE READ read-only transaction: every pass over rows and events in the
        ``with`` block sees the same journal state, even while others write."""
        with self._cursor_reading(snapshot=True) as conn:
            yield reads.PostgresSnapshot(conn, location=self.location)

    def row(self, run_id: str, row_number: int) -> RowRecord:
        with self._reading() as conn:
            r = conn.execute(
                "SELECT * FROM rows WHERE run_id=%s AND row_number=%s", (run_id, row_number)
            ).fetchone()
        if r is None:
            raise RunNotFound(f"run {run_id} has no row {row_number}")
        return row_record(r)

    def events(self, run_id: str) -> list[EventRecord]:
        strings = Strings()
        with self._reading() as conn:
            found = conn.execute(
                "SELECT * FROM events WHERE run_id=%s ORDER BY seq", (run_id,)
            ).fetchall()
        return [event_record(r, strings=strings) for r in found]

    def reference_seen(
        self, kind: str, reference: str, *, env: str, exclude_run_ids: Iterable[str] = ()
    ) -> list[SeenReference]:
        """Earlier rows of ``kind`` in ``env`` that used ``reference`` and still count (the
        rules of :meth:`SqliteJournal.reference_seen`)."""
        return self.references_seen(
            kind, [reference], env=env, exclude_run_ids=exclude_run_ids
        ).get(reference, [])

    def references_seen(
        self, kind: str, references: Iterable[str], *, env: str, exclude_run_ids: Iterable[str] = ()
    ) -> dict[str, list[SeenReference]]:
        with self._reading() as conn:
            return references_seen_in(conn, kind, env, references, tuple(exclude_run_ids))

    def repeats(
        self, kind: str, env: str, rows: Sequence[NewRow], *, exclude_run_ids: Iterable[str] = ()
    ) -> list[Repeat]:
        with self._reading() as conn:
            return repeats_in(conn, kind, env, rows, tuple(exclude_run_ids))
