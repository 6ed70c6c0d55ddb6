"""Progress goes to stderr only when it is a terminal: a pty sees it, a pipe does not."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from revati.trace.synthetic import make_serving_run


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("prog") / "run"
    make_serving_run(d, ranks=1, requests=2, layers=1)
    return d


def _stderr_on_a_pty(args: list[str]) -> tuple[int, bytes]:
    master, slave = pty.openpty()
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the pty closes when the child exits
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    return p.wait(timeout=120), out


@pytest.mark.parametrize("cmd", ["report", "export"])
def test_progress_on_a_terminal_only(run: Path, tmp_path: Path, cmd: str) -> None:
    """On a terminal the steps show and are cleared; into a pipe stderr stays empty."""
    extra = ["--out", str(tmp_path / "t.pftrace")] if cmd == "export" else []
    args = [sys.executable, "-m", "revati", cmd, str(run), *extra]
    code, err = _stderr_on_a_pty(args)
    assert code == 0, err
    assert b"revati: loading" in err and b"\r\x1b[K" in err
    if cmd == "export":
        assert b"writing" in err
    piped = subprocess.run(args, capture_output=True, timeout=120)
    assert piped.returncode == 0 and piped.stderr == b""
