"""One process per run on PostgreSQL: a session-level advisory lock on the run, held by a
connection of its own for the ``with`` block. The server drops it when that session ends — the
process exits, is killed, or its machine vanishes (once the server notices the dead TCP
connection) — so a crashed run never needs a manual unlock, as with SQLite's ``flock``.

Workers of one run (``batchpay work``, ``send --workers``) hold it *shared*
(``pg_advisory_lock_shared``): any number of them together, never beside an exclusive holder
(``run``, ``resume``, a single-process ``send``).

Who holds it is read from ``pg_stat_activity``: every batchpay connection names its process
and host in ``application_name``.
"""

from __future__ import annotations

import contextlib
import threading
from typing import TYPE_CHECKING, Any

from batchpay.errors import JournalError, RunLocked
from batchpay.journal.postgres.faults import storage_faults
from batchpay.journal.postgres.sql import advisory_key
from batchpay.journal.sqlite.faults import NEVER_AGAIN

if TYPE_CHECKING:
    import psycopg

    from batchpay.journal.postgres.database import Database


class RunLock:
    """An exclusive lock on ``run_id`` (:class:`~batchpay.errors.RunLocked` when another
    session holds it; docs/safety.md: a second process exits before sending anything)."""

    def __init__(self, database: Database, run_id: str, *, shared: bool = False) -> None:
        self.database = database
        self.shared = shared
        self.run_id = run_id
        self.key = advisory_key("run", run_id)
        self._conn: psycopg.Connection[dict[str, Any]] | None = None
        self._guard = threading.Lock()  # the lock's connection: one statement at a time

    def acquire(self) -> None:
        conn = self.database.connect()
        try:
            with storage_faults(self.database.location, f"locking run {self.run_id}"):
                conn.autocommit = True
                how = "pg_try_advisory_lock_shared" if self.shared else "pg_try_advisory_lock"
                got = conn.execute(f"SELECT {how}(%s) AS got", (self.key,))
                row = got.fetchone()
                if row is None or not row["got"]:
                    holder = _holder(conn, self.key)
                    raise RunLocked(
                        f"run {self.run_id} is in use by another batchpay process ({holder})",
                        hint="wait for it to finish; if that process is gone, the lock frees "
                        "itself once the database sees its connection end — nothing was "
                        "sent by this one",
                    )
        except BaseException:
            conn.close()
            raise
        self._conn = conn

    def check(self) -> None:
        """Raise a JournalError when the session holding the lock has ended (a DBA ended
        it, the server restarted): the lock is gone, and another process may take the run.
        The group-commit writer asks before every batch of this run's changes, so nothing
        is journaled SENDING — and nothing sent — without the lock."""
        import psycopg

        with self._guard:
            conn = self._conn
            if conn is None:
                return  # released: the caller is not sending under it
            try:
                conn.execute("SELECT 1")
            except psycopg.Error:
                pass  # conn.broken says whether the session is gone
            if not conn.broken and not conn.closed:
                return
        raise JournalError(
            f"the journal {self.database.location} lost the lock on run {self.run_id}: its "
            "database session ended (a server restart, or an administrator ended it)",
            path=self.database.location,
            hint=f"`batchpay resume {self.run_id}` takes the lock again and carries on (rows "
            "the journal shows SENDING or UNKNOWN may have been paid; resume asks DOKU about "
            f"them before sending anything); {NEVER_AGAIN}",
        )

    def release(self) -> None:
        with self._guard:
            conn, self._conn = self._conn, None
        if conn is not None:
            # Closing the session frees the lock even when the unlock cannot be sent.
            try:
                with contextlib.suppress(Exception):
                    if not conn.broken:
                        how = "pg_advisory_unlock_shared" if self.shared else "pg_advisory_unlock"
                        conn.execute(f"SELECT {how}(%s)", (self.key,))
            finally:
                conn.close()

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _holder(conn: psycopg.Connection[dict[str, Any]], key: int) -> str:
    """``batchpay pid 123 on host since …`` for the session holding ``key``."""
    # A bigint advisory key is split over classid (high 32 bits) and objid (low 32 bits).
    high, low = (key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF
    found = conn.execute(
        "SELECT a.application_name, a.usename, a.client_addr::text AS addr, "
        "a.backend_start::text AS since FROM pg_locks l "
        "JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
        "AND l.classid::bigint = %s AND l.objid::bigint = %s LIMIT 1",
        (high, low),
    ).fetchone()
    if found is None:
        return "holder unknown"
    name = found["application_name"] or "a database session"
    return f"{name} as {found['usename']} since {found['since']}"
