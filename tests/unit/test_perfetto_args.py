"""The Perfetto protobuf export carries the same slice arguments as the Chrome JSON export."""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

import orjson
import pytest
from test_export_perfetto import decode  # tests/unit is on the path (pytest's rootdir-less tests)

from revati.exporters import export_run
from revati.trace import load_run
from revati.trace.synthetic import make_serving_run


def perfetto_args(path: Path) -> Counter:
    """(slice name, ts, args with the correlation id) of every slice in the protobuf, decoded as
    trace processor does (test_export_perfetto.decode: interned strings, incremental clock)."""
    out: Counter = Counter()
    for rec in decode(path):
        args = dict(rec["args"])
        if rec["corr"]:
            args["correlation"] = rec["corr"]
        out[(rec["name"], rec["ts"], orjson.dumps(args, option=orjson.OPT_SORT_KEYS))] += 1
    return out


def chrome_args(path: Path, base_us: float) -> Counter:
    out: Counter = Counter()
    for e in orjson.loads(path.read_bytes())["traceEvents"]:
        if e.get("ph") in ("X", "b"):
            args = {
                k: v for k, v in e.get("args", {}).items() if not (k == "correlation" and v == 0)
            }
            ts = round(float(e["ts"]) * 1000 - base_us)
            out[(e["name"], ts, orjson.dumps(args, option=orjson.OPT_SORT_KEYS))] += 1
    return out


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("pfargs") / "run"
    make_serving_run(d, ranks=2, requests=3, layers=1)
    return d


def test_every_slice_has_the_chrome_args(sample: Path, tmp_path: Path) -> None:
    """Each Chrome slice (kernels: grid, block, stream, device; copies: bytes; collectives;
    requests: req id; correlation) has a Perfetto slice at the same time with equal args."""
    run = load_run(sample, cache=False)
    export_run(run, "chrome", tmp_path / "t.json")
    export_run(run, "perfetto", tmp_path / "t.pftrace")
    pf = perfetto_args(tmp_path / "t.pftrace")
    ch = chrome_args(tmp_path / "t.json", 0)
    assert sum(pf.values()) == sum(ch.values()) > 100
    assert pf == ch
    kinds: dict[str, int] = defaultdict(int)
    for _name, _, a in pf:
        kinds[",".join(sorted(orjson.loads(a)))] += 1
    assert any("grid" in k and "block" in k and "stream" in k and "device" in k for k in kinds)
    assert any("req" in k for k in kinds) and any("bytes" in k for k in kinds)
