"""tools/accuracy/step_breakdown.py --graph: a CUDA-graph decode step's virtual time split into GPU
time, GPU idle time, driver calls, jumps and host code, on a synthetic run (no GPU, no vLLM)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from revati.trace.writer import RunWriter

TOOL = Path(__file__).resolve().parents[2] / "tools" / "accuracy" / "step_breakdown.py"
MS = 1_000_000


@pytest.fixture(scope="module")
def sb():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("step_breakdown", TOOL)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def decode_run(run: Path) -> None:
    """Four replays of graph 7, 10 ms apart (wall: 30 ms apart): each launch costs 0.4 ms, its GPU
    work 5 ms; 1 ms of host code later a 0.1 ms call, then a sync that waits 2 ms for the GPU, and
    host code up to the next launch. Between replays 2 and 3 a prefill graph (9) is launched."""
    w = RunWriter(run)
    p = w.process(100, 0)
    for i in range(4):
        t = i * 10 * MS + (5 * MS if i >= 2 else 0)
        p.graph("launch", 7, t, t + 5 * MS, nodes=450)
        p.api("cuGraphLaunch", t, t + MS * 4 // 10, args="exec=7 nodes=450", wt_ns=t * 3)
        p.api("cuLaunchKernel", t + 14 * MS // 10, t + 15 * MS // 10)
        p.sync("cuEventSynchronize", t + 2 * MS, t + 4 * MS)
        p.api("cuEventSynchronize", t + 2 * MS, t + 4 * MS)
        if i == 1:
            p.graph("launch", 9, t + 6 * MS, t + 8 * MS, nodes=30)
            p.api("cuGraphLaunch", t + 6 * MS, t + 7 * MS, args="exec=9 nodes=30")
    p.end(ts_ns=50 * MS)
    w.finish(command=["python"], device="H200-SXM-141GB", num_gpus=1)


def test_graph_steps_add_up(sb, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    decode_run(tmp_path / "r")
    b = sb.graph_breakdown(tmp_path / "r")
    assert b["graph"] == 7 and b["steps"] == 2  # the interval with the prefill graph is left out
    assert b["step_ms"] == pytest.approx(10.0)
    assert b["gpu_ms"] == pytest.approx(5.0) and b["gpu_idle_ms"] == pytest.approx(5.0)
    assert b["driver_calls_ms"] == pytest.approx(0.4 + 0.1 + 2.0)
    assert b["jumps_ms"] == pytest.approx(2.0)
    assert b["host_code_ms"] == pytest.approx(10.0 - 2.5)
    assert b["calls_at_previous_end"] == pytest.approx(0.0)
    assert b["wall_ms"] == pytest.approx(30.0) and b["calls_per_step"] == pytest.approx(3.0)


def test_no_graphs_is_an_error(sb, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    w = RunWriter(tmp_path / "r")
    w.process(100, 0).end(ts_ns=0)
    w.finish(command=["python"], device="H200-SXM-141GB", num_gpus=1)
    assert sb.main(["--graph", str(tmp_path / "r")]) == 1
