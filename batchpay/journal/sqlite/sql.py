"""The statements the journal and its group-commit writer share: inserting a run with its
rows, applying a row change with its event, events, references used by earlier runs, and rows
as records."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from batchpay.errors import RunNotFound
from batchpay.journal.identities import request_id_for
from batchpay.journal.records import (
    EventRecord,
    NewRow,
    Repeat,
    RowChange,
    RowRecord,
    RunRecord,
    SeenReference,
)
from batchpay.journal.sqlite.holds import (
    frees_reference,
    holding_flags,
    plan_references,
    rejection_frees_reference,
)
from batchpay.references import reference_key
from batchpay.states import CLOSED, REFERENCE_FREE, State, check_release, check_transition


def _insert_run_row(conn: sqlite3.Connection, run: RunRecord) -> None:
    conn.execute(
        "INSERT INTO runs (run_id,created_at,finished_at,kind,env,input_path,input_name,"
        "input_sha256,operator,dry_run,parent_run_id,settings,status,plan_digest,expires_at) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
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
            int(run.dry_run),
            run.parent_run_id,
            json.dumps(run.settings, sort_keys=True),
            run.status,
            run.plan_digest,
            run.expires_at,
        ),
    )


def insert_run(
    conn: sqlite3.Connection,
    run: RunRecord,
    *,
    product: str,
    rows: Sequence[NewRow],
    detail: str,
    holds: bool = False,
) -> None:
    """Insert ``run`` and its rows, every row PLANNED with its Request-Id and exact body, and
    the run-created event (inside the caller's transaction). ``holds``: the rows take their
    references' live slots (:func:`holding_flags`)."""
    flags = holding_flags(holds)
    _insert_run_row(conn, run)
    conn.executemany(
        "INSERT INTO rows (run_id,row_number,attempt,kind,env,reference,"
        "amount_minor,currency,source_account,input,normalised,request_id,body,"
        "state,updated_at,reference_key,holds) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        # A generator: the rows stream into the table (a plan builds each row's body as it
        # is read), never all of them at once in memory.
        (
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
                State.PLANNED,
                run.created_at,
                key,
                flags(key),
            )
            for r in rows
            for key in (reference_key(r.reference),)
        ),
    )
    insert_event(conn, run.run_id, None, run.created_at, "run-created", detail)


def repeats_in(
    conn: sqlite3.Connection, kind: str, env: str, rows: Sequence[NewRow], excluded: tuple[str, ...]
) -> list[Repeat]:
    references, numbers = plan_references(rows)
    seen = references_seen_in(conn, kind, env, references, excluded)
    return [
        Repeat(number, reference, seen[reference][0])
        for number, reference in zip(numbers, references, strict=True)
        if reference in seen
    ]


def references_seen_in(
    conn: sqlite3.Connection,
    kind: str,
    env: str,
    references: Iterable[str],
    excluded: tuple[str, ...],
) -> dict[str, list[SeenReference]]:
    """Earlier rows whose reference has the same :func:`reference_key` as one of
    ``references`` (``bonus-nov-0001`` finds ``BONUS-NOV-0001``), keyed by the reference as
    given; each :class:`SeenReference` carries the earlier reference as it was written."""
    by_key: dict[str, list[str]] = {}
    for reference in dict.fromkeys(references):
        by_key.setdefault(reference_key(reference), []).append(reference)
    keys = list(by_key)
    # REJECTED frees a reference only with proof that nothing executed (checked per row
    # below): a legacy REJECTED "DUPLICATE_REFERENCE" proves the reference exists at DOKU.
    free = sorted(REFERENCE_FREE - {State.REJECTED})
    found: dict[str, list[SeenReference]] = {}
    for i in range(0, len(keys), 500):
        chunk = keys[i : i + 500]
        # Only "?" placeholders are interpolated; every value is a bound parameter.
        marks, free_marks = ",".join("?" * len(chunk)), ",".join("?" * len(free))
        sql = (
            "SELECT r.reference, r.reference_key, r.run_id, r.row_number, r.state, "  # noqa: S608
            "r.code, r.message, u.created_at FROM rows r JOIN runs u ON u.run_id = r.run_id "
            "WHERE r.kind=? AND r.env=? AND r.reference_key IN (" + marks + ")"
            " AND r.state NOT IN (" + free_marks + ")"
            # A rejected or expired run never sends anything: it holds no reference.
            " AND u.status NOT IN (" + ",".join("?" * len(CLOSED)) + ")"
        )
        args: list[Any] = [kind, env, *chunk, *free, *sorted(CLOSED)]
        if excluded:
            sql += " AND r.run_id NOT IN (" + ",".join("?" * len(excluded)) + ")"
            args += excluded
        for r in conn.execute(sql + " ORDER BY u.created_at, r.run_id, r.row_number", args):
            if r["state"] == State.REJECTED and rejection_frees_reference(r["code"], r["message"]):
                continue
            seen = SeenReference(
                r["run_id"], r["row_number"], r["state"], r["created_at"], r["reference"]
            )
            for reference in by_key[r["reference_key"]]:
                found.setdefault(reference, []).append(seen)
    return found


def apply_change(conn: sqlite3.Connection, change: RowChange, at: str) -> None:
    """Apply ``change`` inside the caller's transaction: check the transition, update the
    row, append the event (old→new, outcome class, http status, Request-Id — never headers,
    never the secret, docs/safety.md invariant 6)."""
    current = conn.execute(
        "SELECT r.state, r.request_id, r.doku_ids, r.code, r.message, u.status FROM rows r "
        "JOIN runs u ON u.run_id = r.run_id WHERE r.run_id=? AND r.row_number=?",
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
        change.new_state,
        current["code"] if change.code is None else change.code,
        current["message"] if change.message is None else change.message,
    ):
        sets.append("holds=0")
    # Column names are fixed literals (_row_updates); values are bound parameters.
    conn.execute(
        f"UPDATE rows SET {', '.join(sets)} WHERE run_id=? AND row_number=?",  # noqa: S608
        [*args, change.run_id, change.row_number],
    )
    if not change.record_event and old == change.new_state:
        return
    conn.execute(
        "INSERT INTO events (run_id,row_number,at,type,old_state,new_state,outcome,http_status,"
        "request_id,detail) VALUES (?,?,?,?,?,?,?,?,?,?)",
        (
            change.run_id,
            change.row_number,
            at,
            change.event,
            old,
            change.new_state,
            change.outcome,
            change.http_status,
            current["request_id"],
            _event_detail(old, change),
        ),
    )


def _row_updates(change: RowChange, stored_ids: str, at: str) -> tuple[list[str], list[Any]]:
    """The ``SET`` clauses (fixed column names) and their values for ``change``."""
    sets = ["state=?", "updated_at=?"]
    args: list[Any] = [change.new_state, at]
    if change.doku_ids:
        ids = json.loads(stored_ids)
        ids.update({k: str(v) for k, v in change.doku_ids.items() if v is not None})
        sets.append("doku_ids=?")
        args.append(json.dumps(ids, sort_keys=True))
    if change.doku_status is not None:
        sets.append("doku_status=?")
        args.append(change.doku_status)
    if change.message is not None:
        sets.append("message=?")
        args.append(change.message)
    if change.code is not None:
        sets.append("code=?")
        args.append(change.code)
    if change.seen:
        sets.append("last_seen_at=?")
        args.append(at)
    if change.count_send:
        sets.append("sends=sends+1")
    return sets, args


def _event_detail(old: str, change: RowChange) -> str:
    parts = [f"{old}→{change.new_state}"]
    if change.reason:
        parts.append(change.reason)
    if change.doku_status:
        parts.append(f"DOKU status {change.doku_status}")
    if change.message:
        parts.append(change.message)
    return "; ".join(parts)


def insert_event(
    conn: sqlite3.Connection, run_id: str, row_number: int | None, at: str, type_: str, detail: str
) -> None:
    conn.execute(
        "INSERT INTO events (run_id,row_number,at,type,detail) VALUES (?,?,?,?,?)",
        (run_id, row_number, at, type_, detail),
    )


class Columns(Protocol):
    """One fetched row by column name: a ``sqlite3.Row``, or a dict (the PostgreSQL journal
    reads the same records, :mod:`batchpay.journal.postgres`)."""

    def __getitem__(self, key: str, /) -> Any: ...


def run_record(r: Columns) -> RunRecord:
    return RunRecord(
        run_id=r["run_id"],
        created_at=r["created_at"],
        finished_at=r["finished_at"],
        kind=r["kind"],
        env=r["env"],
        input_path=r["input_path"],
        input_name=r["input_name"],
        input_sha256=r["input_sha256"],
        operator=r["operator"],
        dry_run=bool(r["dry_run"]),
        parent_run_id=r["parent_run_id"],
        settings=json.loads(r["settings"]),
        status=_column(r, "status", "OPEN"),
        plan_digest=_column(r, "plan_digest", None),
        expires_at=_column(r, "expires_at", None),
    )


class Strings(dict[str, str]):
    """One str object per distinct value while reading many records: run ids, states,
    timestamps of a batch, column names and messages repeat on every row, and 100,000 rows
    would otherwise hold 100,000 copies of each."""

    def __call__(self, text: str | None) -> str | None:
        return None if text is None else self.setdefault(text, text)

    def keys_of(self, mapping: dict[str, Any]) -> dict[str, Any]:
        return {self.setdefault(k, k): v for k, v in mapping.items()}


def row_record(r: Columns, *, data: bool = True, strings: Strings | None = None) -> RowRecord:
    """A row as a record. ``data=False`` leaves ``input`` and ``normalised`` empty (the
    query did not select them): the sending engine never looks at them."""
    s = strings if strings is not None else Strings()
    return RowRecord(
        run_id=s(r["run_id"]) or "",
        row_number=r["row_number"],
        attempt=r["attempt"],
        reference=r["reference"],
        amount_minor=r["amount_minor"],
        currency=s(r["currency"]) or "",
        source_account=s(r["source_account"]),
        input=s.keys_of(json.loads(r["input"])) if data else {},
        normalised=s.keys_of(json.loads(r["normalised"])) if data else {},
        request_id=r["request_id"],
        body=bytes(r["body"]),
        state=s(r["state"]) or "",
        doku_status=s(r["doku_status"]),
        doku_ids=s.keys_of(json.loads(r["doku_ids"])),
        message=s(r["message"]),
        sends=r["sends"],
        last_seen_at=s(r["last_seen_at"]),
        updated_at=s(r["updated_at"]) or "",
        code=s(_column(r, "code", None)),
        reference_key=_key_of(r),
    )


def _key_of(r: Columns) -> str:
    """The row's stored reference key; lean reads select '' (the engine never needs it), and
    a schema-1 journal opened read-only has none, so it is computed."""
    stored = _column(r, "reference_key", None)
    return reference_key(r["reference"]) if stored is None else stored


def _column(r: Columns, name: str, default: Any) -> Any:
    """A schema-2 column, or ``default`` on a schema-1 journal opened read-only (not
    migrated: read-only commands never write)."""
    try:
        return r[name]
    except (IndexError, KeyError):  # sqlite3.Row / dict
        return default


def event_record(r: Columns, *, strings: Strings | None = None) -> EventRecord:
    s = strings if strings is not None else Strings()
    return EventRecord(
        seq=r["seq"],
        run_id=s(r["run_id"]) or "",
        row_number=r["row_number"],
        at=s(r["at"]) or "",
        type=s(r["type"]) or "",
        detail=s(r["detail"]) or "",
        old_state=s(r["old_state"]),
        new_state=s(r["new_state"]),
        outcome=s(r["outcome"]),
        http_status=r["http_status"],
        request_id=r["request_id"],
    )
