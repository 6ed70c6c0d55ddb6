"""recorded predictor: the kernel durations of an earlier run, by process, stream and launch order.

Before the run, the recorded run's kernels are written per process (numbered in the order the
processes appeared, as deterministic mode numbers its streams) to RUN/recorded/proc-<n>.tsv; the
driver hands each stream its own sequence back (native/driver/predict_recorded.c). Launches beyond
the recording fall back to the analytical predictor and are counted as missing shapes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from revati.errors import RevatiError
from revati.predictors.base import PredictorOptions
from revati.predictors.modelled import host_cost_env
from revati.trace import Run


def process_order(run: Run) -> list[int]:
    """The recorded run's stream numbers in the order their processes appeared."""
    procs = run["proc"]
    if len(procs) == 0:
        return sorted(run["kernel"]["pid"].unique().tolist())
    return [int(p) for p in procs.sort_values(["ts_ns", "pid"])["pid"]]


def write_sequences(recorded_run: Path, out_dir: Path) -> int:
    """Write proc-<n>.tsv (stream, dur_ns per kernel in launch order); returns the kernel count."""
    from revati.trace import load_run

    run = load_run(recorded_run)
    k = run["kernel"]
    out_dir.mkdir(parents=True, exist_ok=True)
    total = 0
    for lid, pid in enumerate(process_order(run)):
        rows = k[k["pid"] == pid].sort_values("seq")
        lines = [
            f"{int(s)}\t{int(e) - int(t)}"
            for s, t, e in zip(rows["stream"], rows["ts_ns"], rows["end_ns"], strict=True)
        ]
        (out_dir / f"proc-{lid}.tsv").write_text("".join(x + "\n" for x in lines))
        total += len(lines)
    return total


class Recorded:
    name = "recorded"
    version = "1"

    def __init__(self, options: PredictorOptions) -> None:
        if options.recorded_run is None:
            raise RevatiError(
                "--predictor recorded replays a run: use revati replay RUN --predictor recorded"
            )
        if options.kernel_table is not None:
            raise RevatiError("--kernel-table is only used with --predictor table, not recorded")
        self.options = options
        self.run = options.recorded_run

    def native_env(self, run_dir: Path) -> dict[str, str]:
        seq_dir = run_dir / "recorded"
        write_sequences(self.run, seq_dir)
        env = {
            "REVATI_PREDICTOR": self.name,
            "REVATI_PREDICTOR_VERSION": self.version,
            "REVATI_RECORDED": str(seq_dir.resolve()),
        }
        env.update(host_cost_env(self.options))
        return env

    def provenance(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "version": self.version,
            "recorded_run": str(self.run),
        }
        if host_cost_env(self.options):
            out.update(model=str(self.options.model), host_costs=True)
        return out
