"""SGLang's children end by SIGTERM, then SIGKILL, under revati (a workaround; see docs/sglang.md).

At shutdown SGLang's server process tells its scheduler to exit (a ShutdownReq), then reaps its
children with `kill_process_tree`, which SIGKILLs them at once. On a GPU host the scheduler has
usually finished by then; on a small shared host its teardown (releasing host resources, aborting
its communicators, the interpreter's exit) runs in real time and takes longer, so it is SIGKILLed
mid-teardown, before its trace is closed, and revati ends the run as if it had crashed. Under revati
`kill_process_tree` first sends SIGTERM to the children it would kill (revati closes a process's
trace on a shutdown signal) and waits up to `REVATI_SGLANG_SHUTDOWN_GRACE_S` (default 60 s) for
them to end, then does what SGLang does: SIGKILL whatever is left, and the parent if asked. A child
that ignores SIGTERM is not waited for (Python's multiprocessing resource tracker, a child of the
server since it spawns its scheduler, ignores it: waiting for it made every shutdown wait the whole
grace). Nothing a benchmark measures runs after this point.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any

from revati.integrations.hooks import rebind, wrap_once

__all__ = ["install", "grace_s", "terminate_then", "descendants", "ignores_sigterm"]


def grace_s() -> float:
    return float(os.environ.get("REVATI_SGLANG_SHUTDOWN_GRACE_S", "60"))


def descendants(pid: int) -> list[int]:
    """Every live descendant of pid, from /proc (children before grandchildren)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _stat(int(entry))
            if stat is not None and stat[0] != "Z":
                parents.setdefault(stat[1], []).append(int(entry))
    out: list[int] = []
    todo = [pid]
    while todo:
        kids = parents.get(todo.pop(0), [])
        out.extend(kids)
        todo.extend(kids)
    return out


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, parent pid) of a process, None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return fields[0], int(fields[1])


def _ended(pid: int) -> bool:
    stat = _stat(pid)
    return stat is None or stat[0] in ("Z", "X")


def ignores_sigterm(pid: int) -> bool:
    """Whether pid ignores SIGTERM (its SigIgn mask in /proc); False once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("SigIgn:"):
                    return bool(int(line.split()[1], 16) >> (signal.SIGTERM - 1) & 1)
    except (OSError, ValueError, IndexError):
        pass
    return False


def terminate_then(original: Any) -> Any:
    """`original` (SGLang's kill_process_tree) preceded by SIGTERM to the same children and a wait."""

    def kill_process_tree(
        parent_pid: int | None, include_parent: bool = True, skip_pid: int | None = None, **kw: Any
    ) -> Any:
        root = os.getpid() if parent_pid is None else parent_pid
        children = [p for p in descendants(root) if p != skip_pid]
        for pid in children:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        waited = [p for p in children if not ignores_sigterm(p)]  # the rest end by SIGKILL
        deadline = time.monotonic() + grace_s()
        while time.monotonic() < deadline and not all(_ended(p) for p in waited):
            time.sleep(0.05)
        return original(parent_pid, include_parent=include_parent, skip_pid=skip_pid, **kw)

    return kill_process_tree


def install() -> bool:
    """Replace SGLang's kill_process_tree, where defined and in modules that imported it by name."""
    try:
        from sglang.srt.utils import common
    except ImportError:
        return False
    wrapped = wrap_once(common, "kill_process_tree", terminate_then)
    if wrapped is None:
        return False
    rebind("kill_process_tree", wrapped)  # every module that imported it by name
    return True
