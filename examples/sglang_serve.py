"""SGLang's online serving benchmark in one command: start `sglang.launch_server`, run SGLang's own
`bench_serving` client against it at one or more request rates (random token ids, fixed input and
output lengths, EOS ignored; or `--dataset shared-prefix`: SGLang's generated-shared-prefix dataset,
groups of prompts that share a system prompt, for the radix cache), save the client's results, then
stop the server. Each rate gets its own seed (seed + its index), so no prompt of one rate is in the
server's cache from an earlier one. Runs unchanged on a GPU host and under revati:

    revati record --out runs/sglang-serve -- python examples/sglang_serve.py \
        --model examples/models/tiny-llama --request-rate 2 8 --num-prompts 32
    revati record --out runs/sglang-prefix -- python examples/sglang_serve.py \
        --model examples/models/tiny-llama --request-rate 4 32 --dataset shared-prefix \
        --prefix-groups 4 --num-prompts 32 --prefix-len 512 --input-len 64

Under revati the results go to `bench/` in the run directory (elsewhere: `--result-dir`, default
./bench), one file per rate, `sglang-rate<R>.json` (the client's JSON line, with per-request detail).
Arguments after `--` go to the server. The client waits for the server itself
(`--ready-check-timeout-sec`). Exit status: the first failing client's, or 1 when the server died
or did not stop cleanly.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

DATASETS = ("random-ids", "shared-prefix")


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    server_args: list[str] = []
    if "--" in argv:
        i = argv.index("--")
        argv, server_args = argv[:i], argv[i + 1 :]
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--model", default="examples/models/tiny-llama", help="model directory")
    p.add_argument(
        "--load-format", default="dummy", help="server --load-format (dummy: no weights)"
    )
    p.add_argument("--port", type=int, default=0, help="server port (0: a free one)")
    p.add_argument(
        "--request-rate",
        type=float,
        nargs="+",
        default=[4.0],
        help="requests per second, one run each",
    )
    p.add_argument(
        "--dataset",
        choices=DATASETS,
        default="random-ids",
        help="random-ids: random token ids; shared-prefix: SGLang's generated-shared-prefix",
    )
    p.add_argument("--num-prompts", type=int, default=32, help="per rate")
    p.add_argument(
        "--input-len",
        type=int,
        default=128,
        help="prompt tokens per request (shared-prefix: the question after the shared prefix)",
    )
    p.add_argument(
        "--prefix-groups",
        type=int,
        default=4,
        help="shared-prefix: groups of prompts sharing one system prompt (divides --num-prompts)",
    )
    p.add_argument(
        "--prefix-len", type=int, default=512, help="shared-prefix: system prompt tokens"
    )
    p.add_argument(
        "--output-len", type=int, default=32, help="output tokens per request (EOS ignored)"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--result-dir", type=Path, default=None)
    p.add_argument(
        "--ready-timeout", type=float, default=1800.0, help="seconds to wait for the server"
    )
    p.add_argument(
        "--stop-timeout", type=float, default=300.0, help="seconds to wait for it to stop"
    )
    args = p.parse_args(argv)
    if (
        args.num_prompts < 1
        or args.input_len < 1
        or args.output_len < 1
        or min(args.request_rate) <= 0
        or args.prefix_groups < 1
        or args.prefix_len < 1
    ):
        p.error(
            "--num-prompts, --input-len, --output-len, --request-rate, --prefix-groups and "
            "--prefix-len must be positive"
        )
    if args.dataset == "shared-prefix" and args.num_prompts % args.prefix_groups:
        p.error(f"--num-prompts {args.num_prompts} is not a multiple of --prefix-groups")
    return args, server_args


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_command(args: argparse.Namespace, port: int, extra: list[str]) -> list[str]:
    return [
        sys.executable, "-m", "sglang.launch_server", "--model-path", args.model,
        "--load-format", args.load_format, "--host", "127.0.0.1", "--port", str(port),
        "--random-seed", str(args.seed), *extra,
    ]  # fmt: skip


def dataset_args(args: argparse.Namespace) -> list[str]:
    """bench_serving's dataset arguments: fixed lengths, no download."""
    if args.dataset == "shared-prefix":
        return [
            "--dataset-name", "generated-shared-prefix",
            "--gsp-num-groups", str(args.prefix_groups),
            "--gsp-prompts-per-group", str(args.num_prompts // args.prefix_groups),
            "--gsp-system-prompt-len", str(args.prefix_len), "--gsp-question-len", str(args.input_len),
            "--gsp-output-len", str(args.output_len), "--gsp-range-ratio", "1.0",
        ]  # fmt: skip
    return [
        "--dataset-name", "random-ids", "--random-input-len", str(args.input_len),
        "--random-output-len", str(args.output_len), "--random-range-ratio", "1.0",
        "--num-prompts", str(args.num_prompts),
    ]  # fmt: skip


def client_command(
    args: argparse.Namespace, port: int, rate: float, out: Path, index: int = 0
) -> list[str]:
    """bench_serving at one rate, the index-th run: its seed is the launcher's + index."""
    return [
        sys.executable, "-m", "sglang.benchmark.serving", "--backend", "sglang",
        "--host", "127.0.0.1", "--port", str(port), "--model", args.model, "--tokenizer", args.model,
        *dataset_args(args), "--request-rate", f"{rate:g}", "--seed", str(args.seed + index),
        "--ready-check-timeout-sec", str(int(args.ready_timeout)), "--disable-tqdm",
        "--output-file", str(out), "--output-details",
    ]  # fmt: skip


def stop(server: subprocess.Popen[bytes], timeout: float) -> int:
    """SIGTERM (SGLang kills its scheduler and detokenizer with it), SIGKILL after `timeout`."""
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            print(f"sglang server did not stop within {timeout:.0f} s: killed", file=sys.stderr)
            server.kill()
            server.wait()
    return int(server.returncode)


def main(argv: list[str] | None = None) -> int:
    args, server_args = parse_args(sys.argv[1:] if argv is None else argv)
    run_dir = os.environ.get("REVATI_RUN_DIR")
    result_dir = args.result_dir or (Path(run_dir) / "bench" if run_dir else Path("bench"))
    result_dir.mkdir(parents=True, exist_ok=True)
    port = args.port or free_port()
    cmd = server_command(args, port, server_args)
    print("+", " ".join(cmd), flush=True)
    server = subprocess.Popen(cmd)
    status = 0
    try:
        for i, rate in enumerate(args.request_rate):
            out = result_dir / f"sglang-rate{rate:g}.json"
            out.unlink(missing_ok=True)  # the client appends
            cmd = client_command(args, port, rate, out, i)
            print("+", " ".join(cmd), flush=True)
            rc = subprocess.call(cmd)
            if server.poll() is not None:
                print(
                    f"error: the sglang server exited with status {server.returncode}",
                    file=sys.stderr,
                )
                return 1
            if rc != 0:
                status = status or rc
                print(
                    f"error: bench_serving at rate {rate:g} exited with status {rc}",
                    file=sys.stderr,
                )
    finally:
        server_status = stop(server, args.stop_timeout)
    if server_status not in (0, -signal.SIGTERM):
        print(f"error: the sglang server ended with status {server_status}", file=sys.stderr)
        return status or 1
    return status


if __name__ == "__main__":
    sys.exit(main())
