"""The records that go into the journal (:class:`NewRow`, :class:`RowChange`) and come out of
it (:class:`RunRecord`, :class:`RowRecord`, :class:`EventRecord`, references seen in earlier
runs). Plain frozen dataclasses: the runs layer and reconciliation use them without any
storage engine. Row states are :class:`batchpay.states.State` values."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from batchpay.errors import RepeatedReferences as RepeatedReferences

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
