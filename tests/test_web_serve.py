"""`batchpay serve`: loopback by default, another host only with --allow-remote and a TLS
warning; the app it hands uvicorn is the web app with this BATCHPAY_HOME."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

pytest.importorskip("uvicorn")

from batchpay import cli as cli_module

ANY = "0.0.0.0"  # noqa: S104 — the address under test, never bound (uvicorn.run is stubbed)


class _Main:
    name = "batchpay"

    def main(self, args: Any = None, prog_name: str | None = None, **_: Any) -> None:
        cli_module.main(list(args or ()))


@pytest.fixture(name="served")
def served_fixture(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[dict[str, Any]]:
    """uvicorn.run replaced by a recorder: nothing listens."""
    calls: list[dict[str, Any]] = []
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("uvicorn.run", lambda app, **kw: calls.append({"app": app, **kw}))
    return calls


def serve(*args: str) -> Any:
    return CliRunner().invoke(_Main(), ["serve", *args])  # type: ignore[arg-type]


def test_serve_defaults_to_loopback(served: list[dict[str, Any]]) -> None:
    result = serve()
    assert result.exit_code == 0, result.output
    (call,) = served
    assert (call["host"], call["port"]) == ("127.0.0.1", 8000)
    assert "http://127.0.0.1:8000/" in result.output
    assert "no accounts yet" in result.output
    assert call["app"].state.web.config.home == Path(os.environ["BATCHPAY_HOME"])


def test_serve_loopback_answers_only_loopback_host_names(served: list[dict[str, Any]]) -> None:
    """A page on another site that DNS-rebinds its name to 127.0.0.1 gets no answer."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    assert serve().exit_code == 0
    app = served[0]["app"]
    assert TestClient(app, base_url="http://127.0.0.1:8000").get("/login").status_code == 200
    assert TestClient(app, base_url="http://localhost:8000").get("/login").status_code == 200
    rebound = TestClient(app, base_url="http://evil.example:8000").get("/login")
    assert rebound.status_code == 400


@pytest.mark.parametrize("host", [ANY, "192.168.1.10", "example.com", "::"])
def test_serve_other_host_refused_without_allow_remote(
    served: list[dict[str, Any]], host: str
) -> None:
    result = serve("--host", host)
    assert result.exit_code == 2
    assert f"error: --host {host} is not a loopback address" in result.output
    assert "--allow-remote" in result.output and "TLS" in result.output
    assert served == []


def test_serve_allow_remote_warns_to_put_tls_in_front(served: list[dict[str, Any]]) -> None:
    result = serve("--host", ANY, "--port", "8443", "--allow-remote")
    assert result.exit_code == 0, result.output
    assert "put a TLS (https) proxy in front" in result.output
    assert served[0]["host"] == ANY and served[0]["port"] == 8443


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_serve_loopback_hosts_need_no_flag(served: list[dict[str, Any]], host: str) -> None:
    assert serve("--host", host).exit_code == 0
    assert "TLS" not in serve("--host", host).output
