"""Workers' claims on rows, on SQLite (issue 14; docs/safety.md §10).

A worker claims a batch of open rows by writing its name (``claimed_by``) and a lease
(``lease_until``, ISO-8601 UTC text like every time in the journal) in one ``BEGIN IMMEDIATE``
transaction: SQLite has one writer at a time, so two workers can never claim the same row.
A row is claimable while nobody holds it or its lease has run out; rows that may already exist
at DOKU (SENDING, UNKNOWN) come first, then PLANNED ones in row order.

The lease is read from the journal's clock. SQLite journals live on one machine's local disk
(``flock`` is not reliable on NFS), so every worker reads the same clock.
"""

from __future__ import annotations

from datetime import timedelta

from batchpay.journal.identities import iso
from batchpay.journal.records import RowRecord
from batchpay.journal.sqlite import reads
from batchpay.journal.sqlite.file import JournalFile
from batchpay.journal.sqlite.sql import Strings, row_record
from batchpay.states import OPEN, State

_FREE = "(claimed_by IS NULL OR lease_until IS NULL OR lease_until <= ?)"
_IN_DOUBT = (str(State.SENDING), str(State.UNKNOWN))
_OPEN = tuple(str(s) for s in OPEN)
_IS_OPEN = f"state IN ({','.join('?' * len(_OPEN))})"  # placeholders only


def _then(run_id: str) -> str:
    return f"run `batchpay work {run_id}` again (nothing was claimed or sent)"


class ClaimStore(JournalFile):
    """The workers' claims as journal methods (:class:`~batchpay.journal.protocol.Journal`)."""

    def claim_rows(
        self, run_id: str, worker: str, *, limit: int, lease_seconds: float
    ) -> list[RowRecord]:
        """Claim up to ``limit`` open rows of ``run_id`` for ``worker`` until now +
        ``lease_seconds``: in-doubt rows first, then PLANNED in row order (lean records, as
        ``rows(data=False)``)."""
        now = self.clock()
        at, until = iso(now), iso(now + timedelta(seconds=lease_seconds))
        with self.transaction(doing=f"claiming rows of run {run_id}", then=_then(run_id)) as conn:
            numbers = [
                r[0]
                for r in conn.execute(
                    f"SELECT row_number FROM rows WHERE run_id=? AND state IN (?,?) AND {_FREE} "  # noqa: S608
                    "ORDER BY row_number LIMIT ?",
                    (run_id, *_IN_DOUBT, at, limit),
                )
            ]
            if len(numbers) < limit:
                numbers += [
                    r[0]
                    for r in conn.execute(
                        f"SELECT row_number FROM rows WHERE run_id=? AND state=? AND {_FREE} "  # noqa: S608
                        "ORDER BY row_number LIMIT ?",
                        (run_id, str(State.PLANNED), at, limit - len(numbers)),
                    )
                ]
            if not numbers:
                return []
            conn.executemany(
                "UPDATE rows SET claimed_by=?, lease_until=? WHERE run_id=? AND row_number=?",
                [(worker, until, run_id, n) for n in numbers],
            )
            marks = ",".join("?" * len(numbers))
            found = conn.execute(
                f"SELECT {reads.columns(False, self.schema)} FROM rows "  # noqa: S608
                f"WHERE run_id=? AND row_number IN ({marks})",
                (run_id, *numbers),
            ).fetchall()
        strings = Strings()
        records = {r["row_number"]: row_record(r, data=False, strings=strings) for r in found}
        return [records[n] for n in numbers]

    def renew_claims(self, run_id: str, worker: str, lease_seconds: float) -> int:
        """Extend ``worker``'s live leases on the run's open rows; how many were extended. A lease
        that has already run out is never extended: the row may be someone else's by now."""
        now = self.clock()
        at, until = iso(now), iso(now + timedelta(seconds=lease_seconds))
        with self.transaction(doing=f"renewing the claims on run {run_id}") as conn:
            cur = conn.execute(
                "UPDATE rows SET lease_until=? WHERE run_id=? AND claimed_by=? "  # noqa: S608
                f"AND lease_until > ? AND {_IS_OPEN}",
                (until, run_id, worker, at, *_OPEN),
            )
            return cur.rowcount

    def release_claims(self, run_id: str, worker: str) -> int:
        """Give back every claim of ``worker`` on the run (its rows are claimable at once)."""
        with self.transaction(doing=f"releasing the claims on run {run_id}") as conn:
            cur = conn.execute(
                "UPDATE rows SET claimed_by=NULL, lease_until=NULL WHERE run_id=? AND claimed_by=?",
                (run_id, worker),
            )
            return cur.rowcount

    def held_by_others(self, run_id: str, worker: str) -> int:
        """Open rows of the run that another worker holds under a live lease."""
        with self._reading() as conn:
            found = conn.execute(
                "SELECT COUNT(*) FROM rows WHERE run_id=? AND claimed_by IS NOT NULL "  # noqa: S608
                f"AND claimed_by != ? AND lease_until > ? AND {_IS_OPEN}",
                (run_id, worker, iso(self.clock()), *_OPEN),
            ).fetchone()
        return int(found[0])

    def state_counts(self, run_id: str) -> dict[str, int]:
        """How many rows of the run are in each state (one indexed pass, no row data)."""
        with self._reading() as conn:
            return {
                r[0]: r[1]
                for r in conn.execute(
                    "SELECT state, COUNT(*) FROM rows WHERE run_id=? GROUP BY state", (run_id,)
                )
            }
