"""HR's pages: choose a profile section, upload a CSV/XLSX, see the check (the sheet's rows
with the bad cells marked, every Problem's message and fix, skipped rows, control totals)
and download the validation workbook. A check is visible to the maker who uploaded it."""

from __future__ import annotations

import secrets
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from batchpay.config import redact
from batchpay.errors import BatchpayError
from batchpay.kinds import KINDS
from batchpay.profile import SheetOptions
from batchpay.web.app import WebState, state_of
from batchpay.web.auth import Forbidden, csrf_refused, error_page, render, require
from batchpay.web.checking import SheetView, check_sheet, error_line, sheet_view, shown_error
from batchpay.web.uploads import (
    BadForm,
    CsrfRefused,
    Upload,
    UploadTooLarge,
    receive_upload,
)

router = APIRouter()
KEPT_CHECKS = 200  # the oldest check's files go when a newer one needs the room
DRAIN_FACTOR = 4  # a refused upload up to 4 × the limit is read (and dropped) to the end


@dataclass
class Check:
    check_id: str
    owner: str
    display: str
    stored: Path
    report: Path | None
    view: SheetView
    kind: str | None = None  # the kind chosen on the form (None: detected)
    submitted: str | None = None  # the run id once submitted for approval


def _kinds(state: WebState) -> list[tuple[str, str]]:
    """The profile choices: detect from the sheet, or one kind (a profile's own sections
    first, named as such)."""
    profile = state.config.profile
    choices = [("", "detect from the sheet" + (" (profile)" if profile else ""))]
    sections = list(profile.sections) if profile else []
    choices += [(k, f"{k} (profile section)") for k in sections]
    choices += [(k, k) for k in KINDS if k not in sections]
    return choices


def _upload_page(request: Request, error: str = "", status: int = 200) -> Response:
    state = state_of(request)
    profile = state.config.profile
    return render(
        request,
        "upload.html",
        {
            "kinds": _kinds(state),
            "profile": str(profile.path) if profile else None,
            "error": redact(error),
            "limit_mb": state.config.max_upload // 1_000_000,
        },
        status,
    )


@router.get("/upload")
def upload_form(request: Request) -> Response:
    require(request, "upload")
    return _upload_page(request)


class Body:
    """The request body as it arrives (ASGI ``http.request`` messages), remembering whether
    it has ended: a refused upload is drained only while the client is still sending."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self.ended = False

    async def chunks(self) -> AsyncIterator[bytes]:
        while not self.ended:
            message = await self.request.receive()
            if message["type"] != "http.request":
                self.ended = True
                return
            self.ended = not message.get("more_body", False)
            yield message.get("body", b"")

    async def drain(self, most: int) -> None:
        """Read and drop the rest (up to ``most`` bytes), so the browser, still sending, gets
        the page that says why rather than a reset connection."""
        seen = 0
        async for chunk in self.chunks():
            seen += len(chunk)
            if seen >= most:
                return


async def _receive(request: Request, body: Body, csrf_ok) -> Upload:  # type: ignore[no-untyped-def]
    state = state_of(request)
    return await receive_upload(
        request.headers.get("content-type", ""),
        request.headers.get("content-length"),
        body.chunks(),
        state.config.home / "uploads",
        csrf_ok=csrf_ok,
        limit=state.config.max_upload,
    )


@router.post("/upload")
async def upload(request: Request) -> Response:
    session = require(request, "upload")
    state = state_of(request)
    limit_mb = state.config.max_upload // 1_000_000
    body = Body(request)
    try:
        got = await _receive(
            request, body, lambda fields: session.csrf_ok(fields.get("csrf_token"))
        )
    except CsrfRefused:
        raise csrf_refused() from None
    except UploadTooLarge:
        await body.drain(DRAIN_FACTOR * state.config.max_upload)
        message = (
            f"error: the file is larger than {limit_mb} MB, the most one upload may be — "
            "split the sheet into smaller files, or check it with `batchpay validate` instead"
        )
        return _upload_page(request, message, 413)
    except BadForm as exc:
        return _upload_page(request, f"error: {exc} — choose a .xlsx or .csv file", 400)
    kind = got.fields.get("kind", "")
    if kind and kind not in KINDS:
        _discard(got.stored)
        return _upload_page(request, f"error: unknown kind {kind!r}", 400)
    if got.stored is None:
        from batchpay.sheet.files import unsupported

        return _upload_page(request, error_line(unsupported(Path(got.display_name))), 400)
    check = await _check(state, session.user, got, kind or None)
    if isinstance(check, str):
        return _upload_page(request, check, 400)
    return RedirectResponse(f"/checks/{check.check_id}", status_code=303)


async def _check(state: WebState, owner: str, got: Upload, kind: str | None) -> Check | str:
    """The check of an uploaded file, kept for its page; or the CLI's one-line error."""
    assert got.stored is not None
    report = got.stored.with_name(f"{got.stored.stem}-validation.xlsx")
    options = SheetOptions(kind=kind)
    try:
        result, written = await run_in_threadpool(
            check_sheet, got.stored, got.display_name, options, state.config.profile, report
        )
    except BatchpayError as exc:
        _discard(got.stored)
        return shown_error(exc, got.stored, got.display_name)
    check = Check(
        secrets.token_urlsafe(16),
        owner,
        got.display_name,
        got.stored,
        written,
        sheet_view(result),
        kind,
    )
    checks: OrderedDict[str, Check] = state.checks  # type: ignore[assignment]
    checks[check.check_id] = check
    while len(checks) > KEPT_CHECKS:
        _, old = checks.popitem(last=False)
        if old.submitted is None:  # a submitted run's input stays beside its journal entry
            _discard(old.stored)
        _discard(old.report)
    return check


def _discard(path: Path | None) -> None:
    if path is not None:
        path.unlink(missing_ok=True)


def own_check(request: Request, check_id: str) -> Check:
    session = require(request, "upload")
    check = state_of(request).checks.get(check_id)
    if not isinstance(check, Check) or check.owner != session.user:
        raise Forbidden("No such check", "This check does not exist or is not yours.")
    return check


@router.get("/checks/{check_id}")
def check_page(request: Request, check_id: str) -> Response:
    check = own_check(request, check_id)
    return render(request, "check.html", {"check": check, "v": check.view})


@router.get("/checks/{check_id}/workbook")
def check_workbook(request: Request, check_id: str) -> Response:
    check = own_check(request, check_id)
    if check.report is None or not check.report.is_file():
        return error_page(request, "No workbook", "The validation workbook was not written.", 404)
    name = f"{Path(check.display).stem}-validation.xlsx"
    return FileResponse(
        check.report,
        filename=name,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
