"""`revati diff`: identical runs pass, a planted slowdown and a planted divergence are found."""

from __future__ import annotations

from pathlib import Path

import pytest

from revati.diff import compare_runs, format_text
from revati.trace import RunWriter, load_run
from revati.trace.synthetic import make_serving_run

KW = {"ranks": 2, "requests": 3, "layers": 2}


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, object]:
    d = tmp_path_factory.mktemp("diff")
    make_serving_run(d / "a", **KW)
    make_serving_run(d / "a2", **KW)
    make_serving_run(d / "slow", kernel_scale=1.1, **KW)
    make_serving_run(d / "extra", extra_kernel=(3, 1), **KW)
    return {k: load_run(d / k, cache=False) for k in ("a", "a2", "slow", "extra")}


def test_identical_runs_pass(runs) -> None:
    """Two runs of the same thing: no divergence, no delta, passes at zero tolerance."""
    d = compare_runs(runs["a"], runs["a2"], tolerance_pct=0.0)
    assert d["passed"] and d["first_divergence"] is None
    assert d["end_to_end"]["delta_ns"] == 0 and d["changed_ops"] == 0
    assert d["aligned_ops"] == sum(
        len(runs["a"].frames[k]) for k in ("kernel", "memcpy", "memset", "collective")
    )
    assert "PASS" in format_text(d)


def test_ten_percent_slowdown_is_found(runs) -> None:
    """Every kernel 10% slower: per-name totals +10%, fails at 5%, passes at 15%."""
    d = compare_runs(runs["a"], runs["slow"], tolerance_pct=5.0)
    assert d["first_divergence"] is None
    assert not d["passed"] and any("kernel name" in r for r in d["exceeded"])
    gemm = next(n for n in d["name_totals"] if n["name"].startswith("nvjet_sm90_tst_128x256"))
    assert gemm["delta_pct"] == pytest.approx(10.0, abs=0.05)
    assert d["op_deltas"] and all(o["delta_ns"] > 0 for o in d["op_deltas"])
    assert d["end_to_end"]["delta_ns"] > 0
    assert compare_runs(runs["a"], runs["slow"], tolerance_pct=15.0)["passed"]


def test_planted_divergence_is_located(runs) -> None:
    """An extra kernel at (step 3, layer 1): first divergence names it and where it is."""
    d = compare_runs(runs["a"], runs["extra"], tolerance_pct=50.0)
    fd = d["first_divergence"]
    assert not d["passed"] and "structural divergence" in d["exceeded"]
    assert fd["name_b"] == "void extra_planted_kernel()" and fd["track"] == "dev 0 stream 7"
    assert fd["rank"] == 0
    # the operations before it are aligned and unchanged
    assert d["aligned_ops"] > 0 and d["changed_ops"] == 0
    extra = next(n for n in d["name_totals"] if n["name"] == "void extra_planted_kernel()")
    assert extra["count_a"] == 0 and extra["count_b"] == 2


def test_ranks_are_matched_by_rank_not_pid(tmp_path: Path) -> None:
    """Same work under other pids aligns; a missing rank is a failure."""
    for name, pids in (("x", (10, 11)), ("y", (20, 21))):
        w = RunWriter(tmp_path / name)
        for rank, pid in enumerate(pids):
            s = w.process(pid, rank)
            s.kernel("k", 0, 100, dev=rank, stream=1)
            s.end(100)
        w.finish()
    w = RunWriter(tmp_path / "z")
    s = w.process(30, 0)
    s.kernel("k", 0, 100, dev=0, stream=1)
    s.end(100)
    w.finish()
    a, b, c = (load_run(tmp_path / n, cache=False) for n in "xyz")
    assert compare_runs(a, b)["passed"]
    d = compare_runs(a, c, tolerance_pct=100)
    assert not d["passed"] and d["ranks_only_in_a"] == [1]


def test_host_only_differences_pass_with_device_only(tmp_path: Path) -> None:
    """An extra host poll diverges the host thread; device-only comparison ignores it."""
    for name, polls in (("p1", 1), ("p2", 3)):
        w = RunWriter(tmp_path / name)
        s = w.process(10, 0)
        c = s.next_corr()
        s.api("cuLaunchKernel", 0, 5, corr=c)
        s.kernel("k", 5, 100, stream=1, corr=c)
        for i in range(polls):
            s.api("cuEventQuery", 10 + i, 11 + i)
        s.api("cuStreamSynchronize", 20, 100)
        s.end(100)
        w.finish()
    a, b = load_run(tmp_path / "p1", cache=False), load_run(tmp_path / "p2", cache=False)
    d = compare_runs(a, b)
    assert not d["passed"] and d["first_divergence"]["track"] == "thread 0"
    assert d["first_divergence"]["name_a"] == "cuStreamSynchronize"
    assert compare_runs(a, b, host=False)["passed"]
