"""The executed report — the gateway's truth that reliability tests assert against
(docs/safety.md invariants 1 and 3: nothing paid twice; ledger and gateway agree in total)."""

from __future__ import annotations

from typing import Any


def format_minor(minor: int) -> str:
    """Minor units (cents) → canonical decimal text: ``150000`` → ``1500``, ``150050`` →
    ``1500.50`` (never a float)."""
    sign = "-" if minor < 0 else ""
    whole, cents = divmod(abs(minor), 100)
    return f"{sign}{whole}" if cents == 0 else f"{sign}{whole}.{cents:02d}"


def executed_report(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """``{"count", "amount", "items", "references", "max_per_reference"}`` from executed rows;
    amounts as decimal strings, never floats."""
    items: list[dict[str, Any]] = []
    by_reference: dict[str, dict[str, Any]] = {}
    total = 0
    for row in rows:
        minor = row["amount_minor"]
        total += minor or 0
        items.append(
            {
                "op": row["op"],
                "request_id": row["request_id"],
                "reference": row["reference"],
                "amount": format_minor(minor) if minor is not None else None,
                "account_id": row["account_id"],
                "at": row["at"],
            }
        )
        key = f"{row['op']}:{row['reference']}"
        entry = by_reference.setdefault(
            key, {"op": row["op"], "reference": row["reference"], "count": 0, "amount_minor": 0}
        )
        entry["count"] += 1
        entry["amount_minor"] += minor or 0
    references = [
        {
            "op": e["op"],
            "reference": e["reference"],
            "count": e["count"],
            "amount": format_minor(e["amount_minor"]),
        }
        for e in by_reference.values()
    ]
    return {
        "count": len(items),
        "amount": format_minor(total),
        "items": items,
        "references": references,
        "max_per_reference": max((e["count"] for e in references), default=0),
    }
