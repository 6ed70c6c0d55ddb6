"""Fault injection: record a small CUDA program, break it at a random point, check what survives.

Each trial records `revati record -- python PROGRAM FAULT AT`: the program initialises the stand-in
driver, meets an unimplemented call, then writes numbered markers; at marker AT (random) it is
broken by the fault. Faults: `sigkill`, `sigterm`, `sigint` (sent to itself), `segv` (a read of
address 0), `abort`, `ext-kill` (SIGKILL from outside, at a random moment), `fsize` (RLIMIT_FSIZE
below what it writes: a full disk). A trial survives when the run loads, every marker the program
wrote before the fault is in the trace (lost = how many are not), and `revati report` names how the
process ended. Prints one line per fault kind; `--json` prints the trials.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FAULTS = ("sigkill", "sigterm", "sigint", "segv", "abort", "ext-kill", "fsize")

PROGRAM = r"""
import ctypes, os, resource, signal, sys
import revati.markers as m
# Python leaves SIGINT ignored when it started so (a job put in the background by a non-interactive
# shell, such as `bash -c '... &'`): the fault needs the handler that raises KeyboardInterrupt
signal.signal(signal.SIGINT, signal.default_int_handler)
fault, at, total = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
if fault == "fsize":
    lim = 3 << 20
    resource.setrlimit(resource.RLIMIT_FSIZE, (lim, lim))
cuda = ctypes.CDLL("libcuda.so.1")
assert cuda.cuInit(0) == 0
for _ in range(3):
    cuda.cuArrayCreate_v2(ctypes.byref(ctypes.c_void_p()), None)  # unimplemented: counted
pad = "x" * 200
out = os.fdopen(1, "w", buffering=1)
for i in range(total):
    if i == at:
        out.write(f"AT {i}\n")
        if fault == "sigkill": os.kill(os.getpid(), signal.SIGKILL)
        if fault == "sigterm": os.kill(os.getpid(), signal.SIGTERM)
        if fault == "sigint": os.kill(os.getpid(), signal.SIGINT)
        if fault == "segv": ctypes.string_at(0)
        if fault == "abort": os.abort()
    m.mark("step", i=i, pad=pad)
    if fault == "ext-kill" and i % 200 == 0:
        out.write(f"WROTE {i}\n")
out.write(f"DONE {total}\n")
"""

# what the report must say about the process, per fault
EXPECT = {
    "sigkill": "killed by SIGKILL",
    "sigterm": "killed by SIGTERM",
    "sigint": "killed by SIGINT",  # KeyboardInterrupt, then Python dies of SIGINT (default action)
    "segv": "killed by SIGSEGV",
    "abort": "killed by SIGABRT",
    "ext-kill": "killed by SIGKILL",
    "fsize": "events not written",
}


@dataclass
class Trial:
    fault: str
    at: int
    written: int  # markers the program wrote before the fault
    in_trace: int  # markers found in the trace
    lost: int
    loaded: bool
    report_says: str
    survived: bool


def run_trial(fault: str, rng: random.Random, work: Path, total: int = 20000) -> Trial:
    prog = work / "prog.py"
    prog.write_text(PROGRAM)
    run_dir = work / f"run-{fault}-{rng.randrange(1 << 30)}"
    at = rng.randrange(1, total) if fault not in ("ext-kill", "fsize") else total
    cmd = [sys.executable, "-m", "revati", "record", "--out", str(run_dir), "--"]
    if fault == "ext-kill":
        total = at = 10**8  # runs until killed
    cmd += [sys.executable, str(prog), fault, str(at), str(total)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    if fault == "ext-kill":
        deadline = time.monotonic() + 120
        while not list((run_dir / "events").glob("proc-*")) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(rng.uniform(0.2, 2.0))
        for f in (run_dir / "events").glob("proc-*.jsonl*"):
            pid = int(f.name.split("-")[1].split(".")[0])
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    out, err = p.communicate(timeout=300)
    written = at
    if fault == "ext-kill":
        wrote = [int(ln.split()[1]) for ln in out.splitlines() if ln.startswith("WROTE ")]
        done = [ln for ln in out.splitlines() if ln.startswith("DONE ")]
        written = total if done else (wrote[-1] + 1 if wrote else 0)
    from revati.report import summarize
    from revati.trace import load_run

    try:
        run = load_run(run_dir)
        loaded = True
    except Exception as e:  # noqa: BLE001 (a trial records any failure to load)
        return Trial(fault, at, written, 0, written, False, f"load failed: {e}", False)
    mk = run.frames["marker"]
    steps = sorted(int(a["i"]) for a in mk[mk["name"] == "step"]["args"])
    contiguous = steps == list(range(len(steps)))
    in_trace = len(steps)
    s = summarize(run)
    says = "; ".join(p["ended"] for p in s["processes"])
    if fault == "fsize":
        lost = 0  # what the limit refused is counted in the end line, not lost silently
        ok = (
            contiguous and EXPECT[fault] in says and s["unimplemented"].get("cuArrayCreate_v2") == 3
        )
    else:
        lost = max(0, written - in_trace)
        ok = contiguous and lost == 0 and EXPECT[fault] in says
        ok = ok and s["unimplemented"].get("cuArrayCreate_v2", 0) >= 2
    return Trial(fault, at, written, in_trace, lost, loaded, says, ok)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=5, help="trials per fault kind")
    ap.add_argument("--faults", default=",".join(FAULTS))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    faults = args.faults.split(",")
    bad = [f for f in faults if f not in FAULTS]
    if bad or args.trials <= 0:
        print(f"error: unknown fault(s) {bad}; choose from {', '.join(FAULTS)}", file=sys.stderr)
        return 2
    rng = random.Random(args.seed)
    trials: list[Trial] = []
    with tempfile.TemporaryDirectory() as tmp:
        for fault in faults:
            for _ in range(args.trials):
                trials.append(run_trial(fault, rng, Path(tmp)))
    if args.json:
        import json

        print(json.dumps([asdict(t) for t in trials], indent=1))
        return 0
    for fault in faults:
        ts = [t for t in trials if t.fault == fault]
        print(
            f"{fault:9} tried {len(ts)}  survived {sum(t.survived for t in ts)}  "
            f"markers written {sum(t.written for t in ts)}  lost {sum(t.lost for t in ts)}  "
            f"report: {ts[0].report_says}"
        )
    return 0 if all(t.survived for t in trials) else 1


if __name__ == "__main__":
    sys.exit(main())
