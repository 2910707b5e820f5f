"""A hostile DOKU for tests (issue 8, "Make the suite adversarial"): a second small HTTP server,
separate from the emulator, that speaks enough DOKU for Payout Link (``POST
/v1/payout/initiate``, ``POST /v1/payout/status``) and Sub Account payouts (``POST
/sac-merchant/v1/payouts``, ``GET /sac-merchant/v1/balances/{id}`` so the preflight passes).

It keeps its OWN truth — which references it executed, with which amount and Request-Id, how
many times, and each link's status now — and its answers can lie, per scripted :data:`CASES`.
Every Sub Account answer is signed correctly with :mod:`batchpay.doku.signing`: a valid
signature proves who answered, not what the answer is about.

Every loop the server runs (trickle, huge body) is bounded in time and stops when the
server stops; :meth:`HostileGateway.stop` returns within a few seconds.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from batchpay import runs
from batchpay.doku import signing
from batchpay.journal.sqlite import SqliteJournal
from batchpay.kinds import dumps_exact
from batchpay.references import reference_key

CLIENT_ID = "MCH-0001-10791114622547"
SECRET_KEY = "SK-HOSTILE-TEST-KEY-NOT-REAL-0001"  # a public test value

INITIATE = "/v1/payout/initiate"
STATUS = "/v1/payout/status"
PAYOUTS = "/sac-merchant/v1/payouts"
BALANCES = "/sac-merchant/v1/balances/"

OTHER_REFERENCE = "ZZ-OTHER-9999"
OTHER_INVOICE = "INV-OTHER-9999"
OTHER_ACCOUNT = "SAC-9999-1700000009999"

# What each case does (the honest behaviour applies wherever a case says nothing):
CASES: dict[str, str] = {
    "honest": "behaves like DOKU: executes once per reference, 409 replays, "
    "DUPLICATE_REFERENCE for a used reference, status look-ups tell the truth",
    "initiate-other-reference": "initiate executes, answers 200 about another reference",
    "status-other-reference": "initiate does not execute and answers 503; status look-ups "
    "answer COMPLETED for another reference",
    "amount-one": "executes, but every answer (initiate, status, payout, replay) says amount 1",
    "regression": "initiate executes and answers COMPLETED; the bank reverses it: every later "
    "status look-up answers FAILED",
    "drop-then-duplicate": "first send executes and the answer is dropped; a re-send (even "
    "with the same Request-Id) gets DUPLICATE_REFERENCE; the first status look-up per "
    "reference lags (404), later ones tell the truth",
    "trickle": "initiate executes and answers one byte per 0.2 s (bounded)",
    "huge": "initiate executes and answers a 200 body of HUGE_BYTES, streamed",
    "html": "initiate executes and answers 200 with an HTML page",
    "conflict-409": "payout executes and the answer is dropped; the same-Request-Id re-send "
    "gets a correctly signed 409 whose SUCCESS body is for another invoice, account, amount",
}

HUGE_BYTES = 64 << 20  # far above the client's 1 MiB cap
TRICKLE_STEP = 0.2  # seconds per byte
STREAM_LIMIT = 20.0  # no trickle/huge answer lasts longer than this
BALANCE = "100000000"  # every Sub Account holds this much (whole rupiah)


@dataclass(frozen=True)
class Execution:
    op: str  # "payout-link" | "payout"
    request_id: str
    reference: str
    amount_minor: int
    account_id: str | None = None


@dataclass
class _Link:
    reference: str
    amount: str
    payout_link_id: str
    status: str = "COMPLETED"


@dataclass
class _Prior:
    """What a Request-Id was first answered with (idempotency, docs/doku-api.md §3)."""

    body_sha256: str
    status: int
    response: bytes


@dataclass
class Seen:
    path: str
    request_id: str
    reference: str | None


@dataclass
class _State:
    executions: list[Execution] = field(default_factory=list)
    links: dict[str, _Link] = field(default_factory=dict)
    idem: dict[tuple[str, str], _Prior] = field(default_factory=dict)
    lookups: Counter[str] = field(default_factory=Counter)
    seen: list[Seen] = field(default_factory=list)
    streamed: list[int] = field(default_factory=list)  # bytes written per trickle/huge answer


class HostileGateway:
    """A running hostile gateway on ``127.0.0.1:<free port>`` (context manager)."""

    def __init__(self, case: str = "honest", *, payout_status: str = "COMPLETED") -> None:
        if case not in CASES:
            raise ValueError(f"unknown case {case!r}; one of {', '.join(CASES)}")
        self.case = case
        self.payout_status = payout_status
        self.lock = threading.Lock()
        self.state = _State()
        self.stopping = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.gateway = self
        self.port = int(self._server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"hostile-doku-{self.port}",
            daemon=True,
        )
        self._thread.start()

    # --- lifecycle ----------------------------------------------------------------------------

    def stop(self) -> None:
        if self.stopping.is_set():
            return
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> HostileGateway:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- the gateway's own truth --------------------------------------------------------------

    @property
    def executions(self) -> list[Execution]:
        with self.lock:
            return list(self.state.executions)

    def executed_count(self, reference: str) -> int:
        return sum(1 for e in self.executions if e.reference == reference)

    def truth_status(self, reference: str, op: str = "payout-link") -> str | None:
        """The payment's status as the gateway knows it now; None if never executed."""
        with self.lock:
            if op == "payout-link":
                link = self.state.links.get(reference)
                return link.status if link else None
            done = any(e.op == op and e.reference == reference for e in self.state.executions)
            return "SUCCESS" if done else None

    def confirmed(self, reference: str, amount_minor: int | None, op: str) -> bool:
        """True when this gateway executed ``reference`` with ``amount_minor`` and it is paid
        now (a Payout Link COMPLETED, a Sub Account payout SUCCESS)."""
        hits = [e for e in self.executions if e.op == op and e.reference == reference]
        if len(hits) != 1 or hits[0].amount_minor != amount_minor:
            return False
        return self.truth_status(reference, op) in ("COMPLETED", "SUCCESS")

    def executed(self, op: str | None = None) -> dict[str, Any]:
        """The emulator's ``/_emulator/executed`` shape, so proof helpers can read it."""
        items = [
            {
                "op": e.op,
                "request_id": e.request_id,
                "reference": e.reference,
                "amount": str(Decimal(e.amount_minor).scaleb(-2).normalize()),
                "account_id": e.account_id,
            }
            for e in self.executions
            if op is None or e.op == op
        ]
        per = Counter(f"{i['op']}:{i['reference']}" for i in items)
        return {
            "count": len(items),
            "items": items,
            "max_per_reference": max(per.values(), default=0),
        }

    @property
    def seen(self) -> list[Seen]:
        with self.lock:
            return list(self.state.seen)

    @property
    def streamed(self) -> list[int]:
        with self.lock:
            return list(self.state.streamed)

    # --- behaviour ----------------------------------------------------------------------------

    def _execute(self, execution: Execution) -> None:
        self.state.executions.append(execution)
        if execution.op == "payout-link":
            number = len(self.state.links) + 1
            self.state.links[execution.reference] = _Link(
                execution.reference,
                str(Decimal(execution.amount_minor).scaleb(-2).normalize()),
                f"PL{number:08d}",
                status=self.payout_status,
            )


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    gateway: HostileGateway

    def server_bind(self) -> None:
        # No reverse-DNS look-up (HTTPServer.server_bind calls socket.getfqdn()).
        import socketserver

        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Silent: clients hanging up mid-answer are what these tests provoke."""


def _now() -> str:
    return signing.format_timestamp(datetime.now(UTC))


def _pl_error(status: int, code: str, message: str) -> bytes:
    return dumps_exact(
        {
            "status": str(status),
            "message": message,
            "timestamp": _now(),
            "error": {"code": code, "message": message},
        }
    )


def _envelope(reference: str, amount: str, link_id: str, status: str) -> bytes:
    data = {
        "reference_id": reference,
        "payout_link_id": link_id,
        "payout_link_url": f"https://hostile.invalid/links/{link_id}",
        "payout_status": status,
        "amount": Decimal(amount),
        "currency": "IDR",
        "expired_date": "2099-12-31T23:59:59Z",
    }
    return dumps_exact({"status": "0", "message": "Success", "timestamp": _now(), "data": data})


def _payout_body(invoice: str, amount: int, account_id: str, number: int) -> bytes:
    return dumps_exact(
        {
            "account": {"id": account_id},
            "payout": {
                "id": f"PO-{number:010d}",
                "amount": amount,
                "invoice_number": invoice,
                "status": "SUCCESS",
            },
        }
    )


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "hostile-doku"
    timeout = 10  # an idle keep-alive connection frees its thread
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        """Silent."""

    @property
    def gw(self) -> HostileGateway:
        return self.server.gateway

    # --- framing ----------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._dispatch(b"")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or "0")
        self._dispatch(self.rfile.read(min(length, 1 << 20)) if length else b"")

    def _dispatch(self, body: bytes) -> None:
        try:
            path = self.path.split("?", 1)[0]
            request_id = self.headers.get("Request-Id") or ""
            if self.command == "POST" and path == INITIATE:
                self._initiate(request_id, body)
            elif self.command == "POST" and path == STATUS:
                self._status(request_id, body)
            elif self.command == "POST" and path == PAYOUTS:
                self._payout(request_id, body)
            elif self.command == "GET" and path.startswith(BALANCES):
                self._balance(request_id, path)
            else:
                self._send(404, _pl_error(404, "NOT_FOUND", f"no route {path}"))
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _send(
        self,
        status: int,
        body: bytes,
        *,
        sign_for: tuple[str, str] | None = None,
        content_type: str = "application/json",
    ) -> None:
        """One answer; ``sign_for=(request_id, target)`` signs it like DOKU's Sub Account."""
        headers = {"Content-Type": content_type, "Content-Length": str(len(body))}
        if sign_for is not None:
            request_id, target = sign_for
            stamp = _now()
            headers.update(
                {
                    "Client-Id": CLIENT_ID,
                    "Request-Id": request_id,
                    "Response-Timestamp": stamp,
                    "Signature": signing.sign_response(
                        secret_key=SECRET_KEY,
                        client_id=CLIENT_ID,
                        request_id=request_id,
                        response_timestamp=stamp,
                        target=target,
                        body=body,
                    ),
                }
            )
        self._head(status, headers)
        self.wfile.write(body)
        self.wfile.flush()

    def _head(self, status: int, headers: dict[str, str]) -> None:
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = "Unknown"
        lines = [f"HTTP/1.1 {status} {reason}", f"Server: {self.server_version}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        self.wfile.flush()

    def _drop(self) -> None:
        """Executed, and the answer is lost: close without a status line."""
        self.close_connection = True

    def _stream(self, status: int, chunks: Iterator[bytes], length: int, pause: float) -> None:
        """Send ``length`` bytes from ``chunks``, pausing between them; bounded by
        STREAM_LIMIT and by the server stopping. Records how much was written."""
        written = 0
        self.close_connection = True
        started = time.monotonic()
        try:
            self._head(status, {"Content-Type": "application/json", "Content-Length": str(length)})
            for chunk in chunks:
                if self.gw.stopping.is_set() or time.monotonic() - started > STREAM_LIMIT:
                    break
                self.wfile.write(chunk)
                self.wfile.flush()
                written += len(chunk)
                if pause:
                    self.gw.stopping.wait(pause)
        except OSError:
            pass
        finally:
            with self.gw.lock:
                self.gw.state.streamed.append(written)

    # --- Payout Link ------------------------------------------------------------------------

    def _initiate(self, request_id: str, body: bytes) -> None:
        gw = self.gw
        obj = json.loads(body)
        reference = str(obj["reference_id"])
        amount = str(obj["amount"])
        minor = int(Decimal(amount) * 100)
        digest = hashlib.sha256(body).hexdigest()
        with gw.lock:
            gw.state.seen.append(Seen(INITIATE, request_id, reference))
            used = reference in gw.state.links
            prior = gw.state.idem.get(("payout-link", request_id))
            if gw.case == "drop-then-duplicate":
                if not used:
                    gw._execute(Execution("payout-link", request_id, reference, minor))
            elif prior is None and not used and gw.case != "status-other-reference":
                gw._execute(Execution("payout-link", request_id, reference, minor))
            link = gw.state.links.get(reference)
        case = gw.case
        if case == "drop-then-duplicate":
            if not used:
                return self._drop()
            message = f"reference_id {reference!r} was already used"
            return self._send(400, _pl_error(400, "DUPLICATE_REFERENCE", message))
        if prior is not None and prior.body_sha256 == digest:
            return self._send(409, prior.response)
        if used:
            message = f"reference_id {reference!r} was already used (unique per merchant)"
            return self._send(400, _pl_error(400, "DUPLICATE_REFERENCE", message))
        if case == "status-other-reference":
            return self._send(503, _pl_error(503, "SERVICE_UNAVAILABLE", "try again later"))
        assert link is not None
        honest = _envelope(reference, amount, link.payout_link_id, link.status)
        answer = honest
        if case == "initiate-other-reference":
            answer = _envelope(OTHER_REFERENCE, amount, "PL-OTHER-0001", "COMPLETED")
        elif case == "amount-one":
            answer = _envelope(reference, "1", link.payout_link_id, link.status)
        with gw.lock:
            gw.state.idem[("payout-link", request_id)] = _Prior(digest, 200, answer)
        if case == "trickle":
            padded = honest[:-1] + b" " * 200 + honest[-1:]
            return self._stream(
                200, (padded[i : i + 1] for i in range(len(padded))), len(padded), TRICKLE_STEP
            )
        if case == "huge":
            return self._stream(200, _huge_chunks(honest), HUGE_BYTES + len(honest), 0.0)
        if case == "html":
            page = (
                b"<!DOCTYPE html><html><head><title>Maintenance</title></head>"
                b"<body><h1>We'll be right back</h1></body></html>"
            )
            return self._send(200, page, content_type="text/html")
        self._send(200, answer)
        if case == "regression":
            with gw.lock:
                link.status = "FAILED"  # the bank reversed the payout after COMPLETED
        return None

    def _status(self, request_id: str, body: bytes) -> None:
        gw = self.gw
        reference = str(json.loads(body).get("transaction_id"))
        with gw.lock:
            gw.state.seen.append(Seen(STATUS, request_id, reference))
            gw.state.lookups[reference] += 1
            lookups = gw.state.lookups[reference]
            link = gw.state.links.get(reference)
        case = gw.case
        if case == "status-other-reference":
            answer = _envelope(OTHER_REFERENCE, "1500000", "PL-OTHER-0001", "COMPLETED")
            return self._send(200, answer)
        if link is None or (case == "drop-then-duplicate" and lookups == 1):
            message = f"no payout link with reference {reference!r}"
            return self._send(404, _pl_error(404, "NOT_FOUND", message))
        amount = "1" if case == "amount-one" else link.amount
        self._send(200, _envelope(reference, amount, link.payout_link_id, link.status))
        return None

    # --- Sub Account --------------------------------------------------------------------------

    def _balance(self, request_id: str, path: str) -> None:
        account_id = path[len(BALANCES) :]
        body = dumps_exact(
            {
                "balance": {"pending": "0", "available": BALANCE},
                "account": {"id": account_id, "status": "ACTIVE"},
            }
        )
        self._send(200, body, sign_for=(request_id, path))

    def _payout(self, request_id: str, body: bytes) -> None:
        gw = self.gw
        obj = json.loads(body)
        invoice = str(obj["payout"]["invoice_number"])
        amount = int(obj["payout"]["amount"])
        account_id = str(obj["account"]["id"])
        digest = hashlib.sha256(body).hexdigest()
        sign = (request_id, PAYOUTS)
        with gw.lock:
            gw.state.seen.append(Seen(PAYOUTS, request_id, invoice))
            prior = gw.state.idem.get(("sub-account", request_id))
            used = any(e.op == "payout" and e.reference == invoice for e in gw.state.executions)
            number = len(gw.state.executions) + 1
            if prior is None and not used:
                gw._execute(Execution("payout", request_id, invoice, amount * 100, account_id))
        if gw.case == "drop-then-duplicate":
            if not used:
                return self._drop()
            message = f"invoice_number {invoice!r} was already used"
            error = {"error": {"code": "DUPLICATE_REFERENCE", "message": message}}
            return self._send(400, dumps_exact(error), sign_for=sign)
        if prior is not None:
            if prior.body_sha256 != digest:
                error = {"error": {"code": "REQUEST_ID_REUSED", "message": "different body"}}
                return self._send(400, dumps_exact(error), sign_for=sign)
            if gw.case == "conflict-409":
                contradiction = _payout_body(OTHER_INVOICE, 1, OTHER_ACCOUNT, 999_999)
                return self._send(409, contradiction, sign_for=sign)
            return self._send(409, prior.response, sign_for=sign)
        if used:
            message = f"invoice_number {invoice!r} was already used"
            error = {"error": {"code": "DUPLICATE_REFERENCE", "message": message}}
            return self._send(400, dumps_exact(error), sign_for=sign)
        honest = _payout_body(invoice, amount, account_id, number)
        answer = _payout_body(invoice, 1, account_id, number) if gw.case == "amount-one" else honest
        with gw.lock:
            gw.state.idem[("sub-account", request_id)] = _Prior(digest, 200, answer)
        if gw.case == "conflict-409":
            return self._drop()
        self._send(200, answer, sign_for=sign)
        return None


def _huge_chunks(envelope: bytes) -> Iterator[bytes]:
    """A valid JSON success envelope with HUGE_BYTES of whitespace inside, 64 KiB at a time."""
    yield envelope[:-1]
    block = b" " * (64 << 10)
    left = HUGE_BYTES
    while left > 0:
        step = min(left, len(block))
        yield block[:step]
        left -= step
    yield envelope[-1:]


# --- the invariants against the gateway's own truth ------------------------------------------

PAID_STATES = frozenset({"COMPLETED", "SUCCESS", "CREATED", "ACTIVE"})  # written here on purpose
OP_OF_KIND = {"payout-link": "payout-link", "sub-account-payout": "payout"}
_RETRY_SUFFIX = re.compile(r"-R\d+$")


def business_key(reference: str) -> str:
    """One payee's reference across runs and retries: ``PL-0001``, ``pl-0001`` and the
    retry's ``PL-0001-R2`` are the same business reference (paid twice if both execute)."""
    return reference_key(_RETRY_SUFFIX.sub("", reference))


def truth_problems(
    gateway: HostileGateway,
    ledger_paths: Sequence[Path],
    *,
    outputs: Sequence[str] = (),
    workbooks: bool = True,
) -> list[str]:
    """docs/safety.md invariants 1 and 5 against the hostile gateway's own truth, across every run
    of every journal given: (1) per business reference the gateway executed at most once;
    (5) every row the journal shows paid was executed by the gateway for that reference and
    amount and is paid there now; each run's workbook shows exactly the journal (so nothing
    else as paid); and no printed summary counts more paid rows than the gateway confirmed."""
    from tests.helpers.proofs import check_workbook

    problems: list[str] = []
    counts = Counter(business_key(e.reference) for e in gateway.executions)
    twice = {ref: n for ref, n in counts.items() if n > 1}
    if twice:
        problems.append(f"(1) executed more than once at the gateway: {twice}")
    confirmed_total = 0
    for path in ledger_paths:
        if not Path(path).exists():
            continue
        ledger = SqliteJournal(path)
        for run in ledger.runs():
            rows = ledger.rows(run.run_id)
            op = OP_OF_KIND[run.kind]
            for row in rows:
                if row.state not in PAID_STATES:
                    continue
                if gateway.confirmed(row.reference, row.amount_minor, op):
                    confirmed_total += 1
                    continue
                problems.append(
                    f"(5) run {run.run_id} row {row.row_number} {row.reference} is {row.state} "
                    f"(paid) but the gateway executed {gateway.executed_count(row.reference)}× "
                    f"with amounts {[e.amount_minor for e in gateway.executions if e.reference == row.reference]} "  # noqa: E501
                    f"(journal {row.amount_minor}), status there now "
                    f"{gateway.truth_status(row.reference, op)}"
                )
            report = runs.workbook_path(run)
            if workbooks and report.exists():
                problems += [f"run {run.run_id}: {p}" for p in check_workbook(report, rows)]
    for text in outputs:
        shown = sum(int(m.group(2)) for m in _SUMMARY_LINE.finditer(text))
        if shown > confirmed_total:
            problems.append(
                f"(5) a summary shows {shown} paid row(s); the gateway confirmed "
                f"{confirmed_total}:\n{text[-800:]}"
            )
    return problems


def assert_truth(gateway: HostileGateway, ledger_paths: Sequence[Path], **kw: Any) -> None:
    problems = truth_problems(gateway, ledger_paths, **kw)
    assert not problems, "\n  ".join(["invariant breach(es):", *problems])


_SUMMARY_LINE = re.compile(r"^  (COMPLETED|SUCCESS)\s+(\d+)\b", re.MULTILINE)


def row_codes(ledger: SqliteJournal, run_id: str, row_number: int) -> set[str]:
    """Every outcome code a row was journaled with: the row's ``code`` and each part of its
    events' details (the journal writes ``old→new; <code>; …``)."""
    row = ledger.row(run_id, row_number)
    found = {row.code} if getattr(row, "code", None) else set()
    for event in ledger.events(run_id):
        if event.row_number == row_number:
            found.update(part.strip() for part in event.detail.split(";"))
            found.add(event.type)
    return found
