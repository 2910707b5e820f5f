"""The web app's routes and permissions with FastAPI's test client (issue 15): login on every
page, each role × each action, CSRF missing or wrong (403, nothing done), idle sessions
expiring, upload limits, the CLI's own messages and Problems on the page, no secret in any
response."""

from __future__ import annotations

import html
import json
import logging
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("argon2")

from click.testing import CliRunner

from batchpay import cli as cli_module
from batchpay.profile import load_profile
from tests.helpers.runs import payout_link_rows, write_csv
from tests.helpers.web import (
    Web,
    csrf_of,
    login,
    make_web,
    page_error,
    table_rows,
    upload,
)

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
GOOD_CSV = (SAMPLES / "bonus-payout-link.csv").read_bytes()
PAGES = [
    "/",
    "/upload",
    "/runs",
    "/runs/20261205-115541-619d",
    "/runs/20261205-115541-619d/workbook",
    "/runs/20261205-115541-619d/csv",
    "/runs/20261205-115541-619d/progress",
    "/runs/20261205-115541-619d/events",
    "/reports/month?month=2026-12",
    "/checks/x",
    "/checks/x/workbook",
    "/approvals",
    "/approvals/20261205-115541-619d",
]


class _Main:
    name = "batchpay"

    def main(self, args: Any = None, prog_name: str | None = None, **_: Any) -> None:
        cli_module.main(list(args or ()))


def run_cli(*args: str) -> Any:
    return CliRunner().invoke(_Main(), list(args))  # type: ignore[arg-type]


@pytest.fixture(name="web")
def web_fixture(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Web:
    monkeypatch.chdir(tmp_path)
    return make_web(Path(os.environ["BATCHPAY_HOME"]))


def _uploads(web: Web) -> list[str]:
    folder = web.home / "uploads"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@pytest.mark.parametrize("page", PAGES)
def test_web_every_page_needs_login(web: Web, page: str) -> None:
    response = web.client().get(page, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")


def test_web_posts_without_session_go_to_login_and_do_nothing(web: Web) -> None:
    client = web.client()
    response = client.post(
        "/upload",
        files={"file": ("a.csv", GOOD_CSV)},
        data={"csrf_token": "x"},
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    assert _uploads(web) == []


def test_web_login_wrong_password_and_unknown_user(web: Web) -> None:
    for name, password in (("siti", "wrong"), ("nobody", "maker-pw-1"), ("siti", "")):
        client = web.client()
        response = login(client, name, password)
        assert response.status_code == 401
        assert "Wrong user name or password." in response.text
        assert "batchpay_session" not in client.cookies
        assert client.get("/upload", follow_redirects=False).status_code == 303


def test_web_login_sets_httponly_samesite_strict_cookie_and_goes_next(web: Web) -> None:
    client = web.client()
    response = login(client, "siti", "maker-pw-1", next_page="/upload")
    assert response.status_code == 303 and response.headers["location"] == "/upload"
    cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith("batchpay_session=")
    )
    assert "HttpOnly" in cookie and "samesite=strict" in cookie.lower()
    assert client.get("/upload").status_code == 200


def test_web_login_next_never_leaves_the_site(web: Web) -> None:
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        response = login(web.client(), "siti", "maker-pw-1", next_page=target)
        assert response.headers["location"] == "/"


def test_web_login_form_csrf_checked(web: Web) -> None:
    client = web.client()
    client.get("/login")
    response = client.post(
        "/login",
        data={"username": "siti", "password": "maker-pw-1", "csrf_token": "forged"},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert "security token is missing or wrong" in response.text
    assert "batchpay_session" not in client.cookies


@pytest.mark.parametrize(
    ("name", "upload_status", "runs_status"),
    [("siti", 200, 200), ("budi", 403, 200), ("ani", 403, 200)],
)
def test_web_role_by_action(web: Web, name: str, upload_status: int, runs_status: int) -> None:
    client = web.login(name)
    assert client.get("/upload").status_code == upload_status
    assert client.get("/runs").status_code == runs_status
    home = client.get("/", follow_redirects=False)
    assert home.headers["location"] == ("/upload" if name == "siti" else "/runs")
    if upload_status == 403:
        refused = client.get("/upload")
        assert "cannot do this; it needs: HR (maker)" in refused.text
        token = csrf_of(client.get("/runs").text)
        response = upload(client, "bonus.csv", GOOD_CSV, token=token, follow=False)
        assert response.status_code == 403
        assert _uploads(web) == []
        assert "Upload a sheet" not in client.get("/runs").text  # no link to it either


def test_web_check_page_only_for_its_maker(web: Web) -> None:
    siti = web.login("siti")
    response = upload(siti, "bonus.csv", GOOD_CSV, follow=False)
    assert response.status_code == 303
    check = response.headers["location"]
    assert siti.get(check).status_code == 200
    workbook = siti.get(check + "/workbook")
    assert workbook.status_code == 200 and workbook.content[:2] == b"PK"
    assert "bonus-validation.xlsx" in workbook.headers["content-disposition"]
    for other in ("budi", "ani"):
        client = web.login(other)
        assert client.get(check).status_code == 403
        assert client.get(check + "/workbook").status_code == 403
    # Another maker does not see siti's check.
    from batchpay.web.users import UserStore

    UserStore(web.home).add("rina", "maker", "maker-pw-4")
    rina = web.client()
    assert login(rina, "rina", "maker-pw-4").status_code == 303
    assert rina.get(check).status_code == 403


@pytest.mark.parametrize("token", ["", "forged-token"])
def test_web_upload_csrf_missing_or_wrong_refused_nothing_stored(web: Web, token: str) -> None:
    client = web.login("siti")
    response = upload(client, "bonus.csv", GOOD_CSV, token=token, follow=False)
    assert response.status_code == 403
    assert "security token is missing or wrong, so nothing was done" in response.text
    assert _uploads(web) == []
    assert web.app.state.web.checks == {}


@pytest.mark.parametrize("token", [None, "forged-token"])
def test_web_logout_csrf_checked(web: Web, token: str | None) -> None:
    client = web.login("siti")
    data = {} if token is None else {"csrf_token": token}
    response = client.post("/logout", data=data, follow_redirects=False)
    assert response.status_code == 403
    assert client.get("/upload").status_code == 200  # still logged in
    good = client.post(
        "/logout", data={"csrf_token": csrf_of(client.get("/upload").text)}, follow_redirects=False
    )
    assert good.status_code == 303 and good.headers["location"] == "/login"
    assert client.get("/upload", follow_redirects=False).status_code == 303


def test_web_session_expires_after_idle_time(web: Web) -> None:
    client = web.login("siti")
    web.clock.now += 7 * 3600
    assert client.get("/upload").status_code == 200  # use restarts the idle time
    web.clock.now += 8 * 3600 - 1
    assert client.get("/upload").status_code == 200
    web.clock.now += 8 * 3600 + 1
    response = client.get("/upload", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fupload"
    token_page_gone = client.post("/upload", files={"file": ("a.csv", GOOD_CSV)})
    assert "Log in" in token_page_gone.text
    assert _uploads(web) == []


def test_web_upload_too_large_clear_message_nothing_kept(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    web = make_web(Path(os.environ["BATCHPAY_HOME"]), max_upload=1_000_000)
    client = web.login("siti")
    # Just over the limit: passes the Content-Length pre-check, stopped while streaming.
    streamed = upload(client, "big.csv", b"a,b\n" + b"1,2\n" * 250_000)
    assert streamed.status_code == 413
    assert page_error(streamed.text).startswith(
        "error: the file is larger than 1 MB, the most one upload may be"
    )
    # Far over: refused from its Content-Length before reading.
    huge = upload(client, "huge.csv", b"x" * 2_000_000)
    assert huge.status_code == 413
    assert _uploads(web) == []


def _bad_files(folder: Path) -> dict[str, bytes]:
    encrypted = (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 200 + "EncryptionInfo".encode("utf-16-le")
    )
    files = {
        "empty.csv": b"",
        "notes.pdf": b"%PDF-1.4 not a sheet",
        "broken.xlsx": b"PK\x03\x04" + b"\x00garbage" * 20,
        "locked.xlsx": encrypted + b"\0" * 100,
        "old.xls": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 300,
        "page.xlsx": b"<html><body>export</body></html>",
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return files


def test_web_bad_uploads_same_one_line_messages_as_cli(web: Web, tmp_path: Path) -> None:
    client = web.login("siti")
    for name, data in _bad_files(tmp_path).items():
        cli = run_cli("validate", name, "--no-report")
        assert cli.exit_code == 2, (name, cli.output)
        expected = cli.output.strip().splitlines()[-1]
        response = upload(client, name, data)
        assert response.status_code == 400, name
        assert page_error(response.text) == expected, name
    assert _uploads(web) == []  # nothing of a refused file is kept


def test_web_client_file_name_never_a_path(web: Web) -> None:
    client = web.login("siti")
    response = upload(client, "../../etc/evil<b>.csv", GOOD_CSV)
    assert response.status_code == 200
    stored = _uploads(web)
    assert all(re.fullmatch(r"[0-9a-f]{32}(\.csv|-validation\.xlsx)", n) for n in stored), stored
    for name in stored:
        assert (web.home / "uploads" / name).stat().st_mode & 0o777 == 0o600
    assert "evil&lt;b&gt;.csv" in response.text and "<b>" not in response.text.split("<main>")[1]
    assert not (web.home.parent / "etc").exists()


def test_web_validation_page_shows_every_problem_like_the_cli(web: Web, tmp_path: Path) -> None:
    messy = SAMPLES / "messy-bonus.xlsx"
    shutil.copy(messy, tmp_path / "messy-bonus.xlsx")
    cli = run_cli("validate", "messy-bonus.xlsx", "--json", "--no-report")
    expected = json.loads(cli.output[cli.output.index("{") :])["problems"]
    client = web.login("siti")
    page = upload(client, "messy-bonus.xlsx", messy.read_bytes()).text
    assert "NOT VALID" in page
    shown = table_rows(page, "problems")
    assert len(shown) == len(expected) > 0
    for row, problem in zip(shown, expected, strict=True):
        assert row[0] == ("" if problem["row"] is None else str(problem["row"]))
        prefix = "" if problem["severity"] == "error" else "(warning) "
        assert row[3] == prefix + problem["message"]
        assert row[4] == problem["hint"]
    # Each problem cell is marked on the sheet table, errors red.
    sheet = re.search(r'<table class="sheet" id="sheet">.*?</table>', page, re.S)
    assert sheet is not None
    bad = re.findall(r'<td class="bad" title="([^"]*)"', sheet.group(0))
    errors = [p for p in expected if p["severity"] == "error" and p["row"] is not None]
    assert len(bad) >= len({(p["row"], p["column"]) for p in errors}) - 1
    assert bad, "no red cell"


def test_web_profile_sheet_shows_skipped_rows_and_control_total(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    profile = load_profile(SAMPLES / "hr-bonus.toml")
    web = make_web(Path(os.environ["BATCHPAY_HOME"]), profile=profile)
    client = web.login("siti")
    form = client.get("/upload").text
    assert "payout-link (profile section)" in form
    page = upload(
        client, "hr-bonus-desember.xlsx", (SAMPLES / "hr-bonus-desember.xlsx").read_bytes()
    ).text
    assert "valid: 12 rows, IDR 31,000,000" in page
    skipped = table_rows(page, "skipped")
    assert [(r[0], r[1]) for r in skipped] == [
        ("1", "title"),
        ("2", "title"),
        ("17", "total"),
        ("19", "footer"),
        ("22", "footer"),
    ]
    assert "control total IDR 31,000,000 on row 17 ('TOTAL') matches 12 rows" in html.unescape(page)


def test_web_fixed_sheet_valid_after_bad_one(web: Web, tmp_path: Path) -> None:
    rows = payout_link_rows(3)
    rows[1]["receiver_phone_number"] = "12345"
    bad = write_csv(tmp_path / "bonus.csv", rows).read_bytes()
    client = web.login("siti")
    page = upload(client, "bonus.csv", bad).text
    assert "NOT VALID" in page and '<td class="bad"' in page
    fixed = write_csv(tmp_path / "bonus.csv", payout_link_rows(3)).read_bytes()
    page = upload(client, "bonus.csv", fixed).text
    assert "valid: 3 rows" in page and '<td class="bad"' not in page


def test_web_runs_pages_and_downloads_for_every_role(web: Web, tmp_path: Path) -> None:
    assert run_cli("run", str(SAMPLES / "bonus-payout-link.csv")).exit_code == 0
    for name in ("siti", "budi", "ani"):
        client = web.login(name)
        listing = client.get("/runs?month=&kind=payout-link&status=OPEN")
        assert listing.status_code == 200
        run_id = re.search(r'href="/runs/([^"]+)"', listing.text).group(1)  # type: ignore[union-attr]
        assert "bonus-payout-link.csv" in listing.text
        assert client.get("/runs?kind=sub-account-payout").text.count('href="/runs/2') == 0
        page = client.get(f"/runs/{run_id}")
        assert page.status_code == 200
        assert table_rows(page.text, "states") == [["PENDING", "28", "IDR 59,650,000"]]
        workbook = client.get(f"/runs/{run_id}/workbook")
        assert workbook.status_code == 200 and workbook.content[:2] == b"PK"
        csv = client.get(f"/runs/{run_id}/csv")
        assert csv.status_code == 200 and csv.text.startswith("run_id,env,kind")
        exceptions = table_rows(page.text, "exceptions")
        assert len(exceptions) == 28
        assert {(r[2], r[3]) for r in exceptions} == {("PENDING", "progressing")}
        assert all(r[5] for r in exceptions)  # what to do next, for every row
        month = re.search(r"<dt>created</dt><dd>(\d{4}-\d{2})", page.text).group(1)  # type: ignore[union-attr]
        book = client.get(f"/reports/month?month={month}")
        assert book.status_code == 200 and book.content[:2] == b"PK"
        assert f"{month}-reconciliation.xlsx" in book.headers["content-disposition"]
        month_csv = client.get(f"/reports/month?month={month}&format=csv")
        assert month_csv.text.startswith("run_id,env,kind") and month_csv.text.count("\n") == 29
        assert client.get("/reports/month?month=2026-13").status_code == 400
        assert client.get("/runs/no-such-run").status_code == 404
        assert client.get("/runs/..%2F..%2Fetc").status_code == 404
    assert not (web.home / "web-downloads").exists() or not any(
        (web.home / "web-downloads").iterdir()
    )


def test_web_runs_without_journal_says_so(web: Web) -> None:
    page = web.login("ani").get("/runs")
    assert page.status_code == 200
    assert "No runs yet" in page.text


def test_web_secret_key_never_in_any_response(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    canary = "SK-CANARY-never-shown-0123456789"
    monkeypatch.setenv("BATCHPAY_SECRET_KEY", canary)
    monkeypatch.setenv("BATCHPAY_CLIENT_ID", "MCH-0001-CANARY")
    monkeypatch.chdir(tmp_path)
    web = make_web(Path(os.environ["BATCHPAY_HOME"]))
    assert run_cli("run", str(SAMPLES / "bonus-payout-link.csv")).exit_code == 0
    seen: list[str] = []
    for name in ("siti", "budi", "ani"):
        client = web.login(name)
        for page in ("/", "/upload", "/runs", "/runs?month=2026-13", "/runs/x"):
            response = client.get(page)
            seen.append(response.text + str(response.headers))
        run_id = re.search(r'href="/runs/([^"]+)"', client.get("/runs").text).group(1)  # type: ignore[union-attr]
        for page in (f"/runs/{run_id}", f"/runs/{run_id}/workbook", f"/runs/{run_id}/csv"):
            response = client.get(page)
            seen.append(response.content.decode("latin-1") + str(response.headers))
    siti = web.login("siti")
    seen.append(upload(siti, "bonus.csv", GOOD_CSV).text)
    seen.append(upload(siti, "empty.csv", b"").text)
    assert all(canary not in text for text in seen)
    assert canary not in caplog.text  # nor in any log record of the app or the library


def test_web_pages_carry_security_headers(web: Web) -> None:
    response = web.client().get("/login")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-store"
    static = web.client().get("/static/htmx.min.js")
    assert static.status_code == 200 and "htmx.org 2.0.4" in static.text[:200]


def test_web_damaged_accounts_file_one_line_page_not_a_traceback(web: Web) -> None:
    (web.home / "users.json").write_text("{not json")
    response = login(web.client(), "siti", "maker-pw-1")
    assert response.status_code == 500
    assert page_error(response.text).startswith("error: ")
    assert "not a batchpay accounts file" in response.text
    assert "Traceback" not in response.text


def test_web_same_verdict_as_cli_for_a_valid_sheet(web: Web) -> None:
    cli = run_cli("validate", str(SAMPLES / "bonus-payout-link.csv"), "--no-report")
    head = cli.output.splitlines()[0]
    assert head == "valid: 28 rows, IDR 59,650,000"
    page = upload(web.login("siti"), "bonus-payout-link.csv", GOOD_CSV).text
    verdict = re.search(r'<p class="verdict ok" id="verdict">(.*?)</p>', page, re.S)
    assert verdict is not None
    assert html.unescape(verdict.group(1)).startswith(head + " — kind payout-link")


def test_web_login_throttled_after_five_failures_per_name(web: Web) -> None:
    for _ in range(5):
        assert login(web.client(), "siti", "guess").status_code == 401
    blocked = login(web.client(), "siti", "maker-pw-1")  # even the right password waits
    assert blocked.status_code == 429
    assert "Too many failed logins for this name; try again in 10 minute(s)." in blocked.text
    assert login(web.client(), "budi", "approver-pw-2").status_code == 303  # other names not
    web.clock.now += 601
    assert login(web.client(), "siti", "maker-pw-1").status_code == 303


def test_web_viewer_filters_runs_by_month_kind_and_status(web: Web) -> None:
    """The accountant's list: each filter alone and together keeps the run or drops it, as
    `batchpay runs --month` does; a month with no runs says so; its report still downloads."""
    assert run_cli("run", str(SAMPLES / "bonus-payout-link.csv")).exit_code == 0
    ani = web.login("ani")
    run_id = re.search(r'href="/runs/([^"]+)"', ani.get("/runs").text).group(1)  # type: ignore[union-attr]
    page = ani.get(f"/runs/{run_id}").text
    month = re.search(r"<dt>created</dt><dd>(\d{4}-\d{2})", page).group(1)  # type: ignore[union-attr]
    status = re.search(r'<dd id="run-status">([A-Z_]+)</dd>', page).group(1)  # type: ignore[union-attr]
    other_status = next(s for s in ("OPEN", "CLOSED", "REJECTED") if s != status)

    def listed(query: str) -> bool:
        response = ani.get(f"/runs?{query}")
        assert response.status_code == 200
        return f'href="/runs/{run_id}"' in response.text

    assert listed(f"month={month}")
    assert listed(f"month={month}&kind=payout-link&status={status}")
    assert not listed("month=2001-01")
    assert "No runs match." in ani.get("/runs?month=2001-01").text
    assert not listed(f"month={month}&kind=sub-account-payout")
    assert not listed(f"month={month}&status={other_status}")
    assert not listed(f"kind=payout-link&status={other_status}")
    cli = run_cli("runs", "--month", month)
    assert run_id in cli.output
    report = ani.get("/reports/month?month=2001-01")
    assert report.status_code == 404
    expected = run_cli("report", "--month", "2001-01").output.strip().splitlines()[-1]
    assert (
        page_error(report.text)
        == expected
        == ("error: no run in 2001-01 in the journal — list runs with `batchpay runs`")
    )
    book = ani.get(f"/reports/month?month={month}")
    assert book.status_code == 200 and book.content[:2] == b"PK"
    from io import BytesIO

    from openpyxl import load_workbook

    assert load_workbook(BytesIO(book.content), read_only=True).sheetnames


def test_web_chosen_kind_gives_the_clis_answer(web: Web, tmp_path: Path) -> None:
    """Choosing the kind on the form is `validate --kind`: a payout-link sheet read as a Sub
    Account payout gets the CLI's own one-line refusal; read as payout-link, its verdict."""
    shutil.copy(SAMPLES / "bonus-payout-link.csv", tmp_path / "bonus.csv")
    cli = run_cli("validate", "bonus.csv", "--kind", "sub-account-payout", "--no-report")
    assert cli.exit_code == 2, cli.output
    siti = web.login("siti")
    wrong = upload(siti, "bonus.csv", GOOD_CSV, kind="sub-account-payout")
    assert wrong.status_code == 400
    assert page_error(wrong.text) == cli.output.strip().splitlines()[-1]
    right = upload(siti, "bonus.csv", GOOD_CSV, kind="payout-link")
    head = run_cli("validate", "bonus.csv", "--kind", "payout-link", "--no-report").output
    assert head.splitlines()[0] in html.unescape(right.text)


def test_web_runs_filters_reach_past_the_newest_runs(
    web: Web, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a month the list stops at the newest RUNS_SHOWN runs, and says so; a kind or
    status filter is applied before that cap, so an older matching run is still listed."""
    from batchpay.web import routes_runs

    monkeypatch.setattr(routes_runs, "RUNS_SHOWN", 1)
    assert run_cli("run", str(SAMPLES / "bonus-payout-link.csv")).exit_code == 0
    assert run_cli("run", str(SAMPLES / "new-sub-accounts.csv"), "--dry-run").exit_code == 0
    ani = web.login("ani")
    newest = ani.get("/runs").text
    assert newest.count('href="/runs/2') == 1 and "new-sub-accounts.csv" in newest
    assert "The newest 1 matching runs are shown; choose a month" in newest
    older = ani.get("/runs?kind=payout-link").text
    assert older.count('href="/runs/2') == 1 and "bonus-payout-link.csv" in older
    assert ani.get("/runs?kind=sub-account-payout").text.count('href="/runs/2') == 0
