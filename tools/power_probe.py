"""On a real GPU: how sustained work slows a card down (its power management), and how fast it recovers.

A GEMM measured alone in a sweep runs at the card's boost clock; the same GEMM inside a long prefill
runs slower once the card has been busy for a while (on an H100: +5-7% after some 60 ms of prefill
GEMMs). This probe measures that law on clean cases, never on a workload the predictors are judged on:

  sustained  KIND: N back-to-back launches from an idle card, each timed by CUDA events: the time of
             each launch against the busy time before it (onset and size of the slowdown)
  recovery   after a sustained stretch, an idle gap of G ms, then a few launches: how much of the
             slowdown is left after each gap (the time constant of the recovery)

KINDs: a compute-bound GEMM (8192^3 bf16), a prefill-sized one (16384 x 4096 x 14336) and a
memory-bound add (2 x 1 GiB). Prints one JSON object: per kind the launch times (us) and the
recovery table; `--out F` writes it too.

    python tools/power_probe.py --out power.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path)
    ap.add_argument("--launches", type=int, default=400)
    args = ap.parse_args(argv)
    import torch

    dev = "cuda"
    bf = torch.bfloat16

    def gemm(m, n, k):
        a = torch.randn(m, k, device=dev, dtype=bf)
        b = torch.randn(k, n, device=dev, dtype=bf)
        return lambda: a @ b

    def add():
        x = torch.randn(1 << 29, device=dev, dtype=bf)
        y = torch.randn(1 << 29, device=dev, dtype=bf)
        return lambda: x + y

    kinds = {"gemm_8192": gemm(8192, 8192, 8192), "gemm_prefill": gemm(16384, 14336, 4096),
             "add_1gib": add()}  # fmt: skip

    def timed(fn, n):
        evs = [torch.cuda.Event(enable_timing=True) for _ in range(n + 1)]
        evs[0].record()
        for i in range(n):
            fn()
            evs[i + 1].record()
        torch.cuda.synchronize()
        return [evs[i].elapsed_time(evs[i + 1]) * 1e3 for i in range(n)]  # us

    out: dict = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__, "kinds": {}}
    for name, fn in kinds.items():
        fn()
        torch.cuda.synchronize()
        time.sleep(3.0)  # an idle card
        sustained = timed(fn, args.launches)
        recovery = []
        for gap_ms in (2, 10, 30, 100, 300, 1000, 3000):
            timed(fn, args.launches // 2)  # heat it again
            time.sleep(gap_ms / 1e3)
            recovery.append({"gap_ms": gap_ms, "us": timed(fn, 5)})
        out["kinds"][name] = {"sustained_us": sustained, "recovery": recovery}
        first = sum(sustained[:5]) / 5
        last = sum(sustained[-20:]) / 20
        print(f"{name}: first 5 {first:.1f} us, last 20 {last:.1f} us ({last / first - 1:+.1%}); "
              + ", ".join(f"{r['gap_ms']} ms gap: {r['us'][0] / first - 1:+.1%}" for r in recovery),
              file=sys.stderr)  # fmt: skip
    text = json.dumps(out)
    if args.out:
        args.out.write_text(text + "\n")
    print(text[:200] + " ...")
    return 0


if __name__ == "__main__":
    sys.exit(main())
