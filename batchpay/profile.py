"""A company's profile: ``batchpay.toml`` — how its sheets are read, per kind, so HR runs
``batchpay validate desember.xlsx`` every month with no options.

::

    kind = "payout-link"                 # optional: the kind of every sheet (see below)

    [payout-link]
    sheet = "Bonus"                      # the worksheet to read (XLSX)
    amount_format = "id"                 # 1.500.000,00 (id) or 1,500,000.00 (en)

    [payout-link.set]                    # constant and derived columns (like --set)
    sender_name = "PT Sinar Abadi"
    reference_id = "BNS-2612-{NIK}"      # {Header}: that row's cell in column "NIK"

    [payout-link.map]                    # headers batchpay does not know (like --map)
    "Nama Lengkap Karyawan" = "receiver_name"

    [approval]                           # maker–checker (README "Approvals")
    required = true                      # `batchpay run` refuses; `batchpay submit` it is
    approvers = 1                        # 1 or 2 distinct people, never the maker
    second_approver_above = 100000000    # runs above this total need 2 (whole rupiah)
    expires_after = "7d"                 # not approved by then: never sent ("36h", "1d12h")

Which section applies: ``--kind``, else the top-level ``kind``, else the only section; with
several sections and no ``kind`` the sheet's detected kind picks its section. Command-line
options override the profile (``--set``/``--map`` per field, ``--sheet``, ``--amount-format``).
Unknown keys and bad values are errors naming the file, the line and the key: a misspelt
``refrence_id`` silently ignored would pay a month of bonuses without the references the
company relies on.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NoReturn

from batchpay.errors import UsageError
from batchpay.kinds import KINDS
from batchpay.policy import ApprovalPolicy, approval_policy

PROFILE_NAME = "batchpay.toml"
AmountFormat = Literal["id", "en"]
AMOUNT_FORMATS: tuple[AmountFormat, ...] = ("id", "en")
_SECTION_KEYS = ("sheet", "amount_format", "set", "map")


@dataclass(frozen=True)
class SheetOptions:
    """How to read one sheet: from the command line, a profile section, or both merged."""

    kind: str | None = None
    sheet: str | None = None
    mapping: Mapping[str, str] = field(default_factory=dict)  # header -> field
    amount_format: AmountFormat | None = None
    set_values: Mapping[str, str] = field(default_factory=dict)  # field -> template


@dataclass(frozen=True)
class Profile:
    path: Path
    sections: Mapping[str, SheetOptions]  # kind name -> that kind's options
    kind: str | None = None  # the top-level ``kind``
    approval: ApprovalPolicy = field(default_factory=ApprovalPolicy)

    def pinned_kind(self, kind: str | None) -> str | None:
        """The kind to read the sheet as: ``kind`` (--kind), the profile's ``kind``, or its
        only section; None when the sheet's detected kind decides."""
        if kind is not None:
            return kind
        if self.kind is not None:
            return self.kind
        return next(iter(self.sections)) if len(self.sections) == 1 else None

    def provided(self) -> set[str]:
        """Every field some section sets (lets detection see a kind whose columns --set
        supplies before the kind, hence the section, is known)."""
        return {f for s in self.sections.values() for f in s.set_values}

    def merged(self, kind: str, cli: SheetOptions) -> SheetOptions:
        """``kind``'s section with the command line on top."""
        base = self.sections.get(kind, SheetOptions())
        return merge(SheetOptions(kind=kind, **_fields_of(base)), cli)


def effective(profile: Profile | None, cli: SheetOptions) -> SheetOptions | None:
    """The options in effect when the kind is known without reading the sheet (no profile,
    ``--kind``, a pinned or single-section profile); None when the sheet's kind decides.
    Raises :class:`UsageError` for a ``--set`` field no kind (or not ``--kind``) has."""
    kinds = [KINDS[cli.kind]] if cli.kind in KINDS else list(KINDS.values())
    known = {f for k in kinds for f in k.field_names}
    for name in cli.set_values:
        if field_key(name) not in known:
            which = f"a {cli.kind} sheet does not have" if cli.kind else "no kind of sheet has"
            raise UsageError(
                f"--set names {name!r}, which {which}",
                hint=f"fields: {', '.join(sorted(known))}",
            )
    if profile is None:
        return cli
    kind = profile.pinned_kind(cli.kind)
    return None if kind is None else profile.merged(kind, cli)


def _fields_of(o: SheetOptions) -> dict[str, Any]:
    return {
        "sheet": o.sheet,
        "mapping": o.mapping,
        "amount_format": o.amount_format,
        "set_values": o.set_values,
    }


def merge(base: SheetOptions, top: SheetOptions) -> SheetOptions:
    """``top`` overrides ``base``: per field for set values, per header *and* field for the
    map (a command-line ``--map`` of a field replaces the profile's column for it)."""
    mapping = {
        h: f
        for h, f in base.mapping.items()
        if f not in top.mapping.values()
        and h.strip().casefold() not in {t.strip().casefold() for t in top.mapping}
    }
    mapping.update(top.mapping)
    return SheetOptions(
        kind=top.kind or base.kind,
        sheet=top.sheet or base.sheet,
        mapping=mapping,
        amount_format=top.amount_format or base.amount_format,
        set_values={**base.set_values, **top.set_values},
    )


def field_key(name: str) -> str:
    """A field name as typed (``Reference-ID``) → as batchpay spells it (``reference_id``)."""
    return name.strip().casefold().replace("-", "_").replace(" ", "_")


_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")


def parse_template(text: str) -> list[tuple[str, str | None]]:
    """``"BNS-{NIK}-{{x}}"`` → ``[("BNS-", "NIK"), ("-{x}", None)]``: literal text, then the
    header whose cell follows it. ``{{`` and ``}}`` are literal braces. Raises ValueError
    for an empty placeholder or a lone brace."""
    parts: list[tuple[str, str | None]] = []
    literal: list[str] = []
    pos = 0
    for m in _PLACEHOLDER.finditer(text):
        literal.append(text[pos : m.start()])
        pos = m.end()
        token = m.group(0)
        if token in ("{{", "}}"):
            literal.append(token[0])
        elif m.group(1) is None:
            raise ValueError(f"a lone {token!r} (write {token * 2} for a literal brace)")
        elif not m.group(1).strip():
            raise ValueError("an empty placeholder {} (write {Header}, a column of the sheet)")
        else:
            parts.append(("".join(literal), m.group(1).strip()))
            literal = []
    literal.append(text[pos:])
    if "".join(literal) or not parts:
        parts.append(("".join(literal), None))
    return parts


def find_profile(explicit: Path | None, *, cwd: Path | None = None) -> Path | None:
    """``--profile PATH`` (it must exist), else ``./batchpay.toml`` if there is one."""
    if explicit is not None:
        if not explicit.is_file():
            raise UsageError(f"{explicit}: no such profile", hint="check the --profile path")
        return explicit
    here = cwd / PROFILE_NAME if cwd is not None else Path(PROFILE_NAME)
    return here if here.is_file() else None


def load_profile(path: Path) -> Profile:
    """Read and check ``path``; raises :class:`UsageError` naming the line and the key."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read the profile: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(
            f"{path}: not valid TOML: {exc}", hint="see `batchpay profile init`"
        ) from None
    check = _Checker(path, text)
    kind: str | None = None
    sections: dict[str, SheetOptions] = {}
    approval = ApprovalPolicy()
    for key, value in data.items():
        if key == "kind":
            kind = check.choice((key,), value, tuple(KINDS))
        elif key in KINDS:
            sections[key] = check.section(key, check.table((key,), value))
        elif key == "approval":
            approval = approval_policy(check, check.table((key,), value))
        else:
            check.fail((key,), f"unknown key {key!r}", f"valid: kind, approval, {', '.join(KINDS)}")
    return Profile(path, sections, kind, approval)


class _Checker:
    """Checks values and, on a bad one, names the file, the line and the key."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.text = text

    def fail(self, keys: tuple[str, ...], what: str, hint: str) -> NoReturn:
        line = key_line(self.text, keys)
        where = f"{self.path}, line {line}" if line else str(self.path)
        raise UsageError(f"{where}: {'.'.join(keys)}: {what}", hint=hint)

    def table(self, keys: tuple[str, ...], value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(keys, f"must be a table, not {value!r}", f"write it as [{'.'.join(keys)}]")
        return dict(value)

    def text_value(self, keys: tuple[str, ...], value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            self.fail(keys, f"must be non-empty text, not {value!r}", 'quote it: "…"')
        return str(value)

    def choice(self, keys: tuple[str, ...], value: Any, allowed: tuple[str, ...]) -> Any:
        if value not in allowed:
            self.fail(keys, f"{value!r} is not one of {', '.join(allowed)}", "pick one of them")
        return value

    def section(self, kind: str, data: dict[str, Any]) -> SheetOptions:
        fields = KINDS[kind].field_names
        valid = f"{kind} fields: {', '.join(fields)}"
        out: dict[str, Any] = {}
        for key, value in data.items():
            keys = (kind, key)
            if key == "sheet":
                out["sheet"] = self.text_value(keys, value)
            elif key == "amount_format":
                out["amount_format"] = self.choice(keys, value, AMOUNT_FORMATS)
            elif key == "set":
                out["set_values"] = self._set(keys, self.table(keys, value), fields, valid)
            elif key == "map":
                out["mapping"] = self._map(keys, self.table(keys, value), fields, valid)
            elif key == "approval":
                # Not ignored: a policy the reader believes in but batchpay does not apply
                # would let a batch through unapproved.
                self.fail(
                    keys,
                    "an approval policy is for every kind",
                    "move it to a top-level [approval] table",
                )
            else:
                self.fail(keys, f"unknown key {key!r}", f"valid: {', '.join(_SECTION_KEYS)}")
        return SheetOptions(kind=kind, **out)

    def _set(
        self, keys: tuple[str, ...], data: dict[str, Any], fields: tuple[str, ...], valid: str
    ) -> dict[str, str]:
        out: dict[str, str] = {}
        for name, value in data.items():
            here = (*keys, name)
            if field_key(name) not in fields:
                self.fail(here, f"unknown field {name!r}", valid)
            template = self.text_value(here, value)
            try:
                parse_template(template)
            except ValueError as exc:
                self.fail(here, f"{template!r} has {exc}", "fix the placeholder")
            out[field_key(name)] = template
        return out

    def _map(
        self, keys: tuple[str, ...], data: dict[str, Any], fields: tuple[str, ...], valid: str
    ) -> dict[str, str]:
        out: dict[str, str] = {}
        for header, value in data.items():
            here = (*keys, header)
            name = field_key(self.text_value(here, value))
            if name not in fields:
                self.fail(here, f"maps to an unknown field {value!r}", valid)
            if name in out.values():
                self.fail(here, f"a second column for {name}", "map each field from one column")
            out[header] = name
        return out


# --- where a key is written (tomllib gives no positions) ----------------------------------

_KEY_PART = r'(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|\'[^\']*\')'
_DOTTED = rf"{_KEY_PART}(?:\s*\.\s*{_KEY_PART})*"
_TABLE_LINE = re.compile(rf"^\s*\[\[?\s*({_DOTTED})\s*\]\]?")
_KEY_LINE = re.compile(rf"^\s*({_DOTTED})\s*=")
_INLINE_KEY = re.compile(rf"[{{,]\s*({_DOTTED})\s*=")


def _split_key(dotted: str) -> tuple[str, ...]:
    parts = re.findall(_KEY_PART, dotted)
    return tuple(p[1:-1] if p[:1] in "\"'" else p for p in parts)


def key_line(text: str, keys: tuple[str, ...]) -> int | None:
    """The 1-based line where ``keys`` (a path of keys) is written, or where the closest
    enclosing table is; None when not found."""
    table: tuple[str, ...] = ()
    best: tuple[int, int] | None = None  # (matched depth, line)
    for number, line in enumerate(text.splitlines(), start=1):
        found: list[tuple[str, ...]] = []
        if m := _TABLE_LINE.match(line):
            table = _split_key(m.group(1))
            found.append(table)
        elif m := _KEY_LINE.match(line):
            path = (*table, *_split_key(m.group(1)))
            found.append(path)
            found.extend((*path, *_split_key(k)) for k in _INLINE_KEY.findall(line[m.end() :]))
        for path in found:
            if path == keys:
                return number
            depth = len(path) if keys[: len(path)] == path else 0
            if depth and (best is None or depth > best[0]):
                best = (depth, number)
    return best[1] if best else None
