"""Report figures from host markers other than requests: host spans set against the device's busy
time, and prefix-cache hits.

- Host spans (`revati.markers.span`: a marker with `begin_ns`): per name and rank, how many, their
  total virtual time, and how much of it the same rank's devices were busy (kernels, copies,
  memsets, collectives on any of its streams). For a scheduler that overlaps its CPU work with the
  GPU's (SGLang's overlap scheduling), that share is the overlap.
- Prefix cache (`prefix_cache` markers, one per prefill batch): prompt tokens computed and taken from
  the cache, per rank; the hit rate is cached / (cached + computed).
- Engine plugin hooks (`integration_hooks` markers, one per process where a plugin loaded): per
  engine and version, which hooks were in place in how many processes, and each missing hook with
  why (revati/integrations/hooks.py): a hook an engine release gave no target for is never silent.
  And a plugin that never loaded is not silent either (`plugin_not_loaded`): vLLM ran (a process's
  command is its CLI or one of its modules) and no process wrote vLLM's marker, so the values the
  host reads were never supplied (docs/vllm.md: a run on the H200 machine's host that way read +30%).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd

from revati.trace.reader import Run
from revati.trace.schema import DEVICE_KINDS, MARK_HOOKS, MARK_PREFIX_CACHE, SPAN_BEGIN

__all__ = [
    "host_spans",
    "prefix_cache",
    "plugin_hooks",
    "plugin_not_loaded",
    "merged_intervals",
    "overlap_ns",
]


def merged_intervals(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The union of [start, end) intervals as sorted disjoint intervals."""
    if not len(starts):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    order = np.argsort(starts, kind="stable")
    s = starts[order].astype(np.int64)
    e = np.maximum.accumulate(ends[order].astype(np.int64))
    new = np.ones(len(s), dtype=bool)
    new[1:] = s[1:] > e[:-1]
    first = np.flatnonzero(new)
    last = np.concatenate((first[1:] - 1, [len(s) - 1]))
    return s[first], e[last]


def overlap_ns(starts: np.ndarray, ends: np.ndarray, us: np.ndarray, ue: np.ndarray) -> np.ndarray:
    """For each [start, end), the time it shares with the disjoint sorted intervals [us, ue)."""
    if not len(us):
        return np.zeros(len(starts), dtype=np.int64)
    cum = np.concatenate(([0], np.cumsum(ue - us)))  # busy time before interval i

    def busy_before(t: np.ndarray) -> np.ndarray:
        i = np.searchsorted(us, t, side="right")  # intervals starting at or before t
        inside = np.where(
            i > 0, np.minimum(t, ue[np.maximum(i - 1, 0)]) - us[np.maximum(i - 1, 0)], 0
        )
        return cum[np.maximum(i - 1, 0)] * (i > 0) + np.maximum(inside, 0)

    return busy_before(ends.astype(np.int64)) - busy_before(starts.astype(np.int64))


def _device_busy(run: Run) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    parts = [run.frames[k][["rank", "ts_ns", "end_ns"]] for k in DEVICE_KINDS if len(run.frames[k])]
    if not parts:
        return {}
    d = pd.concat(parts, ignore_index=True)
    return {
        int(r): merged_intervals(g["ts_ns"].to_numpy(), g["end_ns"].to_numpy())
        for r, g in d.groupby("rank", sort=True)
    }


def host_spans(run: Run) -> list[dict[str, Any]]:
    """Per (span name, rank): count, total_ns, device_busy_ns (the part of it a device of that rank
    was busy), overlap_pct."""
    m = run.frames["marker"]
    if not len(m):
        return []
    begins = [a.get(SPAN_BEGIN) if isinstance(a, dict) else None for a in m["args"].tolist()]
    keep = np.array([isinstance(b, int) for b in begins], dtype=bool)
    if not keep.any():
        return []
    s = m[keep].assign(begin=[b for b, k in zip(begins, keep, strict=True) if k])
    s = s[s["begin"] <= s["ts_ns"]]
    busy = _device_busy(run)
    out = []
    for (name, rank), g in s.groupby(["name", "rank"], sort=True):
        starts = g["begin"].to_numpy(dtype=np.int64)
        ends = g["ts_ns"].to_numpy(dtype=np.int64)
        total = int((ends - starts).sum())
        us, ue = busy.get(int(rank), (np.zeros(0, np.int64), np.zeros(0, np.int64)))
        shared = int(overlap_ns(starts, ends, us, ue).sum())
        out.append(
            {
                "name": str(name),
                "rank": int(rank),
                "count": len(g),
                "total_ns": total,
                "device_busy_ns": shared,
                "overlap_pct": 100.0 * shared / total if total else 0.0,
            }
        )
    return out


def prefix_cache(run: Run) -> list[dict[str, Any]]:
    """Per rank: prefill batches, new sequences, computed and cached prompt tokens, hit_pct."""
    m = run.frames["marker"]
    if not len(m):
        return []
    m = m[m["name"] == MARK_PREFIX_CACHE]
    out = []
    for rank, g in m.groupby("rank", sort=True):
        args = [a if isinstance(a, dict) else {} for a in g["args"].tolist()]

        def total(key: str, args: list[dict[str, Any]] = args) -> int:
            return int(sum(int(a.get(key, 0) or 0) for a in args))

        new, cached = total("new_tokens"), total("cached_tokens")
        out.append(
            {
                "rank": int(rank),
                "batches": len(g),
                "seqs": total("seqs"),
                "new_tokens": new,
                "cached_tokens": cached,
                "hit_pct": 100.0 * cached / (new + cached) if new + cached else 0.0,
            }
        )
    return out


def plugin_hooks(run: Run) -> list[dict[str, Any]]:
    """Per (engine, version): processes, installed hook -> processes, missing hook -> its reasons."""
    m = run.frames["marker"]
    if not len(m):
        return []
    h = m[m["name"] == MARK_HOOKS]
    last = h.sort_values("ts_ns", kind="stable").groupby("pid", sort=True).tail(1)  # one a process
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for a in last["args"].tolist():
        a = a if isinstance(a, dict) else {}
        key = (str(a.get("engine", "?")), str(a.get("version", "?")))
        e = out.setdefault(
            key,
            {"engine": key[0], "version": key[1], "processes": 0, "installed": {}, "missing": {}},
        )
        e["processes"] += 1
        for h in a.get("installed") or []:
            e["installed"][h] = e["installed"].get(h, 0) + 1
        for h, why in (a.get("missing") or {}).items():
            reasons = e["missing"].setdefault(h, [])
            if why not in reasons:
                reasons.append(why)
    return [out[k] for k in sorted(out)]


def _runs_vllm(argv: Any) -> bool:
    """A command line of vLLM itself: its `vllm` CLI, or `python -m vllm.<module>`."""
    if not isinstance(argv, list | tuple):
        return False
    return any(
        isinstance(a, str) and (os.path.basename(a) == "vllm" or a.startswith("vllm."))
        for a in argv
    )


def plugin_not_loaded(run: Run, hooks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Engines that ran without revati's plugin: [{"engine", "pids"}], given the run's
    `plugin_hooks` (vLLM: its plugin writes the `integration_hooks` marker in every process it
    loads in)."""
    procs = run.frames.get("proc")
    if procs is None or not len(procs) or "argv" not in procs.columns:
        return []
    if any(h["engine"] == "vllm" for h in hooks):
        return []
    pids = sorted(
        {int(p) for p, a in zip(procs["pid"], procs["argv"], strict=True) if _runs_vllm(a)}
    )
    return [{"engine": "vllm", "pids": pids}] if pids else []


def format_lines(s: dict[str, Any]) -> list[str]:
    """The report's text for the figures above (`s`: the summary dict)."""
    L: list[str] = []
    spans = s.get("host_spans") or []
    if spans:
        L += ["", "host spans (markers) and the device time under them"]
        L.append("  rank  count          total    device busy   overlap  name")
        for h in spans:
            L.append(
                f"  {h['rank']:>4}  {h['count']:>5}  {h['total_ns'] / 1e6:>10.3f} ms  "
                f"{h['device_busy_ns'] / 1e6:>10.3f} ms  {h['overlap_pct']:6.1f}%  {h['name']}"
            )
    for c in s.get("prefix_cache") or []:
        L += [
            "",
            f"prefix cache (rank {c['rank']}): {c['cached_tokens']} of "
            f"{c['cached_tokens'] + c['new_tokens']} prompt tokens from the cache "
            f"({c['hit_pct']:.1f}%), {c['seqs']} sequences in {c['batches']} prefill batches",
        ]
    for h in s.get("plugin_hooks") or []:
        L += [
            "",
            f"engine plugin hooks: {h['engine']} {h['version']} ({h['processes']} processes): "
            + ", ".join(f"{k} x{v}" for k, v in h["installed"].items()),
        ]
        for hook, reasons in h["missing"].items():
            L.append(f"  MISSING {hook}: {'; '.join(reasons)}")
    for m in s.get("plugin_not_loaded") or []:
        L += [
            "",
            f"engine plugin hooks: NONE: {m['engine']} ran (pid {', '.join(map(str, m['pids']))}) "
            "but revati's plugin did not load there: the values the host reads (sampled ids, "
            "sequence lengths) were not supplied and the figures are not to be trusted "
            "(docs/vllm.md; VLLM_PLUGINS must allow `revati`)",
        ]
    return L
