"""The journal's own upkeep, for ``batchpay journal status`` and ``batchpay journal migrate``
(issue 14): which schema a journal has, and bringing an older one to this program's.

* SQLite: schemas 1, 2 and 3 are migrated to 4 in one transaction
  (:func:`batchpay.journal.sqlite.schema.migrate` — the same migration every writing command
  runs when it opens an older journal). A missing or empty file stays
  :class:`~batchpay.errors.JournalMissing`: only ``batchpay run`` (or ``submit``) starts a
  SQLite journal.
* PostgreSQL: "migrate" creates batchpay's tables in an existing, empty database (the
  database owner prepares a shared journal before anyone runs a batch), brings schema 3 (the
  first PostgreSQL schema) to 4 in one transaction, or finds them current. It never creates
  the database.

A journal written by a newer batchpay is refused by both, as every command refuses it.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass

from batchpay.config import is_database_url
from batchpay.errors import JournalMissing
from batchpay.journal.protocol import Journal


@dataclass(frozen=True)
class JournalStatus:
    """Where a journal is (never a password), its engine, schema versions and runs."""

    location: str
    engine: str  # "sqlite" or "postgresql"
    schema: int  # the journal's
    program_schema: int  # this batchpay's
    runs_by_status: dict[str, int]

    @property
    def needs_migration(self) -> bool:
        return self.schema < self.program_schema

    @property
    def run_count(self) -> int:
        return sum(self.runs_by_status.values())


@dataclass(frozen=True)
class Migration:
    """What :func:`migrate_journal` did: ``before`` None when it created the tables."""

    location: str
    engine: str
    before: int | None
    after: int

    @property
    def changed(self) -> bool:
        return self.before != self.after

    @property
    def created(self) -> bool:
        return self.before is None


def _engine(location: str | os.PathLike[str]) -> str:
    return "postgresql" if is_database_url(location) else "sqlite"


def _open_read_only(location: str | os.PathLike[str]) -> tuple[str, int, Journal]:
    """The journal opened for reading (older schemas as they stand, nothing written): its
    location, schema version and the journal itself."""
    if is_database_url(location):
        from batchpay.journal.postgres import PostgresJournal

        pg = PostgresJournal(str(location), read_only=True)
        return pg.location, pg.schema, pg
    from batchpay.journal.sqlite import SqliteJournal

    lite = SqliteJournal(location, read_only=True)
    return lite.location, lite.schema, lite


def _program_schema(location: str | os.PathLike[str]) -> int:
    if is_database_url(location):
        from batchpay.journal.postgres import SCHEMA_VERSION as PG_VERSION

        return PG_VERSION
    from batchpay.journal.sqlite import SCHEMA_VERSION as LITE_VERSION

    return LITE_VERSION


def journal_status(location: str | os.PathLike[str]) -> JournalStatus:
    """The journal at ``location`` as it stands, read-only (a missing or empty one is
    JournalMissing; a newer schema is refused)."""
    shown, version, journal = _open_read_only(location)
    counts = Counter(str(run.status) for run in journal.runs())
    return JournalStatus(
        location=shown,
        engine=_engine(location),
        schema=version,
        program_schema=_program_schema(location),
        runs_by_status=dict(sorted(counts.items())),
    )


def migrate_journal(location: str | os.PathLike[str]) -> Migration:
    """Bring the journal at ``location`` to this program's schema; idempotent. On PostgreSQL an
    existing, empty database gets batchpay's tables."""
    program = _program_schema(location)
    try:
        shown, before, _ = _open_read_only(location)
    except JournalMissing:
        if not is_database_url(location):
            raise  # a SQLite journal is started by `batchpay run`, never by migrate
        from batchpay.journal.postgres import PostgresJournal

        created = PostgresJournal(str(location), create=True)
        return Migration(created.location, "postgresql", None, created.schema)
    if before == program:
        return Migration(shown, _engine(location), before, before)
    if is_database_url(location):
        from batchpay.journal.postgres import PostgresJournal

        opened = PostgresJournal(str(location))  # opening for writing migrates (one transaction)
        return Migration(opened.location, "postgresql", before, opened.schema)
    from batchpay.journal.sqlite import SqliteJournal

    migrated = SqliteJournal(location)  # opening for writing migrates (one transaction)
    return Migration(migrated.location, "sqlite", before, migrated.schema)
