"""Workers' claims on rows, on PostgreSQL (issue 14; docs/safety.md §10).

A worker claims a batch of open rows with ``SELECT … FOR UPDATE SKIP LOCKED`` and writes its
name (``claimed_by``) and a lease (``lease_until``, ISO-8601 UTC text like every time in the
journal) in the same transaction: two workers on two machines never claim the same row, and
neither waits for the other's batch. A row is claimable while nobody holds it or its lease has
run out; rows that may already exist at DOKU (SENDING, UNKNOWN) come first, then PLANNED ones
in row order.

Leases are computed and compared on the *database's* clock (``clock_timestamp()``), never a
worker's: workers on several machines may disagree about the time, the server is one clock.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from batchpay.errors import JournalError
from batchpay.journal.identities import iso
from batchpay.journal.postgres import reads
from batchpay.journal.postgres.database import Database
from batchpay.journal.records import RowRecord
from batchpay.journal.sqlite.sql import Strings, row_record
from batchpay.states import OPEN, State

if TYPE_CHECKING:
    import psycopg

_FREE = "(claimed_by IS NULL OR lease_until IS NULL OR lease_until <= %s)"
_IN_DOUBT = [str(State.SENDING), str(State.UNKNOWN)]
_OPEN = [str(s) for s in OPEN]
_RENEW_PASSES = 20


def _now(conn: psycopg.Connection[dict[str, Any]]) -> datetime:
    found = conn.execute("SELECT clock_timestamp() AS now").fetchone()
    assert found is not None
    now: datetime = found["now"]
    return now


def _pick(
    conn: psycopg.Connection[dict[str, Any]], run_id: str, states: list[str], at: str, n: int
) -> list[int]:
    found = conn.execute(
        f"SELECT row_number FROM rows WHERE run_id=%s AND state = ANY(%s) AND {_FREE} "  # noqa: S608
        "ORDER BY row_number LIMIT %s FOR UPDATE SKIP LOCKED",
        (run_id, states, at, n),
    ).fetchall()
    return [int(r["row_number"]) for r in found]


class ClaimStore(Database):
    """The workers' claims as journal methods (:class:`~batchpay.journal.protocol.Journal`)."""

    def claim_rows(
        self, run_id: str, worker: str, *, limit: int, lease_seconds: float
    ) -> list[RowRecord]:
        """Claim up to ``limit`` open rows of ``run_id`` for ``worker`` until the database's now +
        ``lease_seconds``: in-doubt rows first, then PLANNED in row order (lean records)."""
        with self.transaction(
            doing=f"claiming rows of run {run_id}",
            then=f"run `batchpay work {run_id}` again (nothing was claimed or sent)",
        ) as conn:
            now = _now(conn)
            at, until = iso(now), iso(now + timedelta(seconds=lease_seconds))
            numbers = _pick(conn, run_id, _IN_DOUBT, at, limit)
            if len(numbers) < limit:
                numbers += _pick(conn, run_id, [str(State.PLANNED)], at, limit - len(numbers))
            if not numbers:
                return []
            conn.execute(
                "UPDATE rows SET claimed_by=%s, lease_until=%s "
                "WHERE run_id=%s AND row_number = ANY(%s)",
                (worker, until, run_id, numbers),
            )
            found = conn.execute(
                f"SELECT {reads.columns(False)} FROM rows "  # noqa: S608
                "WHERE run_id=%s AND row_number = ANY(%s)",
                (run_id, numbers),
            ).fetchall()
        strings = Strings()
        records = {int(r["row_number"]): row_record(r, data=False, strings=strings) for r in found}
        return [records[n] for n in numbers]

    def renew_claims(self, run_id: str, worker: str, lease_seconds: float) -> int:
        """Extend ``worker``'s live leases on the run's open rows (database clock); how many. A
        lease that has already run out is never extended: the row may be someone else's.

        Rows the worker's own journal writer has locked at this moment are skipped and tried
        again at once (``SKIP LOCKED``): waiting for them would deadlock against that writer,
        which locks the same rows in another order. :class:`~batchpay.errors.JournalError` if
        some live lease could still not be extended (the caller's lease deadline then stands)."""
        renewed, first_until = 0, None
        for _ in range(_RENEW_PASSES):
            with self.transaction(doing=f"renewing the claims on run {run_id}") as conn:
                now = _now(conn)
                until = iso(now + timedelta(seconds=lease_seconds))
                first_until = first_until or until
                mine = (
                    "FROM rows WHERE run_id=%s AND claimed_by=%s AND lease_until > %s "
                    "AND lease_until < %s AND state = ANY(%s)"
                )
                args = (run_id, worker, iso(now), first_until, _OPEN)
                cur = conn.execute(
                    "UPDATE rows SET lease_until=%s WHERE run_id=%s AND row_number IN "  # noqa: S608
                    f"(SELECT row_number {mine} FOR UPDATE SKIP LOCKED)",
                    (until, run_id, *args),
                )
                renewed += cur.rowcount
                left = conn.execute(f"SELECT COUNT(*) AS n {mine}", args).fetchone()
            if left is None or not left["n"]:
                return renewed
            time.sleep(0.02)
        raise JournalError(
            f"some claims on run {run_id} stayed locked while renewing them",
            path=self.location,
        )

    def release_claims(self, run_id: str, worker: str) -> int:
        """Give back every claim of ``worker`` on the run (its rows are claimable at once)."""
        with self.transaction(doing=f"releasing the claims on run {run_id}") as conn:
            cur = conn.execute(
                "UPDATE rows SET claimed_by=NULL, lease_until=NULL "
                "WHERE run_id=%s AND claimed_by=%s",
                (run_id, worker),
            )
            return cur.rowcount

    def held_by_others(self, run_id: str, worker: str) -> int:
        """Open rows of the run that another worker holds under a live lease (database clock)."""
        with self._reading() as conn:
            now = _now(conn)
            found = conn.execute(
                "SELECT COUNT(*) AS n FROM rows WHERE run_id=%s AND claimed_by IS NOT NULL "
                "AND claimed_by <> %s AND lease_until > %s AND state = ANY(%s)",
                (run_id, worker, iso(now), _OPEN),
            ).fetchone()
        return int(found["n"]) if found is not None else 0

    def state_counts(self, run_id: str) -> dict[str, int]:
        """How many rows of the run are in each state (no row data)."""
        with self._reading() as conn:
            found = conn.execute(
                "SELECT state, COUNT(*) AS n FROM rows WHERE run_id=%s GROUP BY state", (run_id,)
            ).fetchall()
        return {str(r["state"]): int(r["n"]) for r in found}
