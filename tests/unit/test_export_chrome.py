"""Chrome JSON export: Kineto's shape, slices well formed, flows paired, strict nesting."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import orjson
import pytest

from revati.exporters import export_run
from revati.trace import RunWriter, load_run
from revati.trace.validate import validate_run


@pytest.fixture(scope="module")
def sample(serving_run: Path) -> Path:
    return serving_run


def _export(run_dir: Path, out: Path) -> dict:
    export_run(load_run(run_dir, cache=False), "chrome", out)
    return orjson.loads(out.read_bytes())


def assert_nested(xs: list[dict]) -> None:
    """Per (pid, tid): every slice is disjoint from or inside the one open before it."""
    by = defaultdict(list)
    for e in xs:
        by[(e["pid"], e["tid"])].append((round(e["ts"] * 1000), round(e["dur"] * 1000)))
    for track, sl in by.items():
        sl.sort(key=lambda x: (x[0], -x[1]))
        stack: list[int] = []
        for ts, dur in sl:
            while stack and stack[-1] <= ts:
                stack.pop()
            assert not stack or ts + dur <= stack[-1], f"partial overlap on {track} at {ts}"
            stack.append(ts + dur)


def test_top_level_like_kineto(sample: Path, tmp_path: Path) -> None:
    """The keys the PyTorch profiler writes are there, with revati's values."""
    j = _export(sample, tmp_path / "t.json")
    for key in (
        "traceEvents",
        "displayTimeUnit",
        "deviceProperties",
        "distributedInfo",
        "baseTimeNanoseconds",
        "schemaVersion",
    ):
        assert key in j
    assert j["distributedInfo"]["world_size"] == 2
    assert j["deviceProperties"][0]["name"] == "NVIDIA H100 80GB HBM3"
    assert j["baseTimeNanoseconds"] == 1_790_000_000_000_000_000


def test_every_slice_is_complete_and_categorised(sample: Path, tmp_path: Path) -> None:
    """Each X event has ts/dur/pid/tid/cat; every event of the run became one slice."""
    j = _export(sample, tmp_path / "t.json")
    run = load_run(sample, cache=False)
    xs = [e for e in j["traceEvents"] if e["ph"] == "X"]
    for e in xs:
        assert {"ts", "dur", "pid", "tid", "cat", "name"} <= set(e)
        assert e["dur"] >= 0
    n = sum(
        len(run.frames[k])
        for k in ("api", "kernel", "memcpy", "memset", "sync", "collective", "graph", "marker")
    )
    assert len(xs) == n
    cats = {e["cat"] for e in xs}
    assert {
        "cuda_driver",
        "kernel",
        "gpu_memcpy",
        "gpu_memset",
        "cuda_sync",
        "collective_comm",
        "user_annotation",
    } <= cats


def test_times_are_relative_microseconds_from_integer_ns(sample: Path, tmp_path: Path) -> None:
    """ts = (ts_ns - first ts_ns) / 1000 exactly, for every kernel."""
    j = _export(sample, tmp_path / "t.json")
    run = load_run(sample, cache=False)
    k = run.frames["kernel"]
    want = sorted(zip(k["ts_ns"].tolist(), (k["end_ns"] - k["ts_ns"]).tolist(), strict=True))
    got = sorted(
        (round(e["ts"] * 1000), round(e["dur"] * 1000))
        for e in j["traceEvents"]
        if e.get("cat") == "kernel"
    )
    assert got == want  # this run's virtual epoch is 0, so relative == absolute


def test_ranks_get_their_own_pids(sample: Path, tmp_path: Path) -> None:
    """One process per (rank, host) and per (rank, device); names say which."""
    j = _export(sample, tmp_path / "t.json")
    names = {
        e["pid"]: e["args"]["name"]
        for e in j["traceEvents"]
        if e["ph"] == "M" and e["name"] == "process_name"
    }
    assert sorted(names.values()) == sorted(
        [
            "rank 0 host (pid 40000)",
            "rank 1 host (pid 40017)",
            "rank 0 GPU 0 (H100-SXM-80GB)",
            "rank 1 GPU 1 (H100-SXM-80GB)",
        ]
    )
    threads = {
        (e["pid"], e["tid"]): e["args"]["name"]
        for e in j["traceEvents"]
        if e["ph"] == "M" and e["name"] == "thread_name"
    }
    assert "stream 7" in threads.values()
    for e in j["traceEvents"]:
        if e["ph"] == "X":
            assert (e["pid"], e["tid"]) in threads


def test_flows_pair_up(sample: Path, tmp_path: Path) -> None:
    """Every flow start has one finish with the same id; launch flows go host -> device."""
    j = _export(sample, tmp_path / "t.json")
    evs = j["traceEvents"]
    starts = defaultdict(list)
    ends = defaultdict(list)
    for e in evs:
        if e["ph"] == "s":
            starts[e["id"]].append(e)
        elif e["ph"] == "f":
            assert e["bp"] == "e"
            ends[e["id"]].append(e)
    assert starts and set(starts) == set(ends)
    assert all(len(v) == 1 for v in starts.values()) and all(len(v) == 1 for v in ends.values())
    device_pids = {e["pid"] for e in evs if e.get("cat") == "kernel"}
    ac2g = [i for i, v in starts.items() if v[0]["cat"] == "ac2g"]
    coll = [i for i, v in starts.items() if v[0]["cat"] == "collective_comm"]
    assert ac2g and coll
    for i in ac2g:
        assert starts[i][0]["pid"] not in device_pids and ends[i][0]["pid"] in device_pids
        assert starts[i][0]["ts"] <= ends[i][0]["ts"]
    for i in coll:  # rank to rank: different device processes
        assert starts[i][0]["pid"] != ends[i][0]["pid"]
        assert {starts[i][0]["pid"], ends[i][0]["pid"]} <= device_pids


def test_slices_nest_strictly(sample: Path, tmp_path: Path) -> None:
    """No two slices on one track overlap partially (host API spans hold their sync jumps)."""
    j = _export(sample, tmp_path / "t.json")
    assert_nested([e for e in j["traceEvents"] if e["ph"] == "X"])


def test_partial_overlap_goes_to_an_overflow_track_and_is_reported(tmp_path: Path) -> None:
    """Two kernels overlapping partially on one stream: data kept, export nested, validate says."""
    w = RunWriter(tmp_path / "run")
    s = w.process(5, 0)
    s.kernel("a", 0, 100, stream=3)
    s.kernel("b", 50, 150, stream=3)
    s.kernel("c", 60, 70, stream=3)  # nests in a
    s.end(200)
    w.finish()
    run = load_run(tmp_path / "run", cache=False)
    issues = validate_run(run)
    assert [i.code for i in issues] == ["partial_overlap"] and issues[0].count == 1
    export_run(run, "chrome", tmp_path / "t.json")
    evs = orjson.loads((tmp_path / "t.json").read_bytes())["traceEvents"]
    xs = {e["name"]: e for e in evs if e["ph"] == "X"}
    assert (xs["a"]["ts"], xs["a"]["dur"]) == (0.0, 0.1) and (xs["b"]["ts"], xs["b"]["dur"]) == (
        0.05,
        0.1,
    )
    assert xs["a"]["tid"] == xs["c"]["tid"] == 3 and xs["b"]["tid"] != 3
    names = {e["tid"]: e["args"]["name"] for e in evs if e.get("name") == "thread_name"}
    assert names[xs["b"]["tid"]] == "stream 3 (overlap 1)"
    assert_nested([e for e in evs if e["ph"] == "X"])


def test_requests_are_async_spans(sample: Path, tmp_path: Path) -> None:
    """One b/e pair per request, arrival to finish, in its rank's host process."""
    j = _export(sample, tmp_path / "t.json")
    b = {e["id"]: e for e in j["traceEvents"] if e["ph"] == "b"}
    e = {x["id"]: x for x in j["traceEvents"] if x["ph"] == "e"}
    assert len(b) == 3 and set(b) == set(e)
    for i, ev in b.items():
        assert ev["cat"] == "request" and ev["pid"] == 40000 and e[i]["ts"] >= ev["ts"]
    run = load_run(sample, cache=False)
    m = run.frames["marker"]
    arrivals = sorted(m.loc[m["name"] == "request_arrival", "ts_ns"].tolist())
    assert sorted(round(ev["ts"] * 1000) for ev in b.values()) == arrivals


def test_rank_is_findable_the_way_hta_finds_it(sample: Path, tmp_path: Path) -> None:
    """Holistic Trace Analysis takes a file's rank from the first line matching this regex."""
    import re

    export_run(load_run(sample, cache=False), "chrome", tmp_path / "r1.json", ranks=[1])
    rank_re = re.compile(r'"rank":\s+(\d+)')
    first = next(m for line in (tmp_path / "r1.json").open() if (m := rank_re.search(line)))
    assert first.group(1) == "1"
    j = orjson.loads((tmp_path / "r1.json").read_bytes())
    assert j["distributedInfo"] == {"backend": "nccl", "rank": 1, "world_size": 2}
