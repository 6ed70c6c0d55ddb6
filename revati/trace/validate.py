"""Checks a loaded run for what readers and exporters must not paper over.

Exporters never repair data. The nesting rule they share lives here: slices on one track (a host
thread, or a device stream) must be disjoint or strictly nested; a slice that overlaps another
partially is moved to an overflow track ("stream 7 (overlap 1)") with its times unchanged, and
`validate_run` reports how many were moved.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from revati.trace import codes
from revati.trace.nesting import in_nest_order, nest_lanes, nest_parents
from revati.trace.reader import Run
from revati.trace.schema import DEVICE_KINDS, KIND_FIELDS, SPAN_BEGIN


@dataclass
class Issue:
    """One kind of problem: `code` (stable key), how many events, a one-line message, an example."""

    code: str
    count: int
    message: str
    example: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.code}: {self.message} ({self.count})"


def validate_run(run: Run) -> list[Issue]:
    """All issues found in a run; an empty list means the trace is consistent."""
    issues: list[Issue] = []
    for w in run.warnings:
        issues.append(Issue("load_warning", 1, w))
    for kind in KIND_FIELDS:
        df = run.frames[kind]
        if "end_ns" in df.columns and len(df):
            bad = df[df["end_ns"] < df["ts_ns"]]
            if len(bad):
                issues.append(
                    Issue(
                        "negative_duration",
                        len(bad),
                        f"'{kind}' events end before they start",
                        _example(bad),
                    )
                )
    issues += _check_seq(run)
    issues += _check_nesting(run)
    issues += _check_correlation(run)
    issues += _check_collectives(run)
    return issues


def _example(df: pd.DataFrame) -> dict[str, Any]:
    row = df.iloc[0].to_dict()
    return {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}


def _check_seq(run: Run) -> list[Issue]:
    parts = [df[["pid", "seq"]] for df in run.frames.values() if len(df)]
    if not parts:
        return []
    allseq = pd.concat(parts, ignore_index=True)
    out = []
    for pid, g in allseq.groupby("pid", sort=True):
        s = np.sort(g["seq"].to_numpy())
        if len(s) and (s[0] != 0 or np.any(np.diff(s) != 1)):
            dup = int(np.sum(np.diff(s) == 0))
            gaps = int(np.sum(np.diff(s) > 1)) + (1 if s[0] != 0 else 0)
            out.append(
                Issue(
                    "seq_gap",
                    dup + gaps,
                    f"process {pid}: event sequence numbers have {gaps} gap(s) and "
                    f"{dup} duplicate(s) (lost or repeated lines)",
                    {"pid": int(pid)},
                )
            )
    return out


def marker_begins(m: pd.DataFrame) -> np.ndarray:
    """Each marker's start: its args' `begin_ns` for a span marker, else its own time."""
    begins = [a.get(SPAN_BEGIN) if isinstance(a, dict) else None for a in m["args"].tolist()]
    ts = m["ts_ns"].to_numpy()
    return np.array(
        [
            int(b) if isinstance(b, int) and b >= 0 else int(t)
            for b, t in zip(begins, ts, strict=True)
        ],
        dtype=np.int64,
    )


def _sorted_codes(values: np.ndarray) -> tuple[np.ndarray, int]:
    """Codes of values numbered in sorted order of the distinct values (revati.trace.codes)."""
    return codes.sorted_codes(values, pd.factorize)


def group_codes(columns: list[np.ndarray]) -> np.ndarray:
    """Per row the number of its group of equal values, groups in sorted order (as a sorted
    groupby's ngroup; revati.trace.codes, distinct values found by pandas' hashing)."""
    return codes.group_codes(columns, pd.factorize)


TRACK_COLUMNS = ["kind", "row", "host", "rank", "pid", "a", "b", "ts", "end", "corr"]


def _track_parts(run: Run) -> list[dict[str, object]]:
    """Per kind of span, its columns of `track_frame` as numpy arrays (kind a scalar)."""
    parts: list[dict[str, object]] = []

    def col(df: pd.DataFrame, name: str) -> np.ndarray:
        return df[name].to_numpy(dtype=np.int64)

    for host, kinds in (
        (False, ("graph", *DEVICE_KINDS)),
        (True, ("graph", "api", "sync", "marker")),
    ):
        for kind in kinds:
            df = run.frames[kind]
            if kind == "graph":
                df = df[(df["what"] == "launch") != host]
            if not len(df):
                continue
            ts = col(df, "ts_ns")
            end = ts if kind == "marker" else col(df, "end_ns")
            if kind == "marker":  # a span marker (revati.markers.span) starts at its begin_ns
                ts = np.minimum(ts, marker_begins(df))
            parts.append({
                "kind": kind, "row": df.index.to_numpy(), "host": host, "rank": col(df, "rank"),
                "pid": col(df, "pid"), "a": col(df, "pid" if host else "dev"),
                "b": col(df, "tid" if host else "stream"), "ts": ts,
                "end": np.maximum(end, ts) if host else end,
                "corr": col(df, "corr") if "corr" in df.columns else np.zeros(len(df), np.int64),
            })  # fmt: skip
    return parts


def track_frame(run: Run) -> pd.DataFrame:
    """Every span of the run with its track: host (pid, tid) or device (rank, dev, stream)."""
    parts = _track_parts(run)
    if not parts:
        return pd.DataFrame({c: [] for c in [*TRACK_COLUMNS, "track", "lane"]})
    sizes = [len(p["ts"]) for p in parts]  # type: ignore[arg-type]
    cols: dict[str, np.ndarray] = {}
    for c in TRACK_COLUMNS[1:]:
        if c == "host":
            cols[c] = np.repeat([bool(p["host"]) for p in parts], sizes)
        else:
            cols[c] = np.concatenate([np.asarray(p[c]) for p in parts])
    kind_code = np.repeat(np.arange(len(parts)), sizes)
    # a track: host (pid, tid) or device (rank, dev, stream); `a`,`b` are its two numbers,
    # numbered in sorted (host, rank, a, b) order
    track = group_codes([cols[c] for c in ("host", "rank", "a", "b")])
    # already in order (one kind per track, in time order): no sort, no copies
    order: np.ndarray | slice = (
        slice(None)
        if in_nest_order(track, cols["ts"], cols["end"])
        else np.lexsort((-cols["end"], cols["ts"], track))
    )
    part_kinds = [str(p["kind"]) for p in parts]
    names = list(dict.fromkeys(part_kinds))  # the kind column is categorical: no string per row
    t = pd.DataFrame(
        {
            "kind": pd.Categorical.from_codes(
                np.array([names.index(k) for k in part_kinds])[kind_code[order]], names
            ),
            **{c: v[order] for c, v in cols.items()},
            "track": track[order],
        },
        copy=False,  # the columns are this frame's own arrays: no consolidated copy
    )
    lanes = np.zeros(len(t), dtype=np.int64)
    tr = t["track"].to_numpy()
    ts = t["ts"].to_numpy()
    end = t["end"].to_numpy()
    par = nest_parents(ts, end, tr)
    bad = (par >= 0) & (end > end[np.maximum(par, 0)])
    if bad.any():  # only tracks with a partial overlap need the exact (sequential) lane pass
        bounds = np.flatnonzero(np.diff(tr)) + 1
        first = np.concatenate(([0], bounds))
        last = np.concatenate((bounds, [len(t)]))
        for k in np.unique(tr[bad]).tolist():
            i0, i1 = int(first[k]), int(last[k])
            lanes[i0:i1] = nest_lanes(ts[i0:i1], end[i0:i1])
    t["lane"] = lanes
    return t


def _check_nesting(run: Run) -> list[Issue]:
    t = track_frame(run)
    moved = t[t["lane"] > 0]
    if not len(moved):
        return []
    kinds = ", ".join(f"{k} {n}" for k, n in moved["kind"].value_counts().items() if n)
    return [
        Issue(
            "partial_overlap",
            len(moved),
            f"slices overlapping others partially on their track ({kinds}); exporters "
            f"put them on overflow tracks",
            _example(moved),
        )
    ]


def _check_correlation(run: Run) -> list[Issue]:
    api = run.frames["api"]
    keys = api.loc[api["corr"] != 0, ["pid", "corr"]].drop_duplicates()
    parts = [
        run.frames[k].loc[run.frames[k]["corr"] != 0, ["pid", "corr", "seq"]].assign(kind=k)
        for k in DEVICE_KINDS
        if len(run.frames[k])
    ]
    if not parts:
        return []
    dev = pd.concat(parts, ignore_index=True)
    m = dev.merge(keys, on=["pid", "corr"], how="left", indicator=True)
    orphans = m[m["_merge"] == "left_only"]
    if not len(orphans):
        return []
    return [
        Issue(
            "orphan_correlation",
            len(orphans),
            "device operations whose correlation id matches no API call",
            _example(orphans.drop(columns="_merge")),
        )
    ]


def collective_groups(run: Run) -> pd.DataFrame:
    """Collectives with `nth` (index within their process and communicator) and `group` id.

    Events that carry `match` (the rendezvous id the NCCL interposer writes) are grouped by it;
    others by their index within their process and communicator.
    """
    c = run.frames["collective"].sort_values(["pid", "ts_ns", "seq"], kind="stable").copy()
    c["nth"] = c.groupby(["pid", "comm"], sort=False).cumcount()
    if not len(c):
        c["group"] = []
        return c
    key = c["nth"].to_numpy() * -1 - 1  # readers fill an absent match with 0
    if "match" in c.columns:
        m = c["match"].fillna(0).to_numpy(dtype="int64")
        key = np.where(m > 0, m, key)
    c["group"] = c.assign(_key=key).groupby(["comm", "_key"], sort=True).ngroup()
    return c


def _check_collectives(run: Run) -> list[Issue]:
    c = collective_groups(run)
    if not len(c):
        return []
    g = c.groupby("group")
    size = g["pid"].transform("size")
    # point-to-point operations meet their one peer, not every rank
    p2p = c["op"].isin(["send", "recv"])
    bad_size = c[(size != c["nranks"]) & ~p2p | (size != 2) & p2p & (c["peers"].map(len) > 0)]
    ops = c["op"].replace({"send": "p2p", "recv": "p2p"}).groupby(c["group"]).transform("nunique")
    bad_op = c[ops > 1]
    # the ranks of one collective meet: each ends at the same virtual time (docs/coordination.md)
    bad_end = c[(g["end_ns"].transform("nunique") > 1) & (size > 1)]
    out = []
    if len(bad_size):
        out.append(
            Issue(
                "collective_unmatched",
                len(bad_size),
                "collectives whose number of participating ranks differs from nranks",
                _example(bad_size),
            )
        )
    if len(bad_op):
        out.append(
            Issue(
                "collective_mismatch",
                len(bad_op),
                "ranks disagree on the op of the n-th collective of a communicator",
                _example(bad_op),
            )
        )
    if len(bad_end):
        out.append(
            Issue(
                "collective_misaligned",
                len(bad_end),
                "ranks of one collective end at different virtual times",
                _example(bad_end),
            )
        )
    return out
