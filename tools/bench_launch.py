"""Benchmark: the stand-in driver's cost per cuLaunchKernel (interception, prediction and trace write).

Compiles tests/native/probes/launch_probe.c against the stand-in libcuda.so.1, runs it with and without
a trace being written, and prints the per-launch median, p99 and mean in ns (target: median <= 2 us
with the trace on). Then times the kernel-feature unit alone (tests/native/probes/features_probe.c,
native/features) on three parameter layouts: what each launch adds for its args, op and sig.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from revati.devices.profiles import get_profile  # noqa: E402
from revati.launch.env import run_env  # noqa: E402
from revati.native import build as native_build  # noqa: E402

PROBE = ROOT / "tests" / "native" / "probes" / "launch_probe.c"


def compile_probe(out: Path, lib: Path) -> Path:
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not cc:
        raise SystemExit("error: no C compiler found (install gcc or set CC)")
    exe = out / "launch_probe"
    cmd = [cc, "-O2", "-I", str(native_build.cuda_include_dir()), str(PROBE), "-o", str(exe)]
    cmd += ["-L", str(lib), "-l:libcuda.so.1", f"-Wl,-rpath,{lib}"]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"error: compiling the probe failed:\n{p.stderr}")
    return exe


def run(exe: Path, lib: Path, work: Path, launches: int, trace: bool) -> dict:
    run_dir = work / ("trace" if trace else "notrace")
    run_dir.mkdir(exist_ok=True)
    (run_dir / "device.conf").write_text(get_profile("h100").device_conf(1))
    env = run_env(run_dir, lib, gpus=1)
    if not trace:
        env.pop("REVATI_RUN_DIR")
        env["REVATI_DEVICE_CONF"] = str(run_dir / "device.conf")
    p = subprocess.run([str(exe), str(launches)], env=env, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"error: the probe failed ({p.returncode}): {p.stderr.strip()}")
    out = json.loads(p.stdout.strip().splitlines()[-1])
    if trace:
        from revati.trace import load_run

        run = load_run(run_dir, cache=False)
        out["trace_events"] = sum(len(df) for df in run.frames.values())
    return out


def features_cost(work: Path, calls: int) -> dict:
    """ns per rv_features call (and per memo hit) for an elementwise kernel, a flash-attention struct
    and a 1 KB GEMM."""
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    native = Path(native_build.__file__).resolve().parent
    exe = work / "features_probe"
    srcs = [str(p) for p in sorted((native / "features").glob("*.c"))]
    cmd = [str(cc), "-O2", "-std=gnu11", "-D_GNU_SOURCE", "-I", str(native / "include")]
    cmd += [str(ROOT / "tests" / "native" / "probes" / "features_probe.c"), *srcs, "-o", str(exe)]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"error: compiling the features probe failed:\n{p.stderr}")
    p = subprocess.run([str(exe), "bench", str(calls)], capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"error: the features probe failed ({p.returncode}): {p.stderr.strip()}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--launches", type=int, default=200_000, help="timed launches per run")
    args = ap.parse_args(argv)
    if args.launches <= 0:
        print("error: --launches must be positive", file=sys.stderr)
        return 2
    lib = native_build.lib_dir()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        exe = compile_probe(work, lib)
        for trace in (True, False):
            r = run(exe, lib, work, args.launches, trace)
            label = "trace on " if trace else "trace off"
            extra = f"  ({r['trace_events']} trace events)" if trace else ""
            print(
                f"{label}: median {r['median_ns']:.0f} ns  p99 {r['p99_ns']:.0f} ns  "
                f"mean {r['mean_ns']:.0f} ns per cuLaunchKernel over {r['launches']} launches{extra}"
            )
        f = features_cost(work, max(args.launches // 4, 1000))
        for label, suffix in (("first launch", "_ns"), ("repeated launch", "_repeat_ns")):
            print(
                f"features, {label}: {f['elementwise' + suffix]:.0f} ns elementwise (3 params, 32 B), "
                f"{f['flash' + suffix]:.0f} ns flash attention (464 B struct), "
                f"{f['gemm_1k' + suffix]:.0f} ns GEMM (1 KB struct)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
