"""Keep freed array memory in the process while an export runs.

An export of a million-launch run allocates and frees arrays of tens of MB many times over
(columns, sort orders, codes). By default glibc maps each such block afresh and unmaps it when
freed, so every new array faults its pages in again, each page zeroed by the kernel: on a busy
machine with transparent huge pages, that kernel time was as large as the export's own
(docs/exporters.md, "Speed at a million launches"). With the thresholds raised, blocks up to 32 MiB
come from the heap and stay there when freed, and the next array reuses their pages. The process
holds its peak until it exits, which `revati export` soon does. Elsewhere than glibc nothing
changes.

numpy asks for transparent huge pages for every array of 4 MiB or more (madvise); where the
kernel honours that only on request (`madvise`, this VM's setting, with direct compaction on
fault), each such fault can stall on compaction: a 1M-launch export spent 1.4-2.4 s of kernel
time with them against 0.6-0.9 s without, at load 13-20. So the export turns that request off.
"""

from __future__ import annotations

import ctypes
import ctypes.util

M_TRIM_THRESHOLD = -1  # glibc malloc.h: free heap top kept before it is returned to the system
M_MMAP_THRESHOLD = -3  # blocks this large or larger are mapped on their own
MMAP_THRESHOLD_MAX = 32 << 20  # glibc's ceiling for M_MMAP_THRESHOLD on 64-bit systems
TRIM_THRESHOLD = 1 << 30


def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds for this process and stop numpy asking for huge
    pages; False where there is no mallopt."""
    _no_huge_pages()
    name = ctypes.util.find_library("c")
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError, TypeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    ok = mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX) == 1
    return ok and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1


def _no_huge_pages() -> None:
    try:
        from numpy._core.multiarray import _set_madvise_hugepage  # type: ignore[attr-defined]
    except ImportError:  # another numpy layout: its default stays
        return
    _set_madvise_hugepage(False)
