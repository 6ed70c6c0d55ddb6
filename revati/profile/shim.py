"""Build and locate the profile shim (librevati_profile.so, a CUPTI injection library) and libcupti.

The shim needs CUPTI's headers and library, which a GPU machine has from the CUDA toolkit
(``extras/CUPTI``), the ``nvidia-cuda-cupti`` wheel (library) or Triton's bundled copy (headers).
``$REVATI_CUPTI_INCLUDE`` and ``$REVATI_CUPTI_LIB`` override the search. The shim is built on first
use, not by ``pip install``: machines without a GPU never need it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from revati.errors import RevatiError
from revati.native.build import CFLAGS, NATIVE_DIR, BuildError, cuda_include_dir

SHIM_NAME = "librevati_profile.so"
SOURCE_DIR = NATIVE_DIR / "profile"
DEFAULT_OUT = NATIVE_DIR / "lib"


def _site_dirs() -> list[Path]:
    out = []
    for sp in sys.path:
        if sp and Path(sp).is_dir():
            out.append(Path(sp))
    return out


def _include_candidates() -> list[Path]:
    env = os.environ.get("REVATI_CUPTI_INCLUDE")
    out = [Path(env)] if env else []
    cuda_home = Path(os.environ.get("CUDA_HOME", "/usr/local/cuda"))
    for sp in _site_dirs():
        out.append(sp / "nvidia" / "cu13" / "include")
    out += [cuda_home / "extras" / "CUPTI" / "include", cuda_home / "include"]
    for sp in _site_dirs():
        out.append(sp / "triton" / "backends" / "nvidia" / "include")
    return out


def include_dirs() -> list[Path]:
    """cuda.h's folder, then CUPTI's (cupti.h, generated_cuda_meta.h), then one with crt/host_defines.h."""
    try:
        dirs = [cuda_include_dir()]
    except BuildError as e:
        raise RevatiError(str(e)) from None
    cands = _include_candidates()
    cupti = next(
        (c for c in cands if (c / "cupti.h").is_file() and (c / "generated_cuda_meta.h").is_file()),
        None,
    )
    if cupti is None:
        raise RevatiError(
            "CUPTI headers not found (cupti.h): install the CUDA toolkit, nvidia-cuda-cupti or "
            "triton, or set REVATI_CUPTI_INCLUDE to a folder holding cupti.h"
        )
    dirs.append(cupti)
    crt = next((c for c in [cupti, *cands] if (c / "crt" / "host_defines.h").is_file()), None)
    if crt is not None:
        dirs.append(crt)
    return dirs


def cupti_library() -> Path:
    """The libcupti the shim links against and loads with."""
    env = os.environ.get("REVATI_CUPTI_LIB")
    candidates = [Path(env)] if env else []
    for sp in _site_dirs():
        candidates.append(sp / "nvidia" / "cu13" / "lib" / "libcupti.so.13")
        candidates.append(sp / "nvidia" / "cuda_cupti" / "lib" / "libcupti.so.13")
    cuda_home = os.environ.get("CUDA_HOME", "/usr/local/cuda")
    candidates += sorted((Path(cuda_home) / "extras" / "CUPTI" / "lib64").glob("libcupti.so*"))
    for c in candidates:
        if c.is_file():
            return c
    raise RevatiError(
        "libcupti not found: pip install nvidia-cuda-cupti, or set REVATI_CUPTI_LIB to libcupti.so"
    )


def build_shim(out_dir: Path = DEFAULT_OUT, force: bool = False) -> Path:
    """Compile the shim if it is missing or older than its sources; return its path.

    $REVATI_PROFILE_SHIM names a prebuilt shim to use instead (e.g. one built on another machine).
    """
    prebuilt = os.environ.get("REVATI_PROFILE_SHIM")
    if prebuilt:
        if not Path(prebuilt).is_file():
            raise RevatiError(f"REVATI_PROFILE_SHIM={prebuilt}: no such file")
        return Path(prebuilt)
    target = out_dir / SHIM_NAME
    # the shim's own sources and the shared kernel-features unit (the stand-in's, so both agree)
    srcs = sorted(SOURCE_DIR.glob("*.c")) + sorted((NATIVE_DIR / "features").glob("*.c"))
    inputs = srcs + sorted(SOURCE_DIR.glob("*.h")) + sorted((NATIVE_DIR / "include").rglob("*.h"))
    if (
        not force
        and target.exists()
        and all(p.stat().st_mtime <= target.stat().st_mtime for p in inputs)
    ):
        return target
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not cc:
        raise RevatiError("no C compiler found to build the profile shim: install gcc or set CC")
    lib = cupti_library()
    out_dir.mkdir(parents=True, exist_ok=True)
    incs = include_dirs()
    cmd = [
        cc,
        *CFLAGS,
        "-I",
        str(NATIVE_DIR / "include"),
        "-I",
        str(incs[0]),
        "-I",
        str(incs[1]),
        *[f"-idirafter{d}" for d in incs[2:]],
        "-shared",
        f"-Wl,-soname,{SHIM_NAME}",
        "-o",
        f"{target}.tmp",
        *[str(s) for s in srcs],
        str(lib),
        "-ldl",
        "-lpthread",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RevatiError(f"building {SHIM_NAME} failed:\n{proc.stderr.strip()}")
    os.replace(f"{target}.tmp", target)
    return target


def main() -> int:
    try:
        print(build_shim(force="--force" in sys.argv))
    except RevatiError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
