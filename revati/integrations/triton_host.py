"""Run small Triton kernels on the host under revati, through Triton's own CPU interpreter.

Kernels do not run on the virtual GPU, so what a Triton kernel writes is uncomputed (the driver taints
it and reports host reads of it). When a launch is small and every tensor it receives holds known
values, this hook runs the kernel's Python source once more through `triton.runtime.interpreter` on
CPU tensors that alias the same bytes (device pointers under revati are host addresses of the
stand-in's memory), so its outputs hold what a GPU would have written, and tells the driver they are
known (`revati.values.supply`, a `value-supply` event by `triton-host:<kernel>`).

- Where: `JITFunction.run` is wrapped; the launch itself still goes through the driver as before
  (the kernel event and its modelled time are unchanged). The host run is revati's own time
  (bracketed as overhead), so it never reaches the program's virtual clock.
- When: not a warm-up, at most REVATI_TRITON_HOST_PROGRAMS programs (default 1024) and
  REVATI_TRITON_HOST_BYTES bytes over all tensor arguments' elements (default 1 MiB), and no tensor
  argument's elements tainted before the launch (so inputs are known; outputs are overwritten). A
  kernel that reads or writes past its tensors' elements is outside this hook's model. Otherwise nothing is done
  and the driver's taint stands (reads stay reported).
- Installed only under revati, by `install()`: the vLLM plugin calls it (its motivating case is
  `_get_num_sampled_and_rejected_kernel`); other programs can call it themselves.
  REVATI_TRITON_HOST=0 turns it off.
"""

from __future__ import annotations

import ctypes
import logging
import os
from typing import Any

log = logging.getLogger(__name__)

_stats = {"computed": 0, "skipped": 0, "failed": 0}


def stats() -> dict[str, int]:
    """How many launches were computed on the host, skipped (too large or inputs uncomputed), or failed."""
    return dict(_stats)


def _overhead() -> Any:
    try:
        lib = ctypes.CDLL(None)
        return lib.rv_enter, lib.rv_leave
    except (OSError, AttributeError):
        return None


def install() -> bool:
    """Wrap Triton's JITFunction.run; False when Triton or the values API is missing, or it is turned off."""
    from revati import values

    if os.environ.get("REVATI_TRITON_HOST", "1") == "0":
        return False
    try:
        from triton.runtime.interpreter import InterpretedFunction
        from triton.runtime.jit import JITFunction
    except ImportError as e:
        log.info("revati: Triton host runs off (%s)", e)
        return False
    if getattr(JITFunction.run, "_revati", False):
        return True
    original = JITFunction.run
    limits = (
        int(os.environ.get("REVATI_TRITON_HOST_PROGRAMS", "1024")),
        int(os.environ.get("REVATI_TRITON_HOST_BYTES", str(1 << 20))),
    )
    interpreted: dict[int, Any] = {}
    brackets = _overhead()

    def run(self: Any, *args: Any, grid: Any, warmup: bool, **kwargs: Any) -> Any:
        plan = None if warmup or not values.available() else _plan(self, args, kwargs, grid, limits)
        ret = original(self, *args, grid=grid, warmup=warmup, **kwargs)
        if plan is not None:
            if brackets:
                brackets[0]()
            try:
                fn = interpreted.get(id(self))
                if fn is None:
                    fn = interpreted[id(self)] = InterpretedFunction(self.fn)
                _host_run(self, fn, plan, args, kwargs)
            finally:
                if brackets:
                    brackets[1]()
        return ret

    run._revati = True  # type: ignore[attr-defined]
    JITFunction.run = run
    return True


def _plan(
    jit: Any, args: tuple[Any, ...], kwargs: dict[str, Any], grid: Any, limits: tuple[int, int]
) -> Any:
    """The launch's grid and tensor arguments when it may run on the host, else None."""
    from revati import values

    tensors = [
        a
        for a in list(args) + list(kwargs.values())
        if hasattr(a, "data_ptr") and hasattr(a, "device")
    ]
    if not tensors or any(getattr(t.device, "type", "") != "cuda" for t in tensors):
        _stats["skipped"] += 1
        return None
    if callable(grid):
        names = list(getattr(jit, "arg_names", []))
        meta = dict(zip(names, args, strict=False))
        meta.update(kwargs)
        try:
            grid = grid(meta)
        except Exception:  # a grid function needing autotuner values: leave it
            _stats["skipped"] += 1
            return None
    g = tuple(int(x) for x in grid) + (1,) * (3 - len(grid))
    spans = [_extent(t) for t in tensors]
    if g[0] * g[1] * g[2] > limits[0] or sum(n for _, n in spans) > limits[1]:
        _stats["skipped"] += 1
        return None
    for ptr, n in spans:  # a tensor's own elements (a view of a larger buffer: only its part)
        if n and values.tainted(ptr, n):
            _stats["skipped"] += 1
            return None
    return g


def _extent(t: Any) -> tuple[int, int]:
    """The address and byte length that tensor t's elements span (0 bytes when it has none)."""
    if t.numel() == 0:
        return int(t.data_ptr()), 0
    last = sum((n - 1) * st for n, st in zip(t.shape, t.stride(), strict=True) if n > 0)
    return int(t.data_ptr()), (int(last) + 1) * int(t.element_size())


def _alias(t: Any) -> Any:
    """A CPU tensor over the same bytes as device tensor t."""
    import torch

    s = t.untyped_storage()
    n = int(s.nbytes())
    if not n:
        return torch.empty(t.shape, dtype=t.dtype)
    raw = torch.frombuffer((ctypes.c_char * n).from_address(int(s.data_ptr())), dtype=torch.uint8)
    return raw.view(t.dtype).as_strided(t.shape, t.stride(), t.storage_offset())


def _host_run(
    jit: Any, fn: Any, grid: tuple[int, int, int], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    from revati import values

    conv = lambda a: _alias(a) if hasattr(a, "data_ptr") and hasattr(a, "device") else a  # noqa: E731
    name = getattr(jit, "__name__", None) or getattr(getattr(jit, "fn", None), "__name__", "?")
    try:
        fn[grid](*[conv(a) for a in args], **{k: conv(v) for k, v in kwargs.items()})
    except Exception as e:  # the interpreter does not cover it: the driver's taint stands
        _stats["failed"] += 1
        log.warning(
            "revati: Triton kernel %s not run on the host (%s: %s)", name, type(e).__name__, e
        )
        return
    for a in list(args) + list(kwargs.values()):
        if hasattr(a, "data_ptr") and hasattr(a, "device"):
            ptr, n = _extent(a)
            if n:
                values.supply(ptr, n, f"triton-host:{name}")
    _stats["computed"] += 1
