"""Another device's profile data as training rows for this device: each measured duration scaled as
the driver scales a what-if prediction (`rv_pf_cross_factor`: the launch's roofline share of its time
moves to this device's roofline, the rest is kept), for the launches this device's own data lacks.

A device with a small profile of its own (one workload, a few minutes of a lent card) then keeps the
coverage of a richer device's sweeps; where it measured a launch itself, its own time wins.
"""

from __future__ import annotations

import ctypes

import numpy as np
import pandas as pd

from revati.devices import DeviceProfile
from revati.errors import RevatiError
from revati.predictors import dataset, features, native

SCALED_COLUMN = "scaled_from"  # the source device's profile key; "" on the device's own rows


def scaled_rows(src: dataset.Dataset, target: DeviceProfile, own: pd.DataFrame) -> pd.DataFrame:
    """The rows of `src` (another device's datasets) whose launch (`dataset.launch_key`) is not in
    `own`, their durations scaled to `target`; `SCALED_COLUMN` names their device."""
    if src.device.key == target.key:
        raise RevatiError(
            f"--scaled data is from {target.key} itself: give it as a dataset, not to scale"
        )
    have = {dataset.launch_key(r) for r in own.itertuples(index=False)}
    k = src.kernels
    keep = np.array([dataset.launch_key(r) not in have for r in k.itertuples(index=False)])
    rows = k[keep].reset_index(drop=True).copy()
    so = native.lib()
    a, b = native.pdev(src.device), native.pdev(target)
    dur = rows["dur_ns"].to_numpy(dtype=float)
    factor = np.array(
        [
            so.rv_pf_cross_factor(ctypes.byref(pk), ctypes.byref(a), ctypes.byref(b), d)
            for pk, d in zip(features.launches(rows), dur, strict=True)
        ]
    )
    for col in ("dur_ns", "dur_min_ns", "dur_max_ns"):
        if col in rows:
            rows[col] = rows[col].to_numpy(dtype=float) * factor
    rows[SCALED_COLUMN] = src.device.key
    return rows


def host_rows(own: pd.DataFrame, other: pd.DataFrame) -> pd.DataFrame:
    """Host costs for the device: its own rows, except for calls that only the other device's data
    measured untraced (`mode` host_only): a driver call's host time belongs to the host and the
    driver, not the GPU, and an untraced time beats one inflated by CUPTI's tracing
    (docs/predictors.md, "Host costs")."""

    def with_mode(hc: pd.DataFrame) -> pd.DataFrame:
        mode = hc["mode"].fillna("traced") if "mode" in hc else "traced"
        return hc.assign(mode=mode)

    own, other = with_mode(own), with_mode(other)
    own_untraced = set(own.loc[own["mode"] == "host_only", "call"])
    taken = other[(other["mode"] == "host_only") & ~other["call"].isin(own_untraced)]
    kept = own[(own["mode"] == "host_only") | ~own["call"].isin(set(taken["call"]))]
    return pd.concat([kept, taken], ignore_index=True)
