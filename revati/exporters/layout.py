"""What both exporters share: tracks, slice names and categories, relative times, flows.

Tracks: one process per (rank, host) and one per (rank, device); host threads and device streams
are threads of those. Chrome ids: a host keeps its OS pid; a device gets 10,000,000 + 1000*rank +
dev (above any Linux pid); a stream's tid is its stream id. Overflow lanes (see
revati.trace.validate) get tid + lane * 1,000,000 (device) or + lane * 10,000,000 (host).
Times: integer ns relative to the run's first event; only the exporters convert them further.
Names are dictionary-coded (`name_code` into `names`), so million-slice runs never hold a
Python string per slice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from revati.exporters.launch_flows import flow_ids, launch_flows
from revati.exporters.naming import (
    CATEGORY,
    CATS,
    DEVICE_LANE_TID,
    DEVICE_PID_BASE,
    HOST_LANE_TID,
    api_category,
    process_name,
    thread_name,
)
from revati.trace.codes import first_rows
from revati.trace.names import demangle
from revati.trace.reader import Run
from revati.trace.schema import MARK_ARRIVAL, MARK_FINISH, MARK_FIRST_TOKEN, SERVING_MARKERS
from revati.trace.validate import collective_groups, group_codes, track_frame

log = logging.getLogger(__name__)

COLLECTIVE_FLOW_BASE = 1 << 50


def request_spans(run: Run, base: int, ranks: list[int] | None = None) -> pd.DataFrame:
    """One span per request from its markers: arrival (or first marker) to finish (or last).

    Columns: req, rank, cpid (its host process), ts, end, first (its first token, -1 if none)
    (relative ns). A request marked by several ranks belongs to the lowest of them.
    """
    cols = ["req", "rank", "cpid", "ts", "end", "first"]
    m = run.frames["marker"]
    if not len(m):
        return pd.DataFrame({c: [] for c in cols})
    reqs = [a.get("req") if isinstance(a, dict) else None for a in m["args"].tolist()]
    m = m.assign(req=reqs)
    m = m[m["req"].notna() & m["name"].isin(SERVING_MARKERS)]
    if ranks is not None:
        m = m[m["rank"].isin(ranks)]
    if not len(m):
        return pd.DataFrame({c: [] for c in cols})
    m = m.assign(req=m["req"].astype(str))
    m = m[m["rank"] == m.groupby("req")["rank"].transform("min")]
    out = []
    for req, g in m.groupby("req", sort=False):
        arr = g.loc[g["name"] == MARK_ARRIVAL, "ts_ns"]
        fin = g.loc[g["name"] == MARK_FINISH, "ts_ns"]
        start = int(arr.min()) if len(arr) else int(g["ts_ns"].min())
        end = int(fin.max()) if len(fin) else int(g["ts_ns"].max())
        ft = g.loc[g["name"] == MARK_FIRST_TOKEN, "ts_ns"]
        first = int(ft.min()) - base if len(ft) and start <= int(ft.min()) <= end else -1
        out.append(
            (req, int(g["rank"].iloc[0]), int(g["pid"].iloc[0]), start - base, end - base, first)
        )
    df = pd.DataFrame(out, columns=cols)
    return df.sort_values(["ts", "req"], kind="stable", ignore_index=True)


def kind_rows(t: pd.DataFrame) -> list[tuple[str, np.ndarray]]:
    """(kind, indices of its rows in t) per kind of span, kinds in first-seen order; from the
    kind column's codes, never a string per row."""
    col = t["kind"]
    if isinstance(col.dtype, pd.CategoricalDtype):
        codes = col.cat.codes.to_numpy()
        names = [str(c) for c in col.cat.categories]
    else:
        codes, uniq = pd.factorize(col.to_numpy())
        names = [str(c) for c in uniq]
    return [(names[k], np.flatnonzero(codes == k)) for k in pd.unique(codes).tolist()]


def whole(rows: np.ndarray, n: int) -> np.ndarray | slice:
    """`rows` of an n-row frame, or slice(None) when they are 0..n-1 in order: columns taken at
    a slice are views, where a gather copies each (a million-launch run's every launch)."""
    if len(rows) != n or not n or rows[0] != 0 or rows[-1] != n - 1:
        return rows
    return slice(None) if bool((rows[1:] > rows[:-1]).all()) else rows


def kind_mask(
    t: pd.DataFrame, kinds: tuple[str, ...], at: list[tuple[str, np.ndarray]] | None = None
) -> np.ndarray:
    """Rows of t of the given kinds (`at`: kind_rows(t), when the caller has it)."""
    mask = np.zeros(len(t), dtype=bool)
    for kind, idx in kind_rows(t) if at is None else at:
        if kind in kinds:
            mask[idx] = True
    return mask


@dataclass
class Layout:
    """Slices in track order (`t`), the tracks, processes, flows, and the time base."""

    t: pd.DataFrame  # per slice: kind, row, ftrack, ts, end (rel ns), name_code, cat_code, corr
    names: list[str]
    cats: list[str]
    tracks: pd.DataFrame  # per final track: ftrack, cpid, ctid, pname, tname, host, rank, lane
    processes: pd.DataFrame  # per Chrome process: cpid, pname, psort, rank, host
    base_ns: int
    flows: pd.DataFrame  # src, dst (indices into t), id, kind ("ac2g" | "collective")
    overflow: int  # slices moved to overflow lanes
    requests: pd.DataFrame  # per request: req, rank, cpid, ts, end, first (see request_spans)


def _kind_names(run: Run, kind: str, rows: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Local name codes and their names for rows of one kind's frame."""
    df = run.frames[kind]
    at = whole(rows, len(df))
    if kind == "graph":
        sub = df.iloc[at]
        vals = [f"graph {w} {g}" for w, g in zip(sub["what"], sub["graph"], strict=True)]
        codes, uniq = pd.factorize(pd.Series(vals, dtype=object))
        return codes, [str(u) for u in uniq]
    if kind == "memset":
        return np.zeros(len(rows), dtype=np.int64), ["Memset"]
    col, prefix = {
        "kernel": ("name", ""), "api": ("name", ""), "marker": ("name", ""),
        "memcpy": ("kind", "Memcpy "), "collective": ("op", "nccl:"), "sync": ("why", "sync "),
    }[kind]  # fmt: skip
    column = df[col] if isinstance(at, slice) else df[col].take(rows)
    codes, uniq = pd.factorize(column, use_na_sentinel=False)
    if kind == "kernel":  # shown demangled, as the PyTorch profiler shows them
        return codes, [demangle(str(u)) for u in uniq]
    return codes, [prefix + str(u) for u in uniq]


def build_layout(run: Run, *, ranks: list[int] | None = None) -> Layout:
    """Lay a run out as tracks of nested slices, with flows; `ranks` keeps only those ranks."""
    t = track_frame(run)
    if ranks is not None:
        t = t[t["rank"].isin(ranks)].reset_index(drop=True)
    n = len(t)
    mins = [
        int(df["ts_ns"].min()) for df in run.frames.values() if "ts_ns" in df.columns and len(df)
    ]
    base = min(mins) if mins else 0

    names: list[str] = []
    name_code = np.zeros(n, dtype=np.int64)
    cat_code = np.zeros(n, dtype=np.int64)
    rows = t["row"].to_numpy()
    cat_index = {c: i for i, c in enumerate(CATS)}
    for kind, idx in kind_rows(t):
        codes, local = _kind_names(run, kind, rows[idx])
        name_code[idx] = np.asarray(codes, dtype=np.int64) + len(names)
        if kind == "api":
            cmap = np.array([cat_index[api_category(nm)] for nm in local], dtype=np.int64)
            cat_code[idx] = cmap[codes]
        else:
            cat_code[idx] = cat_index[CATEGORY[kind]]
        names += local

    keys = ["host", "rank", "a", "b", "lane"]
    # `track` numbers (host, rank, a, b) in sorted order, so this numbers keys in sorted order
    ftrack = group_codes([t["track"].to_numpy(), t["lane"].to_numpy()])
    first = first_rows(ftrack, int(ftrack.max()) + 1 if n else 0)
    tracks = pd.DataFrame({k: t[k].to_numpy()[first] for k in keys})
    tracks["ftrack"] = np.arange(len(first))
    host = tracks["host"].to_numpy(dtype=bool)
    rank = tracks["rank"].to_numpy()
    a = tracks["a"].to_numpy()
    b = tracks["b"].to_numpy()
    lane = tracks["lane"].to_numpy()
    tracks["cpid"] = np.where(host, a, DEVICE_PID_BASE + 1000 * rank + a)
    tracks["ctid"] = np.where(host, b + lane * HOST_LANE_TID, b + lane * DEVICE_LANE_TID)
    device = run.manifest.device or "GPU"
    tnames, pnames, psort = [], [], []
    for h, r, aa, bb, ln in zip(
        host.tolist(), rank.tolist(), a.tolist(), b.tolist(), lane.tolist(), strict=True
    ):
        pnames.append(process_name(h, r, aa, device))
        psort.append(r * 100 if h else r * 100 + 1 + aa)
        tnames.append(thread_name(h, aa, bb, ln))
    tracks["tname"] = tnames
    tracks["pname"] = pnames
    tracks["psort"] = psort
    processes = tracks.drop_duplicates("cpid")[["cpid", "pname", "psort", "rank", "host"]]

    out = pd.DataFrame({
        "kind": t["kind"].array, "row": rows, "ftrack": ftrack, "ts": t["ts"].to_numpy() - base,
        "end": t["end"].to_numpy() - base, "name_code": name_code, "cat_code": cat_code,
        "corr": t["corr"].to_numpy(),
    }, copy=False)  # fmt: skip
    flows = _flows(run, t)
    overflow = int((t["lane"] > 0).sum())
    if overflow:
        log.warning(
            "%d slices overlap others partially on their track; exported on overflow "
            "tracks (see revati.trace.validate)",
            overflow,
        )
    return Layout(
        out,
        names,
        list(CATS),
        tracks,
        processes.reset_index(drop=True),
        base,
        flows,
        overflow,
        request_spans(run, base, ranks),
    )


def _flows(run: Run, t: pd.DataFrame) -> pd.DataFrame:
    """Launch -> device-op flows (id from the correlation id) and rank -> rank collective flows."""
    idx = np.arange(len(t))
    pids = np.sort(run.frames["proc"]["pid"].unique()).astype(np.int64)
    corr = t["corr"].to_numpy()
    pid = t["pid"].to_numpy()
    ts = t["ts"].to_numpy()
    parts: list[dict[str, Any]] = []
    kinds_at = kind_rows(t)
    dev_mask = kind_mask(t, ("kernel", "memcpy", "memset", "collective"), kinds_at) & (corr != 0)
    api_mask = kind_mask(t, ("api",), kinds_at) & (corr != 0)
    if dev_mask.any() and api_mask.any():
        d, h = np.flatnonzero(dev_mask), np.flatnonzero(api_mask)
        fid = flow_ids(pid, corr, pids)
        src, dst = launch_flows(d, h, fid, ts, pd.factorize)
        parts.append(
            {
                "src": src,
                "dst": dst,
                "id": fid[src],
                "kind": "ac2g",
            }
        )
    cmask = kind_mask(t, ("collective",))
    if cmask.any():
        c = collective_groups(run)
        pos = pd.DataFrame({"row": t["row"].to_numpy()[cmask], "tidx": idx[cmask]})
        c = c.reset_index(names="row").merge(pos, on="row", how="inner")
        # linked in arrival order (then rank): each arrow runs forward in time, from a rank that
        # arrived to one that arrived later
        c = c.assign(ts=t["ts"].to_numpy()[c["tidx"].to_numpy()])
        c = c.sort_values(["group", "ts", "rank"], kind="stable")
        g = c["group"].to_numpy()
        ti = c["tidx"].to_numpy()
        link = np.flatnonzero(g[1:] == g[:-1])
        if len(link):
            parts.append(
                {
                    "src": ti[link],
                    "dst": ti[link + 1],
                    "id": COLLECTIVE_FLOW_BASE + np.arange(len(link)),
                    "kind": "collective",
                }
            )
    sizes = [len(p["src"]) for p in parts]
    kinds = ["ac2g", "collective"]
    return pd.DataFrame(
        {
            **{
                c: np.concatenate(
                    [np.asarray(p[c], np.int64) for p in parts] or [np.zeros(0, np.int64)]
                )
                for c in ("src", "dst", "id")
            },
            "kind": pd.Categorical.from_codes(
                np.repeat([kinds.index(str(p["kind"])) for p in parts], sizes).astype(np.int8),
                kinds,
            ),
        }
    )
