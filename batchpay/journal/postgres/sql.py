"""The statements the PostgreSQL journal and its group-commit writer share: inserting a run
with its rows (``COPY``), applying a row change with its event, events, and references used
by earlier runs. Rows come back as the same records as SQLite's
(:func:`batchpay.journal.sqlite.sql.row_record` and friends read any mapping of columns).

SQLite serialises every writer (``BEGIN IMMEDIATE``); PostgreSQL does not, so each write
locks what it decides on: a row change locks its row (``FOR UPDATE``) and shares its run
(``FOR SHARE``, so a status change waits for it and it for a status change), and a new run
takes a transaction-scoped advisory lock on its (environment, kind) before checking repeats.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from batchpay.errors import RunNotFound
from batchpay.journal.identities import request_id_for
from batchpay.journal.records import (
    NewRow,
    Repeat,
    RepeatedReferences,
    RowChange,
    RunRecord,
    SeenReference,
)
from batchpay.journal.sqlite.holds import (
    frees_reference,
    holding_flags,
    plan_references,
    rejection_frees_reference,
)
from batchpay.journal.sqlite.sql import _event_detail
from batchpay.references import reference_key
from batchpay.states import CLOSED, REFERENCE_FREE, State, check_release, check_transition

if TYPE_CHECKING:
    import psycopg

    Conn = psycopg.Connection[dict[str, Any]]

_ROW_COLUMNS = (
    "run_id", "row_number", "attempt", "kind", "env", "reference", "amount_minor", "currency",
    "source_account", "input", "normalised", "request_id", "body", "state", "updated_at",
    "reference_key", "holds",
)  # fmt: skip


def advisory_key(*parts: str) -> int:
    """A signed 64-bit advisory-lock key for ``parts`` (the same on every machine)."""
    digest = hashlib.sha256("\x1f".join(("batchpay", *parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _insert_run_row(conn: Conn, run: RunRecord) -> None:
    conn.execute(
        "INSERT INTO runs (run_id,created_at,finished_at,kind,env,input_path,input_name,"
        "input_sha256,operator,dry_run,parent_run_id,settings,status,plan_digest,expires_at) "
        "VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
        (
            run.run_id,
            run.created_at,
            None,
            run.kind,
            run.env,
            run.input_path,
            run.input_name,
            run.input_sha256,
            run.operator,
            run.dry_run,
            run.parent_run_id,
            json.dumps(run.settings, sort_keys=True),
            run.status,
            run.plan_digest,
            run.expires_at,
        ),
    )


def insert_run(
    conn: Conn,
    run: RunRecord,
    *,
    product: str,
    rows: Sequence[NewRow],
    detail: str,
    holds: bool = False,
) -> None:
    """Insert ``run`` and its rows, every row PLANNED with its Request-Id and exact body, and
    the run-created event (inside the caller's transaction). The rows stream through ``COPY``
    one at a time: a 100,000-row plan is never held as one statement. ``holds``: the rows
    take their references' live slots (:mod:`batchpay.journal.sqlite.holds`)."""
    flags = holding_flags(holds)
    _insert_run_row(conn, run)
    statement = f"COPY rows ({','.join(_ROW_COLUMNS)}) FROM STDIN"
    with conn.cursor() as cur, cur.copy(statement) as copy:
        for r in rows:
            key = reference_key(r.reference)
            copy.write_row(
                (
                    run.run_id,
                    r.row_number,
                    r.attempt,
                    run.kind,
                    run.env,
                    r.reference,
                    r.amount_minor,
                    r.currency,
                    r.source_account,
                    json.dumps(r.input, ensure_ascii=False),
                    json.dumps(r.normalised, ensure_ascii=False),
                    request_id_for(product, run.run_id, r.row_number, r.reference, r.attempt),
                    r.body,
                    State.PLANNED.value,
                    run.created_at,
                    key,
                    flags(key),
                )
            )
    insert_event(conn, run.run_id, None, run.created_at, "run-created", detail)


def lock_references(conn: Conn, kind: str, env: str) -> None:
    """Serialise new runs of one (environment, kind) until the caller's transaction ends: the
    repeat check and the insert of the run are then one step (docs/safety.md invariant 1)."""
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (advisory_key("references", env, kind),))


def repeats_in(
    conn: Conn, kind: str, env: str, rows: Sequence[NewRow], excluded: tuple[str, ...]
) -> list[Repeat]:
    references, numbers = plan_references(rows)
    seen = references_seen_in(conn, kind, env, references, excluded)
    return [
        Repeat(number, reference, seen[reference][0])
        for number, reference in zip(numbers, references, strict=True)
        if reference in seen
    ]


def references_seen_in(
    conn: Conn, kind: str, env: str, references: Iterable[str], excluded: tuple[str, ...]
) -> dict[str, list[SeenReference]]:
    """Earlier rows whose reference has the same :func:`reference_key` as one of
    ``references`` (the rules of :func:`batchpay.journal.sqlite.sql.references_seen_in`)."""
    by_key: dict[str, list[str]] = {}
    for reference in dict.fromkeys(references):
        by_key.setdefault(reference_key(reference), []).append(reference)
    keys = list(by_key)
    free = sorted(str(s) for s in REFERENCE_FREE - {State.REJECTED})
    found: dict[str, list[SeenReference]] = {}
    for i in range(0, len(keys), 5000):
        rows = conn.execute(
            "SELECT r.reference, r.reference_key, r.run_id, r.row_number, r.state, r.code, "
            "r.message, u.created_at FROM rows r JOIN runs u ON u.run_id = r.run_id "
            "WHERE r.kind=%s AND r.env=%s AND r.reference_key = ANY(%s) "
            "AND r.state <> ALL(%s) AND u.status <> ALL(%s) AND r.run_id <> ALL(%s) "
            "ORDER BY u.created_at, r.run_id, r.row_number",
            (kind, env, keys[i : i + 5000], free, sorted(map(str, CLOSED)), list(excluded)),
        ).fetchall()
        for r in rows:
            if r["state"] == State.REJECTED and rejection_frees_reference(r["code"], r["message"]):
                continue
            seen = SeenReference(
                r["run_id"], r["row_number"], r["state"], r["created_at"], r["reference"]
            )
            for reference in by_key[r["reference_key"]]:
                found.setdefault(reference, []).append(seen)
    return found


def apply_change(conn: Conn, change: RowChange, at: str) -> None:
    """Apply ``change`` inside the caller's transaction: lock the row, check the transition
    and the run's release, update the row, append the event (as SQLite's apply_change)."""
    current = conn.execute(
        "SELECT r.state, r.request_id, r.doku_ids, r.code, r.message, u.status FROM rows r "
        "JOIN runs u ON u.run_id = r.run_id WHERE r.run_id=%s AND r.row_number=%s "
        "FOR UPDATE OF r FOR SHARE OF u",
        (change.run_id, change.row_number),
    ).fetchone()
    if current is None:
        raise RunNotFound(f"run {change.run_id} has no row {change.row_number}")
    old = current["state"]
    check_transition(old, change.new_state, reason=change.reason)
    # Nothing leaves PLANNED in a run its approvers have not released (docs/safety.md §9).
    check_release(current["status"], old, change.new_state)
    sets, args = _row_updates(change, current["doku_ids"], at)
    if frees_reference(
        str(change.new_state),
        current["code"] if change.code is None else change.code,
        current["message"] if change.message is None else change.message,
    ):
        sets.append("holds=0")  # the live-reference slot (sqlite.holds): given back
    # Column names are fixed literals (_row_updates); values are bound parameters.
    conn.execute(
        f"UPDATE rows SET {', '.join(sets)} WHERE run_id=%s AND row_number=%s",  # noqa: S608
        [*args, change.run_id, change.row_number],
    )
    if not change.record_event and old == change.new_state:
        return
    conn.execute(
        "INSERT INTO events (run_id,row_number,at,type,old_state,new_state,outcome,http_status,"
        "request_id,detail) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
        (
            change.run_id,
            change.row_number,
            at,
            change.event,
            old,
            str(change.new_state),
            change.outcome,
            change.http_status,
            current["request_id"],
            _event_detail(old, change),
        ),
    )


def _row_updates(change: RowChange, stored_ids: str, at: str) -> tuple[list[str], list[Any]]:
    """The ``SET`` clauses (fixed column names) and their values for ``change``."""
    sets = ["state=%s", "updated_at=%s"]
    args: list[Any] = [str(change.new_state), at]
    if change.doku_ids:
        ids = json.loads(stored_ids)
        ids.update({k: str(v) for k, v in change.doku_ids.items() if v is not None})
        sets.append("doku_ids=%s")
        args.append(json.dumps(ids, sort_keys=True))
    for column in ("doku_status", "message", "code"):
        value = getattr(change, column)
        if value is not None:
            sets.append(f"{column}=%s")
            args.append(value)
    if change.seen:
        sets.append("last_seen_at=%s")
        args.append(at)
    if change.count_send:
        sets.append("sends=sends+1")
    return sets, args


# --- the live-reference constraint: the rules of batchpay.journal.sqlite.holds -----------------

# The unique index PostgreSQL names when it refuses a second live holder of a reference.
LIVE_INDEX = "rows_live_reference"


def take_over(
    conn: Conn, kind: str, env: str, rows: Sequence[NewRow], excluded: tuple[str, ...]
) -> None:
    """The rows of ``excluded`` runs give the new run's references back before it takes
    them (:func:`batchpay.journal.sqlite.holds.take_over`)."""
    if not excluded:
        return
    keys = sorted({reference_key(r) for r in plan_references(rows)[0]})
    for i in range(0, len(keys), 5000):
        conn.execute(
            "UPDATE rows SET holds=0 WHERE holds=1 AND kind=%s AND env=%s "
            "AND run_id = ANY(%s) AND reference_key = ANY(%s)",
            (kind, env, list(excluded), keys[i : i + 5000]),
        )


def refuse_live(conn: Conn, kind: str, env: str, rows: Sequence[NewRow]) -> None:
    """After the index refused a new run (rolled back), raise :class:`RepeatedReferences`
    naming the runs that hold its references live; return if none does any more."""
    references, numbers = plan_references(rows)
    by_key: dict[str, SeenReference] = {}
    keys = sorted({reference_key(r) for r in references})
    for i in range(0, len(keys), 5000):
        for r in conn.execute(
            "SELECT r.reference, r.reference_key, r.run_id, r.row_number, r.state, "
            "u.created_at FROM rows r JOIN runs u ON u.run_id = r.run_id WHERE r.holds=1 "
            "AND r.kind=%s AND r.env=%s AND r.reference_key = ANY(%s)",
            (kind, env, keys[i : i + 5000]),
        ).fetchall():
            by_key[r["reference_key"]] = SeenReference(
                r["run_id"], r["row_number"], r["state"], r["created_at"], r["reference"]
            )
    holders = [
        Repeat(number, reference, by_key[key])
        for number, reference in zip(numbers, references, strict=True)
        if (key := reference_key(reference)) in by_key
    ]
    if holders:
        raise RepeatedReferences(holders)


def release_run(conn: Conn, run_id: str) -> None:
    """Every row of ``run_id`` gives its reference back (the run is closed or forgotten)."""
    conn.execute("UPDATE rows SET holds=0 WHERE run_id=%s AND holds=1", (run_id,))


def insert_event(
    conn: Conn, run_id: str, row_number: int | None, at: str, type_: str, detail: str
) -> None:
    conn.execute(
        "INSERT INTO events (run_id,row_number,at,type,detail) VALUES (%s,%s,%s,%s,%s)",
        (run_id, row_number, at, type_, detail),
    )
