"""Run small Triton kernels on the host under revati, through Triton's own CPU interpreter.

Kernels do not run on the virtual GPU, so what a Triton kernel writes is uncomputed (the driver taints
it and reports host reads of it). When a launch is small and every tensor it receives holds known
values, this hook runs the kernel's Python source once more through `triton.runtime.interpreter` on
CPU tensors that alias the same bytes (device pointers under revati are host addresses of the
stand-in's memory), so its outputs hold what a GPU would have written, and tells the driver they are
known (`revati.values.supply`, a `value-supply` event by `triton-host:<kernel>`).

- Where: `JITFunction.run` is wrapped; the launch itself still goes through the driver as before
  (the kernel event and its modelled time are unchanged). The hook's own work (whether the stream
  is capturing, the grid, the inputs' taint, the host run) is revati's own time
  (`revati.markers.begin_own`: excluded, and the driver calls it makes are not charged), so it
  never reaches the program's virtual clock.
- When: not a warm-up, at most REVATI_TRITON_HOST_PROGRAMS programs (default 1024) and
  REVATI_TRITON_HOST_BYTES bytes over all tensor arguments' elements (default 1 MiB), and no tensor
  argument's elements tainted before the launch (so inputs are known; outputs are overwritten). A
  kernel that reads or writes past its tensors' elements is outside this hook's model. Otherwise nothing is done
  and the driver's taint stands (reads stay reported).
- CUDA graphs: a launch captured into a graph does not run at capture (nor on a GPU); the hook tags
  it (`revati.values.tag_next_launch`) and keeps its arguments, and at each replay the driver asks
  this hook (`revati.values.set_replay_runner`) to run it, under the same conditions, on the bytes
  the graph's static tensors hold then.
- Given up per kernel: a kernel whose first REVATI_TRITON_HOST_PATIENCE launches (default 64; 0:
  never give up) were all skipped, none computed, is not looked at again (its launches go straight
  to Triton, and its later captures are not tagged); a `marker` event `triton_host.given_up`
  (`kernel`, `skipped`) says so in the trace. Its checks cost wall time on every launch: in
  vLLM's decode loop, where the input-preparation and sampling kernels all read uncomputed bytes,
  they were about a tenth of the scheduling thread's time (py-spy) and computed nothing.
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

_stats = {"computed": 0, "skipped": 0, "failed": 0, "given_up": 0}
# per kernel, on its JITFunction (not keyed by id(): a kernel's id can be reused after it is gone):
# [launches skipped, launches computed]; a kernel with no computed launch after `patience` skipped
# ones is given up (the module's doc)
_SEEN = "_revati_host_seen"
_GIVEN_UP = "_revati_host_given_up"
_off = ""  # why the last install() put no hook in place


def why_off() -> str:
    """Why install() returned False."""
    return _off


def stats() -> dict[str, int]:
    """How many launches were computed on the host, skipped (too large or inputs uncomputed), or
    failed, and how many kernels were given up (no longer looked at)."""
    return dict(_stats)


def _tally(jit: Any, computed: bool, patience: int) -> None:
    """Count a launch of kernel jit that the hook looked at; give the kernel up when its first
    `patience` launches were all skipped."""
    seen = getattr(jit, _SEEN, None)
    if seen is None:
        seen = [0, 0]
        setattr(jit, _SEEN, seen)
    seen[1 if computed else 0] += 1
    if patience and not seen[1] and seen[0] >= patience:
        setattr(jit, _GIVEN_UP, True)
        _stats["given_up"] += 1
        name = getattr(getattr(jit, "fn", None), "__name__", None) or getattr(jit, "__name__", "?")
        from revati import markers

        markers.mark("triton_host.given_up", kernel=name, skipped=seen[0])
        log.info(
            "revati: Triton kernel %s not run on the host again (%d launches skipped)",
            name,
            seen[0],
        )


def install() -> bool:
    """Wrap Triton's JITFunction.run; False when Triton or the values API is missing, or it is turned off."""
    from revati import values
    from revati.markers import begin_own, end_own

    global _off
    if os.environ.get("REVATI_TRITON_HOST", "1") == "0":
        _off = "turned off (REVATI_TRITON_HOST=0)"
        return False
    try:
        from triton.runtime.interpreter import InterpretedFunction
        from triton.runtime.jit import JITFunction
    except ImportError as e:
        _off = f"Triton's JITFunction or interpreter not found ({e})"
        log.info("revati: Triton host runs off (%s)", e)
        return False
    if getattr(JITFunction.run, "_revati", False):
        return True
    original = JITFunction.run
    limits = (
        int(os.environ.get("REVATI_TRITON_HOST_PROGRAMS", "1024")),
        int(os.environ.get("REVATI_TRITON_HOST_BYTES", str(1 << 20))),
    )
    patience = int(os.environ.get("REVATI_TRITON_HOST_PATIENCE", "64"))
    interpreted: dict[int, Any] = {}
    captured: dict[int, tuple[Any, tuple[int, int, int], tuple[Any, ...], dict[str, Any]]] = {}

    def interpreter(jit: Any) -> Any:
        fn = interpreted.get(id(jit))
        if fn is None:
            fn = interpreted[id(jit)] = InterpretedFunction(jit.fn)
        return fn

    def replay(tag: int) -> bool:  # inside the driver's graph launch: revati's own work
        begin_own()
        try:
            jit, g, args, kwargs = captured[tag]
            if getattr(jit, _GIVEN_UP, False):
                return False
            if not _known(args, kwargs):
                _tally(jit, False, patience)
                return False
            ok = _host_run(jit, interpreter(jit), g, args, kwargs)
            _tally(jit, ok, patience)
            return ok
        finally:
            end_own()

    def run(self: Any, *args: Any, grid: Any, warmup: bool, **kwargs: Any) -> Any:
        # The hook's checks (is the stream capturing, the grid, the inputs' taint) and its host run
        # are revati's own work, not the program's: they run in own time (no virtual time, and the
        # driver calls they make are not charged), around the program's launch.
        if getattr(self, _GIVEN_UP, False):
            return original(self, *args, grid=grid, warmup=warmup, **kwargs)
        begin_own()
        try:
            on = not warmup and values.available()
            capturing = on and _capturing()
            plan = None
            if capturing:  # run at each replay, not now
                g = _grid(self, args, kwargs, grid, limits)
                if g is not None:
                    tag = len(captured) + 1
                    captured[tag] = (self, g, args, kwargs)
                    values.tag_next_launch(tag)
            elif on:
                plan = _plan(self, args, kwargs, grid, limits)
                if plan is None:
                    _tally(self, False, patience)
        finally:
            end_own()
        if capturing:
            try:
                return original(self, *args, grid=grid, warmup=warmup, **kwargs)
            finally:
                values.tag_next_launch(0)  # a launch that did not happen leaves no tag behind
        ret = original(self, *args, grid=grid, warmup=warmup, **kwargs)
        if plan is not None:
            begin_own()
            try:
                _tally(self, _host_run(self, interpreter(self), plan, args, kwargs), patience)
            finally:
                end_own()
        return ret

    run._revati = True  # type: ignore[attr-defined]
    JITFunction.run = run
    values.set_replay_runner(replay)
    return True


def _capturing() -> bool:
    """Whether the current stream is capturing a CUDA graph (its launches do not run now)."""
    try:
        import torch

        return bool(torch.cuda.is_current_stream_capturing())
    except Exception:
        return False


def _tensors(args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[Any]:
    return [
        a
        for a in list(args) + list(kwargs.values())
        if hasattr(a, "data_ptr") and hasattr(a, "device")
    ]


def _known(args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    """Whether no tensor argument's elements hold uncomputed bytes (counted as skipped when some do)."""
    from revati import values

    for ptr, n in (_extent(t) for t in _tensors(args, kwargs)):
        if n and values.tainted(ptr, n):  # a tensor's own elements (a view: only its part)
            _stats["skipped"] += 1
            return False
    return True


def _plan(
    jit: Any, args: tuple[Any, ...], kwargs: dict[str, Any], grid: Any, limits: tuple[int, int]
) -> Any:
    """The launch's grid when it may run on the host now (small, inputs known), else None."""
    g = _grid(jit, args, kwargs, grid, limits)
    return g if g is not None and _known(args, kwargs) else None


def _grid(
    jit: Any, args: tuple[Any, ...], kwargs: dict[str, Any], grid: Any, limits: tuple[int, int]
) -> Any:
    """The launch's grid when it is small enough for the host and its tensors are on the device, else None."""
    tensors = _tensors(args, kwargs)
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
) -> bool:
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
        return False
    for a in list(args) + list(kwargs.values()):
        if hasattr(a, "data_ptr") and hasattr(a, "device"):
            ptr, n = _extent(a)
            if n:
                values.supply(ptr, n, f"triton-host:{name}")
    _stats["computed"] += 1
    return True
