"""The `revati` command: subcommands are loaded lazily; `main` is the one error boundary.

A RevatiError becomes one line, `Error: <message>`, and the exit code the error carries (1, or a
failed run's own status); click's usage errors exit 2; `--debug` shows the traceback instead.
"""

from __future__ import annotations

import importlib
import logging
import sys

import click

from revati import __version__
from revati.errors import RevatiError

# command name -> "module:attribute"; each module holds one click command
COMMANDS = {
    "record": "revati.cli.record:record",
    "export": "revati.cli.export:export",
    "report": "revati.cli.report:report",
    "diff": "revati.cli.diff:diff",
    "calibrate": "revati.cli.calibrate:calibrate",
    "replay": "revati.cli.replay:replay",
    "train": "revati.cli.train:train",
    "profile": "revati.cli.profile:profile",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported only when used (keeps `revati --help` fast)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name in COMMANDS if self._load(name) is not None)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self._load(cmd_name)

    @staticmethod
    def _load(name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as e:
            if e.name == module_name:  # the command is not built yet
                return None
            raise
        return getattr(module, attr)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="revati")
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logs.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """revati: run real LLM serving code on a virtual GPU, in virtual time."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="revati: %(levelname)s: %(message)s",
    )


def main(argv: list[str] | None = None) -> None:
    """Entry point: the one error boundary of the CLI."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        # standalone_mode=False returns what a command returned or the code it gave ctx.exit()
        rv = cli.main(args=argv, prog_name="revati", standalone_mode=False)
        if isinstance(rv, int):
            sys.exit(rv)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except click.Abort:
        click.echo("Aborted!", err=True)
        sys.exit(1)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except RevatiError as e:
        if debug:
            raise
        click.echo(f"Error: {e}", err=True)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
