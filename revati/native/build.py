"""Compile revati's native libraries (librevati.so, libcuda.so.1, libnvidia-ml.so.1, librvpredict.so) with the system C compiler.

Each library is the set of ``.c`` files under its source folders, so adding a file to a folder adds it
to the build. Headers come from ``native/include`` and, for the CUDA declarations, from the
``nvidia-cuda-runtime`` wheel (``nvidia/cu13/include``) or ``$REVATI_CUDA_INCLUDE``: no CUDA toolkit
is needed. ``python -m revati.native.build`` builds into ``revati/native/lib`` and skips libraries whose
sources are older than the output.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

NATIVE_DIR = Path(__file__).resolve().parent
DEFAULT_OUT = NATIVE_DIR / "lib"


@dataclass(frozen=True)
class Library:
    """One shared library: its file name, soname, source folders and extra link arguments."""

    filename: str
    soname: str
    source_dirs: tuple[str, ...]
    link_args: tuple[str, ...] = ()
    links_core: bool = True
    # sonames recorded as dependencies (after librevati.so) without linking against the real file:
    # an empty stand-in with that soname is linked instead (the real one is loaded at run time)
    needs: tuple[str, ...] = ()


LIBRARIES = (
    Library(
        "librevati.so",
        "librevati.so",
        ("core", "hosttime", "nccl"),
        ("-ldl", "-lpthread", "-lrt"),
        False,
    ),
    Library(
        "libcuda.so.1",
        "libcuda.so.1",
        ("driver", "driver/gen", "driver/values", "features", "predict"),
        ("-ldl", "-lpthread", "-lm"),
    ),
    Library("libnvidia-ml.so.1", "libnvidia-ml.so.1", ("nvml", "nvml/gen"), ("-ldl",)),
    # the library-call context (cuBLASLt, cuBLAS, cuDNN, NCCL): preloaded, needs nothing of revati's own
    Library("librevati_libcalls.so", "librevati_libcalls.so", ("libcalls",), ("-ldl",), False),
    # what a dlopen of NCCL answers (nccl/dlopen.c): depends on librevati.so, then libnccl.so.2
    Library("librevati_nccl.so", "librevati_nccl.so", ("nccl_shim",), needs=("libnccl.so.2",)),
    # the predictor core alone, for Python (training features through ctypes) and benchmarks
    Library(
        "librvpredict.so",
        "librvpredict.so",
        ("predict", "features"),
        ("-ldl", "-lpthread", "-lm"),
        False,
    ),
    # the compact trace records' decoder, for the trace reader (ctypes)
    Library("librvrecords.so", "librvrecords.so", ("records",), (), False),
)

CFLAGS = (
    "-O2",
    "-g",
    "-fPIC",
    "-std=gnu11",
    "-fvisibility=hidden",
    "-Wall",
    "-Wextra",
    "-Wno-unused-parameter",
    "-Wno-missing-field-initializers",
    "-D_GNU_SOURCE",
)


class BuildError(RuntimeError):
    """The native build failed; the message names the library and the compiler's complaint."""


def cuda_include_dir() -> Path:
    """Where cuda.h lives: $REVATI_CUDA_INCLUDE, else the nvidia-cuda-runtime wheel."""
    env = os.environ.get("REVATI_CUDA_INCLUDE")
    candidates = [Path(env)] if env else []
    try:
        import nvidia  # namespace package installed by the nvidia-* wheels

        for base in nvidia.__path__:
            candidates.append(Path(base) / "cu13" / "include")
    except ImportError:
        pass
    for sp in sys.path:
        candidates.append(Path(sp) / "nvidia" / "cu13" / "include")
    for c in candidates:
        if (c / "cuda.h").is_file():
            return c
    raise BuildError(
        "cuda.h not found: pip install nvidia-cuda-runtime==13.0.96 (or torch==2.14.1), "
        "or set REVATI_CUDA_INCLUDE to a folder holding cuda.h"
    )


def sources(lib: Library) -> list[Path]:
    out: list[Path] = []
    for d in lib.source_dirs:
        out.extend(sorted((NATIVE_DIR / d).glob("*.c")))
    return out


def _headers() -> list[Path]:
    return sorted(NATIVE_DIR.rglob("*.h")) + sorted(NATIVE_DIR.rglob("*.inc"))


def _inputs_record(target: Path) -> Path:
    """Beside each library: the list of files it was built from, to notice a removed source."""
    return target.with_name(target.name + ".inputs")


def _listing(inputs: list[Path]) -> str:
    return "\n".join(sorted(os.path.relpath(p, NATIVE_DIR) for p in inputs))


def _stale(target: Path, inputs: list[Path]) -> bool:
    if not target.exists():
        return True
    record = _inputs_record(target)
    if not record.is_file() or record.read_text() != _listing(inputs):
        return True  # a source added, removed or renamed since the last build
    t = target.stat().st_mtime
    return any(p.stat().st_mtime > t for p in inputs)


# written beside libraries built by `pip install` (wheel or sdist): an installed copy is never
# rebuilt, since its sources' file times say nothing and site-packages may not be writable
INSTALLED_STAMP = "INSTALLED"


def _stub(cc: str, folder: Path, soname: str) -> str:
    """An empty shared library with the given soname, to link a dependency on it."""
    out = folder / soname
    src = folder / "stub.c"
    src.write_text("int revati_stub_dependency;\n")
    cmd = [cc, "-shared", "-fPIC", f"-Wl,-soname,{soname}", "-o", str(out), str(src)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise BuildError(f"building a stand-in {soname} failed:\n{proc.stderr.strip()}")
    return str(out)


def build(
    out_dir: Path = DEFAULT_OUT, force: bool = False, verbose: bool = False, installed: bool = False
) -> Path:
    """Build every library into out_dir (skipping up-to-date ones); return out_dir."""
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not cc:
        raise BuildError("no C compiler found: install gcc (apt-get install gcc) or set CC")
    out_dir.mkdir(parents=True, exist_ok=True)
    inc = ["-I", str(NATIVE_DIR / "include"), "-I", str(cuda_include_dir())]
    headers = _headers()
    for lib in LIBRARIES:
        srcs = sources(lib)
        if not srcs:
            continue
        target = out_dir / lib.filename
        inputs = srcs + headers + [Path(__file__)]
        if not force and not _stale(target, inputs):
            continue
        cmd = [
            cc,
            *CFLAGS,
            *inc,
            "-shared",
            f"-Wl,-soname,{lib.soname}",
            "-o",
            str(target) + ".tmp",
        ]
        cmd += [str(s) for s in srcs]
        if lib.needs:
            cmd.append("-Wl,--no-as-needed")  # dependencies whose symbols the library does not use
        if lib.links_core:
            cmd += ["-L", str(out_dir), "-l:librevati.so", "-Wl,-rpath,$ORIGIN"]
        cmd += list(lib.link_args)
        with tempfile.TemporaryDirectory() as stubs:
            cmd += [_stub(cc, Path(stubs), soname) for soname in lib.needs]
            if verbose:
                print(" ".join(cmd), file=sys.stderr)
            proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise BuildError(f"building {lib.filename} failed:\n{proc.stderr.strip()}")
        if verbose and proc.stderr.strip():
            print(proc.stderr, file=sys.stderr)
        os.replace(str(target) + ".tmp", target)
        _inputs_record(target).write_text(_listing(inputs))
    if installed:
        (out_dir / INSTALLED_STAMP).write_text("built by pip install; not rebuilt from sources\n")
    return out_dir


def lib_dir() -> Path:
    """The folder with the built libraries, building them first if they are missing or stale."""
    if (DEFAULT_OUT / INSTALLED_STAMP).is_file() and all(
        (DEFAULT_OUT / lib.filename).is_file() for lib in LIBRARIES
    ):
        return DEFAULT_OUT
    return build(DEFAULT_OUT)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--force", action="store_true")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    try:
        out = build(args.out, force=args.force, verbose=args.verbose)
    except BuildError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
