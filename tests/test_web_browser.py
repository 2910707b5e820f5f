"""End-to-end in a real browser (issue 15): Playwright (python, sync API) drives Debian's
Chromium against a real uvicorn server on 127.0.0.1 — log in, upload a bad sheet and see its
bad cells red, upload the fixed sheet and see it valid. Under CI=true a missing browser or
Playwright fails the test; elsewhere it skips. BATCHPAY_SCREENSHOTS=1 writes the pages to
docs/img/web-*.png for the README."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.runs import payout_link_rows, write_csv

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "docs" / "img"
# Read at import: the autouse clean_env fixture strips BATCHPAY_* variables before each test.
TAKE_SHOTS = os.environ.get("BATCHPAY_SCREENSHOTS") == "1"


def _need(what: str) -> None:
    message = f"browser tests need {what}"
    if os.environ.get("CI") == "true":
        pytest.fail(message + " (CI=true: they must run; install it)")
    pytest.skip(message)


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        _need("Debian's chromium (apt-get install chromium)")
    assert path is not None
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(name="server")
def server_fixture(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    """The app under a real uvicorn on a free loopback port, in a thread."""
    try:
        import uvicorn
    except ImportError:
        _need("uvicorn")
    from tests.helpers.web import make_web

    monkeypatch.chdir(tmp_path)
    web = make_web(Path(os.environ["BATCHPAY_HOME"]))
    port = _free_port()
    config = uvicorn.Config(web.app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(name="page")
def page_fixture() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _need("playwright (pip install playwright)")
    executable = _chromium()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            yield context.new_page()
        finally:
            browser.close()


def _shot(page: Any, name: str) -> None:
    if TAKE_SHOTS:
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"web-{name}.png"), full_page=True)


def _log_in(page: Any, server: str, name: str = "siti", landing: str = "/upload") -> None:
    from tests.helpers.web import PASSWORDS

    page.goto(server + "/")
    assert "/login" in page.url
    if name == "siti":
        _shot(page, "login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORDS[name])
    page.click("form.login button[type=submit]")
    page.wait_for_url(server + landing)


def _upload(page: Any, server: str, sheet: Path) -> None:
    page.goto(server + "/upload")
    page.set_input_files("input[name=file]", str(sheet))
    page.click("form.upload button[type=submit]")
    page.wait_for_url(f"{server}/checks/*")


def test_web_browser_bad_sheet_red_then_fixed_sheet_approved_and_sent(
    server: str, page: Any, tmp_path: Path
) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    _log_in(page, server)
    assert page.locator(".who").inner_text().startswith("siti")
    _shot(page, "upload")

    rows = payout_link_rows(4)
    rows[1]["receiver_phone_number"] = "12345"
    rows[2]["amount"] = "-500"
    (tmp_path / "sheets").mkdir()
    bad = write_csv(tmp_path / "sheets" / "bonus-desember.csv", rows)
    _upload(page, server, bad)
    assert page.locator("#verdict").inner_text().startswith("NOT VALID")
    red = page.locator("table.sheet td.bad")
    assert red.count() == 2
    for i in range(2):
        background = red.nth(i).evaluate("el => getComputedStyle(el).backgroundColor")
        assert background == "rgb(255, 199, 206)"  # --bad, the workbook's red fill
    assert page.locator("tr[data-row='3'] td.bad").count() == 1
    assert page.locator("tr[data-row='4'] td.bad").count() == 1
    assert page.locator("tr[data-row='2'] td.bad").count() == 0
    plain = page.locator("tr[data-row='2'] td").first
    assert plain.evaluate("el => getComputedStyle(el).backgroundColor") != "rgb(255, 199, 206)"
    assert page.locator("#problems tbody tr").count() >= 2
    _shot(page, "check-bad")

    with page.expect_download() as download:
        page.click("a[href$='/workbook']")
    saved = tmp_path / "validation.xlsx"
    download.value.save_as(saved)
    from openpyxl import load_workbook

    assert "Summary" in load_workbook(saved, read_only=True).sheetnames

    fixed = write_csv(tmp_path / "sheets" / "bonus-desember.csv", payout_link_rows(4))
    _upload(page, server, fixed)
    assert page.locator("#verdict").inner_text().startswith("valid: 4 rows")
    assert page.locator("table.sheet td.bad").count() == 0
    _shot(page, "check-valid")

    # Submit for approval: the run page shows it waiting; the maker cannot approve it.
    page.click("#review-plan")
    assert page.locator("#plan-count").inner_text() == "4"
    assert page.locator("#preview-rows tbody tr").count() == 4
    page.click("form.submit button[type=submit]")
    page.wait_for_url(f"{server}/runs/*")
    run_id = page.url.rsplit("/", 1)[1]
    assert page.locator("#run-status").inner_text() == "AWAITING_APPROVAL"
    refused = page.goto(f"{server}/approvals/{run_id}")
    assert refused is not None and refused.status == 403
    assert "cannot do this" in page.locator(".error").inner_text()
    page.click("form.logout button[type=submit]")
    page.wait_for_url(server + "/login")

    # The approver sees the plan, types the total and approves.
    _log_in(page, server, "budi", landing="/runs")
    page.goto(server + "/approvals")
    page.click(f"a[href='/approvals/{run_id}']")
    assert "siti at" in page.locator("#prepared-by").inner_text()
    _shot(page, "plan")
    page.fill("form.approve input[name=total]", "6000000")
    page.click("form.approve button[type=submit]")
    assert page.locator("#decision").inner_text() == "Approved: the run can be sent."
    assert page.locator("#plan-status").inner_text() == "APPROVED"

    # Send: the progress page follows the send by server-sent events until it is done.
    concurrency = page.locator("form.send input[name=concurrency]")
    assert concurrency.input_value() == "4"  # `batchpay send --concurrency`'s default
    concurrency.fill("8")
    page.click("form.send button[type=submit]")
    page.wait_for_url(f"{server}/runs/{run_id}/progress")
    assert page.locator("#in-flight").inner_text() == "at most 8"
    from playwright.sync_api import expect

    expect(page.locator("#phase")).to_have_text("done", timeout=30_000)
    assert page.locator("#done").inner_text() == "4"
    assert page.locator("#states").inner_text() == "PENDING 4"
    assert page.locator("#amount").inner_text() == "IDR 6,000,000"
    _shot(page, "progress")
    page.goto(f"{server}/runs")
    assert page.locator(f"a[href='/runs/{run_id}']").count() == 1
    _shot(page, "runs")
    page.goto(f"{server}/runs/{run_id}")
    _shot(page, "run")
    with page.expect_download() as run_download:
        page.click("a[href$='/workbook']")
    run_book = tmp_path / "run.xlsx"
    run_download.value.save_as(run_book)
    assert "Summary" in load_workbook(run_book, read_only=True).sheetnames
    assert errors == [], errors


def test_web_browser_runs_filter_uses_htmx(server: str, page: Any) -> None:
    """The runs filter swaps the list in place (htmx from /static, allowed by the CSP)."""
    _log_in(page, server)
    page.goto(server + "/runs")
    assert page.evaluate("typeof window.htmx") == "object"
    page.fill("input[name=month]", "2026-13")
    with page.expect_response(lambda r: "/runs?" in r.url):
        page.select_option("select[name=kind]", "payout-link")
    page.wait_for_selector("#runs .error")
    assert "is not a month" in page.locator("#runs .error").inner_text()
    assert "month=2026-13" in page.url


def test_web_browser_too_large_upload_says_so(server: str, page: Any, tmp_path: Path) -> None:
    """A 21 MB file: the browser, still sending, shows the page with the limit, not a reset."""
    _log_in(page, server)
    big = tmp_path / "big.csv"
    big.write_bytes(b"a,b\n" + b"1234567,89\n" * 2_000_000)
    assert big.stat().st_size > 20_000_000
    page.set_input_files("input[name=file]", str(big))
    page.click("form.upload button[type=submit]")
    page.wait_for_selector("#upload-error")
    assert (
        page.locator("#upload-error")
        .inner_text()
        .startswith("error: the file is larger than 20 MB")
    )
    assert not list((Path(os.environ["BATCHPAY_HOME"]) / "uploads").glob("*"))


def test_web_browser_missing_chromium_fails_under_ci_never_skips(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """CI=true with no browser is a failure (the E2E proof must run there); elsewhere a skip."""
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true: they must run"):
        _chromium()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        _chromium()
