"""Every route × every role, from the app's own route table (issue 15, "Done when"): a route
added without an entry in PERMISSIONS fails here. For each route: logged out → the login
page; a role without the action → 403 and nothing done; a role with it → served (whatever
the page then says). Every POST with its CSRF token missing or wrong → 403, nothing done;
every route after the session has expired → the login page."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("argon2")

from batchpay.errors import JournalMissing
from batchpay.runs import service
from batchpay.runs.options import Target
from batchpay.web.app import WebConfig, create_app
from tests.helpers.runs import payout_link_rows, write_csv
from tests.helpers.web import Web, csrf_of, make_web, upload

PUBLIC = frozenset({"anyone"})  # no login needed
LOGGED_IN = frozenset({"maker", "approver", "viewer"})
MAKER = frozenset({"maker"})
APPROVER = frozenset({"approver"})
ROLE_USER = {"maker": "siti", "approver": "budi", "viewer": "ani"}

# (method, path) -> the roles that may. README "The web app" is the same table in words.
PERMISSIONS: dict[tuple[str, str], frozenset[str]] = {
    ("GET", "/login"): PUBLIC,
    ("POST", "/login"): PUBLIC,
    ("POST", "/logout"): LOGGED_IN,
    ("GET", "/"): LOGGED_IN,
    ("GET", "/upload"): MAKER,
    ("POST", "/upload"): MAKER,
    ("GET", "/checks/{check_id}"): MAKER,
    ("GET", "/checks/{check_id}/workbook"): MAKER,
    ("GET", "/checks/{check_id}/plan"): MAKER,
    ("POST", "/checks/{check_id}/submit"): MAKER,
    ("GET", "/runs"): LOGGED_IN,
    ("GET", "/runs/{run_id}"): LOGGED_IN,
    ("GET", "/runs/{run_id}/workbook"): LOGGED_IN,
    ("GET", "/runs/{run_id}/csv"): LOGGED_IN,
    ("GET", "/reports/month"): LOGGED_IN,
    ("GET", "/runs/{run_id}/progress"): LOGGED_IN,
    ("GET", "/runs/{run_id}/events"): LOGGED_IN,
    ("GET", "/approvals"): APPROVER,
    ("GET", "/approvals/{run_id}"): APPROVER,
    ("POST", "/approvals/{run_id}/approve"): APPROVER,
    ("POST", "/approvals/{run_id}/reject"): APPROVER,
    ("POST", "/approvals/{run_id}/send"): APPROVER,
}
# What each POST sends besides its token: answers that change nothing when they get through
# (a wrong total, an empty reason, a check already submitted, a run not approved yet).
FORMS: dict[str, dict[str, str]] = {
    "/approvals/{run_id}/approve": {"total": "1"},
    "/approvals/{run_id}/reject": {"reason": ""},
}
QUERY = {"/reports/month": "?month=2026-12"}
POSTS = sorted(key for key in PERMISSIONS if key[0] == "POST")


def _walk(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """(method, path) of every route, through included routers (FastAPI ≥ 0.16x keeps them
    as one branch per router) and plain route lists alike; /static is files, not a route."""
    for route in routes:
        if hasattr(route, "original_router"):
            inner = prefix + (route.include_context.prefix or "")
            yield from _walk(route.original_router.routes, inner)
        elif getattr(route, "methods", None):
            for method in sorted(route.methods - {"HEAD"}):
                yield method, prefix + route.path
        else:
            assert getattr(route, "path", None) == "/static", f"unknown route {route!r}"


def app_routes(app: Any) -> set[tuple[str, str]]:
    return set(_walk(app.routes))


@pytest.fixture(name="web")
def web_fixture(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Web:
    monkeypatch.chdir(tmp_path)
    return make_web(Path(os.environ["BATCHPAY_HOME"]))


def _submitted(web: Web, tmp_path: Path) -> dict[str, str]:
    """A run awaiting approval and siti's check it came from (so a second submit is 409)."""
    siti = web.login("siti")
    sheet = write_csv(tmp_path / "bonus.csv", payout_link_rows(3)).read_bytes()
    check = upload(siti, "bonus.csv", sheet)
    check_id = str(check.url).rsplit("/", 1)[1]
    done = siti.post(
        f"/checks/{check_id}/submit",
        data={"csrf_token": csrf_of(check.text)},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    return {"check_id": check_id, "run_id": done.headers["location"].rsplit("/", 1)[1]}


def _url(path: str, ids: dict[str, str]) -> str:
    return path.format(**ids) + QUERY.get(path, "")


def _call(client: Any, method: str, path: str, ids: dict[str, str], token: str | None) -> Any:
    url = _url(path, ids)
    if method == "GET":
        if path.endswith("/events"):
            with client.stream("GET", url, follow_redirects=False) as response:
                response.read()
                return response
        return client.get(url, follow_redirects=False)
    data = dict(FORMS.get(path, {}))
    if token is not None:
        data["csrf_token"] = token
    if path == "/upload":
        files = {"file": ("bonus.csv", b"a,b\n1,2\n", "text/csv")}
        return client.post(url, data=data, files=files, follow_redirects=False)
    return client.post(url, data=data, follow_redirects=False)


def _state(web: Web) -> tuple[Any, ...]:
    """What a refused request must leave as it was: runs, decisions, sends, checks, files."""
    try:
        runs = [(r.run_id, r.status, r.approvals) for r, _ in service.list_runs(Target())]
    except JournalMissing:
        runs = []
    uploads = web.home / "uploads"
    files = sorted(p.name for p in uploads.iterdir()) if uploads.exists() else []
    state = web.app.state.web
    return runs, sorted(state.jobs), sorted(state.checks), files


def _log_in_again(client: Any) -> Any:
    """The login form as a browser posts it, logged in or not (a logged-in page also holds
    the logout form's token, so take the login form's own)."""
    page = client.get("/login").text
    found = re.search(r'<form class="login".*?name="csrf_token" value="([^"]*)"', page, re.S)
    assert found
    data = {"username": "ani", "password": "viewer-pw-3", "csrf_token": found.group(1)}
    return client.post("/login", data=data, follow_redirects=False)


def _goes_to_login(response: Any) -> bool:
    """Sent to log in first (a logout's own redirect to /login carries no ``next``)."""
    return response.status_code == 303 and response.headers["location"].startswith("/login?next=")


def test_web_matrix_names_every_route(web: Web) -> None:
    routes = app_routes(web.app)
    assert routes == set(PERMISSIONS), (
        f"routes without a permission entry: {sorted(routes - set(PERMISSIONS))}; "
        f"entries without a route: {sorted(set(PERMISSIONS) - routes)}"
    )


def test_web_matrix_walk_finds_a_new_route(web: Web) -> None:
    from fastapi import APIRouter

    extra = APIRouter()
    extra.add_api_route("/new-page", lambda: "x", methods=["GET"])
    web.app.include_router(extra)
    assert ("GET", "/new-page") in app_routes(web.app) - set(PERMISSIONS)


@pytest.mark.parametrize("role", ["anyone", "maker", "approver", "viewer"])
def test_web_matrix_every_route_every_role(web: Web, tmp_path: Path, role: str) -> None:
    ids = _submitted(web, tmp_path)
    client = web.client() if role == "anyone" else web.login(ROLE_USER[role])
    token = csrf_of(client.get("/login" if role == "anyone" else "/runs").text)
    for method, path in sorted(PERMISSIONS, key=lambda key: key[1] == "/logout"):
        allowed = role in PERMISSIONS[(method, path)] or PERMISSIONS[(method, path)] == PUBLIC
        before = _state(web)
        if (method, path) == ("POST", "/login"):
            response = _log_in_again(client)
            assert response.status_code == 303 and response.headers["location"] == "/"
            client = web.client() if role == "anyone" else web.login(ROLE_USER[role])
            token = csrf_of(client.get("/login" if role == "anyone" else "/runs").text)
            continue
        response = _call(client, method, path, ids, token)
        where = f"{role} {method} {path}: {response.status_code}"
        if PERMISSIONS[(method, path)] == PUBLIC:
            assert response.status_code == 200, where
        elif role == "anyone":
            assert _goes_to_login(response), where
            assert _state(web) == before, where
        elif allowed:
            assert response.status_code != 403 and not _goes_to_login(response), where
        else:
            assert response.status_code == 403, where
            assert "cannot do this; it needs" in response.text, where
            assert _state(web) == before, where
    for job in web.app.state.web.jobs.values():  # the approver's send: refused, not approved
        job.thread.join(timeout=60)
        assert "awaiting approval" in job.snapshot()["error"] and job.snapshot()["done"] == 0
    (run,) = [r for r, _ in service.list_runs(Target())]
    assert run.status == "AWAITING_APPROVAL" and run.approvals == ()


@pytest.mark.parametrize("token", ["missing", "wrong"])
@pytest.mark.parametrize(("method", "path"), POSTS, ids=[p for _, p in POSTS])
def test_web_matrix_every_post_refuses_missing_or_wrong_csrf(
    web: Web, tmp_path: Path, method: str, path: str, token: str
) -> None:
    ids = _submitted(web, tmp_path)
    given = None if token == "missing" else "forged-token"
    if path == "/login":
        client = web.client()
        client.get("/login")
        data = {"username": "siti", "password": "maker-pw-1"}
        response = client.post(
            "/login", data=data | ({} if given is None else {"csrf_token": given})
        )
        assert response.status_code == 403
        assert "batchpay_session" not in client.cookies
        return
    role = sorted(PERMISSIONS[(method, path)])[0]
    client = web.login(ROLE_USER[role])
    before = _state(web)
    response = _call(client, method, path, ids, given)
    assert response.status_code == 403, response.text
    assert "security token is missing or wrong, so nothing was done" in response.text
    assert _state(web) == before
    assert client.get("/runs").status_code == 200  # still logged in: nothing was done


@pytest.mark.parametrize(
    ("method", "path"),
    sorted(key for key, roles in PERMISSIONS.items() if roles != PUBLIC),
    ids=[f"{m} {p}" for m, p in sorted(k for k, r in PERMISSIONS.items() if r != PUBLIC)],
)
def test_web_matrix_expired_session_refused_everywhere(web: Web, method: str, path: str) -> None:
    ids = {"check_id": "c", "run_id": "20261205-115541-619d"}
    role = sorted(PERMISSIONS[(method, path)])[0]
    client = web.login(ROLE_USER[role])
    token = csrf_of(client.get("/runs").text)
    web.clock.now += web.app.state.web.config.idle_seconds + 1
    before = _state(web)
    response = _call(client, method, path, ids, token)
    assert _goes_to_login(response), (method, path, response.status_code)
    assert _state(web) == before


def test_web_matrix_restart_logs_everyone_out(web: Web) -> None:
    """Sessions live in the server's memory only (README): the same cookie on a new app over
    the same BATCHPAY_HOME — a restarted `batchpay serve` — is a login page."""
    client = web.login("ani")
    assert client.get("/runs").status_code == 200
    restarted = Web(web.home, web.clock, create_app(WebConfig(home=web.home, clock=web.clock)))
    again = restarted.client()
    again.cookies = client.cookies
    response = again.get("/runs", follow_redirects=False)
    assert _goes_to_login(response)


def test_web_matrix_every_form_carries_a_csrf_token() -> None:
    """Every POST form in the templates sends a csrf_token, and each posts to a route the
    matrix knows (a form to nowhere, or a POST route no form reaches, shows up here)."""
    templates = Path(__file__).resolve().parents[1] / "batchpay" / "web" / "templates"
    posted: set[str] = set()
    for template in sorted(templates.glob("*.html")):
        text = template.read_text(encoding="utf-8")
        for form in re.findall(r"<form\b[^>]*>.*?</form>", text, re.S):
            method = re.search(r'method="(\w+)"', form)
            if method is None or method[1].lower() != "post":
                continue
            assert 'name="csrf_token"' in form, f"{template.name}: {form[:80]}"
            action = re.search(r'action="([^"]+)"', form)
            assert action is not None, f"{template.name}: a POST form without an action"
            posted.add(re.sub(r"\{\{ (\w+)\.(\w+) \}\}", r"{\2}", action[1]))
    assert posted == {path for _, path in POSTS}, posted
