"""Prediction cost in the launch path: cached and uncached kernel predictions of the C core.

Compiles a small C timer against librvpredict.so (the code the stand-in driver runs), loads a model
(--model, or one trained here on a synthetic profile) and times rv_model_predict on one signature
(cached) and rv_model_predict_uncached over varied launches, per predictor (table, roofline, xgb),
and rv_model_predict on one launch whose signature differs at every call while its features do not
(as vLLM's FA3 launches, whose parameters carry per-call values): answered by the features cache.
Targets (issue 8): cached <= 1 us, uncached <= 50 us. Wall and thread CPU time are both printed: on a
loaded shared host the wall figure includes the time other processes held the core.

    python tools/bench_predict.py [--model DIR] [--n 200000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

TIMER_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "revati/predict.h"

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e9 + t.tv_nsec; }
/* this thread's CPU time: what the prediction costs, without the time a loaded host ran others */
static double cpu(void) { struct timespec t; clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t); return t.tv_sec * 1e9 + t.tv_nsec; }

int main(int argc, char **argv) {
    const char *dir = argv[1], *mode = argv[2], *lib = argv[3];
    long n = atol(argv[4]);
    char err[512];
    rv_model *m = rv_model_load(dir, mode, lib, err, sizeof err);
    if (!m) { fprintf(stderr, "%s\n", err); return 1; }
    char op[256];
    rv_pkernel k = {"nvjet_sm90_tst_128x128", {32, 32, 1}, {384, 1, 1}, 200704, "[null,null,null]", op, "0123456789abcdef"};
    snprintf(op, sizeof op, "{\"lib\":\"cublasLt\",\"op\":\"matmul\",\"m\":4096,\"n\":4096,\"k\":4096,\"dtype\":\"bf16\"}");
    double sink = 0;
    rv_model_predict(m, &k);
    double t0 = now(), c0 = cpu();
    for (long i = 0; i < n; ++i) sink += rv_model_predict(m, &k).dur_ns;
    double cached = (now() - t0) / n, cached_cpu = (cpu() - c0) / n;
    long nu = n / 100 > 1000 ? n / 100 : 1000;
    t0 = now(), c0 = cpu();
    for (long i = 0; i < nu; ++i) {
        snprintf(op, sizeof op, "{\"lib\":\"cublasLt\",\"op\":\"matmul\",\"m\":%ld,\"n\":4096,\"k\":%ld,\"dtype\":\"bf16\"}", 64 + i % 8000, 128 + i % 777);
        k.sig = NULL;
        sink += rv_model_predict_uncached(m, &k).dur_ns;
    }
    double uncached = (now() - t0) / nu, uncached_cpu = (cpu() - c0) / nu;
    char sig[17];
    snprintf(op, sizeof op, "{\"lib\":\"cublasLt\",\"op\":\"matmul\",\"m\":4096,\"n\":4096,\"k\":4096,\"dtype\":\"bf16\"}");
    k.sig = sig;
    unsigned long long s0[3], s1[3];
    rv_model_cache_stats(m, s0);
    t0 = now(), c0 = cpu();
    for (long i = 0; i < nu; ++i) {
        snprintf(sig, sizeof sig, "%016lx", 0x5eed000000000000L + i); /* a per-call value: a new sig */
        sink += rv_model_predict(m, &k).dur_ns;
    }
    double varying = (now() - t0) / nu, varying_cpu = (cpu() - c0) / nu;
    rv_model_cache_stats(m, s1);
    printf("%s cached_ns %.1f uncached_ns %.1f new_sig_same_features_ns %.1f wall; cached %.1f uncached %.1f new_sig %.1f "
           "thread CPU (%ld / %ld / %ld calls; new sigs: %llu by key, %llu by features, %llu computed; checksum %.0f)\n",
           mode, cached, uncached, varying, cached_cpu, uncached_cpu, varying_cpu, n, nu, nu, s1[0] - s0[0],
           s1[1] - s0[1], s1[2] - s0[2], sink);
    return 0;
}
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--n", type=int, default=200_000)
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from revati.native import build
    from revati.predictors import xgb

    lib_dir = build.lib_dir()
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        model = args.model
        if model is None:
            sys.path.insert(0, str(ROOT / "tests" / "native"))
            import profile_data

            from revati.predictors import train

            model = t / "model"
            train.train([profile_data.write(t / "ds")], model)
            print("model: trained here on a synthetic profile (timing only)")
        (t / "timer.c").write_text(TIMER_C)
        exe = t / "timer"
        cc = os.environ.get("CC", "cc")
        subprocess.run(
            [cc, "-O2", "-I", str(ROOT / "revati" / "native" / "include"), str(t / "timer.c"),
             "-L", str(lib_dir), "-l:librvpredict.so", f"-Wl,-rpath,{lib_dir}", "-o", str(exe)],
            check=True,
        )  # fmt: skip
        for mode in ("table", "roofline", "xgb"):
            r = subprocess.run(
                [str(exe), str(model), mode, xgb.lib_path(), str(args.n)],
                capture_output=True, text=True,
            )  # fmt: skip
            if r.returncode:
                print(f"{mode}: {r.stderr.strip()}", file=sys.stderr)
                return 1
            print(r.stdout.strip())
    print(f"load average: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
