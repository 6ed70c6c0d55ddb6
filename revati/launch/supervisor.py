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
from typing import Any

from revati.devices import DeviceProfile
from revati.errors import RevatiError, RunError
from revati.launch.env import run_env
from revati.launch.liveness import POLL_S, CrashWatch, die_with_parent, kill_group
from revati.launch.plugins import plugin_path
from revati.trace.files import StreamHead, scan_heads
from revati.trace.manifest import Manifest, write_manifest
from revati.trace.repair import trim_zero_tail
from revati.trace.schema import (
    DEVICE_CONF_FILE,
    EVENTS_DIR,
    MANIFEST_FILE,
    RECORDS_TMP_SUFFIX,
    STREAM_TMP_SUFFIX,
)

log = logging.getLogger(__name__)

FATAL_EXIT = 86  # what rv_fatal() exits with
GRACE_S = 5.0
TRACE_LEVELS = (
    "default",
    "verbose",
)  # verbose: every driver call written, queries included  # how long stragglers get after the command ends, before SIGKILL
# what host code's time is measured in (REVATI_HOST_CLOCK, docs/host-time.md "The host clock"): cpu
# excludes the time its threads waited for a core; wall is real time
HOST_CLOCKS = ("cpu", "wall")


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
    host_clock: str = "cpu"
    seed: int = 0
    token_policy: str = "uniform"
    token_exclude: tuple[int, ...] = ()
    trace_level: str = "default"
    # wall seconds after which the supervisor ends the run with an error (0: none)
    wall_limit_s: float = 0.0
    extra_env: dict[str, str] = field(default_factory=dict)
    # the predictor's driver settings, computed once the run directory exists (it may write files there)
    predictor_env: Callable[[Path], dict[str, str]] | None = None
    # the manifest's predictor entry (name, version, model hash, ...); default name + version
    predictor_info: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if not self.command:
            raise RevatiError("no command given: revati record [OPTIONS] -- COMMAND [ARGS]...")
        if not 1 <= self.gpus <= 64:
            raise RevatiError(f"--gpus {self.gpus} is out of range; use 1 to 64")
        if self.host_speed <= 0:
            raise RevatiError(f"--host-speed {self.host_speed} must be positive")
        if self.host_clock not in HOST_CLOCKS:
            raise RevatiError(
                f"--host-clock {self.host_clock!r}: choose one of {', '.join(HOST_CLOCKS)}"
            )
        check_token_policy(self.token_policy)
        if any(t < 0 for t in self.token_exclude):
            raise RevatiError(f"--token-exclude {self.token_exclude}: ids must be non-negative")
        if not self.wall_limit_s >= 0:
            raise RevatiError(f"--wall-limit {self.wall_limit_s}: give seconds, 0 or more")
        if self.trace_level not in TRACE_LEVELS:
            raise RevatiError(
                f"--trace-level {self.trace_level!r}: choose one of {', '.join(TRACE_LEVELS)}"
            )


def check_token_policy(policy: str) -> str:
    """The token policy if valid (uniform, stale, fixed:ID; see docs/driver.md), else RevatiError."""
    if policy in ("uniform", "stale"):
        return policy
    if policy.startswith("fixed:") and policy[6:].isdigit():
        return policy
    raise RevatiError(
        f"--token-policy {policy!r}: expected uniform, stale or fixed:ID (e.g. fixed:42)"
    )


@dataclass
class RunResult:
    """The outcome of an emulated run."""

    run_dir: Path
    exit_status: int
    wall_ns: int
    processes: list[dict[str, Any]]
    problems: list[str]


def prepare_run_dir(out: Path, overwrite: bool) -> None:
    """Make an empty run directory at out. --overwrite replaces only a directory that is a revati
    run (its manifest.json present), never anything else: a user's folder is never deleted."""
    if out.exists() and not out.is_dir():
        raise RevatiError(f"--out {out} is a file, not a directory; name a new run directory")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise RevatiError(
                f"run directory {out} exists and is not empty; pass --overwrite or --out"
            )
        if not (out / MANIFEST_FILE).is_file():
            raise RevatiError(
                f"--overwrite refused: {out} is not a revati run (no {MANIFEST_FILE}); "
                "choose another --out"
            )
        here = Path.cwd().resolve()
        if out.resolve() in (here, *here.parents):
            raise RevatiError(
                f"--overwrite refused: {out} holds the current directory; choose another --out"
            )
        shutil.rmtree(out)
    try:
        (out / EVENTS_DIR).mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RevatiError(f"cannot create run directory {out}: {e.strerror}") from None


def _resolve_command(cmd: list[str]) -> list[str]:
    exe = cmd[0]
    if os.sep not in exe and shutil.which(exe) is None:
        raise RevatiError(f"command not found: {exe}")
    if os.sep in exe and not os.access(exe, os.X_OK):
        raise RevatiError(f"command is not executable: {exe}")
    return cmd


def signal_name(sig: int) -> str:
    """'SIGKILL' for 9; 'signal N' for a number Python does not name."""
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"


_SHUTDOWN_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def _shut_down(h: StreamHead, root: tuple[int, int] | None) -> bool:
    """A process other than the command itself that a shutdown signal ended with its trace closed:
    a pool terminating its workers (torch's compile workers, for one), or revati's own SIGTERM to
    what the command left running. How it ended is kept, but it is no failure of the run: the
    command's own status says whether the run failed."""
    is_root = root is not None and h.pid == root[0]
    return not is_root and h.last.get("k") == "end" and h.last.get("signal") in _SHUTDOWN_SIGNALS


def _ending(h: StreamHead, root: tuple[int, int] | None, reaped: bool = False) -> str:
    """How one process ended, in words, from its stream's last line and the command's status."""
    tail = h.last
    is_root = root is not None and h.pid == root[0]
    if reaped and _shut_down(h, root):
        return "left running by the command; ended by revati's SIGTERM after it (trace closed)"
    if tail.get("k") == "end":
        sig = tail.get("signal")
        if sig:
            how = f"killed by {signal_name(sig)} (trace closed)"
        elif is_root and root is not None and root[1] >= 0:
            how = f"exited with status {root[1]} (trace closed)"
        else:
            how = "exited (trace closed)"
        if tail.get("dropped"):
            how += f"; {tail['dropped']} events not written (the disk filled)"
        return how
    if h.fatal is not None:
        return f"revati fatal error: {h.fatal}"
    if tail.get("k") == "lost":
        return f"trace cut short: {tail.get('why')}"
    if is_root and root is not None and root[1] < 0:
        return f"killed by {signal_name(-root[1])} (trace kept up to the kill)"
    if not h.closed:
        return "ended without closing its trace (SIGKILL, or a crash; trace kept up to it)"
    return "stream ends without an end line"


def scan_streams(
    run_dir: Path, root: tuple[int, int] | None = None, reaped: bool = False
) -> tuple[list[dict[str, Any]], list[str]]:
    """The process list, how each process ended and what went wrong, from each stream's first and
    last line. root: (pid, returncode) of the command itself, as subprocess reports it; reaped:
    revati sent the command's leftover processes SIGTERM after it ended."""
    for suffix in (STREAM_TMP_SUFFIX, RECORDS_TMP_SUFFIX):
        for tmp in (run_dir / EVENTS_DIR).glob(f"*{suffix}"):
            trim_zero_tail(tmp)  # a killed writer's reserved window
    procs: list[dict[str, Any]] = []
    problems: list[str] = []
    for h in scan_heads(run_dir):
        ended = _ending(h, root, reaped)
        procs.append(
            {
                "pid": h.pid,
                "rank": h.rank,
                "file": str(h.path.relative_to(run_dir)),
                "ended": ended,
            }
        )
        if _shut_down(h, root):
            continue
        if not h.closed or h.fatal is not None or h.last.get("k") == "lost" or h.last.get("signal"):
            problems.append(f"process {h.pid}: {ended}")
    return procs, problems


def _write_manifest(cfg: RunConfig, result: RunResult | None, start_ns: int) -> None:
    """The run's manifest; result None: the one written at the start (no exit status yet), so that a
    run whose supervisor was itself killed is still a run (readable, and --overwrite may replace it)."""
    manifest = Manifest(
        command=cfg.command,
        device=cfg.device.key,
        num_gpus=cfg.gpus,
        predictor=cfg.predictor_info or {"name": cfg.predictor, "version": cfg.predictor_version},
        seeds={"sampling": cfg.seed},
        host_speed=cfg.host_speed,
        deterministic=cfg.deterministic,
        start_time_ns=start_ns,
        wall_duration_ns=result.wall_ns if result else None,
        exit_status=result.exit_status if result else None,
        processes=result.processes if result else [],
        extra={
            "problems": result.problems if result else ["the run did not finish (revati stopped)"],
            "trace_level": cfg.trace_level,
            "host_clock": cfg.host_clock,
            "cwd": os.getcwd(),
            "token_policy": cfg.token_policy,
            "token_exclude": list(cfg.token_exclude),
        },
    )
    write_manifest(cfg.out, manifest)


def _plugin_path(run_dir: Path) -> Path | None:
    """The folder that declares revati's engine plugins (launch/plugins.py): in revati's cache, else
    in the run directory where the cache cannot be written."""
    try:
        return plugin_path()
    except OSError:
        return plugin_path(run_dir / "python")


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
        host_clock=cfg.host_clock,
        kernel_table=cfg.kernel_table,
        plugins=_plugin_path(cfg.out),
    )
    env["REVATI_SEED"] = str(cfg.seed)
    if cfg.predictor_env is not None:
        env.update(cfg.predictor_env(cfg.out))
    env["REVATI_SUPERVISOR_PID"] = str(os.getpid())  # each process's watchdog ends with us
    env["REVATI_TOKEN_POLICY"] = cfg.token_policy
    env["REVATI_TOKEN_EXCLUDE"] = ",".join(str(t) for t in cfg.token_exclude)
    env["REVATI_TRACE_LEVEL"] = cfg.trace_level
    env.update(cfg.extra_env)
    start_ns = time.time_ns()
    _write_manifest(cfg, None, start_ns)
    t0 = time.monotonic_ns()
    try:
        proc = subprocess.Popen(cmd, env=env, start_new_session=True, preexec_fn=die_with_parent)
    except OSError as e:
        raise RevatiError(f"cannot start {cmd[0]}: {e.strerror}") from None

    def forward(signum: int, _frame: object) -> None:
        try:
            os.killpg(proc.pid, signum)
        except ProcessLookupError:
            pass

    old = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    crashed: list[str] = []
    try:
        watch = None if cfg.deterministic else CrashWatch(cfg.out)
        rc = _wait(proc, watch, crashed, cfg.wall_limit_s)
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    reaped = _end_stragglers(proc.pid)
    wall_ns = time.monotonic_ns() - t0
    exit_status = rc if rc >= 0 else 128 - rc
    procs, problems = scan_streams(cfg.out, root=(proc.pid, rc), reaped=reaped)
    if crashed and not crashed[0].startswith(WALL_LIMIT_PREFIX):
        problems.insert(
            0, f"{crashed[0]} died without closing its trace (crashed or killed); run ended"
        )
    if rc == FATAL_EXIT and not problems:
        problems.append("the command ended with revati's fatal-error status (86); see its stderr")
    if rc < 0:
        problems.insert(0, f"the command was killed by signal {-rc} ({signal_name(-rc)})")
    if crashed and crashed[0].startswith(WALL_LIMIT_PREFIX):
        problems.insert(0, crashed[0])  # the cause first: the signal above was the limit's
    result = RunResult(cfg.out, exit_status, wall_ns, procs, problems)
    _write_manifest(cfg, result, start_ns)
    _build_cache(cfg.out)
    return result


WALL_LIMIT_PREFIX = "the run passed its wall-time limit"


def _wait(
    proc: subprocess.Popen[bytes],
    watch: CrashWatch | None,
    crashed: list[str],
    wall_limit_s: float = 0.0,
) -> int:
    """Wait for the command; a process of the run that dies without closing its trace ends the run,
    and so does the wall-time limit (a hang, or a run too slow to finish: never waited on forever)."""
    kill_at = None
    limit_at = time.monotonic() + wall_limit_s if wall_limit_s > 0 else None
    while True:
        try:
            return proc.wait(timeout=POLL_S)
        except subprocess.TimeoutExpired:
            pass
        if kill_at is not None and time.monotonic() > kill_at:
            kill_group(proc.pid, signal.SIGKILL)
            kill_at = None
        if limit_at is not None and time.monotonic() > limit_at and not crashed:
            crashed.append(
                f"{WALL_LIMIT_PREFIX} (--wall-limit {wall_limit_s:g} s) and was stopped: "
                "it hung or ran too slowly; the trace is kept up to the stop"
            )
            print(f"revati: {crashed[0]}", file=sys.stderr)
            kill_group(proc.pid, signal.SIGTERM)
            kill_at = time.monotonic() + GRACE_S
            limit_at = None
        dead = watch.dead() if watch else []
        if dead and not crashed:
            crashed.extend(dead)
            print(f"revati: {dead[0]} died; ending the run", file=sys.stderr)
            kill_group(proc.pid, signal.SIGTERM)
            kill_at = time.monotonic() + GRACE_S


def _build_cache(run_dir: Path) -> None:
    """Parse the streams once into the run's columnar cache, so reports and exports load fast."""
    from revati.trace import load_run  # deferred: pandas/pyarrow are not needed to run the command
    from revati.trace.schema import COLUMNAR_KINDS

    try:  # the cache holds every column; the frames, thrown away here, get none of the text
        load_run(run_dir, columns={kind: () for kind in COLUMNAR_KINDS})
    except RevatiError as e:
        log.warning("the run's trace could not be loaded: %s", e)


def _end_stragglers(pgid: int) -> bool:
    """Processes the command left behind in its session get SIGTERM, then SIGKILL: never a hang.
    True when there were any."""
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + GRACE_S
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    print(
        f"revati: processes of the run were still alive {GRACE_S:.0f} s after it ended; killed",
        file=sys.stderr,
    )
    return True


def raise_for(result: RunResult) -> None:
    """Turn a failed run into a RunError (the CLI reports it and exits with the command's status)."""
    if result.problems:
        raise RunError("; ".join(result.problems), exit_code=result.exit_status)
