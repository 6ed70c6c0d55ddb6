"""`revati diff` exit codes: 0 same, 1 differ, 2 error, 3 not comparable (different devices)."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import pytest

from revati.cli import main
from revati.trace.synthetic import make_serving_run

KW = {"ranks": 2, "requests": 2, "layers": 1}


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as e:
        main(list(argv))
        raise SystemExit(0)
    out = capsys.readouterr()
    return int(e.value.code or 0), out.out, out.err


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("diffcodes")
    make_serving_run(d / "a", **KW)
    make_serving_run(d / "slow", kernel_scale=1.1, **KW)
    shutil.copytree(d / "a", d / "a100", ignore=shutil.ignore_patterns(".cache"))
    m = orjson.loads((d / "a100" / "manifest.json").read_bytes())
    m["device"] = "A100-SXM4-80GB"
    (d / "a100" / "manifest.json").write_bytes(orjson.dumps(m))
    return d


def test_same_and_differ(runs: Path, capsys) -> None:
    """0 for a run against itself, 1 for a run beyond the tolerance."""
    assert run_cli(capsys, "diff", str(runs / "a"), str(runs / "a"))[0] == 0
    code, out, _ = run_cli(capsys, "diff", str(runs / "a"), str(runs / "slow"))
    assert code == 1 and "FAIL" in out


def test_errors_are_not_differences(runs: Path, tmp_path: Path, capsys) -> None:
    """A missing or corrupt run is exit 2 with one error line, not the 'differ' status 1."""
    code, out, err = run_cli(capsys, "diff", str(runs / "a"), str(tmp_path / "nope"))
    assert code == 2 and out == "" and err.count("\n") == 1 and "no such run directory" in err
    bad = tmp_path / "bad"
    shutil.copytree(runs / "a", bad, ignore=shutil.ignore_patterns(".cache"))
    (bad / "manifest.json").write_text('{"schema_version": "9.0"}')
    code, _, err = run_cli(capsys, "diff", str(runs / "a"), str(bad))
    assert code == 2 and "schema version 9.0" in err


def test_devices_differ_is_not_comparable(runs: Path, capsys) -> None:
    """An H100 run against an A100 run says the devices differ and exits 3; --across-devices
    compares them (identical events: exit 0)."""
    code, out, _ = run_cli(capsys, "diff", str(runs / "a"), str(runs / "a100"))
    assert code == 3
    assert "NOT COMPARABLE: device H100-SXM-80GB vs A100-SXM4-80GB" in out
    code, out, _ = run_cli(capsys, "diff", str(runs / "a"), str(runs / "a100"), "--json")
    assert code == 3 and orjson.loads(out)["not_comparable"] == [
        "device H100-SXM-80GB vs A100-SXM4-80GB"
    ]
    code, out, _ = run_cli(capsys, "diff", str(runs / "a"), str(runs / "a100"), "--across-devices")
    assert code == 0 and "NOT COMPARABLE" in out and "PASS" in out
