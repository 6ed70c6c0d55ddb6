"""The GPU checks' host-side logic: kernel choice per sweep case (torch's own kernels in or out) and the
example's prefill windows (busy time with overlaps counted once, the printed event times)."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

from revati.trace.writer import RunWriter

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))

from example_check import _union_ns, parse_event_ms  # noqa: E402
from graph_gaps import gaps  # noqa: E402
from sweep_kernels import compare  # noqa: E402

TORCH_OWN = "_ZN2at6native29vectorized_elementwise_kernelILi4ENS0_11FillFunctorIfEE"


def _case(case: int, kernels: list[tuple[str, int]]) -> pd.DataFrame:
    rows = [{"case": case, "name": n, "grid_x": g, "grid_y": 1, "grid_z": 1, "block_x": 128,
             "block_y": 1, "block_z": 1, "dur_ns": 1000, "family": "memory", "op": "add",
             "dtype": "bf16", "shape": "{}"} for n, g in kernels]  # fmt: skip
    return pd.DataFrame(rows)


def test_torch_own_kernels_compared_only_when_asked() -> None:
    real = _case(7, [("nvjet_a", 4), (TORCH_OWN, 64)])
    sim = _case(7, [("nvjet_a", 4), (TORCH_OWN, 32)])  # torch's kernel: another grid
    lib_only = compare(real, sim, "memory")
    assert bool(lib_only["same_launch"].iloc[0])
    every = compare(real, sim, "memory", torch_own=True)
    assert not bool(every["same_launch"].iloc[0])
    assert bool(every["same_kernels"].iloc[0])  # same names, another launch
    assert "#1" in every["first_diff"].iloc[0] and "grid(64" in every["first_diff"].iloc[0]


def test_busy_time_counts_overlaps_once() -> None:
    w = pd.DataFrame({"ts_ns": [0, 5, 20, 40], "end_ns": [10, 12, 30, 45]})
    assert _union_ns(w) == 10 + 2 + 10 + 5


def test_event_times_parsed_or_refused() -> None:
    assert parse_event_ms("x\nprefill cuda-event ms: 457.437, 91.205\n") == [457.437, 91.205]
    with pytest.raises(ValueError):
        parse_event_ms("cuda-event span: 3.0 ms")


def test_graph_gaps_per_replay_and_stream(tmp_path: Path) -> None:
    """Gaps are taken within one replay (the launch's corr) and one stream; the first replay of each
    graph is left out by default; kernels outside graphs are not counted."""
    w = RunWriter(tmp_path / "run")
    p = w.process(1, 0)
    p.kernel("eager", 0, 100, stream=7)
    t = 1000
    for corr, gap in ((10, 900), (11, 400), (12, 600)):  # three replays of graph 5
        for i in range(3):
            p.kernel(f"k{i}", t, t + 1000, stream=7, corr=corr, graph=5)
            t += 1000 + gap
        p.kernel("side", t - 5000, t - 4500, stream=8, corr=corr, graph=5)  # alone on its stream
        t += 10_000
    p.end(t)
    w.finish(device="H100-SXM-80GB", num_gpus=1)
    g = gaps(tmp_path / "run", skip=1)
    assert g["replays"] == 2 and g["gaps"] == 4  # two gaps per replay on stream 7
    assert g["gap_ns_median"] == 500 and g["gap_ns_mean"] == 500
    assert g["gap_sum_ns_per_replay"] == 1000
    assert gaps(tmp_path / "run", skip=0)["gaps"] == 6
