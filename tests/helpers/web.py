"""The web app in tests: accounts, an app with a settable clock, logging in through the real
login form (its CSRF cookie and token), and reading values back from pages."""

from __future__ import annotations

import html
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from batchpay.web.app import WebConfig, create_app
from batchpay.web.users import UserStore

with warnings.catch_warnings():
    # Starlette ≥ 1.x announces its move to httpx2 when the test client is imported.
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

PASSWORDS = {"siti": "maker-pw-1", "budi": "approver-pw-2", "ani": "viewer-pw-3"}
ROLES = {"siti": "maker", "budi": "approver", "ani": "viewer"}
_TOKEN = re.compile(r'name="csrf_token" value="([^"]*)"')


@dataclass
class Clock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Web:
    home: Path
    clock: Clock
    app: Any

    def client(self) -> TestClient:
        return TestClient(self.app, base_url="http://127.0.0.1")

    def login(self, name: str) -> TestClient:
        client = self.client()
        response = login(client, name, PASSWORDS[name])
        assert response.status_code == 303, response.text
        return client


def add_users(home: Path) -> None:
    store = UserStore(home)
    for name, role in ROLES.items():
        store.add(name, role, PASSWORDS[name])


def make_web(home: Path, **config: Any) -> Web:
    add_users(home)
    clock = Clock()
    app = create_app(WebConfig(home=home, clock=clock, **config))
    return Web(home, clock, app)


def csrf_of(page: str) -> str:
    found = _TOKEN.search(page)
    assert found, "no CSRF token in the page"
    return html.unescape(found.group(1))


def login(client: TestClient, name: str, password: str, next_page: str = "/") -> Any:
    page = client.get("/login")
    return client.post(
        "/login",
        data={
            "username": name,
            "password": password,
            "csrf_token": csrf_of(page.text),
            "next": next_page,
        },
        follow_redirects=False,
    )


def upload(
    client: TestClient,
    name: str,
    data: bytes,
    *,
    kind: str = "",
    token: str | None = None,
    follow: bool = True,
) -> Any:
    if token is None:
        token = csrf_of(client.get("/upload").text)
    fields = {"kind": kind} if token == "" else {"csrf_token": token, "kind": kind}
    return client.post(
        "/upload",
        data=fields,
        files={"file": (name, data, "application/octet-stream")},
        follow_redirects=follow,
    )


def page_error(page: str) -> str:
    found = re.search(r'<p class="error"[^>]*>(.*?)</p>', page, re.S)
    assert found, "no error on the page"
    return html.unescape(found.group(1)).strip()


def table_rows(page: str, table_id: str) -> list[list[str]]:
    """The body rows of ``<table id=table_id>`` as cell texts."""
    found = re.search(rf'<table[^>]*id="{table_id}".*?<tbody>(.*?)</tbody>', page, re.S)
    assert found, f"no table {table_id}"
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", found.group(1), re.S)
    return [
        [
            html.unescape(re.sub(r"<[^>]+>", "", c)).strip()
            for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)
        ]
        for row in rows
    ]
