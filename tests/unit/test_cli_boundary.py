"""The CLI's one error boundary: a RevatiError is one `Error:` line and its exit code."""

from __future__ import annotations

import sys
import types

import click
import pytest

from revati import cli as cli_pkg
from revati.errors import RevatiError, RunError


@pytest.fixture
def boom(monkeypatch: pytest.MonkeyPatch) -> None:
    """A `boom KIND` subcommand that raises the error named KIND."""

    @click.command()
    @click.argument("kind")
    def cmd(kind: str) -> None:
        if kind == "run":
            raise RunError("process 7 crashed", exit_code=5)
        if kind == "plain":
            raise RevatiError("bad input 'x'; use 'y'")
        raise RuntimeError("a bug")

    mod = types.ModuleType("revati_boom_cmd")
    mod.boom = cmd  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "revati_boom_cmd", mod)
    monkeypatch.setitem(cli_pkg.COMMANDS, "boom", "revati_boom_cmd:boom")


def test_run_error_exits_with_its_status(boom, cli) -> None:
    code, out, err = cli("boom", "run")
    assert code == 5 and err == "Error: process 7 crashed\n" and out == ""


def test_plain_error_exits_1(boom, cli) -> None:
    code, _, err = cli("boom", "plain")
    assert code == 1 and err == "Error: bad input 'x'; use 'y'\n"


def test_debug_shows_the_traceback(boom, cli) -> None:
    """--debug lets the error through (pytest sees the exception itself)."""
    with pytest.raises(RevatiError, match="bad input"):
        cli("--debug", "boom", "plain")


def test_usage_error_exits_2(boom, cli) -> None:
    code, _, err = cli("boom")
    assert code == 2 and "Missing argument 'KIND'" in err


def test_unknown_export_format_lists_the_registry(cli, serving_run) -> None:
    """export's --format choices come from revati.exporters.FORMATS."""
    from revati.exporters import FORMATS

    code, _, err = cli("export", str(serving_run), "--format", "svg")
    assert code == 2 and all(f in err for f in FORMATS)
