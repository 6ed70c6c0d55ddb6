"""revati's engine plugins reach a run's Pythons whether or not revati is installed there."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from revati.devices import get_profile
from revati.launch import plugins
from revati.launch.env import run_env
from revati.launch.supervisor import RunConfig, record

GROUPS = ("vllm.general_plugins", "sglang.srt.plugins")
# which revati entry points of GROUPS this Python sees, one "group name=value" per line
SHOW = (
    "from importlib.metadata import entry_points\n"
    f"for g in {GROUPS!r}:\n"
    "    for e in entry_points(group=g):\n"
    "        if e.value.startswith('revati.'):\n"
    "            print(g, e.name + '=' + e.value)\n"
)
EXPECTED = {
    "vllm.general_plugins revati=revati.integrations.vllm.plugin:register",
    "sglang.srt.plugins revati=revati.integrations.sglang.plugin:register",
}


def test_entry_points_from_pyproject_when_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    """With no installed distribution the source tree's pyproject.toml declares them; commands
    (console_scripts) are left out, a dist-info cannot make their scripts."""

    def missing(name: str) -> metadata.Distribution:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(plugins.metadata, "distribution", missing)
    groups = plugins.entry_points()
    assert {f"{g} {n}={v}" for g, eps in groups.items() for n, v in eps.items()} == EXPECTED
    assert "console_scripts" not in groups


def test_plugin_folder_is_written_once_and_found_by_importlib(tmp_path: Path) -> None:
    folder = plugins.plugin_path(tmp_path)
    assert folder is not None and folder.parent == tmp_path / "plugins"
    (info,) = folder.glob("*.dist-info")
    stamp = (info / "entry_points.txt").stat().st_mtime_ns
    # the same content: the same folder, not rewritten
    assert plugins.plugin_path(tmp_path) == folder
    assert (info / "entry_points.txt").stat().st_mtime_ns == stamp
    # a Python without site-packages (no installed revati), run outside the source tree
    found = subprocess.run(
        [sys.executable, "-S", "-c", SHOW],
        env={"PYTHONPATH": str(folder)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    bare = subprocess.run(
        [sys.executable, "-S", "-c", SHOW], env={}, cwd=tmp_path, capture_output=True, text=True
    ).stdout
    assert set(found.splitlines()) == EXPECTED and bare == ""


def test_env_puts_the_plugin_folder_first(tmp_path: Path) -> None:
    env = run_env(tmp_path, tmp_path / "lib", base={"PYTHONPATH": "/a:/b"}, plugins=tmp_path / "p")
    assert env["PYTHONPATH"] == f"{tmp_path / 'p'}:/a:/b"
    assert "PYTHONPATH" not in run_env(tmp_path, tmp_path / "lib", base={})


def test_recorded_python_finds_the_plugins_without_an_install(
    tmp_path: Path, lib_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`revati record` of a Python that has no revati installed (-S: no site-packages) still gives
    it revati's plugin entry points, so vLLM and SGLang load the hooks."""
    monkeypatch.setenv("REVATI_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("PYTHONPATH", raising=False)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "shown.txt"
    code = SHOW.replace("print(g,", f"print(file=open({str(out)!r}, 'a'), *(g,")
    code = code.replace("e.value)\n", "e.value))\n")
    cfg = RunConfig(
        command=[sys.executable, "-S", "-c", code], out=tmp_path / "run", device=get_profile("h200")
    )
    assert record(cfg, lib_dir).exit_status == 0
    assert set(out.read_text().splitlines()) == EXPECTED


def test_unwritable_cache_puts_the_folder_in_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cache that cannot be written (here a file where its folder should be): the dist-info goes
    into the run directory's python/ instead, and the run still gets its plugins."""
    from revati.launch import supervisor

    (tmp_path / "not-a-folder").write_text("")
    monkeypatch.setenv("REVATI_CACHE_DIR", str(tmp_path / "not-a-folder"))
    folder = supervisor._plugin_path(tmp_path / "run")
    assert folder is not None and folder.parent == tmp_path / "run" / "python" / "plugins"
    assert len(list(folder.glob("*.dist-info/entry_points.txt"))) == 1
