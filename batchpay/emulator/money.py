"""Sub Account money: account creation, payouts, transfers, balances, accept-payment routing.

Amounts are whole rupiah integers throughout (docs/doku-api.md §5); nothing here is a float.
A payout or transfer is checked completely before the first write, so a rejection never
leaves a partial change behind.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from batchpay.emulator import rules
from batchpay.emulator.state import Store
from batchpay.emulator.wire import Rejected, Reply, Route
from batchpay.kinds import SUB_ACCOUNT_CREATE, SUB_ACCOUNT_PAYOUT, SUB_ACCOUNT_TRANSFER, dumps_exact


class SubAccountOps:
    """The Sub Account half of :class:`batchpay.emulator.api.Doku`."""

    store: Store
    clock: Callable[[], float]
    activation_seconds: float
    settlement_seconds: float

    # --- Sub Account ----------------------------------------------------------------------
    def _create_account(
        self, route: Route, request_id: str, obj: dict[str, Any], now: float
    ) -> Reply:
        values = rules.check_kind(SUB_ACCOUNT_CREATE, obj)
        if self.store.reference_used("account", values["email"]):
            raise Rejected(
                400,
                "DUPLICATE_REFERENCE",
                f"a sub account for {values['email']!r} already exists",
                "account.email",
            )
        account = self.store.create_account(
            email=values["email"],
            type_=values["type"],
            name=values["name"],
            now=now,
            activate_at=now + self.activation_seconds,
        )
        self.store.record(
            op="account",
            request_id=request_id,
            reference=values["email"],
            amount_minor=None,
            account_id=account["id"],
            now=now,
        )
        return Reply(201, dumps_exact({"account": _account_view(account)}), executed=True)

    def _source(self, account_id: str, where: str, amount: int, now: float) -> dict[str, Any]:
        account = self._existing(account_id, where, now)
        if account["status"] != "ACTIVE":
            raise Rejected(
                422,
                "ACCOUNT_NOT_ACTIVE",
                f"sub account {account_id} is {account['status']}, not ACTIVE yet",
                where,
            )
        if account["available"] < amount:
            # DOKU rejects a short payout outright; it never queues it (docs/doku-api.md §5).
            raise Rejected(
                422,
                "INSUFFICIENT_BALANCE",
                f"sub account {account_id} has {account['available']} available, {amount} needed",
                where,
            )
        return account

    def _existing(self, account_id: str, where: str, now: float) -> dict[str, Any]:
        account = self.store.account(account_id, now)
        if account is None:
            raise Rejected(404, "ACCOUNT_NOT_FOUND", f"no sub account {account_id}", where)
        return account

    def _payout(self, route: Route, request_id: str, obj: dict[str, Any], now: float) -> Reply:
        values = rules.check_kind(SUB_ACCOUNT_PAYOUT, obj)
        invoice, amount = values["invoice_number"], values["amount"]
        self._unique("payout", invoice, "payout.invoice_number")
        self._source(values["account_id"], "account.id", amount, now)
        self.store.adjust(values["account_id"], available=-amount)
        seq = self.store.record(
            op="payout",
            request_id=request_id,
            reference=invoice,
            amount_minor=amount * 100,
            account_id=values["account_id"],
            now=now,
        )
        return Reply(
            200,
            dumps_exact(
                {
                    "account": {"id": values["account_id"]},
                    "payout": {
                        "id": f"PO-{seq:010d}",
                        "amount": amount,
                        "invoice_number": invoice,
                        "status": "SUCCESS",
                    },
                    "beneficiary": obj.get("beneficiary"),
                }
            ),
            executed=True,
        )

    def _transfer(self, route: Route, request_id: str, obj: dict[str, Any], now: float) -> Reply:
        values = rules.check_kind(SUB_ACCOUNT_TRANSFER, obj)
        invoice, amount = values["invoice_number"], values["amount"]
        origin, destination = values["origin"], values["destination"]
        self._unique("transfer", invoice, "transfer.invoice_number")
        self._existing(destination, "transfer.destination", now)
        self._source(origin, "transfer.origin", amount, now)
        self.store.adjust(origin, available=-amount)
        self.store.adjust(destination, available=amount)
        seq = self.store.record(
            op="transfer",
            request_id=request_id,
            reference=invoice,
            amount_minor=amount * 100,
            account_id=origin,
            now=now,
        )
        return Reply(
            200,
            dumps_exact(
                {
                    "transfer": {
                        "id": f"TR-{seq:010d}",
                        "origin": origin,
                        "destination": destination,
                        "amount": amount,
                        "invoice_number": invoice,
                        "status": "SUCCESS",
                    }
                }
            ),
            executed=True,
        )

    def _unique(self, op: str, invoice: str, where: str) -> None:
        if self.store.reference_used(op, invoice):
            raise Rejected(
                400, "DUPLICATE_REFERENCE", f"invoice_number {invoice!r} was already used", where
            )

    def _balance(self, route: Route, request_id: str, obj: dict[str, Any], now: float) -> Reply:
        account_id = route.account_id or ""
        if len(account_id) > 40:
            raise rules.FieldError("account_id", "is longer than 40 characters")
        account = self._existing(account_id, "account_id", now)
        return Reply(
            200,
            dumps_exact(
                {
                    "balance": {
                        "pending": str(account["pending"]),
                        "available": str(account["available"]),
                    },
                    "account": {"id": account["id"], "status": account["status"]},
                }
            ),
            executed=True,
        )

    # --- accept payment (routing into a sub account) --------------------------------------
    def _payment(self, route: Route, request_id: str, obj: dict[str, Any], now: float) -> Reply:
        amount = rules.whole_amount(obj, ("order", "amount"))
        invoice = rules.text_field(obj, ("order", "invoice_number"), 64)
        account_id = rules.text_field(obj, ("additional_info", "account", "id"), 40, required=False)
        if account_id is not None:
            self._existing(account_id, "additional_info.account.id", now)
            self.store.add_payment(account_id, amount, now + self.settlement_seconds)
        return Reply(
            200,
            dumps_exact(
                {
                    "message": ["SUCCESS"],
                    "response": {
                        "order": {"amount": amount, "invoice_number": invoice},
                        "payment": {"status": "SUCCESS"},
                        "additional_info": {"account": {"id": account_id}},
                    },
                }
            ),
            executed=True,
        )

    # --- admin helpers ----------------------------------------------------------------------
    def fund(self, account_id: str, amount: int, *, pending: bool = False) -> dict[str, Any]:
        """Money lands in ``account_id`` (created ACTIVE if unknown, for demos)."""
        now = self.clock()
        with self.store.tx():
            created = self.store.account(account_id, now) is None
            if created:
                self.store.create_account(
                    email=f"{account_id.lower()}@emulator.invalid",
                    type_="STANDARD",
                    name="Emulator funded account",
                    now=now,
                    activate_at=now,
                    account_id=account_id,
                    status="ACTIVE",
                )
            if pending:
                self.store.add_payment(account_id, amount, now + self.settlement_seconds)
            else:
                self.store.adjust(account_id, available=amount)
            account = self.store.account(account_id, now)
            assert account is not None
        return {
            "created": created,
            **_account_view(account),
            "balance": {"pending": str(account["pending"]), "available": str(account["available"])},
        }


def _account_view(account: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": account["id"],
        "email": account["email"],
        "type": account["type"],
        "name": account["name"],
        "status": account["status"],
    }
