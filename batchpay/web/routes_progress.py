"""Sending an approved run and watching it: ``POST /approvals/{id}/send`` starts
:func:`batchpay.runs.approval.send` on a thread (:mod:`batchpay.web.sending`); the run's
progress page follows it by server-sent events, one every half second until it ends. The
form's concurrency is ``batchpay send --concurrency`` (same bounds, same default)."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from batchpay.runs.options import Target
from batchpay.web import sending
from batchpay.web.app import state_of
from batchpay.web.auth import check_csrf, error_page, render, require

router = APIRouter()
_RUN_ID = re.compile(r"[0-9A-Za-z][0-9A-Za-z_-]{0,63}")
EVERY_SECONDS = 0.5


@router.post("/approvals/{run_id}/send")
async def send(request: Request, run_id: str) -> Response:
    session = require(request, "send")
    form = await request.form()
    check_csrf(session, request, str(form.get("csrf_token") or ""))
    if not _RUN_ID.fullmatch(run_id):
        return error_page(request, "No such run", f"{run_id!r} is not a run id.", 404)
    in_flight = sending.concurrency(str(form.get("concurrency") or ""))
    if isinstance(in_flight, str):
        return error_page(request, "Not sent", in_flight, 400)
    state = state_of(request)
    profile = state.config.profile
    sending.start(
        state.jobs,
        run_id,
        session.user,
        Target(env_file=state.config.env_file),
        profile.approval if profile is not None else None,
        in_flight=in_flight,
    )
    return RedirectResponse(f"/runs/{run_id}/progress", status_code=303)


@router.get("/runs/{run_id}/progress")
def progress_page(request: Request, run_id: str) -> Response:
    require(request, "runs")
    job = state_of(request).jobs.get(run_id)
    if job is None or not _RUN_ID.fullmatch(run_id):
        return error_page(request, "Not sending", f"This server is not sending run {run_id}.", 404)
    return render(request, "progress.html", {"run_id": run_id, "s": job.snapshot()})


async def _events(
    request: Request,
    job: sending.SendJob,
    *,
    every: float = EVERY_SECONDS,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> AsyncIterator[str]:
    """A fresh snapshot at once, then one after every wait of ``every`` seconds, until the
    send has finished (its last snapshot is sent) or the page has gone. ``sleep`` is the
    app's (WebConfig.sleep): tests count the waits instead of timing them."""
    while True:
        snapshot = job.snapshot()
        yield f"data: {json.dumps(snapshot)}\n\n"
        if snapshot["finished"] or await request.is_disconnected():
            return
        await sleep(every)


@router.get("/runs/{run_id}/events")
def events(request: Request, run_id: str) -> Response:
    require(request, "runs")
    job = state_of(request).jobs.get(run_id)
    if job is None:
        return Response("no send of this run on this server", status_code=404)
    return StreamingResponse(
        _events(request, job, sleep=state_of(request).config.sleep),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
