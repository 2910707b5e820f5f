"""Local accounts of the web app: ``$BATCHPAY_HOME/users.json`` (mode 0600, written
atomically), one role each, passwords hashed with Argon2id (argon2-cffi's defaults, RFC 9106).

The file holds names, roles and hashes, never a password. ``batchpay users add/passwd/list``
manage it (batchpay/cli/web.py); ``batchpay serve`` reads it on every login, so a changed
password applies at once.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from batchpay.config import ensure_private_dir
from batchpay.errors import UsageError

USERS_FILE = "users.json"
ROLES = ("maker", "approver", "viewer")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
# Hashing a wrong name's attempt too keeps a login's time the same for known and unknown names.
_DUMMY_PASSWORD = "batchpay-no-such-user"  # noqa: S105 — not a secret: hashed, never accepted


@dataclass(frozen=True)
class User:
    name: str
    role: str
    created_at: str
    password_hash: str


def users_path(home: Path) -> Path:
    return home / USERS_FILE


def _hasher():  # type: ignore[no-untyped-def]
    from argon2 import PasswordHasher

    return PasswordHasher()


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise UsageError(
            f"{name!r} is not a valid user name",
            hint="use 1-64 letters, digits, '.', '_', '-' or '@', starting with a letter or digit",
        )
    return name


def check_role(role: str) -> str:
    if role not in ROLES:
        raise UsageError(f"unknown role {role!r}", hint=f"use one of {', '.join(ROLES)}")
    return role


def check_password(password: str) -> str:
    if not password:
        raise UsageError("the password is empty", hint="type a password (it is never shown)")
    return password


class UserStore:
    """The accounts file of ``home``; every call reads it afresh (the CLI may change it while
    ``batchpay serve`` runs)."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.path = users_path(home)

    def load(self) -> dict[str, User]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise UsageError(f"{self.path}: cannot be read ({exc.strerror or exc})") from None
        try:
            data = json.loads(text)
            return {
                name: User(name, entry["role"], entry["created_at"], entry["hash"])
                for name, entry in data["users"].items()
            }
        except (ValueError, KeyError, TypeError, AttributeError):
            raise UsageError(
                f"{self.path}: not a batchpay accounts file",
                hint="move it aside and add the users again with `batchpay users add`",
            ) from None

    def users(self) -> list[User]:
        return sorted(self.load().values(), key=lambda u: u.name)

    def add(self, name: str, role: str, password: str, *, now: datetime | None = None) -> User:
        check_name(name)
        check_role(role)
        check_password(password)
        users = self.require_new(name)
        at = (now or datetime.now(UTC)).isoformat()
        users[name] = User(name, role, at, _hasher().hash(password))
        self._save(users)
        return users[name]

    def passwd(self, name: str, password: str) -> User:
        check_password(password)
        users = self.require_existing(name)
        old = users[name]
        users[name] = User(name, old.role, old.created_at, _hasher().hash(password))
        self._save(users)
        return users[name]

    def require_new(self, name: str) -> dict[str, User]:
        users = self.load()
        if name in users:
            raise UsageError(
                f"user {name!r} already exists",
                hint=f"change the password with `batchpay users passwd {name}`",
            )
        return users

    def require_existing(self, name: str) -> dict[str, User]:
        users = self.load()
        if name not in users:
            raise UsageError(
                f"no user {name!r}", hint=f"add one with `batchpay users add {name} --role ROLE`"
            )
        return users

    def verify(self, name: str, password: str) -> User | None:
        """The user when ``password`` is theirs, else None (same work either way)."""
        from argon2.exceptions import Argon2Error, InvalidHashError

        user = self.load().get(name) if name else None
        hasher = _hasher()
        try:
            if user is None:
                hasher.hash(_DUMMY_PASSWORD)
                return None
            hasher.verify(user.password_hash, password)
        except (Argon2Error, InvalidHashError):
            return None
        return user

    def _save(self, users: dict[str, User]) -> None:
        ensure_private_dir(self.home)
        data = {
            "version": 1,
            "users": {
                u.name: {"role": u.role, "created_at": u.created_at, "hash": u.password_hash}
                for u in sorted(users.values(), key=lambda u: u.name)
            },
        }
        write_private(self.path, json.dumps(data, indent=2).encode("utf-8") + b"\n")


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` beside ``path`` as 0600, fsync it and move it into place."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
