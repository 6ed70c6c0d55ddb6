"""The fatbin reader (driver/fatbin.c) on sample images and on the fatbins of real CUDA libraries."""

from __future__ import annotations

import ctypes.util
import hashlib
import json
import os
import random
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from revati.native import build as native_build

NATIVE = Path(native_build.__file__).resolve().parent
PROBES = Path(__file__).resolve().parent / "probes"
FATBIN_SOURCES = sorted((NATIVE / "driver").glob("fatbin*.c"))  # the reader, without the driver

SAMPLE_KERNELS = {"_Z8rv_scalePffi", "rv_plain_c", "_Z8rv_templILi16EEvPd"}
SAMPLE_GLOBALS = {"rv_table": 148, "rv_scalar": 8, "rv_consts": 20}
HAVE_ZSTD = ctypes.util.find_library("zstd") is not None


def _site_packages() -> list[Path]:
    import sys

    return [Path(p) for p in sys.path if p.endswith("site-packages")]


def find_lib(*parts: str) -> Path | None:
    for sp in _site_packages():
        p = sp.joinpath(*parts)
        if p.is_file():
            return p
    return None


def nv_fatbin_section(path: Path, name: str = ".nv_fatbin") -> bytes:
    """The bytes of one section of a host ELF (read without loading the whole file)."""
    with open(path, "rb") as f:
        ehdr = f.read(64)
        assert ehdr[:4] == b"\x7fELF" and ehdr[4] == 2, f"{path} is not a 64-bit ELF"
        (shoff,) = struct.unpack_from("<Q", ehdr, 0x28)
        shentsize, shnum, shstrndx = struct.unpack_from("<HHH", ehdr, 0x3A)
        f.seek(shoff)
        table = f.read(shentsize * shnum)
        secs = [struct.unpack_from("<IIQQQQ", table, i * shentsize) for i in range(shnum)]
        f.seek(secs[shstrndx][4])
        names = f.read(secs[shstrndx][5])
        for nm, _typ, _flags, _addr, off, size in secs:
            if names[nm : names.index(b"\0", nm)].decode() == name:
                f.seek(off)
                return f.read(size)
    raise LookupError(f"{path} has no {name} section")


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """fatbin_probe.c compiled together with driver/fatbin.c against librevati.so (for the logger)."""
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not cc:
        pytest.skip("no C compiler")
    lib = native_build.DEFAULT_OUT
    try:
        native_build.build(lib)
    except native_build.BuildError:
        # the fatbin reader needs only librevati.so; a broken driver build elsewhere is not ours
        if not (lib / "librevati.so").exists():
            raise
    out = tmp_path_factory.mktemp("fatbin") / "fatbin_probe"
    cmd = [
        cc, "-O2", "-g", "-std=gnu11", "-D_GNU_SOURCE", "-Wall", "-Wextra", "-Werror",
        "-Wno-unused-parameter", "-I", str(NATIVE / "include"), "-o", str(out),
        str(PROBES / "fatbin_probe.c"), *map(str, FATBIN_SOURCES),
        "-L", str(lib), "-l:librevati.so", f"-Wl,-rpath,{lib}", "-ldl", "-lpthread",
    ]  # fmt: skip
    subprocess.run(cmd, check=True)
    return out


def run_probe(probe: Path, *args: str, timeout: float = 300) -> dict:
    p = subprocess.run(
        [str(probe), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "REVATI_LOG": "error"},
    )
    assert p.returncode == 0, f"probe failed ({p.returncode}): {p.stderr[-2000:]}"
    return json.loads(p.stdout)


def kernels_of(out: dict) -> dict[str, dict]:
    return {k["name"]: k for k in out["kernels"]}


@pytest.mark.parametrize(
    "flavour",
    [
        "plain",
        "lz4",
        pytest.param("zstd", marks=pytest.mark.skipif(not HAVE_ZSTD, reason="no libzstd")),
    ],
)
def test_sample_fatbin_names_sizes_and_attributes(probe: Path, flavour: str) -> None:
    """Each compression scheme yields the sm_90 cubin's kernels, globals and per-kernel attributes."""
    path = PROBES / f"fatbin_sample_{flavour}.fatbin"
    out = run_probe(probe, "file", path, 9, 0, "--global", "rv_table", "--global", "no_such")
    assert out["parsed"] and out["sm"] == 90 and not out["ptx"] and out["compatible"]
    ks = kernels_of(out)
    assert set(ks) == SAMPLE_KERNELS
    assert out["globals"] == SAMPLE_GLOBALS
    assert out["lookups"] == {"rv_table": 148, "no_such": None}
    assert out["missing_function"] == -1
    for i, k in enumerate(out["kernels"]):
        assert k["found_at"] == i
        assert k["regs"] > 0 and k["code_bytes"] > 0
    scale = ks["_Z8rv_scalePffi"]
    assert scale["param_bytes"] == 16  # float*, float, int: 8 + 4 + 4
    assert scale["max_threads"] == scale["max_threads_per_block"] == 256  # __launch_bounds__(256)
    assert scale["static_smem"] == 64 * 4  # __shared__ float tile[64], without the reserved 1 KiB
    assert ks["rv_plain_c"]["param_bytes"] == 12
    assert ks["_Z8rv_templILi16EEvPd"]["param_bytes"] == 8
    # EIATTR_KPARAM_INFO: (offset, size) per parameter in declaration order
    assert scale["nparams"] == 3 and scale["params"] == [[0, 8], [8, 4], [12, 4]]
    assert ks["_Z8rv_templILi16EEvPd"]["params"] == [[0, 8]]
    assert ks["rv_plain_c"]["params"] == [[0, 8], [8, 4]]  # int*, int


@pytest.mark.parametrize(
    "major,minor,want_sm,compatible",
    [
        (9, 0, 90, True),
        (8, 0, 80, True),
        (8, 6, 80, True),  # SASS runs on a newer minor of its major
        (12, 0, 90, False),  # but not on another major: names only, the real driver says 209
        (10, 0, 90, False),
        (7, 5, 80, False),
    ],
)
def test_arch_choice(probe: Path, major: int, minor: int, want_sm: int, compatible: bool) -> None:
    """The cubin a real driver would run is read; with none, the nearest one still gives names."""
    out = run_probe(probe, "file", PROBES / "fatbin_sample_plain.fatbin", major, minor)
    assert out["parsed"] and out["sm"] == want_sm and out["compatible"] is compatible
    assert set(kernels_of(out)) == SAMPLE_KERNELS


def test_ptx_is_jit_compatible_with_newer_archs(probe: Path) -> None:
    """compute_90 PTX loads (JIT) on sm_90 and sm_100, not on sm_80."""
    path = PROBES / "fatbin_sample_ptx.fatbin"
    assert run_probe(probe, "file", path, 10, 0)["compatible"] is True
    assert run_probe(probe, "file", path, 9, 0)["compatible"] is True
    out = run_probe(probe, "file", path, 8, 0)
    assert out["compatible"] is False and set(kernels_of(out)) == SAMPLE_KERNELS


def test_ptx_only_fatbin(probe: Path) -> None:
    """A fatbin holding only PTX gives kernel names from .entry and global sizes from declarations."""
    out = run_probe(probe, "file", PROBES / "fatbin_sample_ptx.fatbin", 9, 0)
    assert out["parsed"] and out["ptx"]
    assert set(kernels_of(out)) == SAMPLE_KERNELS
    assert out["globals"] == SAMPLE_GLOBALS


@pytest.mark.parametrize("wrap", [False, True])
def test_pointer_and_wrapper_inputs(probe: Path, wrap: bool) -> None:
    """A bare pointer to a fatbin, and a fatbin wrapper pointing at one, read like the file."""
    args = ["ptr", PROBES / "fatbin_sample_lz4.fatbin", 9, 0] + (["wrap"] if wrap else [])
    assert run_probe(probe, *args) == {"parsed": True, "kernels": 3, "globals": 3, "sm": 90}


def test_without_zstd_degrades_with_one_warning(probe: Path, tmp_path: Path) -> None:
    """With a libzstd.so.1 that lacks the API, zstd entries give nothing (NULL, one warning), and
    the other compressions still read."""
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    fake = tmp_path / "libzstd.so.1"
    (tmp_path / "empty.c").write_text("int rv_not_zstd;\n")
    subprocess.run(
        [
            cc,
            "-shared",
            "-fPIC",
            "-Wl,-soname,libzstd.so.1",
            "-o",
            str(fake),
            str(tmp_path / "empty.c"),
        ],
        check=True,
    )
    env = {**os.environ, "LD_LIBRARY_PATH": str(tmp_path), "REVATI_LOG": "warn"}
    for flavour, parsed in [("zstd", False), ("lz4", True), ("plain", True)]:
        p = subprocess.run(
            [str(probe), "file", str(PROBES / f"fatbin_sample_{flavour}.fatbin"), "9", "0"],
            capture_output=True,
            text=True,
            env=env,
        )
        assert p.returncode == 0
        assert json.loads(p.stdout)["parsed"] is parsed
        warnings = [ln for ln in p.stderr.splitlines() if "libzstd" in ln]
        assert len(warnings) == (1 if flavour == "zstd" else 0), p.stderr


def test_bare_cubin_and_ptx_text(probe: Path, tmp_path: Path) -> None:
    """A bare ELF cubin and bare PTX text (cuModuleLoadData's other inputs) are read too."""
    data = (PROBES / "fatbin_sample_plain.fatbin").read_bytes()
    # the plain sample's entries are uncompressed: cut the first ELF out of the container
    start = data.index(b"\x7fELF")
    (_kind, _ver, hs, psize) = struct.unpack_from("<HHIQ", data, start - 64)
    cubin = tmp_path / "k.cubin"
    cubin.write_bytes(data[start : start + psize])
    out = run_probe(probe, "file", cubin, 9, 0)
    assert out["parsed"] and out["sm"] == 80 and set(kernels_of(out)) == SAMPLE_KERNELS
    ptx = (PROBES / "fatbin_sample_ptx.fatbin").read_bytes()
    text = ptx[ptx.index(b".version") :].split(b"\0")[0]
    (tmp_path / "k.ptx").write_bytes(text + b"\0")
    out = run_probe(probe, "file", tmp_path / "k.ptx", 9, 0)
    assert out["parsed"] and out["ptx"] and set(kernels_of(out)) == SAMPLE_KERNELS


def test_corrupt_inputs_never_crash(probe: Path, tmp_path: Path) -> None:
    """Truncated, bit-flipped and random images return NULL or a valid image; the probe never crashes."""
    rng = random.Random(1234)
    samples = [(PROBES / f"fatbin_sample_{f}.fatbin").read_bytes() for f in ("plain", "lz4", "ptx")]
    if HAVE_ZSTD:
        samples.append((PROBES / "fatbin_sample_zstd.fatbin").read_bytes())
    cases: list[bytes] = [b"", b"\x50\xed\x55\xba", os.urandom(4096)]
    # a header that claims far more than there is
    cases.append(struct.pack("<IHHQ", 0xBA55ED50, 1, 16, 1 << 40) + b"\0" * 64)
    for s in samples:
        for _ in range(12):
            cases.append(s[: rng.randrange(len(s))])
        for _ in range(24):
            b = bytearray(s)
            for _ in range(rng.randrange(1, 12)):
                pos = rng.randrange(min(len(b), 512) if rng.random() < 0.5 else len(b))
                b[pos] ^= 1 << rng.randrange(8)
            cases.append(bytes(b))
    parsed = 0
    for i, c in enumerate(cases):
        f = tmp_path / f"c{i}.bin"
        f.write_bytes(c)
        out = run_probe(probe, "file", f, 9, 0)
        parsed += out["parsed"]
        out = run_probe(probe, "ptr", f, 9, 0)  # the bare-pointer path checks extents by mapping
    assert 0 < parsed < len(cases)
    for c in cases[:4]:
        (tmp_path / "x.bin").write_bytes(c)
        assert run_probe(probe, "file", tmp_path / "x.bin", 9, 0) == {"parsed": False}
        assert run_probe(probe, "ptr", tmp_path / "x.bin", 9, 0)["parsed"] is False


def test_fuzzed_images_under_sanitizers(tmp_path: Path) -> None:
    """Thousands of mutated images through the reader built with ASan/UBSan: no bad access, and every
    name it returns can be looked up again."""
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    lib = native_build.DEFAULT_OUT
    if not cc or not (lib / "librevati.so").exists():
        pytest.skip("no C compiler or librevati.so")
    exe = tmp_path / "fatbin_fuzz"
    cmd = [
        cc, "-O1", "-g", "-fsanitize=address,undefined", "-fno-sanitize-recover=undefined",
        "-std=gnu11", "-D_GNU_SOURCE", "-I", str(NATIVE / "include"), "-o", str(exe),
        str(PROBES / "fatbin_fuzz.c"), *map(str, FATBIN_SOURCES),
        "-L", str(lib), "-l:librevati.so", f"-Wl,-rpath,{lib}", "-ldl", "-lpthread",
    ]  # fmt: skip
    if subprocess.run(cmd, capture_output=True).returncode != 0:
        pytest.skip("this compiler cannot build with -fsanitize=address,undefined")
    flavours = ["plain", "lz4", "ptx"] + (["zstd"] if HAVE_ZSTD else [])
    files = [str(PROBES / f"fatbin_sample_{f}.fatbin") for f in flavours]
    p = subprocess.run(
        [str(exe), "1500", "7", *files],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "REVATI_LOG": "error", "ASAN_OPTIONS": "detect_leaks=1"},
    )
    assert p.returncode == 0, p.stderr[-3000:]
    counts = [int(line.split()[1].split("/")[0]) for line in p.stdout.splitlines()]
    assert len(counts) == len(files) and all(0 < c < 1500 for c in counts)


def scan_library(probe: Path, tmp_path: Path, lib: Path, *globals_: str) -> tuple[dict, set[str]]:
    section = tmp_path / (lib.name + ".nv_fatbin")
    section.write_bytes(nv_fatbin_section(lib))
    names_out = tmp_path / (lib.name + ".names")
    args: list[str] = []
    for g in globals_:
        args += ["--global", g]
    out = run_probe(probe, "scan", section, 9, 0, names_out, *args)
    section.unlink()
    return out, set(names_out.read_text().split())


REAL_LIBS = [
    # (path parts, a kernel that must be there, globals with a known size)
    (("nvidia", "cu13", "lib", "libcublas.so.13"), "gemv2T_kernel", {}),
    (
        ("nvidia", "cu13", "lib", "libcublasLt.so.13"),
        "sm90_xmma_gemm_",
        {"_ZN6cublas8internal15deviceConstantsE": 112},
    ),
    (("nvidia", "nccl", "lib", "libnccl.so.2"), "ncclDevKernel_AllGather_RING_LL", {}),
    (("nvidia", "cudnn", "lib", "libcudnn_adv.so.9"), "RNN_persist", {}),
    (("torch", "lib", "libtorch_cuda.so"), "vectorized_elementwise_kernel", {}),
]


@pytest.mark.skipif(not HAVE_ZSTD, reason="CUDA 13 libraries compress their cubins with zstd")
@pytest.mark.parametrize(
    "parts,kernel,globals_",
    REAL_LIBS,
    ids=["cublas", "cublasLt", "nccl", "cudnn_adv", "torch_cuda"],
)
def test_real_library_fatbins(probe: Path, tmp_path: Path, parts, kernel, globals_) -> None:
    """Every fatbin in a CUDA library's .nv_fatbin section, handed over as a bare pointer, is read."""
    lib = find_lib(*parts)
    if lib is None:
        pytest.skip(f"{'/'.join(parts)} not installed")
    out, names = scan_library(probe, tmp_path, lib, *globals_)
    assert out["containers"] > 0
    assert out["parsed"] == out["containers"], out
    assert 0 < out["compatible"] <= out["parsed"]
    assert out["from_ptx"] == 0  # every one of these ships an ELF for some arch
    assert out["kernels"] > 10
    assert any(kernel in n for n in names), f"no kernel like {kernel!r} in {lib.name}"
    for g, size in globals_.items():
        assert out["lookups"][g] == size


GOLDEN = json.loads((PROBES / "fatbin_gpu_golden.json").read_text())


def golden_image(name: str, g: dict, tmp_path: Path, sections: dict[str, bytes]) -> Path | None:
    """The bytes the golden entry was measured on: a sample, or fatbin #index of a library's section."""
    if "file" in g:
        path = PROBES / g["file"]
    else:
        lib = find_lib(*g["lib"].split("/"))
        if lib is None:
            return None
        if g["lib"] not in sections:
            sections[g["lib"]] = nv_fatbin_section(lib)
        blob = sections[g["lib"]]
        off, n = 0, 0
        while off + 16 <= len(blob):
            magic, _v, hs, body = struct.unpack_from("<IHHQ", blob, off)
            if magic != 0xBA55ED50:
                off += 8
                continue
            if n == g["index"]:
                path = tmp_path / f"{name}.fatbin"
                path.write_bytes(blob[off : off + hs + body])
                break
            off, n = off + hs + body, n + 1
        else:
            return None
    data = path.read_bytes()
    return path if hashlib.sha256(data).hexdigest() == g["sha256"] else None


@pytest.mark.skipif(not HAVE_ZSTD, reason="the images are zstd-compressed")
def test_matches_real_driver(probe: Path, tmp_path: Path) -> None:
    """Against what a real H200's driver said about the same images (fatbin_gpu_golden.json, made by
    fatbin_gpu_check.py): loadable exactly when the reader says compatible; same kernel names, registers,
    static shared and local memory, max threads per block; same global sizes."""
    major, minor = GOLDEN["cc"]
    checked = kernels = 0
    sections: dict[str, bytes] = {}
    for name, g in sorted(GOLDEN["images"].items()):
        path = golden_image(name, g, tmp_path, sections)
        if path is None:
            continue
        out = run_probe(
            probe,
            "file",
            path,
            major,
            minor,
            *sum((["--global", k] for k in g.get("globals", {})), []),
        )
        assert out["parsed"], name
        assert out["compatible"] is (g["load"] == 0), name
        checked += 1
        if g["load"] != 0:
            continue  # CUDA_ERROR_NO_BINARY_FOR_GPU: no sm_9x code in it
        ours = {
            hashlib.sha1(k["name"].encode()).hexdigest()[:16]: [
                k["regs"], k["static_smem"], k["local_bytes"], k["max_threads_per_block"]
            ]
            for k in out["kernels"]
        }  # fmt: skip
        assert set(ours) == set(g["kernels"]), name
        for key, (regs, smem, local, threads) in g["kernels"].items():
            r_regs, r_smem, r_local, r_threads = ours[key]
            if not out["ptx"]:  # PTX says nothing of registers or shared memory: the driver JITs it
                assert (r_regs, r_smem) == (regs, smem), name
            assert (r_local, r_threads) == (local, threads), name
            kernels += 1
        assert out["lookups"] == g["globals"], name
    assert checked >= 4  # the committed samples at least
    assert kernels >= 9
