"""Fault injection (no GPU): a recording broken at a random point keeps everything written before
the fault, loads, and its report says how the process ended (tools/fault_inject.py)."""

from __future__ import annotations

import importlib.util
import random
import sys
import zlib
from pathlib import Path

import pytest

TOOL = Path(__file__).resolve().parents[2] / "tools" / "fault_inject.py"
_spec = importlib.util.spec_from_file_location("fault_inject", TOOL)
assert _spec and _spec.loader
fault_inject = importlib.util.module_from_spec(_spec)
sys.modules["fault_inject"] = fault_inject
_spec.loader.exec_module(fault_inject)


@pytest.mark.parametrize("fault", fault_inject.FAULTS)
def test_fault_keeps_the_trace(fault: str, tmp_path: Path) -> None:
    """Each fault at a random point: the run loads, no marker written before it is lost, the
    unimplemented calls met are still counted, and the report names the ending."""
    t = fault_inject.run_trial(fault, random.Random(zlib.crc32(fault.encode())), tmp_path)
    assert t.loaded, t.report_says
    assert t.lost == 0, t
    assert t.in_trace > 0, t
    assert fault_inject.EXPECT[fault] in t.report_says, t
    assert t.survived, t
