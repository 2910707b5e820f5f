"""Logging in and out. The login form carries its own CSRF token (a double-submit cookie: no
session exists yet); a successful login starts a fresh session (a fixated id is worthless)."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from batchpay.web.app import state_of
from batchpay.web.auth import (
    LoginRequired,
    check_csrf,
    csrf_refused,
    current,
    render,
)
from batchpay.web.sessions import COOKIE

router = APIRouter()
LOGIN_CSRF = "batchpay_login_csrf"


def _safe_next(target: str | None) -> str:
    """Only a path on this server: never ``//evil.example`` or ``https://…``."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _login_page(request: Request, error: str = "", status: int = 200) -> Response:
    token = secrets.token_urlsafe(32)
    response = render(
        request,
        "login.html",
        {"login_csrf": token, "error": error, "next": _safe_next(request.query_params.get("next"))},
        status,
    )
    secure = request.url.scheme == "https"
    response.set_cookie(
        LOGIN_CSRF, token, httponly=True, samesite="strict", secure=secure, path="/login"
    )
    return response


@router.get("/login")
def login_form(request: Request) -> Response:
    return _login_page(request)


@router.post("/login")
async def login(request: Request) -> Response:
    form = await request.form()
    expected = request.cookies.get(LOGIN_CSRF, "")
    given = str(form.get("csrf_token") or "")
    if not expected or not secrets.compare_digest(expected, given):
        raise csrf_refused()
    name = str(form.get("username") or "").strip()
    password = str(form.get("password") or "")
    state = state_of(request)
    wait = state.throttle.wait_seconds(name)
    if wait > 0:
        minutes = max(1, round(wait / 60))
        text = f"Too many failed logins for this name; try again in {minutes} minute(s)."
        return _login_page(request, text, 429)
    user = await run_in_threadpool(state.users.verify, name, password)
    if user is None:
        state.throttle.failed(name)
        return _login_page(request, "Wrong user name or password.", 401)
    state.throttle.succeeded(name)
    state.sessions.end(request.cookies.get(COOKIE))
    session = state.sessions.create(user.name, user.role)
    response = RedirectResponse(_safe_next(str(form.get("next") or "")), status_code=303)
    response.set_cookie(
        COOKIE,
        session.sid,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    response.delete_cookie(LOGIN_CSRF, path="/login")
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    session = current(request)
    if session is None:
        raise LoginRequired
    form = await request.form()
    check_csrf(session, request, str(form.get("csrf_token") or ""))
    state_of(request).sessions.end(session.sid)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


@router.get("/")
def home(request: Request) -> Response:
    session = current(request)
    if session is None:
        raise LoginRequired
    return RedirectResponse("/upload" if session.role == "maker" else "/runs", status_code=303)
