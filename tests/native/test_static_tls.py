"""librevati's thread-local storage is static (initial-exec: its hooks read it on every call), and
glibc leaves only a small surplus of static TLS for libraries that are dlopen'ed after start-up
(ctypes, a plugin): 4 KB of per-thread scratch arrays once made `ctypes.CDLL(librevati.so)` fail
with "cannot allocate memory in static TLS block". This keeps the block small."""

from __future__ import annotations

import struct
from pathlib import Path

PT_TLS = 7
BUDGET = 512  # bytes; glibc's surplus for dlopen'ed static TLS is shared with every other library


def tls_size(path: Path) -> int:
    """The PT_TLS segment's memory size of an ELF64 little-endian library (0 without one)."""
    data = path.read_bytes()
    assert data[:4] == b"\x7fELF" and data[4] == 2 and data[5] == 1, f"{path}: not ELF64 LE"
    (phoff,) = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    for i in range(phnum):
        off = phoff + i * phentsize
        (p_type,) = struct.unpack_from("<I", data, off)
        if p_type == PT_TLS:
            return struct.unpack_from("<Q", data, off + 40)[0]  # p_memsz
    return 0


def test_librevati_static_tls_stays_small(lib_dir: Path) -> None:
    size = tls_size(lib_dir / "librevati.so")
    assert 0 < size <= BUDGET, f"librevati.so has {size} bytes of static TLS (budget {BUDGET})"
