"""The web app as a user starts it, for the web benchmarks (web_upload, web_progress):
accounts made by ``batchpay users add`` (password on stdin), ``batchpay serve`` in its own
process on a free loopback port, and logging in with ``requests`` through the login form
(its CSRF cookie and token), as a browser does."""

from __future__ import annotations

import contextlib
import html
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import requests
from _common import batchpay

_TOKEN = re.compile(r'name="csrf_token" value="([^"]*)"')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def add_user(name: str, role: str, password: str, *, env: dict[str, str], cwd: Path) -> None:
    done = subprocess.run(
        batchpay("users", "add", name, "--role", role),
        input=password + "\n",
        text=True,
        capture_output=True,
        env=env,
        cwd=cwd,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"batchpay users add {name} failed:\n{done.stdout}\n{done.stderr}")


@contextlib.contextmanager
def serve_process(*, env: dict[str, str], cwd: Path, log: Path) -> Iterator[str]:
    """``batchpay serve`` on a free port of 127.0.0.1; its base URL once /login answers."""
    port = free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            batchpay("serve", "--port", str(port)),
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                if proc.poll() is not None:
                    raise SystemExit(f"batchpay serve exited:\n{log.read_text()[-3000:]}")
                try:
                    if requests.get(base + "/login", timeout=2).status_code == 200:
                        break
                except requests.ConnectionError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit("batchpay serve did not start in 60 s")
                time.sleep(0.1)
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def csrf_of(page: str) -> str:
    found = _TOKEN.search(page)
    if not found:
        raise SystemExit("no CSRF token in the page")
    return html.unescape(found.group(1))


def login(base: str, name: str, password: str) -> requests.Session:
    session = requests.Session()
    page = session.get(base + "/login", timeout=30)
    response = session.post(
        base + "/login",
        data={"username": name, "password": password, "csrf_token": csrf_of(page.text)},
        allow_redirects=False,
        timeout=30,
    )
    if response.status_code != 303:
        raise SystemExit(f"login of {name} refused: HTTP {response.status_code}")
    return session
