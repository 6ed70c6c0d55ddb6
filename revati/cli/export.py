"""`revati export RUN --format chrome|perfetto --out FILE`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from revati.errors import RevatiError
from revati.exporters import FORMATS, export_run, get_format, write_atomically
from revati.exporters.parts import MAX_SLICES, Part, part_path, plan_starts, starts
from revati.units import NS_PER_MS

if TYPE_CHECKING:
    import numpy as np

    from revati.exporters.perfetto_direct import DirectRun
    from revati.trace.reader import Run


@click.command()
@click.argument("run", type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(list(FORMATS)),
    default="perfetto",
    show_default=True,
    help="; ".join(f"{f.name}: {f.help}" for f in FORMATS.values()) + ".",
)
@click.option(
    "--out",
    "out",
    type=click.Path(path_type=Path),
    default=None,
    help="Output file [default: RUN/trace.json or RUN/trace.pftrace].",
)
@click.option(
    "--rank",
    "ranks",
    type=int,
    multiple=True,
    help="Export only this rank (repeatable). Default: every rank in one file.",
)
@click.option(
    "--per-rank",
    is_flag=True,
    help="One file per rank, OUT being a folder: rank-<r>.json / rank-<r>.pftrace "
    "(the layout Holistic Trace Analysis reads).",
)
@click.option(
    "--window",
    default=None,
    metavar="START:END",
    help="Only events starting in this window, in ms of virtual time from the run's first "
    "event (e.g. 0:500); for long runs the Perfetto UI cannot open whole.",
)
@click.option(
    "--max-slices",
    type=int,
    default=MAX_SLICES,
    show_default=True,
    help="Past this many events a file is cut into consecutive time windows of about this "
    "many each (OUT.part-1.EXT, ...), so that each opens in the Perfetto UI; 0: one file.",
)
def export(**options: Any) -> None:
    """Export a run for ui.perfetto.dev, chrome://tracing or Holistic Trace Analysis."""
    from revati.exporters.heap import export_process

    with export_process():  # before numpy loads
        _export(**options)


class _Source:
    """The run to export: read for the direct Perfetto path (perfetto_direct.py) when it is one
    that path handles, else loaded (revati.trace.load_run); loaded on demand for a part the
    direct path turns out not to handle (partially overlapping slices)."""

    def __init__(self, path: Path, fmt: str, window: tuple[float, float] | None) -> None:
        from revati.progress import step

        self.path, self.fmt, self.win = path, fmt, window
        self.direct: DirectRun | None = None
        self._run: Run | None = None
        if fmt == "perfetto":
            from revati.exporters.perfetto_direct import read_direct

            with step(f"reading {path}"):
                self.direct = read_direct(path)
            if self.direct is not None and window is not None:
                first, _ = self.direct.span()
                lo, hi = window
                self.direct = self.direct.window_ns(first + lo * NS_PER_MS, first + hi * NS_PER_MS)
        if self.direct is None:
            self.run()

    def run(self) -> Run:
        """The run loaded (and windowed) as every exporter reads it."""
        if self._run is None:
            from revati.progress import step
            from revati.trace import load_run
            from revati.trace.window import time_window

            with step(f"loading {self.path}"):
                r = load_run(self.path)
            self._run = r if self.win is None else time_window(r, *self.win)
        return self._run

    @property
    def ranks(self) -> list[int]:
        return self.direct.ranks if self.direct is not None else self.run().ranks

    def starts(self, sel: list[int] | None) -> list[np.ndarray]:
        if self.direct is not None:
            return self.direct.starts(sel)
        return starts(self.run() if sel is None else _ranks_only(self.run(), sel))

    def export(self, out: Path, part: Part | None, sel: list[int] | None) -> dict[str, int]:
        """Write the run (or a part's time window of it) of ranks `sel` (None: all) to out."""
        from revati.trace.window import window_ns

        if self.direct is not None:
            from revati.exporters.perfetto_direct import NotHandled, export_direct

            sub = self.direct if part is None else self.direct.window_ns(part.lo_ns, part.hi_ns)
            try:
                return write_atomically(out, lambda tmp: export_direct(sub, tmp, ranks=sel))
            except NotHandled:
                pass
        r = self.run()
        sub_run = r if part is None else window_ns(r, part.lo_ns, part.hi_ns)
        return export_run(sub_run, self.fmt, out, ranks=sel)


def _export(
    run: Path,
    fmt: str,
    out: Path | None,
    ranks: tuple[int, ...],
    per_rank: bool,
    window: str | None,
    max_slices: int,
) -> None:
    from revati.trace.window import parse_window

    win = parse_window(window) if window else None
    src = _Source(run, fmt, win)
    ext = get_format(fmt).ext
    if out is None:
        out = run / (f"trace-{fmt}" if per_rank else f"trace.{ext}")
    missing = sorted(set(ranks) - set(src.ranks))
    if missing:
        raise RevatiError(f"rank(s) {missing} not in the run (it has ranks {src.ranks})")
    if per_rank:
        if out.exists() and not out.is_dir():
            raise RevatiError(f"{out}: --per-rank writes into a folder, and this is a file")
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise RevatiError(f"cannot create folder {out}: {e.strerror}") from None
        jobs: list[tuple[Path, list[int] | None]] = [
            (out / f"rank-{k}.{ext}", [k]) for k in (ranks or src.ranks)
        ]
    else:
        if not out.parent.exists():
            raise RevatiError(f"{out.parent}: output folder does not exist")
        jobs = [(out, list(ranks) or None)]
    for path, sel in jobs:
        _export_job(src, fmt, path, sel, max_slices)


def _export_job(src: _Source, fmt: str, path: Path, sel: list[int] | None, max_slices: int) -> None:
    """One file, or its parts when the run is over max_slices events."""
    from revati.progress import step

    parts = plan_starts(src.starts(sel), max_slices)
    if len(parts) > 1:
        total = sum(p.events for p in parts)
        click.echo(
            f"{path}: {total} events, over the {max_slices} one Perfetto UI tab holds; writing "
            f"{len(parts)} files by time window ({part_path(path, 1).name}, ...; "
            "--max-slices 0 writes one file)"
        )
    first = parts[0].lo_ns
    for part in parts:
        out = path if len(parts) == 1 else part_path(path, part.index)
        with step(f"writing {out} ({fmt})"):
            counts = src.export(out, None if len(parts) == 1 else part, sel)
        msg = (
            f"wrote {path} ({fmt}): {counts['slices']} slices, {counts['flows']} flows, "
            f"{counts['tracks']} tracks"
        )
        if counts["overflow"]:
            msg += f", {counts['overflow']} partially overlapping slices on overflow tracks"
        if len(parts) > 1:
            lo, hi = (part.lo_ns - first) / NS_PER_MS, (part.hi_ns - first) / NS_PER_MS
            msg += f"; events starting {lo:.3f}-{hi:.3f} ms after the first"
        click.echo(msg)


def _ranks_only(r: Run, ranks: list[int]) -> Run:
    """The run's events of these ranks only (to count what a file of them holds)."""
    from dataclasses import replace

    frames = {
        k: df[df["rank"].isin(ranks)].reset_index(drop=True) if "rank" in df.columns else df
        for k, df in r.frames.items()
    }
    return replace(r, frames=frames)
