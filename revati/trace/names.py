"""Kernel names for people: C++ demangling through libstdc++'s __cxa_demangle (no extra package).

Traces keep the mangled name (it is the kernel's identity: tables, diff); exporters and reports
show the demangled one, as the PyTorch profiler does. Where libstdc++ is not loadable, or a name
is not a mangled C++ name, the name is shown as it is.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import lru_cache


@lru_cache(maxsize=1)
def _libs() -> tuple[object, object] | None:
    try:
        try:  # by its soname first: ctypes.util runs `ldconfig -p` to look a library up
            cxx = ctypes.CDLL("libstdc++.so.6")
        except OSError:
            cxx = ctypes.CDLL(ctypes.util.find_library("stdc++"))
        libc = ctypes.CDLL(None)
    except OSError:
        return None
    fn = cxx.__cxa_demangle
    fn.restype = ctypes.c_void_p
    fn.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_int)]
    free = libc.free
    free.argtypes = [ctypes.c_void_p]
    return fn, free


@lru_cache(maxsize=65536)
def demangle(name: str) -> str:
    """The demangled form of an Itanium-ABI name (`_Z...`), else `name` unchanged."""
    if not name.startswith("_Z"):
        return name
    libs = _libs()
    if libs is None:
        return name
    fn, free = libs
    status = ctypes.c_int(0)
    ptr = fn(name.encode(), None, None, ctypes.byref(status))  # type: ignore[operator]
    if not ptr:
        return name
    try:
        out = ctypes.string_at(ptr).decode(errors="replace")
    finally:
        free(ptr)  # type: ignore[operator]
    return out if status.value == 0 else name
