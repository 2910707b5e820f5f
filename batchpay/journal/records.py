"""The records that go into the journal (:class:`NewRow`, :class:`RowChange`) and come out of
it (:class:`RunRecord`, :class:`RowRecord`, :class:`EventRecord`, references seen in earlier
runs). Plain frozen dataclasses: the runs layer and reconciliation use them without any
storage engine. Row states are :class:`batchpay.states.State` values."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from batchpay.errors import RepeatedReferences as RepeatedReferences

# Western Indonesia Time (= identities.WIB; records import nothing of the journal's).
WIB = timezone(timedelta(hours=7), "WIB")

# DOKU's error code for a reference (reference_id / invoice_number) it already holds: proof
# that the reference EXISTS there (codes.py), kept on the row as its code.
DUPLICATE_REFERENCE = "DUPLICATE_REFERENCE"


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    created_at: str  # ISO-8601 UTC
    finished_at: str | None
    kind: str
    env: str
    input_path: str
    input_name: str
    input_sha256: str
    operator: str
    dry_run: bool
    parent_run_id: str | None  # set on retry-failed runs
    # concurrency, rate, sheet, mapping, amount_format, base_url, report path — never a secret
    settings: dict[str, Any] = field(default_factory=dict)
    # Added in journal schema 3 (maker–checker; defaults keep older callers working):
    status: str = "OPEN"  # batchpay.states.RunStatus
    plan_digest: str | None = None  # SHA-256 of the submitted plan (docs/safety.md §9)
    expires_at: str | None = None  # ISO-8601 UTC: not approved by then → never sent
    approvals: tuple[ApprovalRecord, ...] = ()  # every decision on the run, oldest first

    @property
    def prepared_by(self) -> str | None:
        """Who submitted the run and when (None for an ordinary run)."""
        return None if self.plan_digest is None else f"{self.operator} at {_when(self.created_at)}"

    @property
    def approved_by(self) -> str | None:
        """Each approver with the time of their approval (or rejection), in order."""
        decided = [
            f"{a.approver} at {_when(a.at)}" + (f" (REJECTED: {a.reason})" if a.reason else "")
            for a in self.approvals
        ]
        return "; ".join(decided) or None


def _when(at: str) -> str:
    """``2026-12-05 12:03 WIB (05:03 UTC)`` from an ISO-8601 time."""
    moment = datetime.fromisoformat(at)
    return f"{moment.astimezone(WIB):%Y-%m-%d %H:%M} WIB ({moment.astimezone(UTC):%H:%M} UTC)"


@dataclass(frozen=True)
class RowRecord:
    run_id: str
    row_number: int  # as Excel shows it
    attempt: int  # 1 for the original; retry-failed makes 2, 3 … (linked via parent run)
    reference: str  # reference_id / invoice_number / email
    amount_minor: int | None  # amount × 100; None for account creation
    currency: str
    source_account: str | None  # account_id / origin for Sub Account money movements
    input: dict[str, str]  # every input column as read, by header (extra columns too)
    normalised: dict[str, str]  # by field name
    request_id: str
    body: bytes
    state: str
    doku_status: str | None
    doku_ids: dict[str, str]
    message: str | None  # DOKU's last message, or ours
    sends: int  # how many times the request went on the wire
    last_seen_at: str | None  # last time DOKU told us the status
    updated_at: str
    # Added in journal schema 2 (defaults keep older callers working):
    code: str | None = None  # outcome code of the row's last answer (see RowChange.code)
    reference_key: str = ""  # batchpay.references.reference_key(reference)


@dataclass(frozen=True)
class EventRecord:
    seq: int
    run_id: str
    row_number: int | None
    at: str
    type: str
    detail: str
    # Added by the journal (additive): the transition and what DOKU answered, when the event
    # is a row transition. Never headers, never the secret (docs/safety.md invariant 6).
    old_state: str | None = None
    new_state: str | None = None
    outcome: str | None = None  # OutcomeClass value: ACCEPTED / REJECTED / UNKNOWN / RATE_LIMITED
    http_status: int | None = None
    request_id: str | None = None


@dataclass(frozen=True)
class RowChange:
    """One change to a row, journaled atomically with its event."""

    run_id: str
    row_number: int
    new_state: str
    event: str  # event type, e.g. "send", "outcome", "status-check", "not-sent"
    reason: str | None = None  # why (codes like "auth-failed"); see states.NOT_EXECUTED_REASONS
    outcome: str | None = None  # OutcomeClass value
    http_status: int | None = None
    doku_status: str | None = None
    doku_ids: dict[str, str] | None = None  # merged into the stored ids
    message: str | None = None
    seen: bool = False  # DOKU told us the status just now (sets last_seen_at)
    count_send: bool = False  # this change is the intent to put the request on the wire
    # False only for a status look-up that changed nothing (no audit line per --watch poll).
    record_event: bool = True
    # The outcome code of the answer that caused this change (DOKU's error.code or a batchpay
    # code such as "timeout", "answer-mismatch", "duplicate-reference"); stored on the row so
    # retry-failed can tell a rejection that proves non-execution from one that does not.
    code: str | None = None


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
    reference: str = ""  # as the earlier run wrote it (same reference_key, maybe not same text)


@dataclass(frozen=True)
class Repeat:
    """A reference of a new run already used by an earlier run (which still counts)."""

    row_number: int
    reference: str
    earlier: SeenReference


@dataclass(frozen=True)
class ApprovalRecord:
    """One person's decision on a submitted run: ``decision`` APPROVED or REJECTED, with the
    plan digest they saw (docs/safety.md §9) and, for a rejection, the reason."""

    run_id: str
    approver: str  # the journal's principal (the OS login for SQLite)
    at: str  # ISO-8601 UTC
    digest: str
    decision: str  # "APPROVED" | "REJECTED"
    reason: str | None = None


@dataclass(frozen=True)
class StatusChange:
    """One change of a run's status (:class:`batchpay.states.RunStatus`), journaled
    atomically with its audit event and, when given, a person's decision.

    ``expected`` is the status the caller decided on; the journal refuses the change if the
    run is in another one by the time it writes (two approvers at once, a reject racing a
    send). ``unsent`` refuses it once any row of the run has left PLANNED."""

    run_id: str
    expected: str
    new_status: str
    event: str  # "submit", "approve", "reject", "expire", "send"
    detail: str
    approval: ApprovalRecord | None = None
    unsent: bool = False
