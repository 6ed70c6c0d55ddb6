"""Speed and gaps of a latency benchmark from its engine step log (`run_points.py --step-log`):
per `generate` iteration, the virtual and wall seconds from its first engine step to its last and
their ratio (how many times faster than the emulated GPU the emulation ran it), and the gap before
it (from the previous iteration's last step: the front end's turnaround) in virtual and wall ms
with the engine process's CPU meanwhile. A step log of a real GPU run has no wall column: its
ratio is left out.

    python tools/vllm_compare/step_speed.py RUN.d/lat-b32-i4096-o16.steps.jsonl [...]

Iterations are `run_points.generate_calls`'s (the one rule of where a `generate` call begins). Exit
1 on a file that has no step.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_points import generate_calls  # noqa: E402


def summary(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    prev = None
    for it in generate_calls(rows):
        first, last = it[0], it[-1]
        fig: dict[str, Any] = {"steps": len(it), "virtual_s": last["t"] - first["t"]}
        if "real" in first:
            fig["wall_s"] = last["real"] - first["real"]
            fig["speed"] = fig["virtual_s"] / fig["wall_s"] if fig["wall_s"] > 0 else None
        if prev is not None:
            fig["gap_virtual_ms"] = (first["t"] - prev["t"]) * 1e3
            if "real" in first:
                fig["gap_wall_ms"] = (first["real"] - prev["real"]) * 1e3
            fig["gap_engine_cpu_ms"] = (first["cpu_proc"] - prev["cpu_proc"]) * 1e3
        out.append(fig)
        prev = last
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("logs", nargs="+", type=Path)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    rc, result = 0, {}
    for f in a.logs:
        rows = [json.loads(line) for line in f.read_text().splitlines() if line.strip()]
        if not rows:
            print(f"{f}: no step", file=sys.stderr)
            rc = 1
            continue
        result[str(f)] = summary(rows)
    if a.json:
        print(json.dumps(result, indent=2))
        return rc
    for name, its in result.items():
        print(name)
        for k, it in enumerate(its):
            line = f"  iteration {k}: {it['steps']} steps, virtual {it['virtual_s']:.3f} s"
            if "wall_s" in it:
                line += f", wall {it['wall_s']:.3f} s, virtual/wall {it['speed']:.2f}"
            if "gap_virtual_ms" in it:
                line += f"; gap before it {it['gap_virtual_ms']:.1f} ms virtual"
                if "gap_wall_ms" in it:
                    line += f" / {it['gap_wall_ms']:.1f} ms wall"
                line += f", engine CPU {it['gap_engine_cpu_ms']:.1f} ms"
            print(line)
    return rc


if __name__ == "__main__":
    sys.exit(main())
