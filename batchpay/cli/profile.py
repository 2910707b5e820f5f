"""``batchpay profile init KIND``: a commented starter ``batchpay.toml`` (batchpay/profile.py
reads it)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import click

from batchpay.errors import UsageError
from batchpay.kinds import KINDS, Kind, get_kind
from batchpay.profile import PROFILE_NAME, load_profile

# Per kind, commented example lines for [KIND.set] and [KIND.map].
_SET_EXAMPLES: dict[str, list[str]] = {
    "payout-link": ['sender_name = "PT Contoh Abadi"', 'reference_id = "BNS-2612-{NIK}"'],
    "sub-account-payout": ['invoice_number = "PAY-2612-{NIK}"'],
    "sub-account-transfer": [
        'origin = "SAC-0000-0000000000000"',
        'invoice_number = "TRF-{No. Ref}"',
    ],
    "sub-account-create": ['type = "STANDARD"'],
}
_MAP_EXAMPLES: dict[str, list[str]] = {
    "payout-link": [
        '"Nama Lengkap Karyawan" = "receiver_name"',
        '"Nominal Bonus" = "amount"',
    ],
    "sub-account-payout": ['"Rekening Tujuan" = "bank_account_number"'],
    "sub-account-transfer": ['"Akun Tujuan" = "destination"'],
    "sub-account-create": ['"Nama Toko" = "name"'],
}


def starter(kind: Kind) -> str:
    """The starter profile for ``kind``: every key present or shown, commented."""
    sets = "\n".join(f"# {line}" for line in _SET_EXAMPLES.get(kind.name, []))
    maps = "\n".join(f"# {line}" for line in _MAP_EXAMPLES.get(kind.name, []))
    fields = "\n".join(
        textwrap.wrap(
            f"{kind.name} fields: {', '.join(kind.field_names)}",
            width=92,
            initial_indent="# ",
            subsequent_indent="#   ",
        )
    )
    return f"""\
# batchpay profile: how this company's {kind.name} sheets are read.
# `batchpay validate FILE` and `batchpay run FILE` read ./{PROFILE_NAME} by themselves
# (or pass --profile PATH; --no-profile ignores it). Options given on the command line
# override it. A key batchpay does not know is an error, never silently ignored.

# The kind of every sheet. Without it, a profile with one section uses that section, and a
# profile with several uses the section of the kind detected from the sheet's headers.
# kind = "{kind.name}"

[{kind.name}]
# The worksheet to read (XLSX). Default: the first visible one with a table.
# sheet = "Bonus"
# How amounts are written: "id" = 1.500.000,00, "en" = 1,500,000.00. Needed only when an
# amount like 1.500 could be read either way.
# amount_format = "id"

[{kind.name}.set]
# Columns the sheet does not have: the same value in every row, or made from the row's own
# cells, {{Header}} being the cell under that header (like --set "FIELD=VALUE"). Every check
# applies to the values made (lengths, duplicates). A reference made from cells that
# identify the person (an employee number) stays the same when a corrected sheet is
# uploaded again, so nobody already paid is paid twice. Write {{{{ or }}}} for a brace.
{sets}

[{kind.name}.map]
# Headers batchpay does not recognise, and the field each holds (like --map).
{maps}

{fields}
"""


@click.group("profile")
def profile() -> None:
    """Company profiles (batchpay.toml): how sheets are read, per kind.

    Example: batchpay profile init payout-link
    """


@profile.command("init")
@click.argument("kind", type=click.Choice(list(KINDS)))
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    default=Path(PROFILE_NAME),
    show_default=True,
    help="File to write.",
)
@click.option("--force", is_flag=True, help="Overwrite OUTPUT if it exists.")
def init(kind: str, output: Path, force: bool) -> None:
    """Write a commented starter profile for KIND; edit it, then validate with no options.

    Example: batchpay profile init payout-link
    """
    if output.exists() and not force:
        raise UsageError(f"{output} already exists", hint="choose another -o, or add --force")
    text = starter(get_kind(kind))
    output.write_text(text, encoding="utf-8")
    load_profile(output)  # the starter is a valid profile as written
    use = "" if output == Path(PROFILE_NAME) else f" --profile {output}"
    click.echo(f"Wrote {output} ({kind}); edit it, then: batchpay validate SHEET{use}")


def register(group: click.Group) -> None:
    """Add this module's commands to the top-level group."""
    group.add_command(profile)
