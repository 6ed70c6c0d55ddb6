"""Count vLLM engine steps in a revati run: prefill and decode steps per `generate` iteration.

Reads the engine process's `vllm.sampled` markers (one per sampler call, written by revati's vLLM
plugin, revati/integrations/vllm/sampled.py) and cross-checks them against the launches of vLLM's own
`_get_num_sampled_and_rejected_kernel` (one per sampler call, whatever the plugin says). An iteration
starts at a step whose requests all compute their first prompt chunk; the decode steps that follow
belong to it. With tensor parallelism every worker (TP rank) samples each step: the iterations are
those of the lowest-ranked worker, and every other worker must have taken the same steps. Also
prints the run's wall time against the benchmark's virtual time. Usage:
    python tools/vllm_steps.py RUN [--iters N --output-len L] [--json]
With --iters/--output-len it checks the last N iterations: each kept L tokens per request, and says "exact" for 1 prefill + L-1 decode steps, "split"
when the prompts reached the engine over several steps (vLLM's front end adds requests one by one
and its engine may start a step after the first: a real H200 splits too, vLLM 0.24 prefilled every
batch-8 `generate` over two steps; see docs/vllm.md, "Engine steps", for what decides the race and
what revati adds to it); exit 1 on a wrong iteration (with --strict, on a split one too). Per iteration it also prints how the front end's sends (its `request_arrival` markers, written
just before each request goes to the engine) spread in virtual and wall time, and when the first
step's sample came after the first send.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

STEP_KERNEL = "_get_num_sampled_and_rejected_kernel"


def load_steps(run_dir: Path) -> tuple[list[dict], dict]:
    """The engine's steps (marker args + virtual time) and run-level figures."""
    import orjson

    from revati.trace import load_run

    run = load_run(run_dir)
    markers = run["marker"]
    steps_df = markers[markers["name"] == "vllm.sampled"] if len(markers) else markers
    kernels = run["kernel"]
    step_kernels = kernels[kernels["name"].str.contains(STEP_KERNEL, regex=False)]
    arrivals = markers[markers["name"] == "request_arrival"] if len(markers) else markers
    sent = sorted((int(r.ts_ns), _wall(r)) for r in arrivals.itertuples(index=False))
    steps = []
    for row in steps_df.itertuples(index=False):
        args = row.args if isinstance(row.args, dict) else orjson.loads(row.args or "{}")
        steps.append({"ts_ns": int(row.ts_ns), "wt_ns": _wall(row), "pid": int(row.pid), **args})
    info = {
        "marker_steps": len(steps),
        "kernel_steps": len(step_kernels),
        "wall_s": run.manifest.wall_duration_ns / 1e9,
        "exit_status": run.manifest.exit_status,
        "ranks": {int(r.pid): int(r.rank) for r in run.frames["proc"].itertuples(index=False)},
        "sent": sent,
    }
    return steps, info


def _wall(row: object) -> int:
    wt = getattr(row, "wt_ns", 0)
    return 0 if wt is None or wt != wt else int(wt)  # absent or NaN in deterministic runs


def add_sends(iters: list[dict], sent: list[tuple[int, int]]) -> None:
    """Per iteration, the front end's sends since the previous iteration's last step (virtual and
    wall ns): `sends`, `send_us` / `send_wall_us` (first to last send), `first_step_us` /
    `first_step_wall_us` (first send to the first step's sample)."""
    prev = -1
    for it in iters:
        mine = [t for t in sent if prev < t[0] <= it["t1"]]
        prev = it["t1"]
        it["sends"] = len(mine)
        if mine:
            (v0, w0), (v1, w1) = mine[0], mine[-1]
            it["send_us"], it["send_wall_us"] = (v1 - v0) / 1e3, (w1 - w0) / 1e3
            it["first_step_us"], it["first_step_wall_us"] = (
                (it["t0"] - v0) / 1e3,
                (it["w0"] - w0) / 1e3,
            )


def per_worker(steps: list[dict], ranks: dict[int, int]) -> list[list[dict]]:
    """The steps of each process that sampled, lowest rank first (`ranks`: pid -> rank)."""
    by_pid: dict[int, list[dict]] = {}
    for s in steps:
        by_pid.setdefault(s["pid"], []).append(s)
    order = sorted(by_pid, key=lambda pid: (ranks.get(pid, -1) < 0, ranks.get(pid, -1), pid))
    return [sorted(by_pid[pid], key=lambda s: s["ts_ns"]) for pid in order]


def same_steps(a: list[dict], b: list[dict]) -> bool:
    """Whether two workers took the same steps (requests, first chunks, kept tokens)."""
    key = ("reqs", "first", "kept")
    return [[s.get(k) for k in key] for s in a] == [[s.get(k) for k in key] for s in b]


def split_iterations(steps: list[dict]) -> list[dict]:
    """Group steps into iterations: a step where every request starts its prompt opens one.

    Per iteration: `reqs` (most requests in one step), `prefill` (steps computing a prompt chunk:
    some request starts its prompt or keeps no token), `decode`, `kept` (tokens kept).
    """
    iters: list[dict] = []
    for s in steps:
        opens = s["reqs"] > 0 and s["first"] == s["reqs"]
        if opens or not iters:
            iters.append(
                {
                    "reqs": 0,
                    "prefill": 0,
                    "decode": 0,
                    "kept": 0,
                    "t0": s["ts_ns"],
                    "w0": s.get("wt_ns", 0),
                }
            )
        it = iters[-1]
        it["reqs"] = max(it["reqs"], s["reqs"])
        if s["first"] > 0 or s["kept"] < s["reqs"]:
            it["prefill"] += 1
        else:
            it["decode"] += 1
        it["kept"] += s["kept"]
        it["t1"] = s["ts_ns"]
        it["w1"] = s.get("wt_ns", 0)
    return iters


def check(it: dict, output_len: int) -> tuple[str, str | None]:
    """("exact" | "split", None) when the iteration is right, else (verdict, the problem)."""
    tokens = it["reqs"] * output_len
    if it["kept"] != tokens:
        return "wrong", f"{it['kept']} tokens kept (expected {tokens})"
    if (it["prefill"], it["decode"]) == (1, output_len - 1):
        return "exact", None
    return (
        "split",
        None,
    )  # requests reached the engine over several steps, as on a GPU (docs/vllm.md)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("--iters", type=int, default=0, help="check the last N iterations")
    ap.add_argument("--output-len", type=int, default=0)
    ap.add_argument(
        "--strict",
        action="store_true",
        help="also fail an iteration whose prompts split over steps",
    )
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if not (args.run / "events").is_dir():
        print(f"Error: {args.run} is not a revati run directory", file=sys.stderr)
        return 1
    if (args.iters > 0) != (args.output_len > 0):
        print("Error: --iters and --output-len go together", file=sys.stderr)
        return 1
    steps, info = load_steps(args.run)
    if not steps:
        print(
            f"Error: no vllm.sampled markers in {args.run} (vLLM without revati's plugin?)",
            file=sys.stderr,
        )
        return 1
    workers = per_worker(steps, info.pop("ranks"))
    info["workers"] = len(workers)
    iters = split_iterations(workers[0])
    add_sends(iters, info.pop("sent"))
    bench = iters[-args.iters :] if args.iters else iters
    virt_s = (bench[-1]["t1"] - bench[0]["t0"]) / 1e9 if bench else 0.0
    wall_s = (bench[-1]["w1"] - bench[0]["w0"]) / 1e9 if bench else 0.0
    problems = []
    if info["marker_steps"] != info["kernel_steps"]:
        problems.append(
            f"{info['marker_steps']} marked steps but {info['kernel_steps']} {STEP_KERNEL} launches"
        )
    for w in workers[1:]:
        if not same_steps(workers[0], w):
            problems.append(
                f"worker pid {w[0]['pid']} took {len(w)} steps unlike pid {workers[0][0]['pid']}'s"
                f" {len(workers[0])}"
            )
    verdicts = []
    if args.iters:
        if len(iters) < args.iters:
            problems.append(f"only {len(iters)} iterations found, {args.iters} expected")
        for i, it in enumerate(bench):
            verdict, problem = check(it, args.output_len)
            verdicts.append(verdict)
            if problem:
                problems.append(f"checked iteration {i}: {problem}")
            elif verdict == "split" and args.strict:
                problems.append(
                    f"checked iteration {i}: {it['prefill']} prefill + {it['decode']} decode "
                    f"steps (expected 1 + {args.output_len - 1})"
                )
    if args.json:
        out = {**info, "iterations": iters, "verdicts": verdicts, "virtual_s": virt_s}
        out["bench_wall_s"] = wall_s
        print(json.dumps({**out, "problems": problems}, indent=1))
    else:
        print(
            f"{info['marker_steps']} sampler steps ({info['kernel_steps']} {STEP_KERNEL} launches), "
            f"{info['workers']} worker(s); {len(iters)} iterations; run wall {info['wall_s']:.1f} s, exit {info['exit_status']}"
        )
        for i, it in enumerate(iters):
            span = (it["t1"] - it["t0"]) / 1e6
            sends = ""
            if it.get("sends"):
                sends = (
                    f"; {it['sends']} sends over {it['send_us']:.0f} us virtual "
                    f"({it['send_wall_us']:.0f} us wall), first step sampled "
                    f"{it['first_step_us']:.0f} us after the first ({it['first_step_wall_us']:.0f} us wall)"
                )
            print(
                f"  iteration {i}: {it['reqs']} requests, {it['prefill']} prefill + "
                f"{it['decode']} decode steps, {it['kept']} tokens, virtual {span:.1f} ms{sends}"
            )
        if verdicts:
            print(
                f"checked iterations: {', '.join(verdicts)}; first to last step: virtual "
                f"{virt_s:.3f} s, wall {wall_s:.1f} s (whole run: wall {info['wall_s']:.1f} s)"
            )
        for p in problems:
            print(f"MISMATCH: {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
