"""What both exporters share: tracks, slice names, categories, args, relative times and flows.

Tracks: one process per (rank, host) and one per (rank, device); host threads and device streams
are threads of those. Chrome ids: a host keeps its OS pid; a device gets 10,000,000 + 1000*rank +
dev (above any Linux pid); a stream's tid is its stream id. Overflow lanes (see
revati.trace.validate) get tid + lane * 1,000,000 (device) or + lane * 10,000,000 (host).
Times: integer ns relative to the run's first event; only the exporter converts them further.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from revati.trace.reader import Run
from revati.trace.validate import collective_groups, track_frame

log = logging.getLogger(__name__)

DEVICE_PID_BASE = 10_000_000
DEVICE_LANE_TID = 1_000_000
HOST_LANE_TID = 10_000_000
COLLECTIVE_FLOW_BASE = 1 << 50

CATEGORY = {
    "kernel": "kernel",
    "memcpy": "gpu_memcpy",
    "memset": "gpu_memset",
    "collective": "collective_comm",
    "graph": "cuda_graph",
    "sync": "cuda_sync",
    "marker": "user_annotation",
}


def api_category(name: str) -> str:
    if name.startswith("cuda"):
        return "cuda_runtime"
    if name.startswith("nccl"):
        return "collective_comm"
    return "cuda_driver"


@dataclass
class Layout:
    """Slices in track order (`t`), the tracks, processes, flows, and the time base."""

    t: pd.DataFrame  # one row per slice: ftrack, ts (rel ns), end (rel ns), name, cat, args
    tracks: pd.DataFrame  # one row per final track: cpid, ctid, pname, tname, host, rank, lane
    processes: pd.DataFrame  # one row per Chrome process: cpid, pname, sort, label
    base_ns: int
    flows: pd.DataFrame  # src (index in t), dst (index in t), id, kind ("ac2g" | "collective")
    overflow: int  # slices moved to overflow lanes


def _rows(df: pd.DataFrame, rows: np.ndarray, col: str) -> list[Any]:
    return df[col].to_numpy()[rows].tolist()


def _names_and_args(run: Run, kind: str, rows: np.ndarray, with_args: bool):
    """Slice names and (if asked) args dicts for rows of one kind's frame."""
    df = run.frames[kind]
    if kind == "api":
        names = _rows(df, rows, "name")
        cats = [api_category(n) for n in names]
        args = None
        if with_args:
            args = [
                {"result": r, "args": a, "correlation": c}
                for r, a, c in zip(_rows(df, rows, "res"), _rows(df, rows, "args"),
                                   _rows(df, rows, "corr"), strict=True)
            ]  # fmt: skip
        return names, cats, args
    cat = CATEGORY[kind]
    if kind == "kernel":
        names = _rows(df, rows, "name")
        args = None
        if with_args:
            cols = [_rows(df, rows, c) for c in
                    ("dev", "stream", "corr", "grid_x", "grid_y", "grid_z", "block_x", "block_y",
                     "block_z", "smem", "pred", "src", "graph")]
            args = [
                {"device": d, "stream": s, "correlation": c, "grid": [gx, gy, gz],
                 "block": [bx, by, bz], "shared memory": m, "predictor": p, "source": src,
                 "graph": gr}
                for d, s, c, gx, gy, gz, bx, by, bz, m, p, src, gr in zip(*cols, strict=True)
            ]  # fmt: skip
    elif kind == "memcpy":
        names = ["Memcpy " + k for k in _rows(df, rows, "kind")]
        args = None
        if with_args:
            cols = [_rows(df, rows, c) for c in ("dev", "stream", "corr", "bytes", "graph")]
            args = [
                {"device": d, "stream": s, "correlation": c, "bytes": b, "graph": g}
                for d, s, c, b, g in zip(*cols, strict=True)
            ]
    elif kind == "memset":
        names = ["Memset"] * len(rows)
        args = None
        if with_args:
            cols = [_rows(df, rows, c) for c in ("dev", "stream", "corr", "bytes", "graph")]
            args = [
                {"device": d, "stream": s, "correlation": c, "bytes": b, "graph": g}
                for d, s, c, b, g in zip(*cols, strict=True)
            ]
    elif kind == "collective":
        names = ["nccl:" + op for op in _rows(df, rows, "op")]
        args = None
        if with_args:
            cols = [_rows(df, rows, c) for c in
                    ("op", "dtype", "bytes", "nranks", "peers", "comm", "coll_rank", "corr")]
            args = [
                {"Collective name": op, "dtype": dt, "bytes": b, "Group size": n,
                 "Process Group Ranks": p, "comm": cm, "rank in comm": r, "correlation": c}
                for op, dt, b, n, p, cm, r, c in zip(*cols, strict=True)
            ]  # fmt: skip
    elif kind == "graph":
        whats = _rows(df, rows, "what")
        gids = _rows(df, rows, "graph")
        names = [f"graph {w} {g}" for w, g in zip(whats, gids, strict=True)]
        args = None
        if with_args:
            args = [{"graph": g, "nodes": n, "stream": s} for g, n, s in
                    zip(gids, _rows(df, rows, "nodes"), _rows(df, rows, "stream"), strict=True)]
    elif kind == "sync":
        names = ["sync " + w for w in _rows(df, rows, "why")]
        args = [{"why": w} for w in _rows(df, rows, "why")] if with_args else None
    elif kind == "marker":
        names = _rows(df, rows, "name")
        args = [a if isinstance(a, dict) else {"value": a} for a in _rows(df, rows, "args")] \
            if with_args else None
    else:
        raise RuntimeError(f"no slice naming for kind {kind}: invariant violated")
    return names, [cat] * len(rows), args


def build_layout(run: Run, *, with_args: bool = True, ranks: list[int] | None = None) -> Layout:
    """Lay a run out as tracks of nested slices, with flows; `ranks` keeps only those ranks."""
    t = track_frame(run)
    if ranks is not None:
        t = t[t["rank"].isin(ranks)].reset_index(drop=True)
    n = len(t)
    starts = [run.frames[k]["ts_ns"] for k in run.frames if "ts_ns" in run.frames[k].columns]
    mins = [int(s.min()) for s in starts if len(s)]
    base = min(mins) if mins else 0

    # names, categories, args: per kind, scattered back into t's order
    names = np.empty(n, dtype=object)
    cats = np.empty(n, dtype=object)
    args = np.empty(n, dtype=object) if with_args else None
    kinds = t["kind"].to_numpy()
    rows = t["row"].to_numpy()
    for kind in pd.unique(kinds):
        idx = np.flatnonzero(kinds == kind)
        nm, ct, ar = _names_and_args(run, kind, rows[idx], with_args)
        names[idx] = nm
        cats[idx] = ct
        if args is not None and ar is not None:
            args[idx] = ar

    # final tracks: (host, rank, a, b, lane)
    keys = t[["host", "rank", "a", "b", "lane"]]
    ftrack = keys.groupby(["host", "rank", "a", "b", "lane"], sort=True).ngroup().to_numpy()
    tracks = keys.assign(ftrack=ftrack).drop_duplicates("ftrack").sort_values("ftrack")
    tracks = tracks.reset_index(drop=True)
    host = tracks["host"].to_numpy(dtype=bool)
    rank = tracks["rank"].to_numpy()
    a = tracks["a"].to_numpy()
    b = tracks["b"].to_numpy()
    lane = tracks["lane"].to_numpy()
    tracks["cpid"] = np.where(host, a, DEVICE_PID_BASE + 1000 * rank + a)
    tracks["ctid"] = np.where(host, b + lane * HOST_LANE_TID, b + lane * DEVICE_LANE_TID)
    device = run.manifest.device or "GPU"
    tnames, pnames, psort = [], [], []
    for h, r, aa, bb, ln in zip(host.tolist(), rank.tolist(), a.tolist(), b.tolist(),
                                lane.tolist(), strict=True):
        if h:
            base_name = f"main thread {bb}" if aa == bb else f"thread {bb}"
            pnames.append(f"rank {r} host (pid {aa})")
            psort.append(r * 100)
        else:
            base_name = f"stream {bb}"
            pnames.append(f"rank {r} GPU {aa} ({device})")
            psort.append(r * 100 + 1 + aa)
        tnames.append(base_name if ln == 0 else f"{base_name} (overlap {ln})")
    tracks["tname"] = tnames
    tracks["pname"] = pnames
    tracks["psort"] = psort
    processes = tracks.drop_duplicates("cpid")[["cpid", "pname", "psort", "rank", "host"]]

    out = pd.DataFrame({
        "ftrack": ftrack, "ts": t["ts"].to_numpy() - base, "end": t["end"].to_numpy() - base,
        "name": names, "cat": cats, "kind": kinds,
    })  # fmt: skip
    if args is not None:
        out["args"] = args
    flows = _flows(run, t)
    overflow = int((t["lane"] > 0).sum())
    if overflow:
        log.warning("%d slices overlap others partially on their track; exported on overflow "
                    "tracks (see revati.trace.validate)", overflow)
    return Layout(out, tracks, processes.reset_index(drop=True), base, flows, overflow)


def _flows(run: Run, t: pd.DataFrame) -> pd.DataFrame:
    """Launch -> device-op flows (id from the correlation id) and rank -> rank collective flows."""
    idx = pd.Series(np.arange(len(t)))
    pids = sorted(run.frames["proc"]["pid"].unique().tolist())
    proc_index = {p: i for i, p in enumerate(pids)}
    kinds = t["kind"].to_numpy()
    corr = t["corr"].to_numpy()
    parts = []
    dev_mask = np.isin(kinds, ("kernel", "memcpy", "memset", "collective")) & (corr != 0)
    api_mask = (kinds == "api") & (corr != 0)
    if dev_mask.any() and api_mask.any():
        d = pd.DataFrame({"pid": t["pid"].to_numpy()[dev_mask], "corr": corr[dev_mask],
                          "ts": t["ts"].to_numpy()[dev_mask], "dst": idx[dev_mask].to_numpy()})
        # a graph launch's kernels share one correlation id: the arrow goes to the first of them
        d = d.sort_values(["ts", "dst"], kind="stable").drop_duplicates(["pid", "corr"])
        h = pd.DataFrame({"pid": t["pid"].to_numpy()[api_mask], "corr": corr[api_mask],
                          "ts": t["ts"].to_numpy()[api_mask], "src": idx[api_mask].to_numpy()})
        # an API call enclosing another with the same id (ncclAllReduce -> cuLaunchKernel):
        # the innermost (latest-starting) one launched it
        h = h.sort_values(["ts", "src"], kind="stable").drop_duplicates(["pid", "corr"], keep="last")
        m = h.merge(d, on=["pid", "corr"], how="inner", suffixes=("_h", "_d"))
        pidx = m["pid"].map(proc_index).to_numpy(dtype=np.int64)
        parts.append(pd.DataFrame({"src": m["src"].to_numpy(), "dst": m["dst"].to_numpy(),
                                   "id": (pidx << 32) | m["corr"].to_numpy(), "kind": "ac2g"}))
    cmask = kinds == "collective"
    if cmask.any():
        c = collective_groups(run)
        pos = pd.DataFrame({"row": t["row"].to_numpy()[cmask], "tidx": idx[cmask].to_numpy()})
        c = c.reset_index(names="row").merge(pos, on="row", how="inner")
        c = c.sort_values(["group", "rank"], kind="stable")
        g = c["group"].to_numpy()
        ti = c["tidx"].to_numpy()
        link = np.flatnonzero(g[1:] == g[:-1])
        if len(link):
            parts.append(pd.DataFrame({"src": ti[link], "dst": ti[link + 1],
                                       "id": COLLECTIVE_FLOW_BASE + np.arange(len(link)),
                                       "kind": "collective"}))
    if not parts:
        return pd.DataFrame({"src": [], "dst": [], "id": [], "kind": []})
    return pd.concat(parts, ignore_index=True)
