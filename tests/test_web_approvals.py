"""Maker–checker on the web (issue 15): HR submits a checked sheet, an approver approves by
typing the total or rejects with a reason — the same library calls as `batchpay submit /
approve / reject`. Roles and CSRF are enforced on the server; nobody approves their own run."""

from __future__ import annotations

import html
import itertools
import os
import re
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("argon2")

from click.testing import CliRunner

from batchpay import cli as cli_module
from batchpay.runs import service
from batchpay.runs.options import Target
from batchpay.web.users import UserStore
from tests.helpers.runs import payout_link_rows, write_csv
from tests.helpers.web import Web, csrf_of, login, make_web, page_error, upload


class _Main:
    name = "batchpay"

    def main(self, args: Any = None, prog_name: str | None = None, **_: Any) -> None:
        cli_module.main(list(args or ()))


@pytest.fixture(name="web")
def web_fixture(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Web:
    monkeypatch.chdir(tmp_path)
    return make_web(Path(os.environ["BATCHPAY_HOME"]))


def _runs() -> list[Any]:
    try:
        return [run for run, _ in service.list_runs(Target())]
    except Exception:  # no journal yet
        return []


def _sheet(tmp_path: Path, n: int = 3) -> bytes:
    return write_csv(tmp_path / "bonus.csv", payout_link_rows(n)).read_bytes()


def _submit(web: Web, tmp_path: Path, *, token: str | None = None) -> tuple[Any, Any]:
    siti = web.login("siti")
    check = upload(siti, "bonus.csv", _sheet(tmp_path))
    assert "valid: 3 rows" in check.text
    url = str(check.url).replace("http://127.0.0.1", "")
    data = {"csrf_token": csrf_of(check.text) if token is None else token}
    return siti, siti.post(url + "/submit", data=data, follow_redirects=False)


def _decide(client: Any, run_id: str, action: str, **fields: str) -> Any:
    page = client.get(f"/approvals/{run_id}")
    data = {"csrf_token": csrf_of(page.text), **fields}
    return client.post(f"/approvals/{run_id}/{action}", data=data)


def test_web_maker_submits_checked_sheet_run_awaits_approval(web: Web, tmp_path: Path) -> None:
    siti, response = _submit(web, tmp_path)
    assert response.status_code == 303
    run_id = response.headers["location"].removeprefix("/runs/")
    (run,) = _runs()
    assert run.run_id == run_id
    assert run.status == "AWAITING_APPROVAL" and run.operator == "siti"
    assert run.plan_digest
    # The run carries the sheet's own name (the stored upload's name is random), and its
    # plan workbook is named after it; the input hash still binds the stored file.
    assert run.input_name == "bonus.csv"
    assert Path(run.input_path).name != "bonus.csv"
    assert Path(run.input_path).parent.name == "uploads"
    assert any(p.name.startswith(f"bonus-{run_id}") for p in web.home.rglob("*.xlsx"))
    page = siti.get(response.headers["location"])
    assert "AWAITING_APPROVAL" in page.text
    assert "bonus.csv" in page.text
    # The same check cannot be submitted twice.
    again = siti.post(f"/checks/{_check_id(siti)}/submit", data={"csrf_token": csrf_of(page.text)})
    assert again.status_code == 409
    assert len(_runs()) == 1


def test_web_maker_sees_dry_run_plan_before_submitting(web: Web, tmp_path: Path) -> None:
    siti = web.login("siti")
    check = upload(siti, "bonus.csv", _sheet(tmp_path))
    url = str(check.url).replace("http://127.0.0.1", "")
    assert f'href="{url}/plan"' in check.text
    preview = siti.get(url + "/plan")
    assert preview.status_code == 200
    assert "IDR 4,500,000" in preview.text and "(dry run)" in preview.text
    assert len(re.findall(r"<tr><td class=\"num\">\d+</td><td>PL-000\d</td>", preview.text)) == 3
    assert _runs() == []  # a preview journals nothing
    for other in ("budi", "ani"):
        assert web.login(other).get(url + "/plan").status_code == 403


def _check_id(client: Any) -> str:
    (check_id,) = client.app.state.web.checks
    return str(check_id)


@pytest.mark.parametrize("token", ["", "forged"])
def test_web_submit_csrf_missing_or_wrong_nothing_journaled(
    web: Web, tmp_path: Path, token: str
) -> None:
    _, response = _submit(web, tmp_path, token=token)
    assert response.status_code == 403
    assert _runs() == []


@pytest.mark.parametrize(("name", "status"), [("siti", 403), ("ani", 403), ("budi", 200)])
def test_web_approvals_pages_approver_only(
    web: Web, tmp_path: Path, name: str, status: int
) -> None:
    _, response = _submit(web, tmp_path)
    run_id = response.headers["location"].removeprefix("/runs/")
    client = web.login(name)
    assert client.get("/approvals").status_code == status
    assert client.get(f"/approvals/{run_id}").status_code == status
    token = csrf_of(client.get("/runs").text)
    for action, data in (("approve", {"total": "4500000"}), ("reject", {"reason": "no"})):
        result = client.post(f"/approvals/{run_id}/{action}", data={"csrf_token": token, **data})
        if name != "budi":
            assert result.status_code == 403
    if name != "budi":
        (run,) = _runs()
        assert run.status == "AWAITING_APPROVAL" and run.approvals == ()
    # Viewers and approvers do not submit.
    if name != "siti":
        assert client.post("/checks/x/submit", data={"csrf_token": token}).status_code == 403


def test_web_approver_types_total_wrong_then_right(web: Web, tmp_path: Path) -> None:
    _, response = _submit(web, tmp_path)
    run_id = response.headers["location"].removeprefix("/runs/")
    budi = web.login("budi")
    listing = budi.get("/approvals")
    assert f'href="/approvals/{run_id}"' in listing.text
    plan = budi.get(f"/approvals/{run_id}")
    assert "siti at" in plan.text and "IDR 4,500,000" in plan.text
    assert len(re.findall(r"<tr><td class=\"num\">\d+</td>", plan.text)) == 3
    wrong = _decide(budi, run_id, "approve", total="4000000")
    assert wrong.status_code == 409
    assert page_error(wrong.text).startswith("error: the total you typed, 4000000, is not")
    assert _runs()[0].status == "AWAITING_APPROVAL"
    forged = budi.post(f"/approvals/{run_id}/approve", data={"csrf_token": "x", "total": "4500000"})
    assert forged.status_code == 403
    assert _runs()[0].status == "AWAITING_APPROVAL"
    right = _decide(budi, run_id, "approve", total="4500000")
    assert right.status_code == 200
    assert "Approved: the run can be sent." in right.text
    (run,) = _runs()
    assert run.status == "APPROVED"
    assert [(a.approver, a.decision) for a in run.approvals] == [("budi", "APPROVED")]


def test_web_nobody_approves_their_own_run(web: Web, tmp_path: Path) -> None:
    """A run submitted with the CLI has the OS login as its maker; a web approver with that
    name is the same person and is refused by the library."""
    sheet = write_csv(tmp_path / "own.csv", payout_link_rows(2, prefix="OWN"))
    result = CliRunner().invoke(_Main(), ["submit", str(sheet)])  # type: ignore[arg-type]
    assert result.exit_code == 0, result.output
    (run,) = _runs()
    UserStore(web.home).add(run.operator, "approver", "own-pw-5")
    client = web.client()
    assert login(client, run.operator, "own-pw-5").status_code == 303
    plan = client.get(f"/approvals/{run.run_id}")
    assert "You cannot approve this run: you prepared it" in plan.text
    token = csrf_of(plan.text)
    refused = client.post(
        f"/approvals/{run.run_id}/approve", data={"csrf_token": token, "total": "3000000"}
    )
    assert refused.status_code == 409
    assert "the maker cannot approve their own run — nothing was changed" in refused.text
    assert _runs()[0].status == "AWAITING_APPROVAL"


def test_web_approver_rejects_with_reason(web: Web, tmp_path: Path) -> None:
    _, response = _submit(web, tmp_path)
    run_id = response.headers["location"].removeprefix("/runs/")
    budi = web.login("budi")
    empty = _decide(budi, run_id, "reject", reason="  ")
    assert empty.status_code == 409
    assert page_error(empty.text).startswith("error: a rejection needs a reason")
    done = _decide(budi, run_id, "reject", reason="wrong month")
    assert "Rejected: it is never sent." in done.text
    (run,) = _runs()
    assert run.status == "REJECTED"
    assert [(a.approver, a.reason) for a in run.approvals] == [("budi", "wrong month")]
    assert budi.get("/approvals/no-such-run").status_code == 404


def _events(client: Any, run_id: str) -> list[dict[str, Any]]:
    """Every server-sent event of the run's send, until the last one."""
    import json

    seen: list[dict[str, Any]] = []
    with client.stream("GET", f"/runs/{run_id}/events") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("data: "):
                seen.append(json.loads(line[6:]))
    return seen


def test_web_approver_sends_progress_by_events_until_done(web: Web, tmp_path: Path) -> None:
    _, response = _submit(web, tmp_path)
    run_id = response.headers["location"].removeprefix("/runs/")
    budi = web.login("budi")
    token = csrf_of(budi.get(f"/approvals/{run_id}").text)
    # Not approved yet: the library refuses, nothing is sent.
    early = budi.post(f"/approvals/{run_id}/send", data={"csrf_token": token})
    assert early.status_code == 200
    refused = _events(budi, run_id)
    assert refused[-1]["finished"]
    assert "is awaiting approval (0 of 1 approval(s)); nothing was sent" in refused[-1]["error"]
    assert refused[-1]["done"] == 0
    _decide(budi, run_id, "approve", total="4500000")
    forged = budi.post(f"/approvals/{run_id}/send", data={"csrf_token": "x"})
    assert forged.status_code == 403
    siti = web.login("siti")
    maker = siti.post(
        f"/approvals/{run_id}/send", data={"csrf_token": csrf_of(siti.get("/upload").text)}
    )
    assert maker.status_code == 403
    page = budi.post(f"/approvals/{run_id}/send", data={"csrf_token": token})
    assert page.status_code == 200 and "Sending run" in page.text
    seen = _events(budi, run_id)
    last = seen[-1]
    assert last["finished"] and last["error"] == ""
    assert (last["done"], last["total"]) == (3, 3)
    assert last["states"] == {"PENDING": 3}
    assert last["amount"] == "IDR 4,500,000"
    assert all(a["done"] <= b["done"] for a, b in itertools.pairwise(seen))
    (run,) = _runs()
    assert run.status == "APPROVED"
    states = service.report_runs(Target(), run_id=run_id)[0][1]
    assert [r.state for r in states] == ["PENDING"] * 3
    # The viewer follows the same page and downloads the run's workbook.
    ani = web.login("ani")
    assert ani.get(f"/runs/{run_id}/progress").status_code == 200
    assert ani.post(f"/approvals/{run_id}/send", data={"csrf_token": "x"}).status_code == 403
    assert ani.get(f"/runs/{run_id}/workbook").content[:2] == b"PK"


def test_web_progress_events_at_least_once_a_second(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """While a send runs, the page gets a fresh count at least every second (issue 15): the
    events route sends a snapshot at once, then one after every wait, and each wait it asks
    for is at most a second. The app's sleep is a fake that returns at once, so nothing is
    timed here (the real-time cadence is measured by benchmarks/web_progress.py)."""
    from types import SimpleNamespace

    from batchpay.web.sending import SendJob

    job = SendJob("20261205-000000-abcd", "budi")
    job.sending(None, total=10_000, desc="Sending")
    waits: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        waits.append(seconds)
        for _ in range(1_000):  # the engine settles rows while the page waits
            job.row_done(SimpleNamespace(amount_minor=100, currency="IDR"), "PENDING")
        if job.done == job.total:
            job.finished = True

    monkeypatch.chdir(tmp_path)
    web = make_web(Path(os.environ["BATCHPAY_HOME"]), sleep=fake_sleep)
    web.app.state.web.jobs[job.run_id] = job
    seen = _events(web.login("ani"), job.run_id)
    assert [e["done"] for e in seen] == list(range(0, 10_001, 1_000))
    assert len(waits) == len(seen) - 1  # exactly one wait between two events, none after
    assert waits and all(0 < w <= 1.0 for w in waits), waits
    assert seen[-1]["finished"] and seen[-1]["amount"] == "IDR 10,000"


def test_web_progress_events_stop_when_the_page_goes() -> None:
    """A closed page ends its event stream at the next wait: no generator outlives it."""
    import asyncio

    from batchpay.web.routes_progress import EVERY_SECONDS, _events
    from batchpay.web.sending import SendJob

    job = SendJob("20261205-000000-efgh", "budi")
    waits: list[float] = []

    class Page:
        asked = 0

        async def is_disconnected(self) -> bool:
            self.asked += 1
            return self.asked > 2

    async def fake_sleep(seconds: float) -> None:
        waits.append(seconds)

    async def collect() -> list[str]:
        return [e async for e in _events(Page(), job, sleep=fake_sleep)]  # type: ignore[arg-type]

    events = asyncio.run(collect())
    assert len(events) == 3 and waits == [EVERY_SECONDS, EVERY_SECONDS]
    assert EVERY_SECONDS <= 1.0


def test_web_progress_says_when_rows_are_done_and_workbook_is_being_written(web: Web) -> None:
    """After the last row the run's workbook is written (seconds for 10,000 rows): the page
    and its events say so, rather than a count that stopped moving under "sending…"."""
    from types import SimpleNamespace

    from batchpay.web.sending import SendJob

    job = SendJob("20261205-000000-wxyz", "budi")
    web.app.state.web.jobs[job.run_id] = job
    client = web.login("ani")

    def phase() -> str:
        page = client.get(f"/runs/{job.run_id}/progress").text
        found = re.search(r'<dd id="phase">(.*?)</dd>', page)
        assert found
        return found.group(1)

    assert phase() == job.snapshot()["phase"] == "starting…"
    job.sending(None, total=2, desc="Sending")
    job.row_done(SimpleNamespace(amount_minor=150_000, currency="IDR"), "PENDING")
    assert phase() == job.snapshot()["phase"] == "sending…"
    job.row_done(SimpleNamespace(amount_minor=150_000, currency="IDR"), "PENDING")
    job.sent()
    assert phase() == "writing the run&#39;s workbook…"
    assert job.snapshot()["phase"] == "writing the run's workbook…"
    job.finished = True
    (last,) = _events(client, job.run_id)
    assert (last["phase"], last["done"], last["total"]) == ("done", 2, 2)
    assert phase() == "done"


def test_web_plan_shows_totals_per_account_warnings_and_repeats_like_the_library(
    web: Web, tmp_path: Path
) -> None:
    """The approver's plan: totals per source account, the plan's warnings and the
    references an earlier run already used, with who prepared it — the values of
    approval.plan_view (what `batchpay approve` shows), not a second computation."""
    from batchpay.money import format_minor
    from batchpay.runs import approval
    from tests.helpers.runs import FUNDED, sac_payout_rows
    from tests.helpers.web import table_rows

    sheet = write_csv(tmp_path / "sac.csv", sac_payout_rows(2))
    funded = CliRunner().invoke(_Main(), ["emulator", "fund", FUNDED, "1000000"])  # type: ignore[arg-type]
    assert funded.exit_code == 0, funded.output
    siti = web.login("siti")
    check = upload(siti, "sac.csv", sheet.read_bytes())
    url = str(check.url).replace("http://127.0.0.1", "")
    done = siti.post(url + "/submit", data={"csrf_token": csrf_of(check.text)})
    assert done.status_code == 200 and "/runs/" in str(done.url), page_error(done.text)
    # The same sheet again, from the terminal, repeats allowed: its plan lists the repeats.
    again = CliRunner().invoke(_Main(), ["submit", str(sheet), "--allow-repeat"])  # type: ignore[arg-type]
    assert again.exit_code == 0, again.output
    (run_id,) = {r.run_id for r in _runs()} - {str(done.url).rsplit("/", 1)[1]}
    view = approval.plan_view(run_id, target=Target())
    assert view.repeats, "the second run repeats the first one's references"
    page = web.login("budi").get(f"/approvals/{run_id}").text
    accounts = re.search(r"<h2>Totals per source account</h2>\s*<table.*?</table>", page, re.S)
    assert accounts is not None
    shown = re.findall(r"<td><code>(.*?)</code></td><td class=\"num\">(.*?)</td>", accounts[0])
    assert shown == [(a, format_minor(m)) for a, m in sorted(view.by_source.items())]
    assert table_rows(page, "repeats") == [
        [str(r.row_number), r.reference, r.earlier.run_id, str(r.earlier.state)]
        for r in view.repeats
    ]
    assert view.warnings, "an allowed repeat is a warning"
    warnings = re.findall(r"<li>(.*?)</li>", page.split('<ul class="warnings">')[-1])
    assert [html.unescape(w) for w in warnings[: len(view.warnings)]] == view.warnings
    prepared = re.search(r'<dd id="prepared-by">(.*?)</dd>', page)
    assert prepared is not None and html.unescape(prepared[1]) == view.run.prepared_by
