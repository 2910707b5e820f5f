"""The engine-neutral group-commit writer (batchpay/journal/groupcommit.py): batching up to
``max_batch`` oldest first, a refused change failing alone inside its batch, a storage fault
failing the rest of the batch with one JournalError naming only those rows, no future done
before its transaction committed, and close committing what is still queued — first on an
in-memory engine, then on both real engines."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from pathlib import Path

import pytest

from batchpay.errors import IllegalTransition, JournalError
from batchpay.journal import RowChange, open_journal
from batchpay.journal.groupcommit import ApplyOne, GroupCommitWriter
from batchpay.journal.postgres import PostgresJournal
from batchpay.journal.sqlite import SqliteJournal
from batchpay.states import State
from tests.test_journal import _run


class MemoryWriter(GroupCommitWriter):
    """An engine whose "storage" is a list: a change with event "refuse" is refused, one with
    event "fault" breaks the transaction."""

    def __init__(self, *, max_batch: int = 256) -> None:
        self.transactions: list[list[int]] = []  # committed row numbers, per transaction
        self.watched: list[Future[None]] = []  # futures that must not be done before commit
        self.done_at_commit: list[bool] = []
        self.closed_after: int | None = None
        super().__init__(max_batch=max_batch)

    @contextlib.contextmanager
    def _transaction(self, changes: Sequence[RowChange]) -> Iterator[ApplyOne]:
        applied: list[int] = []

        def apply_one(change: RowChange) -> BaseException | None:
            if change.event == "refuse":
                return IllegalTransition(f"row {change.row_number} refused")
            if change.event == "fault":
                raise OSError("disk on fire")
            applied.append(change.row_number)
            return None

        yield apply_one
        self.done_at_commit.extend(f.done() for f in self.watched)
        self.transactions.append(applied)

    def _journal_error(self, exc: Exception, *, doing: str, then: str) -> JournalError | None:
        if not isinstance(exc, OSError):
            return None
        return JournalError(f"the journal failed {doing}: {exc}", path="mem", hint=then)

    def _close_connection(self) -> None:
        self.closed_after = len(self.transactions)


def _change(row: int, event: str = "send") -> RowChange:
    return RowChange("R1", row, State.SENDING, event)


def test_groupcommit_batches_at_most_max_batch_oldest_first() -> None:
    with MemoryWriter(max_batch=2) as writer:
        writer.commit_all([_change(r) for r in range(2, 7)])
        assert writer.transactions == [[2, 3], [4, 5], [6]]
        assert writer.commits == 3


def test_groupcommit_refused_change_fails_alone_rest_of_its_batch_commits() -> None:
    with MemoryWriter() as writer:
        with pytest.raises(IllegalTransition, match="row 3 refused"):
            writer.commit_all([_change(2), _change(3, "refuse"), _change(4)])
        assert writer.transactions == [[2, 4]] and writer.commits == 1


def test_groupcommit_fault_fails_rest_of_batch_refusal_kept_error_names_only_them() -> None:
    writer = MemoryWriter()
    with writer._commit_lock:  # a transaction is being written: these queue up together
        futures = [
            writer.submit(_change(2, "refuse")),
            writer.submit(_change(3)),
            writer.submit(_change(4, "fault")),
            writer.submit(_change(5)),
        ]
    with pytest.raises(IllegalTransition):
        futures[0].result(5)
    errors = [f.exception(5) for f in futures[1:]]
    writer.close()
    assert all(isinstance(e, JournalError) for e in errors) and len({id(e) for e in errors}) == 1
    error = errors[0]
    assert isinstance(error, JournalError)
    assert "journaling run R1 row(s) 3 → SENDING, 4 → SENDING, 5 → SENDING" in str(error)
    assert "2 → SENDING" not in str(error)
    assert "`batchpay resume R1`" in (error.hint or "")
    assert isinstance(error.__cause__, OSError)
    assert writer.transactions == [] and writer.commits == 0


def test_groupcommit_no_future_done_before_its_transaction_committed() -> None:
    writer = MemoryWriter()
    with writer._commit_lock:
        writer.watched = [writer.submit(_change(r)) for r in range(2, 6)]
    for future in writer.watched:
        future.result(5)
    writer.close()
    assert writer.done_at_commit == [False] * 4


def test_groupcommit_close_commits_what_is_queued_then_refuses_changes() -> None:
    writer = MemoryWriter(max_batch=1)
    futures = [writer.submit(_change(r)) for r in range(2, 5)]
    writer.close()
    writer.close()  # idempotent
    assert all(f.done() and f.exception() is None for f in futures)
    assert writer.transactions == [[2], [3], [4]] and writer.closed_after == 3
    with pytest.raises(RuntimeError, match="journal writer is closed"):
        writer.submit(_change(5))


# --- on both engines ----------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgres"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        return str(request.getfixturevalue("pg_url"))
    return str(tmp_path / "ledger.sqlite")


def test_writer_refused_change_fails_alone_in_one_transaction(location: str) -> None:
    ledger = open_journal(location, create=True)
    run_id = _run(ledger, 3)
    with ledger.writer() as journal:
        with pytest.raises(IllegalTransition):
            journal.commit_all(
                [
                    RowChange(run_id, 2, State.SENDING, "send", count_send=True),
                    RowChange(run_id, 3, "COMPLETED", "outcome"),  # PLANNED → COMPLETED
                    RowChange(run_id, 4, State.SENDING, "send", count_send=True),
                ]
            )
        assert journal.commits == 1
    rows = open_journal(location).rows(run_id)
    assert [(r.state, r.sends) for r in rows] == [
        (State.SENDING, 1),
        (State.PLANNED, 0),
        (State.SENDING, 1),
    ]


def test_writer_batches_in_order_and_close_commits_the_queue(location: str) -> None:
    ledger = open_journal(location, create=True)
    run_id = _run(ledger, 2)
    assert isinstance(ledger, SqliteJournal | PostgresJournal)
    journal = ledger.writer(max_batch=2)
    journal.commit_all(
        [
            RowChange(run_id, 2, State.SENDING, "send", count_send=True),
            RowChange(run_id, 2, "PENDING", "outcome"),
            RowChange(run_id, 2, "COMPLETED", "status-check"),
        ]
    )
    assert journal.commits == 2
    queued = journal.submit(RowChange(run_id, 3, State.NOT_SENT, "not-sent"))
    journal.close()
    assert queued.done() and queued.exception() is None
    assert [r.state for r in open_journal(location).rows(run_id)] == ["COMPLETED", State.NOT_SENT]
