"""The PostgreSQL journal's location and faults, in one place: the URL as messages show it
(never its password), and every ``psycopg`` error that is the server's or the connection's
fault turned into a :class:`~batchpay.errors.JournalError` that names the journal, the cause
and what to do. Errors that are not storage faults (a refused transition, a constraint, a bug)
pass through unchanged, as in :mod:`batchpay.journal.sqlite.faults`."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from batchpay.config import redact
from batchpay.errors import (
    JournalCorrupt,
    JournalError,
    JournalFull,
    JournalMissing,
    JournalReadOnly,
)
from batchpay.journal.sqlite.faults import NEVER_AGAIN

if TYPE_CHECKING:
    import psycopg

# Connection parameters that are secrets: never part of a location.
_SECRET_PARAMETERS = frozenset({"password", "sslpassword"})


def public_location(url: str) -> str:
    """``url`` without its password (in the user part or as a ``password=`` parameter): what
    messages, the run's notes and ``Journal.location`` show."""
    parts = urlsplit(url.strip())
    userinfo, at, hostport = parts.netloc.rpartition("@")
    user = userinfo.partition(":")[0]
    netloc = f"{user}@{hostport}" if at and user else hostport
    query = urlencode(
        [
            (k, v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
            if k.lower() not in _SECRET_PARAMETERS
        ]
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def secrets_of(url: str) -> list[str]:
    """The password(s) ``url`` carries, to be redacted from any text that might echo them."""
    parts = urlsplit(url.strip())
    userinfo = parts.netloc.rpartition("@")[0]
    found = [userinfo.partition(":")[2]] if ":" in userinfo else []
    found += [v for k, v in parse_qsl(parts.query) if k.lower() in _SECRET_PARAMETERS]
    return [s for s in found if s]


def missing(location: str, what: str) -> JournalMissing:
    """No journal where one was expected: no such database, or no batchpay tables in it."""
    return JournalMissing(
        f"the journal {location} {what}",
        path=location,
        hint="if runs were journaled there, point BATCHPAY_LEDGER at the right database "
        "(or restore it) before anything else; do not pay the sheet again before the old "
        "journal is found: DOKU may already hold its references. Only `batchpay run` "
        "starts a new journal (or, in a new empty database, `batchpay journal migrate` run by "
        "its owner)",
    )


def newer_schema(location: str, version: int) -> JournalError:
    return JournalError(
        f"the journal {location} was written by a newer batchpay (schema {version})",
        path=location,
        hint=f"upgrade batchpay before using it; {NEVER_AGAIN}",
    )


def not_a_journal(location: str) -> JournalCorrupt:
    return JournalCorrupt(
        f"the journal {location} is damaged or not a batchpay journal: it has some batchpay "
        "tables but no schema version",
        path=location,
        hint=f"set BATCHPAY_LEDGER to the right database, or restore it; {NEVER_AGAIN}",
    )


_NO_DATABASE = r'database ".*" does not exist'

# (pattern in libpq's message, error class, what it means, what to do) — connection failures
# carry no SQLSTATE in psycopg, only libpq's text. First match wins.
_CONNECT: list[tuple[str, type[JournalError], str, str]] = [
    (
        r'role ".*" does not exist',
        JournalError,
        "refused the login: no such role",
        "check the user name in BATCHPAY_LEDGER (or ask the database owner for a role)",
    ),
    (
        "authentication failed",
        JournalError,
        "refused the login",
        "check the user and password (in ~/.pgpass or PGPASSWORD, or the URL) and that "
        "pg_hba.conf lets this host in",
    ),
    (
        "no password supplied",
        JournalError,
        "asks for a password and none was given",
        "put it in ~/.pgpass or PGPASSWORD",
    ),
    (
        _NO_DATABASE,
        JournalError,
        "does not exist on the server",
        "create it (`createdb`), or fix the database name in BATCHPAY_LEDGER",
    ),
    (
        "too many clients|remaining connection slots",
        JournalError,
        "refused the connection: all its connection slots are in use",
        "wait a moment, or ask the database owner to raise max_connections",
    ),
    (
        "permission denied",
        JournalReadOnly,
        "does not let this role in",
        "ask the database owner to grant this role CONNECT (and its batchpay rights)",
    ),
]
_UNREACHABLE = (
    "could not be reached",
    "check that the server is running, the host and port in BATCHPAY_LEDGER, and the network",
)


def connect_error(exc: Exception, location: str, *, create: bool) -> JournalError:
    """Why a connection could not be opened, as a JournalError (JournalMissing for a missing
    database when the journal was not being created)."""
    text = redact(str(exc)).strip()
    cause = text.splitlines()[0] if text else type(exc).__name__
    cause = cause.rpartition("failed: ")[2] or cause
    cause = re.sub(r"^(FATAL|ERROR):\s+", "", cause)
    match = next((entry for entry in _CONNECT if re.search(entry[0], text)), None)
    if match is None:
        kind, (what, todo) = JournalError, _UNREACHABLE
    else:
        pattern, kind, what, todo = match
        if pattern == _NO_DATABASE and not create:
            return missing(location, f"does not exist on the server ({cause})")
    return kind(
        f"the journal {location} {what} ({cause})",
        path=location,
        hint=f"{todo}, then run the command again; {NEVER_AGAIN}",
    )


# SQLSTATE classes and codes of faults that are the server's, not the change's.
_FULL_STATES = {"53100", "53200", "53300", "54000"}
_READ_ONLY_STATES = {"25006", "42501"}
_CORRUPT_STATES = {"XX001", "XX002", "42P01", "42703"}
_EXPLAIN: dict[type[JournalError], tuple[str, str]] = {
    JournalFull: (
        "cannot be written: the server is out of space or resources",
        "free space on the database server (or raise its limits)",
    ),
    JournalReadOnly: (
        "cannot be written by this role",
        "ask the database owner for write rights, or use a read-only command "
        "(`batchpay runs`, `batchpay report`)",
    ),
    JournalCorrupt: (
        "is damaged or not a batchpay journal",
        "restore the database from a backup, or point BATCHPAY_LEDGER at the right one",
    ),
    JournalError: (
        "could not be used",
        "check that the database server is running and reachable",
    ),
}


def journal_error(
    exc: BaseException, location: str, *, doing: str = "using it", then: str | None = None
) -> JournalError | None:
    """The :class:`JournalError` for ``exc`` met while ``doing`` something with the journal
    at ``location``, or None when ``exc`` is not a storage fault."""
    import psycopg

    if isinstance(exc, JournalError):
        return exc
    if not isinstance(exc, psycopg.Error):
        return None
    change = (psycopg.IntegrityError, psycopg.ProgrammingError, psycopg.InterfaceError)
    if isinstance(exc, change) and not _is_schema_fault(exc):
        return None  # the change's fault (a constraint, a trigger), or a bug
    state = exc.sqlstate or ""
    kind: type[JournalError]
    if state in _FULL_STATES:
        kind = JournalFull
    elif state in _READ_ONLY_STATES:
        kind = JournalReadOnly
    elif state in _CORRUPT_STATES:
        kind = JournalCorrupt
    elif isinstance(exc, psycopg.OperationalError) or state[:2] in ("08", "57", "58", "53"):
        kind = JournalError
    else:
        return None
    text = redact(str(exc)).strip()
    cause = text.splitlines()[0] if text else type(exc).__name__
    what, todo = _EXPLAIN[kind]
    return kind(
        f"the journal {location} {what} while {doing} ({cause})",
        path=location,
        hint=f"{todo}, then {then or 'run the command again'}; {NEVER_AGAIN}",
    )


def _is_schema_fault(exc: psycopg.Error) -> bool:
    """A missing table or column (someone dropped part of the journal), or no right to it."""
    return (exc.sqlstate or "") in _CORRUPT_STATES | _READ_ONLY_STATES


def is_storage_fault(exc: BaseException, location: str = "journal") -> bool:
    return journal_error(exc, location) is not None


@contextlib.contextmanager
def storage_faults(
    location: str, doing: str = "using it", then: str | None = None
) -> Iterator[None]:
    """Re-raise storage faults inside the block as :class:`JournalError` (chained)."""
    import psycopg

    try:
        yield
    except psycopg.Error as exc:
        error = journal_error(exc, location, doing=doing, then=then)
        if error is None or error is exc:
            raise
        raise error from exc
