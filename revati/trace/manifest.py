"""The run's manifest.json: read, check the schema version, write."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

from revati import __version__
from revati.errors import TraceError
from revati.trace.schema import MANIFEST_FILE, SCHEMA_MAJOR, SCHEMA_VERSION


@dataclass
class Manifest:
    """What a run was: docs/trace-format.md lists the fields. Unknown fields are kept in `extra`."""

    schema_version: str = SCHEMA_VERSION
    revati_version: str = __version__
    command: list[str] = field(default_factory=list)
    device: str = ""
    num_gpus: int = 0
    predictor: dict[str, Any] = field(default_factory=dict)
    seeds: dict[str, Any] = field(default_factory=dict)
    host_speed: float = 1.0
    deterministic: bool = False
    start_time_ns: int = 0
    wall_duration_ns: int | None = None
    exit_status: int | None = None
    processes: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    synthesized: bool = False  # True when the run had no manifest.json and this was made up

    @classmethod
    def from_dict(cls, d: dict[str, Any], path: object = MANIFEST_FILE) -> Manifest:
        """A manifest from its JSON object; a wrong schema major version raises TraceError."""
        if not isinstance(d, dict):
            raise TraceError(path, "manifest is not a JSON object")
        check_schema_version(d.get("schema_version"), path)
        known = {f for f in cls.__dataclass_fields__ if f not in ("extra", "synthesized")}
        kwargs = {k: v for k, v in d.items() if k in known}
        extra = {k: v for k, v in d.items() if k not in known}
        m = cls(**kwargs)
        m.extra = extra
        return m

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        extra = d.pop("extra")
        d.pop("synthesized")
        d.update(extra)
        return d

    def rank_of(self, pid: int) -> int | None:
        """The rank the launcher recorded for a process id, or None."""
        for p in self.processes:
            if p.get("pid") == pid and p.get("rank") is not None:
                return int(p["rank"])
        return None


def check_schema_version(version: object, path: object) -> None:
    """Accept any 1.x; reject another major version or a malformed one, in one line."""
    if not isinstance(version, str) or not version:
        raise TraceError(path, f"no schema_version (expected {SCHEMA_VERSION})")
    major = version.split(".", 1)[0]
    if not major.isdigit():
        raise TraceError(path, f"malformed schema_version '{version}' (expected {SCHEMA_VERSION})")
    if int(major) != SCHEMA_MAJOR:
        raise TraceError(
            path,
            f"schema version {version} is not supported (this revati reads {SCHEMA_MAJOR}.x); "
            f"use the revati version that wrote the run",
        )


def read_manifest(run_dir: Path) -> Manifest | None:
    """The manifest of a run directory, or None when it has none. Corrupt -> TraceError."""
    path = Path(run_dir) / MANIFEST_FILE
    if not path.is_file():
        return None
    try:
        d = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as e:
        raise TraceError(path, f"corrupt manifest: {e}") from None
    return Manifest.from_dict(d, path)


def write_manifest(run_dir: Path, manifest: Manifest | dict[str, Any]) -> Path:
    """Write manifest.json atomically (tmp + rename)."""
    d = manifest.to_dict() if isinstance(manifest, Manifest) else dict(manifest)
    path = Path(run_dir) / MANIFEST_FILE
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(orjson.dumps(d, option=orjson.OPT_INDENT_2))
    os.replace(tmp, path)
    return path
