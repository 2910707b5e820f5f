"""The accountant's pages: runs by month, kind and status, a page per run with its counts by
row status, and the run's workbook and CSV — all through the run service (list_runs,
report_runs, report, export_csv), read-only."""

from __future__ import annotations

import re
import secrets
from collections import Counter
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from batchpay.config import ensure_private_dir, redact
from batchpay.errors import BatchpayError, JournalMissing, RunNotFound
from batchpay.kinds import KINDS
from batchpay.money import format_minor
from batchpay.runs import service
from batchpay.runs.options import Target
from batchpay.states import RunStatus
from batchpay.web.app import state_of
from batchpay.web.auth import error_page, render, require
from batchpay.web.checking import error_line

router = APIRouter()
_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
_RUN_ID = re.compile(r"[0-9A-Za-z][0-9A-Za-z_-]{0,63}")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SHOWN_EXCEPTIONS = 200


def _target(request: Request) -> Target:
    return Target(env_file=state_of(request).config.env_file)


def _summary(run: Any, rows: list[Any]) -> dict[str, Any]:
    """One run as the pages show it: its record, counts and amounts by row state."""
    counts: Counter[str] = Counter(r.state for r in rows)
    amounts: Counter[tuple[str, str]] = Counter()
    for r in rows:
        if r.amount_minor is not None:
            amounts[(r.state, r.currency)] += r.amount_minor
    total: Counter[str] = Counter()
    for r in rows:
        if r.amount_minor is not None:
            total[r.currency] += r.amount_minor
    return {
        "run": run,
        "rows": len(rows),
        "states": [
            (state, n, ", ".join(format_minor(a, c) for (s, c), a in amounts.items() if s == state))
            for state, n in sorted(counts.items())
        ],
        "total": ", ".join(format_minor(a, c) for c, a in sorted(total.items())),
    }


# Runs listed without a month (newest first, after the kind and status filters).
RUNS_SHOWN = 100


@router.get("/runs")
async def runs_page(request: Request) -> Response:
    require(request, "runs")
    month = request.query_params.get("month", "").strip()
    kind = request.query_params.get("kind", "").strip()
    status = request.query_params.get("status", "").strip()
    error = ""
    if month and not _MONTH.fullmatch(month):
        error, month = f"error: {month!r} is not a month — write it as YYYY-MM", ""
    runs: list[dict[str, Any]] = []
    try:
        found = await run_in_threadpool(
            service.list_runs,
            _target(request),
            month=month or None,
            limit=RUNS_SHOWN,
            kind=kind or None,
            status=status or None,
        )
        runs = [_summary(run, rows) for run, rows in found]
    except JournalMissing:
        error = error or "No runs yet: the journal is empty."
    except BatchpayError as exc:
        error = error_line(exc)
    filters = {"month": month, "kind": kind, "status": status}
    # Without a month the list stops at the newest RUNS_SHOWN matches: say so.
    capped = RUNS_SHOWN if not month and len(runs) >= RUNS_SHOWN else 0
    return render(
        request,
        "runs.html",
        {
            "runs": runs,
            "capped": capped,
            "error": redact(error),
            "filters": filters,
            "kinds": list(KINDS),
            "statuses": [s.value for s in RunStatus],
        },
    )


def _run_id(request: Request, run_id: str) -> str | Response:
    if not _RUN_ID.fullmatch(run_id):
        return error_page(request, "No such run", f"{run_id!r} is not a run id.", 404)
    return run_id


async def _one_run(request: Request, run_id: str) -> dict[str, Any] | Response:
    try:
        found = await run_in_threadpool(service.report_runs, _target(request), run_id=run_id)
    except (RunNotFound, JournalMissing):
        return error_page(request, "No such run", f"There is no run {run_id}.", 404)
    except BatchpayError as exc:
        return error_page(request, "Cannot read the run", error_line(exc), 500)
    run, rows = found[0]
    return {**_summary(run, rows), **_exceptions(run, rows)}


def _exceptions(run: Any, rows: list[Any]) -> dict[str, Any]:
    """The run's Exceptions, as the workbook's sheet lists them: every row not paid, with
    what happened and what to do next (batchpay.reconcile)."""
    from batchpay.reconcile import classify, is_exception, next_action

    found = [r for r in rows if is_exception(r)]
    return {
        "exceptions": [
            {
                "row": r.row_number,
                "reference": r.reference,
                "state": r.state,
                "class": str(classify(r.state)),
                "message": r.message or "",
                "next": next_action(r, run),
            }
            for r in found[:SHOWN_EXCEPTIONS]
        ],
        "hidden_exceptions": max(len(found) - SHOWN_EXCEPTIONS, 0),
    }


@router.get("/runs/{run_id}")
async def run_page(request: Request, run_id: str) -> Response:
    require(request, "runs")
    checked = _run_id(request, run_id)
    if isinstance(checked, Response):
        return checked
    summary = await _one_run(request, checked)
    if isinstance(summary, Response):
        return summary
    return render(request, "run.html", summary)


async def _download(
    request: Request, suffix: str, *, run_id: str | None = None, month: str | None = None
) -> Response:
    """The run's (or the month's) workbook or CSV, written by the service to a private
    file that is deleted once sent."""
    folder = ensure_private_dir(state_of(request).config.home / "web-downloads")
    target = folder / f"{secrets.token_hex(16)}{suffix}"
    write = service.report if suffix == ".xlsx" else service.export_csv
    try:
        path = await run_in_threadpool(
            lambda: write(_target(request), run_id=run_id, month=month, output=target)
        )
    except (RunNotFound, JournalMissing) as exc:
        # A month without runs: the CLI's own line (`batchpay report --month`).
        text = f"There is no run {run_id}." if run_id else error_line(exc)
        return error_page(request, "Nothing to report", text, 404)
    except BatchpayError as exc:
        return error_page(request, "Cannot write the file", error_line(exc), 500)
    media = XLSX if suffix == ".xlsx" else "text/csv; charset=utf-8"
    name = f"{run_id}{suffix}" if run_id else f"{month}-reconciliation{suffix}"
    return FileResponse(
        path,
        filename=name,
        media_type=media,
        background=BackgroundTask(Path(path).unlink, missing_ok=True),
    )


async def _run_download(request: Request, run_id: str, suffix: str) -> Response:
    require(request, "runs")
    checked = _run_id(request, run_id)
    if isinstance(checked, Response):
        return checked
    return await _download(request, suffix, run_id=checked)


@router.get("/reports/month")
async def month_report(request: Request) -> Response:
    """The month report (``batchpay report --month``): ``?month=YYYY-MM&format=xlsx|csv``."""
    require(request, "runs")
    month = request.query_params.get("month", "").strip()
    suffix = ".csv" if request.query_params.get("format") == "csv" else ".xlsx"
    if not _MONTH.fullmatch(month):
        return error_page(request, "Which month?", "Give the month as YYYY-MM.", 400)
    return await _download(request, suffix, month=month)


@router.get("/runs/{run_id}/workbook")
async def run_workbook(request: Request, run_id: str) -> Response:
    return await _run_download(request, run_id, ".xlsx")


@router.get("/runs/{run_id}/csv")
async def run_csv(request: Request, run_id: str) -> Response:
    return await _run_download(request, run_id, ".csv")
