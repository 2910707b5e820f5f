"""Maker–checker in the SQLite journal (docs/safety.md §9): who the journal's principal is,
the submitted plan (digest and manifest), run-status changes with their events and
decisions, and each run's decisions as records.

Every status change is one ``BEGIN IMMEDIATE`` transaction that re-reads the run's status
first: two approvers at once, or a rejection racing a send, cannot both pass.
"""

from __future__ import annotations

import os
import pwd
import sqlite3
from collections.abc import Sequence
from dataclasses import replace

from batchpay.errors import NotAwaitingApproval, RunNotFound
from batchpay.journal.identities import iso
from batchpay.journal.records import ApprovalRecord, RunRecord, StatusChange
from batchpay.journal.sqlite.file import JournalFile
from batchpay.journal.sqlite.holds import release_run
from batchpay.journal.sqlite.sql import insert_event
from batchpay.states import CLOSED, State, check_run_transition


def os_login() -> str:
    """The OS account this process runs as — its effective uid, not ``$USER`` or
    ``$LOGNAME`` (anyone can set those)."""
    uid = os.geteuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:  # no passwd entry (containers): the uid still names one account
        return f"uid {uid}"


class ApprovalStore(JournalFile):
    """The maker–checker half of :class:`~batchpay.journal.sqlite.SqliteJournal`."""

    def run(self, run_id: str) -> RunRecord:
        """The run (:class:`~batchpay.journal.sqlite.SqliteJournal` reads it)."""
        raise NotImplementedError

    def principal(self) -> str:
        """Who is using the journal: the OS login (a server database returns its role)."""
        return os_login()

    def seal_plan(self, run_id: str, digest: str, manifest: bytes) -> RunRecord:
        """Store the digest and manifest of a just-submitted run, with its ``submit`` event;
        a run's plan is sealed once (the ``plans`` table refuses updates)."""
        with self.transaction(
            doing=f"sealing the plan of run {run_id}",
            then="submit the sheet again (this run can never be approved or sent)",
        ) as conn:
            conn.execute(
                "INSERT INTO plans (run_id, digest, manifest) VALUES (?,?,?)",
                (run_id, digest, manifest),
            )
            conn.execute(
                "UPDATE runs SET plan_digest=? WHERE run_id=? AND plan_digest IS NULL",
                (digest, run_id),
            )
            insert_event(
                conn,
                run_id,
                None,
                iso(self.clock()),
                "submit",
                f"submitted for approval by {self.principal()}; plan digest {digest}",
            )
        return self.run(run_id)

    def plan_manifest(self, run_id: str) -> bytes | None:
        """The manifest sealed with the run's plan (None: not a submitted run)."""
        if self.schema < 3:
            return None
        with self._reading() as conn:
            found = conn.execute("SELECT manifest FROM plans WHERE run_id=?", (run_id,)).fetchone()
        return None if found is None else bytes(found[0])

    def change_status(self, change: StatusChange) -> RunRecord:
        """Journal ``change`` atomically: the run must still be in ``change.expected``
        (:class:`~batchpay.errors.NotAwaitingApproval` otherwise), the transition must be in
        :data:`batchpay.states.RUN_TRANSITIONS`, and with ``unsent`` no row may have left
        PLANNED. The decision (if any) and the event are written in the same transaction."""
        with self.transaction(
            doing=f"journaling the {change.event} of run {change.run_id}",
            then="run the command again (nothing was changed)",
        ) as conn:
            status = _status(conn, change.run_id, self.location)
            if status != change.expected:
                raise NotAwaitingApproval(
                    f"run {change.run_id} is {status} now, not {change.expected}; "
                    "nothing was changed",
                    run_id=change.run_id,
                    status=status,
                    hint=f"look at it again with `batchpay approve {change.run_id}`",
                )
            check_run_transition(status, change.new_status)
            if change.unsent and _started(conn, change.run_id):
                raise NotAwaitingApproval(
                    f"sending run {change.run_id} has begun; it can no longer be "
                    f"{change.new_status.lower()}; nothing was changed",
                    run_id=change.run_id,
                    status=status,
                    hint=f"let it finish with `batchpay send {change.run_id}`",
                )
            at = iso(self.clock())
            if change.approval is not None:
                a = replace(change.approval, at=at)
                conn.execute(
                    "INSERT INTO approvals (run_id, approver, at, digest, decision, reason) "
                    "VALUES (?,?,?,?,?,?)",
                    (a.run_id, a.approver, a.at, a.digest, a.decision, a.reason),
                )
            conn.execute(
                "UPDATE runs SET status=? WHERE run_id=?", (change.new_status, change.run_id)
            )
            if change.new_status in CLOSED:  # never sent: its rows hold no reference (§4)
                release_run(conn, change.run_id)
            insert_event(conn, change.run_id, None, at, change.event, change.detail)
        return self.run(change.run_id)

    def release_references(self, run_id: str, type_: str, detail: str) -> None:
        """The run's rows stop holding their references live (the live-reference index,
        :mod:`~batchpay.journal.sqlite.holds`), journaled with the event ``type_`` in the
        same transaction: the run was forgotten by ``batchpay emulator reset``."""
        with self.transaction(
            doing=f"journaling the {type_} event of run {run_id}", then="run the command again"
        ) as conn:
            release_run(conn, run_id)
            insert_event(conn, run_id, None, iso(self.clock()), type_, detail)

    def approvals(self, run_id: str) -> list[ApprovalRecord]:
        """Every decision on ``run_id``, oldest first."""
        with self._reading() as conn:
            return list(approvals_of(conn, [run_id], self.schema).get(run_id, ()))


def _status(conn: sqlite3.Connection, run_id: str, location: str) -> str:
    found = conn.execute("SELECT status FROM runs WHERE run_id=?", (run_id,)).fetchone()
    if found is None:
        raise RunNotFound(
            f"no run {run_id!r} in the journal {location}", hint="list runs with `batchpay runs`"
        )
    return str(found[0])


def _started(conn: sqlite3.Connection, run_id: str) -> bool:
    """Whether any row of the run left PLANNED, or a send of it was journaled."""
    moved = conn.execute(
        "SELECT 1 FROM rows WHERE run_id=? AND state<>? LIMIT 1", (run_id, State.PLANNED)
    ).fetchone()
    sent = conn.execute(
        "SELECT 1 FROM events WHERE run_id=? AND type='send' AND row_number IS NULL LIMIT 1",
        (run_id,),
    ).fetchone()
    return moved is not None or sent is not None


def approvals_of(
    conn: sqlite3.Connection, run_ids: Sequence[str], schema: int
) -> dict[str, tuple[ApprovalRecord, ...]]:
    """The decisions on each of ``run_ids`` (none before schema 3)."""
    if schema < 3 or not run_ids:
        return {}
    found: dict[str, list[ApprovalRecord]] = {}
    ids = list(dict.fromkeys(run_ids))
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        # Only "?" placeholders are interpolated; the run ids are bound.
        sql = (
            "SELECT run_id, approver, at, digest, decision, reason FROM approvals "  # noqa: S608
            f"WHERE run_id IN ({','.join('?' * len(chunk))}) ORDER BY seq"
        )
        for r in conn.execute(sql, chunk):
            found.setdefault(r["run_id"], []).append(
                ApprovalRecord(
                    r["run_id"], r["approver"], r["at"], r["digest"], r["decision"], r["reason"]
                )
            )
    return {k: tuple(v) for k, v in found.items()}


def with_approvals(
    conn: sqlite3.Connection, records: list[RunRecord], schema: int
) -> list[RunRecord]:
    """``records`` with their decisions attached (only runs that were submitted have any)."""
    submitted = [r.run_id for r in records if r.plan_digest is not None]
    found = approvals_of(conn, submitted, schema)
    return [replace(r, approvals=found[r.run_id]) if r.run_id in found else r for r in records]
