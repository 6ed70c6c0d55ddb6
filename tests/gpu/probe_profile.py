"""A small torch program for the profile shim's GPU test: eager kernels, a CUDA graph, copies, a memset.

Prints one JSON line with what it launched, so the test can compare it with the profile.
"""

from __future__ import annotations

import json

import torch


def main() -> None:
    torch.manual_seed(0)
    a = torch.randn(2048, 2048, device="cuda", dtype=torch.bfloat16)
    lin = torch.nn.Linear(2048, 2048, device="cuda", dtype=torch.bfloat16)
    for _ in range(3):
        c = a @ a
        d = lin(c)
    x = torch.randn(1 << 20, device="cuda")
    y = torch.empty_like(x)
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for _ in range(2):  # warm up outside capture, as torch asks
            y.copy_(x * 2 + 1)
    torch.cuda.current_stream().wait_stream(s)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        y.copy_(x * 2 + 1)
    replays = 5
    for _ in range(replays):
        g.replay()
    host = torch.ones(1 << 22, pin_memory=True)
    dev = host.to("cuda", non_blocking=True)
    dev.zero_()
    back = dev.cpu()
    torch.cuda.synchronize()
    print(
        json.dumps({"replays": replays, "d_sum": float(d.float().sum()), "back": float(back.sum())})
    )


if __name__ == "__main__":
    main()
