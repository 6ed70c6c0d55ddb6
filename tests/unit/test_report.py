"""`revati report` figures against hand-computed ones on a small hand-written run."""

from __future__ import annotations

from pathlib import Path

import pytest

from revati.report import format_text, serving_metrics, summarize
from revati.report.summary import union_ns
from revati.trace import RunWriter, load_run


@pytest.fixture
def hand_run(tmp_path: Path) -> Path:
    w = RunWriter(tmp_path / "run")
    r0 = w.process(100, 0, num_gpus=1)
    r0.kernel("A", 0, 100, dev=0, stream=1)
    r0.kernel("B", 50, 150, dev=0, stream=2)  # overlaps A on another stream: counted once
    r0.kernel("A", 200, 260, dev=0, stream=1)
    r0.memcpy("HtoD", 4096, 300, 340, dev=0, stream=1)
    r0.sync("cuStreamSynchronize", 100, 400)
    r0.sync("cuStreamSynchronize", 500, 600)
    r0.sync("nanosleep", 1000, 1500)
    # r1: arrival 0, first token 1000, tokens 1500 and 2500, finish 2500 (3 tokens)
    # r2: arrival 500, first token 2000, finish 2000 (1 token)
    for name, ts, req in (
        ("request_arrival", 0, "r1"),
        ("request_arrival", 500, "r2"),
        ("first_token", 1000, "r1"),
        ("token", 1500, "r1"),
        ("first_token", 2000, "r2"),
        ("request_finish", 2000, "r2"),
        ("token", 2500, "r1"),
        ("request_finish", 2500, "r1"),
    ):
        r0.marker(name, ts, {"req": req})
    r0.end(3000, unimpl={"cuFoo": 2}, missing={"B": 4})
    r1 = w.process(200, 1, num_gpus=1)
    r1.kernel("A", 0, 40, dev=0, stream=1)
    r1.marker("request_arrival", 0, {"req": "r1"})  # another rank's copy is ignored
    r1.end(2800, unimpl={"cuFoo": 1, "cuBar": 1})
    w.finish(wall_duration_ns=6000, device="H100-SXM-80GB", num_gpus=1)
    return tmp_path / "run"


def test_union_of_intervals() -> None:
    """Overlapping and touching intervals merge; gaps do not count."""
    import numpy as np

    s = np.array([0, 50, 200, 150, 400])
    e = np.array([100, 150, 260, 200, 400])
    assert union_ns(s, e) == 260  # [0,150) + [150,200) + [200,260) ; [400,400) is empty


def test_durations_and_ratio(hand_run: Path) -> None:
    """Virtual: first event to the latest end line; wall from the manifest; their ratio."""
    s = summarize(load_run(hand_run, cache=False))
    assert s["virtual_ns"] == 3000 and s["wall_ns"] == 6000
    assert s["wall_over_virtual"] == pytest.approx(2.0)


def test_device_busy_time_and_counts(hand_run: Path) -> None:
    """Busy = union over the device's streams: [0,150) + [200,260) + [300,340) = 250 ns."""
    s = summarize(load_run(hand_run, cache=False))
    devs = {(d["rank"], d["dev"]): d for d in s["devices"]}
    assert devs[(0, 0)]["busy_ns"] == 250 and devs[(0, 0)]["kernels"] == 3
    assert devs[(0, 0)]["memcpy"] == 1
    assert devs[(0, 0)]["busy_pct"] == pytest.approx(100 * 250 / 3000)
    assert devs[(1, 0)]["busy_ns"] == 40 and devs[(1, 0)]["kernels"] == 1


def test_top_kernels(hand_run: Path) -> None:
    """A: 100 + 60 + 40 = 200 ns over 3 launches; B: 100 ns once."""
    s = summarize(load_run(hand_run, cache=False))
    top = s["top_kernels"]
    assert [k["name"] for k in top] == ["A", "B"]
    assert top[0]["total_ns"] == 200 and top[0]["count"] == 3
    assert top[0]["mean_ns"] == pytest.approx(200 / 3) and top[0]["max_ns"] == 100
    assert top[0]["pct"] == pytest.approx(200 / 3)


def test_sync_waits_unimplemented_missing(hand_run: Path) -> None:
    """Jumps summed by why; end-line counts summed over processes."""
    s = summarize(load_run(hand_run, cache=False))
    waits = {w["why"]: (w["count"], w["total_ns"]) for w in s["sync_waits"]}
    assert waits == {"cuStreamSynchronize": (2, 400), "nanosleep": (1, 500)}
    assert s["unimplemented"] == {"cuFoo": 3, "cuBar": 1}
    assert s["missing_shapes"] == {"B": 4}
    assert s["issues"] == []


def test_serving_metrics(hand_run: Path) -> None:
    """TTFT 1000/1500, E2E 2500/1500, TPOT (2500-1000)/2 = 750 (r1 only), ITL 500 and 1000."""
    sv = serving_metrics(load_run(hand_run, cache=False).frames["marker"])
    ms = 1e-6
    assert sv["requests"] == 2 and sv["completed"] == 2 and sv["output_tokens"] == 4
    assert sv["ttft_ms"]["mean"] == pytest.approx(1250 * ms)
    assert sv["ttft_ms"]["p50"] == pytest.approx(1250 * ms)
    assert sv["ttft_ms"]["p90"] == pytest.approx(1450 * ms)  # linear between 1000 and 1500
    assert sv["e2e_ms"]["mean"] == pytest.approx(2000 * ms)
    assert sv["e2e_ms"]["p99"] == pytest.approx(2490 * ms)
    assert sv["tpot_ms"]["count"] == 1 and sv["tpot_ms"]["mean"] == pytest.approx(750 * ms)
    assert sv["itl_ms"]["count"] == 2 and sv["itl_ms"]["mean"] == pytest.approx(750 * ms)
    assert sv["output_throughput_tok_per_s"] == pytest.approx(4 / 2500e-9)
    assert sv["request_throughput_per_s"] == pytest.approx(2 / 2500e-9)


def test_no_markers_no_serving_section(tmp_path: Path) -> None:
    """A run without request markers has serving None and the text says nothing about it."""
    w = RunWriter(tmp_path / "run")
    s = w.process(1, 0)
    s.kernel("k", 0, 10)
    s.end(10)
    w.finish()
    s = summarize(load_run(tmp_path / "run", cache=False))
    assert s["serving"] is None and "TTFT" not in format_text(s)


def test_text_output_names_the_figures(hand_run: Path) -> None:
    """The text report carries each section."""
    t = format_text(summarize(load_run(hand_run, cache=False)))
    for word in (
        "virtual",
        "wall",
        "busy",
        "top kernels",
        "sync waits",
        "cuFoo x3",
        "TTFT",
        "TPOT",
        "ITL",
        "E2E",
        "missing shapes",
    ):
        assert word in t


def test_kernel_names_are_shown_demangled(tmp_path: Path) -> None:
    """A mangled C++ kernel name keeps its identity in `name` and reads demangled in the text."""
    from revati.trace.names import demangle

    mangled = "_ZN2at6native13reduce_kernelILi512ELi1EEEvv"
    assert demangle(mangled) == "void at::native::reduce_kernel<512, 1>()"
    assert demangle("nvjet_sm90_tst") == "nvjet_sm90_tst"
    w = RunWriter(tmp_path / "run")
    s = w.process(1, 0)
    s.kernel(mangled, 0, 10)
    s.end(10)
    w.finish()
    summary = summarize(load_run(tmp_path / "run", cache=False))
    assert summary["top_kernels"][0]["name"] == mangled
    assert "void at::native::reduce_kernel<512, 1>()" in format_text(summary)


def test_a_run_with_no_operations_still_reports_exports_and_diffs(tmp_path: Path) -> None:
    """A process that did nothing: zero durations, well-formed (empty) exports, diff passes."""
    import orjson

    from revati.diff import compare_runs
    from revati.exporters import export_run

    w = RunWriter(tmp_path / "run")
    w.process(5, 0).end(0)
    w.finish()
    run = load_run(tmp_path / "run", cache=False)
    s = summarize(run)
    assert s["virtual_ns"] == 0 and s["devices"] == [] and s["serving"] is None
    assert export_run(run, "chrome", tmp_path / "t.json")["slices"] == 0
    assert orjson.loads((tmp_path / "t.json").read_bytes())["traceEvents"]
    assert export_run(run, "perfetto", tmp_path / "t.pftrace")["slices"] == 0
    assert compare_runs(run, run)["passed"]


def test_collectives_peer_wait_is_shown_per_device(tmp_path: Path) -> None:
    """Two ranks with the same collective: rank 0 arrived at 100, rank 1 at 400, both end at 400 +
    model 50. Rank 0's device waited 300 ns of its 350 ns busy time for its peer, rank 1's none;
    the text names the wait, and the header gives the ranks as a range with the process count."""
    w = RunWriter(tmp_path / "run")
    for rank, arrive in ((0, 100), (1, 400)):
        p = w.process(100 + rank, rank, num_gpus=2)
        p.collective("allreduce", 4096, arrive, 450, comm=1, rank=rank, nranks=2, dev=rank,
                     model_ns=50)  # fmt: skip
        p.end(500)
    p = w.process(300, 2, num_gpus=2)  # a third process (an API server), no device work
    p.end(500)
    w.finish(device="H100-SXM-80GB", num_gpus=2)
    s = summarize(load_run(tmp_path / "run", cache=False))
    devs = {(d["rank"], d["dev"]): d for d in s["devices"]}
    assert devs[(0, 0)]["busy_ns"] == 350 and devs[(0, 0)]["peer_wait_ns"] == 300
    assert devs[(1, 1)]["busy_ns"] == 50 and devs[(1, 1)]["peer_wait_ns"] == 0
    t = format_text(s)
    assert "waiting for peers" in t and "ranks 0-2 (3 processes)" in t


def test_no_collectives_no_peer_wait_column(hand_run: Path) -> None:
    """A run without collectives keeps the devices table as it was."""
    t = format_text(summarize(load_run(hand_run, cache=False)))
    assert "busy" in t and "waiting for peers" not in t and "ranks 0, 1 (2 processes)" in t
