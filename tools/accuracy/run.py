"""Accuracy harness: run the workloads on a real GPU (3x) and under `revati record`, print the error table.

    python tools/accuracy/run.py gpu --out gpu.json                  # on the GPU machine
    python tools/accuracy/run.py revati --device h200 --out rev.json  # here, no GPU
    python tools/accuracy/run.py table gpu.json rev.json              # the table in docs/accuracy.md

GPU-bound rows (gemm_loop, graph_decode, graph_decode_qwen, prefill_qwen) compare revati with the
median of the real runs; the host-bound rows (eager_decode, prefill) with the band the real runs span
(inside the band: error 0). `table` pools the runs of several real-GPU result files.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from heldout import HELDOUT  # beside this script

HERE = Path(__file__).resolve().parent
WORKLOADS = [
    "gemm_loop",
    "graph_decode",
    "prefill",
    "eager_decode",
    "graph_decode_qwen",
    "prefill_qwen",
    # models and sizes no dataset holds (heldout.py): generalisation
    *HELDOUT,
]
# host-bound on the real H200 too: eager steps of small batches, and the eager 1B prefill of 2048
# tokens (about 6 ms of GEMM work in runs of 17.5-26 ms: the rest is torch's dispatch on the host)
HOST_BOUND = {"eager_decode", "prefill"}


def _last_json(text: str) -> dict:
    for line in reversed(text.splitlines()):
        if line.startswith("{") and '"workload"' in line:
            return json.loads(line)
    raise SystemExit(f"error: no result line in the workload's output:\n{text[-2000:]}")


def _run(cmd: list[str]) -> dict:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"error: {' '.join(cmd)} exited {proc.returncode}:\n{proc.stderr[-2000:]}")
    return _last_json(proc.stdout)


def run_gpu(reps: int, workloads: list[str]) -> dict:
    results: dict[str, list[dict]] = {}
    for w in workloads:
        for _ in range(reps):
            r = _run([sys.executable, str(HERE / "workloads.py"), w])
            results.setdefault(w, []).append(r)
            print(f"{w}: {r['ms']:.3f} ms", file=sys.stderr)
    return {"where": "gpu", "results": results}


def run_revati(
    device: str, host_speed: str, workloads: list[str], model: str | None = None
) -> dict:
    results: dict[str, list[dict]] = {}
    for w in workloads:
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [sys.executable, "-m", "revati", "record", "--device", device, "--host-speed",
                   str(host_speed), "--out", f"{tmp}/run", "--", sys.executable,
                   str(HERE / "workloads.py"), w]  # fmt: skip
            if model:
                cmd[4:4] = ["--model", model]
            load = os.getloadavg()[0]
            r = _run(cmd)
        r["load_before"], r["load_after"] = round(load, 2), round(os.getloadavg()[0], 2)
        results.setdefault(w, []).append(r)
        print(f"{w}: {r['ms']:.3f} virtual ms", file=sys.stderr)
    return {"where": "revati", "device": device, "host_speed": host_speed, "model": model,
            "results": results}  # fmt: skip


def table(gpu: dict, rev: dict) -> str:
    cards = {r.get("device") for rs in gpu["results"].values() for r in rs} - {None}
    card = " / ".join(sorted(c.replace("NVIDIA ", "") for c in cards)) or "GPU"
    lines = [
        f"| workload | real {card} median ms (min-max, n) | revati ms | error |",
        "|---|---|---|---|",
    ]
    for w in WORKLOADS:
        real = [r["ms"] for r in gpu["results"].get(w, [])]
        got = [r["ms"] for r in rev["results"].get(w, [])]
        if not real or not got:
            continue
        med, lo, hi, v = statistics.median(real), min(real), max(real), got[0]
        if w in HOST_BOUND:
            err = 0.0 if lo <= v <= hi else (v - (hi if v > hi else lo)) / (hi if v > hi else lo)
            note = " (vs band)"
        else:
            err, note = (v - med) / med, ""
        lines.append(
            f"| {w} | {med:.3f} ({lo:.3f}-{hi:.3f}, {len(real)}) | {v:.3f} | {err * 100:+.1f}%{note} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="mode", required=True)
    g = sub.add_parser("gpu")
    g.add_argument("--reps", type=int, default=3)
    g.add_argument("--out", type=Path, required=True)
    g.add_argument("--workloads", default=",".join(WORKLOADS))
    r = sub.add_parser("revati")
    r.add_argument("--device", default="h200")
    r.add_argument("--host-speed", default="auto", help="a number, or auto (calibrated, cached)")
    r.add_argument("--out", type=Path, required=True)
    r.add_argument("--workloads", default=",".join(WORKLOADS))
    r.add_argument("--model", help="model directory (default: the device's bundled model)")
    t = sub.add_parser("table")
    t.add_argument("gpu", type=Path, nargs="+", help="real-GPU result files (their runs pooled)")
    t.add_argument("revati", type=Path)
    args = ap.parse_args(argv)
    if args.mode == "table":
        gpu: dict = {"results": {}}
        for p in args.gpu:
            for w, runs in json.loads(p.read_text())["results"].items():
                gpu["results"].setdefault(w, []).extend(runs)
        print(table(gpu, json.loads(args.revati.read_text())))
        return 0
    ws = [w for w in args.workloads.split(",") if w]
    unknown = [w for w in ws if w not in WORKLOADS]
    if unknown:
        print(
            f"error: unknown workload {unknown[0]!r}; choose from {', '.join(WORKLOADS)}",
            file=sys.stderr,
        )
        return 2
    doc = (
        run_gpu(args.reps, ws)
        if args.mode == "gpu"
        else run_revati(args.device, args.host_speed, ws, args.model)
    )
    args.out.write_text(json.dumps(doc, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
