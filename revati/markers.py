"""Host markers for serving metrics: request arrival, tokens, finish, at the current virtual time.

Outside an emulated run (no librevati.so preloaded) every function here is a no-op, so workloads can
call them unconditionally.
"""

from __future__ import annotations

import ctypes
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

import orjson

# the same names as revati.trace.schema's (a test checks); not imported from there, so that a serving
# process loading this module does not import the trace reader's dependencies
MARK_PREFIX_CACHE = "prefix_cache"
MARK_HOOKS = "integration_hooks"
SPAN_BEGIN = "begin_ns"

__all__ = [
    "mark",
    "request_arrival",
    "first_token",
    "token",
    "request_finish",
    "vnow_ns",
    "active",
    "begin_own",
    "end_own",
    "own_time",
    "span",
    "prefix_cache",
    "integration_hooks",
]


@cache
def _lib() -> Any:
    try:
        lib = ctypes.CDLL(None)  # the global scope: librevati.so is there when preloaded
        fn = lib.revati_mark
        own = (lib.revati_own_begin, lib.revati_own_end)
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    fn.restype = None
    for f in own:
        f.argtypes = []
        f.restype = None
    lib.revati_vnow_ns.restype = ctypes.c_ulonglong
    return lib


def active() -> bool:
    """Whether this process runs under revati."""
    return _lib() is not None


def mark(name: str, **args: Any) -> None:
    """Write a `marker` event named `name` with `args` (JSON-serialisable) at the virtual now."""
    lib = _lib()
    if lib is not None:
        lib.revati_mark(name.encode(), orjson.dumps(args))


def begin_own() -> None:
    """From here to `end_own()`, this thread's time is revati's own: excluded from virtual time (for
    observers that run inside the program, such as revati's vLLM plugin). Pairs nest."""
    lib = _lib()
    if lib is not None:
        lib.revati_own_begin()


def end_own() -> None:
    """Close `begin_own()`."""
    lib = _lib()
    if lib is not None:
        lib.revati_own_end()


@contextmanager
def own_time() -> Iterator[None]:
    """`begin_own()` ... `end_own()` around the `with` block: revati's own work inside a program
    (an engine plugin's hooks) costs the program no virtual time."""
    begin_own()
    try:
        yield
    finally:
        end_own()


def vnow_ns() -> int:
    """The host's virtual time in ns (0 outside an emulated run)."""
    lib = _lib()
    return int(lib.revati_vnow_ns()) if lib is not None else 0


@contextmanager
def span(name: str, **args: Any) -> Iterator[None]:
    """Mark the host work inside the `with` block as one span on this thread: a marker `name`
    written at its end, with `args` and `begin_ns` (the virtual time at its start). Exports draw it
    from `begin_ns` to the marker's time. revati's own bookkeeping here is not virtual time."""
    lib = _lib()
    if lib is None:
        yield
        return
    lib.revati_own_begin()
    begin = int(lib.revati_vnow_ns())
    lib.revati_own_end()
    try:
        yield
    finally:
        lib.revati_own_begin()
        try:
            lib.revati_mark(name.encode(), orjson.dumps({**args, SPAN_BEGIN: begin}))
        finally:
            lib.revati_own_end()


def prefix_cache(seqs: int, new_tokens: int, cached_tokens: int, **args: Any) -> None:
    """One prefill batch's prompt tokens: computed (`new_tokens`) and taken from a prefix cache
    (`cached_tokens`), over `seqs` new sequences; `revati report` sums them per rank."""
    mark(MARK_PREFIX_CACHE, seqs=seqs, new_tokens=new_tokens, cached_tokens=cached_tokens, **args)


def integration_hooks(
    engine: str, version: str, installed: list[str], missing: dict[str, str]
) -> None:
    """Which hooks an engine plugin put in place in this process (`missing`: hook -> why);
    `revati report` lists them (revati/integrations/hooks.py)."""
    mark(MARK_HOOKS, engine=engine, version=version, installed=installed, missing=missing)


def request_arrival(req: str | int, **args: Any) -> None:
    mark("request_arrival", req=req, **args)


def first_token(req: str | int) -> None:
    mark("first_token", req=req)


def token(req: str | int) -> None:
    mark("token", req=req)


def request_finish(req: str | int, **args: Any) -> None:
    mark("request_finish", req=req, **args)
