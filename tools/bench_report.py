"""Peak memory of `revati report` on a synthetic serving-like run of N kernel launches.

The run is written in compact form (revati/trace/compact_write.py: what the C writer gives): per
launch a `cuLaunchKernel` api call and its kernel, from a pool of kernel templates with long
`args` and an `op`, as a serving engine's stream holds them, and a share of launches (`--unique`,
default 0.074: the 10-minute vLLM serving run's 338,591 of 4,552,005) left as JSON lines with their
own args and op (FlashAttention-3's per-replay ops past the writer's template limits); plus the
request markers of a few requests. `revati report RUN` then runs in its own process twice: cold
(parses the streams, writes RUN/.cache) and warm (from the cache); printed per pass: wall, CPU and
peak RSS (the child's ru_maxrss), and at the end the ratio of the peak to the run's size on disk.
Usage:
    python tools/bench_report.py [--launches 1000000] [--unique 0.074] [--work DIR] [--keep]
                                 [--tree DIR ...]
Run it at two sizes to see how the peak grows (e.g. --launches 500000 and 2000000); `--tree` twice
(an earlier checkout, then this one) compares two versions on the same run.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from revati.devices.profiles import get_profile  # noqa: E402
from revati.trace.compact_write import Encoder  # noqa: E402
from revati.trace.manifest import Manifest, write_manifest  # noqa: E402

NAMES = 40  # distinct kernels (each its template)
ARGS_WORDS = 120  # words of each kernel's args (FlashAttention's Params is ~140)


def write_run(run: Path, launches: int, unique: float, seed: int = 0) -> dict[str, int]:
    """A one-process run of `launches` kernel launches in compact form; its sizes."""
    rng = random.Random(seed)
    (run / "events").mkdir(parents=True)
    (run / "device.conf").write_text(get_profile("h100").device_conf(1))
    pid, tid = 1000, 1000
    as_line = [False]  # the next event stays a JSON line
    enc = Encoder(keep_line=lambda ev: as_line[0])
    seq = 0

    def put(ev: dict[str, Any]) -> None:
        nonlocal seq
        ev = {"k": ev.pop("k"), "seq": seq, "tid": tid, **ev}
        seq += 1
        enc.put(ev)

    put({"k": "proc", "pid": pid, "ppid": 1, "rank": 0, "argv": ["serve"], "ts_ns": 0, "wt_ns": 0})
    kernels = []
    for i in range(NAMES):
        args = [rng.getrandbits(40) if rng.random() < 0.7 else None for _ in range(ARGS_WORDS)]
        kernels.append({
            "name": f"_ZN7example{i:02d}kernel_" + "x" * (60 + i), "grid": [132, 1 + i % 4, 1],
            "block": [384, 1, 1], "smem": 1024 * i, "args": [args[:40], *args[40:]],
            "op": {"lib": "cublasLt", "op": "matmul", "m": 4096, "n": 8 + i, "k": 4096},
        })  # fmt: skip
    t = 1_000
    corr = 0
    requests = max(1, launches // 50_000)
    base = {"dev": 0, "stream": 7, "corr": 0, "ts_ns": 0, "end_ns": 0, "pred": "xgb", "src": "xgb",
            "pv": "1", "model": "0123456789abcdef", "how": "model", "xdev": 0, "graph": 0}  # fmt: skip
    api = enc.template({"k": "api", "seq": 0, "tid": tid, "name": "cuLaunchKernel", "res": 0,
                        "ts_ns": 0, "end_ns": 0, "wt_ns": 0, "corr": 0})  # fmt: skip
    ids = [
        enc.template({"k": "kernel", "seq": 0, "tid": tid, **k, **base, "sig": f"{i:016x}"})
        for i, k in enumerate(kernels)
    ]
    for n in range(launches):
        corr += 1
        k = kernels[n % NAMES]
        enc.record("api", api, t, t + 2_000, corr, t, 0)
        seq += 1
        dur = 1_000 + (n * 7919) % 50_000
        if rng.random() < unique:  # its own args and op: a JSON line, as past the writer's limits
            op = {**k["op"], "kv": "memory", "total_k": n}
            ev = {"k": "kernel", **k, **base, "corr": corr, "ts_ns": t + 3_000,
                  "end_ns": t + 3_000 + dur, "op": op, "args": [*k["args"][:-1], n],
                  "sig": f"{n * 0x9E3779B97F4A7C15 % 2**64:016x}"}  # fmt: skip
            as_line[0] = True
            put(ev)
            as_line[0] = False
        else:
            enc.record("kernel", ids[n % NAMES], t + 3_000, t + 3_000 + dur, corr, 0, 0)
            seq += 1
        if n % (launches // requests or 1) == 0:
            r = f"req-{n}"
            put(
                {
                    "k": "marker",
                    "name": "request_arrival",
                    "ts_ns": t,
                    "args": {"req": r, "prompt_tokens": 512},
                }
            )
            put({"k": "marker", "name": "first_token", "ts_ns": t + 40_000_000, "args": {"req": r}})
            for j in range(1, 8):
                put({"k": "marker", "name": "token", "ts_ns": t + 40_000_000 + j * 6_000_000,
                     "args": {"req": r}})  # fmt: skip
            put(
                {
                    "k": "marker",
                    "name": "request_finish",
                    "ts_ns": t + 90_000_000,
                    "args": {"req": r},
                }
            )
        t += dur + 4_000
    put({"k": "end", "ts_ns": t + 100_000_000, "wt_ns": 0, "overhead_ns": 0})
    stream = run / "events" / f"proc-{pid}.jsonl"
    enc.write(stream)
    m = Manifest(command=["serve"], device="H100-SXM-80GB", num_gpus=1,
                 processes=[{"pid": pid, "rank": 0, "file": f"events/{stream.name}"}])  # fmt: skip
    write_manifest(run, m)
    return {
        "records": enc.n_records,
        "templates": enc.n_templates,
        "bytes": sum(p.stat().st_size for p in (run / "events").iterdir()),
    }


def report(run: Path, tree: Path = ROOT) -> dict[str, float]:
    """`revati report RUN` in its own process, from the source tree `tree`: wall, CPU (user +
    sys) and peak RSS (bytes)."""
    env = {**os.environ, "PYTHONPATH": f"{tree}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    t0 = time.perf_counter()
    p = subprocess.Popen(
        [sys.executable, "-m", "revati", "report", str(run.resolve())],
        env=env, cwd=tree, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    err = p.stderr.read().decode() if p.stderr else ""
    if status:
        raise SystemExit(f"revati report failed ({status}): {err.strip()[-400:]}")
    return {"wall": wall, "cpu": ru.ru_utime + ru.ru_stime, "rss": ru.ru_maxrss * 1024.0}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--launches", type=int, default=1_000_000)
    ap.add_argument("--unique", type=float, default=0.074)
    ap.add_argument(
        "--work", type=Path, default=None, help="where to write the run (default: a temp dir)"
    )
    ap.add_argument("--keep", action="store_true", help="keep the run")
    ap.add_argument(
        "--tree",
        type=Path,
        action="append",
        help="a revati source tree whose `revati report` to measure (repeatable; default: this "
        "one), e.g. a checkout of an earlier commit to compare with",
    )
    a = ap.parse_args(argv)
    work = a.work or Path(tempfile.mkdtemp(prefix="bench-report-"))
    run = work / f"run-{a.launches}"
    if run.exists():
        shutil.rmtree(run)
    t0 = time.perf_counter()
    sizes = write_run(run, a.launches, a.unique)
    print(f"run: {a.launches:,} launches ({sizes['records']:,} records, {sizes['templates']} templates, "
          f"{a.unique:.3f} of kernels as JSON lines), {sizes['bytes'] / 1e6:.1f} MB on disk, "
          f"written in {time.perf_counter() - t0:.1f} s; load {os.getloadavg()[0]:.2f}")  # fmt: skip
    try:
        for tree in a.tree or [ROOT]:
            shutil.rmtree(run / ".cache", ignore_errors=True)
            for name in ("cold (no cache)", "warm (cache)"):
                r = report(run, tree.resolve())
                print(f"revati report ({tree}), {name}: wall {r['wall']:.2f} s, CPU {r['cpu']:.2f} s, "
                      f"peak RSS {r['rss'] / 2**30:.2f} GiB ({r['rss'] / sizes['bytes']:.1f}x the "
                      f"run's streams); load {os.getloadavg()[0]:.2f}")  # fmt: skip
            cache = sum(p.stat().st_size for p in (run / ".cache").iterdir())
            print(f"cache: {cache / 1e6:.1f} MB")
    finally:
        if not a.keep and a.work is None:
            shutil.rmtree(work, ignore_errors=True)
        elif not a.keep:
            shutil.rmtree(run, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
