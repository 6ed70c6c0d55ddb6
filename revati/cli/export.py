"""`revati export RUN --format chrome|perfetto --out FILE`."""

from __future__ import annotations

from pathlib import Path

import click

from revati.errors import RevatiError
from revati.exporters import FORMATS, export_run, get_format


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
def export(
    run: Path,
    fmt: str,
    out: Path | None,
    ranks: tuple[int, ...],
    per_rank: bool,
    window: str | None,
) -> None:
    """Export a run for ui.perfetto.dev, chrome://tracing or Holistic Trace Analysis."""
    from revati.progress import step
    from revati.trace import load_run
    from revati.trace.window import parse_window, time_window

    win = parse_window(window) if window else None
    with step(f"loading {run}"):
        r = load_run(run)
    if win is not None:
        r = time_window(r, *win)
    ext = get_format(fmt).ext
    if out is None:
        out = run / (f"trace-{fmt}" if per_rank else f"trace.{ext}")
    missing = sorted(set(ranks) - set(r.ranks))
    if missing:
        raise RevatiError(f"rank(s) {missing} not in the run (it has ranks {r.ranks})")
    if per_rank:
        if out.exists() and not out.is_dir():
            raise RevatiError(f"{out}: --per-rank writes into a folder, and this is a file")
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise RevatiError(f"cannot create folder {out}: {e.strerror}") from None
        jobs: list[tuple[Path, list[int] | None]] = [
            (out / f"rank-{k}.{ext}", [k]) for k in (ranks or r.ranks)
        ]
    else:
        if not out.parent.exists():
            raise RevatiError(f"{out.parent}: output folder does not exist")
        jobs = [(out, list(ranks) or None)]
    for path, sel in jobs:
        with step(f"writing {path} ({fmt})"):
            counts = export_run(r, fmt, path, ranks=sel)
        msg = (
            f"wrote {path} ({fmt}): {counts['slices']} slices, {counts['flows']} flows, "
            f"{counts['tracks']} tracks"
        )
        if counts["overflow"]:
            msg += f", {counts['overflow']} partially overlapping slices on overflow tracks"
        click.echo(msg)
