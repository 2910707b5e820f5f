"""Maker–checker: one person prepares a batch, another releases it (docs/safety.md §9).

    submit(sheet, options, *, progress, now)           -> Submitted   AWAITING_APPROVAL, sealed
    plan_view(run_id, *, target, now, policy)          -> PlanView    what the approver sees
    approve(run_id, *, expect_total, approver, …)      -> Decision    who, when, which digest
    reject(run_id, *, reason, by, target, now)         -> RunRecord   closed: never sent
    send(run_id, options, *, progress, stop, sleep, now, policy) -> RunResult

A submitted run is journaled like any run — every row PLANNED with its Request-Id and exact
body — but AWAITING_APPROVAL: the journal refuses to move its rows out of PLANNED until its
approvers release it (``states.check_release``). ``send`` checks the release
(:func:`~batchpay.runs.release.check_release`: status, digest, approvals), then sends through
the same engine as ``run`` and ``resume``. Identity is the journal's principal. Every refusal
is one error with its data (:mod:`batchpay.errors`) and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from batchpay.doku import open_gateway
from batchpay.errors import (
    AlreadyApproved,
    InsufficientBalance,
    NotAwaitingApproval,
    OwnRun,
    RepeatedReferences,
    TotalMismatch,
    UsageError,
)
from batchpay.journal import (
    ApprovalRecord,
    Journal,
    Repeat,
    RowRecord,
    RunRecord,
    StatusChange,
    iso,
    utc_now,
)
from batchpay.money import format_minor
from batchpay.policy import ApprovalPolicy
from batchpay.runs import service
from batchpay.runs.checks import check_expected_total, parse_amount, preflight_balances
from batchpay.runs.digest import seal
from batchpay.runs.execute import RunResult
from batchpay.runs.options import RunOptions, Target
from batchpay.runs.plan import Plan
from batchpay.runs.progress import Progress
from batchpay.runs.release import (
    APPROVED,
    REJECTED,
    deadline,
    effective_status,
    expire_if_due,
    journal_for,
    policy_of,
    run_total,
    valid_approvals,
    verify_plan,
    why_not_open,
)
from batchpay.runs.sending import send as send
from batchpay.states import RunStatus

__all__ = [
    "Decision",
    "PlanView",
    "Submitted",
    "approve",
    "effective_status",
    "plan_view",
    "reject",
    "send",
    "submit",
]


@dataclass
class Submitted:
    """What ``submit`` did: the run (None for an invalid sheet: ``prepared.validation`` says
    why, nothing was journaled), its digest, warnings and plan workbook."""

    prepared: service.Prepared
    run: RunRecord | None = None
    warnings: list[str] = field(default_factory=list)
    result: RunResult | None = None
    needed: int = 1

    @property
    def valid(self) -> bool:
        return self.run is not None


@dataclass
class PlanView:
    """A submitted run as its approver sees it."""

    run: RunRecord
    status: str  # effective (an overdue run shows EXPIRED)
    rows: list[RowRecord]
    totals: dict[str, int]  # currency -> minor units
    by_source: dict[str, int]  # source Sub Account -> minor units
    warnings: list[str]
    repeats: list[Repeat]  # references of this run other runs hold
    policy: ApprovalPolicy
    needed: int
    expires_at: datetime | None
    viewer: str  # who is looking (the journal's principal)

    @property
    def approved_by(self) -> list[ApprovalRecord]:
        return [a for a in self.run.approvals if a.decision == APPROVED]

    @property
    def can_approve(self) -> bool:
        """Whether the viewer may approve now (not the maker, not approved already)."""
        return (
            self.status == RunStatus.AWAITING_APPROVAL
            and self.viewer != self.run.operator
            and all(a.approver != self.viewer for a in self.approved_by)
        )


@dataclass
class Decision:
    """An approval recorded: the run after it, how many valid approvals it has of how many
    it needs (``released``: it can be sent now)."""

    run: RunRecord
    have: int
    needed: int

    @property
    def released(self) -> bool:
        return self.run.status == RunStatus.APPROVED


# --- submit ---------------------------------------------------------------------------------


def submit(
    sheet: Path,
    options: RunOptions,
    *,
    progress: Progress,
    now: datetime | None = None,
    operator: str | None = None,
) -> Submitted:
    """Validate and plan ``sheet`` (:func:`service.prepare`: repeats refused unless
    ``allow_repeat``), check ``expect_total`` and the Sub Account balances, journal the run
    AWAITING_APPROVAL with every row PLANNED, seal its digest, write its plan workbook.
    Nothing is sent; the maker (``operator``, e.g. a web login; default the journal's
    principal) needs no DOKU credentials (balances are then checked by ``send``)."""
    now = now or utc_now()
    options = replace(options, for_approval=True, dry_run=False)
    try:
        prepared = service.prepare(sheet, options)
    except RepeatedReferences as exc:
        # An overdue submission still holds its references until its expiry is journaled.
        if not _expire_overdue(exc.repeats, options.target, now):
            raise
        prepared = service.prepare(sheet, options)
    the_plan, journal, o = prepared.plan, prepared.journal, prepared.options
    if the_plan is None or journal is None:
        return Submitted(prepared)
    policy = o.profile.approval if o.profile is not None else ApprovalPolicy()
    progress.planned(the_plan)
    if o.expect_total is not None:
        check_expected_total(the_plan, o.expect_total)
    warnings = [
        f"--allow-repeat: row {r.row_number} ({r.reference}) was already used in run "
        f"{r.earlier.run_id} ({r.earlier.state})"
        for r in prepared.repeats
    ]
    warnings += _submit_balances(prepared, the_plan)
    for text in warnings:
        progress.note(text, warning=True)
    record = journal.create_run(
        kind=the_plan.kind.name,
        product=the_plan.kind.product,
        env=the_plan.env,
        input_path=the_plan.input_path,
        input_name=o.input_name,
        input_sha256=the_plan.input_sha256,
        rows=the_plan.rows,
        settings={**o.stored_settings(prepared.settings), "approval": policy.stored()},
        allow_repeat=o.allow_repeat,
        exclude_run_ids=prepared.forgotten,
        operator=operator or journal.principal(),
        status=RunStatus.AWAITING_APPROVAL,
        expires_at=iso(now + policy.expires_after),
    )
    for text in warnings:
        journal.add_event(record.run_id, "warning", text)
    record = journal.seal_plan(record.run_id, *seal(journal, record))
    progress.created(record)
    needed = policy.needed(sum(the_plan.totals.values()))
    result = service.with_workbook(journal, RunResult(run=record, rows=[]), None)  # reads rows
    return Submitted(prepared, record, warnings, result, needed)


def _expire_overdue(repeats: list[Repeat], where: Target, now: datetime) -> bool:
    """Journal the expiry of the overdue submitted runs among ``repeats``' earlier runs;
    whether there was any."""
    journal = journal_for(where)
    expired = False
    for run_id in sorted({r.earlier.run_id for r in repeats}):
        run = journal.run(run_id)
        expired |= expire_if_due(journal, run, policy_of(run), now).status != run.status
    return expired


def _submit_balances(prepared: service.Prepared, the_plan: Plan) -> list[str]:
    """Balances now (InsufficientBalance stops the submit); a warning when they cannot be
    asked (no credentials here: the approver's ``send`` asks before the first request)."""
    if not the_plan.by_source:
        return []
    settings = prepared.settings
    if not settings.secret_key or not settings.client_id:
        return [
            "balances not checked: no DOKU credentials here; `batchpay send` checks them "
            "before the first request"
        ]
    with open_gateway(settings) as gateway:
        shortfalls = preflight_balances(gateway.client, the_plan)
    if shortfalls:
        raise InsufficientBalance(shortfalls)
    return []


# --- look, approve, reject ------------------------------------------------------------------


def plan_view(
    run_id: str,
    *,
    target: Target | None = None,
    now: datetime | None = None,
    policy: ApprovalPolicy | None = None,
) -> PlanView:
    """The submitted run ``run_id`` for its approver (reads only)."""
    journal = journal_for(target or Target())
    return _view(journal, journal.run(run_id), now or utc_now(), policy)


def _view(
    journal: Journal, run: RunRecord, now: datetime, policy: ApprovalPolicy | None
) -> PlanView:
    effective = policy_of(run, policy)
    rows = journal.rows(run.run_id)
    totals, by_source = run_total(journal, run), dict[str, int]()
    for r in rows:
        if r.source_account and r.amount_minor is not None:
            by_source[r.source_account] = by_source.get(r.source_account, 0) + r.amount_minor
    seen = journal.references_seen(
        run.kind, [r.reference for r in rows], env=run.env, exclude_run_ids=(run.run_id,)
    )
    repeats = [
        Repeat(r.row_number, r.reference, seen[r.reference][0]) for r in rows if r.reference in seen
    ]
    warnings = [e.detail for e in journal.events(run.run_id) if e.type == "warning"]
    return PlanView(
        run,
        effective_status(replace(run, expires_at=_iso(deadline(run, effective))), now),
        rows,
        totals,
        by_source,
        warnings,
        repeats,
        effective,
        effective.needed(sum(totals.values())),
        deadline(run, effective),
        journal.principal(),
    )


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else iso(moment)


def approve(
    run_id: str,
    *,
    expect_total: str,
    approver: str | None = None,
    target: Target | None = None,
    now: datetime | None = None,
    policy: ApprovalPolicy | None = None,
) -> Decision:
    """Record ``approver``'s approval (default: the journal's principal) of the plan as
    sealed, once the typed ``expect_total`` equals the run's total. Refused, changing
    nothing: a run not awaiting approval (an overdue one is journaled EXPIRED first), the
    maker's own run, a second approval by the same person, a changed plan, a wrong total."""
    journal = journal_for(target or Target())
    who = approver or journal.principal()
    run = journal.run(run_id)
    effective = policy_of(run, policy)
    run = expire_if_due(journal, run, effective, now or utc_now())
    if run.status != RunStatus.AWAITING_APPROVAL:
        raise _not_awaiting(run)
    if who == run.operator:
        raise OwnRun(
            f"{who} prepared run {run_id}; the maker cannot approve their own run — "
            "nothing was changed",
            run_id=run_id,
            person=who,
            hint="another person runs `batchpay approve " + run_id + "`",
        )
    if any(a.approver == who and a.decision == APPROVED for a in run.approvals):
        raise AlreadyApproved(
            f"{who} already approved run {run_id}; one person counts once — nothing was changed",
            run_id=run_id,
            person=who,
            hint="a second, different approver runs `batchpay approve " + run_id + "`",
        )
    digest = verify_plan(journal, run)
    totals = run_total(journal, run)
    _check_typed_total(run_id, totals, expect_total)
    needed = effective.needed(sum(totals.values()))
    have = len(valid_approvals(run, digest)) + 1
    released = have >= needed
    after = journal.change_status(
        StatusChange(
            run_id,
            RunStatus.AWAITING_APPROVAL,
            RunStatus.APPROVED if released else RunStatus.AWAITING_APPROVAL,
            "approve",
            f"approved by {who} ({have} of {needed}); plan digest {digest}",
            approval=ApprovalRecord(run_id, who, "", digest, APPROVED),
        )
    )
    return Decision(after, have, needed)


def _not_awaiting(run: RunRecord) -> NotAwaitingApproval:
    what, hint = why_not_open(run)
    return NotAwaitingApproval(
        f"{what} — it is not awaiting approval; nothing was changed",
        run_id=run.run_id,
        status=run.status,
        hint=hint,
    )


def _check_typed_total(run_id: str, totals: dict[str, int], typed: str) -> None:
    if len(totals) > 1:
        raise TotalMismatch(
            f"run {run_id} mixes currencies ({', '.join(sorted(totals))}); one total cannot "
            "approve it — nothing was approved",
            expected=typed,
        )
    total = sum(totals.values())
    if parse_amount(typed) != total:
        raise TotalMismatch(
            f"the total you typed, {typed}, is not the run's total; nothing was approved",
            expected=typed,
            actual=format_minor(total),
            hint="look at the plan again and type its total",
        )


def reject(
    run_id: str,
    *,
    reason: str,
    by: str | None = None,
    target: Target | None = None,
    now: datetime | None = None,
) -> RunRecord:
    """Close ``run_id``: nothing of it is ever sent. Anyone may reject (the maker too: a
    withdrawal) an AWAITING_APPROVAL run, or an APPROVED one before its sending begins."""
    if not reason.strip():
        raise UsageError("a rejection needs a reason", hint='--reason "why it is rejected"')
    journal = journal_for(target or Target())
    who = by or journal.principal()
    run = journal.run(run_id)
    run = expire_if_due(journal, run, policy_of(run), now or utc_now())
    if run.status not in (RunStatus.AWAITING_APPROVAL, RunStatus.APPROVED):
        raise _not_awaiting(run)
    return journal.change_status(
        StatusChange(
            run_id,
            run.status,
            RunStatus.REJECTED,
            "reject",
            f"rejected by {who}: {reason.strip()}",
            approval=ApprovalRecord(
                run_id, who, "", run.plan_digest or "", REJECTED, reason.strip()
            ),
            unsent=True,
        )
    )
