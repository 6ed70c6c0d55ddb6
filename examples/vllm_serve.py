"""vLLM's online serving benchmark in one command: start `vllm serve`, wait until it answers, run
`vllm bench serve` against it (random dataset, fixed input and output lengths, a request rate; with
several rates, one benchmark after another), save the client's results, then stop the server. Runs
unchanged on a GPU host and under revati:

    revati record --out runs/vllm-serve -- python examples/vllm_serve.py \
        --model examples/models/tiny-llama --request-rate 2,16 --num-prompts 16 -- --enforce-eager

Under revati the result goes to `bench/` in the run directory, where `revati report` finds it
(elsewhere: `--result-dir`, default ./bench). Arguments after `--` go to `vllm serve`. Exit status:
the benchmark client's, or 1 when the server did not start or did not stop cleanly.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    serve_args: list[str] = []
    if "--" in argv:
        i = argv.index("--")
        argv, serve_args = argv[:i], argv[i + 1 :]
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="examples/models/tiny-llama", help="model directory or name")
    p.add_argument(
        "--load-format", default="dummy", help="vllm serve --load-format (dummy: no weights)"
    )
    p.add_argument("--port", type=int, default=0, help="server port (0: a free one)")
    p.add_argument(
        "--request-rate",
        default="4",
        help="requests per second (Poisson); several, comma-separated, run one after another",
    )
    p.add_argument(
        "--repeats", type=int, default=1, help="benchmarks per rate (each with its own seed)"
    )
    p.add_argument("--num-prompts", type=int, default=32)
    p.add_argument("--input-len", type=int, default=128, help="prompt tokens per request")
    p.add_argument(
        "--output-len", type=int, default=32, help="output tokens per request (EOS ignored)"
    )
    p.add_argument(
        "--num-warmups",
        type=int,
        default=0,
        help="vllm bench serve --num-warmups: requests sent before each measured benchmark",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--result-dir", type=Path, default=None)
    p.add_argument(
        "--vllm",
        default=None,
        help="the vllm command, words split at spaces (default: the `vllm` next to this Python, "
        "else on PATH)",
    )
    p.add_argument("--result-filename", default=None, help="default: serve-rate<R>.json")
    p.add_argument(
        "--ready-timeout", type=float, default=1800.0, help="seconds to wait for the server"
    )
    p.add_argument(
        "--stop-timeout", type=float, default=300.0, help="seconds to wait for it to stop"
    )
    args = p.parse_args(argv)
    try:
        args.rates = [float(x) for x in args.request_rate.split(",") if x.strip()]
    except ValueError:
        args.rates = []
    if not args.rates or min(args.rates) <= 0:
        p.error(f"--request-rate {args.request_rate!r}: give positive numbers, comma-separated")
    if args.num_prompts < 1 or args.input_len < 1 or args.output_len < 1:
        p.error("--num-prompts, --input-len and --output-len must be positive")
    if args.repeats < 1:
        p.error("--repeats must be positive")
    if args.num_warmups < 0:
        p.error("--num-warmups must not be negative")
    if args.result_filename and (len(args.rates) > 1 or args.repeats > 1):
        p.error("--result-filename names one result: give one --request-rate and no --repeats")
    return args, serve_args


def vllm_command(words: str | None = None) -> list[str]:
    """`words` split at spaces, else the `vllm` command of this Python's environment (PATH may
    name another one)."""
    if words:
        return words.split()
    exe = Path(sys.executable).parent / "vllm"
    if exe.exists():
        return [str(exe)]
    found = shutil.which("vllm")
    if found:
        return [found]
    raise SystemExit("error: no `vllm` command next to this Python or on PATH (pip install vllm)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(server: subprocess.Popen[bytes], url: str, timeout: float) -> None:
    """Poll GET /health until it answers 200; fail if the server exits first or the time is up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(
                f"error: vllm serve exited with status {server.returncode} before it was ready"
            )
        try:
            with urllib.request.urlopen(url + "/health", timeout=10) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(1.0)
    raise SystemExit(f"error: vllm serve was not ready after {timeout:.0f} s")


def stop(server: subprocess.Popen[bytes], timeout: float) -> int:
    """SIGTERM (vLLM's graceful shutdown), then SIGKILL after `timeout`; the server's status."""
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            print(f"vllm serve did not stop within {timeout:.0f} s: killed", file=sys.stderr)
            server.kill()
            server.wait()
    return int(server.returncode)


def main(argv: list[str] | None = None) -> int:
    args, serve_args = parse_args(sys.argv[1:] if argv is None else argv)
    run_dir = os.environ.get("REVATI_RUN_DIR")
    result_dir = args.result_dir or (Path(run_dir) / "bench" if run_dir else Path("bench"))
    result_dir.mkdir(parents=True, exist_ok=True)
    port = args.port or free_port()
    url = f"http://127.0.0.1:{port}"
    vllm = vllm_command(args.vllm)
    serve = [*vllm, "serve", args.model, "--host", "127.0.0.1", "--port", str(port),
             "--load-format", args.load_format, "--seed", str(args.seed), *serve_args]  # fmt: skip
    print("+", " ".join(serve), flush=True)
    server = subprocess.Popen(serve)
    rc = 0
    try:
        wait_ready(server, url, args.ready_timeout)
        runs = [(rate, k) for rate in args.rates for k in range(args.repeats)]
        for i, (rate, k) in enumerate(runs):
            name = f"serve-rate{rate:g}" + (f"-{k}" if args.repeats > 1 else "")
            result_file = args.result_filename or f"{name}.json"
            bench = [
                *vllm, "bench", "serve", "--backend", "vllm", "--base-url", url,
                "--model", args.model, "--dataset-name", "random",
                "--random-input-len", str(args.input_len),
                "--random-output-len", str(args.output_len),
                "--ignore-eos", "--request-rate", f"{rate:g}",
                # a seed per benchmark: other prompts, so the prefix cache does not carry over
                "--num-prompts", str(args.num_prompts), "--seed", str(args.seed + i),
                "--num-warmups", str(args.num_warmups),
                "--percentile-metrics", "ttft,tpot,itl,e2el", "--metric-percentiles", "50,90,99",
                "--save-result", "--save-detailed", "--result-dir", str(result_dir),
                "--result-filename", result_file, "--disable-tqdm",
            ]  # fmt: skip
            print("+", " ".join(bench), flush=True)
            rc = rc or subprocess.run(bench).returncode
    except BaseException:
        stop(server, 30)
        raise
    status = stop(server, args.stop_timeout)
    # vLLM's server exits 0 on SIGTERM (graceful); anything else is worth failing the run for
    if rc == 0 and status not in (0, -signal.SIGTERM):
        print(f"vllm serve exited with status {status}", file=sys.stderr)
        return 1
    return rc


if __name__ == "__main__":
    sys.exit(main())
