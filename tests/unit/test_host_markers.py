"""Host span markers (revati.markers.span) and prefix-cache markers: exported as slices on their
thread, set against device busy time and summed in `revati report`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pytest

from revati import markers
from revati.exporters import export_run
from revati.report import format_text, summarize
from revati.report.host_markers import merged_intervals, overlap_ns
from revati.trace import RunWriter, load_run, schema


@pytest.fixture
def span_run(tmp_path: Path) -> Path:
    """Rank 0: kernels busy [100, 400) and [600, 700); spans 'sched' [0, 200) (100 under a kernel)
    and [500, 650) (50 under), 'proc' [300, 350) (all under); a launch call inside the first span.
    Prefill batches: 3 new + 1 cached, then 1 new + 3 cached (tokens 24 new, 40 cached)."""
    w = RunWriter(tmp_path / "run")
    r0 = w.process(100, 0, num_gpus=1)
    r0.api("cuLaunchKernel", 50, 60, corr=1)
    r0.kernel("A", 100, 300, dev=0, stream=1, corr=1)
    r0.kernel("B", 250, 400, dev=0, stream=2)
    r0.kernel("C", 600, 700, dev=0, stream=1)
    r0.marker("sched", 200, {schema.SPAN_BEGIN: 0})
    r0.marker("proc", 350, {schema.SPAN_BEGIN: 300, "step": 1})
    r0.marker("sched", 650, {schema.SPAN_BEGIN: 500})
    r0.marker("request_arrival", 10, {"req": "r1"})  # not a span
    r0.marker(schema.MARK_PREFIX_CACHE, 90, {"seqs": 4, "new_tokens": 20, "cached_tokens": 8})
    r0.marker(schema.MARK_PREFIX_CACHE, 95, {"seqs": 1, "new_tokens": 4, "cached_tokens": 32})
    r0.end(800)
    w.finish(wall_duration_ns=1600, device="H100-SXM-80GB", num_gpus=1)
    return tmp_path / "run"


def test_marker_names_match_the_schema() -> None:
    """revati.markers keeps its own copies of the names (no trace-reader import in servers)."""
    assert markers.SPAN_BEGIN == schema.SPAN_BEGIN
    assert markers.MARK_PREFIX_CACHE == schema.MARK_PREFIX_CACHE
    assert markers.MARK_HOOKS == schema.MARK_HOOKS


def test_overlap_of_intervals() -> None:
    """Overlap with a union of intervals, partial at both ends, none, and across two."""
    us, ue = merged_intervals(np.array([100, 250, 600]), np.array([300, 400, 700]))
    assert us.tolist() == [100, 600] and ue.tolist() == [400, 700]
    got = overlap_ns(np.array([0, 500, 300, 0, 800]), np.array([200, 650, 350, 1000, 900]), us, ue)
    assert got.tolist() == [100, 50, 50, 400, 0]


def test_report_host_spans_and_prefix_cache(span_run: Path) -> None:
    """Per span name: count, total, device-busy share; prefix cache: token sums and hit rate."""
    s = summarize(load_run(span_run, cache=False))
    spans = {h["name"]: h for h in s["host_spans"]}
    assert set(spans) == {"sched", "proc"}
    assert spans["sched"]["count"] == 2 and spans["sched"]["total_ns"] == 350
    assert spans["sched"]["device_busy_ns"] == 150
    assert spans["sched"]["overlap_pct"] == pytest.approx(100 * 150 / 350)
    assert spans["proc"]["device_busy_ns"] == 50 and spans["proc"]["overlap_pct"] == 100.0
    (pc,) = s["prefix_cache"]
    assert (pc["batches"], pc["seqs"], pc["new_tokens"], pc["cached_tokens"]) == (2, 5, 24, 40)
    assert pc["hit_pct"] == pytest.approx(62.5)
    text = format_text(s)
    assert "40 of 64 prompt tokens from the cache (62.5%)" in text
    assert "42.9%  sched" in text


def test_chrome_export_draws_spans(span_run: Path, tmp_path: Path) -> None:
    """A span marker is a slice from begin_ns to its time on its thread, enclosing the call
    inside it; a plain marker stays zero-length."""
    out = tmp_path / "t.json"
    export_run(load_run(span_run, cache=False), "chrome", out)
    evs = orjson.loads(out.read_bytes())["traceEvents"]
    xs = [e for e in evs if e.get("ph") == "X"]
    sched = sorted((e["ts"], e["dur"]) for e in xs if e["name"] == "sched")
    assert sched == [(0.0, 0.2), (0.5, 0.15)]
    (launch,) = [e for e in xs if e["name"] == "cuLaunchKernel"]
    (first,) = [e for e in xs if e["name"] == "sched" and e["ts"] == 0.0]
    assert launch["tid"] == first["tid"] and launch["pid"] == first["pid"]
    (arrival,) = [e for e in xs if e["name"] == "request_arrival"]
    assert arrival["dur"] == 0


def test_no_markers_no_sections(tmp_path: Path) -> None:
    """Without span or prefix-cache markers the report has neither section."""
    w = RunWriter(tmp_path / "run")
    r0 = w.process(100, 0, num_gpus=1)
    r0.kernel("A", 0, 100, dev=0, stream=1)
    r0.end(200)
    w.finish(wall_duration_ns=400, device="H100-SXM-80GB", num_gpus=1)
    s = summarize(load_run(tmp_path / "run", cache=False))
    assert s["host_spans"] == [] and s["prefix_cache"] == [] and s["plugin_hooks"] == []
    text = format_text(s)
    assert "host spans" not in text and "prefix cache" not in text and "plugin hooks" not in text


def test_report_lists_plugin_hooks_and_names_missing_ones(tmp_path: Path) -> None:
    """Hooks counted per process (the last marker of a process that loaded the plugin twice), a
    missing hook named with each distinct reason; another release is listed apart."""
    w = RunWriter(tmp_path / "run")
    full = {"engine": "vllm", "version": "0.33.0", "installed": ["sampler", "requests"]}
    part = {"engine": "vllm", "version": "0.24.0", "installed": ["sampler"]}
    runs = [(100, {**full, "missing": {}}), (101, {**part, "missing": {"requests": "gone"}})]
    runs += [(102, {**part, "missing": {"requests": "renamed"}})]
    for pid, args in runs:
        r = w.process(pid, 0, num_gpus=1)
        r.marker(schema.MARK_HOOKS, 5, {**args, "installed": []})  # replaced by the later one
        r.marker(schema.MARK_HOOKS, 6, args)
        r.end(10)
    w.finish(wall_duration_ns=20, device="H100-SXM-80GB", num_gpus=1)
    s = summarize(load_run(tmp_path / "run", cache=False))
    old, new = s["plugin_hooks"]
    assert (old["version"], old["processes"], old["installed"]) == ("0.24.0", 2, {"sampler": 2})
    assert old["missing"] == {"requests": ["gone", "renamed"]}
    assert new["installed"] == {"sampler": 1, "requests": 1} and new["missing"] == {}
    text = format_text(s)
    assert "engine plugin hooks: vllm 0.24.0 (2 processes): sampler x2" in text
    assert "  MISSING requests: gone; renamed" in text


@pytest.mark.parametrize("hooked", [False, True])
def test_report_says_when_vllm_ran_without_the_plugin(tmp_path: Path, hooked: bool) -> None:
    """vLLM's CLI or one of its modules ran and no process wrote vLLM's hooks marker: the report
    names those processes (their values were never supplied); with the marker, nothing is said. A
    command that only names a file with vllm in it (examples/vllm_serve.py) is not vLLM itself."""
    w = RunWriter(tmp_path / "run")
    cmds = {
        100: ["python", "examples/vllm_serve.py", "--model", "m"],
        101: ["/venv/bin/python", "/venv/bin/vllm", "serve", "m"],
        102: ["python", "-m", "vllm.entrypoints.cli.main", "bench", "latency"],
        103: ["python", "-c", "from multiprocessing.spawn import spawn_main"],
    }
    for pid, argv in cmds.items():
        r = w.process(pid, 0, num_gpus=1, argv=argv)
        if hooked and pid == 103:
            r.marker(schema.MARK_HOOKS, 6, {"engine": "vllm", "version": "0.24.0", "installed": []})
        r.end(10)
    w.finish(wall_duration_ns=20, device="H100-SXM-80GB", num_gpus=1)
    s = summarize(load_run(tmp_path / "run", cache=False))
    text = format_text(s)
    if hooked:
        assert s["plugin_not_loaded"] == [] and "NONE" not in text
    else:
        assert s["plugin_not_loaded"] == [{"engine": "vllm", "pids": [101, 102]}]
        assert "engine plugin hooks: NONE: vllm ran (pid 101, 102)" in text
