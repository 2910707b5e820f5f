"""The exception tree. Bad *rows* are values (:class:`batchpay.problems.Problem`), not exceptions;
these are raised only when work cannot go on. Each class says what the user does next and
carries data (paths, run ids, states, amounts), never prose for one terminal; the exit codes
in brackets are the CLI's one table (:data:`batchpay.cli.exits.EXIT_CODES`).

    BatchpayError                    (exit 1)
    ├── UsageError                   (exit 2)  wrong options or arguments
    ├── InputError                   (exit 2)  unreadable/corrupt/encrypted file, unknown kind,
    │                                          missing columns
    ├── ConfigError                  (exit 3)  missing or malformed configuration or credentials
    ├── RunError                     (exit 1)  a run cannot start or continue
    │   ├── RunLocked                          another process holds the run
    │   ├── InsufficientBalance                a source Sub Account cannot cover its rows
    │   ├── TotalMismatch                      --expect-total / typed total ≠ the plan
    │   ├── RepeatedReferences                 references an earlier run still holds
    │   ├── IllegalTransition                  a bug: the state machine refused a change
    │   ├── InputChanged             (exit 2)  resume against a file whose SHA-256 differs
    │   ├── RunNotFound              (exit 2)
    │   └── ApprovalError                      maker–checker refused (nothing changed):
    │       ├── ApprovalRequired     (exit 2)  `run` under a policy that needs `submit`
    │       ├── NotAwaitingApproval            approve/reject a run not awaiting approval
    │       ├── NotApproved                    send before approval, after rejection/expiry
    │       ├── OwnRun                         the maker approving their own run
    │       ├── AlreadyApproved                one person counting as two approvers
    │       └── DigestMismatch                 the journaled plan changed after submit
    ├── JournalError                 (exit 4)  the journal cannot be used (path, cause, what
    │   │                                      to do; never "pay again from a new journal")
    │   ├── JournalMissing                     missing or empty where a journal was expected
    │   ├── JournalCorrupt                     not a journal, or damaged
    │   ├── JournalReadOnly                    a writing command on a read-only file/disk
    │   └── JournalFull                        the disk is full
    └── DokuError                    (exit 1)  something DOKU (or the network) said
        ├── DokuAuthError            (exit 3)  401: fix credentials/signature scheme; batch stops
        ├── DokuRejected                       4xx proving DOKU did not execute: row failed,
        │                                      batch goes on
        ├── DokuUnavailable                    5xx/503/429 before execution is known: retryable
        └── OutcomeUnknown                     may or may not have executed: status check
                                               before any resend
    UsageError also roots the emulator's BadAdminRequest and FaultSpecError; EmulatorError
    (AdminError) is the emulator admin endpoint refusing or unreachable.

Messages must never contain the secret key (docs/safety.md invariant 6).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from batchpay.money import format_minor


class BatchpayError(Exception):
    """Base of every error batchpay raises on purpose."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} — {self.hint}"


class UsageError(BatchpayError):
    pass


class InputError(BatchpayError):
    pass


class ConfigError(BatchpayError):
    pass


class RunError(BatchpayError):
    pass


class RunLocked(RunError):
    pass


class InputChanged(RunError):
    pass


class RunNotFound(RunError):
    pass


class JournalError(BatchpayError):
    """The journal cannot be used. ``path`` is the journal's path and ``location`` its
    :attr:`~batchpay.journal.protocol.Journal.location` (a server journal's URL without its
    password, which ``path`` would mangle); the message names it and the cause, the hint says
    what to do (see :mod:`batchpay.journal.sqlite.faults`)."""

    def __init__(
        self, message: str, *, path: str | os.PathLike[str], hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.path = Path(path)
        self.location = os.fspath(path)


class JournalMissing(JournalError):
    pass


class JournalCorrupt(JournalError):
    pass


class JournalReadOnly(JournalError):
    pass


class JournalFull(JournalError):
    pass


class DokuError(BatchpayError):
    pass


class DokuAuthError(DokuError):
    pass


class DokuRejected(DokuError):
    pass


class DokuUnavailable(DokuError):
    pass


class OutcomeUnknown(DokuError):
    pass


class IllegalTransition(RunError):
    """A row state change the state machine (:mod:`batchpay.states`) forbids: a bug, never a
    user error."""

    def __init__(
        self,
        message: str,
        *,
        old_state: str | None = None,
        new_state: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.old_state = old_state
        self.new_state = new_state


@dataclass(frozen=True)
class Shortfall:
    """One source Sub Account that cannot cover its rows."""

    account_id: str
    need_minor: int
    available_minor: int | None  # None: the balance could not be read (message says why)
    message: str = ""


class InsufficientBalance(RunError):
    """A source Sub Account cannot cover its rows; nothing was sent. ``shortfalls`` lists
    each account, what it needs and what DOKU says is available."""

    def __init__(self, shortfalls: list[Shortfall]) -> None:
        self.shortfalls = shortfalls
        lines = []
        for s in shortfalls:
            have = format_minor(s.available_minor) if s.available_minor is not None else "unknown"
            lines.append(
                f"{s.account_id}: needs {format_minor(s.need_minor)}, available "
                f"{have}" + (f" ({s.message})" if s.message else "")
            )
        super().__init__(
            "the balance check failed, nothing was sent:\n  " + "\n  ".join(lines),
            hint="top up these Sub Accounts (or split the sheet) and run again",
        )


class TotalMismatch(RunError):
    """--expect-total (or the typed confirmation) does not match the plan. ``expected`` is
    what the operator gave (text as typed, or a row count), ``actual`` the plan's."""

    def __init__(
        self,
        message: str,
        *,
        expected: str | int | None = None,
        actual: str | int | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.expected = expected
        self.actual = actual


class RepeatedReferences(RunError):
    """References already sent in an earlier run (refused unless --allow-repeat). Carries
    them as :attr:`repeats` (``batchpay.journal.Repeat`` records: row_number, reference,
    earlier run id / row / state / reference)."""

    def __init__(self, repeats: Sequence[Any]) -> None:
        self.repeats = list(repeats)
        lines = [
            f"row {r.row_number}: {r.reference!r} was already used in run "
            f"{r.earlier.run_id} (row {r.earlier.row_number}, {r.earlier.state}"
            + (
                f", as {r.earlier.reference!r}"
                if r.earlier.reference and r.earlier.reference != r.reference
                else ""
            )
            + ")"
            for r in self.repeats[:20]
        ]
        count = len(self.repeats)
        more = f"\n  … and {count - 20} more" if count > 20 else ""
        super().__init__(
            f"{count} reference(s) were already sent in an earlier run:\n  "
            + "\n  ".join(lines)
            + more,
            hint="a reference is paid once; remove these rows, or, if paying them again is "
            "really intended, re-run with --allow-repeat (failed rows: use "
            "`batchpay retry-failed RUN_ID`)",
        )


class AdminError(BatchpayError):
    """The emulator's admin endpoint refused a call (``http_status`` is its answer), or
    could not be reached (``http_status`` is None)."""

    def __init__(
        self,
        message: str,
        *,
        url: str,
        method: str,
        path: str,
        http_status: int | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.url, self.method, self.path = url, method, path
        self.http_status = http_status


class BadAdminRequest(UsageError):
    """An admin request the emulator cannot honour; answered with HTTP 400."""


class FaultSpecError(UsageError):
    """A fault request the emulator cannot honour (bad name, op, nth, probability)."""


class ApprovalError(RunError):
    """A maker–checker step refused (docs/safety.md §9); nothing was changed or sent.
    ``run_id`` is the run, ``status`` its status when refused."""

    def __init__(
        self, message: str, *, run_id: str, status: str | None = None, hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.run_id = run_id
        self.status = status


class ApprovalRequired(ApprovalError):
    """``batchpay run`` under a profile whose ``[approval] required = true``: the sheet must
    be submitted and approved instead. ``profile`` is the profile's path."""

    def __init__(self, message: str, *, profile: str, hint: str | None = None) -> None:
        super().__init__(message, run_id="", hint=hint)
        self.profile = profile


class NotAwaitingApproval(ApprovalError):
    """Approving (or rejecting) a run whose status is not AWAITING_APPROVAL."""


class NotApproved(ApprovalError):
    """Sending a run that is not APPROVED (awaiting, rejected, expired, or an ordinary run):
    ``needed`` approvals, ``have`` valid ones."""

    def __init__(
        self,
        message: str,
        *,
        run_id: str,
        status: str | None = None,
        needed: int = 0,
        have: int = 0,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, run_id=run_id, status=status, hint=hint)
        self.needed = needed
        self.have = have


class OwnRun(ApprovalError):
    """The person who prepared a run (``person``) tried to approve it."""

    def __init__(self, message: str, *, run_id: str, person: str, hint: str | None = None) -> None:
        super().__init__(message, run_id=run_id, hint=hint)
        self.person = person


class AlreadyApproved(ApprovalError):
    """``person`` already approved the run: one person never counts as two approvers."""

    def __init__(self, message: str, *, run_id: str, person: str, hint: str | None = None) -> None:
        super().__init__(message, run_id=run_id, hint=hint)
        self.person = person


class DigestMismatch(ApprovalError):
    """The plan in the journal is not the one submitted and approved: ``expected`` is the
    approved digest, ``actual`` the one recomputed now, ``changes`` what differs (one line
    each: the environment, a row's body, amount, Request-Id…)."""

    def __init__(
        self,
        message: str,
        *,
        run_id: str,
        expected: str,
        actual: str,
        changes: Sequence[str],
        hint: str | None = None,
    ) -> None:
        super().__init__(message, run_id=run_id, hint=hint)
        self.expected = expected
        self.actual = actual
        self.changes = list(changes)
