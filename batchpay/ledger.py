"""The journal: a SQLite file that is written *before* the wire (SAFETY.md "The journal").

Three tables — ``runs``, ``rows`` (one state machine per input row), ``events`` (append-only
audit trail) — and one rule for every change of a row's state: :func:`check_transition`.

Durability: every connection sets ``journal_mode=WAL`` and ``synchronous=FULL`` (SAFETY.md:
"set on every connection"), so a commit that returned is on disk and survives kill -9 or a
power cut. :class:`JournalWriter` is the group-commit writer the runner's workers share: it
commits the changes queued by many workers in one transaction (one fsync), and each worker
waits for *its* change to be committed before it touches the socket.

A run is locked with ``fcntl.flock`` on a file beside the ledger (:class:`RunLock`): the
kernel drops the lock when the process dies, so a crashed run never needs a manual unlock,
and a second live process on the same run gets :class:`~batchpay.errors.RunLocked` before it
sends anything. (POSIX only; ``flock`` is not reliable on NFS — keep the ledger on local disk.)
"""

from __future__ import annotations

import contextlib
import fcntl
import getpass
import hashlib
import json
import os
import queue
import secrets
import socket
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from batchpay import ledger_records as st
from batchpay.errors import RunError, RunLocked, RunNotFound
from batchpay.ledger_records import EventRecord, RowRecord, RunRecord

Clock = Callable[[], datetime]

SCHEMA_VERSION = 1
# Western Indonesia Time has no daylight saving: a fixed offset is exact.
WIB = timezone(timedelta(hours=7), "WIB")
# Fixed namespace for Sub Account Request-Ids (uuid5 of the row identity); never change it,
# or a resumed run would compute different ids than the ones its rows were sent with.
REQUEST_ID_NAMESPACE = uuid.UUID("6d0c2f3e-8b1a-5c7e-9f4d-2a6b8e0c1d3f")

ACCEPTED_STATES: tuple[str, ...] = (
    *st.PAYOUT_LINK_PROGRESS, "COMPLETED", "FAILED", "EXPIRED", "SUCCESS", "CREATED", "ACTIVE"
)
# Terminal for the journal: nothing leaves them. NOT_SENT (dry run) is final too.
FINAL_STATES: frozenset[str] = frozenset((*st.TERMINAL, st.NOT_SENT))
# Rows a run still has to work on (send, or resolve).
OPEN_STATES: tuple[str, ...] = (st.PLANNED, st.SENDING, st.UNKNOWN)
# SENDING -> PLANNED only when DOKU *proved* it did not execute the request and the row must
# wait for the operator (SAFETY.md lists 401 among the "did not execute" answers; 429 is a
# refusal before execution). The row keeps its Request-Id and bytes for `resume`.
NOT_EXECUTED_REASONS = frozenset({"auth-failed", "rate-limited"})
# A reference in one of these states in an earlier run does not block a new run: DOKU proved
# it never executed (REJECTED) or it never could have been sent (INVALID, NOT_SENT = dry run).
REFERENCE_FREE_STATES = frozenset({st.REJECTED, st.INVALID, st.NOT_SENT})


class IllegalTransition(RunError):
    """A state change the journal's state machine forbids (a bug, never a user error)."""


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


# --- identities ---------------------------------------------------------------------------


def new_run_id(now: datetime, *, token: str | None = None) -> str:
    """Sortable, readable: ``20261121-054512-ab12`` (UTC time of creation + 4 random hex)."""
    return f"{now.astimezone(UTC):%Y%m%d-%H%M%S}-{token or secrets.token_hex(2)}"


def request_id_for(product: str, run_id: str, row_number: int, reference: str, attempt: int) -> str:
    """The deterministic Request-Id of one attempt of one row (SAFETY.md: derived from the
    run and row identity, stored before the first send, identical on every re-send).

    Sub Account: a UUID5 (any string ≤ 128 chars is allowed). Payout Link: DOKU wants a
    numeric string (doku-api.md §1) — 20 digits from SHA-256 of the same identity, with a
    non-zero first digit so no system can shorten it by reading it as a number.
    """
    identity = f"{run_id}:{row_number}:{reference}:{attempt}"
    if product == "payout-link":
        number = int.from_bytes(hashlib.sha256(identity.encode("utf-8")).digest(), "big")
        return str(10**19 + number % (9 * 10**19))
    return str(uuid.uuid5(REQUEST_ID_NAMESPACE, identity))


def current_operator() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        return "unknown"


# --- the state machine --------------------------------------------------------------------


def check_transition(old: str, new: str, *, reason: str | None = None) -> None:
    """The one place row transitions are allowed or refused (SAFETY.md state machine).

    Raises :class:`IllegalTransition` for anything else — above all for any change that
    would leave a terminal state (COMPLETED/SUCCESS/CREATED/ACTIVE/FAILED/EXPIRED/REJECTED/
    INVALID, and NOT_SENT), because a terminal row has been settled with DOKU or the operator
    and re-opening it is how a payout gets made twice.
    """
    if old in FINAL_STATES:
        raise IllegalTransition(f"row is {old}, a final state; it cannot become {new}")
    allowed: bool
    if old == st.PLANNED:
        allowed = new in (st.SENDING, st.NOT_SENT)
    elif old == st.SENDING:
        allowed = (
            new in (st.SENDING, st.UNKNOWN, st.REJECTED)
            or new in ACCEPTED_STATES
            or (new == st.PLANNED and reason in NOT_EXECUTED_REASONS)
        )
    elif old == st.UNKNOWN:
        # Resolution: re-send (SENDING) or a status check found it (an accepted status).
        allowed = new in (st.SENDING, st.UNKNOWN) or new in ACCEPTED_STATES
    elif old in st.PAYOUT_LINK_PROGRESS:
        allowed = new in ACCEPTED_STATES and new not in ("SUCCESS", "CREATED", "ACTIVE")
    else:
        allowed = False
    if not allowed:
        raise IllegalTransition(f"a row cannot go from {old} to {new}")


@dataclass(frozen=True)
class RowChange:
    """One change to a row, journaled atomically with its event."""

    run_id: str
    row_number: int
    new_state: str
    event: str  # event type, e.g. "send", "outcome", "status-check", "not-sent"
    reason: str | None = None  # why (codes like "auth-failed"); see NOT_EXECUTED_REASONS
    outcome: str | None = None  # OutcomeClass value
    http_status: int | None = None
    doku_status: str | None = None
    doku_ids: dict[str, str] | None = None  # merged into the stored ids
    message: str | None = None
    seen: bool = False  # DOKU told us the status just now (sets last_seen_at)
    count_send: bool = False  # this change is the intent to put the request on the wire
    # False only for a status look-up that changed nothing (no audit line per --watch poll).
    record_event: bool = True


@dataclass(frozen=True)
class NewRow:
    """A row as planned: everything needed to send it, exactly, later."""

    row_number: int
    reference: str
    amount_minor: int | None
    currency: str
    source_account: str | None
    input: dict[str, str]
    normalised: dict[str, str]
    body: bytes
    attempt: int = 1


@dataclass(frozen=True)
class SeenReference:
    run_id: str
    row_number: int
    state: str
    created_at: str


@dataclass(frozen=True)
class Repeat:
    """A reference of a new run already used by an earlier run (which still counts)."""

    row_number: int
    reference: str
    earlier: SeenReference


class RepeatedReferences(RunError):
    """References already sent in an earlier run (refused unless --allow-repeat)."""

    def __init__(self, repeats: list[Repeat]) -> None:
        self.repeats = repeats
        lines = [f"row {r.row_number}: {r.reference!r} was already used in run "
                 f"{r.earlier.run_id} (row {r.earlier.row_number}, {r.earlier.state})"
                 for r in repeats[:20]]
        more = f"\n  … and {len(repeats) - 20} more" if len(repeats) > 20 else ""
        super().__init__(
            f"{len(repeats)} reference(s) were already sent in an earlier run:\n  "
            + "\n  ".join(lines) + more,
            hint="a reference is paid once; remove these rows, or, if paying them again is "
                 "really intended, re-run with --allow-repeat (failed rows: use "
                 "`batchpay retry-failed RUN_ID`)",
        )


# --- the ledger ---------------------------------------------------------------------------

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id        TEXT PRIMARY KEY,
    created_at    TEXT NOT NULL,
    finished_at   TEXT,
    kind          TEXT NOT NULL,
    env           TEXT NOT NULL,
    input_path    TEXT NOT NULL,
    input_name    TEXT NOT NULL,
    input_sha256  TEXT NOT NULL,
    operator      TEXT NOT NULL,
    dry_run       INTEGER NOT NULL,
    parent_run_id TEXT REFERENCES runs(run_id),
    settings      TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS rows (
    run_id         TEXT NOT NULL REFERENCES runs(run_id),
    row_number     INTEGER NOT NULL,
    attempt        INTEGER NOT NULL,
    kind           TEXT NOT NULL,
    env            TEXT NOT NULL,
    reference      TEXT NOT NULL,
    amount_minor   INTEGER,
    currency       TEXT NOT NULL,
    source_account TEXT,
    input          TEXT NOT NULL,
    normalised     TEXT NOT NULL,
    request_id     TEXT NOT NULL UNIQUE,
    body           BLOB NOT NULL,
    state          TEXT NOT NULL,
    doku_status    TEXT,
    doku_ids       TEXT NOT NULL DEFAULT '{}',
    message        TEXT,
    sends          INTEGER NOT NULL DEFAULT 0,
    last_seen_at   TEXT,
    updated_at     TEXT NOT NULL,
    PRIMARY KEY (run_id, row_number)
);
CREATE INDEX IF NOT EXISTS rows_by_reference ON rows(kind, env, reference);
CREATE TABLE IF NOT EXISTS events (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id      TEXT NOT NULL,
    row_number  INTEGER,
    at          TEXT NOT NULL,
    type        TEXT NOT NULL,
    old_state   TEXT,
    new_state   TEXT,
    outcome     TEXT,
    http_status INTEGER,
    request_id  TEXT,
    detail      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_run ON events(run_id, seq);
CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
"""


class Ledger:
    """The journal at ``path``. Cheap to construct; every call opens its own connection
    (so threads never share one), except the :class:`JournalWriter`'s."""

    def __init__(self, path: str | os.PathLike[str], *, clock: Clock = utc_now) -> None:
        self.path = Path(path)
        self.clock = clock
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._reading() as conn:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise RunError(
                    f"the journal {self.path} was written by a newer batchpay "
                    f"(schema {version}); upgrade batchpay before using it"
                )
            conn.executescript(_SCHEMA)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    # connections ------------------------------------------------------------------------

    def connect(self) -> sqlite3.Connection:
        """A new connection with the durability pragmas set (SAFETY.md: WAL and
        synchronous=FULL on *every* connection — both are per-connection settings in SQLite,
        except WAL mode which is persistent but is re-asserted here anyway)."""
        conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None,
                               check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=30000")
        conn.row_factory = sqlite3.Row
        return conn

    def _reading(self) -> contextlib.closing[sqlite3.Connection]:
        return contextlib.closing(self.connect())

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        conn = self.connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        finally:
            conn.close()

    # write side -------------------------------------------------------------------------

    def create_run(
        self,
        *,
        kind: str,
        product: str,
        env: str,
        input_path: str | os.PathLike[str],
        input_sha256: str,
        rows: Sequence[NewRow],
        settings: dict[str, Any],
        dry_run: bool = False,
        parent_run_id: str | None = None,
        operator: str | None = None,
        run_id: str | None = None,
        allow_repeat: bool = False,
        exclude_run_ids: Iterable[str] = (),
    ) -> RunRecord:
        """Create a run with every row PLANNED, its Request-Id and exact body bytes stored
        (SAFETY.md: stored before the first send), in one transaction.

        Unless ``allow_repeat``, references an earlier run still holds are refused
        (:class:`RepeatedReferences`) *inside* that transaction: ``BEGIN IMMEDIATE``
        serialises writers, so two operators starting the same sheet at the same moment
        cannot both pass the check (SAFETY.md invariant 1)."""
        excluded = tuple(exclude_run_ids)
        now = self.clock()
        path = Path(input_path)
        for _ in range(20):
            rid = run_id or new_run_id(now)
            try:
                with self.transaction() as conn:
                    if not allow_repeat:
                        repeats = _repeats(conn, kind, env, rows, excluded)
                        if repeats:
                            raise RepeatedReferences(repeats)
                    conn.execute(
                        "INSERT INTO runs VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                        (rid, iso(now), None, kind, env, str(path.resolve()), path.name,
                         input_sha256, operator or current_operator(), int(dry_run),
                         parent_run_id, json.dumps(settings, sort_keys=True)),
                    )
                    conn.executemany(
                        "INSERT INTO rows (run_id,row_number,attempt,kind,env,reference,"
                        "amount_minor,currency,source_account,input,normalised,request_id,body,"
                        "state,updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                        [(rid, r.row_number, r.attempt, kind, env, r.reference, r.amount_minor,
                          r.currency, r.source_account, json.dumps(r.input, ensure_ascii=False),
                          json.dumps(r.normalised, ensure_ascii=False),
                          request_id_for(product, rid, r.row_number, r.reference, r.attempt),
                          r.body, st.PLANNED, iso(now)) for r in rows],
                    )
                    detail = (f"{len(rows)} rows planned from {path.name} (sha256 "
                              f"{input_sha256[:12]}…), kind {kind}, env {env}"
                              + (", dry run" if dry_run else "")
                              + (f", retry of {parent_run_id}" if parent_run_id else ""))
                    _insert_event(conn, rid, None, iso(now), "run-created", detail)
                return self.run(rid)
            except sqlite3.IntegrityError:
                if run_id is not None:
                    raise
                # Same second as another run: the next loop draws a fresh random suffix.
        raise RunError("could not allocate a unique run id")  # pragma: no cover

    def apply(self, change: RowChange) -> None:
        """Journal one change durably (its own transaction). Workers of a batch use
        :class:`JournalWriter` instead, which groups commits."""
        with self.transaction() as conn:
            apply_change(conn, change, iso(self.clock()))

    def add_event(self, run_id: str, type_: str, detail: str, *, row_number: int | None = None
                  ) -> None:
        with self.transaction() as conn:
            _insert_event(conn, run_id, row_number, iso(self.clock()), type_, detail)

    def finish_run(self, run_id: str) -> None:
        """Mark the run finished (no row left to send or resolve); idempotent."""
        with self.transaction() as conn:
            cur = conn.execute(
                "UPDATE runs SET finished_at=? WHERE run_id=? AND finished_at IS NULL",
                (iso(self.clock()), run_id))
            if cur.rowcount:
                _insert_event(conn, run_id, None, iso(self.clock()), "run-finished",
                              "no row left to send or resolve")

    # read side --------------------------------------------------------------------------

    def run(self, run_id: str) -> RunRecord:
        with self._reading() as conn:
            row = conn.execute("SELECT * FROM runs WHERE run_id=?", (run_id,)).fetchone()
        if row is None:
            raise RunNotFound(f"no run {run_id!r} in the journal {self.path}",
                              hint="list runs with `batchpay runs`")
        return _run_record(row)

    def runs(self, *, limit: int | None = None) -> list[RunRecord]:
        sql = "SELECT * FROM runs ORDER BY created_at DESC, run_id DESC"
        if limit:
            sql += f" LIMIT {int(limit)}"
        with self._reading() as conn:
            return [_run_record(r) for r in conn.execute(sql)]

    def runs_for_month(self, month: str) -> list[RunRecord]:
        """Runs created in calendar month ``YYYY-MM`` *in Jakarta time* (WIB) — the month an
        Indonesian accountant closes — oldest first."""
        try:
            start = datetime.strptime(month, "%Y-%m").replace(tzinfo=WIB)
        except ValueError:
            raise RunError(f"month {month!r} is not YYYY-MM (e.g. 2026-11)") from None
        end = (start + timedelta(days=32)).replace(day=1)
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT * FROM runs WHERE created_at >= ? AND created_at < ? "
                "ORDER BY created_at, run_id", (iso(start), iso(end))).fetchall()
        return [_run_record(r) for r in rows]

    def children(self, run_id: str) -> list[RunRecord]:
        with self._reading() as conn:
            rows = conn.execute("SELECT * FROM runs WHERE parent_run_id=? ORDER BY created_at",
                                (run_id,)).fetchall()
        return [_run_record(r) for r in rows]

    def rows(self, run_id: str, *, states: Iterable[str] | None = None) -> list[RowRecord]:
        sql, args = "SELECT * FROM rows WHERE run_id=?", [run_id]
        if states is not None:
            wanted = list(states)
            sql += f" AND state IN ({','.join('?' * len(wanted))})"
            args += wanted
        with self._reading() as conn:
            return [_row_record(r) for r in conn.execute(sql + " ORDER BY row_number", args)]

    def row(self, run_id: str, row_number: int) -> RowRecord:
        with self._reading() as conn:
            r = conn.execute("SELECT * FROM rows WHERE run_id=? AND row_number=?",
                             (run_id, row_number)).fetchone()
        if r is None:
            raise RunNotFound(f"run {run_id} has no row {row_number}")
        return _row_record(r)

    def events(self, run_id: str) -> list[EventRecord]:
        with self._reading() as conn:
            return [_event_record(r) for r in conn.execute(
                "SELECT * FROM events WHERE run_id=? ORDER BY seq", (run_id,))]

    def reference_seen(self, kind: str, reference: str, *, env: str,
                       exclude_run_ids: Iterable[str] = ()) -> list[SeenReference]:
        """Earlier rows of ``kind`` in ``env`` that used ``reference`` and still count
        (SAFETY.md: the same reference already paid in an earlier run is refused).

        Counts: every state except REJECTED (DOKU proved it never executed), INVALID and
        NOT_SENT (never sent). So PLANNED/SENDING/UNKNOWN (may be or will be paid),
        progressing and successful rows, and FAILED/EXPIRED links (DOKU has used the
        reference_id up; `retry-failed` makes a new one) all block a new run.
        Environments are separate worlds: an emulator run never blocks production.
        """
        return self.references_seen(kind, [reference], env=env,
                                    exclude_run_ids=exclude_run_ids).get(reference, [])

    def references_seen(self, kind: str, references: Iterable[str], *, env: str,
                        exclude_run_ids: Iterable[str] = ()) -> dict[str, list[SeenReference]]:
        """:meth:`reference_seen` for many references in one query batch."""
        with self._reading() as conn:
            return _references_seen(conn, kind, env, references, tuple(exclude_run_ids))

    def repeats(self, kind: str, env: str, rows: Sequence[NewRow], *,
                exclude_run_ids: Iterable[str] = ()) -> list[Repeat]:
        """The rows whose reference an earlier run still holds."""
        with self._reading() as conn:
            return _repeats(conn, kind, env, rows, tuple(exclude_run_ids))


def _repeats(conn: sqlite3.Connection, kind: str, env: str, rows: Sequence[NewRow],
             excluded: tuple[str, ...]) -> list[Repeat]:
    seen = _references_seen(conn, kind, env, [r.reference for r in rows], excluded)
    return [Repeat(r.row_number, r.reference, seen[r.reference][0])
            for r in rows if r.reference in seen]


def _references_seen(conn: sqlite3.Connection, kind: str, env: str, references: Iterable[str],
                     excluded: tuple[str, ...]) -> dict[str, list[SeenReference]]:
    refs = list(dict.fromkeys(references))
    free = sorted(REFERENCE_FREE_STATES)
    found: dict[str, list[SeenReference]] = {}
    for i in range(0, len(refs), 500):
        chunk = refs[i:i + 500]
        # Only "?" placeholders are interpolated; every value is a bound parameter.
        marks, free_marks = ",".join("?" * len(chunk)), ",".join("?" * len(free))
        sql = (
            "SELECT r.reference, r.run_id, r.row_number, r.state, u.created_at "
            "FROM rows r JOIN runs u ON u.run_id = r.run_id "
            "WHERE r.kind=? AND r.env=? AND r.reference IN (" + marks + ")"
            " AND r.state NOT IN (" + free_marks + ")"
        )
        args: list[Any] = [kind, env, *chunk, *free]
        if excluded:
            sql += " AND r.run_id NOT IN (" + ",".join("?" * len(excluded)) + ")"
            args += excluded
        for r in conn.execute(sql + " ORDER BY u.created_at", args):
            found.setdefault(r["reference"], []).append(
                SeenReference(r["run_id"], r["row_number"], r["state"], r["created_at"]))
    return found


def apply_change(conn: sqlite3.Connection, change: RowChange, at: str) -> None:
    """Apply ``change`` inside the caller's transaction: check the transition, update the
    row, append the event (old→new, outcome class, http status, Request-Id — never headers,
    never the secret, SAFETY.md invariant 6)."""
    current = conn.execute(
        "SELECT state, request_id, doku_ids FROM rows WHERE run_id=? AND row_number=?",
        (change.run_id, change.row_number)).fetchone()
    if current is None:
        raise RunNotFound(f"run {change.run_id} has no row {change.row_number}")
    old = current["state"]
    check_transition(old, change.new_state, reason=change.reason)
    ids = json.loads(current["doku_ids"])
    if change.doku_ids:
        ids.update({k: str(v) for k, v in change.doku_ids.items() if v is not None})
    sets = ["state=?", "doku_ids=?", "updated_at=?"]
    args: list[Any] = [change.new_state, json.dumps(ids, sort_keys=True), at]
    if change.doku_status is not None:
        sets.append("doku_status=?")
        args.append(change.doku_status)
    if change.message is not None:
        sets.append("message=?")
        args.append(change.message)
    if change.seen:
        sets.append("last_seen_at=?")
        args.append(at)
    if change.count_send:
        sets.append("sends=sends+1")
    # Column names are fixed literals above; values are bound parameters.
    conn.execute(f"UPDATE rows SET {', '.join(sets)} WHERE run_id=? AND row_number=?",  # noqa: S608
                 [*args, change.run_id, change.row_number])
    if not change.record_event and old == change.new_state:
        return
    parts = [f"{old}→{change.new_state}"]
    if change.reason:
        parts.append(change.reason)
    if change.doku_status:
        parts.append(f"DOKU status {change.doku_status}")
    if change.message:
        parts.append(change.message)
    conn.execute(
        "INSERT INTO events (run_id,row_number,at,type,old_state,new_state,outcome,http_status,"
        "request_id,detail) VALUES (?,?,?,?,?,?,?,?,?,?)",
        (change.run_id, change.row_number, at, change.event, old, change.new_state,
         change.outcome, change.http_status, current["request_id"], "; ".join(parts)))


def _insert_event(conn: sqlite3.Connection, run_id: str, row_number: int | None, at: str,
                  type_: str, detail: str) -> None:
    conn.execute("INSERT INTO events (run_id,row_number,at,type,detail) VALUES (?,?,?,?,?)",
                 (run_id, row_number, at, type_, detail))


def _run_record(r: sqlite3.Row) -> RunRecord:
    return RunRecord(
        run_id=r["run_id"], created_at=r["created_at"], finished_at=r["finished_at"],
        kind=r["kind"], env=r["env"], input_path=r["input_path"], input_name=r["input_name"],
        input_sha256=r["input_sha256"], operator=r["operator"], dry_run=bool(r["dry_run"]),
        parent_run_id=r["parent_run_id"], settings=json.loads(r["settings"]),
    )


def _row_record(r: sqlite3.Row) -> RowRecord:
    return RowRecord(
        run_id=r["run_id"], row_number=r["row_number"], attempt=r["attempt"],
        reference=r["reference"], amount_minor=r["amount_minor"], currency=r["currency"],
        source_account=r["source_account"], input=json.loads(r["input"]),
        normalised=json.loads(r["normalised"]), request_id=r["request_id"],
        body=bytes(r["body"]), state=r["state"], doku_status=r["doku_status"],
        doku_ids=json.loads(r["doku_ids"]), message=r["message"], sends=r["sends"],
        last_seen_at=r["last_seen_at"], updated_at=r["updated_at"],
    )


def _event_record(r: sqlite3.Row) -> EventRecord:
    return EventRecord(
        seq=r["seq"], run_id=r["run_id"], row_number=r["row_number"], at=r["at"],
        type=r["type"], detail=r["detail"], old_state=r["old_state"],
        new_state=r["new_state"], outcome=r["outcome"], http_status=r["http_status"],
        request_id=r["request_id"],
    )


# --- group commit -------------------------------------------------------------------------


@dataclass
class _Pending:
    change: RowChange
    future: Future[None] = field(default_factory=Future)


class JournalWriter:
    """One thread that owns a connection and commits queued :class:`RowChange`\\ s in
    batches: one transaction (one fsync) for everything queued while the previous commit was
    on disk. Durability per row is unchanged — :meth:`commit` returns only after *that*
    change's transaction committed — batching is how 16 workers share the fsync cost.

    A change the state machine refuses fails alone (a savepoint per change); the rest of the
    batch commits.
    """

    def __init__(self, ledger: Ledger, *, max_batch: int = 256) -> None:
        self.ledger = ledger
        self.max_batch = max_batch
        self._queue: queue.Queue[_Pending | None] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="batchpay-journal", daemon=True)
        self._closed = False
        self.commits = 0  # transactions committed (tests and benchmarks look at it)
        self._thread.start()

    def submit(self, change: RowChange) -> Future[None]:
        if self._closed:
            raise RuntimeError("journal writer is closed")
        pending = _Pending(change)
        self._queue.put(pending)
        return pending.future

    def commit(self, change: RowChange) -> None:
        """Queue ``change`` and wait until it is durably committed (or raise why not)."""
        self.submit(change).result()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._queue.put(None)
            self._thread.join()

    def __enter__(self) -> JournalWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _loop(self) -> None:
        conn = self.ledger.connect()
        try:
            while True:
                first = self._queue.get()
                if first is None:
                    return
                batch = [first]
                stop = False
                while len(batch) < self.max_batch:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is None:
                        stop = True
                        break
                    batch.append(item)
                self._commit_batch(conn, batch)
                if stop:
                    return
        finally:
            conn.close()

    def _commit_batch(self, conn: sqlite3.Connection, batch: list[_Pending]) -> None:
        done: list[_Pending] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            at = iso(self.ledger.clock())
            for item in batch:
                conn.execute("SAVEPOINT change")
                try:
                    apply_change(conn, item.change, at)
                except Exception as exc:  # refused change: fail it alone
                    conn.execute("ROLLBACK TO change")
                    conn.execute("RELEASE change")
                    item.future.set_exception(exc)
                    continue
                conn.execute("RELEASE change")
                done.append(item)
            conn.execute("COMMIT")
            self.commits += 1
        except Exception as exc:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            for item in batch:
                if not item.future.done():
                    item.future.set_exception(exc)
            return
        for item in done:
            item.future.set_result(None)


# --- the run lock -------------------------------------------------------------------------


class RunLock:
    """An exclusive, process-scoped lock on one run: ``flock`` on
    ``<ledger>.locks/<run_id>.lock``. The kernel releases it when the process exits or is
    killed, so there is no stale-lock clean-up (SAFETY.md: a second process on the same run
    exits before sending anything)."""

    def __init__(self, ledger_path: str | os.PathLike[str], run_id: str,
                 *, clock: Clock = utc_now) -> None:
        base = Path(ledger_path)
        self.path = base.with_name(base.name + ".locks") / f"{run_id}.lock"
        self.run_id = run_id
        self.clock = clock
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise RunLocked(
                f"run {self.run_id} is in use by another batchpay process ({holder})",
                hint="wait for it to finish; if that process is gone, the lock frees itself — "
                     "nothing was sent by this one",
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                 "since": iso(self.clock())}).encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _read_holder(fd: int) -> str:
    try:
        data = json.loads(os.pread(fd, 4096, 0) or b"{}")
        return f"pid {data.get('pid')} on {data.get('host')} since {data.get('since')}"
    except (OSError, ValueError):
        return "holder unknown"
