"""The stand-in answers the queries a real H200 answered (revati/devices/answers/h200.json) the same way."""

from __future__ import annotations

from pathlib import Path

from revati.profile.replay_answers import replay

ANSWERS = Path(__file__).resolve().parents[2] / "revati" / "devices" / "answers" / "h200.json"


def test_h200_answers_replay_without_difference(lib_dir: Path) -> None:
    """Device attributes, memory, name, count, driver version and cluster occupancy all agree."""
    r = replay(ANSWERS, "h200")
    assert (
        r["same"] >= 100
    )  # the log holds the attributes the runtime and cuBLAS read, and clusters
    assert r["differ"] == [], r["differ"][:5]
