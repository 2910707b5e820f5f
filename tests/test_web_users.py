"""`batchpay users add/passwd/list`: the web app's local accounts in $BATCHPAY_HOME/users.json
(0600, atomic), Argon2id hashes, passwords never from argv, one-line errors."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

pytest.importorskip("argon2")

from batchpay import cli as cli_module
from batchpay.web.users import UserStore


class _Main:
    """Lets CliRunner drive :func:`batchpay.cli.main`, so errors map to exit codes."""

    name = "batchpay"

    def main(self, args: Any = None, prog_name: str | None = None, **_: Any) -> None:
        cli_module.main(list(args or ()))


def users_cli(*args: str, input: str | None = None) -> Any:
    return CliRunner().invoke(_Main(), ["users", *args], input=input)  # type: ignore[arg-type]


def _file() -> Path:
    return Path(os.environ["BATCHPAY_HOME"]) / "users.json"


def test_users_add_from_stdin_stores_argon2_hash_mode_0600() -> None:
    result = users_cli("add", "siti", "--role", "maker", input="s3cret-Passw0rd\n")
    assert result.exit_code == 0, result.output
    assert "Added siti (maker)" in result.output
    path = _file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert "s3cret-Passw0rd" not in text
    entry = json.loads(text)["users"]["siti"]
    assert entry["role"] == "maker"
    assert entry["hash"].startswith("$argon2id$")
    store = UserStore(path.parent)
    assert store.verify("siti", "s3cret-Passw0rd") is not None
    assert store.verify("siti", "wrong") is None
    assert store.verify("nobody", "s3cret-Passw0rd") is None
    # Atomic write: no temporary file is left beside it.
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".users")] == []


def test_users_add_existing_user_one_line_error() -> None:
    assert users_cli("add", "siti", "--role", "maker", input="pw-one\n").exit_code == 0
    result = users_cli("add", "siti", "--role", "viewer", input="pw-two\n")
    assert result.exit_code == 2
    assert result.output.strip() == (
        "error: user 'siti' already exists — change the password with `batchpay users passwd siti`"
    )


def test_users_add_unknown_role_one_line_error() -> None:
    result = users_cli("add", "siti", "--role", "admin", input="pw\n")
    assert result.exit_code == 2
    assert result.output.strip() == (
        "error: unknown role 'admin' — use one of maker, approver, viewer"
    )
    assert not _file().exists()


def test_users_add_empty_password_refused() -> None:
    result = users_cli("add", "siti", "--role", "maker", input="\n")
    assert result.exit_code == 2
    assert result.output.strip() == (
        "error: the password is empty — type a password (it is never shown)"
    )
    assert not _file().exists()


def test_users_add_terminal_mismatching_passwords_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("batchpay.cli.web._stdin_is_terminal", lambda: True)
    result = users_cli("add", "siti", "--role", "maker", input="first-pw\nsecond-pw\n")
    assert result.exit_code == 2
    assert "error: the two passwords do not match — run the command again" in result.output
    assert "first-pw" not in result.output  # the prompt hides what is typed
    assert not _file().exists()


def test_users_add_terminal_same_password_twice_works(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("batchpay.cli.web._stdin_is_terminal", lambda: True)
    result = users_cli("add", "budi", "--role", "approver", input="same-pw-1\nsame-pw-1\n")
    assert result.exit_code == 0, result.output
    assert UserStore(_file().parent).verify("budi", "same-pw-1") is not None


def test_users_password_never_an_argument() -> None:
    result = users_cli("add", "siti", "--role", "maker", "--password", "x")
    assert result.exit_code == 2
    assert "no such option" in result.output.lower()


def test_users_passwd_changes_hash_and_unknown_user_refused() -> None:
    assert users_cli("add", "siti", "--role", "maker", input="old-pw-1\n").exit_code == 0
    before = json.loads(_file().read_text())["users"]["siti"]["hash"]
    result = users_cli("passwd", "siti", input="new-pw-2\n")
    assert result.exit_code == 0, result.output
    after = json.loads(_file().read_text())["users"]["siti"]
    assert after["hash"] != before and after["role"] == "maker"
    store = UserStore(_file().parent)
    assert store.verify("siti", "new-pw-2") is not None
    assert store.verify("siti", "old-pw-1") is None
    assert stat.S_IMODE(_file().stat().st_mode) == 0o600
    missing = users_cli("passwd", "nobody", input="pw\n")
    assert missing.exit_code == 2
    assert missing.output.strip() == (
        "error: no user 'nobody' — add one with `batchpay users add nobody --role ROLE`"
    )


def test_users_list_names_roles_never_hashes() -> None:
    assert "No users yet" in users_cli("list").output
    users_cli("add", "siti", "--role", "maker", input="pw-a\n")
    users_cli("add", "budi", "--role", "approver", input="pw-b\n")
    result = users_cli("list")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert [line.split()[:2] for line in lines] == [["budi", "approver"], ["siti", "maker"]]
    assert "argon2" not in result.output


def test_users_bad_name_refused() -> None:
    result = users_cli("add", "../etc", "--role", "maker", input="pw\n")
    assert result.exit_code == 2
    assert result.output.startswith("error: '../etc' is not a valid user name")
