"""`revati replay`: re-run a recorded run's command (from its manifest, deterministic) with a predictor."""

from __future__ import annotations

import os
from pathlib import Path

import click

from revati.errors import RevatiError
from revati.predictors import registry
from revati.predictors.base import PredictorOptions


@click.command()
@click.argument("run", type=click.Path(path_type=Path))
@click.option(
    "--predictor",
    required=True,
    help=f"Kernel-duration predictor: {', '.join(registry.names())}.",
)
@click.option(
    "--model",
    type=click.Path(path_type=Path),
    default=None,
    help="Model directory from revati train (default: the bundled model of the run's device, "
    "else the H200 one).",
)
@click.option(
    "--device",
    "device_name",
    default=None,
    help="Device profile to replay on (default: the recorded run's): a what-if device.",
)
@click.option(
    "--host-costs/--no-host-costs",
    default=True,
    show_default=True,
    help="Charge driver calls the profiled driver's host time (from the model's host-cost rows).",
)
@click.option(
    "--out", type=click.Path(path_type=Path), default=None, help="Run directory to write."
)
@click.option("--overwrite", is_flag=True, help="Replace an existing run directory.")
def replay(
    run: Path,
    predictor: str,
    model: Path | None,
    device_name: str | None,
    host_costs: bool,
    out: Path | None,
    overwrite: bool,
) -> None:
    """Re-run RUN's command in deterministic mode with another predictor; write a new run.

    With --predictor recorded the new run reproduces RUN's timeline (RUN must be deterministic).
    Example: revati replay runs/a --predictor xgb --out runs/a-xgb
    """
    from revati.cli.record import run_command
    from revati.trace.manifest import read_manifest

    if not (run / "events").is_dir():
        raise RevatiError(f"{run} is not a revati run (no events/ folder)")
    m = read_manifest(run)
    if m is None or not m.command:
        raise RevatiError(f"{run} has no manifest with the recorded command; it cannot be replayed")
    if predictor == "recorded" and not m.deterministic:
        raise RevatiError(
            f"{run} was not recorded with --deterministic: its host gaps were measured, so a "
            "replay cannot reproduce its timeline; record it again with --deterministic"
        )
    if model is None and predictor == "recorded" and m.predictor.get("host_costs"):
        # the same host costs as the recording, or the timeline could not repeat
        model = Path(str(m.predictor.get("model")))
    model = registry.run_model(model, device_name or m.device, predictor)
    opts = PredictorOptions(
        model=model.resolve() if model else None,
        recorded_run=run.resolve() if predictor == "recorded" else None,
        host_costs=host_costs,
    )
    target = (out or run.with_name(f"{run.name}-{predictor}")).resolve()
    cwd = m.extra.get("cwd")
    if isinstance(cwd, str) and Path(cwd).is_dir():
        os.chdir(cwd)  # the command's relative paths are relative to where it was recorded
    seed = int(m.seeds.get("sampling", 0)) if isinstance(m.seeds, dict) else 0
    run_command(
        list(m.command), target, device_name or m.device, m.num_gpus or 1, predictor, opts,
        overwrite, "auto", True, seed, str(m.extra.get("trace_level") or "default"),
        str(m.extra.get("token_policy") or "uniform"),
        tuple(int(t) for t in m.extra.get("token_exclude") or ()),
    )  # fmt: skip
