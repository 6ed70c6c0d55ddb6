"""`revati export --window START:END`: only the events starting in the window, for long runs."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson

SAMPLE = Path(__file__).resolve().parents[2] / "traces" / "sample-run"


def test_window_keeps_only_its_events(tmp_path: Path, cli) -> None:
    """A 5 ms window of the sample run: fewer slices, each starting inside the window."""
    run = tmp_path / "s"
    shutil.copytree(SAMPLE, run, ignore=shutil.ignore_patterns(".cache", "trace.*"))
    code, out, _ = cli(
        "export", str(run), "--format", "chrome", "--out", str(tmp_path / "all.json")
    )
    assert code == 0
    code, out, _ = cli(
        "export",
        str(run),
        "--format",
        "chrome",
        "--window",
        "2:7",
        "--out",
        str(tmp_path / "w.json"),
    )
    assert code == 0
    full = [
        e
        for e in orjson.loads((tmp_path / "all.json").read_bytes())["traceEvents"]
        if e.get("ph") == "X"
    ]
    win = [
        e
        for e in orjson.loads((tmp_path / "w.json").read_bytes())["traceEvents"]
        if e.get("ph") == "X"
    ]
    assert 0 < len(win) < len(full)
    t0 = min(float(e["ts"]) for e in full)  # us; both exports count from the run's first event
    assert all(2000 <= float(e["ts"]) - t0 < 7000 for e in win)


def test_bad_window_is_one_line(tmp_path: Path, cli) -> None:
    """A window that is not START:END with END after START: one error line, exit 1."""
    for bad in ("5", "7:2", "a:b"):
        code, _, err = cli(
            "export", str(SAMPLE), "--window", bad, "--out", str(tmp_path / "x.json")
        )
        assert code == 1 and err.count("\n") == 1 and "--window" in err
