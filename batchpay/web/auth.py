"""Who may do what, enforced on the server for every request: a page needs a live session
(else the login page), an action needs a role that has it (else 403), and every POST needs
the session's CSRF token (else 403, nothing done). Pages render through :func:`render`, which
gives every template the user, their role and the CSRF token for its forms."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from batchpay.config import redact
from batchpay.errors import BatchpayError
from batchpay.web.app import state_of
from batchpay.web.sessions import COOKIE, Session

# action -> the roles allowed it (README "The web app")
ACTIONS: dict[str, frozenset[str]] = {
    "upload": frozenset({"maker"}),  # upload a sheet, see its check, download its workbook
    "runs": frozenset({"maker", "approver", "viewer"}),  # runs list, run page, downloads
    "submit": frozenset({"maker"}),  # submit a checked sheet for approval
    "approve": frozenset({"approver"}),  # runs awaiting approval, a plan, approve, reject
    "send": frozenset({"approver"}),  # send an approved run (`batchpay send`)
}
ROLE_NAMES = {"maker": "HR (maker)", "approver": "approver", "viewer": "accountant (viewer)"}


class LoginRequired(Exception):
    pass


class Forbidden(Exception):
    def __init__(self, title: str, message: str) -> None:
        super().__init__(message)
        self.title = title
        self.message = message


def current(request: Request) -> Session | None:
    return state_of(request).sessions.get(request.cookies.get(COOKIE))


def require(request: Request, action: str) -> Session:
    """The request's session when its role may do ``action``; raises LoginRequired or
    Forbidden otherwise."""
    session = current(request)
    if session is None:
        raise LoginRequired
    if session.role not in ACTIONS[action]:
        allowed = ", ".join(ROLE_NAMES[r] for r in sorted(ACTIONS[action]))
        raise Forbidden(
            "Not allowed",
            f"Your role ({ROLE_NAMES[session.role]}) cannot do this; it needs: {allowed}.",
        )
    return session


def check_csrf(session: Session, request: Request, token: str | None) -> None:
    """``token`` (the form's ``csrf_token``, or htmx's X-CSRF-Token header) must be the
    session's; raises Forbidden otherwise."""
    token = token or request.headers.get("x-csrf-token")
    if not session.csrf_ok(token):
        raise csrf_refused()


def csrf_refused() -> Forbidden:
    return Forbidden(
        "Form expired or forged",
        "This form's security token is missing or wrong, so nothing was done. "
        "Go back, reload the page and try again.",
    )


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, status: int = 200
) -> HTMLResponse:
    session = current(request)
    values = {
        "request": request,
        "user": session.user if session else None,
        "role": session.role if session else None,
        "role_name": ROLE_NAMES.get(session.role, "") if session else "",
        "csrf": session.csrf if session else "",
        "can": {a: bool(session and session.role in r) for a, r in ACTIONS.items()},
        **(context or {}),
    }
    templates = state_of(request).templates
    return templates.TemplateResponse(request, template, values, status_code=status)


def error_page(request: Request, title: str, message: str, status: int) -> HTMLResponse:
    return render(request, "error.html", {"title": title, "message": redact(message)}, status)


def _to_login(request: Request, exc: Exception) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.method != "GET" or target.startswith("/login"):
        target = "/"
    response = RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
    response.delete_cookie(COOKIE)
    return response


def _forbidden(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Forbidden)
    return error_page(request, exc.title, exc.message, 403)


def _batchpay_error(request: Request, exc: Exception) -> Response:
    """A library error no page expected (an unreadable accounts file, a damaged journal):
    its one line, as the CLI prints it, never a traceback."""
    assert isinstance(exc, BatchpayError)
    text = f"error: {exc.message}" + (f" — {exc.hint}" if exc.hint else "")
    return error_page(request, "Something is wrong", text, 500)


def install(app: FastAPI) -> None:
    app.add_exception_handler(LoginRequired, _to_login)
    app.add_exception_handler(Forbidden, _forbidden)
    app.add_exception_handler(BatchpayError, _batchpay_error)
