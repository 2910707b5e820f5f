"""Who may open the journal's files: its owner only, or — in a folder a team's group owns
with the setgid bit — that group too (maker–checker on one machine, README "Approvals").

The journal holds payees' names, phones and bank accounts (docs/safety.md invariant 6), so
every file and folder batchpay creates for it is owner-only (0600 / 0700) unless the
journal's folder says otherwise: a folder with the setgid bit (``chmod 2770``, ``chgrp
finance``) is how an administrator shares a folder with a group, and there the journal, its
``-wal`` / ``-shm`` files (SQLite gives them the journal's mode) and its lock folder and files
are made group-readable and group-writable (0660 / 2770) for the folder's group, which the
kernel gives every file created inside it. Nothing else is ever opened up.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700
GROUP_FILE = 0o660
GROUP_DIR = 0o2770


def shared_group(folder: str | os.PathLike[str]) -> int | None:
    """The group id ``folder`` is shared with (its setgid bit is set), or None."""
    try:
        st = os.stat(folder)
    except OSError:
        return None
    return st.st_gid if stat.S_ISDIR(st.st_mode) and st.st_mode & stat.S_ISGID else None


def file_mode(folder: str | os.PathLike[str]) -> int:
    """The mode of a new journal file (or lock file) in ``folder``."""
    return GROUP_FILE if shared_group(folder) is not None else PRIVATE_FILE


def create_file(path: Path) -> None:
    """Create ``path`` (an empty journal or lock file) with :func:`file_mode`, the umask
    notwithstanding; an existing empty file gets that mode too."""
    mode = file_mode(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        os.chmod(path, mode)
        return
    try:
        os.fchmod(fd, mode)
    finally:
        os.close(fd)


def open_lock_file(path: Path) -> int:
    """Open (create) a run's lock file read-write with :func:`file_mode`; returns the fd."""
    mode = file_mode(path.parent)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, mode)
    try:
        st = os.fstat(fd)
        if st.st_uid == os.geteuid() and stat.S_IMODE(st.st_mode) != mode:
            os.fchmod(fd, mode)  # just created: the umask filtered the mode
    except BaseException:
        os.close(fd)
        raise
    return fd


def ensure_dir(path: Path) -> Path:
    """The journal's folder or its lock folder: shared (2770) when its parent is a shared
    folder, otherwise made like every private batchpay folder (0700, parents too)."""
    from batchpay.config import ensure_private_dir

    if path.is_dir() or shared_group(path.parent) is None:
        return ensure_private_dir(path)
    try:
        path.mkdir(mode=GROUP_DIR)
    except FileExistsError:
        return path
    os.chmod(path, GROUP_DIR)  # mkdir's mode is filtered by the umask
    return path
