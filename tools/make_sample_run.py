"""Write the bundled sample run (traces/sample-run): a synthetic 2-rank tensor-parallel server.

The run is synthetic but shaped like a real one (see revati/trace/synthetic.py): driver API spans
with correlation ids, kernels on a compute stream, all-reduces across ranks, copies, a stream
synchronize per step (the host clock jumps), CUDA graph capture and replay for decode steps, and
request markers for serving metrics. Usage:
    python tools/make_sample_run.py [--out traces/sample-run] [--ranks 2] [--requests 6]
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from revati.trace.synthetic import make_serving_run

ROOT = Path(__file__).resolve().parent.parent
IGNORE = ".cache/\ntrace.json\ntrace.pftrace\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "traces" / "sample-run")
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--requests", type=int, default=6)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if args.ranks < 1 or args.requests < 1 or args.layers < 1:
        print("Error: --ranks, --requests and --layers must be at least 1", file=sys.stderr)
        return 1
    out: Path = args.out
    if out.exists():
        if not (out / "events").is_dir():
            print(
                f"Error: {out} exists and is not a run directory; not replacing it", file=sys.stderr
            )
            return 1
        shutil.rmtree(out)
    counts = make_serving_run(
        out, ranks=args.ranks, requests=args.requests, layers=args.layers, seed=args.seed
    )
    (out / ".gitignore").write_text(IGNORE)  # what loading and exporting leave in the run
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(
        f"wrote {out}: {counts['events']} events, {counts['steps']} engine steps, "
        f"{counts['requests']} requests, {counts['ranks']} ranks, {size / 1e6:.2f} MB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
