"""The `revati export | report | diff` commands: exit codes and the one-line errors."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from revati.trace.synthetic import make_serving_run

KW = {"ranks": 2, "requests": 2, "layers": 1}


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("cli")
    make_serving_run(d / "a", **KW)
    make_serving_run(d / "b", **KW)
    make_serving_run(d / "slow", kernel_scale=1.1, **KW)
    return d


def test_export_both_formats(runs: Path, tmp_path: Path, cli) -> None:
    """Exports write their files and say what they wrote; exit 0."""
    code, out, _ = cli(
        "export", str(runs / "a"), "--format", "chrome", "--out", str(tmp_path / "t.json")
    )
    assert code == 0 and "slices" in out
    assert orjson.loads((tmp_path / "t.json").read_bytes())["traceEvents"]
    code, out, _ = cli(
        "export",
        str(runs / "a"),
        "--format",
        "perfetto",
        "--out",
        str(tmp_path / "t.pftrace"),
    )
    assert code == 0 and (tmp_path / "t.pftrace").stat().st_size > 0


def test_export_one_rank(runs: Path, tmp_path: Path, cli) -> None:
    """--rank keeps only that rank's processes."""
    code, _, _ = cli(
        "export",
        str(runs / "a"),
        "--format",
        "chrome",
        "--rank",
        "1",
        "--out",
        str(tmp_path / "r1.json"),
    )
    evs = orjson.loads((tmp_path / "r1.json").read_bytes())["traceEvents"]
    names = {e["args"]["name"] for e in evs if e.get("name") == "process_name"}
    assert code == 0 and names and all(n.startswith("rank 1") for n in names)


def test_export_per_rank_folder(runs: Path, tmp_path: Path, cli) -> None:
    """--per-rank writes rank-<r>.json into a folder, each with its own distributedInfo rank."""
    code, out, _ = cli(
        "export",
        str(runs / "a"),
        "--format",
        "chrome",
        "--per-rank",
        "--out",
        str(tmp_path / "hta"),
    )
    assert code == 0 and out.count("wrote") == 2
    for r in (0, 1):
        j = orjson.loads((tmp_path / "hta" / f"rank-{r}.json").read_bytes())
        assert j["distributedInfo"]["rank"] == r


def test_report_text_and_json(runs: Path, cli) -> None:
    """Text by default, JSON with --json."""
    code, out, _ = cli("report", str(runs / "a"))
    assert code == 0 and "virtual" in out and "TTFT" in out
    code, out, _ = cli("report", str(runs / "a"), "--json")
    d = orjson.loads(out)
    assert code == 0 and d["virtual_ns"] > 0 and d["serving"]["requests"] == 2


def test_diff_exit_codes(runs: Path, cli) -> None:
    """0 for identical runs; 1 beyond the tolerance; 0 within it; --json parses."""
    assert cli("diff", str(runs / "a"), str(runs / "b"))[0] == 0
    code, out, _ = cli("diff", str(runs / "a"), str(runs / "slow"), "--tolerance", "5")
    assert code == 1 and "FAIL" in out
    assert cli("diff", str(runs / "a"), str(runs / "slow"), "--tolerance", "15")[0] == 0
    code, out, _ = cli("diff", str(runs / "a"), str(runs / "slow"), "--json", "--tolerance", "5")
    assert code == 1 and orjson.loads(out)["passed"] is False


def _one_error_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize("cmd", ["report", "export", "diff"])
def test_missing_run(cmd: str, tmp_path: Path, runs: Path, cli) -> None:
    """A run that does not exist: one 'Error:' line, exit 1 (diff: 2, its error status)."""
    args = [cmd, str(tmp_path / "nope")] + ([str(runs / "a")] if cmd == "diff" else [])
    code, _, err = cli(*args)
    line = _one_error_line(err)
    assert code == (2 if cmd == "diff" else 1)
    assert line.startswith("Error: ") and "no such run directory" in line


def test_wrong_schema_version(runs: Path, tmp_path: Path, cli) -> None:
    """A manifest of schema 9.0: one line naming the version, exit 1."""
    import shutil

    shutil.copytree(runs / "a", tmp_path / "r")
    p = tmp_path / "r" / "manifest.json"
    d = orjson.loads(p.read_bytes())
    d["schema_version"] = "9.0"
    p.write_bytes(orjson.dumps(d))
    code, _, err = cli("report", str(tmp_path / "r"))
    line = _one_error_line(err)
    assert code == 1 and "schema version 9.0 is not supported" in line


def test_corrupt_stream(runs: Path, tmp_path: Path, cli) -> None:
    """Garbage in the middle of a stream: one line with file and line number, exit 1."""
    import shutil

    shutil.copytree(runs / "a", tmp_path / "r", ignore=shutil.ignore_patterns(".cache"))
    p = next((tmp_path / "r" / "events").glob("proc-*.jsonl"))
    lines = p.read_bytes().split(b"\n")
    lines[5] = b"\x00\x01garbage"
    p.write_bytes(b"\n".join(lines))
    code, _, err = cli("export", str(tmp_path / "r"), "--out", str(tmp_path / "t.pftrace"))
    line = _one_error_line(err)
    assert code == 1 and f"{p.name}:6: corrupt event line" in line


def test_cut_off_run_reports_with_a_warning(runs: Path, tmp_path: Path) -> None:
    """A crash mid-write: the report still comes out (exit 0) and stderr warns (real process)."""
    import shutil
    import subprocess
    import sys

    shutil.copytree(runs / "a", tmp_path / "r", ignore=shutil.ignore_patterns(".cache"))
    p = next((tmp_path / "r" / "events").glob("proc-*.jsonl"))
    data = p.read_bytes()
    p.write_bytes(data[: len(data) - 40])
    r = subprocess.run(
        [sys.executable, "-m", "revati", "report", str(tmp_path / "r")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0 and "virtual" in r.stdout
    assert "cut off" in r.stderr and "WARNING" in r.stderr and "Traceback" not in r.stderr


def test_bad_format_is_a_usage_error(runs: Path, cli) -> None:
    """An unknown --format is click's usage error (exit 2)."""
    code, _, err = cli("export", str(runs / "a"), "--format", "svg")
    assert code == 2 and "svg" in err
