"""group_codes (the exporters' and validator's groupby without a groupby) against pandas' sorted
groupby, on narrow ranges (marked in a table), wide ones (hashed) and keys that would overflow
int64; first_rows against np.unique's first indices."""

from __future__ import annotations

import numpy as np
import pandas as pd

from revati.trace.codes import first_rows
from revati.trace.validate import group_codes


def _ngroup(cols: list[np.ndarray]) -> np.ndarray:
    df = pd.DataFrame({f"c{i}": c for i, c in enumerate(cols)})
    return df.groupby(list(df.columns), sort=True).ngroup().to_numpy()


def test_narrow_and_wide_columns_match_a_sorted_groupby() -> None:
    rng = np.random.default_rng(7)
    n = 5000
    cols = [
        rng.integers(0, 2, n).astype(bool),  # host flag
        rng.integers(-3, 4, n),  # negative values, narrow range
        rng.integers(0, 1 << 40, n) * (rng.integers(0, 2, n) == 0),  # wide: hashed
        rng.integers(100_000, 100_010, n).astype(np.uint32),
    ]
    got = group_codes(cols)
    assert np.array_equal(got, _ngroup(cols))
    assert got.max() + 1 == len({tuple(r) for r in np.stack(cols, axis=1).tolist()})


def test_key_that_would_overflow_is_renumbered() -> None:
    """Six columns of ~2^16 distinct values each: the raw mixed-radix key passes 2^62."""
    rng = np.random.default_rng(3)
    n = 70_000
    cols = [rng.integers(0, 1 << 16, n) for _ in range(6)]
    assert np.array_equal(group_codes(cols), _ngroup(cols))


def test_first_rows() -> None:
    codes = np.array([2, 0, 2, 1, 0, 1, 2])
    assert first_rows(codes, 3).tolist() == [1, 3, 0]
    rng = np.random.default_rng(1)
    c = rng.integers(0, 50, 10_000)
    _, first = np.unique(c, return_index=True)
    assert np.array_equal(first_rows(c, 50), first)
    assert first_rows(np.array([0, 0]), 2).tolist() == [0, 2]  # code 1 absent: len(codes)
