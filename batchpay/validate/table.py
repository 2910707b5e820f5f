"""Table → :class:`ValidationResult`: every field normalised into a check frame (a thread
per core for large sheets), the model's failures as problems, invalid cells blanked, and the
totals of the valid rows."""

from __future__ import annotations

import functools
import os
from collections import defaultdict
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from batchpay import normalize, schemas
from batchpay.banks import BankTable
from batchpay.kinds import Field, Kind, canonical_amount
from batchpay.problems import Problem, sort_key
from batchpay.profile import Profile, SheetOptions
from batchpay.sheet import SkippedRow
from batchpay.validate import footers, sanity
from batchpay.validate.control import check_totals
from batchpay.validate.failures import run_model, to_problems
from batchpay.validate.result import AmountFormat, ValidationResult

if TYPE_CHECKING:
    from batchpay.headers import Table

# Sheets from this size on are normalised with a thread per core (see _check_frame).
_PARALLEL_FROM_ROWS = 20_000
_WORKERS = max(1, min(4, os.cpu_count() or 1))


def validate_file(
    path: str | Path,
    *,
    kind: str | None = None,
    sheet: str | None = None,
    mapping: dict[str, str] | None = None,
    amount_format: AmountFormat | None = None,
    banks: BankTable | None = None,
    set_values: dict[str, str] | None = None,
    profile: Profile | None = None,
) -> ValidationResult:
    """Load ``path`` (CSV/XLSX) and validate it, with ``set_values`` (``--set``) filled in
    and ``profile``'s section for its kind underneath the options. Raises InputError when it
    cannot be read, UsageError for a bad ``--set``."""
    from batchpay.validate.derived import load_with_options

    options = SheetOptions(kind, sheet, mapping or {}, amount_format, set_values or {})
    table, effective = load_with_options(path, options, profile)
    return validate_table(table, amount_format=effective.amount_format, banks=banks)


def validate_table(
    table: Table,
    *,
    amount_format: AmountFormat | None = None,
    banks: BankTable | None = None,
) -> ValidationResult:
    """Normalise and check every row of ``table``; problems are returned, never raised.

    Totals, subtotals and footer rows are taken out first (validate/footers.py) and listed
    in ``skipped``; each total is checked against the rows it covers."""
    kind = table.kind
    found = footers.find(table)
    table = footers.without_skipped(table, found.rows)
    frame = table.frame
    if banks is None and any(f.type == "bic" for f in kind.fields):
        banks = BankTable.load()
    checked = _check_frame(table, amount_format, banks)
    minor = checked.minor.to_numpy(dtype=np.int64) if checked.minor is not None else None

    failures = run_model(kind, checked.frame, checked.codes)
    problems = sanity.intact_phones(table.problems, kind, checked.frame)
    median = sanity.median_minor(minor)
    problems += _without_explained(
        to_problems(failures, table, checked.frame, checked.details, checked.evidence, median),
        table.problems,
    )
    problems += sanity.far_below_median(minor, table)
    problems.sort(key=sort_key)

    normalised = pd.DataFrame(
        {f.name: checked.frame[f.name] for f in kind.fields}, index=frame.index, copy=False
    )
    if kind.amount_field is not None:
        normalised["amount_minor"] = (
            checked.minor
            if checked.minor is not None
            else pd.Series(0, index=frame.index, dtype=np.int64)
        )
    invalid = _blank_invalid(normalised, problems, kind)
    totals = _totals(normalised, kind, invalid)
    control = check_totals(found.totals, kind, frame.index, minor, amount_format)
    if control.problems:  # on total rows, which are not payees: never in `invalid`
        problems = sorted(problems + control.problems, key=sort_key)
    skipped = sorted([*table.source.skipped, *found.footers, *control.skipped], key=_row_of)
    if len(frame) >= _PARALLEL_FROM_ROWS:
        # The check frame and the normalisers' intermediate columns are gone; hand their
        # memory back rather than keep it in pyarrow's pool for the rest of a long run.
        normalize.release_unused_memory()
    return ValidationResult(
        table, normalised, problems, invalid, totals, skipped, control.control_totals
    )


def _row_of(s: SkippedRow) -> int:
    return s.row


@dataclass
class _Checked:
    """What the normalisers made of a table: the frame the model checks (per field its
    values and, where a length rule applies, its lengths), per field the parse code of every
    cell (an index into ``("", *schemas.PARSE_CODES[type])``), the per-cell details, the
    amount style evidence and the amounts in minor units."""

    frame: pd.DataFrame
    codes: dict[str, np.ndarray]
    details: dict[str, dict[Hashable, str]]
    evidence: dict[str, int]
    minor: pd.Series | None


def _check_frame(
    table: Table, amount_format: AmountFormat | None, banks: BankTable | None
) -> _Checked:
    kind = table.kind
    frame = table.frame
    normalise = functools.partial(_normalise_field, table, amount_format, banks)
    if len(frame) >= _PARALLEL_FROM_ROWS:
        # The normalisers spend most of their time in pyarrow kernels, which release the
        # GIL: fields are normalised side by side, one per core.
        with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
            results = list(pool.map(normalise, kind.fields))
    else:
        results = [normalise(f) for f in kind.fields]
    columns: dict[str, Any] = {}
    codes: dict[str, np.ndarray] = {}
    details: dict[str, dict[Hashable, str]] = {}
    evidence: dict[str, int] = {}
    minor: pd.Series | None = None
    for f, res in zip(kind.fields, results, strict=True):
        codes[f.name] = _code_numbers(res, f)
        values = normalize.as_arrow(res.values)
        columns[f.name] = normalize.text_series(values, frame.index)
        if schemas.has_length_rule(f):
            # Characters, as len() counts them (code points).
            columns[schemas.length_column(f.name)] = normalize.char_lengths(values)
        details[f.name] = res.details
        if f.type == "amount":
            minor = res.minor
            evidence = res.evidence
    check = pd.DataFrame(columns, index=frame.index, copy=False)
    return _Checked(check, codes, details, evidence, minor)


def _normalise_field(
    table: Table, amount_format: AmountFormat | None, banks: BankTable | None, f: Field
) -> normalize.Normalised:
    frame = table.frame
    # One pyarrow string column per field; the loader gives '' for empty cells, and a
    # NaN from elsewhere becomes '' too, so it never reaches the regexes.
    cells = (
        normalize.as_arrow(frame[f.name])
        if f.name in frame.columns
        else normalize.blanks(len(frame.index))
    )
    raw = normalize.text_series(cells, frame.index)
    return _normalise(f, table.kind, raw, amount_format, banks)


# Loader findings that already say everything about a cell's content: a formula with no
# value, an Excel error (#N/A) or a number Excel turned into 8.16E+11. A field check on the
# same cell ("required", "phone-invalid") would only repeat it in vaguer words.
_EXPLAINS_CELL = frozenset(
    {"formula-no-value", "error-value", "scientific-notation", "set-blank-cell"}
)


def _without_explained(
    field_problems: list[Problem], load_problems: list[Problem]
) -> list[Problem]:
    explained = {
        (p.row, p.column)
        for p in load_problems
        if p.code in _EXPLAINS_CELL and p.severity == "error"
    }
    if not explained:
        return field_problems
    return [p for p in field_problems if (p.row, p.column) not in explained]


def _code_numbers(res: normalize.Normalised, f: Field) -> np.ndarray:
    """Each cell's parse code as its index in ``("", *PARSE_CODES[f.type])`` (0: fine); a
    blank cell of a required field is ``required``."""
    categories = ("", *schemas.PARSE_CODES[f.type])
    lookup = {code: i for i, code in enumerate(categories)}
    texts = res.codes.to_numpy(dtype=object)
    ints = np.zeros(len(texts), dtype=np.int8)
    for pos in np.flatnonzero(texts != ""):
        code = texts[pos]
        if code not in lookup:  # a code no rule words would vanish silently
            raise RuntimeError(f"normaliser for {f.name} emitted unchecked code {code!r}")
        ints[pos] = lookup[code]
    if f.required:
        ints[res.blank.to_numpy(dtype=bool)] = lookup["required"]
    return ints


def _normalise(
    f: Field,
    kind: Kind,
    raw: pd.Series,
    amount_format: AmountFormat | None,
    banks: BankTable | None,
) -> normalize.Normalised:
    fn: Callable[[pd.Series], normalize.Normalised]
    if f.type == "amount":

        def parse(s: pd.Series) -> normalize.Normalised:
            return normalize.parse_amounts(
                s,
                decimals=kind.amount_decimals,
                max_int_digits=kind.amount_max_int_digits,
                amount_format=amount_format,
            )

        fn = parse
    elif f.type == "phone":

        def phones(s: pd.Series) -> normalize.Normalised:
            return normalize.normalise_phones(s, min_digits=f.min_len, max_digits=f.max_len or 14)

        fn = phones
    elif f.type == "email":
        fn = normalize.normalise_emails
    elif f.type == "bic":
        assert banks is not None
        return normalize.normalise_bank_codes(raw, banks)
    elif f.type == "digits":
        fn = normalize.normalise_digits
    elif f.type == "name":
        fn = normalize.normalise_names
    elif f.type == "account_id":
        fn = normalize.normalise_account_ids
    elif f.type == "account_type":
        fn = normalize.normalise_account_types
    elif f.type == "currency":
        fn = normalize.normalise_currencies
    elif f.type == "reference":
        # Not collapsed: every character of a reference is part of the id.
        fn = normalize.normalise_references
    else:
        # Free text: whitespace runs are collapsed (a double space is never meant), and a
        # leading formula prefix is refused.

        def text(s: pd.Series) -> normalize.Normalised:
            return normalize.normalise_text(s, collapse=True, formulas=True)

        fn = text
    if normalize.mostly_repeated(raw):
        return normalize.per_unique(fn, raw)
    return fn(raw)


def _blank_invalid(normalised: pd.DataFrame, problems: list[Problem], kind: Kind) -> set[int]:
    """Blank every normalised cell an error names; return the rows with any error."""
    invalid: set[int] = set()
    cells: dict[str, list[int]] = defaultdict(list)
    for p in problems:
        if p.severity != "error" or p.row is None:
            continue
        invalid.add(p.row)
        if p.column is not None and p.column in normalised.columns:
            cells[p.column].append(p.row)
    for column, rows in cells.items():
        positions = normalised.index.get_indexer(pd.Index(rows))
        values = normalize.as_arrow(normalised[column])
        # Most error cells normalised to '' already; only rewrite a column that changes.
        if any(values.take(positions).to_pylist()):
            where = np.zeros(len(normalised), dtype=bool)
            where[positions] = True
            normalised[column] = normalize.text_series(
                normalize.blank_where(values, where), normalised.index
            )
        if column == kind.amount_field and "amount_minor" in normalised.columns:
            minor = normalised["amount_minor"].to_numpy(dtype=np.int64, copy=True)
            minor[positions] = 0
            normalised["amount_minor"] = minor
    return invalid


def _totals(normalised: pd.DataFrame, kind: Kind, invalid: set[int]) -> dict[str, Decimal]:
    if kind.amount_field is None:
        return {}
    valid = ~normalised.index.isin(list(invalid))
    minor = normalised["amount_minor"].to_numpy(dtype=np.int64)[valid]
    if not len(minor):
        return {}
    if "currency" in normalised.columns:
        # A blank currency is rupiah; one pass over the distinct values, not the rows.
        codes, values = normalize.encode(normalize.as_arrow(normalised["currency"]))
        labels = [v or "IDR" for v in values]
        names = np.array(sorted(set(labels)), dtype=object)
        group_of = np.array([list(names).index(label) for label in labels], dtype=np.intp)
        positions = group_of[codes[valid]] if len(codes) else np.zeros(0, dtype=np.intp)
    else:
        positions, names = np.zeros(len(minor), dtype=np.intp), np.array(["IDR"])  # rupiah
    totals: dict[str, Decimal] = {}
    for i, cur in enumerate(names):
        group = minor[positions == i]
        # int64 sums only where they cannot overflow (a million 16-digit amounts would);
        # otherwise Python ints. Never a float.
        if len(group) and int(group.max()) < (2**63 - 1) // len(group):
            total = int(group.sum())
        else:
            total = sum(group.tolist())
        totals[str(cur)] = canonical_amount(Decimal(total).scaleb(-2))
    return dict(sorted(totals.items()))
