"""Progress on stderr for long steps (loading a run, a report, an export), only when stderr is a
terminal: the step's name and its elapsed seconds, rewritten in place and cleared when it ends.
Pipes, files and CI logs get nothing, so output stays clean where it is parsed."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

TICK_S = 0.5


def enabled(stream: TextIO | None = None) -> bool:
    s = stream or sys.stderr
    try:
        return s.isatty()
    except (AttributeError, ValueError):
        return False


@contextmanager
def step(label: str, stream: TextIO | None = None) -> Iterator[None]:
    """Show `revati: <label> ... N.N s` while the block runs (terminal only)."""
    s = stream or sys.stderr
    if not enabled(s):
        yield
        return
    t0 = time.monotonic()
    done = threading.Event()

    def show() -> None:
        s.write(f"\r\033[Krevati: {label} ... {time.monotonic() - t0:.1f} s")
        s.flush()

    def tick() -> None:
        while not done.wait(TICK_S):
            show()

    show()
    th = threading.Thread(target=tick, daemon=True)
    th.start()
    try:
        yield
    finally:
        done.set()
        th.join()
        s.write("\r\033[K")
        s.flush()
