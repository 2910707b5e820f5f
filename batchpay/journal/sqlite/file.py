"""The journal file: opening it (never created by accident; schemas 1 and 2 migrated;
read-only disks read as they stand), connections with the durability pragmas, and write transactions
whose storage faults each become a :class:`~batchpay.errors.JournalError`."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

from batchpay.journal.identities import Clock, utc_now
from batchpay.journal.sqlite import faults, schema
from batchpay.journal.sqlite.faults import storage_faults


class JournalFile:
    """The SQLite file at ``path`` (the storage half of
    :class:`~batchpay.journal.sqlite.SqliteJournal`)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        clock: Clock = utc_now,
        create: bool = False,
        read_only: bool = False,
    ) -> None:
        if create and read_only:
            raise ValueError("a journal is created only for writing")
        self.path = Path(path)
        self.clock = clock
        self._read_only = read_only
        self.schema = schema.SCHEMA_VERSION  # older only for an older journal opened read-only
        self._immutable = False
        with storage_faults(self.path, "opening it"):
            self._open(create)

    @property
    def location(self) -> str:
        return str(self.path)

    @property
    def read_only(self) -> bool:
        return self._read_only

    def __repr__(self) -> str:
        return f"SqliteJournal({self.location!r}{', read_only=True' if self.read_only else ''})"

    def _open(self, create: bool) -> None:
        if not self.path.exists() or (self.path.is_file() and self.path.stat().st_size == 0):
            if not create:
                raise faults.missing(self.path, empty=self.path.exists())
            schema.create_file(self.path)
        elif not self.read_only and not faults.writable_place(self.path):
            raise faults.read_only(self.path)
        version, tables = self._probe()
        if version > schema.SCHEMA_VERSION:
            raise faults.newer_schema(self.path, version)
        if version == schema.SCHEMA_VERSION:
            return
        if version == 0 and not tables:
            if not create:
                raise faults.missing(self.path, empty=True)
            self._with_connection(schema.write_schema)
            return
        if not schema.TABLES <= tables:
            raise faults.not_a_journal(self.path)
        if self.read_only:
            self.schema = version  # read as it is: read-only commands never write
            return
        self._with_connection(schema.migrate)

    def _with_connection(self, job: Callable[[sqlite3.Connection], None]) -> None:
        conn = self.connect()
        try:
            job(conn)
        finally:
            conn.close()

    def _probe(self) -> tuple[int, set[str]]:
        """Schema version and table names, read without writing anything."""
        try:
            conn = self._sqlite()
            try:
                return schema.probe(conn)
            finally:
                conn.close()
        except sqlite3.OperationalError as exc:
            # A WAL journal on a read-only disk without its -shm file: mode=ro cannot open
            # it, but nobody can be writing it either; read the file as it stands.
            if not (
                self.read_only
                and faults.cannot_open(exc)
                and not Path(f"{self.path}-wal").exists()
                and not faults.writable_place(self.path)
            ):
                raise
            self._immutable = True
            return self._probe()

    # connections ------------------------------------------------------------------------

    def _sqlite(self) -> sqlite3.Connection:
        if self.read_only:
            uri = self.path.absolute().as_uri() + (
                "?immutable=1" if self._immutable else "?mode=ro"
            )
            conn = sqlite3.connect(
                uri, uri=True, timeout=30.0, isolation_level=None, check_same_thread=False
            )
        else:
            conn = sqlite3.connect(
                self.path, timeout=30.0, isolation_level=None, check_same_thread=False
            )
        conn.row_factory = sqlite3.Row
        return conn

    def connect(self) -> sqlite3.Connection:
        """A new connection with the durability pragmas set (docs/safety.md: WAL and
        synchronous=FULL on *every* connection — both are per-connection settings in SQLite,
        except WAL mode which is persistent but is re-asserted here anyway). A read-only
        journal's connections are ``mode=ro`` and assert nothing that would write."""
        conn = self._sqlite()
        try:
            if not self.read_only:
                conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA busy_timeout=30000")
        except BaseException:
            conn.close()
            raise
        return conn

    @contextlib.contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        """A connection for reads; storage faults in the block become JournalErrors."""
        with storage_faults(self.path, "reading it"):
            conn = self.connect()
            try:
                yield conn
            finally:
                conn.close()

    @contextlib.contextmanager
    def transaction(
        self, *, doing: str = "writing it", then: str | None = None
    ) -> Iterator[sqlite3.Connection]:
        """One write transaction. A storage fault inside it (the disk full, a read-only
        file) is a :class:`~batchpay.errors.JournalError` saying what failed (``doing``)
        and what to do once fixed (``then``)."""
        with storage_faults(self.path, doing, then):
            conn = self.connect()
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                except BaseException:
                    # SQLite may have rolled back already (a full disk does): a second
                    # ROLLBACK would raise and hide the cause.
                    schema.rollback(conn)
                    raise
                conn.execute("COMMIT")
            finally:
                conn.close()
