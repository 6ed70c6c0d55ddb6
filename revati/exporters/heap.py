"""The export process's set-up (`export_process`, around all `revati export` does): freed array
memory kept for reuse, no huge-page requests, one OpenBLAS thread, no cyclic garbage collection.

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

numpy loads OpenBLAS, which starts a worker thread per core that spins before it sleeps (about
0.04 s of CPU per process here); an export makes no BLAS call, so numpy is loaded with one thread
when the export loads it first. Python's cyclic collector walks every object at each collection,
and importing pandas and pyarrow creates hundreds of thousands (about 0.1 s of a 1M-launch export,
per `perf`); an export makes few cycles, so it is turned off while the export runs.
"""

from __future__ import annotations

import ctypes
import gc
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

M_TRIM_THRESHOLD = -1  # glibc malloc.h: free heap top kept before it is returned to the system
M_MMAP_THRESHOLD = -3  # blocks this large or larger are mapped on their own
MMAP_THRESHOLD_MAX = 32 << 20  # glibc's ceiling for M_MMAP_THRESHOLD on 64-bit systems
TRIM_THRESHOLD = 1 << 30
BLAS_THREADS = "OPENBLAS_NUM_THREADS"


@contextmanager
def export_process() -> Iterator[None]:
    """This process set up for an export (the module's docstring) while the block runs; the
    collector is back on after it, the rest stays. Enter it before anything imports numpy."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        _numpy_one_blas_thread()
        keep_freed_memory()
        yield
    finally:
        if collecting:
            gc.enable()


def _numpy_one_blas_thread() -> None:
    if "numpy" in sys.modules:
        return
    before = os.environ.get(BLAS_THREADS)
    os.environ[BLAS_THREADS] = "1"  # read once, when numpy loads OpenBLAS
    try:
        import numpy  # noqa: F401
    finally:  # the process's children get the environment it was given
        if before is None:
            del os.environ[BLAS_THREADS]
        else:
            os.environ[BLAS_THREADS] = before


def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds for this process and stop numpy asking for huge
    pages; False where there is no mallopt."""
    _no_huge_pages()
    try:  # the process's own symbols: libc's, without ctypes.util's `ldconfig -p` to find it
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
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
