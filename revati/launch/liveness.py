"""Which processes of a run are alive, and how the run ends when one dies or the supervisor does.

docs/coordination.md ("Liveness and teardown"): the command is started with PR_SET_PDEATHSIG so that
it dies with `revati record`; each process's watchdog (native/hosttime/watchdog.c) covers the rest.
While the command runs, the supervisor polls for event streams still open (``proc-<pid>.jsonl.tmp``)
whose process is gone: a crashed or killed process, which ends the run with an error naming it.
"""

from __future__ import annotations

import ctypes
import os
import signal
from pathlib import Path
from typing import Any

import orjson

PR_SET_PDEATHSIG = 1
POLL_S = 0.1  # how often the supervisor looks for dead processes


def die_with_parent() -> None:
    """preexec_fn of the command: SIGKILL when the supervisor (its parent) exits."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def pid_alive(pid: int) -> bool:
    """Whether pid names a live process (a zombie counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return False
    tail = stat[stat.rfind(b")") + 2 :]
    return not tail.startswith((b"Z", b"X"))


def _head(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return orjson.loads(f.readline())
    except (OSError, orjson.JSONDecodeError):
        return {}


def describe(head: dict[str, Any], pid: int) -> str:
    """'rank 1 (pid 4242)' or 'process 4242' for a stream's header line."""
    rank = head.get("rank", -1)
    return f"rank {rank} (pid {pid})" if isinstance(rank, int) and rank >= 0 else f"process {pid}"


class CrashWatch:
    """Finds event streams left open by processes that are gone.

    Not for deterministic runs: their streams are numbered in opening order and their headers carry
    that number, not the pid (the command's own exit ends such a run).
    """

    def __init__(self, run_dir: Path) -> None:
        self.events = run_dir / "events"
        self._seen: set[str] = set()

    def dead(self) -> list[str]:
        """Descriptions of processes that died since the last call, without closing their trace."""
        out: list[str] = []
        for path in sorted(self.events.glob("proc-*.jsonl.tmp")):
            if path.name in self._seen:
                continue
            head = _head(path)
            pid = head.get("pid")
            if not isinstance(pid, int):  # the header not written yet: the name has the pid
                try:
                    pid = int(path.name.split("-")[1].split(".")[0])
                except (IndexError, ValueError):
                    continue
            if pid <= 0 or pid_alive(pid):
                continue
            # it may have closed its trace just now (renamed .tmp away before exiting)
            if not path.exists():
                continue
            self._seen.add(path.name)
            # read again now that it is gone: the header read above may predate its writing (a
            # process that wrote it and died between the two looks was named without its rank)
            out.append(describe(_head(path) or head, pid))
        return out


def kill_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass
