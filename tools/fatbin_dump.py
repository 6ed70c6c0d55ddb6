"""List what a fatbin holds: its code objects and, through revati's reader, kernels and globals.

    python tools/fatbin_dump.py LIB_OR_IMAGE [--sm 9.0] [--names] [--limit N]

LIB_OR_IMAGE is a host library or executable (its ``.nv_fatbin`` section is read; ``--section`` picks
another, e.g. ``.cask_resource``), a ``.fatbin`` file, a ``.cubin`` or PTX text. Without ``--names``
the container and entry headers are listed (kind, SM, flags, stored and uncompressed sizes) in pure
Python. With ``--names`` each fatbin is handed to the stand-in driver's reader (``rv_image_*`` in
``revati/native/lib/libcuda.so.1``, built by ``python -m revati.native.build``), which picks the cubin
for ``--sm`` and prints its kernels (registers, static shared memory, parameter bytes, the parameter
layout as offset:size pairs) and globals.
"""

from __future__ import annotations

import argparse
import ctypes
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FATBIN_MAGIC = 0xBA55ED50
KINDS = {1: "ptx", 2: "elf"}
FLAGS = {0x2000: "lz4", 0x8000: "zstd", 0x100000: "arch-specific(a)", 0x200000: "family(f)"}


class DumpError(Exception):
    """Bad input: the message is the one line printed."""


def elf_section(data: bytes, name: str) -> bytes | None:
    """The bytes of a section of a 64-bit little-endian ELF, or None if it has none by that name."""
    if data[:4] != b"\x7fELF" or data[4] != 2:
        return None
    (shoff,) = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    if shoff + shnum * shentsize > len(data) or shstrndx >= shnum:
        raise DumpError("ELF section table out of bounds")
    secs = [struct.unpack_from("<IIQQQQ", data, shoff + i * shentsize) for i in range(shnum)]
    stroff = secs[shstrndx][4]
    for nm, _t, _f, _a, off, size in secs:
        end = data.find(b"\0", stroff + nm)
        if data[stroff + nm : end].decode(errors="replace") == name:
            return data[off : off + size]
    return None


def containers(blob: bytes):
    """(offset, bytes) of each fatbin in a blob of fatbins laid back to back (padding skipped)."""
    off = 0
    while off + 16 <= len(blob):
        magic, _ver, hs, body = struct.unpack_from("<IHHQ", blob, off)
        if magic != FATBIN_MAGIC:
            off += 8
            continue
        yield off, blob[off : off + hs + body]
        off += hs + body


def entries(fb: bytes):
    """Entry headers of one fatbin: dicts of kind, sm, flags, stored and uncompressed bytes."""
    _m, _v, hs, body = struct.unpack_from("<IHHQ", fb, 0)
    off, end = hs, min(len(fb), hs + body)
    while off + 64 <= end:
        kind, _ver, ehs, psize = struct.unpack_from("<HHIQ", fb, off)
        (csize,) = struct.unpack_from("<I", fb, off + 0x10)
        (arch,) = struct.unpack_from("<I", fb, off + 0x1C)
        (flags,) = struct.unpack_from("<Q", fb, off + 0x28)
        (usize,) = struct.unpack_from("<Q", fb, off + 0x38)
        if ehs < 64:
            break
        yield {
            "kind": KINDS.get(kind, str(kind)),
            "sm": arch,
            "flags": [v for k, v in FLAGS.items() if flags & k],
            "stored": csize or psize,
            "uncompressed": usize or psize,
        }
        off += ehs + psize


class FuncInfo(ctypes.Structure):
    """rv_func_info of revati/native/include/revati/fatbin.h."""

    _fields_ = [
        ("regs", ctypes.c_int),
        ("max_threads", ctypes.c_int),
        ("static_smem", ctypes.c_uint64),
        ("local_bytes", ctypes.c_uint64),
        ("const0_bytes", ctypes.c_uint64),
        ("param_bytes", ctypes.c_uint64),
        ("code_bytes", ctypes.c_uint64),
        ("max_threads_per_block", ctypes.c_int),
        ("nparams", ctypes.c_int),
        ("param_off", ctypes.POINTER(ctypes.c_uint16)),
        ("param_size", ctypes.POINTER(ctypes.c_uint16)),
    ]


class Reader:
    """revati's fatbin reader through ctypes on the built libcuda.so.1."""

    def __init__(self) -> None:
        path = ROOT / "revati" / "native" / "lib" / "libcuda.so.1"
        if not path.exists():
            raise DumpError(f"{path} not built: run python -m revati.native.build")
        lib = ctypes.CDLL(str(path))
        vp, cp, i, u64p = (
            ctypes.c_void_p,
            ctypes.c_char_p,
            ctypes.c_int,
            ctypes.POINTER(ctypes.c_uint64),
        )
        for name, res, args in [
            ("rv_image_parse_buffer", vp, [ctypes.c_char_p, ctypes.c_size_t, i, i]),
            ("rv_image_function_count", i, [vp]),
            ("rv_image_function_name", cp, [vp, i]),
            ("rv_image_function_info", i, [vp, i, ctypes.c_void_p]),
            ("rv_image_global_count", i, [vp]),
            ("rv_image_global_name", cp, [vp, i, u64p]),
            ("rv_image_sm", i, [vp]),
            ("rv_image_free", None, [vp]),
        ]:
            fn = getattr(lib, name)
            fn.restype, fn.argtypes = res, args
        self.lib = lib

    def read(self, data: bytes, major: int, minor: int) -> dict | None:
        lib = self.lib
        img = lib.rv_image_parse_buffer(data, len(data), major, minor)
        if not img:
            return None
        info = FuncInfo()
        kernels = []
        for k in range(lib.rv_image_function_count(img)):
            lib.rv_image_function_info(img, k, ctypes.byref(info))
            name = lib.rv_image_function_name(img, k).decode()
            layout = [(info.param_off[p], info.param_size[p]) for p in range(max(info.nparams, 0))]
            kernels.append((name, info.regs, info.static_smem, info.param_bytes, layout))
        size = ctypes.c_uint64()
        globals_ = []
        for k in range(lib.rv_image_global_count(img)):
            name = lib.rv_image_global_name(img, k, ctypes.byref(size)).decode()
            globals_.append((name, size.value))
        out = {"sm": lib.rv_image_sm(img), "kernels": kernels, "globals": globals_}
        lib.rv_image_free(img)
        return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("path", type=Path)
    ap.add_argument("--section", default=".nv_fatbin", help="section of a host ELF to read")
    ap.add_argument("--sm", default="9.0", help="device compute capability, e.g. 9.0 or 8.0")
    ap.add_argument("--names", action="store_true", help="kernels and globals, via revati's reader")
    ap.add_argument("--limit", type=int, default=0, help="stop after N fatbins (0: all)")
    args = ap.parse_args(argv)
    try:
        major, minor = (int(x) for x in args.sm.split("."))
    except ValueError:
        print(f"error: --sm {args.sm!r} is not MAJOR.MINOR (e.g. 9.0)", file=sys.stderr)
        return 2
    try:
        if not args.path.is_file():
            raise DumpError(f"{args.path} is not a file")
        data = args.path.read_bytes()
        section = elf_section(data, args.section)
        is_cubin = data[:4] == b"\x7fELF" and data[18:20] == (190).to_bytes(2, "little")
        blob = section if section is not None and not is_cubin else data
        found = list(containers(blob))
        reader = Reader() if args.names else None
        if not found:  # a bare cubin or PTX text
            if reader is None:
                raise DumpError(
                    f"{args.path}: no fatbin in it (use --names to read a cubin or PTX)"
                )
            found = [(0, blob)]
        for n, (off, fb) in enumerate(found):
            if args.limit and n >= args.limit:
                break
            print(f"fatbin {n} at 0x{off:x}: {len(fb)} bytes")
            if fb[:4] == struct.pack("<I", FATBIN_MAGIC):
                for e in entries(fb):
                    flags = ",".join(e["flags"]) or "-"
                    print(
                        f"  {e['kind']:3} sm_{e['sm']:<4} {flags:28} "
                        f"{e['stored']:>10} -> {e['uncompressed']:>10} bytes"
                    )
            if reader is not None:
                img = reader.read(fb, major, minor)
                if img is None:
                    print("  (revati's reader found nothing it can read)")
                    continue
                print(
                    f"  read sm_{img['sm']}: {len(img['kernels'])} kernels, {len(img['globals'])} globals"
                )
                for name, regs, smem, params, layout in img["kernels"]:
                    lay = " ".join(f"{o}:{n}" for o, n in layout)
                    print(
                        f"    kernel {name}  regs={regs} static_smem={smem} param_bytes={params}"
                        f" params=[{lay}]"
                    )
                for name, size in img["globals"]:
                    print(f"    global {name}  {size} bytes")
    except (DumpError, OSError, struct.error) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
