"""No dependency loop among the units of native/core, read from the compiled objects.

Each core/*.c is compiled alone; a unit depends on another when it uses a symbol the other
defines (`nm`). The units must form a layering: runmode and log at the bottom, then the clock,
the trace writer, and the units that join them (jump, fatal, markers).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from revati.native import build

CORE = build.NATIVE_DIR / "core"

Graph = dict[str, set[str]]


def _symbols(obj: Path, *flags: str) -> set[str]:
    out = subprocess.run(["nm", *flags, str(obj)], capture_output=True, text=True, check=True)
    return {ln.split()[-1] for ln in out.stdout.splitlines() if ln.strip()}


def unit_graph(src_dir: Path, tmp: Path) -> dict[str, set[str]]:
    """unit -> the units whose symbols it uses."""
    cc = shutil.which("cc") or shutil.which("gcc")
    assert cc, "no C compiler"
    objs = {}
    for c in sorted(src_dir.glob("*.c")):
        obj = tmp / (c.stem + ".o")
        inc = ["-I", str(build.NATIVE_DIR / "include")]
        subprocess.run(
            [cc, *build.CFLAGS, *inc, "-c", str(c), "-o", str(obj)], check=True, capture_output=True
        )
        objs[c.stem] = obj
    owner = {s: u for u, o in objs.items() for s in _symbols(o, "--defined-only", "-g")}
    return {
        u: {owner[s] for s in _symbols(o, "-u") if s in owner and owner[s] != u}
        for u, o in objs.items()
    }


def test_find_cycle_finds_one(find_cycle: Callable[[Graph], list[str] | None]) -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


@pytest.mark.skipif(shutil.which("nm") is None, reason="needs binutils' nm")
def test_native_core_has_no_loop(
    tmp_path: Path, find_cycle: Callable[[Graph], list[str] | None]
) -> None:
    """The units of native/core depend on each other without a cycle; the clock does not use
    the trace writer, and the run mode uses no other unit."""
    g = unit_graph(CORE, tmp_path)
    assert {"vclock", "trace", "runmode", "log", "jump", "fatal"} <= set(g)
    assert find_cycle(g) is None, f"loop in native/core: {' -> '.join(find_cycle(g) or [])}"
    assert "trace" not in g["vclock"] and g["runmode"] == set()
    assert "vclock" in g["trace"] and {"vclock", "trace"} <= g["jump"]
