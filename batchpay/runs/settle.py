"""Settling one row: what an engine worker does with each row it sends (docs/safety.md §1, §2).

1. A Payout Link row that may already exist at DOKU (journaled SENDING or UNKNOWN) is looked
   up by ``reference_id`` first (docs/safety.md §2 "Resolution" 1; docs/doku-api.md §3: the
   Request-Id is only unique within a day, so after midnight WIB only the status check is
   safe). Found → its status is the outcome.
2. Commit ``→ SENDING`` (sends+1) and *wait for that commit* — then, and only then, send the
   stored Request-Id and the stored bytes.
3. Check that an accepted answer is about what was sent (:func:`batchpay.doku.answers.
   check_answer`: reference, amount, accounts; ``answer-mismatch`` → UNKNOWN, never paid),
   then journal the outcome: accepted → DOKU's status; a rejection that proves nothing was
   executed → REJECTED; unknown → UNKNOWN and re-send the **same** Request-Id and bytes after
   a backoff, a bounded number of times (Sub Account: DOKU answers a replay with the original
   response and HTTP 409).
4. ``DUPLICATE_REFERENCE`` proves the reference **exists** at DOKU (docs/safety.md "An answer
   counts only if it is about what we sent"): a Payout Link is looked up by reference and
   adopts the existing link's state; a Sub Account row (no look-up) stays UNKNOWN for the
   operator. Such a row — and one whose answer did not match — is never re-sent blind: only
   looked up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from batchpay.doku.answers import check_answer
from batchpay.doku.codes import ANSWER_MISMATCH, Outcome, OutcomeClass
from batchpay.journal import DUPLICATE_REFERENCE, RowRecord
from batchpay.runs.taker import intent_change
from batchpay.states import State

if TYPE_CHECKING:
    from batchpay.runs.engine import Engine

# Codes after which a link is only ever looked up, never re-sent by the engine, even when the
# look-up does not find it: DOKU said it holds the reference already.
LOOK_UP_ONLY_CODES = frozenset({DUPLICATE_REFERENCE})


def last_code(row: RowRecord) -> str | None:
    """The outcome code of the row's last answer: the journal's ``code`` column, or — for a
    row journaled before it existed — the code named in the row's message."""
    if row.code:
        return row.code
    text = row.message or ""
    for code in (DUPLICATE_REFERENCE, "REQUEST_ID_REUSED", ANSWER_MISMATCH):
        if code in text:
            return code
    return None


@dataclass
class _Row:
    """One row being settled: what is journaled now, and what this execution tried."""

    row: RowRecord
    state: str
    # May DOKU already have executed this row's request? (SENDING: crashed between the
    # commit and the answer; UNKNOWN: the answer was lost.)
    may_exist: bool
    look_up_only: bool
    sticky: str | None  # a code that must stay on the row (DUPLICATE_REFERENCE)
    sends: int = 0
    rate_limited: int = 0
    not_sent: int = 0


def _start(engine: Engine, row: RowRecord) -> _Row:
    state = row.state
    # DOKU said the reference exists: look it up, never re-send (a re-send cannot resolve
    # it). An answer-mismatch row is looked up like any UNKNOWN link (found → adopted if
    # the status answer matches; not found → the same Request-Id and bytes again).
    look_up_only = state == State.UNKNOWN and last_code(row) in LOOK_UP_ONLY_CODES
    sticky = last_code(row) if look_up_only else None
    if look_up_only and engine.product.status_lookup is None:
        # Sub Account has no look-up: the same Request-Id and bytes again (DOKU answers a
        # replay with the original, which check_answer compares) is the only question.
        look_up_only = False
    return _Row(row, state, state in (State.SENDING, State.UNKNOWN), look_up_only, sticky)


def settle(engine: Engine, row: RowRecord) -> str:
    """Drive one row as far as DOKU lets us now; return the state journaled last."""
    r = _start(engine, row)
    while True:
        if r.may_exist and engine.product.status_lookup is not None:
            done = _look_up_first(engine, r)
            if done is not None:
                return done
            # 404 → not at DOKU: re-send the same Request-Id and bytes (Resolution 1).
        if engine.stopping():
            # Ctrl-C / halt: nothing new goes on the wire; the row keeps its journaled
            # state (PLANNED, UNKNOWN, or SENDING from a crash) for `resume`.
            return r.state
        if r.sends >= engine.opts.max_sends:
            return _mark_unknown(
                engine, row, r.state, None, "still unresolved; run `batchpay resume` to try again"
            )
        outcome = _send(engine, r)
        done = _answered(engine, r, outcome)
        if done is None:
            done = _not_answered(engine, r, outcome)
        if done is not None:
            return done


def _look_up_first(engine: Engine, r: _Row) -> str | None:
    """A link that may exist is looked up before anything is sent; None: not at DOKU."""
    found, outcome = engine.look_up(r.row)
    if found is True and outcome is not None:
        if r.sticky == DUPLICATE_REFERENCE:
            return _adopt(engine, r.row, outcome)
        return engine.commit(
            r.row, engine.accepted_state(outcome), "status-check", outcome=outcome, seen=True
        )
    if found is False:
        # Unclear (status check failed or did not match): the row stays UNKNOWN, never
        # re-sent blind.
        return _mark_unknown(
            engine, r.row, r.state, outcome, "status check unanswered", code=r.sticky
        )
    if r.look_up_only:
        return _mark_unknown(
            engine,
            r.row,
            r.state,
            outcome,
            f"{r.sticky}: DOKU's status look-up does not "
            "find the reference; not re-sent — check DOKU's back office",
            code=r.sticky,
        )
    return None


def _send(engine: Engine, r: _Row) -> Outcome:
    row = r.row
    if engine.bucket is not None:
        engine.journaled()
        engine.bucket.acquire()
    # docs/safety.md: SENDING (with the stored Request-Id and bytes) is committed before
    # the socket write; send_intent() returns only once it is durable.
    r.state = engine.send_intent(row, intent_change(row, r.sends + 1))
    r.sends += 1
    answer = engine.send(row)
    if answer.klass != OutcomeClass.NOT_SENT:  # "sent now" counts what reached DOKU
        engine.count_send()
    # An answer counts only if it is about what we sent (docs/safety.md).
    return check_answer(engine.kind, row.body, answer)


def _answered(engine: Engine, r: _Row, outcome: Outcome) -> str | None:
    """DOKU answered (accepted, duplicate, mismatch, rejected): the row's state, or None."""
    row, product = r.row, engine.product
    if outcome.klass == OutcomeClass.ACCEPTED:
        return engine.commit(
            row, engine.accepted_state(outcome), "outcome", outcome=outcome, seen=True, wait=False
        )
    if outcome.reference_exists:
        return _reference_exists(engine, row, outcome)
    if outcome.code == ANSWER_MISMATCH and product.status_lookup is None:
        # An answer about another payment: ours may or may not have executed. A Sub
        # Account row waits for `resume`, whose same-Request-Id re-send DOKU answers
        # with the original (checked again). A link falls through to UNKNOWN below:
        # it is looked up next (the status answer is checked too), never re-sent
        # under a new Request-Id.
        return engine.commit(row, State.UNKNOWN, "outcome", outcome=outcome)
    if outcome.klass != OutcomeClass.REJECTED:
        return None
    if outcome.auth_failed:
        engine.stop("auth-failed", outcome.message)
        return _not_executed(engine, row, outcome, "auth-failed", r.may_exist)
    if r.may_exist and not product.resend_rejection_is_proof:
        # A rejected *re-send* of a link proves only that this send was not
        # executed; the first send may have been (Request-Ids are only unique
        # within a day) — not proof of non-execution. (A Sub Account invoice
        # number is unique for ever: a re-send after an executed first send is
        # answered by a 409 replay or DUPLICATE_REFERENCE, both handled above.)
        return engine.commit(
            row,
            State.UNKNOWN,
            "outcome",
            outcome=outcome,
            message="DOKU rejected the re-send, but the first "
            f"send may have executed: {outcome.message}",
        )
    return engine.commit(row, State.REJECTED, "outcome", outcome=outcome, seen=True, wait=False)


def _not_answered(engine: Engine, r: _Row, outcome: Outcome) -> str | None:
    """Rate-limited, not sent, or unknown: wait and go round again (None), or give up."""
    row = r.row
    if outcome.klass == OutcomeClass.RATE_LIMITED:
        r.rate_limited += 1
        r.sends -= 1  # a 429 was refused before execution; it does not use up a send
        r.state = _not_executed(engine, row, outcome, "rate-limited", r.may_exist)
        if r.rate_limited > engine.opts.max_rate_limited:
            return r.state
        engine.wait(engine.delay(r.rate_limited, outcome.retry_after))
        return None
    if outcome.klass == OutcomeClass.NOT_SENT:
        r.not_sent += 1
        r.sends -= 1
        r.state = _not_executed(engine, row, outcome, "not-sent", r.may_exist)
        if r.not_sent > engine.opts.max_not_sent:
            engine.stop("unreachable", f"DOKU could not be reached: {outcome.message}")
            return r.state
        engine.wait(engine.delay(r.not_sent))
        return None
    # UNKNOWN: it may have executed. Same Request-Id and bytes next time, after a
    # status check for links (docs/safety.md §2 "Resolution" 1–2).
    r.state = engine.commit(row, State.UNKNOWN, "outcome", outcome=outcome)
    r.may_exist = True
    if r.sends >= engine.opts.max_sends or engine.stopping():
        return r.state
    engine.wait(engine.delay(r.sends))
    return None


def _reference_exists(engine: Engine, row: RowRecord, outcome: Outcome) -> str:
    """DOKU answered DUPLICATE_REFERENCE: the reference exists there (paid by an earlier
    send, another run or another journal). Never REJECTED, never retried: a Payout Link
    adopts the existing link's state (looked up, and checked against what this row
    sent); a Sub Account row stays UNKNOWN for the operator."""
    if engine.product.status_lookup is None:
        return engine.commit(
            row,
            State.UNKNOWN,
            "outcome",
            outcome=outcome,
            message=f"DUPLICATE_REFERENCE: the invoice number {row.reference} already "
            "exists at DOKU — another run or journal may have paid it. Check "
            "DOKU's back office before doing anything; do not pay it again. "
            f"({outcome.message})",
        )
    state = engine.commit(
        row,
        State.UNKNOWN,
        "outcome",
        outcome=outcome,
        message=f"DUPLICATE_REFERENCE: the reference {row.reference} already exists at "
        f"DOKU; looking it up ({outcome.message})",
    )
    found, status = engine.look_up(row)
    if found is True and status is not None:
        return _adopt(engine, row, status)
    if found is None:
        return _mark_unknown(
            engine,
            row,
            state,
            status,
            "DUPLICATE_REFERENCE, yet DOKU's status look-up does "
            "not find the reference; not re-sent — check DOKU's back office",
            code=DUPLICATE_REFERENCE,
        )
    return _mark_unknown(
        engine,
        row,
        state,
        status,
        "DUPLICATE_REFERENCE, and the status look-up gave no usable answer; not re-sent",
        code=DUPLICATE_REFERENCE,
    )


def _adopt(engine: Engine, row: RowRecord, status: Outcome) -> str:
    """Take the state of the link DOKU already held under this row's reference (its
    status answer matched what the row sent). The code stays DUPLICATE_REFERENCE: the
    link may belong to another run or journal, so a failed one is not retried from here
    (:mod:`batchpay.runs.retry`)."""
    new = engine.accepted_state(status)
    return engine.commit(
        row,
        new,
        "status-check",
        outcome=status,
        seen=True,
        code=DUPLICATE_REFERENCE,
        message=f"DUPLICATE_REFERENCE: adopted the existing link's status {new} ({status.message})",
    )


def _not_executed(
    engine: Engine, row: RowRecord, outcome: Outcome, reason: str, may_exist: bool
) -> str:
    """DOKU proved *this* request was not executed (401, 429, connect failure). The row
    goes back to PLANNED — unless an earlier send of it may have executed, in which case
    it is UNKNOWN, because this answer says nothing about that earlier send."""
    if may_exist:
        return engine.commit(row, State.UNKNOWN, "outcome", outcome=outcome)
    return engine.commit(row, State.PLANNED, "outcome", outcome=outcome, reason=reason)


def _mark_unknown(
    engine: Engine,
    row: RowRecord,
    state: str,
    outcome: Outcome | None,
    message: str,
    *,
    code: str | None = None,
) -> str:
    """Journal the row UNKNOWN (unless it already is and nothing new was learnt).
    ``code`` keeps a code that must stick (DUPLICATE_REFERENCE) over the look-up's."""
    if state == State.UNKNOWN and outcome is None:
        return state
    if outcome is not None and outcome.code == ANSWER_MISMATCH:
        code = ANSWER_MISMATCH
    return engine.commit(
        row,
        State.UNKNOWN,
        "status-check" if outcome else "outcome",
        outcome=outcome,
        code=code,
        message=f"{message}: {outcome.message}" if outcome else message,
    )
