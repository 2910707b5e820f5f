"""``batchpay serve`` and ``batchpay users``: the web app (batchpay/web/) and its local
accounts. Passwords are read from a hidden prompt (twice) or from stdin, never from argv."""

from __future__ import annotations

import ipaddress
import sys
from pathlib import Path

import click

from batchpay.errors import UsageError


def _need_web() -> None:
    """The web extra's libraries, or one line saying how to get them."""
    import importlib.util

    missing = [
        name
        for name in ("fastapi", "uvicorn", "jinja2", "python_multipart", "argon2")
        if importlib.util.find_spec(name) is None
    ]
    if missing:
        raise UsageError(
            f"the web app needs {', '.join(missing)}, which are not installed",
            hint="pip install 'batchpay[web]'",
        )


def _home(env_file: str | None = None) -> Path:
    from batchpay.config import load_settings

    _need_web()

    return load_settings(dotenv_path=env_file, require_credentials=False).home


def _stdin_is_terminal() -> bool:
    return sys.stdin is not None and sys.stdin.isatty()


def read_password() -> str:
    """Twice at a hidden prompt; from a pipe, the first line of stdin."""
    if not _stdin_is_terminal():
        line = sys.stdin.readline() if sys.stdin is not None else ""
        return line.rstrip("\r\n")
    first = click.prompt("Password", hide_input=True, default="", show_default=False)
    if not first:
        return ""
    again = click.prompt("Repeat the password", hide_input=True, default="", show_default=False)
    if first != again:
        raise UsageError("the two passwords do not match", hint="run the command again")
    return str(first)


@click.group("users")
def users() -> None:
    """Accounts of the web app (`batchpay serve`), kept in $BATCHPAY_HOME/users.json (0600).

    Example: batchpay users add siti --role maker
    """


@users.command("add")
@click.argument("name")
@click.option(
    "--role",
    required=True,
    metavar="maker|approver|viewer",
    help="maker uploads sheets; approver approves runs; viewer (accountant) reads runs.",
)
def users_add(name: str, role: str) -> None:
    """Add user NAME; the password is asked twice (hidden) or read from stdin.

    Example: batchpay users add siti --role maker
    """
    from batchpay.web.users import UserStore, check_name, check_role

    check_name(name)
    check_role(role)
    store = UserStore(_home())
    store.require_new(name)  # before asking for a password
    user = store.add(name, role, read_password())
    click.echo(f"Added {user.name} ({user.role}) to {store.path}")


@users.command("passwd")
@click.argument("name")
def users_passwd(name: str) -> None:
    """Set a new password for NAME (asked twice, hidden, or read from stdin).

    Example: batchpay users passwd siti
    """
    from batchpay.web.users import UserStore

    store = UserStore(_home())
    store.require_existing(name)  # before asking for a password
    store.passwd(name, read_password())
    click.echo(f"Changed the password of {name} (sessions already open stay open until logout)")


@users.command("list")
def users_list() -> None:
    """List the accounts: name, role, created.

    Example: batchpay users list
    """
    from batchpay.web.users import UserStore

    store = UserStore(_home())
    found = store.users()
    if not found:
        click.echo(
            f"No users yet ({store.path}); add one with `batchpay users add NAME --role maker`"
        )
        return
    for user in found:
        click.echo(f"{user.name:<24} {user.role:<9} created {user.created_at[:19]}Z")


LOOPBACK_NAMES = ["127.0.0.1", "localhost"]


def _allowed_hosts(host: str, allow_remote: bool) -> list[str] | None:
    """Host headers a loopback server answers (DNS rebinding gets a 400). Starlette's check
    cannot parse an IPv6 ``[::1]:8000`` Host header, so an IPv6 address is not checked."""
    if allow_remote or ":" in host:
        return None
    return [*LOOPBACK_NAMES, host]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option(
    "--allow-remote",
    is_flag=True,
    help="Allow a host other than loopback; put a TLS proxy in front (README: The web app).",
)
@click.option(
    "--profile",
    "profile_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Read sheets with this batchpay.toml (default ./batchpay.toml if present).",
)
@click.option("--env-file", type=click.Path(dir_okay=False), help="Settings file (default ./.env).")
def serve(
    host: str, port: int, allow_remote: bool, profile_path: Path | None, env_file: str | None
) -> None:
    """Serve the web app: HR checks and submits sheets, approvers approve and send them.

    Everyone reads runs and downloads their workbooks.

    Loopback only unless --allow-remote; log in with an account from `batchpay users add`.

    Example: batchpay serve --port 8000
    """
    if not is_loopback(host) and not allow_remote:
        raise UsageError(
            f"--host {host} is not a loopback address; the app would be reachable from "
            "other machines",
            hint="add --allow-remote, and put a TLS (https) proxy in front of it",
        )
    _need_web()
    import uvicorn

    from batchpay.profile import find_profile, load_profile
    from batchpay.web.app import WebConfig, create_app
    from batchpay.web.users import UserStore

    found = find_profile(profile_path)
    config = WebConfig(
        home=_home(env_file),
        profile=load_profile(found) if found else None,
        env_file=env_file,
        allowed_hosts=_allowed_hosts(host, allow_remote),
    )
    if not is_loopback(host):
        click.echo(
            "warning: serving beyond this machine over plain HTTP: put a TLS (https) proxy "
            "in front, or passwords and session cookies cross the network readable",
            err=True,
        )
    if not UserStore(config.home).load():
        click.echo("note: no accounts yet; add one with `batchpay users add NAME --role maker`")
    click.echo(f"batchpay web app on http://{host}:{port}/ (Ctrl-C stops it)")
    uvicorn.run(create_app(config), host=host, port=port, log_level="info", server_header=False)


def register(group: click.Group) -> None:
    group.add_command(users)
    group.add_command(serve)
