"""The web app (``batchpay serve``, issue 15): FastAPI + Jinja2 templates + vendored htmx,
over the same library calls as the CLI. :func:`create_app` builds it from a
:class:`WebConfig`; routes live in ``routes_*.py``, the login and role rules in
:mod:`batchpay.web.auth`.

The web package imports the service API (:mod:`batchpay.runs.service`), the view-model and
library functions the CLI uses (validation, profiles), and never click, ``cli/`` or the
journal (tests/test_web_layers.py).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from batchpay import __version__
from batchpay.profile import Profile
from batchpay.web.sessions import IDLE_SECONDS, LoginThrottle, SessionStore
from batchpay.web.uploads import MAX_UPLOAD_BYTES
from batchpay.web.users import UserStore

HERE = Path(__file__).parent
# Scripts and styles only from this server (the vendored htmx, style.css): an injected
# <script> never runs, and no page can be framed by another site.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)


@dataclass
class WebConfig:
    home: Path  # BATCHPAY_HOME: users.json, uploads/, web reports
    profile: Profile | None = None  # batchpay.toml the sheets are read with
    max_upload: int = MAX_UPLOAD_BYTES
    idle_seconds: float = IDLE_SECONDS
    clock: Callable[[], float] = time.monotonic
    # The wait between two progress events (routes_progress): tests pass a fake that returns
    # at once, so the cadence is proven without timing anything.
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    env_file: str | None = None  # the .env the service calls read (None = ./.env)
    # Host headers answered (None: any). `serve` on loopback allows only loopback names, so a
    # web page that DNS-rebinds its own name to 127.0.0.1 gets no answer.
    allowed_hosts: list[str] | None = None


@dataclass
class WebState:
    config: WebConfig
    users: UserStore
    sessions: SessionStore
    templates: Jinja2Templates
    throttle: LoginThrottle
    # check id -> routes_sheets.Check, oldest first
    checks: OrderedDict[str, Any] = field(default_factory=OrderedDict)
    jobs: dict[str, Any] = field(default_factory=dict)  # run id -> sending.SendJob


def state_of(request: Request) -> WebState:
    state: WebState = request.app.state.web
    return state


async def _security_headers(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    response = await call_next(request)
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("X-Frame-Options", "DENY")
    if not request.url.path.startswith("/static/"):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def create_app(config: WebConfig) -> FastAPI:
    from batchpay.web import (
        auth,
        routes_approvals,
        routes_auth,
        routes_progress,
        routes_runs,
        routes_sheets,
    )

    app = FastAPI(
        title="batchpay", version=__version__, docs_url=None, redoc_url=None, openapi_url=None
    )
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.globals["version"] = __version__
    app.state.web = WebState(
        config=config,
        users=UserStore(config.home),
        sessions=SessionStore(idle=config.idle_seconds, clock=config.clock),
        templates=templates,
        throttle=LoginThrottle(clock=config.clock),
    )
    app.middleware("http")(_security_headers)
    if config.allowed_hosts is not None:
        from starlette.middleware.trustedhost import TrustedHostMiddleware

        app.add_middleware(TrustedHostMiddleware, allowed_hosts=config.allowed_hosts)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    auth.install(app)
    for module in (routes_auth, routes_sheets, routes_runs, routes_approvals, routes_progress):
        app.include_router(module.router)
    return app
