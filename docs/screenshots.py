"""Pictures of every kind of workbook for the README, as LibreOffice prints them.

    .venv/bin/python docs/screenshots.py

Builds the workbooks from the samples against an emulator started here (nothing is sent
anywhere else; a temporary journal, nothing in your BATCHPAY_HOME), renders every sheet with
LibreOffice (headless, one call) and writes the first page of each sheet shown below to
``docs/img/<workbook>-<sheet>.png``, cut to the part of the page that holds content:

- the validation report of ``samples/messy-bonus.xlsx``;
- the run workbook of ``samples/bonus-payout-link-endings.csv`` (links that end COMPLETED,
  FAILED and EXPIRED);
- the month report of a month with that run, vendor payouts (one refused for want of
  balance, then paid by a retry), transfers between sub accounts, account creations and a
  dry run of ``samples/bonus-payout-link.csv``;
- the Payout Link template.

Needs ``soffice`` (Debian: libreoffice-calc) and ``pdftoppm`` (poppler-utils).
"""

from __future__ import annotations

import csv
import os
import re
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from batchpay import runs  # noqa: E402
from batchpay.config import load_settings  # noqa: E402
from batchpay.emulator import start_emulator  # noqa: E402
from batchpay.kinds import KINDS  # noqa: E402
from batchpay.runs.paths import write_month_workbook  # noqa: E402
from batchpay.states import FINAL  # noqa: E402
from batchpay.templates import write_template  # noqa: E402
from batchpay.validate import validate_file  # noqa: E402
from batchpay.workbook.validation import write_validation_report  # noqa: E402
from tests.helpers.render import (  # noqa: E402
    Renderer,
    content_box,
    missing_tools,
    pdf_words,
    split_sheets,
    to_png,
)
from tests.helpers.runs import Harness, open_harness  # noqa: E402

SAMPLES = ROOT / "samples"
IMG = ROOT / "docs" / "img"
SKIP_SHEETS = {"Events"}  # the audit trail: long, and nothing to see at a glance
DPI = 110


def _settle(h: Harness, run_id: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        rows = runs.refresh_statuses(h.ledger, h.client, run_id).rows
        if all(r.state in FINAL for r in rows):
            return
        time.sleep(0.25)
    raise SystemExit(f"the links of run {run_id} did not settle in 30 s")


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _fund(h: Harness) -> str:
    """Fund the samples' Sub Accounts: enough for every payout and transfer, except the
    last vendor payout of the second account (refused, then paid by a retry). Returns the
    account to top up before the retry."""
    payouts, transfers = (
        _csv(SAMPLES / "vendor-payouts.csv"),
        _csv(SAMPLES / "sub-account-transfers.csv"),
    )
    need: dict[str, int] = defaultdict(int)
    for row in payouts:
        need[row["account_id"]] += int(row["amount"])
    for row in transfers:
        need[row["origin"]] += int(row["amount"])
    short = payouts[-1]["account_id"]
    need[short] -= int(payouts[-1]["amount"])
    for account, amount in need.items():
        h.admin.fund(account, amount)
    for row in transfers:
        h.admin.fund(row["destination"], 1)  # the emulator knows an account once funded
    return short


def build(h: Harness, out: Path) -> dict[str, Path]:
    books = {
        "validation": write_validation_report(
            validate_file(SAMPLES / "messy-bonus.xlsx"), out / "validation.xlsx"
        ),
        "template": write_template(KINDS["payout-link"], out / "template.xlsx"),
    }
    link = h.run(SAMPLES / "bonus-payout-link-endings.csv")
    _settle(h, link.run.run_id)
    books["run"] = runs.write_workbook(h.ledger, link.run.run_id, out / "run.xlsx")
    short = _fund(h)
    vendors = h.run(SAMPLES / "vendor-payouts.csv", concurrency=1)
    h.admin.fund(short, 100_000_000)
    retry = runs.plan_retry(h.ledger, vendors.run.run_id)
    runs.retry_failed(h.ledger, h.client, retry, options=h.options())
    h.run(SAMPLES / "sub-account-transfers.csv")
    h.run(SAMPLES / "new-sub-accounts.csv")
    dry = h.start(SAMPLES / "bonus-payout-link.csv", dry_run=True)
    runs.dry_run(h.ledger, dry.run_id, load_settings(env="emulator"))
    month = h.ledger.run(link.run.run_id).created_at[:7]
    books["month"] = write_month_workbook(h.ledger, month, out / "month.xlsx")
    return books


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def render(books: dict[str, Path], out: Path) -> list[Path]:
    sheets = [
        (f"{name}-{slug(sheet)}", copy)
        for name, book in books.items()
        for sheet, copy in split_sheets(book, out / "sheets").items()
        if sheet not in SKIP_SHEETS
    ]
    with Renderer() as lo:
        pdfs = lo.to_pdf([copy for _, copy in sheets], out / "pdf")
    for old in IMG.glob("*.png"):
        old.unlink()
    made = []
    for (name, _), pdf in zip(sheets, pdfs, strict=True):
        box = content_box(pdf_words(pdf))
        (page,) = to_png(pdf, out / "png" / name, dpi=DPI, box=box)
        made.append(page.replace(IMG / f"{name}.png"))
    return made


def main() -> int:
    missing = missing_tools()
    if missing:
        print("cannot render: missing " + ", ".join(missing), file=sys.stderr)
        return 1
    IMG.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="batchpay-screenshots-") as tmp:
        out = Path(tmp)
        os.environ["BATCHPAY_HOME"] = str(out / "home")
        emulator = start_emulator(port=0, link_step_seconds=0.2, activation_seconds=0.2)
        try:
            with open_harness(emulator, out) as h:
                books = build(h, out)
        finally:
            emulator.stop()
        for path in render(books, out):
            print(path.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
