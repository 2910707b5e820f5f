"""``batchpay journal status`` and ``batchpay journal migrate`` (issue 14): where the journal
is, its schema against this program's, its runs by status; and bringing an older journal (or,
on PostgreSQL, an empty database) to this program's schema. Errors map as every journal error
does (:mod:`batchpay.cli.exits`: a missing journal, a newer schema, a refused role → 4)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from batchpay.cli.common import json_option, target

if TYPE_CHECKING:
    from batchpay.runs.upkeep import JournalStatus, Migration

_ENGINES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


@click.group("journal")
def journal_group() -> None:
    """The journal itself: its schema version (status) and migrations (migrate).

    The journal is BATCHPAY_LEDGER: a SQLite file (default $BATCHPAY_HOME/ledger.sqlite) or a
    shared PostgreSQL database (README: Team set-up).

    Example: batchpay journal status
    """


@journal_group.command("status")
@click.option(
    "--env-file",
    type=click.Path(dir_okay=False),
    help="Read settings from this .env file (default ./.env).",
)
@json_option
def status_cmd(env_file: str | None, as_json: bool) -> None:
    """Where the journal is, its engine and schema version (and this batchpay's), whether it
    needs `batchpay journal migrate`, and its runs by status.

    Reads only: nothing is written, nothing is migrated.

    Example: batchpay journal status
    """
    from batchpay.cli import jsonout
    from batchpay.runs import upkeep

    found = upkeep.status(target(None, None, env_file))
    if as_json:
        jsonout.emit(status_document(found))
        return
    click.echo("\n".join(status_lines(found)))


@journal_group.command("migrate")
@click.option(
    "--env-file",
    type=click.Path(dir_okay=False),
    help="Read settings from this .env file (default ./.env).",
)
@json_option
def migrate_cmd(env_file: str | None, as_json: bool) -> None:
    """Bring the journal to this batchpay's schema; safe to run again.

    SQLite: an older journal (schema 1 or 2) is migrated in one transaction. PostgreSQL: run
    it as the database's owner to create batchpay's tables in the existing, empty database
    before anyone runs a batch. A journal from a newer batchpay is refused.

    Example (the owner, once):
    BATCHPAY_LEDGER=postgresql://batchpay_owner@db.example/batchpay batchpay journal migrate
    """
    from batchpay.cli import jsonout
    from batchpay.runs import upkeep

    done = upkeep.migrate(target(None, None, env_file))
    if as_json:
        jsonout.emit(migrate_document(done))
        return
    click.echo(migrate_line(done))


def status_lines(s: JournalStatus) -> list[str]:
    if s.needs_migration:
        state = "older: run `batchpay journal migrate`"
    else:
        state = "current"
    by_status = ", ".join(f"{n} {status}" for status, n in s.runs_by_status.items())
    return [
        f"Journal   {s.location}",
        f"Engine    {_ENGINES.get(s.engine, s.engine)}",
        f"Schema    {s.schema} (this batchpay: {s.program_schema}) — {state}",
        f"Runs      {s.run_count}" + (f" ({by_status})" if by_status else ""),
    ]


def status_document(s: JournalStatus) -> dict[str, object]:
    from batchpay.cli import jsonout

    return jsonout.document(
        "journal-status",
        location=s.location,
        engine=s.engine,
        journal_schema=s.schema,
        program_schema=s.program_schema,
        needs_migration=s.needs_migration,
        runs={"total": s.run_count, "by_status": s.runs_by_status},
    )


def migrate_line(m: Migration) -> str:
    if m.created:
        return f"Journal {m.location}: created batchpay's tables (schema {m.after})."
    if not m.changed:
        return f"Journal {m.location}: already at schema {m.after}; nothing to do."
    return f"Journal {m.location}: schema {m.before} → {m.after}."


def migrate_document(m: Migration) -> dict[str, object]:
    from batchpay.cli import jsonout

    return jsonout.document(
        "journal-migrate",
        location=m.location,
        engine=m.engine,
        schema_before=m.before,
        schema_after=m.after,
        created=m.created,
        changed=m.changed,
    )


def register(group: click.Group) -> None:
    """Add this module's commands to the top-level group."""
    group.add_command(journal_group)
