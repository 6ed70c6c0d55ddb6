"""Benchmark the trace life cycle at 1,000,000 events: write, load, export Chrome JSON, Perfetto.

Each phase runs in its own process so its peak RSS is its own. `load_json` parses the JSON Lines
streams into DataFrames; `load_cold` does the same and writes the run's columnar cache (the first
load of a run); `load` is every later load (from the cache); the exports load from the cache
first (not timed). Usage:
    python tools/bench_trace.py [--events 1000000] [--dir /tmp/revati-bench] [--keep]
Targets on a 2-core machine: load <= 5 s, Chrome JSON <= 10 s, Perfetto <= 20 s.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGETS_S = {"load": 5.0, "chrome": 10.0, "perfetto": 20.0}


def _phase(name: str, run: Path, events: int) -> dict:
    import pandas  # noqa: F401  (import time is not the phase's time)

    import revati.exporters.layout  # noqa: F401
    import revati.trace  # noqa: F401

    t0 = time.perf_counter()
    c0 = _cpu()
    info: dict = {}
    if name == "write":
        from revati.trace.synthetic import make_serving_run

        # 2 ranks x 32 layers give ~880 events per engine step; the longest output sets the steps
        hi = max(4, events // 880)
        info = make_serving_run(
            run,
            ranks=2,
            layers=32,
            requests=12,
            output_range=(hi * 17 // 20, hi),
            prompt_range=(128, 1024),
            seed=1,
        )
    elif name in ("load_json", "load_cold", "load"):
        from revati.trace import load_run

        # load_json: parse the JSON Lines only; load_cold: parse and write the columnar cache
        # (what the first load of a run does); load: a later load, from the cache
        r = load_run(run, cache=name != "load_json")
        info = {"events": int(sum(len(df) for df in r.frames.values()))}
    elif name in ("chrome", "perfetto"):
        from revati.exporters import export_run
        from revati.trace import load_run

        r = load_run(run)
        t_load = time.perf_counter() - t0
        t0 = time.perf_counter()
        c0 = _cpu()
        out = run.parent / ("trace.json" if name == "chrome" else "trace.pftrace")
        info = export_run(r, name, out)
        info["bytes"] = out.stat().st_size
        info["load_s"] = round(t_load, 3)
    elapsed = time.perf_counter() - t0
    cpu = _cpu() - c0
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "phase": name,
        "seconds": round(elapsed, 3),
        "cpu_s": round(cpu, 3),
        "peak_rss_mb": round(rss_mb),
        "load1": round(os.getloadavg()[0], 2),  # other work slows wall time, not CPU time
        **info,
    }


def _cpu() -> float:
    """CPU seconds of this process, all threads (wall time suffers when others share the cores)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--dir", type=Path, default=None)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--phase", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.phase:
        print(json.dumps(_phase(args.phase, args.dir / "run", args.events)))
        return 0
    base = args.dir or Path(tempfile.mkdtemp(prefix="revati-bench-"))
    base.mkdir(parents=True, exist_ok=True)
    if (base / "run").exists():
        shutil.rmtree(base / "run")
    results = []
    ok = True
    for phase in ("write", "load_json", "load_cold", "load", "chrome", "perfetto"):
        p = subprocess.run(
            [
                sys.executable,
                __file__,
                "--phase",
                phase,
                "--dir",
                str(base),
                "--events",
                str(args.events),
            ],
            capture_output=True,
            text=True,
        )
        if p.returncode != 0:
            print(p.stderr, file=sys.stderr)
            return 1
        res = json.loads(p.stdout.strip().splitlines()[-1])
        results.append(res)
        target = TARGETS_S.get(phase)
        verdict = (
            ""
            if target is None
            else (f"  (target <= {target:g} s: {'ok' if res['seconds'] <= target else 'MISSED'})")
        )
        ok &= target is None or res["seconds"] <= target
        extra = {
            k: v for k, v in res.items() if k not in ("phase", "seconds", "cpu_s", "peak_rss_mb")
        }
        print(
            f"{phase:9} {res['seconds']:7.2f} s wall {res['cpu_s']:7.2f} s cpu  peak RSS "
            f"{res['peak_rss_mb']:6d} MB{verdict}  {extra}"
        )
    size = sum(f.stat().st_size for f in (base / "run" / "events").iterdir())
    print(
        f"event streams: {size / 1e6:.1f} MB on disk; cores: {os.cpu_count()}; load average "
        f"{os.getloadavg()[0]:.2f} (other work on the machine slows the wall times)"
    )
    if not args.keep:
        shutil.rmtree(base)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
