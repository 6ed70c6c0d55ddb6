"""A CUDA_HOME for SGLang's JIT kernels, laid out from the NVIDIA wheels of the running interpreter.

SGLang 0.5.23 builds some kernels on first use (`sglang.kernels.jit`: rotary embedding, and others by
model and batch): nvcc from `$CUDA_HOME/bin`, then a link with `-L$CUDA_HOME/lib64 -lcudart`. With no
CUDA toolkit installed, it falls back to `/usr/local/cuda` and the build fails. SGLang's own
dependencies install everything it needs as wheels (`nvidia-cuda-nvcc`, `nvidia-cuda-runtime`,
`nvidia-nvvm`, `nvidia-cuda-crt` under `site-packages/nvidia/cu13`), laid out as a toolkit except
that the libraries are in `lib` (not `lib64`) and only versioned (`libcudart.so.13`, no
`libcudart.so` for `-lcudart`). This module makes a directory of links that is a toolkit:

    export CUDA_HOME=$(python -m revati.integrations.sglang.cuda_home)

run with SGLang's interpreter. The kernels are compiled for real (nvcc needs no GPU); the stand-in
driver then loads their cubins like any other module. Nothing here is used on a real GPU host.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from pathlib import Path

from revati.errors import RevatiError

__all__ = ["wheel_toolkit", "toolkit_view"]

_LINKED_DIRS = ("bin", "include", "nvvm")


def wheel_toolkit() -> Path:
    """The `nvidia/cu13` directory of this interpreter's NVIDIA wheels that holds nvcc."""
    spec = importlib.util.find_spec("nvidia")
    roots = list(spec.submodule_search_locations or []) if spec else []
    for root in roots:
        top = Path(root) / "cu13"
        if (top / "bin" / "nvcc").is_file() and (top / "lib").is_dir():
            return top
    raise RevatiError(
        f"no nvcc in this interpreter's NVIDIA wheels ({sys.executable}): "
        "install nvidia-cuda-nvcc (SGLang pulls it in) or set CUDA_HOME to a CUDA toolkit"
    )


def toolkit_view(top: Path, cache: Path) -> Path:
    """Make (once) and return a directory under cache that links top's parts as a CUDA toolkit."""
    key = hashlib.sha256(str(top.resolve()).encode()).hexdigest()[:16]
    view = cache / key
    lib64 = view / "lib64"
    lib64.mkdir(parents=True, exist_ok=True)
    for name in _LINKED_DIRS:
        _link(view / name, top / name)
    for lib in (top / "lib").iterdir():
        _link(lib64 / lib.name, lib)
        stem, sep, _version = lib.name.partition(".so.")
        if sep and not (lib64 / f"{stem}.so").exists():
            _link(lib64 / f"{stem}.so", lib)  # unversioned name for -l<stem>
    return view


def _link(path: Path, target: Path) -> None:
    if path.is_symlink() and os.readlink(path) == str(target):
        return
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(target)
    tmp.replace(path)  # atomic, so concurrent callers never see a half-made view


def default_cache() -> Path:
    """cuda-home/ in revati's cache directory (the one the host-speed calibration uses)."""
    from revati.launch.hostspeed import cache_dir

    return cache_dir() / "cuda-home"


def main() -> int:
    try:
        print(toolkit_view(wheel_toolkit(), default_cache()))
    except RevatiError as e:
        print(f"Error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
