"""`revati calibrate`: measure this host against the reference host (logic in revati.calibrate)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from revati.calibrate import (
    DEFAULT_REFERENCE,
    PARTS,
    describe,
    factors,
    load_reference,
    measure,
    save_reference,
)


@click.command()
@click.option(
    "--reference",
    "reference_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=DEFAULT_REFERENCE,
    show_default=True,
    help="Reference host file to compare with (or to write with --save-reference).",
)
@click.option(
    "--save-reference",
    "save_name",
    metavar="NAME",
    default=None,
    help="Record this host as the reference, named NAME.",
)
@click.option(
    "--repeat",
    type=click.IntRange(min=2, max=100),
    default=5,
    show_default=True,
    help="Runs of each part.",
)
@click.option("--no-torch", is_flag=True, help="Time the pure-Python part only.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def calibrate(
    reference_path: Path, save_name: str | None, repeat: int, no_torch: bool, as_json: bool
) -> None:
    """Measure this host's CPU against the reference host and print the --host-speed factor."""
    if save_name is not None:
        if not save_name.strip():
            raise click.BadParameter(
                "the reference needs a non-empty name", param_hint="--save-reference"
            )
        here = measure(repeat, with_torch=not no_torch)
        save_reference(reference_path, save_name, here)
        if as_json:
            click.echo(json.dumps({"saved": str(reference_path), "host": here}))
        else:
            click.echo(f"reference '{save_name}' written to {reference_path}")
            click.echo(describe("this host", here))
        return
    ref = load_reference(reference_path)  # before measuring: a bad file fails at once
    here = measure(repeat, with_torch=not no_torch)
    f = factors(here, ref)
    if as_json:
        click.echo(json.dumps({"host": here, "reference": ref, "host_speed": f}))
        return
    click.echo(describe("this host", here))
    click.echo(describe(f"reference '{ref.get('name', '?')}'", ref))
    parts = ", ".join(f"{p} {f[p]:.3f}" for p in PARTS if p in f)
    click.echo(f"host speed: {parts}; overall {f['overall']:.3f}")
    if "torch" in ref and "torch" not in f:
        click.echo(
            "note: only the pure-Python part was compared (--no-torch, or torch is not importable)"
        )
    click.echo(f"use: revati record --host-speed {f['overall']:.3f} -- ...")
