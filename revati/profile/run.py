"""Run a command on the real GPU with the profile shim injected, then write the run and the dataset.

The real driver loads the shim through CUDA_INJECTION64_PATH at cuInit; nothing is preloaded, so the
command runs against the unmodified driver, runtime and libraries.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from revati.errors import RevatiError
from revati.profile.answers import ANSWERS_FILE, write_answers
from revati.profile.convert import write_run
from revati.profile.dataset import write_dataset
from revati.profile.raw import RAW_DIR, read_raw
from revati.profile.shim import build_shim, cupti_library


@dataclass
class ProfileResult:
    out: Path
    exit_status: int
    summary: dict[str, Any]
    answers: int


def gpu_facts() -> dict[str, Any]:
    """GPU name, driver, clocks and memory from nvidia-smi, and torch/CUDA versions if importable."""
    facts: dict[str, Any] = {}
    fields = "name,driver_version,clocks.max.sm,clocks.max.mem,clocks.sm,memory.total,power.limit"
    smi = shutil.which("nvidia-smi")
    if smi:
        proc = subprocess.run(
            [smi, f"--query-gpu={fields}", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
        )
        if proc.returncode == 0 and proc.stdout.strip():
            vals = [v.strip() for v in proc.stdout.splitlines()[0].split(",")]
            keys = ["gpu", "driver", "sm_clock_max_mhz", "mem_clock_max_mhz", "sm_clock_now_mhz",
                    "memory_mib", "power_limit_w"]  # fmt: skip
            facts.update(dict(zip(keys, vals, strict=False)))
    try:
        import torch

        facts["torch"] = torch.__version__
        facts["cuda"] = torch.version.cuda
    except ImportError:
        pass
    return facts


def libcalls_library() -> Path | None:
    """librevati_libcalls.so (the library-call context for `op`): $REVATI_PROFILE_LIBCALLS or the build's."""
    env = os.environ.get("REVATI_PROFILE_LIBCALLS")
    if env:
        if not Path(env).is_file():
            raise RevatiError(f"REVATI_PROFILE_LIBCALLS={env}: no such file")
        return Path(env)
    from revati.native.build import DEFAULT_OUT, BuildError, build

    lib = DEFAULT_OUT / "librevati_libcalls.so"
    if not lib.is_file():
        try:
            build(DEFAULT_OUT)
        except BuildError:
            return None
    return lib if lib.is_file() else None


def profile_command(
    command: list[str],
    out: Path,
    *,
    overwrite: bool = False,
    libcalls: bool = True,
    host_only: bool = False,
) -> ProfileResult:
    out = Path(out)
    if out.exists():
        if not overwrite:
            raise RevatiError(f"{out} exists: choose another --out or pass --overwrite")
        if not (out / RAW_DIR).is_dir() and any(out.iterdir()):
            raise RevatiError(f"{out} is not a profile directory: refusing to overwrite it")
        shutil.rmtree(out)
    (out / RAW_DIR).mkdir(parents=True)
    shim = build_shim()
    env = dict(os.environ)
    env["CUDA_INJECTION64_PATH"] = str(shim)
    env["REVATI_PROFILE_DIR"] = str(out.resolve())
    libdir = str(cupti_library().parent)
    env["LD_LIBRARY_PATH"] = libdir + (
        ":" + env["LD_LIBRARY_PATH"] if env.get("LD_LIBRARY_PATH") else ""
    )
    env["REVATI_PROFILE_HOST_ONLY"] = "1" if host_only else "0"
    calls_lib = libcalls_library() if libcalls else None
    if calls_lib is not None:  # the library call in flight, for each kernel's `op`
        env["LD_PRELOAD"] = str(calls_lib) + (
            " " + env["LD_PRELOAD"] if env.get("LD_PRELOAD") else ""
        )
    start_ns = time.time_ns()
    t0 = time.monotonic_ns()
    try:
        status = subprocess.run(command, env=env).returncode
    except FileNotFoundError:
        raise RevatiError(f"command not found: {command[0]}") from None
    wall = time.monotonic_ns() - t0
    meta: dict[str, Any] = {
        **gpu_facts(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start_ns / 1e9)),
        "command": command,
        "start_time_ns": start_ns,
        "wall_duration_ns": wall,
        "exit_status": status,
        "op_context": calls_lib is not None,
        "host_only": host_only,
        "timer": "CUPTI activity records (kernels, copies, memsets); host cost: CUPTI timestamps "
        "around each real driver call",
    }
    procs = read_raw(out)
    write_run(procs, out, device=str(meta.get("gpu", "unknown")), command=command, meta=meta)
    summary = write_dataset(procs, out, meta)
    n = write_answers(procs, out / ANSWERS_FILE, meta)
    return ProfileResult(out, status, summary, n)
