"""`revati train`: per-family models from profile datasets; prints held-out MAPE and p90 per family."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("profiles", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Model directory.")
@click.option(
    "--holdout",
    type=float,
    default=0.2,
    show_default=True,
    help="Share of shapes (per family) held out for the evaluation.",
)
@click.option(
    "--scaled",
    "scaled",
    multiple=True,
    type=click.Path(path_type=Path),
    help="A dataset of another device: its launches that PROFILES lack are scaled to their "
    "device (as what-if predictions are) and trained on. Repeatable.",
)
@click.option("--no-xgb", is_flag=True, help="Table and roofline curves only (no xgboost needed).")
@click.option("--json", "as_json", is_flag=True, help="Print the held-out figures as JSON.")
def train(
    profiles: tuple[Path, ...],
    out: Path,
    holdout: float,
    scaled: tuple[Path, ...],
    no_xgb: bool,
    as_json: bool,
) -> None:
    """Train table, roofline and xgb models on PROFILE dataset(s) and write them to --out.

    Example: revati train profiles/h200-llama --out models/h200
    """
    import json

    from revati.predictors import train as trainer

    r = trainer.train(
        list(profiles), out, holdout=holdout, with_xgb=not no_xgb, scaled=list(scaled)
    )
    if as_json:
        click.echo(json.dumps(trainer.model_file.read_info(out)["heldout"]))
    else:
        click.echo(trainer.format_scores(r))
