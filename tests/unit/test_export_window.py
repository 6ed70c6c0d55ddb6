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


def test_a_run_past_max_slices_is_written_in_time_window_parts(tmp_path: Path, cli) -> None:
    """--max-slices below the run's size: several files, each within the limit, whose slices
    together are the whole export's, in consecutive windows; the message says so."""
    run = tmp_path / "s"
    shutil.copytree(SAMPLE, run, ignore=shutil.ignore_patterns(".cache", "trace.*"))
    code, out, _ = cli("export", str(run), "--format", "chrome", "--out", str(tmp_path / "a.json"))
    assert code == 0 and "part" not in out
    full = [
        e
        for e in orjson.loads((tmp_path / "a.json").read_bytes())["traceEvents"]
        if e.get("ph") == "X"
    ]
    limit = len(full) // 3
    code, out, _ = cli(
        "export", str(run), "--format", "chrome", "--max-slices", str(limit),
        "--out", str(tmp_path / "p.json"),
    )  # fmt: skip
    assert code == 0 and "by time window" in out, out
    parts = sorted(tmp_path.glob("p.part-*.json"))
    assert len(parts) >= 3 and not (tmp_path / "p.json").exists()
    got = []
    for p in parts:
        evs = [e for e in orjson.loads(p.read_bytes())["traceEvents"] if e.get("ph") == "X"]
        assert len(evs) <= limit * 1.1 + 50
        got.append(evs)
    assert sum(len(g) for g in got) == len(full)
    key = sorted((e["name"], e["ts"]) for e in full)
    assert sorted((e["name"], e["ts"]) for g in got for e in g) == key
