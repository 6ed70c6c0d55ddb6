"""Generate the stand-in driver's symbol stubs, cuGetProcAddress table and coverage list from cuda.h.

Reads ``cuda.h``, ``cudaTypedefs.h`` and ``cudaProfilerTypedefs.h`` from the nvidia-cuda-runtime
wheel (or ``$REVATI_CUDA_INCLUDE``) and writes:

- ``revati/native/driver/gen/stubs.c``: a weak stub for every exported driver symbol; it counts the
  call as unimplemented (``rv_unimplemented``) and returns ``CUDA_ERROR_NOT_SUPPORTED``. Hand-written
  entry points are strong definitions of the same names and win at link time.
- ``revati/native/driver/gen/proc_table.c``: the (name, ABI version, per-thread flag) -> symbol table
  behind ``cuGetProcAddress``, sorted by name then version.
- ``docs/driver-coverage.md``: which symbols have a hand-written definition and which are stubs.

The exported symbol set is what the C preprocessor sees in cuda.h in three modes (default, per-thread
default stream, and ``__CUDA_API_VERSION_INTERNAL``, which declares the old unversioned ABIs). Which
symbol backs each ``PFN_<name>_v<version>`` typedef is decided by matching parameter types.

``--check`` exits 1 if any committed output differs from what would be generated.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

GEN_DIR = ROOT / "revati" / "native" / "driver" / "gen"
DRIVER_DIR = ROOT / "revati" / "native" / "driver"
COVERAGE = ROOT / "docs" / "driver-coverage.md"

# Exported by the real libcuda.so.1 but declared outside cuda.h: cudaProfiler.h is not shipped in the
# wheel, only its typedefs, so the names are listed here.
EXTRA_SYMBOLS = {
    "cuProfilerInitialize",
    "cuProfilerStart",
    "cuProfilerStop",
}

# Declared in cuda.h but not entry points of the driver library (none in CUDA 13.0; kept as the place
# to list such names with their reason).
EXCLUDED_SYMBOLS: set[str] = set()

DECL_RE = re.compile(r"CUresult\s+(?:__attribute__\(\(deprecated\)\)\s+)?(cu\w+)\s*\(([^)]*)\)\s*;")
PFN_RE = re.compile(
    r"typedef\s+CUresult\s*\(\s*CUDAAPI\s*\*\s*PFN_(cu\w+?)_v(\d+)(_ptds|_ptsz)?\s*\)\s*\(([^)]*)\)\s*;"
)
SUFFIX_RE = re.compile(r"^(cu\w+?)(?:_v(\d+))?(_ptds|_ptsz)?$")


def include_dir() -> Path:
    from revati.native.build import cuda_include_dir

    return cuda_include_dir()


def cuda_version(inc: Path) -> str:
    m = re.search(r"#define\s+CUDA_VERSION\s+(\d+)", (inc / "cuda.h").read_text())
    if not m:
        raise SystemExit("error: CUDA_VERSION not found in cuda.h")
    v = int(m.group(1))
    return f"{v // 1000}.{(v % 1000) // 10}"


def preprocess(inc: Path, defines: list[str]) -> str:
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        raise SystemExit("error: a C compiler (cc or gcc) is needed to preprocess cuda.h")
    cmd = [cc, "-E", "-P", *[f"-D{d}" for d in defines], "-I", str(inc), str(inc / "cuda.h")]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"error: preprocessing cuda.h failed: {out.stderr.strip()}")
    return re.sub(r"\s+", " ", out.stdout)


def normalize_params(params: str) -> str:
    """Parameter types only, with equivalent versioned CUDA typedefs folded together."""
    types = []
    for p in params.split(","):
        p = p.strip()
        if not p or p == "void":
            continue
        p = re.sub(r"\s*\*\s*", " * ", p).split()
        if (
            len(p) > 1
            and re.fullmatch(r"[A-Za-z_]\w*", p[-1])
            and p[-1] not in ("int", "char", "long")
        ):
            p = p[:-1]  # drop the parameter name
        t = " ".join(p)
        t = t.replace("CUdeviceptr_v1", "unsigned int")
        t = re.sub(r"\b(CU\w+?)_v\d+\b", r"\1", t)
        types.append(t)
    return ",".join(types)


def read_symbols(inc: Path) -> dict[str, str]:
    """Every exported symbol name -> its normalized parameter types."""
    protos: dict[str, str] = {}
    for defs in ([], ["CUDA_API_PER_THREAD_DEFAULT_STREAM"], ["__CUDA_API_VERSION_INTERNAL"]):
        for name, params in DECL_RE.findall(preprocess(inc, defs)):
            protos.setdefault(name, normalize_params(params))
    for name in EXTRA_SYMBOLS:
        protos.setdefault(name, "")
    for name in EXCLUDED_SYMBOLS:
        protos.pop(name, None)
    return protos


def read_pfns(inc: Path) -> list[tuple[str, int, bool, str]]:
    text = ""
    for f in ("cudaTypedefs.h", "cudaProfilerTypedefs.h"):
        if (inc / f).is_file():
            text += re.sub(r"\s+", " ", (inc / f).read_text()) + " "
    out = {}
    for base, ver, pt, params in PFN_RE.findall(text):
        out[(base, int(ver), bool(pt))] = normalize_params(params)
    return sorted((b, v, p, s) for (b, v, p), s in out.items())


def candidates(base: str, per_thread: bool, protos: dict[str, str]) -> list[str]:
    """Symbols that may implement base, in ABI order (bare, _v2, _v3, ...)."""
    found = []
    for name in protos:
        m = SUFFIX_RE.match(name)
        if not m:
            continue
        b, ver, pt = m.group(1), m.group(2), m.group(3)
        if b == base and bool(pt) == per_thread:
            found.append((int(ver) if ver else 1, name))
    return [n for _, n in sorted(found)]


def build_table(protos: dict[str, str], pfns: list[tuple[str, int, bool, str]]):
    """[(name, version, per_thread, symbol)] and the PFNs no symbol matches."""
    rows, unmatched = [], []
    groups: dict[tuple[str, bool], list[tuple[int, str]]] = {}
    for base, ver, pt, sig in pfns:
        groups.setdefault((base, pt), []).append((ver, sig))
    for (base, pt), versions in sorted(groups.items()):
        cands = candidates(base, pt, protos)
        last = 0
        used: set[str] = set()
        for ver, sig in sorted(versions):
            match = [i for i, c in enumerate(cands) if protos[c] == sig or protos[c] == ""]
            pick = next((i for i in match if i >= last and cands[i] not in used), None)
            if pick is None:
                pick = next((i for i in match if i >= last), None)
            if pick is None:
                unmatched.append(f"{base}_v{ver}{'_pt' if pt else ''}")
                continue
            last = pick
            used.add(cands[pick])
            rows.append((base, ver, pt, cands[pick]))
    return rows, unmatched


def implemented_symbols() -> set[str]:
    """Names with a strong hand-written definition in revati/native/driver/*.c."""
    names: set[str] = set()
    pat = re.compile(r"^(?:RV_EXPORT\s+)?CUresult\s+(?:CUDAAPI\s+)?(cu\w+)\s*\(", re.M)
    alias = re.compile(r"RV_ALIAS\(\s*(cu\w+)\s*,")
    for f in sorted(DRIVER_DIR.glob("*.c")):
        text = f.read_text()
        names.update(pat.findall(text))
        names.update(alias.findall(text))
    return names


def render(inc: Path) -> dict[Path, str]:
    ver = cuda_version(inc)
    protos = read_symbols(inc)
    rows, unmatched = build_table(protos, read_pfns(inc))
    if unmatched:
        raise SystemExit("error: no symbol matches " + ", ".join(unmatched))
    banner = f"generated by tools/gen_driver_tables.py from cuda.h {ver}; do not edit"
    syms = sorted(protos)

    stubs = [
        f"/* {banner} */",
        "/* Weak stubs: every driver symbol exists; unimplemented ones count and fail. */",
    ]
    stubs += [
        "/* rv_stub_call (init.c) counts the call (rv_unimplemented), writes its api event and returns",
        " * CUDA_ERROR_NOT_SUPPORTED. */",
        "int rv_stub_call(const char *name);",
        "",
    ]
    stubs.append(
        '#define STUB(n) __attribute__((weak, visibility("default"))) int n(void) { return rv_stub_call(#n); }'
    )
    stubs += [f"STUB({s})" for s in syms]
    stubs.append("")

    table = [
        f"/* {banner} */",
        "/* (name, ABI version, per-thread stream) -> symbol, sorted by name then version. */",
    ]
    table += ['#include "../proc_table.h"', ""]
    table += [f"extern int {s}(void);" for s in sorted({r[3] for r in rows})]
    table.append("")
    table.append("const rv_proc_entry rv_proc_table[] = {")
    for base, v, pt, sym in sorted(rows):
        table.append(f'    {{"{base}", {v}, {int(pt)}, (void *){sym}}},')
    table.append("};")
    table.append(
        "const int rv_proc_table_len = (int)(sizeof rv_proc_table / sizeof rv_proc_table[0]);"
    )
    table.append("")

    impl = implemented_symbols()
    done = [s for s in syms if s in impl]
    todo = [s for s in syms if s not in impl]
    cov = [f"<!-- {banner} -->", "# Driver coverage", ""]
    cov.append(
        f"The stand-in `libcuda.so.1` exports all {len(syms)} driver symbols of cuda.h {ver}. "
        f"{len(done)} have a hand-written implementation; the other {len(todo)} are stubs that log once, "
        "count the call (the trace's `end` line, `revati report`) and return `CUDA_ERROR_NOT_SUPPORTED`. "
        f"`cuGetProcAddress` answers {len(rows)} (name, version) pairs."
    )
    cov += ["", "## Implemented", ""]
    cov += [", ".join(f"`{s}`" for s in done), "", "## Stubs (unimplemented)", ""]
    cov += [", ".join(f"`{s}`" for s in todo), ""]
    return {
        GEN_DIR / "stubs.c": "\n".join(stubs),
        GEN_DIR / "proc_table.c": "\n".join(table),
        COVERAGE: "\n".join(cov),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if the committed output is stale")
    args = ap.parse_args(argv)
    outputs = render(include_dir())
    stale = [p for p, text in outputs.items() if not p.is_file() or p.read_text() != text]
    if args.check:
        for p in stale:
            print(
                f"stale: {p.relative_to(ROOT)} (run python tools/gen_driver_tables.py)",
                file=sys.stderr,
            )
        return 1 if stale else 0
    for p in stale:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(outputs[p])
        print(f"wrote {p.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
