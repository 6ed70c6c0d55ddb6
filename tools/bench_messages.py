"""Cost of revati's message stamping per write/read (hosttime/messages.c).

    python tools/bench_messages.py [--calls 200000] [--repeat 7]

A small C program (compiled here with the system compiler) times, in real time, a loop of 1-byte
write+read pairs through a pipe (a channel: the write stamps it with the sender's now) and a loop of
1-byte writes to /dev/null (not a channel: revati only asks what the fd is), fastest of --repeat
rounds, natively and with librevati.so preloaded. The difference is revati's cost per call.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PROBE = r"""
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
/* the real clock through the raw system call: revati's interposed clock is virtual */
static long long real_ns(void) {
    struct timespec t;
    syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}
int main(int argc, char **argv) {
    int n = atoi(argv[1]), rounds = atoi(argv[2]), p[2];
    if (pipe(p) != 0) return 1;
    int dn = open("/dev/null", O_WRONLY);
    char c = 'x', b;
    long long pipe_best = 1LL << 62, null_best = 1LL << 62;
    for (int r = 0; r < rounds; r++) {
        long long t0 = real_ns();
        for (int i = 0; i < n; i++)
            if (write(p[1], &c, 1) != 1 || read(p[0], &b, 1) != 1) return 1;
        long long t1 = real_ns();
        if (t1 - t0 < pipe_best) pipe_best = t1 - t0;
        t0 = real_ns();
        for (int i = 0; i < n; i++)
            if (write(dn, &c, 1) != 1) return 1;
        t1 = real_ns();
        if (t1 - t0 < null_best) null_best = t1 - t0;
    }
    printf("%.1f %.1f\n", (double)pipe_best / n, (double)null_best / n);
    return 0;
}
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=200000)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--lib", help="librevati.so to preload (default: this checkout's build)")
    args = ap.parse_args()
    from revati.native import build

    lib = Path(args.lib) if args.lib else build.lib_dir() / "librevati.so"
    with tempfile.TemporaryDirectory() as d:
        src, exe = Path(d) / "probe.c", Path(d) / "probe"
        src.write_text(PROBE)
        subprocess.run(["cc", "-O2", "-o", str(exe), str(src)], check=True)
        rows = {}
        for name, env in (("native", {}), ("revati", {"LD_PRELOAD": str(lib)})):
            out = subprocess.run(
                [str(exe), str(args.calls), str(args.repeat)],
                env={**os.environ, **env},
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()
            rows[name] = (float(out[0]), float(out[1]))
    for name, (pipe_ns, null_ns) in rows.items():
        print(
            f"{name:7s} pipe write+read {pipe_ns:8.1f} ns/pair   /dev/null write {null_ns:7.1f} ns/call"
        )
    print(
        f"revati adds {rows['revati'][0] - rows['native'][0]:.1f} ns per pipe write+read, "
        f"{rows['revati'][1] - rows['native'][1]:.1f} ns per /dev/null write"
    )


if __name__ == "__main__":
    main()
