"""Real OS accounts for the maker–checker proof (tests/test_approval_accounts.py).

Needs root, ``useradd``/``groupadd``/``runuser`` (CI runs as root). Outside CI a test that
cannot create accounts is skipped; under ``CI=true`` it FAILS, so the two-person proof can
never silently stop running.

The accounts cannot use the test's own interpreter (root's home is 0700), so they run
batchpay with Debian's ``/usr/bin/python3`` in a venv under /tmp holding batchpay's
dependencies (built once, reused across sessions: keyed by the dependency list) and a fresh,
world-readable copy of the source on ``PYTHONPATH``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest

from tests.helpers.mounts import in_ci

REPO = Path(__file__).resolve().parents[2]
SYSTEM_PYTHON = Path("/usr/bin/python3")
GROUP = "bp_team"
MAKER = "bp_maker"
CHECKER = "bp_checker"
_TOOLS = ("useradd", "groupadd", "userdel", "groupdel", "runuser")


def _problem() -> str | None:
    if os.name != "posix" or os.geteuid() != 0:
        return "creating OS accounts needs root"
    missing = [t for t in _TOOLS if shutil.which(t) is None]
    if missing:
        return f"missing {', '.join(missing)}"
    if not SYSTEM_PYTHON.is_file():
        return f"no {SYSTEM_PYTHON}"
    return None


def require_accounts() -> None:
    """Skip (outside CI) or fail (CI=true) when OS accounts cannot be made here."""
    problem = _problem()
    if problem is None:
        return
    if in_ci():
        pytest.fail(f"the two-account approval test cannot run under CI: {problem}")
    pytest.skip(f"cannot create OS accounts: {problem}")


def _run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, check=False, timeout=timeout)


def _exists(database: str, name: str) -> bool:
    return _run("getent", database, name).returncode == 0


@contextlib.contextmanager
def team_accounts() -> Iterator[tuple[str, str, str]]:
    """A group and two accounts in it (maker, checker); removed afterwards if made here."""
    made: list[tuple[str, str]] = []
    try:
        if not _exists("group", GROUP):
            _check(_run("groupadd", GROUP), "groupadd")
            made.append(("groupdel", GROUP))
        for user in (MAKER, CHECKER):
            if not _exists("passwd", user):
                _check(_run("useradd", "-M", "-N", "-g", GROUP, "-s", "/bin/sh", user), "useradd")
                made.insert(0, ("userdel", user))
        yield MAKER, CHECKER, GROUP
    finally:
        for tool, name in made:
            _run(tool, name)


def _check(done: subprocess.CompletedProcess[str], what: str) -> None:
    if done.returncode != 0:
        pytest.fail(f"{what} failed: {done.stderr.strip()}")


def venv_python() -> Path:
    """Debian's python3 in a venv with batchpay's dependencies (built once per dependency
    list, world-readable)."""
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    key = hashlib.sha256("\n".join(sorted(deps)).encode()).hexdigest()[:12]
    root = Path(f"/tmp/batchpay-e2e-venv-{key}")
    python = root / "bin" / "python"
    with open("/tmp/batchpay-e2e-venv.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (root / ".ready").is_file():
            return python
        shutil.rmtree(root, ignore_errors=True)  # a build that did not finish
        _check(_run(str(SYSTEM_PYTHON), "-m", "venv", str(root)), "python3 -m venv")
        _check(_run(str(python), "-m", "pip", "install", "-q", *deps, timeout=1800), "pip install")
        _run("chmod", "-R", "a+rX", str(root))
        (root / ".ready").write_text("ok\n")
    return python


def world_readable_copy(base: Path) -> Path:
    """A copy of the batchpay package under ``base`` every account can read."""
    target = base / "src"
    shutil.copytree(REPO / "batchpay", target / "batchpay",
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    _run("chmod", "-R", "a+rX", str(target))
    return target


def run_as(
    user: str,
    args: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    stdin: str | None = None,
    timeout: float = 180,
) -> subprocess.CompletedProcess[str]:
    """``args`` as ``user`` (``runuser``), with exactly ``env`` and a strict umask 077 — so
    any group access comes from batchpay's shared-folder rule, not from a lax umask."""
    pairs = [f"{k}={v}" for k, v in env.items()]
    command = ["runuser", "-u", user, "--", "/bin/sh", "-c", 'umask 077 && exec "$@"', "sh",
               "env", "-i", *pairs, *args]  # fmt: skip
    return subprocess.run(
        command, cwd=cwd, input=stdin, capture_output=True, text=True, timeout=timeout
    )
