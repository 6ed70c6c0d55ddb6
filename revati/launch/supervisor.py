"""Run a command as an emulated run: prepare the run directory, supervise the process, write the manifest."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from revati.devices import DeviceProfile
from revati.errors import RevatiError, RunError
from revati.launch.env import run_env
from revati.trace.files import scan_heads
from revati.trace.manifest import Manifest, write_manifest
from revati.trace.schema import DEVICE_CONF_FILE, EVENTS_DIR

log = logging.getLogger(__name__)

FATAL_EXIT = 86  # what rv_fatal() exits with
GRACE_S = 5.0  # how long stragglers get after the command ends, before SIGKILL


@dataclass(frozen=True)
class RunConfig:
    """What `revati record` was asked to do."""

    command: list[str]
    out: Path
    device: DeviceProfile
    gpus: int = 1
    predictor: str = "analytical"
    predictor_version: str = "1"
    kernel_table: Path | None = None
    host_speed: float = 1.0
    deterministic: bool = False
    seed: int = 0
    extra_env: dict[str, str] = field(default_factory=dict)
    # the predictor's driver settings, computed once the run directory exists (it may write files there)
    predictor_env: Callable[[Path], dict[str, str]] | None = None
    # the manifest's predictor entry (name, version, model hash, ...); default name + version
    predictor_info: dict | None = None

    def __post_init__(self) -> None:
        if not self.command:
            raise RevatiError("no command given: revati record [OPTIONS] -- COMMAND [ARGS]...")
        if not 1 <= self.gpus <= 64:
            raise RevatiError(f"--gpus {self.gpus} is out of range; use 1 to 64")
        if self.host_speed <= 0:
            raise RevatiError(f"--host-speed {self.host_speed} must be positive")


@dataclass
class RunResult:
    """The outcome of an emulated run."""

    run_dir: Path
    exit_status: int
    wall_ns: int
    processes: list[dict]
    problems: list[str]


def prepare_run_dir(out: Path, overwrite: bool) -> None:
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise RevatiError(
                f"run directory {out} exists and is not empty; pass --overwrite or --out"
            )
        shutil.rmtree(out)
    (out / EVENTS_DIR).mkdir(parents=True, exist_ok=True)


def _resolve_command(cmd: list[str]) -> list[str]:
    exe = cmd[0]
    if os.sep not in exe and shutil.which(exe) is None:
        raise RevatiError(f"command not found: {exe}")
    if os.sep in exe and not os.access(exe, os.X_OK):
        raise RevatiError(f"command is not executable: {exe}")
    return cmd


def scan_streams(run_dir: Path) -> tuple[list[dict], list[str]]:
    """The process list and what went wrong, from each stream's first and last line."""
    procs: list[dict] = []
    problems: list[str] = []
    for h in scan_heads(run_dir):
        procs.append({"pid": h.pid, "rank": h.rank, "file": str(h.path.relative_to(run_dir))})
        if not h.closed:
            problems.append(f"process {h.pid} ended without closing its trace (crashed or killed)")
        if h.fatal is not None:
            problems.append(f"process {h.pid}: {h.fatal}")
    return procs, problems


def _write_manifest(cfg: RunConfig, result: RunResult, start_ns: int) -> None:
    manifest = Manifest(
        command=cfg.command,
        device=cfg.device.key,
        num_gpus=cfg.gpus,
        predictor=cfg.predictor_info or {"name": cfg.predictor, "version": cfg.predictor_version},
        seeds={"sampling": cfg.seed},
        host_speed=cfg.host_speed,
        deterministic=cfg.deterministic,
        start_time_ns=start_ns,
        wall_duration_ns=result.wall_ns,
        exit_status=result.exit_status,
        processes=result.processes,
        extra={"problems": result.problems, "cwd": os.getcwd()},
    )
    write_manifest(cfg.out, manifest)


def record(cfg: RunConfig, lib_dir: Path, overwrite: bool = False) -> RunResult:
    """Run cfg.command under the stand-in driver; return when it and its stragglers have ended."""
    cmd = _resolve_command(cfg.command)
    prepare_run_dir(cfg.out, overwrite)
    (cfg.out / DEVICE_CONF_FILE).write_text(cfg.device.device_conf(cfg.gpus))
    env = run_env(
        cfg.out,
        lib_dir,
        gpus=cfg.gpus,
        host_speed=cfg.host_speed,
        deterministic=cfg.deterministic,
        kernel_table=cfg.kernel_table,
    )
    env["REVATI_SEED"] = str(cfg.seed)
    if cfg.predictor_env is not None:
        env.update(cfg.predictor_env(cfg.out))
    env.update(cfg.extra_env)
    start_ns = time.time_ns()
    t0 = time.monotonic_ns()
    try:
        proc = subprocess.Popen(cmd, env=env, start_new_session=True)
    except OSError as e:
        raise RevatiError(f"cannot start {cmd[0]}: {e.strerror}") from None

    def forward(signum: int, _frame: object) -> None:
        try:
            os.killpg(proc.pid, signum)
        except ProcessLookupError:
            pass

    old = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        rc = proc.wait()
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    _end_stragglers(proc.pid)
    wall_ns = time.monotonic_ns() - t0
    exit_status = rc if rc >= 0 else 128 - rc
    procs, problems = scan_streams(cfg.out)
    if rc == FATAL_EXIT and not problems:
        problems.append("the command ended with revati's fatal-error status (86); see its stderr")
    if rc < 0:
        problems.append(f"the command was killed by signal {-rc}")
    result = RunResult(cfg.out, exit_status, wall_ns, procs, problems)
    _write_manifest(cfg, result, start_ns)
    _build_cache(cfg.out)
    return result


def _build_cache(run_dir: Path) -> None:
    """Parse the streams once into the run's columnar cache, so reports and exports load fast."""
    from revati.trace import load_run  # deferred: pandas/pyarrow are not needed to run the command

    try:
        load_run(run_dir)
    except RevatiError as e:
        log.warning("the run's trace could not be loaded: %s", e)


def _end_stragglers(pgid: int) -> None:
    """Processes the command left behind in its session get SIGTERM, then SIGKILL: never a hang."""
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + GRACE_S
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    print(
        f"revati: processes of the run were still alive {GRACE_S:.0f} s after it ended; killed",
        file=sys.stderr,
    )


def raise_for(result: RunResult) -> None:
    """Turn a failed run into a RunError (the CLI reports it and exits with the command's status)."""
    if result.problems:
        raise RunError("; ".join(result.problems), exit_code=result.exit_status)
