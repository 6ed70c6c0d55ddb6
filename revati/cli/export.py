"""`revati export RUN --format chrome|perfetto --out FILE`."""

from __future__ import annotations

from pathlib import Path

import click

from revati.errors import RevatiError


@click.command()
@click.argument("run", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["chrome", "perfetto"]), default="perfetto",
              show_default=True, help="chrome: Chrome/PyTorch-profiler JSON; perfetto: protobuf.")
@click.option("--out", "out", type=click.Path(path_type=Path), default=None,
              help="Output file [default: RUN/trace.json or RUN/trace.pftrace].")
@click.option("--rank", "ranks", type=int, multiple=True,
              help="Export only this rank (repeatable). Default: every rank in one file.")
def export(run: Path, fmt: str, out: Path | None, ranks: tuple[int, ...]) -> None:
    """Export a run for ui.perfetto.dev, chrome://tracing or Holistic Trace Analysis."""
    from revati.exporters import export_run
    from revati.trace import load_run

    r = load_run(run)
    if out is None:
        out = run / ("trace.json" if fmt == "chrome" else "trace.pftrace")
    if out.parent and not out.parent.exists():
        raise RevatiError(f"{out.parent}: output folder does not exist")
    missing = sorted(set(ranks) - set(r.ranks))
    if missing:
        raise RevatiError(f"rank(s) {missing} not in the run (it has ranks {r.ranks})")
    counts = export_run(r, fmt, out, ranks=list(ranks) or None)
    msg = (f"wrote {out} ({fmt}): {counts['slices']} slices, {counts['flows']} flows, "
           f"{counts['tracks']} tracks")
    if counts["overflow"]:
        msg += f", {counts['overflow']} partially overlapping slices on overflow tracks"
    click.echo(msg)
