"""Run the benchmark points of points.json (beside this file) with one vLLM and write one JSON of
every figure vLLM printed or saved. The one source of how the real-GPU comparison runs: the same
command on the real H200 and under revati (issue 10).

    python tools/vllm_compare/run_points.py --out real.json                      # on a GPU host
    python tools/vllm_compare/run_points.py --out rev.json \\
        --prefix "python -m revati record --device h200 --out runs/{name} --"    # under revati
    python tools/vllm_compare/run_points.py --points lat-b1-i512-o128 --repeats 1 --out x.json

Latency points: `vllm bench latency ... --num-iters-warmup 1 --num-iters R --output-json F`, one
command a point (R = repeats: each repeat is one timed iteration). Serving: one command,
examples/vllm_serve.py (one `vllm serve`, then `vllm bench serve` R times per rate, each with its
own seed). `--prefix` words go before each of these commands; `{name}` in them becomes the point's
name (`serve` for the serving point). With `--step-log`, every command (the latency points and
the serving point) runs with step_log/ on PYTHONPATH and REVATI_STEP_LOG set: the engine's steps
(time, requests, tokens) land beside the results as NAME.steps.jsonl; a latency point's are
summarised per `generate` call (prefill and decode steps), the serving point's (serve.steps.jsonl,
the engine core's) by serve_steps.py per benchmark. Exit status: 0 when every command exited 0,
else 1 (the JSON is written either way).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "examples"))
from vllm_serve import vllm_command  # noqa: E402  (the one finder of the `vllm` command)

POINTS = HERE / "points.json"
STEP_LOG_DIR = HERE / "step_log"
# per-request lists of a `vllm bench serve --save-detailed` result that are kept (short ones)
KEPT_LISTS = ("input_lens", "output_lens", "ttfts", "start_times")


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, required=True, help="the results JSON")
    p.add_argument("--points-file", type=Path, default=POINTS)
    p.add_argument("--points", default="", help="names, comma-separated (default: all)")
    p.add_argument("--repeats", type=int, default=None, help="default: points.json's")
    p.add_argument(
        "--vllm",
        default="",
        help="the vllm command, words split at spaces (default: the `vllm` next to this "
        "Python, else on PATH)",
    )
    p.add_argument("--prefix", default="", help="words put before each command; {name}: point")
    p.add_argument("--work", type=Path, default=None, help="logs and raw results (default: OUT.d)")
    p.add_argument("--timeout", type=float, default=900.0, help="seconds per command, then killed")
    p.add_argument("--step-log", action="store_true", help="log the engine's steps (latency)")
    p.add_argument("--model", default=None, help="default: points.json's (relative to the repo)")
    a = p.parse_args(argv)
    if not a.points_file.is_file():
        p.error(f"--points-file {a.points_file}: no such file")
    if a.repeats is not None and a.repeats < 1:
        p.error("--repeats must be positive")
    if a.timeout <= 0:
        p.error("--timeout must be positive")
    return a


def select(points: dict[str, Any], names: str) -> tuple[list[dict[str, Any]], bool]:
    """The latency points asked for, and whether the serving point is."""
    known = [pt["name"] for pt in points["latency"]] + ["serve"]
    wanted = [n for n in names.split(",") if n] or known
    unknown = [n for n in wanted if n not in known]
    if unknown:
        raise SystemExit(f"error: unknown point(s) {', '.join(unknown)}; known: {', '.join(known)}")
    return [pt for pt in points["latency"] if pt["name"] in wanted], "serve" in wanted


def run(cmd: list[str], log: Path, timeout: float, env: dict[str, str]) -> dict[str, Any]:
    """Run `cmd` in its own session with output to `log`; kill the session after `timeout`."""
    print("+", " ".join(cmd), flush=True)
    t0 = time.monotonic()
    with log.open("w") as f:
        proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, env=env, cwd=REPO,
                                start_new_session=True)  # fmt: skip
        try:
            rc = proc.wait(timeout=timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            rc = proc.wait()
            timed_out = True
    wall = time.monotonic() - t0
    print(f"  exit {rc}{' (timed out)' if timed_out else ''} after {wall:.1f} s", flush=True)
    return {"command": cmd, "rc": rc, "timed_out": timed_out, "wall_s": round(wall, 3)}


def generate_calls(steps: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The engine's steps per `generate` call: a call starts at a step whose requests are all new
    (the engine was idle); steps that schedule no token, and those before the first call, are left
    out."""
    calls: list[list[dict[str, Any]]] = []
    for s in steps:
        if s["num_tokens"] == 0:
            continue
        if s["num_new_reqs"] == s["num_reqs"]:
            calls.append([])
        if calls:
            calls[-1].append(s)
    return calls


def step_summary(path: Path) -> list[dict[str, Any]]:
    """Per `generate` call (from a step whose requests are all new: the engine was idle) its
    prefill steps (new requests, or a request given more than one token: a chunk of a prompt),
    the new requests and tokens of each, and its decode steps; with the step log's CPU clocks,
    the median time, scheduling-thread CPU and engine-process CPU from one decode step to the
    next (ms): where a decode step's time goes on the host; under revati also the real time its
    clock excluded as revati's own and as waits for a core (decode_revati_excluded_ms,
    decode_revati_stall_ms)."""
    if not path.is_file():
        return []
    steps = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    calls: list[dict[str, Any]] = []
    for group in generate_calls(steps):
        c: dict[str, Any] = {"prefill_steps": 0, "decode_steps": 0, "new_reqs": [], "tokens": []}
        gaps: dict[str, list[float]] = {
            k: []
            for k in (
                "t",
                "cpu_thread",
                "cpu_proc",
                "revati_excluded",
                "revati_stall",
                "revati_thread",
            )
        }
        prev: dict[str, Any] | None = None
        for s in group:
            prefill = s["num_new_reqs"] > 0 or s["max_tokens"] > 1
            if prefill:
                c["prefill_steps"] += 1
                c["new_reqs"].append(s["num_new_reqs"])
                c["tokens"].append(s["num_tokens"])
            else:
                c["decode_steps"] += 1
                if prev is not None and prev["pid"] == s["pid"]:
                    for k, v in gaps.items():
                        if k in s and k in prev:
                            v.append((s[k] - prev[k]) * 1e3)
            prev = None if prefill else s
        for k, v in gaps.items():
            if v:
                c[f"decode_{k}_ms"] = round(statistics.median(v), 4)
        calls.append(c)
    return calls


def step_env(a: argparse.Namespace, work: Path, name: str) -> tuple[dict[str, str], Path]:
    """The environment of a point's command: with --step-log, step_log/ first on PYTHONPATH and
    REVATI_STEP_LOG naming WORK/NAME.steps.jsonl (emptied first), the file returned beside it."""
    env = dict(os.environ)
    steps = work / f"{name}.steps.jsonl"
    if a.step_log:
        steps.unlink(missing_ok=True)
        env["REVATI_STEP_LOG"] = str(steps.resolve())
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(STEP_LOG_DIR), env.get("PYTHONPATH", "")) if p
        )
    return env, steps


def latency_point(a: argparse.Namespace, pt: dict[str, Any], common: list[str], model: str,
                  repeats: int, vllm: list[str], work: Path) -> dict[str, Any]:  # fmt: skip
    name = pt["name"]
    out = work / f"{name}.json"
    out.unlink(missing_ok=True)
    cmd = [*vllm, "bench", "latency", "--model", model, *common,
           "--batch-size", str(pt["batch_size"]), "--input-len", str(pt["input_len"]),
           "--output-len", str(pt["output_len"]), "--num-iters-warmup", "1",
           "--num-iters", str(repeats), "--output-json", str(out.resolve())]  # fmt: skip
    env, steps = step_env(a, work, name)
    res = run(prefixed(a.prefix, name) + cmd, work / f"{name}.log", a.timeout, env)
    res["point"] = pt
    if out.is_file():
        res.update(json.loads(out.read_text()))
    if a.step_log:
        res["steps"] = step_summary(steps)
    return res


def serve_point(a: argparse.Namespace, serve: dict[str, Any], common: list[str], model: str,
                repeats: int, vllm: list[str], work: Path) -> dict[str, Any]:  # fmt: skip
    bench = work / "serve"
    shutil.rmtree(bench, ignore_errors=True)
    if serve["dataset"] != "random":
        raise SystemExit(f"error: serving dataset {serve['dataset']!r}: only 'random' is run")
    load = common[common.index("--load-format") + 1] if "--load-format" in common else "dummy"
    serve_args = [w for i, w in enumerate(common) if not _is_load_or_seed(common, i)]
    cmd = [sys.executable, str(REPO / "examples" / "vllm_serve.py"), "--model", model,
           "--vllm", " ".join(vllm), "--load-format", load,
           "--request-rate", ",".join(f"{r:g}" for r in serve["request_rates"]),
           "--repeats", str(repeats), "--num-prompts", str(serve["num_prompts"]),
           "--input-len", str(serve["input_len"]), "--output-len", str(serve["output_len"]),
           "--seed", _seed(common), "--result-dir", str(bench.resolve()),
           "--stop-timeout", "60", "--", *serve_args]  # fmt: skip
    env, _ = step_env(a, work, "serve")  # the engine core's steps (serve_steps.py summarises them)
    res = run(prefixed(a.prefix, "serve") + cmd, work / "serve.log", a.timeout, env)
    res["point"] = serve
    res["runs"] = serve_results(bench, serve["request_rates"], repeats)
    return res


def serve_results(bench: Path, rates: list[float], repeats: int) -> list[dict[str, Any]]:
    """The saved `vllm bench serve` results under `bench` (examples/vllm_serve.py's names), per
    rate and repeat, without the long per-request lists (generated texts, ITLs)."""
    runs = []
    for rate in rates:
        for k in range(repeats):
            f = bench / (f"serve-rate{rate:g}" + (f"-{k}" if repeats > 1 else "") + ".json")
            if not f.is_file():
                continue
            r = json.loads(f.read_text())
            kept = {key: v for key, v in r.items() if not isinstance(v, list) or key in KEPT_LISTS}
            runs.append({"rate": rate, "repeat": k, "file": f.name, "result": kept})
    return runs


def _seed(common: list[str]) -> str:
    return common[common.index("--seed") + 1] if "--seed" in common else "0"


def _is_load_or_seed(words: list[str], i: int) -> bool:
    """Whether words[i] is --load-format/--seed or its value (vllm_serve.py takes them itself)."""
    opts = ("--load-format", "--seed")
    return words[i] in opts or (i > 0 and words[i - 1] in opts)


def prefixed(prefix: str, name: str) -> list[str]:
    return prefix.replace("{name}", name).split()


def gpu_name() -> str | None:
    smi = shutil.which("nvidia-smi")
    if not smi:
        return None
    q = [smi, "--query-gpu=name,driver_version", "--format=csv,noheader"]
    p = subprocess.run(q, capture_output=True, text=True)
    return p.stdout.strip() if p.returncode == 0 else None


def vllm_python(vllm: list[str]) -> str | None:
    """The Python that runs the `vllm` command: its first word when that is a Python
    (`python3 -m vllm.entrypoints.cli.main`), else the interpreter of the script's `#!` line."""
    exe = shutil.which(vllm[0]) or vllm[0]
    if Path(exe).name.startswith("python"):
        return exe
    try:
        with open(exe, "rb") as f:
            first = f.readline(512).decode(errors="replace")
    except OSError:
        return None
    words = first[2:].split() if first.startswith("#!") else []
    if words and Path(words[0]).name == "env" and len(words) > 1:
        words = words[1:]  # #!/usr/bin/env python3
    return (shutil.which(words[0]) or words[0]) if words else None


def vllm_version(vllm: list[str]) -> str | None:
    """The installed vLLM's version, read from its package metadata by the Python that runs
    `vllm` (`vllm --version` starts vLLM's platform detection, which fails without a GPU);
    `vllm --version` where that Python is not found."""
    py = vllm_python(vllm)
    if py:
        code = "import importlib.metadata as m; print(m.version('vllm'))"
        cmd = [py, "-c", code]
    else:
        cmd = [*vllm, "--version"]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    except OSError:
        return None
    lines = p.stdout.strip().splitlines()
    return lines[-1] if p.returncode == 0 and lines else None


def main(argv: list[str] | None = None) -> int:
    a = parse_args(sys.argv[1:] if argv is None else argv)
    points = json.loads(a.points_file.read_text())
    latency, with_serve = select(points, a.points)
    repeats = a.repeats or int(points["repeats"])
    model = a.model or str(REPO / points["model"])
    vllm = vllm_command(a.vllm)
    work = a.work or a.out.with_suffix(".d")
    work.mkdir(parents=True, exist_ok=True)
    common = list(points["common_args"])
    result: dict[str, Any] = {
        "points_file": str(a.points_file),
        "vllm_version": vllm_version(vllm),
        "expected_vllm_version": points["vllm_version"],
        "gpu": gpu_name(),
        "prefix": a.prefix,
        "repeats": repeats,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "latency": {},
    }
    print(f"vllm {result['vllm_version']}, gpu {result['gpu']}", flush=True)

    def save() -> None:
        a.out.write_text(json.dumps(result, indent=1) + "\n")

    for pt in latency:
        result["latency"][pt["name"]] = latency_point(a, pt, common, model, repeats, vllm, work)
        save()
    if with_serve:
        result["serve"] = serve_point(a, points["serve"], common, model, repeats, vllm, work)
    save()
    runs = [*result["latency"].values()] + ([result["serve"]] if with_serve else [])
    return 0 if all(r["rc"] == 0 for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
