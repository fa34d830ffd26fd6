"""Percentiles of turn latencies, for the waterfall's side panel. No I/O."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any


def percentile(values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile; None of nothing."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(fraction * len(ordered)) - 1, 0)]


def reply_totals(details: Iterable[Mapping[str, Any]]) -> list[float]:
    """End of speech to first frame sent, of every turn that answered the caller."""
    return [
        turn["total_ms"]
        for detail in details
        for turn in detail.get("turns", [])
        if turn.get("total_ms") is not None
    ]


def p50_p95(values: list[float]) -> dict[str, float | None]:
    return {"p50": percentile(values, 0.5), "p95": percentile(values, 0.95), "n": len(values)}
