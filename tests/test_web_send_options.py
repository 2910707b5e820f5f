"""The web's send form has `batchpay send --concurrency`: the same bounds and default as the
CLI option, the value reaches the send, and a value out of bounds sends nothing."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import click
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("argon2")

from batchpay.cli.approvals import send_cmd
from batchpay.runs import service
from batchpay.runs.options import Target
from batchpay.web import sending
from tests.helpers.runs import payout_link_rows, write_csv
from tests.helpers.web import Web, csrf_of, make_web, page_error, upload


@pytest.fixture(name="web")
def web_fixture(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Web:
    monkeypatch.chdir(tmp_path)
    return make_web(Path(os.environ["BATCHPAY_HOME"]))


def _approved_run(web: Web, tmp_path: Path) -> tuple[Any, str]:
    """A 3-row run, submitted by siti and approved by budi; budi's client and the run id."""
    siti = web.login("siti")
    sheet = write_csv(tmp_path / "bonus.csv", payout_link_rows(3)).read_bytes()
    check = upload(siti, "bonus.csv", sheet)
    check_id = str(check.url).rsplit("/", 1)[1]
    done = siti.post(
        f"/checks/{check_id}/submit",
        data={"csrf_token": csrf_of(check.text)},
        follow_redirects=False,
    )
    run_id = done.headers["location"].rsplit("/", 1)[1]
    budi = web.login("budi")
    token = csrf_of(budi.get(f"/approvals/{run_id}").text)
    approved = budi.post(
        f"/approvals/{run_id}/approve", data={"csrf_token": token, "total": "4500000"}
    )
    assert "Approved: the run can be sent." in approved.text
    return budi, run_id


def test_web_send_concurrency_bounds_are_the_clis() -> None:
    (option,) = [p for p in send_cmd.params if p.name == "concurrency"]
    assert isinstance(option.type, click.IntRange)
    assert (option.type.min, option.type.max, option.default) == (
        sending.MIN_CONCURRENCY,
        sending.MAX_CONCURRENCY,
        sending.DEFAULT_CONCURRENCY,
    )


@pytest.mark.parametrize(("raw", "expected"), [("", 4), (" 7 ", 7), ("1", 1), ("32", 32)], ids=repr)
def test_web_send_concurrency_parsed_within_bounds(raw: str, expected: int) -> None:
    assert sending.concurrency(raw) == expected


def test_web_send_form_offers_concurrency_and_it_reaches_the_send(web: Web, tmp_path: Path) -> None:
    budi, run_id = _approved_run(web, tmp_path)
    plan = budi.get(f"/approvals/{run_id}").text
    field = re.search(
        r'<form class="send".*?(<input type="number" name="concurrency"[^>]*>)', plan, re.S
    )
    assert field is not None
    assert 'min="1"' in field.group(1) and 'max="32"' in field.group(1)
    assert 'value="4"' in field.group(1)
    page = budi.post(
        f"/approvals/{run_id}/send", data={"csrf_token": csrf_of(plan), "concurrency": "7"}
    )
    assert page.status_code == 200 and "at most 7" in page.text
    job = web.app.state.web.jobs[run_id]
    assert job.options.sending.concurrency == 7
    assert job.thread is not None
    job.thread.join(timeout=60)
    assert job.snapshot()["error"] == "" and job.snapshot()["done"] == 3


@pytest.mark.parametrize("raw", ["0", "33", "-1", "4.5", "four", "9" * 5000])
def test_web_send_concurrency_out_of_bounds_sends_nothing(
    web: Web, tmp_path: Path, raw: str
) -> None:
    budi, run_id = _approved_run(web, tmp_path)
    token = csrf_of(budi.get(f"/approvals/{run_id}").text)
    refused = budi.post(f"/approvals/{run_id}/send", data={"csrf_token": token, "concurrency": raw})
    assert refused.status_code == 400
    assert page_error(refused.text).startswith("error: concurrency ")
    assert "from 1 to 32" in page_error(refused.text)
    assert web.app.state.web.jobs == {}
    rows = service.report_runs(Target(), run_id=run_id)[0][1]
    assert {r.state for r in rows} == {"PLANNED"}
