"""Bank name / BI code → SWIFT/BIC table, shipped in ``data/banks.csv`` and overridable.

DOKU's Sub Account payout wants ``beneficiary.bank_code`` as a SWIFT/BIC (docs/doku-api.md §5), but
payroll clerks write "BCA", "Bank Mandiri" or the three-digit BI code "014". The shipped table
holds only the banks docs/doku-api.md §6 lists (checked there against two public lists); DOKU's own
list of accepted codes is not public, so an unknown but well-formed BIC is a *warning*, and an
operator can add or correct banks with a CSV of the same columns (``bic,bi_code,name,aliases``,
aliases separated by ``|``). Operator rows win over shipped ones for the same name or code.
"""

from __future__ import annotations

import csv
import difflib
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from batchpay.errors import ConfigError

COLUMNS = ("bic", "bi_code", "name", "aliases")

# SWIFT ISO 9362: 4 bank letters, 2 country letters, 2 location letters/digits, optional
# 3-character branch. DOKU says "letters, ≤ 12" (docs/doku-api.md §5); Indonesian BICs are letters.
BIC_RE = re.compile(r"[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}(?:[A-Z0-9]{3})?")
_BI_CODE_RE = re.compile(r"[0-9]{3}")


def _key(text: str) -> str:
    """Lookup key: case, spaces and punctuation do not matter ("Bank  central-asia")."""
    return re.sub(r"[^0-9a-z]", "", text.casefold())


def _keys(text: str) -> list[str]:
    key = _key(text)
    keys = [key]
    # "Bank Mandiri" and "Mandiri" name the same bank; "PT Bank …" likewise.
    for prefix in ("ptbank", "bank", "pt"):
        if key.startswith(prefix) and len(key) > len(prefix):
            keys.append(key[len(prefix) :])
            break
    return keys


@dataclass(frozen=True)
class Bank:
    bic: str
    bi_code: str
    name: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class BankResolution:
    """What a bank cell means: ``bic`` ('' when unusable), a problem ``code`` ('' = fine,
    ``bank-code-unknown`` = well-formed BIC not in the table, ``bank-code-invalid``), and a
    ``detail`` sentence for the message."""

    bic: str
    code: str
    detail: str = ""


class BankTable:
    """Resolves a bank cell (BIC, BI code, name or alias) to a BIC."""

    def __init__(self, banks: Iterable[Bank]) -> None:
        self.banks: list[Bank] = []
        self._by_key: dict[str, Bank] = {}
        self._by_bic: dict[str, Bank] = {}
        self.extend(banks, source="table")

    def extend(self, banks: Iterable[Bank], *, source: str) -> None:
        """Add banks; later rows win over earlier tables (operator overrides shipped), but one
        table may not give the same name or code to two different BICs."""
        claimed: dict[str, Bank] = {}
        for bank in banks:
            self.banks.append(bank)
            self._by_bic[bank.bic] = bank
            names = [bank.bic, bank.name, *bank.aliases]
            if bank.bi_code:
                names.append(bank.bi_code)
            for name in names:
                for key in _keys(name):
                    other = claimed.get(key)
                    if other is not None and other.bic != bank.bic:
                        raise ConfigError(
                            f"{source}: {name!r} names both {other.bic} and {bank.bic}",
                            hint="give each bank name, alias and BI code to one BIC only",
                        )
                    claimed[key] = bank
        self._by_key.update(claimed)

    @classmethod
    def load(cls, path: str | Path | None = None) -> BankTable:
        """The shipped table, plus the operator's CSV at ``path`` when given (the CLI passes
        ``BATCHPAY_BANKS`` from config; this module never reads the environment)."""
        shipped = resources.files("batchpay").joinpath("data/banks.csv").read_text("utf-8")
        table = cls(_parse_csv(shipped, source="batchpay/data/banks.csv"))
        if path is not None:
            p = Path(path)
            try:
                text = p.read_text("utf-8-sig")
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigError(
                    f"cannot read the bank table {p}: {exc}",
                    hint="point it at a UTF-8 CSV with columns " + ",".join(COLUMNS),
                ) from exc
            table.extend(_parse_csv(text, source=str(p)), source=str(p))
        return table

    def __contains__(self, bic: object) -> bool:
        return isinstance(bic, str) and bic.upper() in self._by_bic

    def lookup(self, text: str) -> Bank | None:
        """The bank a cell names, or None."""
        for key in _keys(text):
            bank = self._by_key.get(key)
            if bank is not None:
                return bank
        upper = text.strip().upper()
        # "CENAIDJAXXX" is the primary office of CENAIDJA (ISO 9362 branch code XXX).
        if len(upper) == 11 and upper.endswith("XXX"):
            return self._by_bic.get(upper[:8])
        return None

    def resolve(self, text: str) -> BankResolution:
        """Resolve one trimmed, non-blank cell."""
        bank = self.lookup(text)
        if bank is not None:
            return BankResolution(bank.bic, "")
        upper = text.upper()
        if BIC_RE.fullmatch(upper):
            return BankResolution(
                upper,
                "bank-code-unknown",
                f"{upper} looks like a SWIFT/BIC but is not in the bank table",
            )
        return BankResolution("", "bank-code-invalid", self._suggest(text))

    def _suggest(self, text: str) -> str:
        digits = text.strip()
        if digits.isascii() and digits.isdigit() and len(digits) < 3:
            # Excel drops leading zeros of a numeric cell: 014 becomes 14.
            bank = self._by_key.get(digits.zfill(3))
            if bank is not None:
                return (
                    f"did you mean BI code {bank.bi_code} ({bank.name}, {bank.bic})? "
                    "Excel may have dropped the leading zero"
                )
        names = {_key(n): b for b in self.banks for n in (b.name, *b.aliases)}
        close = difflib.get_close_matches(_key(text), list(names), n=1, cutoff=0.75)
        if close:
            bank = names[close[0]]
            return f"did you mean {bank.name} ({bank.bic})?"
        return ""


def _parse_csv(text: str, *, source: str) -> list[Bank]:
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in ("bic", "name") if c not in header]
    if missing:
        raise ConfigError(
            f"{source}: bank table lacks column(s) {', '.join(missing)}",
            hint="the header must be " + ",".join(COLUMNS),
        )
    reader.fieldnames = header
    banks = []
    for line, row in enumerate(reader, start=2):
        bic = (row.get("bic") or "").strip().upper()
        bi_code = (row.get("bi_code") or "").strip()
        name = (row.get("name") or "").strip()
        if not BIC_RE.fullmatch(bic):
            raise ConfigError(
                f"{source}, line {line}: {bic!r} is not a SWIFT/BIC",
                hint="a BIC is 8 or 11 letters/digits, e.g. CENAIDJA",
            )
        if bi_code and not _BI_CODE_RE.fullmatch(bi_code):
            raise ConfigError(
                f"{source}, line {line}: BI code {bi_code!r} is not 3 digits",
                hint="write BI codes with their leading zeros, e.g. 014",
            )
        if not name:
            raise ConfigError(
                f"{source}, line {line}: the bank has no name", hint="fill the name column"
            )
        aliases = tuple(a.strip() for a in (row.get("aliases") or "").split("|") if a.strip())
        banks.append(Bank(bic, bi_code, name, aliases))
    return banks
