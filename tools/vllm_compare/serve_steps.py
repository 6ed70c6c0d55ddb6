"""The engine core's steps in a serving run, per benchmark: from a step log written with
tools/vllm_compare/step_log on PYTHONPATH and REVATI_STEP_LOG set for the serving command
(`run_points.py --step-log` sets both; a `.gz` log is read as it is), split into benchmarks where
the engine was idle for more than --gap seconds (between `vllm bench serve` runs). Per benchmark,
for decode steps (no new request) and for steps with a new request (a prompt's prefill beside the
running decodes): the mean number of running requests and tokens, the mean step time (the `t` gap to
the next step: virtual under revati) and the mean CPU time of vLLM's scheduling thread in it (less
revati's own brackets, when the log has them). Gaps longer than --gap are idle time, not steps.

    python tools/vllm_compare/serve_steps.py serve.steps.jsonl
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import sys
from pathlib import Path
from typing import Any


def benchmarks(steps: list[dict[str, Any]], gap: float) -> list[list[dict[str, Any]]]:
    """The steps of one engine process cut where the engine was idle for more than `gap` s."""
    out: list[list[dict[str, Any]]] = []
    prev = None
    for s in steps:
        if prev is None or s["pid"] != prev["pid"] or s["t"] - prev["t"] > gap:
            out.append([])
        out[-1].append(s)
        prev = s
    return out


def summary(bench: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per kind of step ("decode", "new"): n, mean requests, tokens, step ms and vLLM CPU ms."""
    rows: dict[str, list[tuple[float, float, float, float]]] = {"decode": [], "new": []}
    for a, b in zip(bench, bench[1:], strict=False):
        cpu = (
            b["cpu_thread"]
            - a["cpu_thread"]
            - (b.get("revati_thread", 0) - a.get("revati_thread", 0))
        )
        kind = "new" if a["num_new_reqs"] else "decode"
        rows[kind].append((a["num_reqs"], a["num_tokens"], (b["t"] - a["t"]) * 1e3, cpu * 1e3))
    out = {}
    for kind, v in rows.items():
        if v:
            cols = list(zip(*v, strict=True))
            out[kind] = {"n": len(v)} | {
                k: round(statistics.fmean(c), 2)
                for k, c in zip(("reqs", "tokens", "step_ms", "cpu_ms"), cols, strict=True)
            }
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("log", type=Path, help="the step log (one JSON line per step)")
    p.add_argument("--gap", type=float, default=2.0, help="idle seconds that end a benchmark")
    a = p.parse_args(argv)
    try:
        raw = a.log.read_bytes()
        text = (gzip.decompress(raw) if a.log.suffix == ".gz" else raw).decode()
        steps = [json.loads(ln) for ln in text.splitlines() if ln.strip()]
        need = ("t", "pid", "num_reqs", "num_tokens", "num_new_reqs", "cpu_thread")
        if not steps or any(k not in s for s in steps for k in need):
            raise ValueError(f"not a step log with {', '.join(need)}")
    except (OSError, ValueError) as e:
        print(f"error: {a.log}: {e}", file=sys.stderr)
        return 1
    print("| benchmark | kind | steps | requests | tokens | step (ms) | vLLM CPU (ms) |")
    print("|---|---|---|---|---|---|---|")
    for i, bench in enumerate(benchmarks(steps, a.gap), 1):
        for kind, r in summary(bench).items():
            print(
                f"| {i} | {kind} | {r['n']:.0f} | {r['reqs']} | {r['tokens']} | {r['step_ms']} | {r['cpu_ms']} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
