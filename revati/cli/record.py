"""`revati record`: run a command on virtual GPUs and write a run directory."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from revati.devices import get_profile, profile_keys
from revati.errors import NativeBuildError
from revati.launch import hostspeed
from revati.launch.supervisor import HOST_CLOCKS, RunConfig, raise_for
from revati.launch.supervisor import record as run_record
from revati.predictors import registry
from revati.predictors.base import PredictorOptions


def _default_out(command: list[str]) -> Path:
    stem = Path(command[0]).name if command else "run"
    if stem.startswith("python") and len(command) > 1:
        stem = Path(command[1]).stem if command[1] != "-c" else "python-c"
    return Path("runs") / f"{time.strftime('%Y%m%d-%H%M%S')}-{stem}"


@click.command(context_settings={"ignore_unknown_options": False})
@click.option(
    "--device",
    "device_name",
    default="h100",
    show_default=True,
    help=f"Device profile: {', '.join(profile_keys())} or an alias (h100, ...).",
)
@click.option("--gpus", type=int, default=1, show_default=True, help="Devices each process sees.")
@click.option(
    "--predictor",
    default=None,
    help=f"Kernel-duration predictor: {', '.join(registry.names())} (default: the bundled "
    "model's best on held-out shapes, analytical without one).",
)
@click.option(
    "--model",
    type=click.Path(path_type=Path),
    default=None,
    help="Model directory from revati train, for table/roofline/xgb (default: the bundled model of "
    "--device if there is one, else the H200 one scaled to it).",
)
@click.option(
    "--kernel-table",
    type=click.Path(path_type=Path),
    default=None,
    help="Hand-written duration table for --predictor table (TSV: name, grid, block, dur_ns).",
)
@click.option(
    "--host-costs/--no-host-costs",
    default=True,
    show_default=True,
    help="Charge driver calls the profiled driver's host time (from the model's host-cost rows).",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Run directory to write (default runs/<time>-<command>).",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing run directory.")
@click.option(
    "--host-speed",
    default="auto",
    show_default=True,
    help="Factor from this host's CPU time to the target host's: a number, auto (calibrated "
    "once per machine against the reference host, cached; see revati calibrate), or now "
    "(calibrated at this run's start, not cached: a loaded shared host).",
)
@click.option(
    "--host-clock",
    type=click.Choice(HOST_CLOCKS),
    default="cpu",
    show_default=True,
    help="What host code's time is measured in: cpu (real time less the time its threads waited for "
    "a core, so other processes' load does not leak in) or wall (real time).",
)
@click.option(
    "--deterministic",
    is_flag=True,
    help="Take CPU gaps from a model instead of measuring them: identical traces each run.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for sampled token ids.")
@click.option(
    "--token-policy",
    default="uniform",
    show_default=True,
    help="Token ids the host reads from kernels that did not run: uniform, fixed:ID or stale.",
)
@click.option(
    "--token-exclude",
    default="",
    help="Comma-separated ids the uniform policy never draws (EOS, padding).",
)
@click.option(
    "--trace-level",
    type=click.Choice(["default", "verbose"]),
    default="default",
    show_default=True,
    help="default: pure driver queries (context, device, attribute lookups) are counted per name "
    "and thread, not written; verbose: every call is written.",
)
@click.option(
    "--wall-limit",
    type=float,
    default=0.0,
    show_default=True,
    help="End the run with an error after this many seconds of wall time (0: no limit): a run that "
    "hangs, or crawls, stops with a clear message instead of running on.",
)
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def record(
    device_name: str,
    gpus: int,
    predictor: str | None,
    model: Path | None,
    kernel_table: Path | None,
    host_costs: bool,
    out: Path | None,
    overwrite: bool,
    host_speed: str,
    host_clock: str,
    deterministic: bool,
    seed: int,
    token_policy: str,
    token_exclude: str,
    trace_level: str,
    wall_limit: float,
    command: tuple[str, ...],
) -> None:
    """Run COMMAND with the stand-in CUDA driver and write its trace.

    Example: revati record --gpus 2 -- python examples/llama_decode.py
    """
    try:
        exclude = tuple(int(t) for t in token_exclude.split(",") if t.strip())
    except ValueError:
        raise click.BadParameter(
            f"{token_exclude!r} is not a comma-separated list of ids", param_hint="--token-exclude"
        ) from None
    if kernel_table is None:
        model = registry.run_model(model, device_name, predictor)  # the device's own, if bundled
    opts = PredictorOptions(model=model, kernel_table=kernel_table, host_costs=host_costs)
    if predictor is None:
        predictor = "table" if kernel_table is not None else registry.default_name(model)
    run_command(
        list(command), out, device_name, gpus, predictor, opts, overwrite, host_speed,
        deterministic, seed, trace_level, token_policy, exclude, host_clock, wall_limit,
    )  # fmt: skip


def run_command(
    cmd: list[str],
    out: Path | None,
    device_name: str,
    gpus: int,
    predictor: str,
    opts: PredictorOptions,
    overwrite: bool,
    host_speed: str,
    deterministic: bool,
    seed: int,
    trace_level: str = "default",
    token_policy: str = "uniform",
    token_exclude: tuple[int, ...] = (),
    host_clock: str = "cpu",
    wall_limit: float = 0.0,
) -> None:
    """Record cmd with a predictor (shared by record and replay); exits with the command's status."""
    chosen = registry.resolve(predictor, opts)
    device = get_profile(device_name)
    speed, speed_how = hostspeed.resolve(host_speed, deterministic)
    info = chosen.provenance()
    info["host_speed"] = speed_how
    cfg = RunConfig(
        command=cmd,
        out=out or _default_out(cmd),
        device=device,
        gpus=gpus,
        predictor=chosen.name,
        predictor_version=chosen.version,
        host_speed=speed,
        deterministic=deterministic,
        host_clock=host_clock,
        seed=seed,
        predictor_env=chosen.native_env,
        predictor_info=info,
        token_policy=token_policy,
        token_exclude=token_exclude,
        trace_level=trace_level,
        wall_limit_s=wall_limit,
    )
    from revati.native import build  # deferred: compiling is only needed to record

    try:
        lib_dir = build.lib_dir()
    except build.BuildError as e:
        raise NativeBuildError(str(e)) from None
    result = run_record(cfg, lib_dir, overwrite=overwrite)
    click.echo(
        f"revati: run written to {result.run_dir} ({len(result.processes)} process(es), "
        f"exit status {result.exit_status}, wall {result.wall_ns / 1e9:.2f} s)",
        err=True,
    )
    raise_for(result)  # a failed run: RunError, reported by the CLI's error boundary
    sys.exit(result.exit_status)
