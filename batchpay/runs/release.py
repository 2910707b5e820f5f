"""When a submitted run may be sent (docs/safety.md §9): its policy, its deadline, its valid
approvals and its digest. :func:`check_release` is asked before the first request of every
send and resume of a submitted run; it changes nothing except to journal an expiry that is
due (an ``expire`` event)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from batchpay.config import load_settings
from batchpay.errors import (
    ApprovalError,
    ApprovalRequired,
    DigestMismatch,
    NotApproved,
    NotAwaitingApproval,
)
from batchpay.journal import StatusChange, iso
from batchpay.policy import ApprovalPolicy, refuse_unapproved_run
from batchpay.runs.digest import Manifest, differences, manifest_of
from batchpay.runs.environment import open_journal_for
from batchpay.states import RunStatus

if TYPE_CHECKING:
    from batchpay.config import Settings
    from batchpay.journal import ApprovalRecord, Journal, RunRecord
    from batchpay.runs.options import RunOptions, Target

APPROVED = "APPROVED"
REJECTED = "REJECTED"


def prepare_settings(options: RunOptions) -> Settings:
    """The settings :func:`batchpay.runs.service.prepare` plans with. ``batchpay run`` under
    a profile's ``[approval] required = true`` is refused (a dry run is not); ``submit``
    (``for_approval``) needs no DOKU credentials: the maker may have none."""
    if options.profile is not None and not (options.dry_run or options.for_approval):
        refuse_unapproved_run(options.profile.approval, str(options.profile.path))
    t = options.target
    return load_settings(
        env=t.env,
        base_url=t.base_url,
        dotenv_path=t.env_file,
        require_credentials=not options.for_approval,
    )


def refuse_unapproved_retry(run: RunRecord) -> None:
    """``retry-failed`` of a run submitted under ``required = true``: its failed rows are a
    new payment and need their own approval (ApprovalRequired)."""
    if run.plan_digest is not None and policy_of(run).required:
        raise ApprovalRequired(
            f"run {run.run_id} was paid under a policy that requires approval; retrying its "
            "failed rows is a new payment: nothing was sent",
            profile=str(run.settings.get("profile") or "batchpay.toml"),
            hint="put the failed rows (the Exceptions sheet) in a sheet and `batchpay submit` it",
        )


def journal_for(target: Target) -> Journal:
    """The journal of ``target`` (never created here), opened without DOKU credentials."""
    settings = load_settings(
        base_url=target.base_url, dotenv_path=target.env_file, require_credentials=False
    )
    return open_journal_for(settings)


def policy_of(run: RunRecord, given: ApprovalPolicy | None = None) -> ApprovalPolicy:
    """The policy recorded with the run at submit, made stricter by ``given`` (the
    approver's or sender's own profile): neither can weaken the other."""
    recorded = ApprovalPolicy.from_stored(run.settings.get("approval") or {})
    return recorded if given is None else recorded.stricter(given)


def total_minor(run_totals: dict[str, int]) -> int:
    return sum(run_totals.values())


def run_total(journal: Journal, run: RunRecord) -> dict[str, int]:
    """The run's total per currency, from the journal's rows."""
    totals: dict[str, int] = {}
    for r in journal.iter_rows(run.run_id, data=False, body=False):
        if r.amount_minor is not None:
            totals[r.currency] = totals.get(r.currency, 0) + r.amount_minor
    return totals


def deadline(run: RunRecord, policy: ApprovalPolicy) -> datetime | None:
    """When the run expires unless approved: the recorded deadline, or earlier if the
    given policy's ``expires_after`` is shorter."""
    if run.expires_at is None:
        return None
    recorded = datetime.fromisoformat(run.expires_at)
    stricter = datetime.fromisoformat(run.created_at) + policy.expires_after
    return min(recorded, stricter)


def effective_status(run: RunRecord, now: datetime) -> str:
    """The status to show: an AWAITING_APPROVAL run past its deadline is EXPIRED even
    before a writing command journals it (``runs`` on a read-only journal)."""
    if run.status == RunStatus.AWAITING_APPROVAL and run.expires_at is not None:
        if now >= datetime.fromisoformat(run.expires_at):
            return RunStatus.EXPIRED
    return run.status


def expire_if_due(
    journal: Journal, run: RunRecord, policy: ApprovalPolicy, now: datetime
) -> RunRecord:
    """Journal the expiry of an AWAITING_APPROVAL run past its deadline (``expire``
    event); the run as it is now."""
    due = deadline(run, policy)
    if run.status != RunStatus.AWAITING_APPROVAL or due is None or now < due:
        return run
    try:
        return journal.change_status(
            StatusChange(
                run.run_id,
                RunStatus.AWAITING_APPROVAL,
                RunStatus.EXPIRED,
                "expire",
                f"not approved by {iso(due)}; it can never be sent",
            )
        )
    except NotAwaitingApproval:  # decided meanwhile by someone else
        return journal.run(run.run_id)


def valid_approvals(run: RunRecord, digest: str) -> list[ApprovalRecord]:
    """Approvals that count: for this digest, by someone other than the maker, one per
    person."""
    seen: dict[str, ApprovalRecord] = {}
    for a in run.approvals:
        if a.decision == APPROVED and a.digest == digest and a.approver != run.operator:
            seen.setdefault(a.approver, a)
    return list(seen.values())


def verify_plan(journal: Journal, run: RunRecord) -> str:
    """Recompute the run's digest from the journal; raise :class:`DigestMismatch` naming
    what changed if it is not the sealed one. Returns the digest."""
    if run.plan_digest is None:
        raise ApprovalError(
            f"run {run.run_id} has no sealed plan (its submission did not finish); "
            "it can never be approved or sent",
            run_id=run.run_id,
            status=run.status,
            hint="submit the sheet again",
        )
    now = manifest_of(journal, run)
    actual = now.digest()
    sealed_blob = journal.plan_manifest(run.run_id)
    sealed = Manifest.unseal(sealed_blob) if sealed_blob is not None else None
    if actual == run.plan_digest and sealed is not None and sealed.digest() == actual:
        return actual
    if sealed is None:
        changes = ["the sealed plan is missing from the journal"]
    elif sealed.digest() != run.plan_digest:
        changes = ["the sealed plan or the run's recorded digest was altered in the journal"]
    else:
        changes = differences(sealed, now) or ["the plan's digest differs"]
    raise DigestMismatch(
        f"the plan of run {run.run_id} changed after it was submitted (digest "
        f"{run.plan_digest[:16]}… ≠ {actual[:16]}…); its approval is void and nothing "
        "was sent:\n  " + "\n  ".join(changes),
        run_id=run.run_id,
        expected=run.plan_digest,
        actual=actual,
        changes=changes,
        hint="someone with write access to the journal changed it: find out who; then "
        "reject this run and submit the sheet again",
    )


def check_release(
    journal: Journal,
    run: RunRecord,
    *,
    now: datetime,
    policy: ApprovalPolicy | None = None,
) -> RunRecord:
    """Raise unless ``run`` may be sent now: APPROVED, its plan unchanged (digest), with
    enough valid approvals for its total. Journals a due expiry first."""
    effective = policy_of(run, policy)
    run = expire_if_due(journal, run, effective, now)
    if run.status != RunStatus.APPROVED:
        raise refusal(journal, run, effective)
    digest = verify_plan(journal, run)
    needed = effective.needed(total_minor(run_total(journal, run)))
    have = len(valid_approvals(run, digest))
    if have < needed:
        raise NotApproved(
            f"run {run.run_id} has {have} valid approval(s) of the {needed} its policy "
            "needs; nothing was sent",
            run_id=run.run_id,
            status=run.status,
            needed=needed,
            have=have,
            hint=f"another approver runs `batchpay approve {run.run_id}`",
        )
    return run


def refusal(journal: Journal, run: RunRecord, policy: ApprovalPolicy) -> NotApproved:
    """Why a run that is not APPROVED cannot be sent, as an error."""
    rid, status = run.run_id, run.status
    if status == RunStatus.AWAITING_APPROVAL:
        needed = policy.needed(total_minor(run_total(journal, run)))
        have = len({a.approver for a in run.approvals if a.decision == APPROVED})
        return NotApproved(
            f"run {rid} is awaiting approval ({have} of {needed} approval(s)); nothing was sent",
            run_id=rid,
            status=status,
            needed=needed,
            have=have,
            hint=f"someone other than {run.operator} runs `batchpay approve {rid}`",
        )
    what, hint = why_not_open(run)
    return NotApproved(f"{what}; nothing was sent", run_id=rid, status=status, hint=hint)


def why_not_open(run: RunRecord) -> tuple[str, str]:
    """A closed, approved or ordinary run in words, and what to do instead."""
    rid, status = run.run_id, run.status
    if status == RunStatus.APPROVED:
        who = ", ".join(f"{a.approver} at {a.at}" for a in run.approvals if a.decision == APPROVED)
        return f"run {rid} is already APPROVED (by {who})", f"send it with `batchpay send {rid}`"
    if status == RunStatus.REJECTED:
        last = next((a for a in reversed(run.approvals) if a.decision == REJECTED), None)
        why = f" by {last.approver} at {last.at}: {last.reason}" if last else ""
        return (
            f"run {rid} was rejected{why}; nothing of it is ever sent",
            "fix the sheet and `batchpay submit` it again",
        )
    if status == RunStatus.EXPIRED:
        return (
            f"run {rid} expired at {run.expires_at} without its approvals; it can never be sent",
            "`batchpay submit` the sheet again",
        )
    return (
        f"run {rid} was not submitted for approval (an ordinary {status} run)",
        f"continue an ordinary run with `batchpay resume {rid}`",
    )
