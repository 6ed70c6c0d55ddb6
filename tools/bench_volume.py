"""Benchmark trace volume: a run of N kernel launches (the stand-in driver, a C probe) written at
the default trace level; events written per second, bytes per launch on disk; then the run read
and exported:
- in this process through the general path (load_run: pandas frames, then the Chrome JSON and
  Perfetto exporters of the loaded run), cold (no cache);
- as a user runs it, `revati export --format perfetto --max-slices 0` in its own process, imports
  included: for a run of compact records that is the direct path (exporters/perfetto_direct.py:
  no pandas, no cache), `--repeat` times, CPU (user + sys), wall and peak RSS of each;
- `revati export --format chrome` from the columnar cache (the general path).
Also bytes per call of a polling loop of pure queries (cuCtxGetDevice) at the default and verbose
levels. `--format jsonl` writes every event as a JSON line (the form before compact records,
schema 1.1; its export takes the general path), `compact` (the default) the hot kinds as records.
Usage:
    python tools/bench_volume.py [--launches 1000000] [--polls 100000] [--format compact|jsonl]
                                 [--repeat 3]
    python tools/bench_volume.py --run RUN [--repeat 3]   # only the two commands, on RUN
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

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


def launches(work: Path, lib: Path, n: int, fmt: str, repeat: int) -> dict[str, Any]:
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
    out.update(commands(run_dir, work, repeat))
    out["perfetto_same"] = (work / "c.pftrace").read_bytes() == (work / "t.pftrace").read_bytes()
    out["chrome_cli"] = [cli_export(run_dir, "chrome", work / "c.json")]
    return out


def commands(run_dir: Path, work: Path, repeat: int) -> dict[str, Any]:
    """`revati export --format perfetto --max-slices 0` through the direct path and through the
    general one (from the columnar cache), alternated `repeat` times."""
    out: dict[str, Any] = {"perfetto_cli": [], "general_cli": []}
    for _ in range(repeat):  # alternated: the host's load changes from minute to minute
        d = cli_export(run_dir, "perfetto", work / "c.pftrace", "--max-slices", "0")
        out["perfetto_cli"].append(d)
        g = cli_export(run_dir, "perfetto", work / "g.pftrace", "--max-slices", "0", general=True)
        out["general_cli"].append(g)
    out["perfetto_cli_mb"] = (work / "c.pftrace").stat().st_size / 1e6
    out["cli_same"] = (work / "c.pftrace").read_bytes() == (work / "g.pftrace").read_bytes()
    return out


def print_commands(r: dict[str, Any], direct: bool) -> None:
    runs = r["perfetto_cli"]
    path = "direct path" if direct else "general path"
    print(
        f"`revati export --format perfetto --max-slices 0` ({path}, its own process, imports "
        f"included), {len(runs)} runs: {_spread(runs, 'cpu')} s CPU (user "
        f"{_spread(runs, 'user')}, sys {_spread(runs, 'sys')}), {_spread(runs, 'wall')} s "
        f"wall, peak RSS {_spread(runs, 'rss_gb')} GB; {r['perfetto_cli_mb']:.0f} MB"
    )
    runs = r["general_cli"]
    print(
        f"the same through the general path (load_run from the columnar cache, pandas), "
        f"{len(runs)} runs alternated with those: {_spread(runs, 'cpu')} s CPU (user "
        f"{_spread(runs, 'user')}, sys {_spread(runs, 'sys')}), {_spread(runs, 'wall')} s wall, "
        f"peak RSS {_spread(runs, 'rss_gb')} GB; "
        + ("the same bytes" if r["cli_same"] else "DIFFERENT BYTES")
    )


# `revati export` with the direct Perfetto path turned off: the general path (load_run, its
# columnar cache, perfetto_proto.py) as a command, the "before" of the direct path
GENERAL = (
    "import sys; import revati.exporters.perfetto_direct as d; d.read_direct = lambda p: None; "
    "from revati.cli import main; main(sys.argv[1:])"
)


def cli_export(
    run_dir: Path, fmt: str, dest: Path, *extra: str, general: bool = False
) -> dict[str, float]:
    """`revati export` in its own process, as a user runs it: wall, user and sys CPU seconds of
    the process (its imports, the read and the export) and its peak RSS in GB."""
    head = [sys.executable, "-c", GENERAL] if general else [sys.executable, "-m", "revati"]
    cmd = [*head, "export", str(run_dir), "--format", fmt, *extra]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    t0 = time.monotonic()
    p = subprocess.Popen(
        [*cmd, "--out", str(dest)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    assert p.stderr is not None
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - t0
    if p.returncode != 0:
        raise SystemExit(f"error: revati export failed ({p.returncode}): {err.decode().strip()}")
    return {
        "wall": wall,
        "user": ru.ru_utime,
        "sys": ru.ru_stime,
        "cpu": ru.ru_utime + ru.ru_stime,
        "rss_gb": ru.ru_maxrss / 1e6,
    }


def _spread(runs: list[dict[str, float]], key: str, fmt: str = ".2f") -> str:
    lo, hi = min(r[key] for r in runs), max(r[key] for r in runs)
    return f"{lo:{fmt}}" if f"{lo:{fmt}}" == f"{hi:{fmt}}" else f"{lo:{fmt}}-{hi:{fmt}}"


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
    ap.add_argument("--repeat", type=int, default=3, help="runs of `revati export` timed")
    ap.add_argument(
        "--run",
        type=Path,
        default=None,
        help="time only the `revati export` commands, on this run (e.g. one the probe wrote)",
    )
    args = ap.parse_args(argv)
    if args.launches <= 0 or args.polls <= 0 or args.repeat <= 0:
        print("error: --launches, --polls and --repeat must be positive", file=sys.stderr)
        return 2
    if args.run is not None:
        if not (args.run / "events").is_dir():
            print(f"error: {args.run}: not a run directory", file=sys.stderr)
            return 2
        from revati.trace import load_run

        load_run(args.run)  # its columnar cache, for the general path
        with tempfile.TemporaryDirectory() as tmp:
            print_commands(commands(args.run, Path(tmp), args.repeat), True)
        _load()
        return 0
    lib = native_build.lib_dir()
    with tempfile.TemporaryDirectory() as tmp:
        r = launches(Path(tmp), lib, args.launches, args.format, args.repeat)
        print(
            f"{r['launches']} launches ({args.format}): {r['events']} events, "
            f"{r['bytes_per_launch']:.1f} bytes per launch, {r['events_per_s'] / 1e6:.2f} M "
            f"events/s written ({r['write_wall_s']:.2f} s)"
        )
        print(
            f"general path, in this process: cold load {r['load_cpu']:.2f} s CPU "
            f"({r['load_s']:.2f} s wall), Chrome export {r['chrome_cpu']:.2f} s CPU "
            f"({r['chrome_s']:.2f} s, {r['chrome_mb']:.0f} MB), Perfetto export "
            f"{r['perfetto_cpu']:.2f} s CPU ({r['perfetto_s']:.2f} s, {r['perfetto_mb']:.0f} MB); "
            f"load + Perfetto export {r['load_cpu'] + r['perfetto_cpu']:.2f} s CPU"
        )
        print_commands(r, args.format == "compact")
        if not r["perfetto_same"]:
            print("the command's Perfetto file DIFFERS from the in-process general export's")
        c = r["chrome_cli"][0]
        print(
            f"`revati export --format chrome` (from the cache): {c['cpu']:.2f} s CPU "
            f"({c['wall']:.2f} s wall), peak RSS {c['rss_gb']:.2f} GB"
        )
        q = polls(Path(tmp), lib, args.polls)
        print(
            f"{args.polls} cuCtxGetDevice polls: {q['default_bytes_per_poll']:.2f} bytes per poll "
            f"at the default level, {q['verbose_bytes_per_poll']:.0f} verbose"
        )
    _load()
    return 0


def _load() -> None:
    with open("/proc/loadavg") as f:
        print(f"load average {f.read().split()[0]} on {len(os.sched_getaffinity(0))} cores")


if __name__ == "__main__":
    sys.exit(main())
