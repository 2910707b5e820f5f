"""check_answer: an accepted answer counts only if it is about what was sent (issue 8,
finding 4). Unit cases here; the hostile gateway suite drives the same rule end to end."""

from __future__ import annotations

import json

import pytest

from batchpay.doku import make_session
from batchpay.doku.answers import check_answer
from batchpay.doku.client import DokuClient
from batchpay.doku.codes import Outcome, OutcomeClass
from batchpay.emulator import EMULATOR_CLIENT_ID, EMULATOR_SECRET_KEY, start_emulator
from batchpay.kinds import (
    PAYOUT_LINK,
    SUB_ACCOUNT_CREATE,
    SUB_ACCOUNT_PAYOUT,
    SUB_ACCOUNT_TRANSFER,
    dumps_exact,
)

LINK_BODY = dumps_exact(
    {
        "amount": 150000,
        "sender_name": "PT A",
        "receiver_name": "Budi",
        "receiver_phone_number": "6281234567890",
        "receiver_email": "budi@example.com",
        "reference_id": "BONUS-1",
        "currency": "IDR",
    }
)
PAYOUT_BODY = dumps_exact(
    {
        "account": {"id": "SAC-0001-1"},
        "payout": {"amount": 50000, "invoice_number": "PO-1"},
        "beneficiary": {
            "bank_code": "BNINIDJA",
            "bank_account_number": "0123456789",
            "bank_account_name": "Budi",
        },
    }
)
TRANSFER_BODY = dumps_exact(
    {
        "transfer": {
            "origin": "SAC-0001-1",
            "destination": "SAC-0001-2",
            "amount": 7000,
            "invoice_number": "TR-1",
        }
    }
)


def accepted(data: dict) -> Outcome:
    return Outcome(
        klass=OutcomeClass.ACCEPTED,
        http_status=200,
        data=data,
        status="COMPLETED",
        ids={"payout_link_id": "PL-OTHER"},
    )


def link_answer(**changes: object) -> dict:
    data = {
        "reference_id": "BONUS-1",
        "amount": "150000.00",
        "currency": "IDR",
        "payout_status": "COMPLETED",
        "payout_link_id": "PL-1",
    }
    data.update(changes)
    return {"status": "0", "message": "Success", "data": data}


def test_check_answer_link_same_reference_and_amount_is_kept() -> None:
    outcome = accepted(link_answer())
    assert check_answer(PAYOUT_LINK, LINK_BODY, outcome) is outcome


@pytest.mark.parametrize(
    "changes",
    [
        {"reference_id": "BONUS-2"},
        {"amount": "1"},
        {"currency": "USD"},
        {"reference_id": "bonus-1"},
    ],
)
def test_check_answer_link_other_payment_is_unknown_mismatch(changes: dict) -> None:
    checked = check_answer(PAYOUT_LINK, LINK_BODY, accepted(link_answer(**changes)))
    assert checked.klass is OutcomeClass.UNKNOWN
    assert checked.code == "answer-mismatch"
    assert checked.status is None and checked.ids == {} and checked.data is None


def test_check_answer_status_without_reference_is_mismatch() -> None:
    data = link_answer()
    del data["data"]["reference_id"]
    checked = check_answer(PAYOUT_LINK, LINK_BODY, accepted(data), reference="BONUS-1")
    assert checked.code == "answer-mismatch"
    # an initiate answer may omit it (DOKU publishes no data fields)
    assert check_answer(PAYOUT_LINK, LINK_BODY, accepted(data)).klass is OutcomeClass.ACCEPTED


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("payout", "invoice_number"), "PO-2"),
        (("payout", "amount"), 1),
        (("account", "id"), "SAC-0001-9"),
        (("beneficiary", "bank_account_number"), "123456789"),
        (("payout", "invoice_number"), None),
    ],
)
def test_check_answer_payout_other_invoice_account_amount_is_mismatch(path, value) -> None:
    answer = json.loads(PAYOUT_BODY)
    answer["payout"].update({"id": "P-1", "status": "SUCCESS"})
    assert (
        check_answer(SUB_ACCOUNT_PAYOUT, PAYOUT_BODY, accepted(answer)).klass
        is OutcomeClass.ACCEPTED
    )
    if value is None:
        del answer[path[0]][path[1]]
    else:
        answer[path[0]][path[1]] = value
    checked = check_answer(SUB_ACCOUNT_PAYOUT, PAYOUT_BODY, accepted(answer))
    assert (checked.klass, checked.code) == (OutcomeClass.UNKNOWN, "answer-mismatch")


@pytest.mark.parametrize("key", ["origin", "destination", "amount", "invoice_number"])
def test_check_answer_transfer_fields_are_compared(key: str) -> None:
    answer = json.loads(TRANSFER_BODY)
    answer["transfer"][key] = 1 if key == "amount" else "OTHER"
    checked = check_answer(SUB_ACCOUNT_TRANSFER, TRANSFER_BODY, accepted(answer))
    assert checked.code == "answer-mismatch"


def test_check_answer_rejections_pass_through_untouched() -> None:
    outcome = Outcome(
        klass=OutcomeClass.REJECTED, http_status=400, data={}, status=None, code="INVALID_FIELD"
    )
    assert check_answer(PAYOUT_LINK, LINK_BODY, outcome) is outcome


def test_check_answer_every_emulator_success_matches(tmp_path) -> None:
    """The rule must not refuse a truthful gateway: every kind's real emulator answer passes."""
    with start_emulator(state_path=tmp_path / "emu.sqlite") as emu:
        emu.admin.fund("SAC-0001-1", 1_000_000)
        emu.admin.fund("SAC-0001-2", 1)
        client = DokuClient(
            base_url=emu.url,
            client_id=EMULATOR_CLIENT_ID,
            secret_key=EMULATOR_SECRET_KEY,
            session=make_session(),
        )
        account_body = dumps_exact(
            {"account": {"email": "v@example.com", "type": "STANDARD", "name": "Vendor Satu"}}
        )
        cases = [
            (PAYOUT_LINK, "10000000000000000001", LINK_BODY),
            (SUB_ACCOUNT_PAYOUT, "req-payout-1", PAYOUT_BODY),
            (SUB_ACCOUNT_TRANSFER, "req-transfer-1", TRANSFER_BODY),
            (SUB_ACCOUNT_CREATE, "req-create-1", account_body),
        ]
        for kind, request_id, body in cases:
            outcome = client.send(kind, request_id, body)
            assert outcome.klass is OutcomeClass.ACCEPTED, outcome.message
            assert check_answer(kind, body, outcome) is outcome
            replay = client.send(kind, request_id, body)
            assert replay.replayed and check_answer(kind, body, replay) is replay
        status = client.payout_link_status("BONUS-1")
        assert check_answer(PAYOUT_LINK, LINK_BODY, status, reference="BONUS-1") is status
