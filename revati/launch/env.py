"""The environment of an emulated run: which libraries stand in, where the trace goes, the time model."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from revati.integrations import env_defaults


def run_env(
    run_dir: str | os.PathLike[str],
    lib_dir: str | os.PathLike[str],
    gpus: int = 1,
    host_speed: float = 1.0,
    deterministic: bool = False,
    host_clock: str | None = None,
    kernel_table: str | os.PathLike[str] | None = None,
    base: Mapping[str, str] | None = None,
    preload: bool = True,
    plugins: str | os.PathLike[str] | None = None,
) -> dict[str, str]:
    """Return the environment for a process of an emulated run.

    The stand-in libcuda.so.1 / libnvidia-ml.so.1 are found first on LD_LIBRARY_PATH (the runtime and
    torch dlopen them by soname); librevati.so is preloaded so libc's clocks, sleeps and waits read
    virtual time, and librevati_libcalls.so so that kernels know the cuBLAS/cuBLASLt/cuDNN/NCCL call that
    launched them (the `op` of kernel events). `plugins` (launch/plugins.py's folder) goes first on
    PYTHONPATH so that engines find revati's plugins installed or not. Children inherit all of it.
    """
    env = dict(os.environ if base is None else base)
    lib = str(Path(lib_dir).resolve())
    env["LD_LIBRARY_PATH"] = _prepend(lib, env.get("LD_LIBRARY_PATH"))
    if preload:
        preloads = env.get("LD_PRELOAD", "")
        for name in ("librevati_libcalls.so", "librevati.so"):  # librevati.so ends up first
            preloads = _prepend(str(Path(lib) / name), preloads, sep=" ")
        env["LD_PRELOAD"] = preloads
    if plugins is not None:
        env["PYTHONPATH"] = _prepend(str(Path(plugins).resolve()), env.get("PYTHONPATH"))
    env["REVATI_RUN_DIR"] = str(Path(run_dir).resolve())
    env["REVATI_GPUS"] = str(int(gpus))
    env["REVATI_HOST_SPEED"] = repr(float(host_speed))
    if host_clock is not None:  # None: the environment's REVATI_HOST_CLOCK, else cpu
        env["REVATI_HOST_CLOCK"] = host_clock  # cpu: time waiting for a core is not host time
    if deterministic:
        env["REVATI_DETERMINISTIC"] = "1"
    else:
        env.pop("REVATI_DETERMINISTIC", None)
    if kernel_table is not None:
        env["REVATI_KERNEL_TABLE"] = str(Path(kernel_table).resolve())
    for key, value in env_defaults().items():  # engines' switches away from GPU-only paths
        env.setdefault(key, value)
    return env


def _prepend(item: str, current: str | None, sep: str = ":") -> str:
    if not current:
        return item
    parts = [p for p in current.split(sep) if p and p != item]
    return sep.join([item, *parts])
