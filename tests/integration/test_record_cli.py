"""`revati record` end to end: exit codes, errors, the run directory, stragglers."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import orjson

from revati.trace import stream_events
from revati.trace.schema import SCHEMA_VERSION


def revati(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "revati", *args], capture_output=True, text=True, timeout=timeout
    )


def py(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_exit_status_is_the_commands(tmp_path: Path) -> None:
    """record exits with the recorded command's exit code."""
    r = revati("record", "--out", str(tmp_path / "run"), "--", *py("import sys; sys.exit(3)"))
    assert r.returncode == 3, r.stderr
    manifest = orjson.loads((tmp_path / "run" / "manifest.json").read_bytes())
    assert manifest["exit_status"] == 3
    assert manifest["schema_version"] == SCHEMA_VERSION


def test_markers_and_manifest(tmp_path: Path) -> None:
    """Markers written by revati.markers land in the process's stream; the manifest lists it."""
    code = "import revati.markers as m; assert m.active(); m.request_arrival('r1'); m.request_finish('r1')"
    r = revati(
        "record", "--gpus", "2", "--device", "a100", "--out", str(tmp_path / "run"), "--", *py(code)
    )
    assert r.returncode == 0, r.stderr
    run = tmp_path / "run"
    manifest = orjson.loads((run / "manifest.json").read_bytes())
    assert manifest["device"] == "A100-SXM4-80GB" and manifest["num_gpus"] == 2
    assert len(manifest["processes"]) == 1
    lines = (run / manifest["processes"][0]["file"]).read_bytes().splitlines()
    events = [orjson.loads(x) for x in lines]
    assert events[0]["k"] == "proc" and events[-1]["k"] == "end"
    names = [e["name"] for e in events if e["k"] == "marker"]
    assert names == ["request_arrival", "request_finish"]
    assert [e["seq"] for e in events] == list(range(len(events)))
    conf = (run / "device.conf").read_text()
    assert "sm_count=108" in conf and "count=2" in conf


def test_command_not_found(tmp_path: Path) -> None:
    """A missing command is one line and exit 1, no traceback."""
    r = revati("record", "--out", str(tmp_path / "run"), "--", "no-such-command-xyz")
    assert r.returncode == 1
    assert r.stderr.strip() == "Error: command not found: no-such-command-xyz"


def test_unknown_device_and_predictor(tmp_path: Path) -> None:
    """Unknown names list the choices in one line."""
    r = revati("record", "--device", "v100", "--out", str(tmp_path / "a"), "--", "true")
    assert (
        r.returncode == 1
        and "unknown device 'v100'" in r.stderr
        and len(r.stderr.strip().splitlines()) == 1
    )
    r = revati("record", "--predictor", "magic", "--out", str(tmp_path / "b"), "--", "true")
    assert r.returncode == 1 and "unknown predictor 'magic'" in r.stderr


def test_existing_run_dir_needs_overwrite(tmp_path: Path) -> None:
    """An existing, non-empty run directory is not silently replaced."""
    out = tmp_path / "run"
    assert revati("record", "--out", str(out), "--", "true").returncode == 0
    r = revati("record", "--out", str(out), "--", "true")
    assert r.returncode == 1 and "--overwrite" in r.stderr
    assert revati("record", "--overwrite", "--out", str(out), "--", "true").returncode == 0


def test_crash_is_reported(tmp_path: Path) -> None:
    """A process killed by a signal ends the run with a clear error and a non-zero exit; what it
    wrote before the kill is kept, and the manifest has its real pid and how it ended."""
    code = "import os, signal, revati.markers as m; m.mark('before'); os.kill(os.getpid(), signal.SIGKILL)"
    r = revati("record", "--out", str(tmp_path / "run"), "--", *py(code))
    assert r.returncode == 128 + 9
    assert "killed by signal 9 (SIGKILL)" in r.stderr
    manifest = orjson.loads((tmp_path / "run" / "manifest.json").read_bytes())
    (p,) = manifest["processes"]
    assert isinstance(p["pid"], int) and p["pid"] > 0
    assert p["ended"] == "killed by SIGKILL (trace kept up to the kill)"
    events = [orjson.loads(x) for x in (tmp_path / "run" / p["file"]).read_bytes().splitlines()]
    assert [e["name"] for e in events if e["k"] == "marker"] == ["before"]


def test_stragglers_are_ended(tmp_path: Path) -> None:
    """A child left running after the command exits is ended: the run never hangs."""
    code = (
        "import subprocess, sys; "
        "subprocess.Popen([sys.executable, '-c', 'import signal; signal.pause()'])"
    )
    t0 = time.monotonic()
    r = revati("record", "--out", str(tmp_path / "run"), "--", *py(code), timeout=60)
    assert r.returncode == 0, r.stderr
    assert time.monotonic() - t0 < 30


def test_deterministic_stream_names(tmp_path: Path) -> None:
    """--deterministic names streams by logical process id and writes no wall times."""
    code = "import revati.markers as m; m.mark('x')"
    r = revati("record", "--deterministic", "--out", str(tmp_path / "run"), "--", *py(code))
    assert r.returncode == 0, r.stderr
    stream = tmp_path / "run" / "events" / "proc-0.jsonl"
    events = stream_events(stream)
    assert events[0]["pid"] == 0 and events[0]["tid"] == 1
    assert all(e.get("wt_ns", 0) == 0 for e in events)
