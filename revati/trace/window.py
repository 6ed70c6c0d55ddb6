"""A time window of a run: the events that start inside it, for exports of long runs that the
Perfetto UI (about 2 GB of browser memory) cannot open whole."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from revati.errors import RevatiError
from revati.units import NS_PER_MS

if TYPE_CHECKING:  # parse_window is read by `revati export` before it knows it needs pandas
    import pandas as pd

    from revati.trace.reader import Run


def parse_window(text: str) -> tuple[float, float]:
    """'START:END' in milliseconds of virtual time from the run's first event (either side may be
    empty: ':500' is the first half second); a bad value raises RevatiError naming it."""
    try:
        a, b = text.split(":")
        lo = float(a) if a.strip() else 0.0
        hi = float(b) if b.strip() else float("inf")
    except ValueError:
        raise RevatiError(f"--window {text!r}: expected START:END in ms, e.g. 0:500") from None
    if lo < 0 or hi <= lo:
        raise RevatiError(f"--window {text!r}: END must be after START, both >= 0")
    return lo, hi


def time_window(run: Run, lo_ms: float, hi_ms: float) -> Run:
    """The run with only the events that start in [lo, hi) ms after its first event (spans keep
    their full length; process, marker-free kinds without a time are kept)."""
    first, _ = run.span()
    return window_ns(run, first + lo_ms * NS_PER_MS, first + hi_ms * NS_PER_MS)


def window_ns(run: Run, lo: float, hi: float) -> Run:
    """The run with only the events that start in [lo, hi) ns of virtual time (kinds without a
    time kept)."""
    frames: dict[str, pd.DataFrame] = {}
    for kind, df in run.frames.items():
        if kind == "proc" or "ts_ns" not in df.columns or not len(df):
            frames[kind] = df
            continue
        ts = df["ts_ns"].to_numpy()
        frames[kind] = df[(ts >= lo) & (ts < hi)].reset_index(drop=True)
    return replace(run, frames=frames)
