"""Plain records the journal hands out (read side). Shared by ledger, runner and reconcile,
so the reconciliation code stays pure and testable without SQLite."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Row states: batchpay.states is the one definition; these names are kept for readers.
from batchpay import states
from batchpay.states import State

FAILED_TERMINAL = states.FAILURE
PAYOUT_LINK_PROGRESS = states.PROGRESS
SUCCESS_TERMINAL = states.SUCCESS

PLANNED = State.PLANNED
SENDING = State.SENDING
UNKNOWN = State.UNKNOWN
REJECTED = State.REJECTED
INVALID = State.INVALID
NOT_SENT = State.NOT_SENT
TERMINAL = (*SUCCESS_TERMINAL, *FAILED_TERMINAL, INVALID)


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
