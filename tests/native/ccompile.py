"""Compile C test sources with revati's flags and headers (the CUDA headers included)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from revati.native import build as native_build

NATIVE = native_build.NATIVE_DIR


def compile_c(out: Path, sources: list[Path], extra: list[str], shared: bool = True) -> Path:
    cc = os.environ.get("CC", "cc")
    cmd = [cc, *native_build.CFLAGS, "-I", str(NATIVE / "include")]
    cmd += ["-I", str(native_build.cuda_include_dir())]
    if shared:
        cmd += ["-shared", f"-Wl,-soname,{out.name}"]
    cmd += ["-o", str(out), *map(str, sources), *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stderr}"
    return out


def compile_c_text(out: Path, text: str, extra: list[str]) -> Path:
    """Write C source text beside out (out's stem, `.c`) and compile it into the shared library out."""
    src = out.with_suffix(".c")
    src.write_text(text)
    return compile_c(out, [src], extra)
