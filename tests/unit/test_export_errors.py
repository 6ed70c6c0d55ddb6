"""`revati export` failures are one line and a non-zero exit, never a traceback or a partial file."""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

import pytest

from revati.trace.synthetic import make_serving_run


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("exp") / "run"
    make_serving_run(d, ranks=2, requests=2, layers=1)
    return d


def revati(*args: str, limit_bytes: int | None = None) -> subprocess.CompletedProcess[str]:
    def limit() -> None:
        if limit_bytes is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    return subprocess.run(
        [sys.executable, "-m", "revati", *args],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=limit,
    )


def _one_line(r: subprocess.CompletedProcess[str]) -> str:
    lines = [ln for ln in r.stderr.splitlines() if ln.strip() and "WARNING" not in ln]
    assert r.returncode == 1 and len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    return lines[0]


@pytest.mark.parametrize("fmt", ["chrome", "perfetto"])
def test_out_is_a_directory(run: Path, tmp_path: Path, fmt: str) -> None:
    """--out naming a folder: one line saying so."""
    line = _one_line(revati("export", str(run), "--format", fmt, "--out", str(tmp_path)))
    assert "is a directory" in line


def test_unwritable_place(run: Path) -> None:
    """A place no file can be created in: one line with the system's reason."""
    line = _one_line(revati("export", str(run), "--out", "/proc/self/trace.json"))
    assert line.startswith("Error: cannot write /proc/self/trace.json:")


@pytest.mark.parametrize("fmt", ["chrome", "perfetto"])
def test_full_disk_leaves_no_partial_file(run: Path, tmp_path: Path, fmt: str) -> None:
    """The file size limit (a full disk) stops the export: one line, and neither the file nor a
    partial temporary file is left."""
    out = tmp_path / f"t.{fmt}"
    line = _one_line(
        revati("export", str(run), "--format", fmt, "--out", str(out), limit_bytes=4096)
    )
    assert "cannot write" in line and "File too large" in line
    assert list(tmp_path.iterdir()) == []


def test_record_out_is_a_file(tmp_path: Path) -> None:
    """record --out naming an existing file: one line, and the file is untouched."""
    f = tmp_path / "notes.txt"
    f.write_text("mine")
    line = _one_line(revati("record", "--out", str(f), "--", "true"))
    assert "is a file" in line and f.read_text() == "mine"
