"""The plan digest of a submitted run (docs/safety.md §9 "The plan digest").

What an approver approves is the plan *as journaled*: the input file's SHA-256, the kind, the
environment and, per row, its Request-Id and exact request body (with the reference, amount,
currency and source account the approver was shown). :func:`manifest_of` reads them from the
journal into a :class:`Manifest`; its canonical text (:meth:`Manifest.text`) is what the
SHA-256 is taken over, so submit, approve and send all compute the digest with the same code
from the same journal, and a sealed manifest lets a mismatch say *what* changed.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from batchpay.money import format_minor

if TYPE_CHECKING:
    from batchpay.journal import Journal, RunRecord

RECIPE = "batchpay plan digest v1"


@dataclass(frozen=True)
class RowPrint:
    """One row as the digest sees it."""

    row_number: int
    request_id: str
    body_sha256: str  # hex SHA-256 of the exact request body bytes
    amount_minor: int | None
    currency: str
    source_account: str | None
    reference: str

    def line(self) -> str:
        # JSON strings: a reference or account holding a tab or a newline cannot forge a line.
        amount = "-" if self.amount_minor is None else str(self.amount_minor)
        return "\t".join(
            (
                str(self.row_number),
                self.request_id,
                self.body_sha256,
                amount,
                self.currency,
                json.dumps(self.source_account),
                json.dumps(self.reference),
            )
        )

    @classmethod
    def parse(cls, line: str) -> RowPrint:
        number, request_id, body, amount, currency, source, reference = line.split("\t")
        return cls(
            int(number),
            request_id,
            body,
            None if amount == "-" else int(amount),
            currency,
            json.loads(source),
            json.loads(reference),
        )


@dataclass(frozen=True)
class Manifest:
    """The plan of a run as the digest covers it; rows in row order."""

    input_sha256: str
    kind: str
    env: str
    rows: tuple[RowPrint, ...]

    def lines(self) -> Iterator[str]:
        yield RECIPE
        yield f"input-sha256 {self.input_sha256}"
        yield f"kind {self.kind}"
        yield f"env {self.env}"
        yield f"rows {len(self.rows)}"
        for row in self.rows:
            yield row.line()

    def text(self) -> bytes:
        """The canonical text: UTF-8, one ``\\n``-terminated line each."""
        return "".join(f"{line}\n" for line in self.lines()).encode("utf-8")

    def digest(self) -> str:
        return hashlib.sha256(self.text()).hexdigest()

    def sealed(self) -> bytes:
        """As stored in the journal (compressed canonical text)."""
        return zlib.compress(self.text(), 6)

    @classmethod
    def unseal(cls, blob: bytes) -> Manifest:
        lines = zlib.decompress(blob).decode("utf-8").splitlines()
        if not lines or lines[0] != RECIPE:
            raise ValueError(f"not a {RECIPE!r} manifest")
        header = dict(line.split(" ", 1) for line in lines[1:5])
        return cls(
            header["input-sha256"],
            header["kind"],
            header["env"],
            tuple(RowPrint.parse(line) for line in lines[5:]),
        )


def manifest_of(journal: Journal, run: RunRecord) -> Manifest:
    """The run's plan read back from the journal (every row, its exact body)."""
    rows = tuple(
        RowPrint(
            r.row_number,
            r.request_id,
            hashlib.sha256(r.body).hexdigest(),
            r.amount_minor,
            r.currency,
            r.source_account,
            r.reference,
        )
        for r in journal.iter_rows(run.run_id, data=False)
    )
    return Manifest(run.input_sha256, run.kind, run.env, rows)


def seal(journal: Journal, run: RunRecord) -> tuple[str, bytes]:
    """The digest and the sealed manifest of a just-journaled run."""
    manifest = manifest_of(journal, run)
    return manifest.digest(), manifest.sealed()


def differences(sealed: Manifest, now: Manifest, *, limit: int = 10) -> list[str]:
    """What changed from the submitted plan to the journal's plan now, one line each (at
    most ``limit`` lines, then a count of the rest)."""
    out: list[str] = []
    for label, was, is_ in (
        ("the input file's SHA-256", sealed.input_sha256, now.input_sha256),
        ("the kind", sealed.kind, now.kind),
        ("the environment", sealed.env, now.env),
    ):
        if was != is_:
            out.append(f"{label} changed from {was} to {is_}")
    before = {r.row_number: r for r in sealed.rows}
    after = {r.row_number: r for r in now.rows}
    for number in sorted(before.keys() | after.keys()):
        was_row, row = before.get(number), after.get(number)
        if was_row is None:
            out.append(f"row {number} was added")
        elif row is None:
            out.append(f"row {number} ({was_row.reference}) was removed")
        elif was_row != row:
            out.append(f"row {number} ({was_row.reference}): " + _row_change(was_row, row))
    if len(out) > limit:
        out = [*out[:limit], f"… and {len(out) - limit} more change(s)"]
    return out


def _row_change(was: RowPrint, now: RowPrint) -> str:
    parts: list[str] = []
    if was.body_sha256 != now.body_sha256:
        parts.append(
            f"the request body changed (sha256 {was.body_sha256[:12]}… → {now.body_sha256[:12]}…)"
        )
    if was.request_id != now.request_id:
        parts.append(f"the Request-Id changed from {was.request_id} to {now.request_id}")
    if (was.amount_minor, was.currency) != (now.amount_minor, now.currency):
        parts.append(f"the amount changed from {_money(was)} to {_money(now)}")
    if was.reference != now.reference:
        parts.append(f"the reference changed to {now.reference!r}")
    if was.source_account != now.source_account:
        parts.append(f"the source account changed to {now.source_account}")
    return "; ".join(parts)


def _money(row: RowPrint) -> str:
    return "none" if row.amount_minor is None else format_minor(row.amount_minor, row.currency)
