"""Flows run forward in time: launch -> kernel and rank -> rank collective arrows never end before
they start (the bundled sample run had 16 that did)."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson

from revati.exporters import export_run
from revati.trace import load_run

SAMPLE = Path(__file__).resolve().parents[2] / "traces" / "sample-run"


def test_sample_run_flows_go_forward(tmp_path: Path) -> None:
    """In the Chrome export of traces/sample-run each flow's finish is at or after its start."""
    run_dir = tmp_path / "s"
    shutil.copytree(SAMPLE, run_dir, ignore=shutil.ignore_patterns(".cache", "trace.*"))
    export_run(load_run(run_dir), "chrome", tmp_path / "t.json")
    starts, ends = {}, {}
    for e in orjson.loads((tmp_path / "t.json").read_bytes())["traceEvents"]:
        if e.get("ph") == "s":
            starts[(e["cat"], e["id"])] = float(e["ts"])
        elif e.get("ph") == "f":
            ends[(e["cat"], e["id"])] = float(e["ts"])
    assert starts.keys() == ends.keys() and len(starts) > 100
    backward = [k for k in starts if ends[k] < starts[k]]
    assert backward == []
    assert any(cat == "collective_comm" for cat, _ in starts)
