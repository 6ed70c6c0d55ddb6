"""revati's engine plugins, found by every Python of a run whether or not revati is installed there.

vLLM and SGLang load plugins through entry points (`vllm.general_plugins`, `sglang.srt.plugins`),
and entry points come from installed distributions' metadata: revati importable through
`PYTHONPATH` alone (a source checkout, a venv made for another checkout, a machine where nothing can
be installed) registers none, and the engine then runs without revati's hooks, silently: no values
supplied (sequence lengths, sampled ids), so attention is described at its bound and GPU times are
too long, and no request markers. A run of vLLM 0.24 on the H200 machine's host that way read
`Avg latency` +30% (docs/vllm.md, "On the reference host itself").

`plugin_path()` writes a minimal distribution, `revati_engine_plugins-<version>.dist-info` with
revati's entry points (taken from the installed `revati` distribution, else from the source tree's
`pyproject.toml`: the one place they are declared), into a cache folder keyed by their text, and the
launcher puts that folder first on the run's `PYTHONPATH`. Where revati is installed too, both
distributions name the same `revati` entry: vLLM keeps one per name, and each `register()` runs once
per process anyway.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import tomllib
from importlib import metadata
from pathlib import Path

log = logging.getLogger(__name__)

DIST_NAME = "revati_engine_plugins"
SKIPPED_GROUPS = ("console_scripts", "gui_scripts")  # commands need a script file, not metadata


def entry_points() -> dict[str, dict[str, str]]:
    """revati's plugin entry points, {group: {name: "module:attr"}}: installed metadata, else pyproject."""
    try:
        dist = metadata.distribution("revati")
        found: dict[str, dict[str, str]] = {}
        for ep in dist.entry_points:
            if ep.group not in SKIPPED_GROUPS:
                found.setdefault(ep.group, {})[ep.name] = ep.value
        if found:
            return found
    except metadata.PackageNotFoundError:
        pass
    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    if not pyproject.is_file():
        return {}
    project = tomllib.loads(pyproject.read_text()).get("project", {})
    groups = project.get("entry-points", {})
    return {g: dict(eps) for g, eps in groups.items() if g not in SKIPPED_GROUPS}


def entry_points_text(groups: dict[str, dict[str, str]]) -> str:
    """The entry_points.txt of those groups."""
    parts = []
    for group in sorted(groups):
        lines = [f"[{group}]"] + [f"{n} = {v}" for n, v in sorted(groups[group].items())]
        parts.append("\n".join(lines) + "\n")
    return "\n".join(parts)


def plugin_path(cache: Path | None = None) -> Path | None:
    """A folder to put on PYTHONPATH whose distribution declares revati's plugins (None: none found).

    Written once per content into `cache` (default: revati's cache folder, see hostspeed.cache_dir)."""
    from revati import __version__
    from revati.launch.hostspeed import cache_dir

    groups = entry_points()
    if not groups:
        log.warning(
            "revati: no engine plugin entry points found; vLLM and SGLang run without hooks"
        )
        return None
    text = entry_points_text(groups)
    key = hashlib.sha256(f"{__version__}\n{text}".encode()).hexdigest()[:16]
    folder = (cache or cache_dir()) / "plugins" / key
    info = folder / f"{DIST_NAME}-{__version__}.dist-info"
    if (info / "entry_points.txt").is_file():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=folder.parent))
    tmp_info = tmp / info.name
    tmp_info.mkdir()
    (tmp_info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {DIST_NAME}\nVersion: {__version__}\n"
        "Summary: revati's engine plugins for a run's processes (written by revati record)\n"
    )
    (tmp_info / "entry_points.txt").write_text(text)
    try:
        os.rename(tmp, folder)  # atomic: a concurrent launcher either wins or finds ours
    except OSError:
        if not (info / "entry_points.txt").is_file():
            raise
        shutil.rmtree(tmp)  # another launcher's copy is in place
    return folder
