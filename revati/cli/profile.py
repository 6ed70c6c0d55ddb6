"""`revati profile`: run a command on a real NVIDIA GPU and write its run directory and profile dataset."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click


@click.command()
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Profile directory to write (default profiles/<time>-<command>).",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing profile directory.")
@click.option(
    "--no-libcalls",
    is_flag=True,
    help="Do not preload librevati_libcalls.so (kernels then carry no library-call `op`).",
)
@click.option(
    "--host-only",
    is_flag=True,
    help="Measure driver host cost only: no kernel times, and no CUPTI tracing work inside the calls.",
)
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def profile(
    out: Path | None, overwrite: bool, no_libcalls: bool, host_only: bool, command: tuple[str, ...]
) -> None:
    """Run COMMAND on the real GPU with every kernel timed (CUPTI) and every driver call's host cost.

    Writes a run directory (kernel events with real times and their features) plus kernels.parquet,
    hostcost.parquet, meta.json and answers.json. Example: revati profile -- python train.py
    """
    from revati.profile.run import profile_command

    cmd = list(command)
    stem = Path(cmd[-1] if cmd[0].startswith("python") else cmd[0]).stem
    out = out or Path("profiles") / f"{time.strftime('%Y%m%d-%H%M%S')}-{stem}"
    r = profile_command(
        cmd, out, overwrite=overwrite, libcalls=not no_libcalls, host_only=host_only
    )
    s = r.summary
    click.echo(
        f"revati: profile written to {r.out}: {s['kernels']} kernels ({s['signatures']} signatures, "
        f"{s['kernels_without_features']} without features), {s['api_calls']} driver calls, "
        f"{r.answers} distinct query answers; exit status {r.exit_status}",
        err=True,
    )
    sys.exit(r.exit_status)
