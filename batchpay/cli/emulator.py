"""CLI commands: ``batchpay emulator`` (run a local DOKU) and ``batchpay emulator fund``."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import click

from batchpay.config import SCHEMES, Scheme
from batchpay.errors import BatchpayError, UsageError

if TYPE_CHECKING:
    from batchpay.emulator import EmulatorHandle

DEFAULT_URL = "http://127.0.0.1:8765"


@click.group("emulator", invoke_without_command=True)
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option(
    "--port",
    default=8765,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port (0 picks a free one).",
)
@click.option(
    "--state",
    "state_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="SQLite file that keeps accounts, links and balances across restarts "
    "(default: in memory).",
)
@click.option(
    "--latency-ms",
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
    help="Delay added to every DOKU request.",
)
@click.option("--seed", type=int, help="Seed for --fault-rate draws (same seed, same faults).")
@click.option(
    "--link-step-seconds",
    default=2.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Seconds per Payout Link status step (PENDING → … → COMPLETED).",
)
@click.option(
    "--fault-rate",
    "fault_rates",
    multiple=True,
    metavar="NAME=P[:SECONDS]",
    help="Inject a fault with probability P per request, e.g. error-500-after=0.05 (repeatable).",
)
@click.option(
    "--payout-link-signature",
    type=click.Choice(SCHEMES),
    default="snap-hmac-sha512",
    show_default=True,
    envvar="BATCHPAY_PAYOUT_LINK_SIGNATURE",
    help="Signature scheme expected on Payout Link requests.",
)
@click.option(
    "--i-know-this-is-public",
    "allow_public",
    is_flag=True,
    help="Allow a non-loopback --host (the emulator accepts public test credentials).",
)
@click.pass_context
def emulator(
    ctx: click.Context,
    host: str,
    port: int,
    state_path: Path | None,
    latency_ms: int,
    seed: int | None,
    link_step_seconds: float,
    fault_rates: tuple[str, ...],
    payout_link_signature: str,
    allow_public: bool,
) -> None:
    """Run a local DOKU emulator in the foreground (Ctrl-C stops it). No real money moves.

    It speaks DOKU's Payout Link and Sub Account APIs on 127.0.0.1 with public test
    credentials, signs its responses, and can inject network failures for rehearsals.

    Example: batchpay emulator --state demo.sqlite --link-step-seconds 1
    """
    if ctx.invoked_subcommand is not None:
        return
    handle = _start(
        host=host,
        port=port,
        state_path=state_path,
        latency_ms=latency_ms,
        seed=seed,
        link_step_seconds=link_step_seconds,
        fault_rates=fault_rates,
        payout_link_signature=payout_link_signature,
        allow_public=allow_public,
    )
    _print_banner(handle, payout_link_signature, state_path)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        handle.stop()
    click.echo("Emulator stopped.")


def _start(
    *,
    host: str,
    port: int,
    state_path: Path | None,
    latency_ms: int,
    seed: int | None,
    link_step_seconds: float,
    fault_rates: tuple[str, ...],
    payout_link_signature: str,
    allow_public: bool,
) -> EmulatorHandle:
    """The emulator the options describe, started; bad options and a busy port as one line."""
    from batchpay.emulator import start_emulator
    from batchpay.emulator.faults import parse_rate
    from batchpay.emulator.server import is_loopback

    if not is_loopback(host) and not allow_public:
        raise UsageError(
            f"--host {host} is not a loopback address; the emulator accepts public "
            "test credentials, so anyone who can reach it can use it",
            hint="use 127.0.0.1, or add --i-know-this-is-public",
        )
    rates: dict[str, float | tuple[float, float]] = {}
    for text in fault_rates:
        name, probability, seconds = parse_rate(text)
        rates[name] = probability if seconds is None else (probability, seconds)
    try:
        return start_emulator(
            host=host,
            port=port,
            state_path=state_path,
            latency_ms=latency_ms,
            seed=seed,
            link_step_seconds=link_step_seconds,
            payout_link_signature=cast(Scheme, payout_link_signature),
            fault_rates=rates,
            allow_public=allow_public,
        )
    except ValueError as exc:  # e.g. a host name the socket layer refuses
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise BatchpayError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}",
            hint="pick another --port, or stop whatever is using it",
        ) from None


def _print_banner(
    handle: EmulatorHandle, payout_link_signature: str, state_path: Path | None
) -> None:
    from batchpay.emulator import BANNER, EMULATOR_CLIENT_ID, EMULATOR_SECRET_KEY

    line = "=" * (len(BANNER) + 8)
    for text in (line, f"    {BANNER}", line):
        click.echo(_red(text))
    click.echo(f"DOKU emulator listening on {handle.url}")
    click.echo(f"  Client-Id:  {EMULATOR_CLIENT_ID}   (public test value)")
    click.echo(f"  Secret key: {EMULATOR_SECRET_KEY}   (public test value)")
    click.echo(f"  Payout Link signature: {payout_link_signature}")
    click.echo(f"  State: {state_path or 'in memory (lost on exit)'}")
    click.echo(
        f"  Admin: {handle.url}/_emulator/health · fund with: batchpay emulator fund "
        f"SAC-… 1000000 --url {handle.url}"
    )
    click.echo("Ctrl-C to stop.")


@emulator.command("fund")
@click.argument("account_id")
@click.argument("amount")
@click.option(
    "--url",
    default=None,
    help="URL of a running `batchpay emulator` (e.g. http://127.0.0.1:8765). Without it, the "
    "built-in emulator that `batchpay run` uses (its state in BATCHPAY_HOME) is funded.",
)
@click.option(
    "--pending",
    is_flag=True,
    help="Land the money as pending (it settles to available a moment later).",
)
def fund(account_id: str, amount: str, url: str | None, pending: bool) -> None:
    """Put AMOUNT whole rupiah into sub account ACCOUNT_ID of the emulator, as an accepted
    payment routed to it would. An unknown account is created ACTIVE. Without --url this
    funds the built-in emulator that `batchpay run` starts (so the Sub Account samples can
    be paid with no other set-up).

    Example: batchpay emulator fund SAC-0001-1700000000001 50000000
    """
    from batchpay.emulator import AdminError, EmulatorAdmin

    cleaned = amount.replace("_", "")
    if not cleaned.isdigit():
        raise UsageError(f"amount {amount!r} must be whole rupiah, digits only (e.g. 5000000)")
    if int(cleaned) <= 0:
        raise UsageError(f"amount {amount!r} must be more than 0 (whole rupiah, e.g. 5000000)")
    try:
        if url is None:
            result = _fund_builtin(account_id, cleaned, pending=pending)
        else:
            result = EmulatorAdmin(url).fund(account_id, cleaned, pending=pending)
    except AdminError as exc:
        raise BatchpayError(str(exc), hint="is `batchpay emulator` running at --url?") from None
    balance = result["balance"]
    created = " (created, ACTIVE)" if result.get("created") else ""
    click.echo(
        f"EMULATOR — funded {result['id']}{created}: available "
        f"{_rupiah(balance['available'])}, pending {_rupiah(balance['pending'])}"
    )


def _rupiah(value: object) -> str:
    """The emulator's balance (whole rupiah, as text) with thousands separators."""
    from batchpay.money import format_amount

    text = str(value)
    return format_amount(int(text), "IDR") if text.isdigit() else text


def _red(text: str) -> str:
    """Red and bold in a terminal (click drops it elsewhere), plain with NO_COLOR."""
    import os

    return text if os.environ.get("NO_COLOR") else click.style(text, fg="red", bold=True)


def _fund_builtin(account_id: str, amount: str, *, pending: bool) -> dict[str, Any]:
    """Fund the built-in emulator: open its state file (the one ``open_gateway`` uses) in a
    short-lived in-process emulator and call the same admin endpoint."""
    from batchpay.config import ensure_private_dir, load_settings
    from batchpay.doku import EMULATOR_STATE_FILE
    from batchpay.emulator import start_emulator

    settings = load_settings(env="emulator", require_credentials=False)
    ensure_private_dir(settings.home)
    with start_emulator(port=0, state_path=settings.home / EMULATOR_STATE_FILE) as handle:
        return handle.admin.fund(account_id, amount, pending=pending)


@emulator.command("reset")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def reset(yes: bool) -> None:
    """Start the built-in emulator over: wipe its accounts, balances and Payout Links, so
    the references its earlier runs used can be paid again — in the emulator only.

    Only the emulator that `batchpay run` starts by itself (BATCHPAY_ENV=emulator, no
    BATCHPAY_BASE_URL; its state in BATCHPAY_HOME) is reset. Runs against sandbox,
    production or a separately started emulator are never touched and keep refusing
    repeated references. Nothing is deleted from the journal: the earlier emulator runs
    stay in `batchpay runs` and the reports, each with an event saying it was reset.

    Example: batchpay emulator reset --yes
    """
    from batchpay.runs import service

    plan = service.plan_reset()
    if plan.nothing_to_do:
        click.echo(
            "The built-in emulator has nothing to reset (no state, no runs since its last reset)."
        )
        return
    click.echo(_red("Reset the built-in emulator (no real money moves there):"))
    if plan.state_exists:
        click.echo(f"  state: {plan.state_path} — accounts, balances and links are wiped")
    if plan.runs:
        click.echo(
            f"  runs:  {len(plan.runs)} earlier emulator run(s) stop blocking their "
            "references (they stay in the journal)"
        )
    click.echo("  Sandbox, production and separately started emulators are not touched.")
    if not yes and not click.confirm("Reset it?", default=False):
        raise click.Abort
    service.reset_builtin_emulator(plan)
    click.echo(
        f"Built-in emulator reset: its state is wiped and {len(plan.runs)} earlier run(s) no "
        "longer block their references."
    )


@emulator.command("executed")
@click.option("--url", default=DEFAULT_URL, show_default=True, help="URL of a running emulator.")
def executed(url: str) -> None:
    """Print, as JSON, everything the running emulator executed (the gateway's truth).

    Example: batchpay emulator executed --url http://127.0.0.1:8765
    """
    from batchpay.emulator import AdminError, EmulatorAdmin

    try:
        click.echo(json.dumps(EmulatorAdmin(url).executed(), indent=2, ensure_ascii=False))
    except AdminError as exc:
        raise BatchpayError(str(exc), hint="is `batchpay emulator` running at --url?") from None


def register(group: click.Group) -> None:
    """Add this module's commands to the top-level group."""
    group.add_command(emulator)
