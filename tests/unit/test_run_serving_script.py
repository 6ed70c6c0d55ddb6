"""examples/run_serving.sh (the README's main command) checks its arguments before any set-up: help,
and a one-line error with a non-zero exit for bad input (the recording itself needs vLLM: not in CI)."""

from __future__ import annotations

import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "run_serving.sh"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT), *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_help_lists_the_options() -> None:
    r = run("--help")
    assert r.returncode == 0
    for opt in ("--model", "--rates", "--warmups", "--timeout", "REVATI_VLLM_VENV"):
        assert opt in r.stdout


def test_bad_arguments_fail_in_one_line_before_set_up() -> None:
    for args in (
        ("--bogus",),
        ("--timeout", "soon"),
        ("--warmups", "-1"),
        ("--model", "no/such/model"),
    ):
        r = run(*args)
        assert r.returncode != 0, args
        assert r.stderr.startswith("revati: error: ") and r.stderr.count("\n") == 1, r.stderr
        assert "set-up" not in r.stdout  # it stopped before installing anything
