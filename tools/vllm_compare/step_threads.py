"""Where the engine's decode steps spend their real time, per thread, from a step log written with
REVATI_STEP_LOG_THREADS=1 (step_log/sitecustomize.py; run_points.py --step-log):

    python tools/vllm_compare/step_threads.py RUN.d/lat-b1-i512-o128.steps.jsonl

Medians over decode steps (from one decode step's log line to the next of the same process):

- the scheduling thread: virtual ms (the step as the program saw it), real ms, its CPU, its time in
  revati's brackets, in revati's timed waits (the GIL's, ...) and their real slices, its run delay
  (waiting for a core), the process's counted stalls, and the rest: real time off-CPU outside
  brackets and waits (real - CPU - run delay - brackets' and waits' off-CPU part, taking brackets as
  all CPU);
- every other thread, grouped by name: CPU ms, run delay ms and timeslices (wake-ups) per step, and
  the system calls the threads were in at the samples (202 = futex, 7 = poll, 232 = epoll_wait...).
"""

from __future__ import annotations

import argparse
import collections
import json
import statistics
from pathlib import Path
from typing import Any


def decode_pairs(steps: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Consecutive decode steps of one process (a decode step: no new request, one token each)."""
    pairs = []
    prev = None
    for s in steps:
        decode = s["num_tokens"] > 0 and s["num_new_reqs"] == 0 and s["max_tokens"] == 1
        if decode and prev is not None and prev["pid"] == s["pid"]:
            pairs.append((prev, s))
        prev = s if decode else None
    return pairs


def med(v: list[float]) -> float:
    return statistics.median(v) if v else float("nan")


def scheduling_thread(pairs: list[tuple[dict[str, Any], dict[str, Any]]]) -> dict[str, float]:
    cols: dict[str, list[float]] = collections.defaultdict(list)
    for a, b in pairs:
        d = {k: (b[k] - a[k]) * 1e3 for k in b if isinstance(b[k], float) and k in a}
        sa, sb = a.get("sched") or [], b.get("sched") or []
        cols["virtual_ms"].append(d["t"])
        cols["cpu_ms"].append(d["cpu_thread"])
        if "real" in d:
            cols["real_ms"].append(d["real"])
        for k in ("revati_thread", "revati_wait", "revati_stall", "revati_excluded"):
            if k in d:
                cols[f"{k}_ms"].append(d[k])
        if "revati_wait_steps" in b and "revati_wait_steps" in a:
            cols["wait_slices"].append(b["revati_wait_steps"] - a["revati_wait_steps"])
        if len(sa) == 3 and len(sb) == 3:
            cols["run_delay_ms"].append((sb[1] - sa[1]) / 1e6)
            cols["timeslices"].append(sb[2] - sa[2])
            if "real" in d:
                cpu, rd = d["cpu_thread"], (sb[1] - sa[1]) / 1e6
                # off-CPU while waiting in revati's waits (their checks are CPU, counted in brackets)
                waits_off = d.get("revati_wait", 0.0)
                cols["off_cpu_in_waits_ms"].append(waits_off)
                cols["off_cpu_elsewhere_ms"].append(d["real"] - cpu - rd - waits_off)
    return {k: med(v) for k, v in cols.items()}


def other_threads(
    pairs: list[tuple[dict[str, Any], dict[str, Any]]],
) -> list[tuple[str, dict[str, Any]]]:
    per: dict[str, dict[str, list[float]]] = collections.defaultdict(
        lambda: collections.defaultdict(list)
    )
    calls: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for a, b in pairs:
        ta, tb = a.get("threads") or {}, b.get("threads") or {}
        sums: dict[str, list[float]] = collections.defaultdict(lambda: [0.0, 0.0, 0.0, 0.0])
        for tid, rb in tb.items():
            ra = ta.get(tid)
            if ra is None:
                continue
            name = rb[0]
            s = sums[name]
            s[0] += (rb[1] - ra[1]) / 1e6
            s[1] += (rb[2] - ra[2]) / 1e6
            s[2] += rb[3] - ra[3]
            s[3] += 1
            calls[name][rb[4]] += 1
        for name, s in sums.items():
            for k, v in zip(("cpu_ms", "run_delay_ms", "timeslices", "threads"), s, strict=True):
                per[name][k].append(v)
    rows = [
        (
            name,
            {**{k: med(v) for k, v in cols.items()}, "syscalls": dict(calls[name].most_common(3))},
        )
        for name, cols in per.items()
    ]
    return sorted(rows, key=lambda r: -r[1]["cpu_ms"])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("steps", type=Path, help="a step log (.steps.jsonl)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead")
    a = p.parse_args()
    if not a.steps.is_file():
        raise SystemExit(f"error: {a.steps}: no such file")
    steps = [json.loads(line) for line in a.steps.read_text().splitlines() if line.strip()]
    pairs = decode_pairs(steps)
    if not pairs:
        raise SystemExit(f"error: {a.steps}: no two consecutive decode steps")
    sched = scheduling_thread(pairs)
    others = other_threads(pairs)
    if a.json:
        print(
            json.dumps({"decode_steps": len(pairs), "scheduling_thread": sched, "threads": others})
        )
        return
    print(f"{len(pairs)} decode step pairs; scheduling thread, medians per step:")
    for k, v in sched.items():
        print(f"  {k:24s} {v:9.3f}")
    print(
        "threads by name (all threads of that name together; the scheduling thread is among them):"
    )
    for name, r in others:
        print(
            f"  {name:18s} n={r['threads']:3.0f} cpu={r['cpu_ms']:7.3f} ms run_delay={r['run_delay_ms']:7.3f} ms "
            f"timeslices={r['timeslices']:6.0f} syscalls={r['syscalls']}"
        )


if __name__ == "__main__":
    main()
