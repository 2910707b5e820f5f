"""A real, throwaway PostgreSQL server for the tests (issue 14): ``initdb`` + ``pg_ctl`` from
Debian's packages (``/usr/lib/postgresql/<version>/bin``), listening on 127.0.0.1 on a free
port, its data and socket in a fresh temporary folder, stopped and deleted at the end of the
session.

``pg_ctl`` refuses to run as root, and CI runs as root: as root every server command runs
as the ``postgres`` OS account (``runuser -u postgres --``, the folder chowned to it). The
database superuser is ``batchpay`` either way (``initdb -U``), so URLs look the same for root
and for a normal user.

Authentication (``pg_hba.conf``, written here): the role ``batchpay_pw`` needs its password
over TCP (scram-sha-256), to prove a password never shows; everyone else is trusted on
loopback. fsync stays on: the journal's durability is what is under test. ``initdb
--no-sync`` only skips syncing the fresh, throwaway cluster once.

Without the binaries a test that needs the server is skipped, or FAILS under ``CI=true``
(``.ci/run`` installs the ``postgresql`` package when they are missing).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers.mounts import in_ci

SUPERUSER = "batchpay"
PASSWORD_ROLE = "batchpay_pw"
PASSWORD = "pw-" + "s3cret-Xq9"  # the password of PASSWORD_ROLE (long enough to be redacted)

_HBA = f"""\
local all all trust
host all {PASSWORD_ROLE} 127.0.0.1/32 scram-sha-256
host all all 127.0.0.1/32 trust
"""


def binaries() -> Path | None:
    """The newest installed PostgreSQL's bin folder (None: not installed)."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    return Path(found[-1]).parent if found else None


def _problem() -> str | None:
    if binaries() is None:
        return "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no postgres OS account to run the server"
        if shutil.which("runuser") is None:
            return "running as root without runuser"
    return None


def require_server() -> Path:
    """The bin folder; skip (outside CI) or fail (CI=true) when there is no server here."""
    problem = _problem()
    if problem is None:
        found = binaries()
        assert found is not None
        return found
    if in_ci():
        pytest.fail(f"PostgreSQL tests cannot run under CI: {problem}")
    pytest.skip(f"no PostgreSQL server: {problem}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PgServer:
    """A running server: ``url(database, user=…, password=…)`` builds connection URLs."""

    bin: Path
    root: Path
    port: int

    @property
    def data(self) -> Path:
        return self.root / "data"

    def url(self, database: str = "postgres", *, user: str = SUPERUSER, password: str = "") -> str:
        secret = f":{password}" if password else ""
        return f"postgresql://{user}{secret}@127.0.0.1:{self.port}/{database}"

    def admin(self, sql: str) -> None:
        """Run ``sql`` as the superuser in the ``postgres`` database (autocommit)."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(sql)  # type: ignore[arg-type]

    def create_database(self) -> str:
        name = f"t_{secrets.token_hex(6)}"
        self.admin(f"CREATE DATABASE {name}")
        return name

    def drop_database(self, name: str) -> None:
        self.admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _as_server_user(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


def _run(args: list[str]) -> None:
    done = subprocess.run(
        _as_server_user(args), capture_output=True, text=True, check=False, timeout=120
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")


@contextlib.contextmanager
def running_server() -> Iterator[PgServer]:
    """initdb + pg_ctl start; stopped (fast) and deleted afterwards."""
    bin_dir = require_server()
    # As root the folder is in /tmp: the postgres account may not pass through $TMPDIR.
    parent = "/tmp" if os.geteuid() == 0 and os.path.isdir("/tmp") else None
    root = Path(tempfile.mkdtemp(prefix="batchpay-pg-", dir=parent))
    if os.geteuid() == 0:
        account = pwd.getpwnam("postgres")
        os.chown(root, account.pw_uid, account.pw_gid)
    server = PgServer(bin_dir, root, _free_port())
    started = False
    try:
        _run(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(server.data),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--no-sync",
                "--encoding=UTF8",
                "--locale=C",
            ]
        )
        (server.data / "pg_hba.conf").write_text(_HBA)
        for attempt in range(3):
            options = f"-c listen_addresses=127.0.0.1 -p {server.port} -k {root}"
            try:
                _run(
                    [
                        str(bin_dir / "pg_ctl"),
                        "start",
                        "-w",
                        "-t",
                        "60",
                        "-D",
                        str(server.data),
                        "-l",
                        str(root / "server.log"),
                        "-o",
                        options,
                    ]
                )
                break
            except RuntimeError:
                if attempt == 2:
                    log = root / "server.log"
                    raise RuntimeError(log.read_text() if log.exists() else "no log") from None
                server.port = _free_port()  # someone took the port meanwhile
        started = True
        server.admin(f"CREATE ROLE {PASSWORD_ROLE} LOGIN SUPERUSER PASSWORD '{PASSWORD}'")
        yield server
    finally:
        if started:
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                _run([str(bin_dir / "pg_ctl"), "stop", "-m", "fast", "-D", str(server.data)])
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(name="pg_server", scope="session")
def pg_server_fixture() -> Iterator[PgServer]:
    """One PostgreSQL server for the whole session (started on first use)."""
    with running_server() as server:
        yield server


@pytest.fixture(name="pg_url")
def pg_url_fixture(pg_server: PgServer) -> Iterator[str]:
    """A fresh, empty database on the session's server, dropped after the test."""
    name = pg_server.create_database()
    try:
        yield pg_server.url(name)
    finally:
        pg_server.drop_database(name)
