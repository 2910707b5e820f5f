"""Sending an approved run from the web: :func:`batchpay.runs.approval.send` (the call behind
``batchpay send``) on a thread of its own, with a :class:`SendJob` as its Progress — rows
done, counts by state and the amount DOKU accepted, read by the page's server-sent events.

The thread is not a daemon: stopping ``serve`` lets a send in progress finish its rows
(the engine is bounded) rather than abandoning requests in flight; the journal makes a
second stop safe too (``batchpay send RUN_ID`` continues the run, paying nothing twice)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping
from typing import Any

from batchpay.config import redact
from batchpay.errors import BatchpayError
from batchpay.money import format_minor
from batchpay.runs import approval
from batchpay.runs.options import Sending, SendOptions, Target
from batchpay.states import ACCEPTED

# `batchpay send --concurrency`'s bounds and default (cli/common.py MAX_CONCURRENCY, the
# Sending default); tests/test_web_send_options.py keeps the two surfaces equal.
MIN_CONCURRENCY = 1
MAX_CONCURRENCY = 32
DEFAULT_CONCURRENCY = Sending().concurrency

# Every state DOKU answered with: the request reached DOKU and was taken (the amount sent).
_TAKEN = frozenset(str(s) for s in ACCEPTED)


class SendJob:
    """One web-started send of a run, and its Progress."""

    def __init__(self, run_id: str, by: str, options: SendOptions | None = None) -> None:
        self.run_id = run_id
        self.by = by
        self.options = options or SendOptions()
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self.total = 0
        self.done = 0
        self.states: Counter[str] = Counter()
        self.amounts: Counter[str] = Counter()  # currency -> minor units settled in a state
        self.notes: list[str] = []
        self.phase = "starting…"  # what the page says while not finished
        self.finished = False
        self.error = ""
        self.workbook = ""
        self.thread: threading.Thread | None = None

    # --- Progress --------------------------------------------------------------------------
    def note(self, text: str, *, warning: bool = False) -> None:
        with self._lock:
            self.notes.append(redact(("warning: " if warning else "") + text))

    def planned(self, plan: Any, *, previous: Mapping[int, Any] | None = None) -> None:
        pass

    def opened(self, run: Any) -> None:
        pass

    def created(self, run: Any) -> None:
        pass

    def sending(self, run: Any, *, total: int, desc: str) -> None:
        with self._lock:
            self.total = total
            self.phase = "sending…"

    def row_done(self, row: Any, state: str) -> None:
        with self._lock:
            self.done += 1
            self.states[str(state)] += 1
            if row.amount_minor is not None and str(state) in _TAKEN:
                self.amounts[row.currency] += row.amount_minor

    def polled(self, rows: list[Any]) -> None:
        pass

    def sent(self) -> None:
        # Every row is done; the run's workbook is written next (seconds for a big run), so
        # the page says so rather than a count that stopped moving.
        with self._lock:
            self.phase = "writing the run's workbook…"

    # --- the page's view -------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "run_id": self.run_id,
                "total": self.total,
                "done": self.done,
                "states": dict(sorted(self.states.items())),
                "amount": ", ".join(format_minor(m, c) for c, m in sorted(self.amounts.items())),
                "notes": list(self.notes[-5:]),
                "phase": "done" if self.finished else self.phase,
                "finished": self.finished,
                "error": self.error,
                "workbook": self.workbook,
                "in_flight": self.options.sending.concurrency,
            }

    def run(self, policy: Any) -> None:
        try:
            result = approval.send(
                self.run_id, self.options, progress=self, stop=self.stop, policy=policy
            )
            with self._lock:
                self.workbook = "written" if result.workbook else (result.workbook_error or "")
        except BatchpayError as exc:
            text = f"error: {exc.message}" + (f" — {exc.hint}" if exc.hint else "")
            with self._lock:
                self.error = redact(text)
        except Exception as exc:  # the page must end; the journal holds the truth
            with self._lock:
                self.error = redact(f"internal error: {type(exc).__name__}: {exc}")
        finally:
            with self._lock:
                self.finished = True


def concurrency(raw: str) -> int | str:
    """The send form's concurrency (blank: the CLI's default), or why it is refused — the
    same bounds as ``batchpay send --concurrency``."""
    text = raw.strip()
    if not text:
        return DEFAULT_CONCURRENCY
    if len(text) <= 3 and text.isdecimal() and MIN_CONCURRENCY <= int(text) <= MAX_CONCURRENCY:
        return int(text)
    shown = text if len(text) <= 12 else text[:12] + "…"
    return (
        f"error: concurrency {shown!r} is not a whole number from {MIN_CONCURRENCY} to "
        f"{MAX_CONCURRENCY} — the requests in flight at once, as `batchpay send --concurrency`"
    )


def start(
    jobs: dict[str, SendJob],
    run_id: str,
    by: str,
    target: Target,
    policy: Any,
    *,
    in_flight: int = DEFAULT_CONCURRENCY,
) -> SendJob:
    """The run's send in progress, or a new one started now with ``in_flight`` requests at
    once."""
    job = jobs.get(run_id)
    if job is not None and not job.finished:
        return job
    options = SendOptions(target=target, sending=Sending(concurrency=in_flight))
    job = SendJob(run_id, by, options)
    jobs[run_id] = job
    job.thread = threading.Thread(
        target=job.run, args=(policy,), name=f"batchpay-send-{run_id}", daemon=False
    )
    job.thread.start()
    return job
