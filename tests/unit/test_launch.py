"""revati.launch: the environment of an emulated run, and the supervisor around the command."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from revati.devices import get_profile
from revati.errors import RevatiError, RunError
from revati.launch.env import run_env
from revati.launch.supervisor import (
    RunConfig,
    RunResult,
    prepare_run_dir,
    raise_for,
    record,
    scan_streams,
)
from revati.trace import RunWriter, read_manifest
from revati.trace.files import read_device_conf


def test_env_puts_the_stand_ins_first(tmp_path: Path) -> None:
    """The stand-in folder leads LD_LIBRARY_PATH once; librevati.so leads LD_PRELOAD, then the
    library-call interposer, then what the caller preloaded."""
    lib = tmp_path / "lib"
    base = {"LD_LIBRARY_PATH": f"/x:{lib.resolve()}:/y", "LD_PRELOAD": "libfoo.so", "KEEP": "1"}
    env = run_env(tmp_path / "run", lib, base=base)
    assert env["LD_LIBRARY_PATH"] == f"{lib.resolve()}:/x:/y"
    ours = [lib.resolve() / "librevati.so", lib.resolve() / "librevati_libcalls.so"]
    assert env["LD_PRELOAD"] == " ".join([*map(str, ours), "libfoo.so"])
    assert env["KEEP"] == "1" and base["LD_PRELOAD"] == "libfoo.so"  # the base is not changed


def test_env_carries_the_run_settings(tmp_path: Path) -> None:
    env = run_env("run", tmp_path, gpus=4, host_speed=0.5, kernel_table="k.tsv", base={})
    assert Path(env["REVATI_RUN_DIR"]).is_absolute() and env["REVATI_RUN_DIR"].endswith("run")
    assert env["REVATI_GPUS"] == "4" and float(env["REVATI_HOST_SPEED"]) == 0.5
    assert Path(env["REVATI_KERNEL_TABLE"]).is_absolute()
    assert "REVATI_DETERMINISTIC" not in env


def test_env_deterministic_switch_and_no_preload(tmp_path: Path) -> None:
    """deterministic sets the switch, and clears one inherited from the caller."""
    on = run_env("r", tmp_path, deterministic=True, base={})
    assert on["REVATI_DETERMINISTIC"] == "1"
    off = run_env("r", tmp_path, base={"REVATI_DETERMINISTIC": "1"})
    assert "REVATI_DETERMINISTIC" not in off
    assert "LD_PRELOAD" not in run_env("r", tmp_path, preload=False, base={})


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"command": []}, "no command given"),
        ({"gpus": 0}, "--gpus 0 is out of range"),
        ({"gpus": 65}, "--gpus 65 is out of range"),
        ({"host_speed": 0.0}, "--host-speed 0.0 must be positive"),
    ],
)
def test_run_config_refuses_bad_settings(tmp_path: Path, kw: dict, message: str) -> None:
    args = {"command": ["true"], "out": tmp_path, "device": get_profile("h100"), **kw}
    with pytest.raises(RevatiError, match=message):
        RunConfig(**args)


def test_run_dir_needs_overwrite(tmp_path: Path) -> None:
    """A non-empty run directory is kept unless overwrite is asked for, and overwrite replaces
    only a revati run (manifest.json present)."""
    out = tmp_path / "run"
    prepare_run_dir(out, overwrite=False)
    (out / "old.txt").write_text("x")
    with pytest.raises(RevatiError, match="exists and is not empty"):
        prepare_run_dir(out, overwrite=False)
    with pytest.raises(RevatiError, match="is not a revati run"):
        prepare_run_dir(out, overwrite=True)
    (out / "manifest.json").write_text("{}")
    prepare_run_dir(out, overwrite=True)
    assert not (out / "old.txt").exists() and (out / "events").is_dir()


def test_scan_streams_reports_crashes_and_fatal_errors(tmp_path: Path) -> None:
    """A stream left as .jsonl.tmp and one ending in a fatal line are both problems."""
    w = RunWriter(tmp_path / "run")
    ok = w.process(10, 0)
    ok.end(5)
    crashed = w.process(11, 1)
    crashed.kernel("k", 0, 1)
    crashed.abort()  # type: ignore[union-attr]
    fatal = w.process(12, 2)
    fatal.emit("fatal", None, msg="REVATI_X=y: expected a non-negative integer")
    w.finish(manifest=False)
    procs, problems = scan_streams(tmp_path / "run")
    assert [(p["pid"], p["rank"]) for p in procs] == [(10, 0), (11, 1), (12, 2)]
    assert procs[1]["file"] == "events/proc-11.jsonl.tmp"
    assert problems == [
        "process 11: ended without closing its trace (SIGKILL, or a crash; trace kept up to it)",
        "process 12: revati fatal error: REVATI_X=y: expected a non-negative integer",
    ]


def test_raise_for_carries_the_exit_status(tmp_path: Path) -> None:
    """A failed run raises RunError with the command's status; status 0 with problems gives 1."""
    raise_for(RunResult(tmp_path, 0, 1, [], []))
    with pytest.raises(RunError) as e:
        raise_for(RunResult(tmp_path, 3, 1, [], ["process 7 crashed"]))
    assert e.value.exit_code == 3 and str(e.value) == "process 7 crashed"
    with pytest.raises(RunError) as e:
        raise_for(RunResult(tmp_path, 0, 1, [], ["a", "b"]))
    assert e.value.exit_code == 1 and str(e.value) == "a; b"


def _cfg(tmp_path: Path, code: str) -> RunConfig:
    cmd = [sys.executable, "-c", code]
    return RunConfig(command=cmd, out=tmp_path / "run", device=get_profile("h200"), gpus=2)


def test_record_writes_the_run(tmp_path: Path, lib_dir: Path) -> None:
    """record() runs the command with the stand-ins, writes device.conf and the manifest, and
    returns the command's exit status."""
    code = "import os, sys; print(os.environ['REVATI_GPUS']); sys.exit(3)"
    result = record(_cfg(tmp_path, code), lib_dir)
    assert result.exit_status == 3 and result.problems == []
    run = tmp_path / "run"
    m = read_manifest(run)
    assert m is not None and m.exit_status == 3 and m.device == "H200-SXM-141GB"
    assert m.num_gpus == 2 and m.command[-1] == code
    assert read_device_conf(run) == {
        k: str(v) for k, v in get_profile("h200").conf_values(2).items()
    }


def test_record_reports_a_killed_command(tmp_path: Path, lib_dir: Path) -> None:
    """A command killed by a signal: status 128 + signal, and the kill among the problems."""
    code = "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"
    result = record(_cfg(tmp_path, code), lib_dir)
    assert result.exit_status == 128 + 9
    assert "the command was killed by signal 9 (SIGKILL)" in result.problems
    with pytest.raises(RunError) as e:
        raise_for(result)
    assert e.value.exit_code == 137
    manifest = orjson.loads((tmp_path / "run" / "manifest.json").read_bytes())
    assert "the command was killed by signal 9 (SIGKILL)" in manifest["problems"]


def test_command_not_found(tmp_path: Path, lib_dir: Path) -> None:
    cfg = RunConfig(command=["no-such-command-xyz"], out=tmp_path / "r", device=get_profile("h100"))
    with pytest.raises(RevatiError, match="command not found: no-such-command-xyz"):
        record(cfg, lib_dir)
    exe = tmp_path / "not-exec"
    exe.write_text("#!/bin/sh\n")
    os.chmod(exe, 0o644)
    cfg = RunConfig(command=[str(exe)], out=tmp_path / "r2", device=get_profile("h100"))
    with pytest.raises(RevatiError, match="is not executable"):
        record(cfg, lib_dir)


def _signal_end(stream: Any, sig: int) -> None:
    """An end line that a terminating signal wrote (the native writer's form)."""
    stream.emit("end", None, ts_ns=9, wt_ns=9, overhead_ns=0, unimpl={}, missing={}, signal=sig)
    stream.ended = True


def test_scan_streams_forgives_shutdown_signals_of_other_processes(tmp_path: Path) -> None:
    """A process other than the command that a shutdown signal ended, trace closed (a pool's worker,
    or what revati's SIGTERM ended after the command exited), is no failure; a crash signal is."""
    w = RunWriter(tmp_path / "run")
    w.process(20, -1).end(5)
    _signal_end(w.process(21, -1), int(signal.SIGTERM))
    _signal_end(w.process(22, -1), int(signal.SIGSEGV))
    w.finish(manifest=False)
    procs, problems = scan_streams(tmp_path / "run", root=(20, 0), reaped=True)
    assert "ended by revati's SIGTERM" in procs[1]["ended"]
    assert problems == ["process 22: killed by SIGSEGV (trace closed)"]
    procs, problems = scan_streams(tmp_path / "run", root=(20, 0), reaped=False)
    assert procs[1]["ended"] == "killed by SIGTERM (trace closed)"
    assert problems == ["process 22: killed by SIGSEGV (trace closed)"]
    _, problems = scan_streams(tmp_path / "run", root=(21, -15))
    assert problems == [
        "process 21: killed by SIGTERM (trace closed)",
        "process 22: killed by SIGSEGV (trace closed)",
    ]
