"""Several worker processes on one run (issue 14; docs/safety.md §10).

* :func:`work_run` — ``batchpay work RUN_ID``: on any machine that points at the run's
  journal, check the release as ``send`` does (an APPROVED run: status, digest recomputed,
  approvals) or the input as ``resume`` does (an OPEN run), then work beside the others
  (:func:`batchpay.runs.workers.work`). No workbook: whoever started the workers writes it.
* :func:`send_with_workers` — ``batchpay send RUN_ID --workers N``: the caller
  (:func:`batchpay.runs.sending.send`) did the release check, the balances and the ``send``
  event; this holds the run shared, starts N ``python -m batchpay work`` processes, shows
  their aggregate progress from the journal, stops them on Ctrl-C, and returns once they end.

The children get the journal location (a PostgreSQL URL may hold a password) and the DOKU
credentials through their environment, never their command line (``ps`` shows it to anyone).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from batchpay.doku import open_gateway
from batchpay.journal import Journal, RunRecord, utc_now
from batchpay.runs.checks import check_input
from batchpay.runs.engine import Halt
from batchpay.runs.environment import settings_for_run
from batchpay.runs.execute import RunResult
from batchpay.runs.options import SendOptions
from batchpay.runs.progress import Progress
from batchpay.runs.release import check_release, journal_for
from batchpay.runs.workers import LeaseLost, WorkerOptions, work
from batchpay.states import OPEN, RunStatus

if TYPE_CHECKING:
    from batchpay.config import Settings
    from batchpay.policy import ApprovalPolicy

# How often the parent reads the journal's per-state counts for its progress bar.
POLL = 0.5


def work_run(
    run_id: str,
    options: SendOptions,
    *,
    worker: WorkerOptions | None = None,
    input_path: Path | None = None,
    progress: Progress,
    stop: threading.Event | None = None,
    now: datetime | None = None,
    policy: ApprovalPolicy | None = None,
) -> RunResult:
    """``batchpay work``: refuse a run that may not be sent (an APPROVED run's release, an OPEN
    run's input file), then work on it beside the other workers."""
    journal = journal_for(options.target)
    run = journal.run(run_id)
    if run.status == RunStatus.OPEN:
        check_input(run, input_path)
    else:
        check_release(journal, run, now=now or utc_now(), policy=policy)
    settings, journal, run = settings_for_run(run_id, options.target, progress.note)
    progress.opened(run)
    with open_gateway(settings) as gateway:
        progress.sending(run, total=0, desc="Working")
        result = work(
            journal,
            gateway.client,
            run_id,
            options=options.sending.engine(),
            worker=worker,
            progress=progress,
            stop=stop,
        )
        progress.sent()
    if result.halt is not None and result.halt.reason == "lease-lost":
        raise LeaseLost(
            result.halt.message,
            hint="the other workers resolve its rows (look-up or identical replay); "
            "nothing is paid twice",
        )
    # The whole run as the journal has it now (this worker ended: the rest is its own
    # unresolved rows, if any, or other workers' finished ones).
    result.rows = list(journal.iter_rows(run_id, data=False, body=False))
    return result


def send_with_workers(
    journal: Journal,
    run: RunRecord,
    settings: Settings,
    url: str,
    options: SendOptions,
    *,
    workers: int,
    worker: WorkerOptions,
    progress: Progress,
    stop: threading.Event,
) -> RunResult:
    """Run ``workers`` worker processes on ``run`` (released and journaled ``send`` by the
    caller) until they end; the run is finished when no open row is left."""
    run_id = run.run_id
    before = sum(r.sends for r in journal.iter_rows(run_id, data=False, body=False))
    halt: Halt | None = None
    with journal.lock(run_id, shared=True), tempfile.TemporaryDirectory() as logs:
        children = [
            _spawn(run_id, settings, url, options, worker, Path(logs) / f"worker-{i}.log")
            for i in range(workers)
        ]
        try:
            _watch(journal, run_id, children, progress, stop)
        finally:
            _stop_all(children)
        failures = [_failure(i, proc, log) for i, (proc, log) in enumerate(children)]
        for text in filter(None, failures):
            progress.note(text, warning=True)
        if stop.is_set():
            halt = Halt("interrupted", "stopped by the operator (Ctrl-C)")
            journal.add_event(run_id, "interrupted", f"send --workers {workers}: {halt.message}")
    left = journal.rows(run_id, states=OPEN, data=False, limit=1)
    if not left:
        journal.finish_run(run_id)  # a worker that died left nothing: the others took over
    elif halt is None and any(failures):
        halt = Halt("error", next(filter(None, failures)) or "a worker failed")
    after = sum(r.sends for r in journal.iter_rows(run_id, data=False, body=False))
    return RunResult(run=journal.run(run_id), rows=[], sends=after - before, halt=halt)


def child_environment(settings: Settings, url: str) -> dict[str, str]:
    """A worker's environment: the journal and DOKU of this process (secrets stay out of
    argv)."""
    env = dict(os.environ)
    env.update(
        BATCHPAY_LEDGER=str(settings.ledger),
        BATCHPAY_ENV=settings.env,
        BATCHPAY_BASE_URL=url,
        BATCHPAY_CLIENT_ID=settings.client_id,
        BATCHPAY_SECRET_KEY=settings.secret_key.reveal(),
    )
    return env


def _spawn(
    run_id: str,
    settings: Settings,
    url: str,
    options: SendOptions,
    worker: WorkerOptions,
    log: Path,
) -> tuple[subprocess.Popen[bytes], Path]:
    args = [sys.executable, "-m", "batchpay", "work", run_id, "--quiet"]
    args += ["--concurrency", str(options.sending.concurrency), "--lease", str(worker.lease)]
    if options.sending.rate:
        args += ["--rate", str(options.sending.rate)]
    if options.target.env_file:
        args += ["--env-file", str(options.target.env_file)]
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            args, env=child_environment(settings, url), stdout=subprocess.DEVNULL, stderr=out
        )
    return proc, log


def _watch(
    journal: Journal,
    run_id: str,
    children: list[tuple[subprocess.Popen[bytes], Path]],
    progress: Progress,
    stop: threading.Event,
) -> None:
    """Aggregate progress from the journal until every child ended (or Ctrl-C)."""
    template = journal.rows(run_id, data=False, limit=1)[0]
    stub = replace(template, amount_minor=0, body=b"")
    seen = _done_counts(journal, run_id)
    while any(proc.poll() is None for proc, _ in children):
        if stop.wait(POLL):
            return
        now = _done_counts(journal, run_id)
        for state, n in now.items():
            for _ in range(max(0, n - seen.get(state, 0))):
                progress.row_done(stub, state)
        seen = now


def _done_counts(journal: Journal, run_id: str) -> dict[str, int]:
    return {s: n for s, n in journal.state_counts(run_id).items() if s not in OPEN}


def _stop_all(children: list[tuple[subprocess.Popen[bytes], Path]], grace: float = 60.0) -> None:
    """SIGINT each live child (it stops cleanly, as on Ctrl-C) and wait; SIGKILL after
    ``grace`` seconds (their rows are then taken over by the lease rules)."""
    import signal

    for proc, _ in children:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
    deadline = time.monotonic() + grace
    for proc, _ in children:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _failure(i: int, proc: subprocess.Popen[bytes], log: Path) -> str | None:
    """What went wrong with worker ``i``, if anything: exit 0 (done), exit 1 with no error
    (rows it could not resolve, listed in the summary), or Ctrl-C are not failures."""
    last = _tail(log)
    if proc.returncode in (0, -2, 130) or (proc.returncode == 1 and "error:" not in last):
        return None
    return f"worker {i + 1} exited with code {proc.returncode}: {last or '(no message)'}"


def _tail(log: Path) -> str:
    with open(log, "rb") as f:
        lines = [x for x in f.read()[-4000:].decode(errors="replace").splitlines() if x.strip()]
    errors = [x for x in lines if x.startswith("error:")]
    return (errors or lines or [""])[-1]
