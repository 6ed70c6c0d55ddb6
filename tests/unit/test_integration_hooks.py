"""The engine plugins' shared way of replacing a target (revati/integrations/hooks.py)."""

from __future__ import annotations

import types

from revati.integrations.hooks import MARK, rebind, unwrapped, wrap_once


def _doubled(f):
    return lambda x: 2 * f(x)


def test_wrap_once_wraps_a_target_once_and_says_when_it_is_missing():
    owner = types.SimpleNamespace(f=lambda x: x + 1)
    original = owner.f
    first = wrap_once(owner, "f", _doubled)
    again = wrap_once(owner, "f", _doubled)  # a plugin loaded twice (a forked worker)
    assert first is again is owner.f and getattr(first, MARK)
    assert owner.f(1) == 4  # wrapped once: 2 * (1 + 1), not 4 * (1 + 1)
    assert unwrapped(owner.f) is original and unwrapped(original) is original
    assert wrap_once(owner, "absent", _doubled) is None and not hasattr(owner, "absent")


def test_rebind_reaches_only_modules_that_hold_the_original():
    owner = types.SimpleNamespace(f=lambda x: x)
    original = owner.f
    holder, other = types.ModuleType("holder"), types.ModuleType("other")
    holder.f = original  # `from owner import f` before the plugin loaded
    other.f = len  # an unrelated f
    wrapper = wrap_once(owner, "f", _doubled)
    assert wrapper is not None
    rebind("f", wrapper, [holder, other, None])
    assert holder.f is wrapper and other.f is len
