"""One holder per run: an exclusive ``flock`` that the kernel drops when the process dies
(``flock`` is POSIX only and not reliable on NFS — keep the journal on local disk). Workers of
one run (``batchpay work``, ``send --workers``) hold it *shared*: any number of them together,
never beside an exclusive holder (``run``, ``resume``, a single-process ``send``)."""

from __future__ import annotations

import fcntl
import json
import os
import socket
from pathlib import Path

from batchpay.errors import RunLocked
from batchpay.journal.identities import Clock, iso, utc_now
from batchpay.journal.sqlite import perms
from batchpay.journal.sqlite.faults import storage_faults


class RunLock:
    """An exclusive, process-scoped lock on one run: ``flock`` on
    ``<journal>.locks/<run_id>.lock``. The kernel releases it when the process exits or is
    killed, so there is no stale-lock clean-up (docs/safety.md: a second process on the same run
    exits before sending anything)."""

    def __init__(
        self,
        journal_path: str | os.PathLike[str],
        run_id: str,
        *,
        clock: Clock = utc_now,
        shared: bool = False,
    ) -> None:
        base = Path(journal_path)
        self.journal_path = base
        self.path = base.with_name(base.name + ".locks") / f"{run_id}.lock"
        self.run_id = run_id
        self.clock = clock
        self.shared = shared
        self._fd: int | None = None

    def acquire(self) -> None:
        # The lock file sits beside the journal: a read-only or full disk is the journal's.
        # In a group-shared folder the lock folder and files are the group's too (perms).
        with storage_faults(self.journal_path, f"locking run {self.run_id}"):
            perms.ensure_dir(self.path.parent)
            fd = perms.open_lock_file(self.path)
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if self.shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise RunLocked(
                f"run {self.run_id} is in use by another batchpay process ({holder})",
                hint="wait for it to finish; if that process is gone, the lock frees itself — "
                "nothing was sent by this one",
            ) from None
        self._fd = fd
        try:
            with storage_faults(self.journal_path, f"locking run {self.run_id}"):
                os.ftruncate(fd, 0)
                os.write(
                    fd,
                    json.dumps(
                        {
                            "pid": os.getpid(),
                            "host": socket.gethostname(),
                            "since": iso(self.clock()),
                            "mode": "workers" if self.shared else "exclusive",
                        }
                    ).encode(),
                )
        except BaseException:
            self.release()
            raise

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _read_holder(fd: int) -> str:
    try:
        data = json.loads(os.pread(fd, 4096, 0) or b"{}")
        who = f"pid {data.get('pid')} on {data.get('host')} since {data.get('since')}"
        return f"workers, e.g. {who}" if data.get("mode") == "workers" else who
    except (OSError, ValueError):
        return "holder unknown"
