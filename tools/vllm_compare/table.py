"""The error table of the vLLM real-GPU comparison (issue 10): real results against revati's, both
written by run_points.py (one JSON each, or several per side: their points are merged), printed as
markdown.

    python tools/vllm_compare/table.py --real tools/accuracy/results/vllm024-h200-*.json \\
        --revati tools/accuracy/results/vllm024-revati-2026-12-03.json

- Latency points: `vllm bench latency`'s per-iteration latencies; real mean [min-max] over the
  repeats against revati's mean, error % = (revati - real) / real.
- Serving, per request rate: TTFT, TPOT, ITL and E2E (median and mean, ms) and output throughput
  (tok/s), each the mean over the repeats of one `vllm bench serve` figure [min-max], and the
  error %.
- GPU-paced figures (what the kernels' predicted durations decide, not the host's speed): every
  latency point (each is 128 decode steps of an 8B model at batch 1-32 under CUDA graphs) and the
  TPOT median and mean at each rate. Their median |error| is issue 10's target (within 5%).

Several files per side: a later file's latency point or serving rate replaces an earlier one's (a
rerun); with `--pool` the real side's repeats of a point or rate from all its files are pooled (the
same points measured in several sessions: the real side moves between sessions, docs/vllm.md "The
real side again"; revati's side changes with the code, so its later file still replaces). A figure
one side lacks (a failed command) is shown as `-` and left out of the median. Exit status 1 on
unreadable input.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

TARGET_PCT = 5.0  # issue 10: median |error| of GPU-paced figures within this
SERVE_FIGURES = (  # (key in vllm bench serve's result, label, GPU-paced)
    ("median_ttft_ms", "TTFT median (ms)", False),
    ("mean_ttft_ms", "TTFT mean (ms)", False),
    ("median_tpot_ms", "TPOT median (ms)", True),
    ("mean_tpot_ms", "TPOT mean (ms)", True),
    ("median_itl_ms", "ITL median (ms)", False),
    ("mean_itl_ms", "ITL mean (ms)", False),
    ("median_e2el_ms", "E2E median (ms)", False),
    ("mean_e2el_ms", "E2E mean (ms)", False),
    ("output_throughput", "output throughput (tok/s)", False),
)


def load(paths: list[Path], pool: bool = False) -> dict[str, Any]:
    """run_points.py results, merged: latency points by name, serving runs by rate (a later
    file's runs at a rate replace an earlier file's: a rerun of the serving point); with `pool`,
    a point's latencies and a rate's runs from every file are kept together (failed commands left
    out)."""
    merged: dict[str, Any] = {"latency": {}, "serve_runs": [], "vllm_version": set(), "gpu": set()}
    for p in paths:
        try:
            r = json.loads(p.read_text())
        except (OSError, ValueError) as e:
            raise SystemExit(f"error: {p}: not a readable results JSON ({e})") from None
        if not isinstance(r, dict) or "latency" not in r:
            raise SystemExit(f"error: {p}: not a run_points.py result (no 'latency')")
        runs = (r.get("serve") or {}).get("runs", [])
        if pool:
            for name, res in r["latency"].items():
                have = merged["latency"].get(name)
                if have is None or not latencies(have):
                    merged["latency"][name] = res
                elif latencies(res):
                    merged["latency"][name] = {**res, "latencies": latencies(have) + latencies(res)}
        else:
            merged["latency"].update(r["latency"])
            # a later file's runs at a rate replace an earlier one's
            rates = {float(x["rate"]) for x in runs}
            merged["serve_runs"] = [
                x for x in merged["serve_runs"] if float(x["rate"]) not in rates
            ]
        merged["serve_runs"] += runs
        # `vllm --version` needs a GPU (run_points.py asks it outside revati): then points.json's
        merged["vllm_version"].add(
            str(r.get("vllm_version") or f"{r.get('expected_vllm_version')} (points.json)")
        )
        merged["gpu"].add(str(r.get("gpu")))
    return merged


def stats(values: list[float]) -> tuple[float, float, float] | None:
    return (statistics.fmean(values), min(values), max(values)) if values else None


def error_pct(real: float | None, rev: float | None) -> float | None:
    if real is None or rev is None or real == 0:
        return None
    return 100.0 * (rev - real) / real


def _fmt(s: tuple[float, float, float] | None, digits: int, span: bool = True) -> str:
    if s is None:
        return "-"
    mean, lo, hi = s
    return f"{mean:.{digits}f}" + (f" [{lo:.{digits}f}-{hi:.{digits}f}]" if span else "")


def _pct(e: float | None) -> str:
    return "-" if e is None else f"{e:+.1f}%"


def latencies(res: dict[str, Any] | None) -> list[float]:
    """A latency point's per-iteration latencies (s); none for a failed command."""
    if not res or res.get("rc") not in (0, None):
        return []
    return [float(x) for x in res.get("latencies") or []]


def serve_values(runs: list[dict[str, Any]], rate: float, key: str) -> list[float]:
    return [
        float(r["result"][key])
        for r in runs
        if float(r["rate"]) == rate and r.get("result", {}).get(key) is not None
    ]


def table(real: dict[str, Any], rev: dict[str, Any]) -> tuple[list[str], list[float]]:
    """The markdown lines and the GPU-paced errors (%)."""
    gpu_paced: list[float] = []
    L = [
        f"real: vLLM {', '.join(sorted(real['vllm_version']))} on {', '.join(sorted(real['gpu']))}; "
        f"revati: vLLM {', '.join(sorted(rev['vllm_version']))}",
        "",
        "| latency point | real avg latency (s) mean [min-max] | revati (s) | error | revati wall (s) |",
        "|---|---|---|---|---|",
    ]
    for name in sorted(set(real["latency"]) | set(rev["latency"]), key=_point_order):
        r, v = (
            stats(latencies(real["latency"].get(name))),
            stats(latencies(rev["latency"].get(name))),
        )
        e = error_pct(r[0] if r else None, v[0] if v else None)
        if e is not None:
            gpu_paced.append(e)
        wall = (rev["latency"].get(name) or {}).get("wall_s")
        L.append(
            f"| {name} | {_fmt(r, 4)} | {_fmt(v, 4, span=False)} | {_pct(e)} | "
            f"{'-' if wall is None else f'{wall:.0f}'} |"
        )
    rates = sorted({float(x["rate"]) for x in real["serve_runs"] + rev["serve_runs"]})
    if rates:
        L += [
            "",
            "| rate (req/s) | figure | real mean [min-max] | revati | error |",
            "|---|---|---|---|---|",
        ]
    for rate in rates:
        for key, label, paced in SERVE_FIGURES:
            r = stats(serve_values(real["serve_runs"], rate, key))
            v = stats(serve_values(rev["serve_runs"], rate, key))
            e = error_pct(r[0] if r else None, v[0] if v else None)
            if paced and e is not None:
                gpu_paced.append(e)
            L.append(
                f"| {rate:g} | {label}{' *' if paced else ''} | {_fmt(r, 2)} | "
                f"{_fmt(v, 2, span=len(rev['serve_runs']) > len(rates))} | {_pct(e)} |"
            )
    L.append("")
    if gpu_paced:
        med = statistics.median(abs(e) for e in gpu_paced)
        verdict = "within" if round(med, 6) <= TARGET_PCT else "not within"
        L.append(
            f"Median |error| of the {len(gpu_paced)} GPU-paced figures (latency points, TPOT *): "
            f"{med:.1f}% ({verdict} issue 10's {TARGET_PCT:g}%)."
        )
    else:
        L.append("No GPU-paced figure on both sides.")
    return L, gpu_paced


def _point_order(name: str) -> tuple[int, str]:
    """lat-b8-... after lat-b1-...: by batch size where the name has one."""
    parts = name.split("-")
    b = next((p[1:] for p in parts if p.startswith("b") and p[1:].isdigit()), "")
    return (int(b) if b else 0, name)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--real", type=Path, nargs="+", required=True, help="run_points.py results")
    p.add_argument("--revati", type=Path, nargs="+", required=True, help="the same under revati")
    p.add_argument(
        "--pool",
        action="store_true",
        help="pool the real side's repeats of a point or rate found in several files (else the "
        "later file's replace the earlier's, as they always do on revati's side)",
    )
    a = p.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        real, rev = load(a.real, a.pool), load(a.revati)
    except SystemExit as e:
        print(e, file=sys.stderr)
        return 1
    lines, _ = table(real, rev)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
