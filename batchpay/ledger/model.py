"""The journal's vocabulary: row states and the one rule for changing them
(:func:`check_transition`), run and Request-Id identities, and the records that go in and out
(:class:`NewRow`, :class:`RowChange`, references seen in earlier runs)."""

from __future__ import annotations

import getpass
import hashlib
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from batchpay import states
from batchpay.errors import IllegalTransition as IllegalTransition
from batchpay.errors import RunError

Clock = Callable[[], datetime]

SCHEMA_VERSION = 2  # 2: rows.reference_key and rows.code (issue 8)
# Western Indonesia Time has no daylight saving: a fixed offset is exact.
WIB = timezone(timedelta(hours=7), "WIB")
# Fixed namespace for Sub Account Request-Ids (uuid5 of the row identity); never change it,
# or a resumed run would compute different ids than the ones its rows were sent with.
REQUEST_ID_NAMESPACE = uuid.UUID("6d0c2f3e-8b1a-5c7e-9f4d-2a6b8e0c1d3f")

# The one state table lives in batchpay.states; the journal's names for its sets:
ACCEPTED_STATES = states.ACCEPTED
CHANGED_AFTER_COMPLETION = states.CHANGED_AFTER_COMPLETION
FINAL_STATES = states.FINAL
NOT_EXECUTED_REASONS = states.NOT_EXECUTED_REASONS
OPEN_STATES = states.OPEN
RECHECKABLE_FINAL_STATES = states.RECHECKABLE
RECHECKED_FINAL = states.RECHECKED_FINAL
REFERENCE_FREE_STATES = states.REFERENCE_FREE
check_transition = states.check_transition

# DOKU's error code for a reference (reference_id / invoice_number) it already holds: proof
# that the reference EXISTS there (codes.py), kept on the row as its code.
DUPLICATE_REFERENCE = "DUPLICATE_REFERENCE"


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


# --- identities ---------------------------------------------------------------------------


def new_run_id(now: datetime, *, token: str | None = None) -> str:
    """Sortable, readable: ``20261121-054512-ab12`` (UTC time of creation + 4 random hex)."""
    return f"{now.astimezone(UTC):%Y%m%d-%H%M%S}-{token or secrets.token_hex(2)}"


def request_id_for(product: str, run_id: str, row_number: int, reference: str, attempt: int) -> str:
    """The deterministic Request-Id of one attempt of one row (docs/safety.md: derived from the
    run and row identity, stored before the first send, identical on every re-send).

    Sub Account: a UUID5 (any string ≤ 128 chars is allowed). Payout Link: DOKU wants a
    numeric string (docs/doku-api.md §1) — 20 digits from SHA-256 of the same identity, with a
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


class RepeatedReferences(RunError):
    """References already sent in an earlier run (refused unless --allow-repeat)."""

    def __init__(self, repeats: list[Repeat]) -> None:
        self.repeats = repeats
        lines = [f"row {r.row_number}: {r.reference!r} was already used in run "
                 f"{r.earlier.run_id} (row {r.earlier.row_number}, {r.earlier.state}"
                 + (f", as {r.earlier.reference!r}"
                    if r.earlier.reference and r.earlier.reference != r.reference else "")
                 + ")"
                 for r in repeats[:20]]
        more = f"\n  … and {len(repeats) - 20} more" if len(repeats) > 20 else ""
        super().__init__(
            f"{len(repeats)} reference(s) were already sent in an earlier run:\n  "
            + "\n  ".join(lines) + more,
            hint="a reference is paid once; remove these rows, or, if paying them again is "
                 "really intended, re-run with --allow-repeat (failed rows: use "
                 "`batchpay retry-failed RUN_ID`)",
        )
