"""Benchmark trace volume: a run of N kernel launches (the stand-in driver, a C probe) written at
the default trace level; events written per second, bytes per launch on disk, then the run's cold
load, Chrome JSON and Perfetto export times, and per format the load and export together: in this
process, and as `revati export` (its own process, imports included, from the columnar cache).
Also bytes per call of a polling loop of pure queries (cuCtxGetDevice) at the default and verbose
levels. `--format jsonl` writes every event as a JSON
line (the form before compact records, schema 1.1), `compact` (the default) the hot kinds as
records. Usage:
    python tools/bench_volume.py [--launches 1000000] [--polls 100000] [--format compact|jsonl]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from revati.devices.profiles import get_profile  # noqa: E402
from revati.exporters.heap import export_process  # noqa: E402
from revati.launch.env import run_env  # noqa: E402
from revati.native import build as native_build  # noqa: E402

FORMATS = (("chrome", "json"), ("perfetto", "pftrace"))

POLLER = """
import ctypes, sys
cuda = ctypes.CDLL("libcuda.so.1")
assert cuda.cuInit(0) == 0
ctx = ctypes.c_void_p()
assert cuda.cuDevicePrimaryCtxRetain(ctypes.byref(ctx), 0) == 0
assert cuda.cuCtxSetCurrent(ctx) == 0
dev = ctypes.c_int()
for _ in range(int(sys.argv[1])):
    cuda.cuCtxGetDevice(ctypes.byref(dev))
"""


def _stream_bytes(run_dir: Path) -> int:
    return sum(p.stat().st_size for p in (run_dir / "events").glob("proc-*"))


def _env(run_dir: Path, lib: Path, level: str, fmt: str = "compact") -> dict[str, str]:
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "events").mkdir(exist_ok=True)
    (run_dir / "device.conf").write_text(get_profile("h100").device_conf(1))
    env = run_env(run_dir, lib, gpus=1)
    env["REVATI_TRACE_LEVEL"] = level
    env["REVATI_TRACE_FORMAT"] = fmt
    return env


def launches(work: Path, lib: Path, n: int, fmt: str) -> dict[str, float]:
    sys.path.insert(0, str(ROOT / "tools"))
    from bench_launch import compile_probe

    exe = compile_probe(work, lib)
    run_dir = work / "launches"
    env = _env(run_dir, lib, "default", fmt)
    t0 = time.monotonic()
    p = subprocess.run([str(exe), str(n)], env=env, capture_output=True, text=True)
    wall = time.monotonic() - t0
    if p.returncode != 0:
        raise SystemExit(f"error: the probe failed ({p.returncode}): {p.stderr.strip()}")
    size = _stream_bytes(run_dir)
    from revati.exporters import export_run
    from revati.trace import load_run

    with export_process():  # as `revati export` runs (numpy is loaded already here)
        t0, c0 = time.monotonic(), time.process_time()
        run = load_run(run_dir, cache=False)
        load_s, load_cpu = time.monotonic() - t0, time.process_time() - c0
        events = sum(len(df) for df in run.frames.values())
        out = {"launches": n, "events": events, "bytes_per_launch": size / n}
        out["write_wall_s"], out["events_per_s"] = wall, events / wall
        out["load_s"], out["load_cpu"] = load_s, load_cpu
        for fmt, ext in FORMATS:
            t0, c0 = time.monotonic(), time.process_time()
            export_run(run, fmt, work / f"t.{ext}")
            out[f"{fmt}_s"], out[f"{fmt}_cpu"] = time.monotonic() - t0, time.process_time() - c0
            out[f"{fmt}_mb"] = (work / f"t.{ext}").stat().st_size / 1e6
        del run
    load_run(run_dir)  # the columnar cache, which `revati record` leaves beside a run
    for fmt, ext in FORMATS:
        out[f"{fmt}_cli_s"], out[f"{fmt}_cli_cpu"] = cli_export(run_dir, fmt, work / f"c.{ext}")
    return out


def cli_export(run_dir: Path, fmt: str, dest: Path) -> tuple[float, float]:
    """`revati export` in its own process, as a user runs it: (wall, CPU seconds of the process:
    its imports, the load and the export)."""
    cmd = [sys.executable, "-m", "revati", "export", str(run_dir), "--format", fmt]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    p = subprocess.run([*cmd, "--out", str(dest)], env=env, capture_output=True, text=True)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        raise SystemExit(f"error: revati export failed ({p.returncode}): {p.stderr.strip()}")
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, cpu


def polls(work: Path, lib: Path, n: int) -> dict[str, float]:
    out = {}
    for level in ("default", "verbose"):
        run_dir = work / f"poll-{level}"
        env = _env(run_dir, lib, level)
        p = subprocess.run([sys.executable, "-c", POLLER, str(n)], env=env, capture_output=True)
        if p.returncode != 0:
            raise SystemExit(f"error: the poller failed: {p.stderr.decode()[-500:]}")
        out[f"{level}_bytes_per_poll"] = _stream_bytes(run_dir) / n
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--launches", type=int, default=1_000_000)
    ap.add_argument("--polls", type=int, default=100_000)
    ap.add_argument("--format", choices=("compact", "jsonl"), default="compact")
    args = ap.parse_args(argv)
    if args.launches <= 0 or args.polls <= 0:
        print("error: --launches and --polls must be positive", file=sys.stderr)
        return 2
    lib = native_build.lib_dir()
    with tempfile.TemporaryDirectory() as tmp:
        r = launches(Path(tmp), lib, args.launches, args.format)
        print(
            f"{r['launches']} launches ({args.format}): {r['events']} events, "
            f"{r['bytes_per_launch']:.1f} bytes per "
            f"launch, {r['events_per_s'] / 1e6:.2f} M events/s written ({r['write_wall_s']:.2f} s); "
            f"cold load {r['load_s']:.2f} s ({r['load_cpu']:.2f} s CPU), Chrome export "
            f"{r['chrome_s']:.2f} s ({r['chrome_cpu']:.2f} s CPU, {r['chrome_mb']:.0f} MB), "
            f"Perfetto export {r['perfetto_s']:.2f} s ({r['perfetto_cpu']:.2f} s CPU, "
            f"{r['perfetto_mb']:.0f} MB)"
        )
        for fmt, _ in FORMATS:
            print(
                f"load + {fmt} export: {r['load_cpu'] + r[f'{fmt}_cpu']:.2f} s CPU "
                f"({r['load_s'] + r[f'{fmt}_s']:.2f} s wall) in this process; `revati export "
                f"--format {fmt}`: {r[f'{fmt}_cli_cpu']:.2f} s CPU ({r[f'{fmt}_cli_s']:.2f} s "
                "wall) with its imports, from the cache"
            )
        q = polls(Path(tmp), lib, args.polls)
        print(
            f"{args.polls} cuCtxGetDevice polls: {q['default_bytes_per_poll']:.2f} bytes per poll "
            f"at the default level, {q['verbose_bytes_per_poll']:.0f} verbose"
        )
    with open("/proc/loadavg") as f:
        print(f"load average {f.read().split()[0]} on {len(os.sched_getaffinity(0))} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
