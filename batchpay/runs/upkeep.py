"""The service side of ``batchpay journal status`` and ``batchpay journal migrate``: the
journal the settings name (``BATCHPAY_LEDGER``, or the default file), read or brought to this
program's schema by :mod:`batchpay.journal.maintenance`. Neither talks to DOKU."""

from __future__ import annotations

from typing import TYPE_CHECKING

from batchpay.config import load_settings
from batchpay.journal.maintenance import (
    JournalStatus,
    Migration,
    journal_status,
    migrate_journal,
)

if TYPE_CHECKING:
    from batchpay.runs.options import Target


def status(target: Target) -> JournalStatus:
    """Where the journal is, its engine, schema versions and runs by status (read-only: a
    missing or empty journal is JournalMissing; a newer schema is refused)."""
    settings = load_settings(dotenv_path=target.env_file, require_credentials=False)
    return journal_status(settings.ledger)


def migrate(target: Target) -> Migration:
    """Bring the journal to this program's schema (idempotent); on PostgreSQL create
    batchpay's tables in an existing, empty database."""
    settings = load_settings(dotenv_path=target.env_file, require_credentials=False)
    return migrate_journal(settings.ledger)


__all__ = ["JournalStatus", "Migration", "migrate", "status"]
