"""`revati diff RUN_A RUN_B [--tolerance PCT] [--json]`.

Exit status: 0 the runs match within the tolerance; 1 they differ (structure, or time beyond the
tolerance); 2 an error (bad arguments, a missing, corrupt or unsupported run); 3 the runs are not
comparable (different device profile or GPU count; --across-devices compares them anyway).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
import orjson

from revati.errors import RevatiError

EXIT_SAME, EXIT_DIFFER, EXIT_ERROR, EXIT_NOT_COMPARABLE = 0, 1, 2, 3


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
@click.option(
    "--across-devices",
    is_flag=True,
    help="Compare runs of different device profiles or GPU counts (a what-if), exit 0/1.",
)
@click.pass_context
def diff(
    ctx: click.Context,
    run_a: Path,
    run_b: Path,
    tolerance: float,
    as_json: bool,
    top: int,
    device_only: bool,
    across_devices: bool,
) -> None:
    """Compare two runs aligned by (rank, stream, sequence number).

    Exit status: 0 same within the tolerance, 1 they differ, 2 error, 3 not comparable.
    """
    from revati.diff import compare_runs, format_text
    from revati.progress import step
    from revati.trace import load_run

    # SystemExit, not ctx.exit(): the CLI runs click with standalone_mode=False, where a click
    # Exit's code would be returned and dropped rather than become the exit status
    try:
        with step(f"loading {run_a}"):
            a = load_run(run_a)
        with step(f"loading {run_b}"):
            b = load_run(run_b)
        with step("comparing"):
            d = compare_runs(
                a, b, tolerance_pct=tolerance, top=top, host=not device_only, across=across_devices
            )
    except RevatiError as e:
        if (ctx.obj or {}).get("debug"):
            raise
        click.echo(f"Error: {e}", err=True)
        sys.exit(EXIT_ERROR)
    if as_json:
        click.echo(orjson.dumps(d, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY))
    else:
        click.echo(format_text(d, top=top), nl=False)
    if d["not_comparable"] and not across_devices:
        sys.exit(EXIT_NOT_COMPARABLE)
    if not d["passed"]:
        sys.exit(EXIT_DIFFER)
