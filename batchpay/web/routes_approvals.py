"""Maker–checker on the web, through the same calls as ``batchpay submit/approve/reject``
(:mod:`batchpay.runs.approval`): HR submits a checked sheet; an approver sees the runs
awaiting approval and a run's plan, approves by typing its total or rejects with a reason.
The web login is the person: the maker's name is the run's operator, the approver's name is
recorded with the decision, and the library refuses the maker's own approval."""

from __future__ import annotations

import dataclasses
import itertools
import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from batchpay.config import redact
from batchpay.errors import BatchpayError, JournalMissing, RunNotFound
from batchpay.money import format_minor
from batchpay.runs import approval, service
from batchpay.runs.options import RunOptions, Target
from batchpay.runs.progress import NullProgress
from batchpay.states import RunStatus
from batchpay.web import sending
from batchpay.web.app import state_of
from batchpay.web.auth import check_csrf, error_page, render, require
from batchpay.web.checking import error_line
from batchpay.web.routes_sheets import own_check

router = APIRouter()
_RUN_ID = re.compile(r"[0-9A-Za-z][0-9A-Za-z_-]{0,63}")
SHOWN_PLAN_ROWS = 500


class _Notes(NullProgress):
    """The service's notes and warnings, for the page."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def note(self, text: str, *, warning: bool = False) -> None:
        self.lines.append(("warning: " if warning else "") + text)


def _target(request: Request) -> Target:
    return Target(env_file=state_of(request).config.env_file)


def _policy(request: Request) -> Any:
    profile = state_of(request).config.profile
    return profile.approval if profile is not None else None


@router.get("/checks/{check_id}/plan")
async def plan_preview(request: Request, check_id: str) -> Response:
    """The dry-run plan of a checked sheet, before it is submitted: rows, totals, repeats
    (:func:`batchpay.runs.service.prepare`, as ``batchpay run --dry-run`` plans it)."""
    require(request, "submit")
    check = own_check(request, check_id)
    config = state_of(request).config
    options = RunOptions(
        target=_target(request),
        kind=check.kind,
        profile=config.profile,
        dry_run=True,
        for_approval=True,
    )
    try:
        prepared = await run_in_threadpool(service.prepare, check.stored, options)
    except BatchpayError as exc:
        return error_page(request, "No plan", error_line(exc), 409)
    the_plan = prepared.plan
    if the_plan is None:
        return error_page(request, "No plan", "The sheet has errors; fix them first.", 409)
    context = {
        "check": check,
        "plan_rows": list(itertools.islice(the_plan.rows, SHOWN_PLAN_ROWS)),
        "count": the_plan.count,
        "hidden_rows": max(the_plan.count - SHOWN_PLAN_ROWS, 0),
        "totals": [format_minor(m, c) for c, m in sorted(the_plan.totals.items())],
        "by_source": [(a, format_minor(m)) for a, m in sorted(the_plan.by_source.items())],
        "repeats": prepared.repeats,
        "env": the_plan.env,
        "fmt": lambda m, c="": "" if m is None else format_minor(m, c),
    }
    return render(request, "preview.html", context)


@router.post("/checks/{check_id}/submit")
async def submit(request: Request, check_id: str) -> Response:
    session = require(request, "submit")
    form = await request.form()
    check_csrf(session, request, str(form.get("csrf_token") or ""))
    check = own_check(request, check_id)
    config = state_of(request).config
    if check.submitted or not check.view.ok:
        return error_page(
            request, "Cannot submit", "Only a valid sheet is submitted, and only once.", 409
        )
    options = RunOptions(
        target=_target(request),
        kind=check.kind,
        profile=config.profile,
        report_dir=config.home / "reports",
        input_name=check.display,  # the stored file's own name is random
    )
    notes = _Notes()
    try:
        submitted = await run_in_threadpool(
            lambda: approval.submit(check.stored, options, progress=notes, operator=session.user)
        )
    except BatchpayError as exc:
        return error_page(request, "Not submitted", error_line(exc), 409)
    if submitted.run is None:
        return error_page(request, "Not submitted", "The sheet is not valid any more.", 409)
    check.submitted = submitted.run.run_id
    return RedirectResponse(f"/runs/{submitted.run.run_id}", status_code=303)


@router.get("/approvals")
async def awaiting(request: Request) -> Response:
    require(request, "approve")
    error, runs = "", []
    try:
        found = await run_in_threadpool(service.list_runs, _target(request), limit=200)
        runs = [run for run, _ in found if run.status == RunStatus.AWAITING_APPROVAL]
    except JournalMissing:
        error = "No runs yet: the journal is empty."
    except BatchpayError as exc:
        error = error_line(exc)
    return render(request, "approvals.html", {"runs": runs, "error": redact(error)})


async def _plan(request: Request, run_id: str, user: str) -> Any:
    if not _RUN_ID.fullmatch(run_id):
        raise RunNotFound(f"{run_id!r} is not a run id")
    view = await run_in_threadpool(
        lambda: approval.plan_view(run_id, target=_target(request), policy=_policy(request))
    )
    return dataclasses.replace(view, viewer=user)  # can_approve for this login


def _plan_context(view: Any, message: str = "", error: str = "") -> dict[str, Any]:
    return {
        "p": view,
        "run": view.run,
        "rows": view.rows[:SHOWN_PLAN_ROWS],
        "hidden_rows": max(len(view.rows) - SHOWN_PLAN_ROWS, 0),
        "totals": [format_minor(m, c) for c, m in sorted(view.totals.items())],
        "by_source": [(a, format_minor(m)) for a, m in sorted(view.by_source.items())],
        "fmt": lambda m, c="": "" if m is None else format_minor(m, c),
        "message": message,
        "error": redact(error),
        "concurrency": {
            "min": sending.MIN_CONCURRENCY,
            "max": sending.MAX_CONCURRENCY,
            "default": sending.DEFAULT_CONCURRENCY,
        },
    }


async def _plan_page(
    request: Request, run_id: str, user: str, *, message: str = "", error: str = "", status=200
) -> Response:
    try:
        view = await _plan(request, run_id, user)
    except (RunNotFound, JournalMissing):
        return error_page(request, "No such run", f"There is no run {run_id}.", 404)
    return render(request, "plan.html", _plan_context(view, message, error), status)


@router.get("/approvals/{run_id}")
async def plan_page(request: Request, run_id: str) -> Response:
    session = require(request, "approve")
    return await _plan_page(request, run_id, session.user)


@router.post("/approvals/{run_id}/approve")
async def approve(request: Request, run_id: str) -> Response:
    session = require(request, "approve")
    form = await request.form()
    check_csrf(session, request, str(form.get("csrf_token") or ""))
    typed = str(form.get("total") or "").strip()
    try:
        await _plan(request, run_id, session.user)  # a bad or unknown id: 404 below
        decision = await run_in_threadpool(
            lambda: approval.approve(
                run_id,
                expect_total=typed,
                approver=session.user,
                target=_target(request),
                policy=_policy(request),
            )
        )
    except (RunNotFound, JournalMissing):
        return error_page(request, "No such run", f"There is no run {run_id}.", 404)
    except BatchpayError as exc:
        return await _plan_page(request, run_id, session.user, error=error_line(exc), status=409)
    done = (
        "Approved: the run can be sent."
        if decision.released
        else f"Approved ({decision.have} of {decision.needed} approvals)."
    )
    return await _plan_page(request, run_id, session.user, message=done)


@router.post("/approvals/{run_id}/reject")
async def reject(request: Request, run_id: str) -> Response:
    session = require(request, "approve")
    form = await request.form()
    check_csrf(session, request, str(form.get("csrf_token") or ""))
    reason = str(form.get("reason") or "")
    try:
        await _plan(request, run_id, session.user)
        await run_in_threadpool(
            lambda: approval.reject(run_id, reason=reason, by=session.user, target=_target(request))
        )
    except (RunNotFound, JournalMissing):
        return error_page(request, "No such run", f"There is no run {run_id}.", 404)
    except BatchpayError as exc:
        return await _plan_page(request, run_id, session.user, error=error_line(exc), status=409)
    return await _plan_page(request, run_id, session.user, message="Rejected: it is never sent.")
