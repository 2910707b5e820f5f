"""CLI commands: gateway — ``balance`` and ``accounts create`` (see batchpay/cli/__init__.py).

Thin: build settings, make one client call, print. Secrets are never options
(``BATCHPAY_SECRET_KEY`` comes from the environment or ``.env`` only).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from batchpay.config import ENVS, load_settings, redact
from batchpay.errors import DokuAuthError, DokuRejected, DokuUnavailable, OutcomeUnknown
from batchpay.kinds import SUB_ACCOUNT_CREATE, build_body

if TYPE_CHECKING:
    from batchpay.doku import Gateway
    from batchpay.doku.codes import Outcome

F = TypeVar("F", bound=Callable[..., Any])
# batchpay.doku is imported on use: `batchpay validate` must not pay for importing requests.


def _gateway_options(func: F) -> F:
    from batchpay.cli.common import json_option

    func = json_option(func)
    func = click.option(
        "--env-file",
        type=click.Path(dir_okay=False),
        help="Read settings from this .env file (default ./.env).",
    )(func)
    func = click.option("--base-url", help="Override BATCHPAY_BASE_URL.")(func)
    func = click.option(
        "--env",
        type=click.Choice(ENVS, case_sensitive=False),
        help="Override BATCHPAY_ENV (default emulator).",
    )(func)
    return func


def _open(env: str | None, base_url: str | None, env_file: str | None) -> Any:
    from batchpay.doku import open_gateway

    settings = load_settings(env=env, base_url=base_url, dotenv_path=env_file)
    return open_gateway(settings)


def _emit(
    command: str,
    gateway: Gateway,
    outcome: Outcome,
    as_json: bool,
    text: str,
    extra: dict[str, Any] | None = None,
) -> None:
    from batchpay.cli import jsonout
    from batchpay.cli.render import banner
    from batchpay.doku import EMULATOR_BANNER

    if as_json:
        payload = jsonout.document(
            command,
            env=gateway.env,
            emulator=gateway.is_emulator,
            **(extra or {}),
            outcome=outcome.to_dict(),
        )
        if gateway.is_emulator:
            payload["note"] = EMULATOR_BANNER
        jsonout.emit(payload)
        return
    if gateway.env != "production":
        click.echo(banner(gateway.env, text=EMULATOR_BANNER if gateway.is_emulator else None))
    click.echo(redact(text))


def _raise_for(gateway: Gateway, outcome: Outcome, what: str, hint: str = "") -> None:
    """Map a non-accepted outcome to the error class that says what to do next (errors.py)."""
    from batchpay.doku import EMULATOR_BANNER
    from batchpay.doku.codes import OutcomeClass

    where = f" [{EMULATOR_BANNER}]" if gateway.is_emulator else f" [{gateway.env}]"
    message = f"{what}{where}: {outcome.message}"
    if outcome.auth_failed:
        unknown = outcome.klass is OutcomeClass.UNKNOWN
        raise DokuAuthError(message, hint=(hint or None) if unknown else None)
    if outcome.klass is OutcomeClass.REJECTED:
        raise DokuRejected(message)
    if outcome.klass in (OutcomeClass.RATE_LIMITED, OutcomeClass.NOT_SENT):
        raise DokuUnavailable(message, hint="try again in a moment")
    raise OutcomeUnknown(message, hint=hint or None)


@click.command("balance")
@click.argument("account_id")
@_gateway_options
def balance(
    account_id: str, env: str | None, base_url: str | None, env_file: str | None, as_json: bool
) -> None:
    """Show the available and pending balance of a DOKU Sub Account.

    Example: batchpay balance SAC-0001-1234567890123
    """
    from batchpay.doku.codes import OutcomeClass

    with _open(env, base_url, env_file) as gateway:
        outcome = gateway.client.balance(account_id)
        if outcome.klass is not OutcomeClass.ACCEPTED:
            _raise_for(gateway, outcome, f"balance of {account_id}")
        bal = (outcome.data or {}).get("balance") or {}
        text = (
            f"{account_id}  available {_rupiah(bal.get('available'))}"
            f"  pending {_rupiah(bal.get('pending'))}  ({gateway.env})"
        )
        extra = {"account_id": account_id, "balance": bal}
        _emit("balance", gateway, outcome, as_json, text, extra)


@click.group("accounts")
def accounts() -> None:
    """Manage DOKU Sub Accounts.

    Example: batchpay accounts create --email toko@example.com --name "Toko Sejahtera"
    """


@accounts.command("create")
@click.option("--email", required=True, help="The Sub Account owner's email (≤ 40 chars).")
@click.option("--name", required=True, help="Sub Account name, letters and spaces (≤ 100).")
@click.option(
    "--type",
    "type_",
    type=click.Choice(["STANDARD", "DEFAULT"], case_sensitive=False),
    default="STANDARD",
    show_default=True,
    help="Sub Account type.",
)
@click.option(
    "--request-id",
    help="Re-send an earlier attempt with its Request-Id (safe: DOKU "
    "answers a replay with the original result).",
)
@_gateway_options
def create(
    email: str,
    name: str,
    type_: str,
    request_id: str | None,
    env: str | None,
    base_url: str | None,
    env_file: str | None,
    as_json: bool,
) -> None:
    """Create a DOKU Sub Account and print its id.

    Example: batchpay accounts create --email toko@example.com --name "Toko Sejahtera"
    """
    from batchpay.doku.codes import OutcomeClass

    rid = request_id or str(uuid.uuid4())
    body = build_body(
        SUB_ACCOUNT_CREATE, {"email": email.strip(), "type": type_.upper(), "name": name.strip()}
    )
    with _open(env, base_url, env_file) as gateway:
        outcome = gateway.client.create_account(rid, body)
        if outcome.klass is not OutcomeClass.ACCEPTED:
            _raise_for(
                gateway,
                outcome,
                f"creating account {email}",
                hint=f"re-run with --request-id {rid} and the same options to learn "
                "the result without creating a second account",
            )
        account_id = outcome.ids.get("account_id", "?")
        text = (
            f"Created {account_id} for {email} — status {outcome.status or '?'}"
            f"{' (replayed)' if outcome.replayed else ''}  Request-Id {rid}"
        )
        extra = {"account_id": account_id, "status": outcome.status, "request_id": rid}
        _emit("accounts-create", gateway, outcome, as_json, text, extra)


def _rupiah(value: object) -> str:
    """DOKU's balance strings (whole rupiah) written like every other amount batchpay shows."""
    from batchpay.money import format_amount

    text = str(value) if value is not None else "?"
    return format_amount(int(text), "IDR") if text.isdigit() else text


def register(group: click.Group) -> None:
    """Add this module's commands to the top-level group."""
    group.add_command(balance)
    group.add_command(accounts)
