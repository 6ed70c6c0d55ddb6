"""`revati report RUN [--json]`."""

from __future__ import annotations

from pathlib import Path

import click
import orjson


@click.command()
@click.argument("run", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@click.option(
    "--top",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="How many kernels to list by total time.",
)
def report(run: Path, as_json: bool, top: int) -> None:
    """Durations, device busy time, top kernels, sync waits, unimplemented calls, serving metrics."""
    from revati.progress import step
    from revati.report import format_text, summarize
    from revati.trace import load_run

    with step(f"loading {run}"):
        r = load_run(run)
    with step("computing the report"):
        s = summarize(r, top=top)
    if as_json:
        click.echo(orjson.dumps(s, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY))
    else:
        click.echo(format_text(s), nl=False)
