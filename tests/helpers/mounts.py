"""Real storage faults for tests: a small tmpfs (a disk that fills up), remounted read-only
(a read-only disk: root ignores file modes, a read-only mount it does not).

Needs root and ``mount`` (CI runs as root). Outside CI a test that cannot mount is skipped;
under ``CI=true`` it FAILS, so the storage-fault proofs can never silently stop running.

    with tmpfs(tmp_path / "disk", size="512k") as disk:
        ...
        filler = fill_up(disk)          # the disk is full now
        filler.unlink()                  # space again
        with read_only(disk):            # remount,ro … remount,rw
            ...
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, check=False, timeout=30)


@functools.cache
def _mount_problem() -> str | None:
    """None when this process can mount a tmpfs, else why not."""
    if os.name != "posix" or os.geteuid() != 0:
        return "mounting a tmpfs needs root"
    if not shutil.which("mount") or not shutil.which("umount"):
        return "no mount/umount binary"
    probe = Path(tempfile.mkdtemp(prefix="batchpay-mount-probe-"))
    try:
        done = _run("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(probe))
        if done.returncode != 0:
            return f"mount -t tmpfs failed: {done.stderr.strip()}"
        _run("umount", str(probe))
        return None
    finally:
        with contextlib.suppress(OSError):
            probe.rmdir()


def require_mounts() -> None:
    """Skip (outside CI) or fail (CI=true) when tmpfs mounts are not possible here."""
    problem = _mount_problem()
    if problem is None:
        return
    if in_ci():
        pytest.fail(f"storage-fault test cannot mount under CI: {problem}")
    pytest.skip(f"cannot mount a tmpfs: {problem}")


def _umount(where: Path) -> None:
    if _run("umount", str(where)).returncode != 0:
        # Something (a connection a failed test left open) still holds a file: detach lazily.
        _run("umount", "-l", str(where))


@contextlib.contextmanager
def tmpfs(where: Path, *, size: str = "512k") -> Iterator[Path]:
    """Mount a fresh tmpfs of ``size`` at ``where`` (created if missing) for the block."""
    require_mounts()
    where.mkdir(parents=True, exist_ok=True)
    done = _run("mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(where))
    if done.returncode != 0:
        pytest.fail(f"mount -t tmpfs at {where} failed: {done.stderr.strip()}")
    try:
        yield where
    finally:
        _umount(where)


def remount(where: Path, *, read_only: bool) -> None:
    done = _run("mount", "-o", "remount,ro" if read_only else "remount,rw", str(where))
    if done.returncode != 0:
        pytest.fail(f"remount of {where} failed: {done.stderr.strip()}")


@contextlib.contextmanager
def read_only(where: Path) -> Iterator[Path]:
    """``where`` (a mount point from :func:`tmpfs`) read-only for the block, then writable."""
    remount(where, read_only=True)
    try:
        yield where
    finally:
        remount(where, read_only=False)


def fill_up(where: Path, *, name: str = "filler.bin") -> Path:
    """Write a file in ``where`` until its filesystem has no byte left; returns the file (unlink
    it to free the space again)."""
    filler = where / name
    block = b"\0" * 4096
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        while True:
            try:
                os.write(fd, block)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                break
        # Page-granular filesystems may still take a partial block.
        with contextlib.suppress(OSError):
            while os.write(fd, b"\0" * 64):
                pass
    finally:
        os.close(fd)
    return filler
