"""Align two runs: every operation gets a key (rank, track, n) that means the same in both runs.

Device operations (kernel, memcpy, memset, collective) are keyed by their stream: track
"dev D stream S", n = position on that stream in time order. Host API calls are keyed by thread:
track "thread I" where I numbers the process's threads by first appearance (OS thread ids differ
from run to run, as do pids, so ranks are matched by rank id). The first position where two runs
disagree on a track's name sequence is a structural divergence.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from revati.trace.reader import Run
from revati.trace.schema import DEVICE_KINDS

COLUMNS = ["rank", "track", "n", "name", "kind", "ts", "dur", "device"]


def _device_names(kind: str, df: pd.DataFrame) -> pd.Series:
    if kind == "kernel":
        return df["name"]
    if kind == "memcpy":
        return "Memcpy " + df["kind"].astype(str)
    if kind == "memset":
        return pd.Series("Memset", index=df.index)
    return "nccl:" + df["op"].astype(str)


def sequences(run: Run, *, host: bool = True) -> pd.DataFrame:
    """Every aligned operation of a run: rank, track, n, name, kind, ts (ns), dur (ns), device."""
    parts = []
    for kind in DEVICE_KINDS:
        df = run.frames[kind]
        if not len(df):
            continue
        parts.append(pd.DataFrame({
            "rank": df["rank"].to_numpy(),
            "track": ("dev " + df["dev"].astype(str) + " stream " + df["stream"].astype(str))
            .to_numpy(),
            "name": _device_names(kind, df).to_numpy(), "kind": kind,
            "ts": df["ts_ns"].to_numpy(), "dur": (df["end_ns"] - df["ts_ns"]).to_numpy(),
            "seq": df["seq"].to_numpy(), "device": True,
        }))  # fmt: skip
    if host and len(run.frames["api"]):
        api = run.frames["api"].sort_values(["pid", "seq"], kind="stable")
        first = api.drop_duplicates(["pid", "tid"])
        tindex = first.assign(ti=first.groupby("pid").cumcount())[["pid", "tid", "ti"]]
        api = api.merge(tindex, on=["pid", "tid"], how="left")
        parts.append(pd.DataFrame({
            "rank": api["rank"].to_numpy(), "track": ("thread " + api["ti"].astype(str)).to_numpy(),
            "name": api["name"].to_numpy(), "kind": "api", "ts": api["ts_ns"].to_numpy(),
            "dur": (api["end_ns"] - api["ts_ns"]).to_numpy(), "seq": api["seq"].to_numpy(),
            "device": False,
        }))  # fmt: skip
    if not parts:
        return pd.DataFrame({c: [] for c in COLUMNS})
    s = pd.concat(parts, ignore_index=True)
    # on one stream, the collective and its NCCL kernel may share a start: seq keeps the order
    s = s.sort_values(["rank", "track", "ts", "seq"], kind="stable", ignore_index=True)
    s["n"] = s.groupby(["rank", "track"], sort=False).cumcount()
    return s[COLUMNS]


def align(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """Outer join of two runs' sequences on (rank, track, n), with `same` (names equal, both present)."""
    m = a.merge(b, on=["rank", "track", "n"], how="outer", suffixes=("_a", "_b"), sort=False)
    same = (m["name_a"] == m["name_b"]).fillna(False).to_numpy(dtype=bool)
    m["same"] = same
    return m


def divergences(m: pd.DataFrame) -> pd.DataFrame:
    """The first mismatch on each track (rank, track), sorted by time of occurrence."""
    bad = m[~m["same"]]
    if not len(bad):
        return bad.assign(at=np.array([], dtype=np.int64))
    first = bad.sort_values("n", kind="stable").drop_duplicates(["rank", "track"])
    at = first["ts_a"].where(first["ts_a"].notna(), first["ts_b"])
    return first.assign(at=at.astype(np.int64)).sort_values(["at", "rank", "track"], kind="stable")
