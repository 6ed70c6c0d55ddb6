"""How fast revati emulates a vLLM benchmark: its virtual time (the emulated GPU server's time, so
what a real H100 would take if the predictions hold) against the wall time it took here.

Records `vllm bench latency` (offline engine) with `revati record --predictor xgb`, or reads runs
already recorded (a latency run, or a serving run of `examples/vllm_serve.py`), and prints per run
the benchmark's phases (each `generate` iteration of the latency benchmark, each request rate of the
serving one) as virtual and wall seconds, and their ratio: how many times faster than a real H100
the emulation ran them (issue 10's target: >= 5x). Start-up (vLLM's compile and graph capture) is
shown apart; it is not part of the benchmark. A run this script recorded also has its processes' CPU
time sampled (`cpu_samples.json`): per phase the CPU seconds of all of them and of the busiest one,
and from those the wall time an idle host with as many cores would need at least, so a figure taken
on a loaded shared host can be told from the emulator's own speed. Usage:

    python tools/bench_vllm_speed.py --model examples/models/llama-3-8b --batch-size 8 \
        --input-len 512 --output-len 128 --out runs/speed-8b [-- --enforce-eager]
    python tools/bench_vllm_speed.py --serve 4,32 --num-prompts 32 --model examples/models/llama-3-8b \
        --input-len 512 --output-len 128 --out runs/speed-8b-serve
    python tools/bench_vllm_speed.py --runs runs/speed-8b runs/serve-bench

Needs a Python with vLLM for recording (docs/vllm.md, "Set up"); reading needs only revati.
`--json` prints the figures as JSON. Exit 1 when a run failed or has no benchmark phase.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from vllm_serve_bench import H100_TARGET, bench_parser, benchmark_phases, missing_run  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
CPU_FILE = "cpu_samples.json"  # written next to the trace by the recording mode
SAMPLE_S = 0.5


def record(a: argparse.Namespace, vllm_args: list[str]) -> None:
    """One `revati record` of `vllm bench latency`, or with --serve of examples/vllm_serve.py, into
    a.out, sampling the CPU time of its processes."""
    rv = [sys.executable, "-m", "revati", "record", "--overwrite", "--predictor", "xgb",
          "--device", a.device, "--out", str(a.out), "--"]  # fmt: skip
    if a.serve:
        cmd = [
            *rv, sys.executable, str(REPO / "examples" / "vllm_serve.py"), "--model", a.model,
            "--request-rate", a.serve, "--num-prompts", str(a.num_prompts),
            "--input-len", str(a.input_len), "--output-len", str(a.output_len),
            "--num-warmups", str(a.num_warmups), "--", *vllm_args,
        ]  # fmt: skip
    else:
        cmd = [
            *rv, str(Path(sys.executable).parent / "vllm"), "bench", "latency",
            "--model", a.model, "--load-format", "dummy",
            "--batch-size", str(a.batch_size), "--input-len", str(a.input_len),
            "--output-len", str(a.output_len), "--num-iters-warmup", str(a.warmup),
            "--num-iters", str(a.iters), "--output-json", str(a.out / "latency.json"), *vllm_args,
        ]  # fmt: skip
    print("+", " ".join(cmd), file=sys.stderr, flush=True)
    proc = subprocess.Popen(cmd)
    samples = sample_cpu(proc)
    (a.out / CPU_FILE).write_text(json.dumps({"cpus": os.cpu_count(), "samples": samples}))


def tree_cpu(root: int) -> dict[int, float]:
    """CPU seconds (user + system, all threads) of root and every process below it, by pid."""
    parent, cpu = {}, {}
    tick = os.sysconf("SC_CLK_TCK")
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            f = (d / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parent[int(d.name)] = int(f[1])
        cpu[int(d.name)] = (int(f[11]) + int(f[12])) / tick
    keep, todo = {root}, [root]
    while todo:
        p = todo.pop()
        kids = [c for c, pp in parent.items() if pp == p and c not in keep]
        keep.update(kids)
        todo.extend(kids)
    return {p: cpu[p] for p in keep if p in cpu}


def sample_cpu(proc: subprocess.Popen[bytes]) -> list[list[Any]]:
    """Until proc ends: every SAMPLE_S, [real monotonic ns, {pid: CPU s}] of its process tree (the
    markers' wall clock is the same real monotonic clock), so each phase's CPU time can be told."""
    samples: list[list[Any]] = []
    while proc.poll() is None:
        samples.append([time.monotonic_ns(), tree_cpu(proc.pid)])
        time.sleep(SAMPLE_S)
    return samples


def phase_cpu(samples: list[list[Any]], w0: int, w1: int) -> dict[str, float] | None:
    """CPU seconds the run's processes used between real instants w0 and w1 (the nearest samples):
    all together and the busiest one's."""
    if not samples:
        return None
    a = min(samples, key=lambda x: abs(x[0] - w0))
    b = min(samples, key=lambda x: abs(x[0] - w1))
    if b[0] <= a[0]:
        return None
    per = {p: c - a[1].get(p, 0.0) for p, c in b[1].items()}
    return {"total_s": sum(per.values()), "busiest_s": max(per.values(), default=0.0),
            "sampled_wall_s": (b[0] - a[0]) / 1e9}  # fmt: skip


def iterations(markers: Any) -> list[dict[str, float]]:
    """The offline benchmark's `generate` calls: requests whose [arrival, finish] overlap form one
    iteration (one batch); virtual and wall seconds from its first arrival to its last finish."""
    from revati.trace.schema import MARK_ARRIVAL, MARK_FINISH

    if not len(markers) or "wt_ns" not in markers.columns:
        return []
    m = markers[markers["name"].isin((MARK_ARRIVAL, MARK_FINISH))]
    if not len(m) or m["wt_ns"].isna().any():
        return []
    req = [str(a.get("req", "")) if isinstance(a, dict) else "" for a in m["args"].tolist()]
    m = m.assign(req=req)
    spans = []
    for _, g in m.groupby("req", sort=False):
        arr, fin = g[g["name"] == MARK_ARRIVAL], g[g["name"] == MARK_FINISH]
        if len(arr) and len(fin):
            spans.append(
                (int(arr["ts_ns"].min()), int(fin["ts_ns"].max()),
                 int(arr["wt_ns"].min()), int(fin["wt_ns"].max()))
            )  # fmt: skip
    spans.sort()
    out: list[dict[str, Any]] = []
    for t0, t1, w0, w1 in spans:
        if out and t0 <= out[-1]["_t1"]:
            o = out[-1]
            o["_t1"], o["_w1"] = max(o["_t1"], t1), max(o["_w1"], w1)
            o["requests"] += 1
        else:
            out.append({"first_ns": t0, "_t1": t1, "_w0": w0, "_w1": w1, "requests": 1})
    for o in out:
        o["virtual_s"] = (o.pop("_t1") - o["first_ns"]) / 1e9
        o["wall_first_ns"], o["wall_last_ns"] = o.pop("_w0"), o.pop("_w1")
        o["wall_s"] = (o["wall_last_ns"] - o["wall_first_ns"]) / 1e9
    return out


def figures(run_dir: Path) -> dict[str, Any]:
    """The run's benchmark phases, their speed, and its virtual start-up (up to the first phase)."""
    from revati.trace import load_run

    run = load_run(run_dir)
    markers = run.frames["marker"]
    serving = bool(run.client_results)
    phases = benchmark_phases(markers) if serving else iterations(markers)
    first, last = run.span()
    fig: dict[str, Any] = {
        "run": str(run_dir),
        "kind": "serving" if serving else "latency",
        "command": " ".join(run.manifest.command),
        "device": run.manifest.device,
        "predictor": (run.manifest.predictor or {}).get("name"),
        "host_speed": run.manifest.host_speed,
        "exit_status": run.manifest.exit_status,
        "run_wall_s": (run.manifest.wall_duration_ns or 0) / 1e9,
        "run_virtual_s": (last - first) / 1e9 if first is not None and last is not None else None,
        "phases": phases,
    }
    cpu_file = run_dir / CPU_FILE
    if cpu_file.exists():  # each phase's CPU time: what the wall time would be on an idle host
        c = json.loads(cpu_file.read_text())
        samples = [[t, {int(k): v for k, v in d.items()}] for t, d in c["samples"]]
        for ph in phases:
            got = phase_cpu(samples, ph["wall_first_ns"], ph["wall_last_ns"])
            if got:
                ph["cpu"] = got
                # an idle host with this many cores: no faster than the busiest process, nor than
                # all the CPU work spread over every core
                ph["idle_wall_s"] = max(got["busiest_s"], got["total_s"] / c["cpus"])
    lat = run_dir / "latency.json"
    if lat.exists():
        fig["vllm_latencies_s"] = json.loads(lat.read_text()).get("latencies")
    if phases:
        v = sum(p["virtual_s"] for p in phases)
        w = sum(p["wall_s"] for p in phases)
        fig.update(bench_virtual_s=v, bench_wall_s=w, speed=v / w if w > 0 else None)
        if all(p.get("idle_wall_s") for p in phases):
            iw = sum(p["idle_wall_s"] for p in phases)
            fig.update(bench_idle_wall_s=iw, idle_speed=v / iw)
        if first is not None:
            fig["startup_virtual_s"] = (phases[0]["first_ns"] - first) / 1e9
    return fig


def print_figures(figs: list[dict[str, Any]]) -> None:
    for f in figs:
        print(f"{f['run']}: {f['kind']} benchmark, {f['device']}, predictor {f['predictor']}, "
              f"host-speed {f['host_speed'] or 0:.3f}, exit {f['exit_status']}")  # fmt: skip
        print(f"  $ {f['command']}")
        print(f"  {'phase':>5} {'requests':>8} {'virtual s':>10} {'wall s':>8} {'virt/wall':>9} "
              f"{'CPU s all':>9} {'busiest':>8} {'idle-host wall s':>16} {'virt/idle':>9}")  # fmt: skip
        for i, p in enumerate(f["phases"]):
            sp = p["virtual_s"] / p["wall_s"] if p["wall_s"] > 0 else 0.0
            row = f"  {i:5d} {p['requests']:8d} {p['virtual_s']:10.3f} {p['wall_s']:8.2f} {sp:9.3f}"
            if p.get("cpu"):
                c, iw = p["cpu"], p["idle_wall_s"]
                row += f" {c['total_s']:9.2f} {c['busiest_s']:8.2f} {iw:16.2f} {p['virtual_s'] / iw:9.3f}"
            print(row)
        if f.get("vllm_latencies_s"):
            lat = ", ".join(f"{x:.3f}" for x in f["vllm_latencies_s"])
            print(f"  vLLM's measured iterations (its own clock, virtual): {lat} s")
        if f.get("speed") is not None:
            print(f"  benchmark: {f['bench_virtual_s']:.2f} s virtual in {f['bench_wall_s']:.2f} s "
                  f"wall: {f['speed']:.2f}x a real H100's time (the virtual time) "
                  f"[target >= {H100_TARGET:g}x: {'met' if f['speed'] >= H100_TARGET else 'not met'}]")  # fmt: skip
        if f.get("idle_speed") is not None:
            print(f"  on an idle host (the phases' CPU time, not this host's load): "
                  f"{f['bench_idle_wall_s']:.2f} s wall, {f['idle_speed']:.2f}x")  # fmt: skip
        if f.get("run_virtual_s") is not None:
            print(f"  whole run: {f['run_virtual_s']:.1f} s virtual ({f.get('startup_virtual_s') or 0:.1f} s "
                  f"of it vLLM's start-up), {f['run_wall_s']:.1f} s wall")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    p, argv, vllm_args = bench_parser(
        __doc__ or "", argv, model="examples/models/llama-3-8b", num_prompts=32, input_len=512,
        output_len=128, out="runs/vllm-speed", prompts_help="with --serve: per rate",
    )  # fmt: skip
    p.add_argument("--device", default="h100")
    p.add_argument(
        "--serve", metavar="RATES", help="record the serving benchmark at these rates instead"
    )
    p.add_argument(
        "--num-warmups", type=int, default=8, help="with --serve: warm-up requests before each rate"
    )
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--iters", type=int, default=3)
    a = p.parse_args(argv)
    if min(a.batch_size, a.input_len, a.output_len, a.iters) < 1 or a.warmup < 0:
        p.error("--batch-size, --input-len, --output-len and --iters must be positive")
    if not a.runs:
        record(a, vllm_args)
    dirs = a.runs or [a.out]
    if missing_run(dirs):
        return 1
    figs = [figures(d) for d in dirs]
    if a.json:
        print(json.dumps(figs, indent=2))
    else:
        print_figures(figs)
    bad = [f["run"] for f in figs if f["exit_status"] != 0 or not f["phases"]]
    if bad:
        print(f"run(s) that failed or have no benchmark phase: {', '.join(bad)}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
