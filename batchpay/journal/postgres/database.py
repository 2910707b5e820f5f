"""The PostgreSQL database behind the journal: opening it (never created by accident; a newer
schema refused), connections and write transactions whose faults each become a
:class:`~batchpay.errors.JournalError` naming the URL without its password.

Every call opens its own connection, as the SQLite journal does (a connection on loopback
costs a few milliseconds; threads never share one). Connections commit synchronously
(``synchronous_commit=on``, whatever the role's default): a change is on the server's disk
before the call returns. A read-only journal's connections refuse every write
(``default_transaction_read_only``).
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from batchpay.config import remember_secret
from batchpay.errors import JournalError
from batchpay.journal.identities import Clock, utc_now
from batchpay.journal.postgres import faults, schema

if TYPE_CHECKING:
    import psycopg

    from batchpay.journal.postgres.lock import RunLock


class Database:
    """The journal database at ``url`` (the storage half of
    :class:`~batchpay.journal.postgres.PostgresJournal`)."""

    def __init__(
        self, url: str, *, clock: Clock = utc_now, create: bool = False, read_only: bool = False
    ) -> None:
        if create and read_only:
            raise ValueError("a journal is created only for writing")
        self._url = url.strip()
        try:
            for secret in faults.secrets_of(self._url):
                remember_secret(secret)  # never echoed, whatever libpq puts in a message
            self._location = faults.public_location(self._url)
        except ValueError as exc:  # urllib: e.g. an unclosed "[" — the URL is never echoed
            shown = self._url.partition("://")[0] + "://…"
            raise JournalError(
                f"the journal location {shown} is not a valid PostgreSQL URL ({exc})",
                path=shown,
                hint="write it as postgresql://user@host:port/database in BATCHPAY_LEDGER",
            ) from None
        self.clock = clock
        self._read_only = read_only
        self.schema = schema.SCHEMA_VERSION
        self.held: dict[str, RunLock] = {}  # run locks this journal holds, by run id
        self._open(create)

    @property
    def location(self) -> str:
        return self._location

    @property
    def read_only(self) -> bool:
        return self._read_only

    def __repr__(self) -> str:
        return f"PostgresJournal({self.location!r}{', read_only=True' if self.read_only else ''})"

    def _open(self, create: bool) -> None:
        try:
            import psycopg  # noqa: F401 — only a PostgreSQL journal needs it
        except ImportError:
            raise JournalError(
                f"the journal {self.location} is a PostgreSQL database, and psycopg (3) is "
                "not installed",
                path=self.location,
                hint="install it with `pip install 'batchpay[postgres]'`, then run the "
                "command again",
            ) from None
        self._defaults = _defaults(self._url, self.location)
        conn = self._connect(create=create)
        try:
            with faults.storage_faults(self.location, "opening it"):
                version, tables = schema.probe(conn)
                conn.rollback()  # probe's implicit transaction: never left open
                if version is None and tables - {"batchpay_meta"}:
                    raise faults.not_a_journal(self.location)
                if version is None:
                    if not create:
                        raise faults.missing(self.location, "has no batchpay tables (it is empty)")
                    conn.autocommit = True
                    schema.write_schema(conn)
                    return
                if version > schema.SCHEMA_VERSION:
                    raise faults.newer_schema(self.location, version)
                if version < schema.SCHEMA_VERSION:
                    if self._read_only:
                        self.schema = version  # read as it is: read-only commands never write
                        return
                    conn.autocommit = True
                    schema.migrate(conn)
        finally:
            conn.close()

    # connections ------------------------------------------------------------------------

    def _connect(self, *, create: bool = False) -> psycopg.Connection[dict[str, Any]]:
        import psycopg
        from psycopg.rows import dict_row

        try:
            conn = psycopg.connect(
                self._url,
                row_factory=dict_row,
                # Who holds a run lock is told by this name (lock.py).
                application_name=f"batchpay pid {os.getpid()} on {socket.gethostname()}"[:63],
                **self._defaults,
            )
        except psycopg.Error as exc:
            raise faults.connect_error(exc, self.location, create=create) from exc
        try:
            conn.execute(_session_settings(conn.info.server_version, self._read_only))
            conn.commit()
        except BaseException:
            conn.close()
            raise
        return conn

    def connect(self) -> psycopg.Connection[dict[str, Any]]:
        """A new connection (not autocommit: each block is one transaction)."""
        with faults.storage_faults(self.location, "connecting to it"):
            return self._connect()

    @contextlib.contextmanager
    def _reading(self) -> Iterator[psycopg.Connection[dict[str, Any]]]:
        """A connection for reads (autocommit: each statement sees the latest commits);
        faults in the block become JournalErrors."""
        with faults.storage_faults(self.location, "reading it"):
            conn = self._connect()
            try:
                conn.autocommit = True
                yield conn
            finally:
                conn.close()

    @contextlib.contextmanager
    def transaction(
        self, *, doing: str = "writing it", then: str | None = None
    ) -> Iterator[psycopg.Connection[dict[str, Any]]]:
        """One write transaction (committed when the block ends, rolled back if it raises).
        A fault of the server or the connection inside it is a JournalError saying what
        failed (``doing``) and what to do once fixed (``then``)."""
        with faults.storage_faults(self.location, doing, then):
            conn = self._connect()
            try:
                with conn.transaction():
                    yield conn
            finally:
                conn.close()


def _defaults(url: str, location: str) -> dict[str, Any]:
    """Connection parameters batchpay adds: a 10 s connect timeout unless the URL or
    ``PGCONNECT_TIMEOUT`` sets one (libpq's own default waits forever)."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        given = conninfo_to_dict(url)
    except Exception as exc:  # psycopg.ProgrammingError: not a valid URL
        raise JournalError(
            f"the journal location {location} is not a valid PostgreSQL URL ({exc})",
            path=location,
            hint="write it as postgresql://user@host:port/database in BATCHPAY_LEDGER",
        ) from None
    if "connect_timeout" in given or os.environ.get("PGCONNECT_TIMEOUT"):
        return {}
    return {"connect_timeout": 10}


def _session_settings(server_version: int, read_only: bool) -> str:
    """What every session sets, in one round trip: synchronous commits (durable before a
    call returns), no idle-session timeout (a run lock or a writer idles while DOKU answers;
    a DBA's timeout must not end them mid-run, PostgreSQL 14+), server-side TCP keepalives (a
    holder whose machine vanished frees its run lock within about a minute), and read-only
    transactions for a read-only journal."""
    settings = [
        "SET synchronous_commit TO on",
        "SET tcp_keepalives_idle TO 30",
        "SET tcp_keepalives_interval TO 10",
        "SET tcp_keepalives_count TO 3",
    ]
    if server_version >= 140000:
        settings.append("SET idle_session_timeout TO 0")
    if read_only:
        settings.append("SET default_transaction_read_only TO on")
    return "; ".join(settings)
