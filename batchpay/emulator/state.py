"""The emulator's memory of DOKU: sub accounts and balances, payout links, idempotency records
and the log of what was executed — in SQLite, so a later command sees the same DOKU.

One connection guarded by one lock: every request's check-and-execute runs as a single
transaction, so two concurrent requests with the same Request-Id can never both execute.
The work inside is a handful of indexed statements, well under a millisecond.
WAL with ``synchronous=NORMAL``: this is a test double, not the merchant's journal (the
journal uses FULL, docs/safety.md), so losing the last commit on a power cut is acceptable.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    id TEXT PRIMARY KEY, email TEXT NOT NULL, type TEXT NOT NULL, name TEXT NOT NULL,
    status TEXT NOT NULL, created_at REAL NOT NULL, activate_at REAL NOT NULL,
    available INTEGER NOT NULL DEFAULT 0, pending INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS payments (
    id INTEGER PRIMARY KEY, account_id TEXT NOT NULL, amount INTEGER NOT NULL,
    settle_at REAL NOT NULL, settled INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS payments_due ON payments (account_id, settled);
CREATE TABLE IF NOT EXISTS links (
    reference_id TEXT PRIMARY KEY, payout_link_id TEXT NOT NULL, payout_link_url TEXT NOT NULL,
    amount TEXT NOT NULL, currency TEXT NOT NULL, receiver_email TEXT NOT NULL,
    expired_date TEXT NOT NULL, created_at REAL NOT NULL, step_seconds REAL NOT NULL,
    hidden_until REAL NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS idempotency (
    scope TEXT NOT NULL, request_id TEXT NOT NULL, target TEXT NOT NULL,
    body_sha256 TEXT NOT NULL, status INTEGER NOT NULL, response BLOB NOT NULL,
    PRIMARY KEY (scope, request_id));
CREATE TABLE IF NOT EXISTS executed (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, op TEXT NOT NULL, request_id TEXT NOT NULL,
    reference TEXT NOT NULL, amount_minor INTEGER, account_id TEXT, at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS executed_reference ON executed (op, reference);
"""
_TABLES = ("accounts", "payments", "links", "idempotency", "executed")


def iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds")


class Store:
    """SQLite-backed state. Use :meth:`tx` around every read-modify-write."""

    def __init__(self, path: Path | str | None) -> None:
        self.path = Path(path) if path is not None else None
        self._lock = threading.RLock()
        if path is not None and not Path(path).exists():
            # 0600 before SQLite creates it (its -wal/-shm files take the same mode): the
            # state holds payees' names and accounts (issue 8 finding 11).
            with contextlib.suppress(FileExistsError):
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        self._db = sqlite3.connect(
            str(path) if path is not None else ":memory:",
            check_same_thread=False,  # guarded by self._lock
            isolation_level=None,  # explicit BEGIN/COMMIT in tx()
        )
        self._db.row_factory = sqlite3.Row
        if path is not None:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def tx(self) -> Iterator[Store]:
        """One atomic unit under the lock (re-entrant: nested calls join the outer one)."""
        with self._lock:
            if self._db.in_transaction:
                yield self
                return
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _one(self, sql: str, args: tuple[Any, ...] = ()) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self._db.execute(sql, args).fetchone()
        return row

    # --- idempotency ---------------------------------------------------------------------
    def idem_get(self, scope: str, request_id: str) -> sqlite3.Row | None:
        with self.tx():
            return self._one(
                "SELECT * FROM idempotency WHERE scope=? AND request_id=?", (scope, request_id)
            )

    def idem_put(
        self,
        scope: str,
        request_id: str,
        target: str,
        body_sha256: str,
        status: int,
        response: bytes,
    ) -> None:
        with self.tx():
            self._db.execute(
                "INSERT INTO idempotency VALUES (?,?,?,?,?,?)",
                (scope, request_id, target, body_sha256, status, response),
            )

    # --- accounts and money ------------------------------------------------------------------
    def account(self, account_id: str, now: float) -> dict[str, Any] | None:
        """The account with activation and settlement applied as of ``now`` (lazily, so a
        restarted emulator catches up without a background thread)."""
        with self.tx():
            row = self._one("SELECT * FROM accounts WHERE id=?", (account_id,))
            if row is None:
                return None
            if row["status"] == "PENDING" and now >= row["activate_at"]:
                self._db.execute("UPDATE accounts SET status='ACTIVE' WHERE id=?", (account_id,))
            due = self._one(
                "SELECT COALESCE(SUM(amount), 0) AS due FROM payments "
                "WHERE account_id=? AND settled=0 AND settle_at<=?",
                (account_id, now),
            )
            if due is not None and due["due"]:
                self._db.execute(
                    "UPDATE payments SET settled=1 WHERE account_id=? AND settled=0 "
                    "AND settle_at<=?",
                    (account_id, now),
                )
                self.adjust(account_id, available=due["due"], pending=-due["due"])
            fresh = self._one("SELECT * FROM accounts WHERE id=?", (account_id,))
            return dict(fresh) if fresh is not None else None

    def create_account(
        self,
        *,
        email: str,
        type_: str,
        name: str,
        now: float,
        activate_at: float,
        account_id: str | None = None,
        status: str = "PENDING",
    ) -> dict[str, Any]:
        with self.tx():
            if account_id is None:
                row = self._one("SELECT COUNT(*) AS n FROM accounts")
                n = (row["n"] if row else 0) + 1
                millis = int(now * 1000)
                # DOKU's ids look like SAC-9914-1628075940045 (4 digits, epoch millis).
                account_id = f"SAC-{n % 10000:04d}-{millis:013d}"
                while self._one("SELECT 1 FROM accounts WHERE id=?", (account_id,)):
                    millis += 1
                    account_id = f"SAC-{n % 10000:04d}-{millis:013d}"
            self._db.execute(
                "INSERT INTO accounts (id, email, type, name, status, created_at, activate_at) "
                "VALUES (?,?,?,?,?,?,?)",
                (account_id, email, type_, name, status, now, activate_at),
            )
            created = self.account(account_id, now)
            assert created is not None
            return created

    def activate(self, account_id: str) -> bool:
        with self.tx():
            cur = self._db.execute(
                "UPDATE accounts SET status='ACTIVE', activate_at=0 WHERE id=?", (account_id,)
            )
            return cur.rowcount > 0

    def adjust(self, account_id: str, *, available: int = 0, pending: int = 0) -> None:
        with self.tx():
            self._db.execute(
                "UPDATE accounts SET available=available+?, pending=pending+? WHERE id=?",
                (available, pending, account_id),
            )

    def add_payment(self, account_id: str, amount: int, settle_at: float) -> None:
        """Money from an accepted payment: pending until ``settle_at``, then available."""
        with self.tx():
            self._db.execute(
                "INSERT INTO payments (account_id, amount, settle_at) VALUES (?,?,?)",
                (account_id, amount, settle_at),
            )
            self.adjust(account_id, pending=amount)

    # --- payout links ---------------------------------------------------------------------
    def link(self, reference_id: str) -> dict[str, Any] | None:
        with self.tx():
            row = self._one("SELECT * FROM links WHERE reference_id=?", (reference_id,))
            return dict(row) if row is not None else None

    def link_by_id(self, payout_link_id: str) -> dict[str, Any] | None:
        with self.tx():
            row = self._one("SELECT * FROM links WHERE payout_link_id=?", (payout_link_id,))
            return dict(row) if row is not None else None

    def create_link(
        self,
        *,
        reference_id: str,
        amount: str,
        currency: str,
        receiver_email: str,
        now: float,
        step_seconds: float,
        base_url: str,
    ) -> dict[str, Any]:
        with self.tx():
            row = self._one("SELECT COUNT(*) AS n FROM links")
            payout_link_id = f"PL{int(now):010d}{(row['n'] if row else 0) + 1:06d}"
            # DOKU does not publish its link lifetime; a day is a plausible, visible value.
            expired_date = datetime.fromtimestamp(now + 86400, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            self._db.execute(
                "INSERT INTO links (reference_id, payout_link_id, payout_link_url, amount, "
                "currency, receiver_email, expired_date, created_at, step_seconds) "
                "VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    reference_id,
                    payout_link_id,
                    f"{base_url}/_emulator/links/{payout_link_id}",
                    amount,
                    currency,
                    receiver_email,
                    expired_date,
                    now,
                    step_seconds,
                ),
            )
            created = self.link(reference_id)
            assert created is not None
            return created

    def hide_link(self, reference_id: str, until: float) -> None:
        with self.tx():
            self._db.execute(
                "UPDATE links SET hidden_until=? WHERE reference_id=?", (until, reference_id)
            )

    # --- executions -----------------------------------------------------------------------
    def reference_used(self, op: str, reference: str) -> bool:
        with self.tx():
            return (
                self._one(
                    "SELECT 1 FROM executed WHERE op=? AND reference=? LIMIT 1", (op, reference)
                )
                is not None
            )

    def record(
        self,
        *,
        op: str,
        request_id: str,
        reference: str,
        amount_minor: int | None,
        account_id: str | None,
        now: float,
    ) -> int:
        with self.tx():
            cur = self._db.execute(
                "INSERT INTO executed (op, request_id, reference, amount_minor, account_id, at) "
                "VALUES (?,?,?,?,?,?)",
                (op, request_id, reference, amount_minor, account_id, iso(now)),
            )
            return int(cur.lastrowid or 0)

    def executed_rows(self, op: str | None = None) -> list[dict[str, Any]]:
        """Every execution (of ``op``, or all), oldest first."""
        with self.tx():
            rows = self._db.execute(
                "SELECT * FROM executed WHERE ?1 IS NULL OR op=?1 ORDER BY seq", (op,)
            ).fetchall()
        return [dict(row) for row in rows]

    def reset(self) -> None:
        with self.tx():
            for table in _TABLES:
                self._db.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
