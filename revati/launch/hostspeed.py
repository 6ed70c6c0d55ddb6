"""--host-speed: a number, `auto` (this machine calibrated once against the reference host, cached),
or `now` (calibrated at the run's start, not cached: a shared host's load slows its CPU, caches and
memory bandwidth included, so a factor cached on a quiet host overstates its speed under load)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

from revati.errors import RevatiError

log = logging.getLogger(__name__)


def cache_dir() -> Path:
    base = os.environ.get("REVATI_CACHE_DIR") or os.environ.get("XDG_CACHE_HOME")
    return Path(base) / "revati" if base else Path.home() / ".cache" / "revati"


def _cache_file(reference: Path) -> Path:
    from revati import calibrate
    from revati.calibrate import workload
    from revati.calibrate.workload import cpu_model

    key = hashlib.sha256()
    key.update(reference.read_bytes())
    key.update(cpu_model().encode())
    key.update(str(os.cpu_count()).encode())
    key.update(str(calibrate.WORKLOAD_VERSION).encode())
    key.update(workload.CLOCK.encode())
    return cache_dir() / f"host-speed-{key.hexdigest()[:16]}.json"


def auto(reference: Path | None = None) -> float:
    """This machine's factor against the reference host: measured on first use, then cached."""
    from revati import calibrate

    ref_path = reference or calibrate.DEFAULT_REFERENCE
    ref = calibrate.load_reference(ref_path)
    cached = _cache_file(ref_path)
    try:
        factor = float(json.loads(cached.read_text())["host_speed"])
        if factor > 0:
            return factor
    except (OSError, ValueError, KeyError, TypeError):
        pass
    log.warning("calibrating this host against '%s' (once; cached in %s)", ref.get("name"), cached)
    here = calibrate.measure(5, with_torch=True)
    factor = calibrate.factors(here, ref)["overall"]
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_suffix(".tmp")
    tmp.write_text(json.dumps({"host_speed": factor, "host": here, "reference": str(ref_path)}))
    tmp.replace(cached)
    return factor


def now(reference: Path | None = None) -> float:
    """This machine's factor against the reference host as it is now (measured, not cached)."""
    from revati import calibrate

    ref_path = reference or calibrate.DEFAULT_REFERENCE
    ref = calibrate.load_reference(ref_path)
    factor = calibrate.factors(calibrate.measure(5, with_torch=True), ref)["overall"]
    log.warning("host speed now: %.3f against '%s'", factor, ref.get("name"))
    return factor


def resolve(value: str, deterministic: bool = False) -> tuple[float, str]:
    """(factor, how): a positive number as given; `auto` calibrated once and cached, `now`
    calibrated now (both 1.0 in deterministic mode, where CPU gaps are modelled, not measured)."""
    if value in ("auto", "now"):
        if deterministic:
            return 1.0, "deterministic"
        return (auto(), "auto") if value == "auto" else (now(), "now")
    try:
        f = float(value)
    except ValueError:
        raise RevatiError(f"--host-speed {value!r} is not a number, 'auto' or 'now'") from None
    if not f > 0:
        raise RevatiError(f"--host-speed {value} must be positive")
    return f, "given"
