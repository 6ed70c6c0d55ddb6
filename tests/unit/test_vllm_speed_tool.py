"""tools/bench_vllm_speed.py: the latency benchmark's iterations from the request markers, each
phase's CPU time from the process-tree samples, and its error exit (no vLLM needed)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pandas as pd
import pytest

TOOLS = Path(__file__).resolve().parents[2] / "tools"


@pytest.fixture(scope="module")
def speed():  # type: ignore[no-untyped-def]
    sys.path.insert(0, str(TOOLS))
    spec = importlib.util.spec_from_file_location("bench_vllm_speed", TOOLS / "bench_vllm_speed.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def markers(rows: list[tuple[str, str, int, int]]) -> pd.DataFrame:
    return pd.DataFrame(
        [{"name": n, "args": {"req": r}, "ts_ns": t, "wt_ns": w} for n, r, t, w in rows]
    )


def test_iterations_are_batches_of_overlapping_requests(speed) -> None:  # type: ignore[no-untyped-def]
    s = 1_000_000_000
    m = markers([
        ("request_arrival", "0", 0, 100 * s), ("request_arrival", "1", s // 10, 101 * s),
        ("request_finish", "0", 2 * s, 110 * s), ("request_finish", "1", 3 * s, 112 * s),
        ("request_arrival", "2", 4 * s, 120 * s), ("request_finish", "2", 5 * s, 121 * s),
        ("vllm.sampled", "", 4 * s, 120 * s),
    ])  # fmt: skip
    it = speed.iterations(m)
    assert [p["requests"] for p in it] == [2, 1]
    assert it[0]["virtual_s"] == pytest.approx(3.0) and it[0]["wall_s"] == pytest.approx(12.0)
    assert it[1]["virtual_s"] == pytest.approx(1.0) and it[1]["wall_s"] == pytest.approx(1.0)
    assert it[1]["wall_first_ns"] == 120 * s


def test_serving_phases_are_the_client_runs_without_warm_ups(speed) -> None:  # type: ignore[no-untyped-def]
    """One phase per `vllm bench serve` run (its `cmpl-bench-<hex>` ids); warm-up requests, which
    the server names itself, belong to no phase."""
    s = 1_000_000_000
    a, b = "cmpl-bench-aaaa", "cmpl-bench-bbbb"
    m = markers([
        ("request_arrival", "cmpl-0f3e-0", 0, 0), ("request_finish", "cmpl-0f3e-0", s, s),
        ("request_arrival", f"{a}-0-0", 2 * s, 2 * s), ("request_arrival", f"{a}-1-0", 3 * s, 4 * s),
        ("request_finish", f"{a}-0-0", 5 * s, 7 * s), ("request_finish", f"{a}-1-0", 6 * s, 8 * s),
        ("request_arrival", "cmpl-77aa-0", 9 * s, 9 * s), ("request_finish", "cmpl-77aa-0", 10 * s, 10 * s),
        ("request_arrival", f"{b}-0-0", 11 * s, 11 * s), ("request_finish", f"{b}-0-0", 12 * s, 14 * s),
    ])  # fmt: skip
    ph = speed.benchmark_phases(m)
    assert [p["requests"] for p in ph] == [2, 1]
    assert ph[0]["virtual_s"] == pytest.approx(4.0) and ph[0]["wall_s"] == pytest.approx(6.0)
    assert ph[1]["first_ns"] == 11 * s and ph[1]["wall_s"] == pytest.approx(3.0)


def test_phase_cpu_takes_the_nearest_samples(speed) -> None:  # type: ignore[no-untyped-def]
    samples = [[0, {1: 1.0, 2: 0.5}], [10, {1: 2.0, 2: 0.5, 3: 0.25}], [20, {1: 5.0, 2: 1.5}]]
    got = speed.phase_cpu(samples, 9, 21)
    # between the samples at 10 and 20: pid 1 used 3 s, pid 2 1 s; pid 3 had ended
    assert got == {"total_s": 4.0, "busiest_s": 3.0, "sampled_wall_s": 10 / 1e9}
    assert speed.phase_cpu(samples, 20, 20) is None


def test_tree_cpu_sees_this_process(speed) -> None:  # type: ignore[no-untyped-def]
    import os

    got = speed.tree_cpu(os.getpid())
    assert os.getpid() in got and got[os.getpid()] > 0


def test_not_a_run_is_an_error(speed, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert speed.main(["--runs", str(tmp_path)]) == 1
    assert "not a revati run" in capsys.readouterr().err
