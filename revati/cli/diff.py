"""`revati diff RUN_A RUN_B [--tolerance PCT] [--json]`: exit 1 on divergence or beyond tolerance."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import orjson


@click.command()
@click.argument("run_a", type=click.Path(path_type=Path))
@click.argument("run_b", type=click.Path(path_type=Path))
@click.option(
    "--tolerance",
    "tolerance",
    type=click.FloatRange(min=0.0),
    default=0.0,
    show_default=True,
    metavar="PCT",
    help="Allowed change in percent (end-to-end and per-kernel-name totals).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
@click.option("--top", type=click.IntRange(min=1), default=10, show_default=True)
@click.option(
    "--device-only",
    is_flag=True,
    help="Compare device streams only, not the host threads' API call sequences.",
)
def diff(
    run_a: Path, run_b: Path, tolerance: float, as_json: bool, top: int, device_only: bool
) -> None:
    """Compare two runs aligned by (rank, stream, sequence number); exit 1 when they differ."""
    from revati.diff import compare_runs, format_text
    from revati.trace import load_run

    d = compare_runs(
        load_run(run_a), load_run(run_b), tolerance_pct=tolerance, top=top, host=not device_only
    )
    if as_json:
        click.echo(orjson.dumps(d, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY))
    else:
        click.echo(format_text(d, top=top), nl=False)
    if not d["passed"]:
        # SystemExit, not ctx.exit(): the CLI runs click with standalone_mode=False, where a
        # click Exit's code would be returned and dropped rather than become the exit status
        sys.exit(1)
