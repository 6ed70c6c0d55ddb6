"""Time units: integer virtual nanoseconds everywhere; these are the only conversions."""

from __future__ import annotations

from typing import NewType

VTimeNs = NewType("VTimeNs", int)  # a virtual instant, ns since the run's virtual epoch
DurNs = NewType("DurNs", int)  # a duration in ns

NS_PER_US = 1_000
NS_PER_MS = 1_000_000
NS_PER_S = 1_000_000_000


def ns_to_us(ns: int) -> float:
    """Nanoseconds to (fractional) microseconds, as Chrome JSON wants them."""
    return ns / NS_PER_US


def ns_to_ms(ns: int) -> float:
    return ns / NS_PER_MS


def ns_to_s(ns: int) -> float:
    return ns / NS_PER_S
