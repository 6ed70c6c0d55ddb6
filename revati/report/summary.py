"""`revati report`: the figures of one run, as a dict (for --json) and as text.

Virtual duration runs from the first event to the latest `end` line (or last event); wall duration
is the manifest's wall_duration_ns, else the spread of the streams' wt_ns. Device busy time is the
union of the device operations' intervals per (rank, device), so overlapping streams count once.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from revati.report import host_markers
from revati.report.client import client_metrics
from revati.report.metrics import PERCENTILES, pct_key, serving_metrics
from revati.trace.names import demangle
from revati.trace.reader import Run
from revati.trace.schema import DEVICE_KINDS
from revati.trace.validate import validate_run
from revati.units import NS_PER_MS, NS_PER_S

# the frame columns summarize() reads (with validate_run), for load_run(columns=...): a kernel's
# args, op, sig, its predictor's names and shape, and an api call's name and args are left out,
# so a long run's report never holds their text (docs/trace-format.md, "Loading")
REPORT_COLUMNS: dict[str, tuple[str, ...]] = {
    "kernel": (
        "seq", "tid", "name", "dev", "stream", "corr", "ts_ns", "end_ns", "src", "how", "xdev",
    ),
    "api": ("seq", "tid", "corr", "ts_ns", "end_ns", "wt_ns"),
}  # fmt: skip
# and the one long text it reads, a kernel's name, as a Categorical (a code per launch)
REPORT_CATEGORICAL: dict[str, tuple[str, ...]] = {"kernel": ("name",)}


def union_ns(starts: np.ndarray, ends: np.ndarray) -> int:
    """Total length of the union of intervals [start, end)."""
    if len(starts) == 0:
        return 0
    o = np.argsort(starts, kind="stable")
    s = starts[o].astype(np.int64)
    e = ends[o].astype(np.int64)
    reach = np.maximum.accumulate(e)
    new = np.ones(len(s), dtype=bool)
    new[1:] = s[1:] > reach[:-1]  # a gap before this interval starts a new merged block
    block = np.cumsum(new) - 1
    bstart = s[new]
    bend = np.zeros(len(bstart), dtype=np.int64)
    np.maximum.at(bend, block, reach)
    return int(np.sum(bend - bstart))


def peer_wait_ns(coll: pd.DataFrame) -> dict[tuple[int, int], int]:
    """Per (rank, device): the virtual ns its collectives spent waiting for their last rank to
    arrive (a collective ends at the latest arrival plus its modelled transfer, model_ns, so the
    rest of its span is that wait). Part of the device's busy time, as a real NCCL kernel spins
    while its peers are late: two ranks with the same kernels differ in busy time by it."""
    if not len(coll) or "model_ns" not in coll.columns:
        return {}
    c = coll.dropna(subset=["model_ns"])
    wait = (c["end_ns"] - c["ts_ns"] - c["model_ns"]).clip(lower=0)
    got = wait.groupby([c["rank"], c["dev"]]).sum()
    return {(int(r), int(d)): int(v) for (r, d), v in got.items()}


def ranks_text(ranks: list[int]) -> str:
    """The trace's ranks (one per process) as text: a range when they are consecutive."""
    n = len(ranks)
    if n > 2 and ranks == list(range(ranks[0], ranks[0] + n)):
        return f"{ranks[0]}-{ranks[-1]} ({n} processes)"
    return ", ".join(str(r) for r in ranks) + (f" ({n} processes)" if n > 1 else "")


def wall_ns(run: Run) -> int | None:
    if run.manifest.wall_duration_ns:
        return int(run.manifest.wall_duration_ns)
    wts = [df["wt_ns"] for df in run.frames.values() if "wt_ns" in df.columns and len(df)]
    if not wts:
        return None
    w = pd.concat(wts)
    w = w[w > 0]
    return int(w.max() - w.min()) if len(w) else None


def _counts(objs: list[Any]) -> dict[str, int]:
    out: dict[str, int] = {}
    for o in objs:
        if isinstance(o, dict):
            for k, v in o.items():
                out[k] = out.get(k, 0) + int(v)
    return dict(sorted(out.items(), key=lambda kv: (-kv[1], kv[0])))


def value_reads(vr: pd.DataFrame, *, top: int = 5) -> dict[str, Any]:
    """Host reads of device bytes written by kernels that did not run: counts, policies, top sites and producers.

    `certain` reads overlap a kernel's known output (or the tensor it was passed); the others only
    reach into a guessed extent past a neighbouring tensor's start (see docs/driver.md).
    """
    if not len(vr):
        return {"count": 0, "certain": 0, "policies": {}, "top_sites": [], "top_producers": []}
    certain = (
        vr["certain"].fillna(True).astype(bool)
        if "certain" in vr
        else pd.Series(True, index=vr.index)
    )
    sure = vr[certain.to_numpy()]

    def top_of(col: str) -> list[dict[str, Any]]:
        c = sure[col].value_counts().head(top)
        return [{"name": str(k), "count": int(v)} for k, v in c.items()]

    return {
        "count": int(len(vr)),
        "certain": int(len(sure)),
        "policies": {str(k): int(v) for k, v in sure["policy"].value_counts().items()},
        "top_sites": top_of("site"),
        "top_producers": [{**p, "demangled": demangle(p["name"])} for p in top_of("producer")],
    }


def value_supplies(vs: pd.DataFrame) -> dict[str, Any]:
    """Device bytes that code outside the driver (an engine plugin) wrote with known values: counts by
    supplier, and how many of them replaced the output of a kernel that did not run."""
    if not len(vs):
        return {"count": 0, "replaced": 0, "by": {}}
    replaced = (
        vs["replaced"].fillna("").astype(str) != ""
        if "replaced" in vs
        else pd.Series(False, index=vs.index)
    )
    by = vs["by"].fillna("?").astype(str) if "by" in vs else pd.Series("?", index=vs.index)
    return {
        "count": int(len(vs)),
        "replaced": int(replaced.sum()),
        "by": {str(k): int(v) for k, v in by.value_counts().items()},
    }


def process_endings(run: Run) -> list[dict[str, Any]]:
    """Per process: pid, rank and how it ended (the manifest's words, else what its stream shows)."""
    by_pid = {p.get("pid"): p for p in run.manifest.processes if isinstance(p, dict)}
    ended = set(run.frames["end"]["pid"].tolist()) if len(run.frames["end"]) else set()
    pids = (
        sorted(set(run.frames["proc"]["pid"].tolist()) | ended) if len(run.frames["proc"]) else []
    )
    out = []
    for pid, p in sorted(by_pid.items(), key=lambda kv: str(kv[0])):
        if p.get("ended"):
            out.append({"pid": pid, "rank": p.get("rank", -1), "ended": p["ended"]})
    if out:
        return out
    for pid in pids:  # a run recorded before endings were kept, or without a manifest
        how = "exited (trace closed)" if pid in ended else "ended without closing its trace"
        out.append({"pid": int(pid), "rank": by_pid.get(pid, {}).get("rank", -1), "ended": how})
    return out


def unimplemented_counts(run: Run) -> tuple[dict[str, int], list[str]]:
    """Unimplemented calls met, by name: the end lines' counts, plus, for a process that never
    wrote its end line (killed), the last count its `unimpl` events reached (at least half the
    true count); and the names whose count is such a lower bound."""
    end = run.frames["end"]
    counts = _counts(end["unimpl"].tolist()) if len(end) else {}
    ev = run.frames.get("unimpl")
    lower: list[str] = []
    if ev is not None and len(ev):
        closed = set(end["pid"].tolist()) if len(end) else set()
        open_ = ev[~ev["pid"].isin(closed)]
        for name, n in open_.groupby(["pid", "name"])["n"].max().groupby(level=1).sum().items():
            counts[name] = counts.get(name, 0) + int(n)
            lower.append(str(name))
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))), sorted(lower)


def query_counts(run: Run) -> dict[str, int]:
    """Pure queries counted instead of written (default trace level), by name over threads and
    processes: the end lines' counts, else the last count a `queries` event reached."""
    end = run.frames["end"]
    out: dict[str, int] = {}
    if len(end) and "queries" in end.columns:
        for obj in end["queries"].tolist():
            if isinstance(obj, dict):
                for key, n in obj.items():
                    name = str(key).rsplit("@", 1)[0]
                    out[name] = out.get(name, 0) + int(n)
    ev = run.frames.get("queries")
    if ev is not None and len(ev):
        closed = set(end["pid"].tolist()) if len(end) else set()
        open_ = ev[~ev["pid"].isin(closed)]
        last = open_.groupby(["pid", "tid", "name"])["n"].max()
        for name, n in last.groupby(level=2).sum().items():
            out[str(name)] = out.get(str(name), 0) + int(n)
    return dict(sorted(out.items(), key=lambda kv: (-kv[1], kv[0])))


def summarize(
    run: Run, *, top: int = 10, check: bool = True, percentiles: tuple[float, ...] = PERCENTILES
) -> dict[str, Any]:
    """Every figure `revati report` shows, as a JSON-ready dict (times in ns unless named)."""
    first, last = run.span()
    virtual = last - first
    wall = wall_ns(run)
    m = run.manifest
    out: dict[str, Any] = {
        "run": str(run.path),
        "device": m.device,
        "num_gpus": m.num_gpus,
        "ranks": run.ranks,
        "predictor": m.predictor,
        "exit_status": m.exit_status,
        "virtual_ns": virtual,
        "wall_ns": wall,
        # >1: the emulation took longer than the emulated GPU would have
        "wall_over_virtual": (wall / virtual) if wall and virtual else None,
        "events": {k: int(len(df)) for k, df in run.frames.items() if len(df)},
    }

    devs = []
    parts = [
        run.frames[k][["rank", "dev", "ts_ns", "end_ns"]].assign(kind=k)
        for k in DEVICE_KINDS
        if len(run.frames[k])
    ]
    ker = run.frames["kernel"]
    peer_waits = peer_wait_ns(run.frames["collective"])
    if parts:
        d = pd.concat(parts, ignore_index=True)
        for (rank, dev), g in d.groupby(["rank", "dev"], sort=True):
            busy = union_ns(g["ts_ns"].to_numpy(), g["end_ns"].to_numpy())
            nk = int((g["kind"] == "kernel").sum())
            devs.append(
                {
                    "rank": int(rank),
                    "dev": int(dev),
                    "busy_ns": busy,
                    "busy_pct": 100.0 * busy / virtual if virtual else 0.0,
                    "kernels": nk,
                    "memcpy": int((g["kind"] == "memcpy").sum()),
                    "collectives": int((g["kind"] == "collective").sum()),
                    "peer_wait_ns": peer_waits.get((int(rank), int(dev)), 0),
                }
            )
    out["devices"] = devs

    kernels = []
    if len(ker):
        k = ker.assign(dur=ker["end_ns"] - ker["ts_ns"])
        total_all = int(k["dur"].sum())
        g = k.groupby("name", sort=False)["dur"].agg(["count", "sum", "mean", "min", "max"])
        g = g.sort_values(["sum", "count"], ascending=[False, False]).head(top)
        for name, row in g.iterrows():
            kernels.append(
                {
                    "name": name,
                    "demangled": demangle(name),
                    "count": int(row["count"]),
                    "total_ns": int(row["sum"]),
                    "mean_ns": float(row["mean"]),
                    "min_ns": int(row["min"]),
                    "max_ns": int(row["max"]),
                    "pct": 100.0 * row["sum"] / total_all if total_all else 0.0,
                }
            )
    out["top_kernels"] = kernels
    out["timing"] = _timing_provenance(ker)

    sy = run.frames["sync"]
    waits = []
    if len(sy):
        s = sy.assign(dur=sy["end_ns"] - sy["ts_ns"]).groupby("why", sort=False)["dur"]
        agg = s.agg(["count", "sum"]).sort_values("sum", ascending=False)
        for why, row in agg.iterrows():
            waits.append({"why": why, "count": int(row["count"]), "total_ns": int(row["sum"])})
    out["sync_waits"] = waits
    end = run.frames["end"]
    out["processes"] = process_endings(run)
    out["unimplemented"], out["unimplemented_lower_bounds"] = unimplemented_counts(run)
    out["queries_counted"] = query_counts(run)
    out["missing_shapes"] = _counts(end["missing"].tolist()) if len(end) else {}
    out["value_reads"] = value_reads(run.frames["value-read"], top=top)
    out["value_supplies"] = value_supplies(run.frames["value-supply"])
    out["serving"] = serving_metrics(run.frames["marker"], percentiles)
    out["client"] = [client_metrics(r, percentiles) for r in run.client_results]
    out["host_spans"] = host_markers.host_spans(run)
    out["prefix_cache"] = host_markers.prefix_cache(run)
    out["plugin_hooks"] = host_markers.plugin_hooks(run)
    out["plugin_not_loaded"] = host_markers.plugin_not_loaded(run, out["plugin_hooks"])
    if check:
        out["issues"] = [
            {"code": i.code, "count": i.count, "message": i.message} for i in validate_run(run)
        ]
    return out


def _timing_provenance(ker: pd.DataFrame) -> list[dict[str, Any]]:
    """Kernels and their device time by what timed them (src), how (exact, interpolated, model,
    fallback) and whether scaled from another device: how much of the run rests on measurements."""
    if not len(ker) or "src" not in ker:
        return []
    k = ker.assign(
        dur=ker["end_ns"] - ker["ts_ns"],
        how=ker["how"] if "how" in ker else "",
        xdev=ker["xdev"] if "xdev" in ker else 0,
    )
    k["how"] = k["how"].fillna("").astype(str)
    g = k.groupby(["src", "how", "xdev"], sort=True)["dur"].agg(["count", "sum"])
    total = int(k["dur"].sum()) or 1
    return [
        {"src": src, "how": how, "xdev": int(x), "kernels": int(r["count"]),
         "total_ns": int(r["sum"]), "pct": 100.0 * r["sum"] / total}
        for (src, how, x), r in g.sort_values("sum", ascending=False).iterrows()
    ]  # fmt: skip


def _ms(ns: float | int | None) -> str:
    return "-" if ns is None else f"{ns / NS_PER_MS:,.3f} ms"


def short_names(names: list[str], width: int) -> list[str]:
    """Names cut to `width` keeping their head and tail (cuBLAS variants differ at the end);
    names that would then look alike are kept whole, so no two different names print the same."""
    half = (width - 3) // 2

    def cut(n: str) -> str:
        return n if len(n) <= width else n[:half] + "..." + n[len(n) - (width - 3 - half) :]

    short = [cut(n) for n in names]
    seen: dict[str, set[str]] = {}
    for n, c in zip(names, short, strict=True):
        seen.setdefault(c, set()).add(n)
    return [c if len(seen[c]) == 1 else n for n, c in zip(names, short, strict=True)]


def _serving_lines(title: str, sv: dict[str, Any]) -> list[str]:
    """A serving-metrics block: counts, throughputs, then TTFT/TPOT/ITL/E2E statistics (ms)."""
    L = [title]
    L.append(
        f"           {sv['requests']} requests, {sv['completed']} completed, "
        f"{sv.get('input_tokens', 0)} input tokens, {sv['output_tokens']} output tokens"
    )
    if "request_throughput_per_s" in sv:
        L.append(
            f"           {sv['request_throughput_per_s']:.2f} req/s; tokens/s: "
            f"output {sv['output_throughput_tok_per_s']:.1f}, "
            f"input {sv.get('input_throughput_tok_per_s', 0.0):.1f}, "
            f"total {sv.get('total_throughput_tok_per_s', 0.0):.1f}; over "
            f"{sv['duration_s'] * 1000:.3f} ms"
        )
    pcts = [pct_key(p) for p in sv.get("percentiles", PERCENTILES)]
    cols = ["mean", "std", "median", *pcts]
    L.append(f"           {'':6} {'count':>6} " + " ".join(f"{c:>10}" for c in cols) + "  (ms)")
    for key, label in (
        ("ttft_ms", "TTFT"),
        ("tpot_ms", "TPOT"),
        ("itl_ms", "ITL"),
        ("e2e_ms", "E2E"),
    ):
        st = sv.get(key)
        if st:
            L.append(
                f"           {label:6} {st['count']:>6} "
                + " ".join(f"{st.get(c, float('nan')):10.3f}" for c in cols)
            )
    return L


def format_text(s: dict[str, Any], *, wide: bool = False) -> str:
    """The summary as plain text, one section per figure group; `wide`: kernel names in full."""
    L: list[str] = []
    pred = s.get("predictor") or {}
    L.append(f"run        {s['run']}")
    L.append(
        f"device     {s['device']} x{s['num_gpus']}, ranks {ranks_text(s['ranks'])}, predictor "
        f"{pred.get('name', '?')} {pred.get('version', '')}".rstrip()
    )
    L.append(f"virtual    {_ms(s['virtual_ns'])}")
    if s["wall_ns"]:
        L.append(f"wall       {_ms(s['wall_ns'])}  (wall/virtual = {s['wall_over_virtual']:.2f})")
    else:
        L.append("wall       unknown")
    L.append("")
    coll = any(d["collectives"] for d in s["devices"])
    L.append(
        "devices    rank dev   busy            busy%   kernels  memcpy  collectives"
        + ("  of busy: waiting for peers" if coll else "")
    )
    for d in s["devices"]:
        L.append(
            f"           {d['rank']:>4} {d['dev']:>3}  {_ms(d['busy_ns']):>14}  "
            f"{d['busy_pct']:6.1f}  {d['kernels']:>8}  {d['memcpy']:>6}  "
            f"{d['collectives']:>11}" + (f"  {_ms(d.get('peer_wait_ns', 0)):>14}" if coll else "")
        )
    if s["top_kernels"]:
        L.append("")
        L.append("top kernels by total time")
        full = [k.get("demangled") or k["name"] for k in s["top_kernels"]]
        shown = full if wide else short_names(full, 70)
        for k, name in zip(s["top_kernels"], shown, strict=True):
            L.append(
                f"  {k['pct']:5.1f}%  {_ms(k['total_ns']):>14}  x{k['count']:<6}  "
                f"mean {k['mean_ns'] / 1000:9.2f} us  {name}"
            )
    if s["sync_waits"]:
        L.append("")
        L.append("sync waits (host clock jumps)")
        for w in s["sync_waits"]:
            L.append(f"  {_ms(w['total_ns']):>14}  x{w['count']:<6}  {w['why']}")
    ended = s.get("processes") or []
    if ended:
        L.append("")
        L.append("processes")
        for p in ended:
            L.append(f"  pid {p['pid']} rank {p['rank']}: {p['ended']}")
    L.append("")
    if s["unimplemented"]:
        L.append(
            "unimplemented calls met: "
            + ", ".join(
                f"{k} x{v}" + ("+" if k in s.get("unimplemented_lower_bounds", ()) else "")
                for k, v in s["unimplemented"].items()
            )
            + (
                "  (+: at least; a process was killed before its final count)"
                if s.get("unimplemented_lower_bounds")
                else ""
            )
        )
    else:
        L.append("unimplemented calls met: none")
    if s.get("timing"):
        L.append(
            "timed by   "
            + ", ".join(
                f"{t['src']}{'/' + t['how'] if t['how'] else ''}{' (cross-device)' if t['xdev'] else ''}"
                f" {t['kernels']} kernels {t['pct']:.0f}%"
                for t in s["timing"][:6]
            )
        )
    if s.get("queries_counted"):
        q = s["queries_counted"]
        L.append(
            f"driver queries counted, not written ({sum(q.values())} calls): "
            + ", ".join(f"{k} x{v}" for k, v in list(q.items())[:6])
            + (", ..." if len(q) > 6 else "")
        )
    if s["missing_shapes"]:
        L.append(
            f"missing shapes ({len(s['missing_shapes'])} kernels, timed by fallback): "
            + ", ".join(f"{k[:50]} x{v}" for k, v in list(s["missing_shapes"].items())[:5])
        )
    vr = s.get("value_reads") or {}
    if vr.get("count"):
        pol = ", ".join(f"{k} x{v}" for k, v in vr["policies"].items())
        L.append(
            f"values read back from kernels that did not run: {vr['certain']} "
            f"(+{vr['count'] - vr['certain']} uncertain); policies: {pol or '-'}"
        )
        for p in vr["top_producers"]:
            name = p.get("demangled") or p["name"]
            name = name if len(name) <= 90 else name[:87] + "..."
            L.append(f"  x{p['count']:<6} {name}")
        if vr["top_sites"]:
            L.append("  at " + ", ".join(f"{x['name']} x{x['count']}" for x in vr["top_sites"]))
    else:
        L.append("values read back from kernels that did not run: none")
    vs = s.get("value_supplies") or {}
    if vs.get("count"):
        L.append(
            f"values supplied by plugins: {vs['count']} writes ({vs['replaced']} replaced uncomputed outputs): "
            + ", ".join(f"{k} x{v}" for k, v in vs["by"].items())
        )
    sv = s.get("serving")
    if sv:
        L.append("")
        L.extend(_serving_lines("serving    (requests observed in the run: markers)", sv))
    for cv in s.get("client") or []:
        L.append("")
        L.extend(_serving_lines(f"client     {cv['source']}", cv))
        ag = cv.get("agreement")
        if ag:
            L.append(
                f"           {ag['compared']} figures the client saved agree with these within "
                f"{100 * ag['max_rel_diff']:.3g}%"
                + (f" (largest: {ag['worst']})" if ag["worst"] else "")
            )
    L.extend(host_markers.format_lines(s))
    issues = s.get("issues")
    if issues:
        L.append("")
        L.append("trace issues")
        for i in issues:
            L.append(f"  {i['code']}: {i['message']} ({i['count']})")
    return "\n".join(L) + "\n"


__all__ = [
    "REPORT_CATEGORICAL",
    "REPORT_COLUMNS",
    "format_text",
    "summarize",
    "union_ns",
    "NS_PER_S",
]
