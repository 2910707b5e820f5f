"""Storage faults of the journal, in one place: every ``sqlite3`` or ``OSError`` the journal
meets is turned here into a :class:`~batchpay.errors.JournalError` that names the journal, the
cause and what to do — never an "internal error" (issue 8 finding 10).

The file and store (:mod:`~batchpay.journal.sqlite.file`, :mod:`~batchpay.journal.sqlite.store`),
the group-commit writer (:mod:`~batchpay.journal.sqlite.writer`) and the run lock
(:mod:`~batchpay.journal.sqlite.lock`) all go through :func:`journal_error` /
:func:`storage_faults`. Errors that are not storage faults
(a refused transition, a constraint, a bug) pass through unchanged.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from batchpay.errors import (
    JournalCorrupt,
    JournalError,
    JournalFull,
    JournalMissing,
    JournalReadOnly,
)

# Appended to every hint: a lost or unusable journal is never a reason to start over.
NEVER_AGAIN = (
    "do not pay these sheets again from a new journal: DOKU may already hold their references"
)

# Primary SQLite result codes (extended codes carry them in the low byte).
_PERM, _BUSY, _LOCKED, _READONLY, _IOERR, _CORRUPT = 3, 5, 6, 8, 10, 11
_FULL, _CANTOPEN, _NOTADB = 13, 14, 26

_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_READONLY_ERRNOS = {errno.EROFS, errno.EACCES, errno.EPERM}


def missing(path: str | os.PathLike[str], *, empty: bool = False) -> JournalMissing:
    """The journal is not there (or holds nothing) where one was expected."""
    what = "is empty" if empty else "does not exist"
    return JournalMissing(
        f"the journal {path} {what}",
        path=path,
        hint="if runs were journaled there, find that journal and restore it (or point "
        "BATCHPAY_LEDGER at it) before anything else; do not pay the sheet again before "
        "the old journal is found: DOKU may already hold its references. Only "
        "`batchpay run` starts a new journal",
    )


def newer_schema(path: str | os.PathLike[str], version: int) -> JournalError:
    return JournalError(
        f"the journal {path} was written by a newer batchpay (schema {version})",
        path=path,
        hint=f"upgrade batchpay before using it; {NEVER_AGAIN}",
    )


def read_only(path: str | os.PathLike[str]) -> JournalReadOnly:
    """A writing command on a journal this process cannot write."""
    path = Path(path)
    what, todo = _EXPLAIN[JournalReadOnly]
    return JournalReadOnly(
        f"the journal {path} {what}: this command writes to it",
        path=path,
        hint=f"{todo.format(dir=path.parent)}, then run the command again "
        f"(`batchpay runs` and `batchpay report` can read it as it is); "
        f"{NEVER_AGAIN}",
    )


def not_a_journal(path: str | os.PathLike[str]) -> JournalCorrupt:
    path = Path(path)
    what, todo = _EXPLAIN[JournalCorrupt]
    return JournalCorrupt(
        f"the journal {path} {what}: it has no batchpay tables",
        path=path,
        hint=f"{todo}, or set BATCHPAY_LEDGER to the right file; {NEVER_AGAIN}",
    )


def cannot_open(exc: sqlite3.Error) -> bool:
    return _code(exc) == _CANTOPEN


def _code(exc: sqlite3.Error) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    return None if code is None else code & 0xFF


def writable_place(path: Path) -> bool:
    """Can this process write the journal and create files beside it? (``os.access`` honours
    read-only mounts even for root.)"""
    parent = path.parent if str(path.parent) else Path(".")
    return os.access(parent, os.W_OK) and (not path.exists() or os.access(path, os.W_OK))


def _disk_full(path: Path) -> bool:
    try:
        return os.statvfs(path.parent if str(path.parent) else ".").f_bavail == 0
    except OSError:
        return False


def is_storage_fault(exc: BaseException) -> bool:
    """True when ``exc`` is a fault of the disk or the file, not of the change."""
    return journal_error(exc, Path("journal")) is not None


def journal_error(
    exc: BaseException,
    path: str | os.PathLike[str],
    *,
    doing: str = "using it",
    then: str | None = None,
) -> JournalError | None:
    """The :class:`JournalError` for ``exc`` met while ``doing`` something with the journal
    at ``path``, or None when ``exc`` is not a storage fault. ``then`` is the next step once
    the cause is fixed (default: run the command again)."""
    if isinstance(exc, JournalError):
        return exc
    path = Path(path)
    then = then or "run the command again"
    kind: type[JournalError]
    if isinstance(exc, sqlite3.Error):
        if isinstance(
            exc, (sqlite3.IntegrityError, sqlite3.ProgrammingError, sqlite3.InterfaceError)
        ):
            return None
        code = _code(exc)
        if code == _FULL:
            kind = JournalFull
        elif code in (_READONLY, _PERM):
            kind = JournalReadOnly
        elif code in (_CORRUPT, _NOTADB):
            kind = JournalCorrupt
        elif code == _CANTOPEN:
            if not path.exists():
                return missing(path)
            kind = JournalError if writable_place(path) else JournalReadOnly
        elif code == _IOERR:
            # SQLite reports some writes on a full disk as I/O errors (growing the -shm
            # file: SQLITE_IOERR_SHMSIZE); the filesystem says which it was.
            kind = JournalFull if _disk_full(path) else JournalError
        elif code in (_BUSY, _LOCKED):
            kind = JournalError
        else:
            return None
        cause = str(exc)
    elif isinstance(exc, OSError):
        if exc.errno in _FULL_ERRNOS:
            kind = JournalFull
        elif exc.errno in _READONLY_ERRNOS:
            kind = JournalReadOnly
        else:
            kind = JournalError
        cause = exc.strerror or str(exc)
        if exc.filename and str(exc.filename) != str(path):
            cause += f": {exc.filename}"
    else:
        return None
    what, todo = _EXPLAIN[kind]
    return kind(
        f"the journal {path} {what} while {doing} ({cause})",
        path=path,
        hint=f"{todo.format(dir=path.parent)}, then {then}; {NEVER_AGAIN}",
    )


_EXPLAIN: dict[type[JournalError], tuple[str, str]] = {
    JournalFull: ("cannot be written: the disk is full", "free space on the disk of {dir}"),
    JournalReadOnly: (
        "is read-only",
        "make the journal and its directory {dir} writable (permissions, or a read-only mount)",
    ),
    JournalCorrupt: (
        "is damaged or not a batchpay journal",
        "restore the journal from a backup (keep this file for diagnosis)",
    ),
    JournalError: ("could not be used", "check the disk and the file"),
}


@contextlib.contextmanager
def storage_faults(
    path: str | os.PathLike[str], doing: str = "using it", then: str | None = None
) -> Iterator[None]:
    """Re-raise storage faults inside the block as :class:`JournalError` (chained)."""
    try:
        yield
    except (sqlite3.Error, OSError) as exc:
        error = journal_error(exc, path, doing=doing, then=then)
        if error is None or error is exc:
            raise
        raise error from exc
