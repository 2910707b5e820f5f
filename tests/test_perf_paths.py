"""Issue 12's fast paths keep their promises: the next row's SENDING intent is journaled
while the current request is on the wire, yet every request leaves only after its own intent
is on disk, and a row taken ahead that is never sent goes back to PLANNED; a CSV read with
pyarrow's parallel chunker gives the same cells as the careful readers, multi-line cells
included."""

from __future__ import annotations

import csv
import io
import itertools
import threading
from pathlib import Path
from typing import Any

import pytest
import requests

from batchpay import runs
from batchpay.doku import make_session
from batchpay.doku.client import DokuClient
from batchpay.emulator import EMULATOR_CLIENT_ID, EMULATOR_SECRET_KEY
from batchpay.journal import RowRecord
from batchpay.journal.sqlite import SqliteJournal
from batchpay.sheet import csvfile, load_sheet
from batchpay.states import State
from tests.helpers.runs import Harness, payout_link_rows

ROWS = 12


class _IntentWitness(requests.adapters.HTTPAdapter):
    """The edge of the wire: before each request leaves, a separate connection to the
    journal file (it sees committed data only) must find the row with that Request-Id
    SENDING."""

    def __init__(self, ledger: Path, inner: requests.adapters.BaseAdapter) -> None:
        super().__init__()
        self.ledger = ledger
        self.inner = inner
        self.seen: list[tuple[str, str]] = []

    def send(self, request: requests.PreparedRequest, **kw: Any) -> requests.Response:
        request_id = str(request.headers.get("Request-Id"))
        if request.url and request.url.endswith("/v1/payout/initiate"):
            reader = SqliteJournal(self.ledger, read_only=True)
            (run,) = reader.runs()
            state = next(r.state for r in reader.rows(run.run_id) if r.request_id == request_id)
            self.seen.append((request_id, state))
        return self.inner.send(request, **kw)

    def close(self) -> None:
        self.inner.close()


def _witnessed_client(url: str, ledger: Path) -> tuple[DokuClient, _IntentWitness]:
    session = make_session(trust_env=False)
    witness = _IntentWitness(ledger, session.get_adapter(url))
    session.mount(url, witness)
    client = DokuClient(
        base_url=url,
        client_id=EMULATOR_CLIENT_ID,
        secret_key=EMULATOR_SECRET_KEY,
        session=session,
        timeout=(2.0, 5.0),
    )
    return client, witness


def test_engine_taking_ahead_every_request_leaves_after_its_own_intent_is_on_disk(
    harness: Harness,
) -> None:
    run = harness.start(harness.sheet("bonus.csv", payout_link_rows(ROWS)))
    client, witness = _witnessed_client(harness.emulator.url, harness.ledger.path)
    try:
        result = harness.execute(run.run_id, client=client, concurrency=1)
    finally:
        client.session.close()
    assert {r.state for r in result.rows} == {State.PENDING}
    assert len(witness.seen) == ROWS
    assert {state for _, state in witness.seen} == {State.SENDING}
    # The pipelining is real: row n+1's intent is journaled before row n's outcome (it was
    # committed while row n's request was on the wire).
    events = harness.ledger.events(run.run_id)
    first = {(e.row_number, e.type): e.seq for e in reversed(events) if e.row_number}
    numbers = sorted({e.row_number for e in events if e.row_number})
    for a, b in itertools.pairwise(numbers):
        assert first[(b, "send")] < first[(a, "outcome")], (a, b)


class _StopAfter:
    """Progress that asks the engine to stop once ``n`` rows are done."""

    def __init__(self, n: int, stop: threading.Event) -> None:
        self.n, self.stop, self.done = n, stop, 0

    def row_done(self, row: RowRecord, state: str) -> None:
        self.done += 1
        if self.done >= self.n:
            self.stop.set()


def test_engine_stop_puts_the_row_taken_ahead_back_to_planned_then_resume_pays_once(
    harness: Harness,
) -> None:
    rows = payout_link_rows(ROWS)
    run = harness.start(harness.sheet("bonus.csv", rows))
    stop = threading.Event()
    first = runs.execute(
        harness.ledger,
        harness.client,
        run.run_id,
        options=harness.options(concurrency=1),
        progress=_StopAfter(3, stop),
        stop=stop,
        sleep=harness.sleep,
    )
    assert first.interrupted
    states = [r.state for r in harness.ledger.rows(run.run_id)]
    sent = [s for s in states if s == State.PENDING]
    assert State.SENDING not in states and State.UNKNOWN not in states, states
    assert len(sent) == harness.executed()["count"] == first.sends
    events = harness.ledger.events(run.run_id)
    back = [e for e in events if e.old_state == State.SENDING and e.new_state == State.PLANNED]
    assert len(back) <= 1 and all("not sent" in e.detail for e in back), back
    again = harness.resume(run.run_id, concurrency=1)
    assert {r.state for r in again.rows} == {State.PENDING}
    assert harness.executed()["count"] == ROWS


@pytest.mark.parametrize("block", [64, 1000])
def test_csv_arrow_read_multi_line_cells_across_blocks_same_cells_as_csv_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    """Small blocks put many quoted line breaks on block boundaries: pyarrow's parallel
    chunker refuses them and the quote-aware one reads them — never a cut cell."""
    monkeypatch.setattr(csvfile, "BLOCK_SIZE", block)
    rows = [["Name", "Note", "Amount"]]
    rows += [[f"Siti {i}", f"line one\nline, two {i}\nthree", str(i)] for i in range(1, 300)]
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    path = tmp_path / "notes.csv"
    path.write_text(out.getvalue(), encoding="utf-8", newline="")
    raw = load_sheet(path)
    assert raw.headers == rows[0]
    assert raw.frame.to_numpy().tolist() == rows[1:]


def test_csv_arrow_read_multi_line_cell_inside_one_block_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "notes.csv"
    path.write_text('Name,Note\nSiti,"a\nb"\nBudi,c\n', encoding="utf-8", newline="")
    raw = load_sheet(path)
    assert raw.frame.to_numpy().tolist() == [["Siti", "a\nb"], ["Budi", "c"]]
    assert raw.row_numbers == [2, 3]
