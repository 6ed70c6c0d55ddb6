"""The reference host of `revati calibrate` and the host-speed factor against it.

The factor is reference time over this host's time, per part of the workload (workload.py) and
overall: a slower host gets a factor below 1, and `revati record --host-speed F` then scales the
measured CPU time by F. docs/host-time.md gives the limits (one number for all code; caches,
turbo and noisy neighbours; single-thread only).
"""

from __future__ import annotations

import datetime
import json
import tomllib
from pathlib import Path
from typing import Any

from revati.calibrate.workload import WORKLOAD_VERSION
from revati.errors import RevatiError

DEFAULT_REFERENCE = Path(__file__).resolve().parents[1] / "devices" / "host_reference.toml"
PARTS = ("python", "torch")


def load_reference(path: Path) -> dict[str, Any]:
    """The recorded reference host: its name, CPU, versions and per-part times (ns)."""
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise RevatiError(
            f"reference file {path} does not exist; record one with --save-reference"
        ) from None
    except (tomllib.TOMLDecodeError, OSError) as e:
        raise RevatiError(f"reference file {path} cannot be read: {e}") from None
    ref = data.get("reference")
    if (
        not isinstance(ref, dict)
        or not isinstance(ref.get("python_ns"), int)
        or ref["python_ns"] <= 0
    ):
        raise RevatiError(
            f"reference file {path} has no [reference] table with a positive python_ns"
        )
    if ref.get("workload_version") != WORKLOAD_VERSION:
        raise RevatiError(
            f"reference file {path} was recorded with workload version {ref.get('workload_version')}, "
            f"this revati runs version {WORKLOAD_VERSION}; record it again with --save-reference"
        )
    return ref


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    return json.dumps(str(v))  # a JSON string is a valid TOML basic string


def save_reference(path: Path, name: str, figures: dict[str, Any]) -> None:
    fields = {
        "name": name,
        "recorded": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    fields.update(figures)
    lines = [
        "# The reference host of `revati calibrate`: the fastest time (ns) of each part of its fixed",
        "# workload there. Written by `revati calibrate --save-reference`; see docs/host-time.md.",
        "[reference]",
    ]
    lines += [f"{k} = {_toml_value(v)}" for k, v in fields.items()]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def factors(here: dict[str, Any], ref: dict[str, Any]) -> dict[str, float]:
    """Reference time over this host's time, per part, and overall (over the parts both have)."""
    out: dict[str, float] = {}
    ref_total = here_total = 0
    for part in PARTS:
        key = f"{part}_ns"
        if isinstance(here.get(key), int) and isinstance(ref.get(key), int) and here[key] > 0:
            out[part] = ref[key] / here[key]
            ref_total += ref[key]
            here_total += here[key]
    out["overall"] = ref_total / here_total
    return out


def describe(label: str, fig: dict[str, Any]) -> str:
    parts = []
    for part in PARTS:
        if isinstance(fig.get(f"{part}_ns"), int):
            spread = fig.get(f"{part}_spread")
            extra = f" (median +{100 * spread:.1f}%)" if isinstance(spread, float) else ""
            parts.append(f"{part} {fig[f'{part}_ns'] / 1e6:.1f} ms{extra}")
    versions = f"Python {fig.get('python', '?')}" + (
        f", torch {fig['torch']}" if "torch" in fig else ""
    )
    return f"{label}: {'; '.join(parts)} [{fig.get('cpu', '?')}; {versions}]"
