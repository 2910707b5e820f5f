"""Maker–checker in the PostgreSQL journal (docs/safety.md §9), with the semantics of
:mod:`batchpay.journal.sqlite.approvals`: the principal is the database role
(``current_user``), not the OS login — one role per person is what makes an approval theirs.

Every status change locks the run's row (``SELECT … FOR UPDATE``) and re-reads its status in
the same transaction: two approvers at once, or a rejection racing a send (whose row changes
share the run's row, :func:`~batchpay.journal.postgres.sql.apply_change`), cannot both pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from batchpay.errors import NotAwaitingApproval, RunNotFound
from batchpay.journal.identities import iso
from batchpay.journal.postgres.database import Database
from batchpay.journal.postgres.sql import insert_event, release_run
from batchpay.journal.records import ApprovalRecord, RunRecord, StatusChange
from batchpay.states import CLOSED, State, check_run_transition

if TYPE_CHECKING:
    import psycopg

    Conn = psycopg.Connection[dict[str, Any]]


class ApprovalStore(Database):
    """The maker–checker half of :class:`~batchpay.journal.postgres.PostgresJournal`."""

    def run(self, run_id: str) -> RunRecord:
        """The run (:class:`~batchpay.journal.postgres.PostgresJournal` reads it)."""
        raise NotImplementedError

    def principal(self) -> str:
        """Who is using the journal: the database role this connection logged in as."""
        with self._reading() as conn:
            found = conn.execute("SELECT current_user AS name").fetchone()
        return str(found["name"]) if found else "unknown"

    def seal_plan(self, run_id: str, digest: str, manifest: bytes) -> RunRecord:
        """Store the digest and manifest of a just-submitted run, with its ``submit`` event;
        a run's plan is sealed once (``plans`` refuses updates)."""
        who = self.principal()
        with self.transaction(
            doing=f"sealing the plan of run {run_id}",
            then="submit the sheet again (this run can never be approved or sent)",
        ) as conn:
            conn.execute(
                "INSERT INTO plans (run_id, digest, manifest) VALUES (%s,%s,%s)",
                (run_id, digest, manifest),
            )
            conn.execute(
                "UPDATE runs SET plan_digest=%s WHERE run_id=%s AND plan_digest IS NULL",
                (digest, run_id),
            )
            insert_event(
                conn,
                run_id,
                None,
                iso(self.clock()),
                "submit",
                f"submitted for approval by {who}; plan digest {digest}",
            )
        return self.run(run_id)

    def plan_manifest(self, run_id: str) -> bytes | None:
        """The manifest sealed with the run's plan (None: not a submitted run)."""
        with self._reading() as conn:
            found = conn.execute("SELECT manifest FROM plans WHERE run_id=%s", (run_id,)).fetchone()
        return None if found is None else bytes(found["manifest"])

    def change_status(self, change: StatusChange) -> RunRecord:
        """Journal ``change`` atomically (the rules of SQLite's ``change_status``)."""
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
                    "VALUES (%s,%s,%s,%s,%s,%s)",
                    (a.run_id, a.approver, a.at, a.digest, str(a.decision), a.reason),
                )
            conn.execute(
                "UPDATE runs SET status=%s WHERE run_id=%s",
                (str(change.new_status), change.run_id),
            )
            if change.new_status in CLOSED:  # never sent: its rows hold no reference (§4)
                release_run(conn, change.run_id)
            insert_event(conn, change.run_id, None, at, change.event, change.detail)
        return self.run(change.run_id)

    def release_references(self, run_id: str, type_: str, detail: str) -> None:
        """The run's rows stop holding their references live, journaled with the event
        ``type_`` in the same transaction (the rules of SQLite's ``release_references``)."""
        with self.transaction(
            doing=f"journaling the {type_} event of run {run_id}", then="run the command again"
        ) as conn:
            release_run(conn, run_id)
            insert_event(conn, run_id, None, iso(self.clock()), type_, detail)

    def approvals(self, run_id: str) -> list[ApprovalRecord]:
        """Every decision on ``run_id``, oldest first."""
        with self._reading() as conn:
            return list(approvals_of(conn, [run_id]).get(run_id, ()))


def _status(conn: Conn, run_id: str, location: str) -> str:
    found = conn.execute("SELECT status FROM runs WHERE run_id=%s FOR UPDATE", (run_id,)).fetchone()
    if found is None:
        raise RunNotFound(
            f"no run {run_id!r} in the journal {location}", hint="list runs with `batchpay runs`"
        )
    return str(found["status"])


def _started(conn: Conn, run_id: str) -> bool:
    """Whether any row of the run left PLANNED, or a send of it was journaled."""
    moved = conn.execute(
        "SELECT 1 FROM rows WHERE run_id=%s AND state<>%s LIMIT 1", (run_id, str(State.PLANNED))
    ).fetchone()
    sent = conn.execute(
        "SELECT 1 FROM events WHERE run_id=%s AND type='send' AND row_number IS NULL LIMIT 1",
        (run_id,),
    ).fetchone()
    return moved is not None or sent is not None


def approvals_of(conn: Conn, run_ids: Sequence[str]) -> dict[str, tuple[ApprovalRecord, ...]]:
    """The decisions on each of ``run_ids``."""
    if not run_ids:
        return {}
    found: dict[str, list[ApprovalRecord]] = {}
    for r in conn.execute(
        "SELECT run_id, approver, at, digest, decision, reason FROM approvals "
        "WHERE run_id = ANY(%s) ORDER BY seq",
        (list(dict.fromkeys(run_ids)),),
    ):
        found.setdefault(r["run_id"], []).append(
            ApprovalRecord(
                r["run_id"], r["approver"], r["at"], r["digest"], r["decision"], r["reason"]
            )
        )
    return {k: tuple(v) for k, v in found.items()}


def with_approvals(conn: Conn, records: list[RunRecord]) -> list[RunRecord]:
    """``records`` with their decisions attached (only runs that were submitted have any)."""
    submitted = [r.run_id for r in records if r.plan_digest is not None]
    found = approvals_of(conn, submitted)
    return [replace(r, approvals=found[r.run_id]) if r.run_id in found else r for r in records]
