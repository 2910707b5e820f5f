"""Row states: one enum, its sets, and the one transition table (docs/safety.md §1).

Every module that asks "is this row open / paid / final / retryable?" asks this module. The
enum is a ``StrEnum``, so a state read back from the journal as text compares equal to its
member, and a member is stored as its text.
"""

from __future__ import annotations

from enum import StrEnum

from batchpay.errors import IllegalTransition


class State(StrEnum):
    """A row's state. Accepted rows carry DOKU's business status as their state."""

    PLANNED = "PLANNED"  # journaled with its Request-Id and exact body; not sent yet
    SENDING = "SENDING"  # intent committed; the request may be on the wire
    UNKNOWN = "UNKNOWN"  # may or may not have executed: resolved by look-up or replay
    REJECTED = "REJECTED"  # DOKU proved it executed nothing (docs/safety.md §2)
    INVALID = "INVALID"  # failed validation; never sendable
    NOT_SENT = "NOT_SENT"  # dry run: built and signed, never sent
    # Payout Link progress at DOKU (docs/doku-api.md §4); PENDING also marks a Sub Account
    # movement DOKU accepted without saying SUCCESS.
    PENDING = "PENDING"
    EMAIL_SENT = "EMAIL_SENT"
    EMAIL_LINK_OPENED = "EMAIL_LINK_OPENED"
    PENDING_PROCESS = "PENDING_PROCESS"
    CONFIRMED = "CONFIRMED"
    # DOKU's final answers
    COMPLETED = "COMPLETED"  # Payout Link paid out
    FAILED = "FAILED"
    EXPIRED = "EXPIRED"  # link never opened in time
    SUCCESS = "SUCCESS"  # Sub Account payout / transfer done
    CREATED = "CREATED"  # Sub Account created (DOKU's account status kept as doku_status)
    ACTIVE = "ACTIVE"


S = State

# Rows a run still has to work on: send, or resolve.
OPEN: tuple[State, ...] = (S.PLANNED, S.SENDING, S.UNKNOWN)
# Accepted by DOKU, not final yet.
PROGRESS: tuple[State, ...] = (
    S.PENDING,
    S.EMAIL_SENT,
    S.EMAIL_LINK_OPENED,
    S.PENDING_PROCESS,
    S.CONFIRMED,
)
PAYOUT_LINK_PROGRESS = PROGRESS
# Paid / done: the only states ever counted as paid (docs/safety.md invariant 5).
SUCCESS: tuple[State, ...] = (S.COMPLETED, S.SUCCESS, S.CREATED, S.ACTIVE)
# Final failures. REJECTED is final for the row; retry-failed makes a new, linked attempt.
FAILURE: tuple[State, ...] = (S.FAILED, S.EXPIRED, S.REJECTED)
# Every state DOKU can answer with (an accepted request's business status).
ACCEPTED: tuple[State, ...] = (
    *PROGRESS,
    S.COMPLETED,
    S.FAILED,
    S.EXPIRED,
    S.SUCCESS,
    S.CREATED,
    S.ACTIVE,
)
# Nothing leaves these (but see RECHECKABLE: an audited change after completion).
FINAL: frozenset[State] = frozenset((*SUCCESS, *FAILURE, S.INVALID, S.NOT_SENT))
# Final Payout Link states DOKU may still change (a bank reversal, docs/safety.md §5).
RECHECKABLE: tuple[State, ...] = (S.COMPLETED, S.FAILED, S.EXPIRED)
# States retry-failed may look at; codes.proves_not_executed_code decides for REJECTED.
RETRY_CANDIDATES: tuple[State, ...] = (S.FAILED, S.EXPIRED, S.REJECTED)
# An earlier row in one of these states does not hold its reference (REJECTED only with
# proof that nothing executed; checked per row by the journal).
REFERENCE_FREE: frozenset[State] = frozenset({S.REJECTED, S.INVALID, S.NOT_SENT})

# Reasons that make an otherwise forbidden transition explicit.
NOT_EXECUTED_REASONS = frozenset({"auth-failed", "rate-limited", "not-sent"})
CHANGED_AFTER_COMPLETION = "changed-after-completion"
RECHECKED_FINAL = "rechecked-final"

_LINK_ACCEPTED: tuple[State, ...] = (*PROGRESS, *RECHECKABLE)

# The transition table: from each open or progressing state, where it may go.
TRANSITIONS: dict[State, frozenset[State]] = {
    S.PLANNED: frozenset({S.SENDING, S.NOT_SENT}),
    S.SENDING: frozenset({S.SENDING, S.UNKNOWN, S.REJECTED, *ACCEPTED}),
    # Resolution: re-send (SENDING) or a look-up found it (an accepted status).
    S.UNKNOWN: frozenset({S.SENDING, S.UNKNOWN, *ACCEPTED}),
    **{
        p: frozenset(a for a in ACCEPTED if a not in (S.SUCCESS, S.CREATED, S.ACTIVE))
        for p in PROGRESS
    },
}
# Allowed only with the reason named: (old, new) → reason.
_WITH_REASON = {(S.SENDING, S.PLANNED): NOT_EXECUTED_REASONS}


def check_transition(old: str, new: str, *, reason: str | None = None) -> None:
    """Allow or refuse one row transition (docs/safety.md §1); raise
    :class:`~batchpay.errors.IllegalTransition` for anything else — above all for leaving a
    final state, because re-opening a settled row is how a payout gets made twice.

    The one explicit exception (docs/safety.md §5): a final Payout Link status that DOKU
    reports differently on a re-check becomes that status with
    ``reason=CHANGED_AFTER_COMPLETION`` (audited), and an unchanged re-check may touch the row
    with ``reason=RECHECKED_FINAL``."""
    if old in RECHECKABLE and reason == CHANGED_AFTER_COMPLETION:
        if new != old and new in _LINK_ACCEPTED:
            return
        raise IllegalTransition(
            f"a {old} row cannot change after completion to {new}", old_state=old, new_state=new
        )
    if old in RECHECKABLE and reason == RECHECKED_FINAL:
        if new == old:
            return
        raise IllegalTransition(
            f"a re-check of a {old} row cannot make it {new}; a change "
            "after completion must say so",
            old_state=old,
            new_state=new,
        )
    if old in FINAL:
        raise IllegalTransition(
            f"row is {old}, a final state; it cannot become {new}", old_state=old, new_state=new
        )
    allowed = new in TRANSITIONS.get(State(old), ()) if old in State.__members__ else False
    if not allowed and reason is not None:
        allowed = (
            reason in _WITH_REASON.get((State(old), State(new)), ())
            if old in State.__members__ and new in State.__members__
            else False
        )
    if not allowed:
        raise IllegalTransition(
            f"a row cannot go from {old} to {new}", old_state=old, new_state=new
        )


def is_paid(state: str) -> bool:
    return state in SUCCESS


def is_open(state: str) -> bool:
    return state in OPEN


# --- run status (maker–checker, docs/safety.md §9) ------------------------------------------


class RunStatus(StrEnum):
    """Whether a run may be sent. Ordinary runs are OPEN from the start; a submitted run waits
    for its approvals and is sendable only once APPROVED. REJECTED and EXPIRED are final:
    nothing of such a run is ever sent."""

    OPEN = "OPEN"  # an ordinary run (`batchpay run`): released when it was journaled
    AWAITING_APPROVAL = "AWAITING_APPROVAL"  # submitted; not every approval is in yet
    APPROVED = "APPROVED"  # released by its approvers; `batchpay send` sends it
    REJECTED = "REJECTED"  # closed by a person; never sent
    EXPIRED = "EXPIRED"  # not approved in time; never sent


R = RunStatus

# Runs whose PLANNED rows may go on the wire.
RELEASED: frozenset[RunStatus] = frozenset({R.OPEN, R.APPROVED})
# Runs that will never send anything: their rows hold no reference (docs/safety.md §4).
CLOSED: frozenset[RunStatus] = frozenset({R.REJECTED, R.EXPIRED})

# The run-status table. AWAITING → AWAITING records an approval that is not the last one
# needed; APPROVED → APPROVED records a send (or a resumed send) of the released run;
# APPROVED → REJECTED only before anything was sent (checked by the journal in the write).
RUN_TRANSITIONS: dict[RunStatus, frozenset[RunStatus]] = {
    R.AWAITING_APPROVAL: frozenset({R.AWAITING_APPROVAL, R.APPROVED, R.REJECTED, R.EXPIRED}),
    R.APPROVED: frozenset({R.APPROVED, R.REJECTED}),
}


def check_run_transition(old: str, new: str) -> None:
    """Allow or refuse one run-status change (:data:`RUN_TRANSITIONS`); OPEN, REJECTED and
    EXPIRED runs never change status. Raises :class:`~batchpay.errors.IllegalTransition`."""
    allowed = old in RunStatus.__members__ and new in RUN_TRANSITIONS.get(RunStatus(old), ())
    if not allowed:
        raise IllegalTransition(
            f"a run cannot go from {old} to {new}", old_state=old, new_state=new
        )


def check_release(run_status: str, old: str, new: str) -> None:
    """A row of a run that is not released (awaiting approval, rejected, expired) never
    leaves PLANNED: the journal calls this with every row change, so no code path — resume,
    a retry, a bug — can send a row its approvers have not released."""
    if old == S.PLANNED and new != S.PLANNED and run_status not in RELEASED:
        raise IllegalTransition(
            f"the run is {run_status}: its rows are not released for sending",
            old_state=old,
            new_state=new,
        )
