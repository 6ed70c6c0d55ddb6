"""Host calibration: the --host-speed factor between this host's CPU and a recorded reference host."""

from revati.calibrate.reference import (
    DEFAULT_REFERENCE,
    PARTS,
    describe,
    factors,
    load_reference,
    save_reference,
)
from revati.calibrate.workload import WORKLOAD_VERSION, measure

__all__ = [
    "DEFAULT_REFERENCE",
    "PARTS",
    "WORKLOAD_VERSION",
    "describe",
    "factors",
    "load_reference",
    "measure",
    "save_reference",
]
