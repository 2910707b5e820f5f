"""Benchmark: upload + validation of a 100,000-row XLSX through the web app ÷ `batchpay
validate` on the same file (issue 15).

The sheet is datagen's payout-link bonus sheet (~1% bad rows) as Excel writes it. The web
side is the app as a user runs it: ``batchpay serve`` in its own process on 127.0.0.1 (a
maker made by ``batchpay users add``, ``BATCHPAY_HOME`` in a temporary directory), logged
in with ``requests`` through the login form; the time runs from the start of the multipart
POST of the file to the last byte of the check page it redirects to (the server has stored
the file, validated it, written the validation workbook and rendered the page). The
baseline is a fresh ``batchpay validate FILE`` process (start-up included, its report
workbook written), as a user at a terminal waits for it. Best of ``--repeat``, the two
interleaved (the machine is shared). Target: web ÷ validate ≤ 1.5.

    .venv/bin/python benchmarks/web_upload.py [--rows 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Report, batchpay, run_child, summary_arg
from _web import add_user, csrf_of, login, serve_process
from datagen import write_payout_link_xlsx

TARGET = 1.5
PASSWORD = "bench-maker-pw-1"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def web_check(base: str, session: object, path: Path) -> tuple[float, int, str]:
    """One upload: seconds from the POST's start to the check page's last byte, the page's
    size in bytes, and its verdict line."""
    import requests

    assert isinstance(session, requests.Session)
    token = csrf_of(session.get(base + "/upload", timeout=30).text)
    with path.open("rb") as fh:
        started = time.perf_counter()
        response = session.post(
            base + "/upload",
            data={"csrf_token": token, "kind": ""},
            files={"file": (path.name, fh, XLSX)},
            timeout=600,
        )
        body = response.content
        seconds = time.perf_counter() - started
    page = body.decode("utf-8", "replace")
    if response.status_code != 200 or "/checks/" not in response.url or 'id="verdict"' not in page:
        raise SystemExit(f"the upload did not end on a check page: HTTP {response.status_code}")
    verdict = page.split('id="verdict">', 1)[1].split("</p>", 1)[0]
    return seconds, len(body), verdict


def validate(path: Path, env: dict[str, str], cwd: Path) -> float:
    run = run_child(batchpay("validate", str(path)), cwd=cwd, env=env)
    if run.returncode != 1 or "NOT VALID" not in run.stdout:
        raise SystemExit(f"validate did not report the bad rows (exit {run.returncode})")
    return run.seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="best of N (default 3)")
    summary_arg(parser)
    args = parser.parse_args()
    report = Report("web upload: a 100,000-row XLSX checked through `batchpay serve`")
    with tempfile.TemporaryDirectory(prefix="batchpay-bench-web-upload-") as tmp:
        root = Path(tmp)
        path = write_payout_link_xlsx(root / "bonus.xlsx", args.rows)
        env = {k: v for k, v in os.environ.items() if not k.startswith("BATCHPAY_")}
        env["BATCHPAY_HOME"] = str(root / "home")
        add_user("siti", "maker", PASSWORD, env=env, cwd=root)
        web_times: list[float] = []
        cli_times: list[float] = []
        with serve_process(env=env, cwd=root, log=root / "serve.log") as base:
            session = login(base, "siti", PASSWORD)
            validate(path, env, root)  # warm the page cache for both
            for _ in range(args.repeat):
                seconds, size, verdict = web_check(base, session, path)
                web_times.append(seconds)
                cli_times.append(validate(path, env, root))
        mb = path.stat().st_size / 1e6
    web, cli = min(web_times), min(cli_times)
    rows = f"{args.rows:,}"
    report.add(f"XLSX {rows} rows ({mb:.1f} MB): batchpay validate process", cli, "s")
    report.add("  web: POST upload → check page received", web, "s", note=verdict[:60])
    report.add("  ratio web ÷ validate", web / cli, "×", target=TARGET)
    report.add("  check page size (info)", size / 1e3, "kB")
    print("web runs:", ", ".join(f"{t:.2f}" for t in web_times), "s")
    print("validate runs:", ", ".join(f"{t:.2f}" for t in cli_times), "s")
    return report.finish(args.summary)


if __name__ == "__main__":
    raise SystemExit(main())
