"""`revati record --overwrite` replaces a revati run only: never a folder of the user's."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def revati(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "revati", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


def test_overwrite_refuses_a_users_folder(tmp_path: Path) -> None:
    """A folder without manifest.json survives --overwrite, with a one-line refusal."""
    mine = tmp_path / "work"
    mine.mkdir()
    (mine / "script.py").write_text("print('mine')")
    r = revati("record", "--overwrite", "--out", str(mine), "--", "true")
    assert r.returncode == 1 and "not a revati run" in r.stderr
    assert (mine / "script.py").read_text() == "print('mine')"


def test_overwrite_refuses_the_current_directory(tmp_path: Path) -> None:
    """--overwrite --out . (even a revati run) is refused: it holds the current directory."""
    run = tmp_path / "run"
    assert revati("record", "--out", str(run), "--", "true").returncode == 0
    (run / "notes.txt").write_text("keep")
    r = revati("record", "--overwrite", "--out", ".", "--", "true", cwd=run)
    assert r.returncode == 1 and "current directory" in r.stderr
    assert (run / "notes.txt").read_text() == "keep"


def test_overwrite_replaces_a_run(tmp_path: Path) -> None:
    """A previous run (manifest present) is replaced."""
    run = tmp_path / "run"
    assert revati("record", "--out", str(run), "--", "true").returncode == 0
    (run / "stale.txt").write_text("old")
    assert revati("record", "--overwrite", "--out", str(run), "--", "true").returncode == 0
    assert not (run / "stale.txt").exists() and (run / "manifest.json").is_file()


def test_manifest_written_at_start(tmp_path: Path) -> None:
    """The manifest exists while the command runs (a run whose revati was killed is still a run)."""
    run = tmp_path / "run"
    code = f"import os, sys; sys.exit(0 if os.path.isfile({str(run / 'manifest.json')!r}) else 5)"
    r = revati("record", "--out", str(run), "--", sys.executable, "-c", code)
    assert r.returncode == 0, r.stderr
    assert os.path.isfile(run / "manifest.json")
