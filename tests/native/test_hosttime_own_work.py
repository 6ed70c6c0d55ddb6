"""revati's own work inside a program (revati_own_begin/end: an engine plugin's hooks, host runs of
kernels) charges the program no modelled time either: a driver call's host cost or a clock read's
charge made inside it is not the program's (vclock.c, rv_own_enter). Deterministic mode, where
virtual time is charges and jumps only, so every figure is exact."""

from __future__ import annotations

OWN_WORK = """
import ctypes, json, os, time
lib = ctypes.CDLL(os.environ["LD_PRELOAD"].split()[0])
lib.revati_charge_ns.argtypes = [ctypes.c_ulonglong]
def span(fn):
    t0 = time.monotonic_ns()
    fn()
    return time.monotonic_ns() - t0
def reads():
    for _ in range(1000):
        time.monotonic_ns()
def charge():
    lib.revati_charge_ns(1_000_000)
def own(fn):
    def run():
        lib.revati_own_begin()
        try:
            fn()
        finally:
            lib.revati_own_end()
    return run
def nested():
    lib.revati_own_begin()
    own(charge)()
    charge()  # still inside the outer own section
    lib.revati_own_end()
out = {
    "reads": span(reads), "own_reads": span(own(reads)),
    "charge": span(charge), "own_charge": span(own(charge)), "own_nested": span(nested),
    "after": span(charge),
}
print("RESULT", json.dumps(out))
"""


def test_own_work_charges_nothing(stand_in) -> None:
    r = stand_in(OWN_WORK, env={"REVATI_DETERMINISTIC": "1", "REVATI_CPU_GAP_NS": "100"})
    assert r.returncode == 0, r.stderr
    out = r.result()
    gap = 100  # the span's own closing read
    assert out["reads"] == 1001 * gap  # each interposed read charges the modelled gap
    assert out["own_reads"] == gap  # reads inside own work: nothing
    assert out["charge"] == 1_000_000 + gap
    assert out["own_charge"] == gap
    assert out["own_nested"] == gap  # nested sections: nothing until the outermost ends
    assert out["after"] == 1_000_000 + gap  # charging again once own work has ended
