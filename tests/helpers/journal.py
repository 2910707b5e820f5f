"""Journal rows for tests that drive a journal directly (no sheet, no plan)."""

from __future__ import annotations

from batchpay.journal import NewRow


def new_rows(n: int, prefix: str = "REF", **input_extra: str) -> list[NewRow]:
    """``n`` PLANNED Payout Link rows ``PREFIX-0`` … (sheet rows 2 …), IDR 1,500,000 each,
    with ``input_extra`` added to each row's input columns."""
    return [
        NewRow(
            row_number=i + 2,
            reference=f"{prefix}-{i}",
            amount_minor=150_000_000,
            currency="IDR",
            source_account=None,
            input={"Ref": f"{prefix}-{i}", **input_extra},
            normalised={"reference_id": f"{prefix}-{i}"},
            body=f'{{"reference_id":"{prefix}-{i}","amount":1500000}}'.encode(),
        )
        for i in range(n)
    ]
