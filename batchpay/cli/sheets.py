"""CLI commands about sheets: ``validate`` and ``template`` (see batchpay/cli/__init__.py).

Commands parse options, make one library call and print; exit codes and error messages are
mapped by :func:`batchpay.cli.main`.
"""

from __future__ import annotations

import json
import shutil
import textwrap
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import click

from batchpay.cli.common import sheet_choice, sheet_options
from batchpay.cli.skipped import structure_lines
from batchpay.cli.startup import (
    VALIDATION_LIBRARIES,
    BackgroundImports,
    QuickExit,
    announce,
)
from batchpay.errors import UsageError
from batchpay.kinds import KINDS, get_kind
from batchpay.problems import Problem

if TYPE_CHECKING:
    from batchpay.headers import Table
    from batchpay.profile import Profile, SheetOptions
    from batchpay.validate import AmountFormat, ValidationResult

# How many problems the terminal shows before pointing at the report.
SHOWN_PROBLEMS = 20
_VALUE_WIDTH = 22
_COLUMN_WIDTH = 22


def parse_mapping(entries: Sequence[str]) -> dict[str, str]:
    """``["No HP=receiver_phone_number"]`` → ``{"No HP": "receiver_phone_number"}``.

    Split on the last ``=``: a header may contain one, a field name never does.
    """
    mapping: dict[str, str] = {}
    for entry in entries:
        header, sep, name = entry.rpartition("=")
        if not sep or not header.strip() or not name.strip():
            raise click.BadParameter(
                f'{entry!r} is not HEADER=FIELD; write it like --map "No HP=receiver_phone_number"',
                param_hint="--map",
            )
        mapping[header.strip()] = name.strip()
    return mapping


def format_money(currency: str, total: Decimal) -> str:
    """``IDR 1,284,500,000`` — grouping commas as in the issue's own example."""
    from batchpay.money import format_amount

    return format_amount(total, currency)


def _totals_text(result: ValidationResult) -> str:
    return ", ".join(format_money(c, t) for c, t in sorted(result.totals.items()))


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _shown_value(value: str | None) -> str:
    if value is None:
        return ""
    text = repr(value)
    return text if len(text) <= _VALUE_WIDTH else text[: _VALUE_WIDTH - 1] + "…"


def _wrap_table(rows: list[list[str]], widths: list[int]) -> list[str]:
    """Fixed-width columns, long text wrapped inside its column."""
    lines: list[str] = []
    for row in rows:
        parts = [
            textwrap.wrap(text, width) or [""] for text, width in zip(row, widths, strict=True)
        ]
        for i in range(max(len(p) for p in parts)):
            cells = [
                (p[i] if i < len(p) else "").ljust(w) for p, w in zip(parts, widths, strict=True)
            ]
            lines.append("  ".join(cells).rstrip())
    return lines


def problem_table(problems: Sequence[Problem], headers: dict[str, str], width: int) -> list[str]:
    """The problems as a readable table: row, column (as headed in the sheet), value, what is
    wrong, how to fix it."""
    body = []
    for p in problems:
        column = headers.get(p.column or "", p.column or "")
        what = p.message if p.severity == "error" else f"(warning) {p.message}"
        body.append(
            ["" if p.row is None else str(p.row), column, _shown_value(p.value), what, p.hint]
        )
    titles = ["Row", "Column", "Value", "What's wrong", "How to fix"]
    # The short columns take what they need (up to a cap), the sentences share the rest.
    fixed = [
        max([len(titles[i])] + [len(r[i]) for r in body])
        if i != 1
        else min(max([len(titles[i])] + [len(r[i]) for r in body]), _COLUMN_WIDTH)
        for i in range(3)
    ]
    rest = max(width - sum(fixed) - 2 * 4, 40)
    widths = [*fixed, rest // 2, rest - rest // 2]
    rows = [titles, ["-" * w for w in widths], *body]
    return _wrap_table(rows, widths)


def summary_lines(result: ValidationResult, report: Path | None, width: int) -> list[str]:
    """What ``batchpay validate`` prints."""
    source = result.table.source
    where = str(source.path) + (f" (sheet {source.sheet_name!r})" if source.sheet_name else "")
    lines: list[str] = []
    if result.ok:
        head = f"valid: {_plural(result.rows, 'row')}"
        if result.totals:
            head += f", {_totals_text(result)}"
        if result.warnings:
            head += f" ({_plural(len(result.warnings), 'warning')})"
        lines.append(head)
        lines.append(f"  {where}, kind {result.table.kind.name}")
        lines.extend(structure_lines(result))
    else:
        lines.append(f"NOT VALID: {where}, kind {result.table.kind.name}")
        lines.extend(structure_lines(result))
        invalid = len(result.invalid_row_numbers)
        lines.append(f"  rows          {result.rows:,}")
        lines.append(f"  valid rows    {result.valid_rows:,}")
        lines.append(f"  invalid rows  {invalid:,}")
        for currency, total in sorted(result.totals.items()):
            lines.append(f"  total         {format_money(currency, total)} (valid rows only)")
        lines.append(
            f"  problems      {_plural(len(result.errors), 'error')}, "
            f"{_plural(len(result.warnings), 'warning')}"
        )
        counts = sorted(result.problem_counts().items(), key=lambda kv: (-kv[1], kv[0]))
        code_width = max((len(c) for c, _ in counts), default=0)
        for code, count in counts:
            lines.append(f"    {code.ljust(code_width)}  {count:,}")
    if result.problems:
        lines.append("")
        lines.extend(
            problem_table(result.problems[:SHOWN_PROBLEMS], result.table.field_headers, width)
        )
        hidden = len(result.problems) - SHOWN_PROBLEMS
        if hidden > 0:
            lines.append(
                f"… and {hidden:,} more; see the report" + (f" {report}" if report else "")
            )
    if report is not None:
        lines.append("")
        lines.append(
            f"report: {report}"
            + ("" if result.ok else "  (problem cells are red; hover a cell for the fix)")
        )
    return lines


def _terminal_width() -> int:
    return min(max(shutil.get_terminal_size((120, 24)).columns, 100), 160)


@click.command("validate")
@click.argument("sheet", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--kind",
    type=click.Choice(list(KINDS)),
    default=None,
    help="Kind of sheet; detected from the header row when omitted.",
)
@click.option(
    "--sheet",
    "sheet_name",
    default=None,
    metavar="NAME",
    help="Worksheet to read (XLSX); default: the first visible one.",
)
@click.option(
    "--map",
    "maps",
    multiple=True,
    metavar='"HEADER=FIELD"',
    help="Map a header batchpay does not know to a field; repeatable.",
)
@click.option(
    "--amount-format",
    type=click.Choice(["id", "en"]),
    default=None,
    help="How the sheet writes amounts: id = 1.500.000,00, en = 1,500,000.00. "
    "Needed only when an amount like 1.500 is ambiguous.",
)
@click.option(
    "--report",
    "report_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Where to write the report (default reports/<sheet-stem>-validation.xlsx).",
)
@click.option("--no-report", is_flag=True, help="Do not write the report workbook.")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the result as JSON on stdout (nothing else goes to stdout).",
)
@sheet_options
@click.pass_context
def validate(
    ctx: click.Context,
    sheet: Path,
    kind: str | None,
    sheet_name: str | None,
    maps: tuple[str, ...],
    amount_format: str | None,
    report_path: Path | None,
    no_report: bool,
    as_json: bool,
    sets: tuple[str, ...],
    profile_path: Path | None,
    no_profile: bool,
) -> None:
    """Check SHEET (CSV or XLSX) and say exactly what to fix; nothing is sent.

    Prints a summary and the first problems (row as Excel shows it, column, value, what is
    wrong, how to fix it) and writes a report workbook with the bad cells highlighted.
    Exit status: 0 valid (warnings allowed), 1 problems found, 2 unreadable file or unknown
    kind.

    Example: batchpay validate samples/bonus-payout-link.csv
    """
    if no_report and report_path is not None:
        raise UsageError("--report and --no-report contradict each other", hint="use one")
    QuickExit.allow()  # no journal, no connection; the report is closed before the verdict
    announce(sheet, sheet_name)
    options, profile = sheet_choice(
        profile_path,
        no_profile,
        kind=kind,
        sheet=sheet_name,
        maps=maps,
        amount_format=cast("AmountFormat | None", amount_format),  # click.Choice checked
        sets=sets,
    )
    table, effective = _load(sheet, options, profile)
    from batchpay.validate import validate_table
    from batchpay.workbook.validation import write_validation_report

    result = validate_table(table, amount_format=effective.amount_format)
    report: Path | None = None
    if not no_report:
        try:
            report = write_validation_report(result, report_path)
        except OSError as exc:
            # The verdict stands without the workbook (e.g. the old report is open in Excel
            # on Windows and locked); say so on stderr and keep stdout for the result.
            click.echo(f"warning: could not write the report: {exc}", err=True)
    if as_json:
        _print_json(result, report, profile, table)
    else:
        lines = summary_lines(result, report, _terminal_width())
        at = lines.index("") if "" in lines else len(lines)  # under the summary block
        click.echo("\n".join([*lines[:at], *_profile_lines(profile, table), *lines[at:]]))
    if not result.ok:
        ctx.exit(1)


def _print_json(
    result: ValidationResult, report: Path | None, profile: Profile | None, table: Table
) -> None:
    """``validate --json``: the result, where the report is, the profile and --set used."""
    payload: dict[str, Any] = {"schema": "batchpay.validate/1", **result.to_dict()}
    payload["report"] = str(report) if report else None
    payload["profile"] = str(profile.path) if profile else None
    payload["set"] = dict(table.derived)
    click.echo(json.dumps(payload, ensure_ascii=False, indent=2, default=str))


def _load(
    sheet: Path, options: SheetOptions, profile: Profile | None
) -> tuple[Table, SheetOptions]:
    """validate_file()'s loading, in two steps: the heavy libraries load while the sheet is
    read (when the kind is known without reading it, as it almost always is)."""
    from batchpay.headers import load_table
    from batchpay.profile import effective

    known = effective(profile, options)
    importing = BackgroundImports(VALIDATION_LIBRARIES)
    try:
        table = None
        if known is not None:
            table = load_table(
                sheet,
                kind=known.kind,
                sheet=known.sheet,
                mapping=dict(known.mapping) or None,
                provided=set(known.set_values),
                on_parse=importing.start,
            )
    finally:
        importing.join()
    from batchpay.validate.derived import apply_set_values, load_with_options

    if table is None or known is None:
        return load_with_options(sheet, options, profile)
    return apply_set_values(table, known.set_values), known


def _profile_lines(profile: Profile | None, table: Table) -> list[str]:
    """Where the options came from and the columns --set made, under the verdict."""
    lines = []
    if profile is not None:
        lines.append(f"  profile {profile.path} [{table.kind.name}]")
    for name, template in table.derived.items():
        lines.append(f"  set {name} = {template!r}")
    return lines


@click.command("template")
@click.argument("kind", type=click.Choice(list(KINDS)))
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="File to write (default ./<kind>-template.xlsx, or .csv with --csv).",
)
@click.option(
    "--csv",
    "as_csv",
    is_flag=True,
    help="Write a header-only CSV instead of XLSX (also implied by -o NAME.csv).",
)
@click.option("--force", is_flag=True, help="Overwrite OUTPUT if it exists.")
def template(kind: str, output: Path | None, as_csv: bool, force: bool) -> None:
    """Write a blank sheet for KIND, ready to fill in.

    The XLSX template formats identifier columns (phones, account numbers, references) as
    Text so Excel keeps leading zeros, checks lengths and amounts as you type, and explains
    every column on its Instructions sheet. It has no example row, so nothing is paid by
    accident. An existing file is never overwritten without --force.

    Example: batchpay template payout-link -o bonus-november.xlsx
    """
    from batchpay.templates import default_template_path, write_template

    spec = get_kind(kind)
    as_csv = as_csv or (output is not None and output.suffix.lower() == ".csv")
    target = output or default_template_path(spec, as_csv=as_csv)
    if target.exists() and not force:
        # A filled-in sheet is hours of work; a blank template must not replace it silently.
        raise UsageError(f"{target} already exists", hint="choose another -o, or add --force")
    written = write_template(spec, target, as_csv=as_csv)
    click.echo(f"Wrote {written} ({spec.name}: {len(spec.fields)} columns)")
    click.echo(f"Fill it in, then: batchpay validate {written}")


def register(group: click.Group) -> None:
    """Add this module's commands to the top-level group."""
    group.add_command(validate)
    group.add_command(template)
