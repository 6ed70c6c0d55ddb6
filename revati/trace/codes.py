"""Integer codes of groups of equal values, in numpy only (no pandas), for the exporters.

`group_codes` numbers rows by their group of equal values over several columns, groups in sorted
order (a sorted groupby's ngroup); `first_rows` finds each code's first row. Distinct values of a
column over a wide range are found by hashing where pandas is at hand (`factorize`, as
revati.trace.validate passes it) and by sorting (np.unique) otherwise; both give the same codes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

Factorize = Callable[[np.ndarray], tuple[Any, Any]]


def sorted_codes(values: np.ndarray, factorize: Factorize | None = None) -> tuple[np.ndarray, int]:
    """Codes of values numbered in sorted order of the distinct values, and how many there are."""
    if values.dtype == bool:
        values = values.view(np.uint8)
    if len(values) and values.dtype.kind in "iu":
        lo, hi = int(values.min()), int(values.max())
        if lo == hi:  # one value (a run's only rank, a part's host flag): no table, no gather
            return np.zeros(len(values), np.int64), 1
        if hi - lo < max(len(values), 1 << 16):  # a narrow range: mark the values present
            off = values - lo if lo else values
            present = np.zeros(hi - lo + 1, bool)
            present[off] = True
            rank = np.cumsum(present, dtype=np.int64) - 1
            return rank[off], int(rank[-1]) + 1
    if factorize is None:
        uniq, inverse = np.unique(values, return_inverse=True)
        return inverse.reshape(-1).astype(np.int64, copy=False), len(uniq)
    codes, uniq = factorize(values)  # hashing: the few distinct values are sorted after
    rank = np.empty(len(uniq), np.int64)
    rank[np.argsort(np.asarray(uniq), kind="stable")] = np.arange(len(uniq))
    return rank[codes], len(uniq)


def group_codes(columns: list[np.ndarray], factorize: Factorize | None = None) -> np.ndarray:
    """Per row the number of its group of equal values, groups in sorted order (as a sorted
    groupby's ngroup)."""
    key = np.zeros(len(columns[0]) if columns else 0, np.int64)
    span = 1  # key < span
    dense = True  # key numbers the groups so far 0.. in sorted order, every number used
    for c in columns:
        codes, n = sorted_codes(c, factorize)
        if n == 1:  # a constant column splits no group
            continue
        if span == 1:  # the first column that varies: its codes are the key
            key, span = codes, n
            continue
        if span * n >= 1 << 62:  # renumber the key densely before it could overflow
            key, span = sorted_codes(key, factorize)
        key = key * n + codes
        span *= n
        dense = False
    return key if dense else sorted_codes(key, factorize)[0]


def first_rows(codes: np.ndarray, k: int) -> np.ndarray:
    """Per code 0..k-1 the first row that has it (len(codes) for a code no row has); one pass,
    no sort."""
    first = np.full(k, len(codes), np.int64)
    np.minimum.at(first, codes, np.arange(len(codes)))
    return first
