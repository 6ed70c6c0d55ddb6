"""The bundled example and large models under the stand-in driver (CUDA build of torch, no GPU)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from revati.trace import run_events, stream_events

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "llama_decode.py"

pytestmark = pytest.mark.torch


def record(out: Path, *cmd: str, extra: tuple[str, ...] = (), timeout: float = 600):
    return subprocess.run(
        [sys.executable, "-m", "revati", "record", "--out", str(out), *extra, "--", *cmd],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def events(run: Path) -> list[dict]:
    return run_events(run)


def test_example_runs_and_traces(tmp_path: Path) -> None:
    """The bundled example runs on a virtual H100: kernels with names and shapes, markers, a clean end."""
    run = tmp_path / "run"
    r = record(
        run, sys.executable, str(EXAMPLE), "--shape", "tiny", "--requests", "2",
        "--prompt-len", "16", "--decode-steps", "4",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    assert "NVIDIA H100 80GB HBM3" in r.stdout
    ev = events(run)
    kernels = [e for e in ev if e["k"] == "kernel"]
    assert len(kernels) > 100
    for k in kernels[:50]:
        assert k["name"] and len(k["grid"]) == 3 and len(k["block"]) == 3
        assert k["end_ns"] > k["ts_ns"]
    markers = [e["name"] for e in ev if e["k"] == "marker"]
    assert markers.count("request_arrival") == 2 and markers.count("token") == 8
    assert ev[-1]["k"] == "end"


def test_8b_model_costs_no_host_memory(tmp_path: Path) -> None:
    """An 8B-shaped model allocated on the 80 GB virtual device keeps peak RSS under 3 GB."""
    code = (
        f"import resource, sys, torch; sys.path.insert(0, {str(EXAMPLE.parent)!r}); "
        "from llama_decode import build_model; m = build_model('8b', 'cuda'); torch.cuda.synchronize(); "
        "n = sum(p.numel() for p in m.parameters()); "
        "print(n, torch.cuda.memory_allocated(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    r = record(tmp_path / "run", sys.executable, "-c", code)
    assert r.returncode == 0, r.stderr[-3000:]
    params, allocated, maxrss_kb = (int(x) for x in r.stdout.split())
    assert params > 7.5e9
    assert allocated >= 2 * params  # bf16 on the virtual device
    assert maxrss_kb < 3 * 1024 * 1024


def _without_program_bytes(stream: Path) -> list[bytes]:
    """The stream's events with each kernel's `args` and `sig` taken out: they are the program's own
    parameter bytes, which include uninitialised padding and unused struct members (torch's
    OffsetCalculator arrays, empty functors) that differ from run to run whatever revati does."""
    lines = []
    for ev in stream_events(stream):
        if ev["k"] == "kernel":
            ev.pop("args", None), ev.pop("sig", None)
        lines.append(orjson.dumps(ev))
    return lines


def test_deterministic_runs_are_byte_identical(tmp_path: Path) -> None:
    """Three --deterministic runs of the bundled example give identical event streams (byte for byte
    but for the kernels' own parameter bytes)."""
    cmd = (
        sys.executable, str(EXAMPLE), "--shape", "tiny", "--requests", "1",
        "--prompt-len", "8", "--decode-steps", "3",
    )  # fmt: skip
    streams = []
    for i in range(3):
        run = tmp_path / f"run{i}"
        r = record(run, *cmd, extra=("--deterministic",))
        assert r.returncode == 0, r.stderr[-3000:]
        files = sorted((run / "events").glob("proc-*.jsonl"))
        assert [f.name for f in files] == ["proc-0.jsonl"]
        streams.append(files[0])
    assert any(ev["k"] == "kernel" and "sig" in ev for ev in stream_events(streams[0]))
    lines = [_without_program_bytes(s) for s in streams]
    assert lines[0] == lines[1] == lines[2]
