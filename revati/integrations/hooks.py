"""Which of an engine plugin's hooks are in place in this process, said loudly and in the trace.

An engine plugin patches engine internals (names, signatures) that move between releases. A hook
whose target this release lacks is never skipped in silence: `Hooks.missing` logs it as a warning at
once, and `Hooks.report` writes one `integration_hooks` marker per process (`engine`, `version`,
`installed`: the hooks in place, `missing`: hook -> why), which `revati report` lists
(revati/report/host_markers.py, "engine plugin hooks").

Every engine plugin (vLLM's, SGLang's) replaces its targets through `wrap_once` (a target is
wrapped once however often a plugin loads: forked workers load it again) and `rebind` (modules that
imported the original by name get the wrapper too).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

log = logging.getLogger(__name__)

MARK = "_revati"  # set on every wrapper a plugin installs

Fn = Callable[..., Any]


def wrap_once(owner: Any, attr: str, make: Callable[[Fn], Fn]) -> Fn | None:
    """Replace `owner.attr` by `make(original)`, marked as revati's, unless it already is one.
    Returns what `owner.attr` is now (the wrapper), or None where owner has no such attribute."""
    original = getattr(owner, attr, None)
    if original is None:
        return None
    if getattr(original, MARK, False):
        return original
    wrapper = make(original)
    setattr(wrapper, MARK, True)
    if not hasattr(wrapper, "__wrapped__"):
        wrapper.__wrapped__ = original  # type: ignore[attr-defined]
    setattr(owner, attr, wrapper)
    return wrapper


def unwrapped(fn: Fn) -> Fn:
    """The original behind a wrapper `wrap_once` installed (fn itself otherwise)."""
    return getattr(fn, "__wrapped__", fn) if getattr(fn, MARK, False) else fn


def rebind(name: str, wrapper: Fn, modules: Iterable[ModuleType | None] | None = None) -> None:
    """Point `name` at `wrapper` in the modules (default: every loaded one) that hold its original
    by name (`from m import f` before the plugin loaded)."""
    original = unwrapped(wrapper)
    for module in list(sys.modules.values()) if modules is None else modules:
        if module is not None and getattr(module, name, None) is original:
            setattr(module, name, wrapper)


def custom_allreduce_off(original: Fn, engine: str, doc: str) -> Fn:
    """An engine's `set_custom_all_reduce(enable, ...)` that always passes False: its custom
    all-reduce kernels meet the ranks on the GPU, which revati does not run; NCCL's are met at its
    API (docs/vllm.md, "Tensor parallelism")."""

    def set_custom_all_reduce(enable: bool, *args: Any, **kwargs: Any) -> None:
        if enable:
            log.info(
                "revati: %s custom all-reduce disabled; all-reduces go through NCCL (%s)",
                engine,
                doc,
            )
        original(False, *args, **kwargs)

    return set_custom_all_reduce


@dataclass
class Hooks:
    """The hooks one plugin tried to install in this process."""

    engine: str
    version: str
    installed: list[str] = field(default_factory=list)
    missing: dict[str, str] = field(default_factory=dict)

    def ok(self, hook: str) -> None:
        self.installed.append(hook)

    def missing_hook(self, hook: str, why: str) -> None:
        """A hook this engine release gives no target for: a warning now, and in the report."""
        self.missing[hook] = why
        log.warning(
            "revati: %s %s: hook %r NOT installed: %s (see `revati report`)",
            self.engine,
            self.version,
            hook,
            why,
        )

    def report(self) -> None:
        """Write the `integration_hooks` marker (a no-op outside revati)."""
        from revati import markers

        markers.integration_hooks(self.engine, self.version, self.installed, self.missing)
