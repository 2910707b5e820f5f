"""The live-reference constraint (issue 14) in the SQLite journal.

``rows.holds`` is 1 on the one row that holds its (kind, env, reference_key) live, and a
partial UNIQUE index (:data:`batchpay.journal.sqlite.schema.LIVE_INDEX`) refuses a second:
two runs that both read a reference as free
(:func:`~batchpay.journal.sqlite.sql.references_seen_in`, inside their own transactions)
cannot both journal it. ``holds`` is 1 only where that read check counts the row as holding,
so the index never refuses what the check allows:

* a real run's rows take their slots at ``create_run``; an allowed repeat (``--allow-repeat``)
  and a dry run never do (the read check still sees an allowed repeat's rows);
* a row reaching a state that frees its reference (:func:`frees_reference`), a rejected or
  expired run (:func:`release_run`) and a run the emulator reset forgot give them back;
* a run made with ``exclude_run_ids`` (a retry's parent chain, runs a reset forgot) takes them
  over from those runs' rows in its own transaction (:func:`take_over`).

The PostgreSQL journal keeps the same rules (:mod:`batchpay.journal.postgres.sql`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence

from batchpay.journal.records import NewRow, Repeat, RepeatedReferences, SeenReference
from batchpay.references import reference_key
from batchpay.states import REFERENCE_FREE, State

# The index; SQLite names its columns when it refuses a row, PostgreSQL the index.
LIVE_INDEX = "rows_live_reference"
LIVE_COLUMNS = "rows.kind, rows.env, rows.reference_key"


def is_live_violation(exc: Exception) -> bool:
    """Whether ``exc`` is the live-reference index refusing a second holder."""
    return LIVE_COLUMNS in str(exc)


def holding_flags(holds: bool) -> Callable[[str], int]:
    """Per row of a new run (by its reference key, in row order): 1 if it takes the key's
    slot. Only the first row of a key in the run does (a sheet never repeats a reference,
    but journal callers may)."""
    seen: set[str] = set()

    def flag(key: str) -> int:
        if not holds or key in seen:
            return 0
        seen.add(key)
        return 1

    return flag


def frees_reference(new_state: str, code: str | None, message: str | None) -> bool:
    """Whether a row reaching ``new_state`` (with its code and message as they will be
    stored) stops holding its reference: the rule of :func:`references_seen_in`."""
    if new_state == State.REJECTED:
        return rejection_frees_reference(code, message)
    return new_state in REFERENCE_FREE


def plan_references(rows: Sequence[NewRow]) -> tuple[list[str], list[int]]:
    """A plan's references and row numbers (batchpay.runs.plan.PlannedRows lists both, so
    checking them does not build every row)."""
    references: list[str] | None = getattr(rows, "references", None)
    numbers: list[int] | None = getattr(rows, "row_numbers", None)
    if references is None or numbers is None:
        return [r.reference for r in rows], [r.row_number for r in rows]
    return references, numbers


def take_over(
    conn: sqlite3.Connection, kind: str, env: str, rows: Sequence[NewRow], excluded: tuple[str, ...]
) -> None:
    """The rows of ``excluded`` runs (a retry's parent chain, runs the emulator reset forgot)
    give the new run's references back before it takes them: the read check ignores them."""
    if not excluded:
        return
    keys = sorted({reference_key(r) for r in plan_references(rows)[0]})
    runs = ",".join("?" * len(excluded))
    for i in range(0, len(keys), 500):
        chunk = keys[i : i + 500]
        conn.execute(
            "UPDATE rows SET holds=0 WHERE holds=1 AND kind=? AND env=? "  # noqa: S608
            f"AND run_id IN ({runs}) AND reference_key IN ({','.join('?' * len(chunk))})",
            [kind, env, *excluded, *chunk],
        )


def live_holders(
    conn: sqlite3.Connection, kind: str, env: str, rows: Sequence[NewRow]
) -> list[Repeat]:
    """The rows of a refused new run whose reference another run holds live (holds = 1):
    what a unique violation of the live-reference index names."""
    references, numbers = plan_references(rows)
    by_key: dict[str, SeenReference] = {}
    keys = sorted({reference_key(r) for r in references})
    for i in range(0, len(keys), 500):
        chunk = keys[i : i + 500]
        for r in conn.execute(
            "SELECT r.reference, r.reference_key, r.run_id, r.row_number, r.state, "  # noqa: S608
            "u.created_at FROM rows r JOIN runs u ON u.run_id = r.run_id WHERE r.holds=1 AND "
            f"r.kind=? AND r.env=? AND r.reference_key IN ({','.join('?' * len(chunk))})",
            [kind, env, *chunk],
        ):
            by_key[r["reference_key"]] = SeenReference(
                r["run_id"], r["row_number"], r["state"], r["created_at"], r["reference"]
            )
    return [
        Repeat(number, reference, by_key[key])
        for number, reference in zip(numbers, references, strict=True)
        if (key := reference_key(reference)) in by_key
    ]


def refuse_live(conn: sqlite3.Connection, kind: str, env: str, rows: Sequence[NewRow]) -> None:
    """After the index refused a new run (rolled back: nothing of it was journaled), raise
    :class:`RepeatedReferences` naming the runs that hold its references live — the error
    the read check raises. Returns if none does any more."""
    holders = live_holders(conn, kind, env, rows)
    if holders:
        raise RepeatedReferences(holders)


def release_run(conn: sqlite3.Connection, run_id: str) -> None:
    """Every row of ``run_id`` gives its reference back (the run is closed or forgotten)."""
    conn.execute("UPDATE rows SET holds=0 WHERE run_id=? AND holds=1", (run_id,))


def rejection_frees_reference(code: str | None, message: str | None) -> bool:
    """Whether a REJECTED row no longer holds its reference: its rejection proves DOKU
    executed nothing (docs/safety.md section 2). Rows journaled before schema 2 have no code;
    their message names DOKU's code, and one naming an "exists" code keeps holding it."""
    from batchpay.doku.codes import proves_not_executed_code, reference_exists_code

    if code is not None:
        return proves_not_executed_code(code)
    text = message or ""
    return not (reference_exists_code(text) or "REUSED" in text)
