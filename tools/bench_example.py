"""Benchmark: wall time versus virtual time for the bundled example under revati.

    python tools/bench_example.py [--shape 1b] [--requests 2] [--decode-steps 16] [--prompt-len 128]

Records examples/llama_decode.py into a temporary run directory and prints, per process: launches,
kernels, virtual duration, wall duration, their ratio, and revati's own overhead (real time spent in
the interposer, excluded from virtual time) as a share of wall and of virtual time.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from revati.trace import load_run

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shape", default="1b")
    ap.add_argument("--requests", default="2")
    ap.add_argument("--decode-steps", default="16")
    ap.add_argument("--prompt-len", default="128")
    ap.add_argument(
        "--keep", type=Path, default=None, help="write the run here instead of a temp dir"
    )
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run = args.keep or Path(tmp) / "run"
        cmd = [
            sys.executable, "-m", "revati", "record", "--overwrite", "--out", str(run), "--",
            sys.executable, str(ROOT / "examples" / "llama_decode.py"), "--shape", args.shape,
            "--requests", args.requests, "--decode-steps", args.decode_steps,
            "--prompt-len", args.prompt_len,
        ]  # fmt: skip
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            print(r.stderr[-4000:], file=sys.stderr)
            return 1
        print(r.stdout.strip())
        run_data = load_run(run)
        wall_s = run_data.manifest.wall_duration_ns / 1e9
        print(f"run wall time: {wall_s:.3f} s (includes Python and torch start-up)")
        frames = run_data.frames
        for end in frames["end"].itertuples():
            proc = frames["proc"][frames["proc"]["pid"] == end.pid].iloc[0]
            n_api = int((frames["api"]["pid"] == end.pid).sum())
            n_kernel = int((frames["kernel"]["pid"] == end.pid).sum())
            wall = end.wt_ns - proc["wt_ns"]
            virt = end.ts_ns - proc["ts_ns"]  # same span as wall: from the stream's first event
            over = end.overhead_ns
            print(
                f"pid {end.pid}: {n_api} api calls, {n_kernel} kernels, "
                f"virtual {virt / 1e9:.3f} s, wall {wall / 1e9:.3f} s, wall/virtual {wall / max(virt, 1):.2f}, "
                f"revati overhead {over / 1e9:.3f} s ({100 * over / max(wall, 1):.1f}% of wall)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
