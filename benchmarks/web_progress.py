"""Benchmark: live progress of a 10,000-row Payout Link send through the web app (issue 15:
"during a 10,000-row send the progress on the page updates at least once a second").

The whole web flow, as users run it: ``batchpay serve`` in its own process on 127.0.0.1,
pointed at ``batchpay emulator`` (its own process) by the environment a user sets; a maker
and an approver made by ``batchpay users add``. The maker uploads a clean 10,000-row sheet
and submits it; the approver approves it by typing its total and sends it; then the
approver's progress stream (``GET /runs/ID/events``, server-sent events, read with
``requests`` as it arrives) is timed event by event. Measured while the run is sending
(from the first event that knows the run's size to the last one before ``finished``): the
largest gap between consecutive events (target ≤ 1.0 s), its 99th percentile, the number of
events and how many of them moved the count. At the end the journal and the emulator must
agree: every row paid exactly once.

    .venv/bin/python benchmarks/web_progress.py [--rows 10000] [--latency-ms 0]
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Report, emulator_process, summary_arg
from _runs import run_env
from _web import add_user, csrf_of, login, serve_process
from datagen import write_clean_payout_link_csv

from batchpay.emulator.admin import EmulatorAdmin

GAP_TARGET = 1.0
PASSWORDS = {"siti": "bench-maker-pw-1", "budi": "bench-approver-pw-2"}
TAKEN = ("SUCCESS", "PENDING", "EMAIL_SENT", "COMPLETED")


def submit(base: str, sheet: Path) -> str:
    """The maker uploads the sheet and submits it; the run's id."""
    siti = login(base, "siti", PASSWORDS["siti"])
    token = csrf_of(siti.get(base + "/upload", timeout=30).text)
    with sheet.open("rb") as fh:
        check = siti.post(
            base + "/upload",
            data={"csrf_token": token, "kind": ""},
            files={"file": (sheet.name, fh, "text/csv")},
            timeout=600,
        )
    if "valid: " not in check.text or "/checks/" not in check.url:
        raise SystemExit(f"the sheet was not valid on the web: HTTP {check.status_code}")
    submitted = siti.post(
        check.url + "/submit",
        data={"csrf_token": csrf_of(check.text)},
        allow_redirects=False,
        timeout=600,
    )
    location = submitted.headers.get("location", "")
    if submitted.status_code != 303 or not location.startswith("/runs/"):
        raise SystemExit(f"submit failed: HTTP {submitted.status_code}")
    return location.removeprefix("/runs/")


def approve_and_send(base: str, run_id: str) -> object:
    budi = login(base, "budi", PASSWORDS["budi"])
    plan = budi.get(f"{base}/approvals/{run_id}", timeout=600)
    totals = re.findall(r'<dd class="total">([^<]*)</dd>', plan.text)
    if len(totals) != 1:
        raise SystemExit(f"expected one total on the plan, found {totals}")
    typed = re.sub(r"\D", "", totals[0])
    approved = budi.post(
        f"{base}/approvals/{run_id}/approve",
        data={"csrf_token": csrf_of(plan.text), "total": typed},
        timeout=600,
    )
    if "Approved: the run can be sent." not in approved.text:
        raise SystemExit(f"approve failed: HTTP {approved.status_code}")
    sent = budi.post(
        f"{base}/approvals/{run_id}/send",
        data={"csrf_token": csrf_of(approved.text)},
        allow_redirects=False,
        timeout=600,
    )
    if sent.status_code != 303:
        raise SystemExit(f"send failed: HTTP {sent.status_code}")
    return budi


def follow(base: str, session: object, run_id: str) -> list[tuple[float, dict[str, object]]]:
    """Every progress event with the moment it arrived, until the one that says finished."""
    import requests

    assert isinstance(session, requests.Session)
    seen: list[tuple[float, dict[str, object]]] = []
    with session.get(f"{base}/runs/{run_id}/events", stream=True, timeout=60) as response:
        if response.status_code != 200:
            raise SystemExit(f"events: HTTP {response.status_code}")
        for line in response.iter_lines(chunk_size=1, decode_unicode=True):
            if line and line.startswith("data: "):
                seen.append((time.perf_counter(), json.loads(line[6:])))
    if not seen or not seen[-1][1]["finished"]:
        raise SystemExit("the event stream ended before the send finished")
    return seen


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def paid_once(ledger: Path, url: str, run_id: str, rows: int) -> str:
    """The journal's rows of the run are all taken by DOKU, one request each, and the
    emulator executed exactly those references once."""
    conn = sqlite3.connect(ledger)
    try:
        states = dict(
            conn.execute(
                "SELECT state, COUNT(*) FROM rows WHERE run_id=? GROUP BY state", (run_id,)
            ).fetchall()
        )
        # Per row: its SENDING intents (the run's own "send" event has no row number).
        sends, most = conn.execute(
            "SELECT COUNT(*), COALESCE(MAX(n), 0) FROM (SELECT COUNT(*) AS n FROM events "
            "WHERE type='send' AND run_id=? AND row_number IS NOT NULL GROUP BY row_number)",
            (run_id,),
        ).fetchone()
    finally:
        conn.close()
    executed = EmulatorAdmin(url).executed()
    problems = []
    if sum(states.values()) != rows or any(s not in TAKEN for s in states):
        problems.append(f"journal states {states}")
    if sends != rows or most != 1:
        problems.append(f"{sends} rows sent for {rows} (at most {most} intents per row)")
    if executed["count"] != rows or executed["max_per_reference"] != 1:
        problems.append(
            f"emulator executed {executed['count']} (max {executed['max_per_reference']} per "
            "reference)"
        )
    if problems:
        raise SystemExit("journal and DOKU disagree: " + "; ".join(problems))
    return ", ".join(f"{s} {n:,}" for s, n in sorted(states.items()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--latency-ms", type=int, default=0, help="the emulator's latency")
    parser.add_argument("--timeline", action="store_true", help="print every event")
    summary_arg(parser)
    args = parser.parse_args()
    report = Report(f"web progress: server-sent events during a {args.rows:,}-row send")
    with tempfile.TemporaryDirectory(prefix="batchpay-bench-web-progress-") as tmp:
        root = Path(tmp)
        ledger = root / "ledger.sqlite3"
        sheet = write_clean_payout_link_csv(root / "bonus.csv", args.rows, prefix="WEB")
        with emulator_process(latency_ms=args.latency_ms) as (url, _):
            env = run_env(url, root, ledger)
            for name, role in (("siti", "maker"), ("budi", "approver")):
                add_user(name, role, PASSWORDS[name], env=env, cwd=root)
            with serve_process(env=env, cwd=root, log=root / "serve.log") as base:
                run_id = submit(base, sheet)
                budi = approve_and_send(base, run_id)
                events = follow(base, budi, run_id)
            paid = paid_once(ledger, url, run_id, args.rows)
    last = events[-1][1]
    if last["error"] or last["done"] != args.rows:
        raise SystemExit(f"the send did not complete: {last}")
    # While sending: from the first event that knows the run's size to the finished one
    # (the rows, then the run's workbook written after the last row).
    start = next(i for i, (_, e) in enumerate(events) if e["total"])
    sending = events[start:]
    pairs = list(itertools.pairwise(sending))
    gaps = [b[0] - a[0] for a, b in pairs]
    # The count's own cadence, while rows are going out: gaps between events that moved it.
    moves = [t for (_, a), (t, b) in pairs if b["done"] != a["done"]]
    last_row = next(t for t, e in sending if e["done"] == args.rows)
    count_gaps = [b - a for a, b in itertools.pairwise([sending[0][0], *moves])]
    seconds = last_row - sending[0][0]
    report.add(
        "rows sending, as seen by the page", seconds, "s", note=f"{args.rows / seconds:,.0f} rows/s"
    )
    wrapping = sum(1 for _, e in sending if e.get("phase") == "writing the run's workbook…")
    report.add(
        "  then until the page says done (workbook)",
        sending[-1][0] - last_row,
        "s",
        note=f"{wrapping} events say the workbook is being written",
    )
    report.add("  events, first with the size → done", len(sending))
    report.add("  events that moved the count", len(moves))
    report.add("  largest gap between events", max(gaps, default=None), "s", target=GAP_TARGET)
    report.add("  99th percentile gap", percentile(gaps, 0.99) if gaps else None, "s")
    report.add(
        "  largest gap between count changes (rows phase)", max(count_gaps, default=None), "s"
    )
    report.add("  rows paid exactly once (journal = DOKU)", args.rows, "rows", note=paid)
    if args.timeline:
        t0 = sending[0][0]
        for t, e in sending:
            print(f"{t - t0:7.2f} s  done {e['done']:>6}  {e['states']}")
    return report.finish(args.summary)


if __name__ == "__main__":
    raise SystemExit(main())
