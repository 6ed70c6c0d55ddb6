"""Fixtures for running code under the stand-in driver: a run directory, the environment, the trace."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from revati.devices.profiles import get_profile
from revati.launch.env import run_env
from revati.trace.events import run_events


@dataclass
class StandInRun:
    """The outcome of one process run under the stand-in: exit status, output, its trace events."""

    returncode: int
    stdout: str
    stderr: str
    run_dir: Path
    events: list[dict[str, Any]] = field(default_factory=list)

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["k"] == kind]

    @property
    def end(self) -> dict[str, Any]:
        ends = self.of("end")
        assert ends, f"no end line in the trace; stderr:\n{self.stderr[-2000:]}"
        return ends[-1]

    def result(self) -> Any:
        """The last stdout line that starts with RESULT, parsed as JSON."""
        lines = [ln for ln in self.stdout.splitlines() if ln.startswith("RESULT ")]
        assert lines, f"no RESULT line (rc={self.returncode}); stderr:\n{self.stderr[-3000:]}"
        return json.loads(lines[-1][len("RESULT ") :])


def read_events(run_dir: Path) -> list[dict[str, Any]]:
    """Every event as written (JSON lines and compact records alike), stream by stream; none when
    the program wrote no trace (with the trace off, only the host-time layer loaded)."""
    if not (Path(run_dir) / "events").is_dir():
        return []
    return run_events(run_dir)


@pytest.fixture
def stand_in(lib_dir: Path, tmp_path: Path):
    """run(code, gpus=1, device="h100", env={}) runs `python -c code` under the stand-in driver."""
    counter = iter(range(1000))

    def run(
        code: str,
        gpus: int = 1,
        device: str = "h100",
        env: dict[str, str] | None = None,
        timeout: float = 300,
        host_speed: float = 1.0,
        kernel_table: Path | None = None,
    ) -> StandInRun:
        run_dir = tmp_path / f"run{next(counter)}"
        run_dir.mkdir()
        (run_dir / "device.conf").write_text(get_profile(device).device_conf(gpus))
        e = run_env(run_dir, lib_dir, gpus=gpus, host_speed=host_speed, kernel_table=kernel_table)
        e.pop("CUDA_VISIBLE_DEVICES", None)
        # these tests look at individual calls: every call written (the default level counts
        # pure queries instead; tests/integration/test_trace_level.py covers it)
        e["REVATI_TRACE_LEVEL"] = "verbose"
        e.update(env or {})
        p = subprocess.run(
            [sys.executable, "-c", code], env=e, capture_output=True, text=True, timeout=timeout
        )
        return StandInRun(p.returncode, p.stdout, p.stderr, run_dir, read_events(run_dir))

    return run


@pytest.fixture
def stand_in_script(stand_in, tmp_path: Path):
    """run(source, *argv, **stand_in_kw) writes source as a script file (for the subprocesses that
    re-run it through __file__) and runs it as __main__ with sys.argv[1:] = argv under stand_in."""
    counter = iter(range(1000))

    def run(source: str, *argv: str, **kw: Any) -> StandInRun:
        script = tmp_path / f"script{next(counter)}.py"
        script.write_text(source)
        code = (
            f"import runpy, sys; sys.argv = {[str(script), *argv]!r}; "
            f"runpy.run_path({str(script)!r}, run_name='__main__')"
        )
        return stand_in(code, **kw)

    return run
