"""`revati report RUN [--json]`."""

from __future__ import annotations

from pathlib import Path

import click
import orjson


def parse_percentiles(text: str) -> tuple[float, ...]:
    """'50,90,99' -> (50.0, 90.0, 99.0); anything else is a usage error naming the value."""
    try:
        ps = tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        ps = ()
    if not ps or not all(0 < p <= 100 for p in ps):
        raise click.BadParameter(
            f"{text!r}: give numbers in (0, 100], comma-separated", param_hint="--percentiles"
        )
    return ps


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
@click.option(
    "--percentiles",
    default="50,90,99",
    show_default=True,
    help="Percentiles of TTFT, TPOT, ITL and E2E, comma-separated (e.g. 50,90,95,99,99.9).",
)
@click.option("--wide", is_flag=True, help="Print kernel names in full.")
def report(run: Path, as_json: bool, top: int, percentiles: str, wide: bool) -> None:
    """Durations, device busy time, top kernels, sync waits, unimplemented calls, serving metrics."""
    from revati.progress import step

    pcts = parse_percentiles(percentiles)
    from revati.report import format_text, summarize
    from revati.report.summary import REPORT_CATEGORICAL, REPORT_COLUMNS
    from revati.trace import load_run

    with step(f"loading {run}"):
        r = load_run(run, columns=REPORT_COLUMNS, categorical=REPORT_CATEGORICAL)
    with step("computing the report"):
        s = summarize(r, top=top, percentiles=pcts)
    if as_json:
        click.echo(orjson.dumps(s, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY))
    else:
        click.echo(format_text(s, wide=wide), nl=False)
