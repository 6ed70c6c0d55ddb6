"""Synthetic but realistic runs: a tensor-parallel LLM server's trace, for samples, tests, benchmarks.

The model is deliberately simple but keeps the shape of a real run: per rank one host thread
launching kernels (driver API spans with correlation ids), a compute stream whose start times
follow `start = max(stream_ready, host_now)`, an all-reduce per half-layer whose completion is
max(arrival over ranks) + its duration, host-to-device and device-to-host copies, a stream
synchronize per step that makes the host clock jump, decode steps replayed from a CUDA graph, and
request markers (arrival, first token, tokens, finish) from an API-server thread on rank 0.
Knobs plant differences for diff tests: `kernel_scale` slows every kernel, `extra_kernel` inserts a
launch at (step, layer).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from revati.devices import DEFAULT_PROFILE, default_profile
from revati.trace.writer import RunWriter, StreamWriter

COMPUTE_STREAM = 7
COPY_STREAM = 13
COMM_ID = 0x5EED
API_NS = 2_500  # modelled host cost of one driver call
HOST_GAP_NS = 1_200  # python between launches

GEMM = "nvjet_sm90_tst_128x256_64x4_2x1_v_bz_coopA_NNT"
GEMM_SMALL = "nvjet_sm90_tst_64x64_64x8_1x1_h_bz_TNT"
NORM = (
    "void vllm::rms_norm_kernel<c10::BFloat16, 8, 4>(c10::BFloat16*, long, long, float, int, int)"
)
ROPE = "void vllm::rotary_embedding_kernel<c10::BFloat16, true>(long const*, c10::BFloat16*, int)"
ATTN_PREFILL = "flash_fwd_kernel<Flash_fwd_kernel_traits<128, 128, 64, 4, false, false, bf16>>"
ATTN_DECODE = "flash_fwd_splitkv_kernel<Flash_fwd_kernel_traits<128, 64, 128, 4, bf16>, true>"
ACT = "void vllm::act_and_mul_kernel<c10::BFloat16, &vllm::silu_kernel<c10::BFloat16>, true>"
SAMPLE = "void at::native::(anonymous namespace)::cunn_SoftMaxForward<4, float, float>"
ARGMAX = "void at::native::reduce_kernel<512, 1, ArgMaxOps<float>>"
NCCL = "ncclDevKernel_AllReduce_Sum_bf16_RING_LL(ncclDevKernelArgsStorage<4096ul>)"


@dataclass
class Request:
    rid: str
    arrival_ns: int
    prompt: int
    output: int
    done: int = 0  # tokens generated
    prefilled: bool = False


@dataclass
class _Rank:
    w: StreamWriter
    rank: int
    host: int  # host virtual now
    ready: int  # compute stream ready time
    wall: int  # host wall clock (ns), advances ~3x virtual (emulation overhead)


def make_serving_run(
    run_dir: Path | str,
    *,
    ranks: int = 2,
    requests: int = 6,
    layers: int = 4,
    prompt_range: tuple[int, int] = (64, 512),
    output_range: tuple[int, int] = (4, 12),
    seed: int = 0,
    kernel_scale: float = 1.0,
    extra_kernel: tuple[int, int] | None = None,
    graphs: bool = True,
    streaming: bool = True,
    write_manifest: bool = True,
    device_conf: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write a run directory; returns counts (events per kind, steps, requests)."""
    rng = random.Random(seed)
    w = RunWriter(
        run_dir,
        streaming=streaming,
        device_conf=device_conf or default_profile().conf_values(ranks),
    )
    rs = [
        _Rank(w.process(40_000 + 17 * r, r, num_gpus=ranks, argv=["python", "serve.py", f"--tp={ranks}"],
                        ts_ns=0, wt_ns=0), r, 0, 0, 0)
        for r in range(ranks)
    ]  # fmt: skip
    reqs = []
    t = 200_000
    for i in range(requests):
        t += int(rng.expovariate(1 / 3_000_000))
        reqs.append(Request(f"req-{i}", t, rng.randint(*prompt_range), rng.randint(*output_range)))
    pending = list(reqs)
    running: list[Request] = []
    counts: dict[str, int] = {}
    missing = [0] * ranks  # launches the (pretend) table had no entry for, per rank
    gid = 0
    step = 0
    api_tid = rs[0].w.pid + 1  # the API server thread of rank 0

    def api(rk: _Rank, name: str, args: str = "", corr: int = 0, cost: int = API_NS) -> int:
        ts = rk.host
        rk.host += cost + int(rng.random() * 400)
        rk.wall = max(rk.wall, 3 * rk.host + 1_000 * rk.rank)  # emulation runs ~3x slower
        rk.w.api(name, ts, rk.host, args=args, corr=corr, wt_ns=rk.wall)
        return ts

    def launch(
        rk: _Rank,
        name: str,
        dur: int,
        grid: tuple[int, int, int] = (132, 1, 1),
        block: tuple[int, int, int] = (256, 1, 1),
        smem: int = 0,
        graph: int = 0,
        corr: int | None = None,
    ) -> None:
        if corr is None:
            c = rk.w.next_corr()
            rk.host += HOST_GAP_NS
            api(rk, "cuLaunchKernel", f"grid={grid} block={block}", c)
        else:
            c = corr
        start = max(rk.ready, rk.host)
        end = start + max(1, int(dur * kernel_scale))
        pred, src = ("table", "table") if name != ATTN_DECODE else ("table", "analytical")
        if src == "analytical":
            missing[rk.rank] += 1
        rk.w.kernel(
            name,
            start,
            end,
            dev=rk.rank,
            stream=COMPUTE_STREAM,
            corr=c,
            grid=grid,
            block=block,
            smem=smem,
            pred=pred,
            src=src,
            graph=graph,
        )
        rk.ready = end

    def allreduce(
        nbytes: int, dur: int, graph: int = 0, corr_of: dict[int, int] | None = None
    ) -> None:
        arrivals = []
        for rk in rs:
            if corr_of is None:
                c = rk.w.next_corr()
                rk.host += HOST_GAP_NS
                ts = rk.host
                rk.host += API_NS  # ncclAllReduce encloses its own cuLaunchKernel
                api(rk, "cuLaunchKernel", "grid=(32, 1, 1) block=(512, 1, 1)", c, cost=API_NS)
                rk.host += 800
                rk.w.api(
                    "ncclAllReduce",
                    ts,
                    rk.host,
                    args=f"count={nbytes // 2} bf16 sum",
                    corr=c,
                    wt_ns=rk.wall,
                )
            else:
                c = corr_of[rk.rank]
            arrivals.append((rk, c, max(rk.ready, rk.host)))
        done = max(a for _, _, a in arrivals) + max(1, int(dur * kernel_scale))
        for rk, c, a in arrivals:
            rk.w.collective(
                "allreduce",
                nbytes,
                a,
                done,
                comm=COMM_ID,
                rank=rk.rank,
                nranks=ranks,
                dtype="bf16",
                dev=rk.rank,
                stream=COMPUTE_STREAM,
                corr=c,
            )
            rk.w.kernel(
                NCCL,
                a,
                done,
                dev=rk.rank,
                stream=COMPUTE_STREAM,
                corr=c,
                grid=(32, 1, 1),
                block=(512, 1, 1),
                graph=graph,
            )
            rk.ready = done

    def forward(
        tokens: int, decode: bool, graph: int = 0, corr_of: dict[int, int] | None = None
    ) -> None:
        hidden = 4096 * 2 * tokens
        g = (max(1, tokens // 64), 1, 1)
        for layer in range(layers):
            for rk in rs:
                ck = None if corr_of is None else corr_of[rk.rank]
                launch(rk, NORM, 1_500 + tokens * 2, g, (256, 1, 1), graph=graph, corr=ck)
                launch(
                    rk,
                    GEMM if tokens > 64 else GEMM_SMALL,
                    6_000 + tokens * 40,
                    g,
                    (384, 1, 1),
                    smem=232_448,
                    graph=graph,
                    corr=ck,
                )
                launch(rk, ROPE, 1_200 + tokens, g, (128, 1, 1), graph=graph, corr=ck)
                attn = ATTN_DECODE if decode else ATTN_PREFILL
                launch(
                    rk,
                    attn,
                    8_000 + tokens * (60 if not decode else 900),
                    g,
                    (128, 1, 1),
                    smem=98_304,
                    graph=graph,
                    corr=ck,
                )
                if extra_kernel == (step, layer):
                    launch(rk, "void extra_planted_kernel()", 5_000, graph=graph, corr=ck)
                launch(
                    rk,
                    GEMM_SMALL,
                    3_000 + tokens * 20,
                    g,
                    (384, 1, 1),
                    smem=232_448,
                    graph=graph,
                    corr=ck,
                )
            allreduce(hidden, 9_000 + hidden // 200, graph, corr_of)
            for rk in rs:
                ck = None if corr_of is None else corr_of[rk.rank]
                launch(rk, NORM, 1_500 + tokens * 2, g, (256, 1, 1), graph=graph, corr=ck)
                launch(
                    rk,
                    GEMM,
                    9_000 + tokens * 70,
                    g,
                    (384, 1, 1),
                    smem=232_448,
                    graph=graph,
                    corr=ck,
                )
                launch(rk, ACT, 2_000 + tokens * 5, g, (256, 1, 1), graph=graph, corr=ck)
                launch(
                    rk,
                    GEMM,
                    8_000 + tokens * 60,
                    g,
                    (384, 1, 1),
                    smem=232_448,
                    graph=graph,
                    corr=ck,
                )
            allreduce(hidden, 9_000 + hidden // 200, graph, corr_of)
        for rk in rs:
            ck = None if corr_of is None else corr_of[rk.rank]
            launch(
                rk, GEMM, 20_000 + tokens * 30, g, (384, 1, 1), smem=232_448, graph=graph, corr=ck
            )
            launch(rk, SAMPLE, 4_000 + tokens * 3, g, (512, 1, 1), graph=graph, corr=ck)
            launch(rk, ARGMAX, 3_000 + tokens * 2, g, (512, 1, 1), graph=graph, corr=ck)

    def copy_in(nbytes: int) -> None:
        for rk in rs:
            c = rk.w.next_corr()
            api(rk, "cuMemcpyHtoDAsync_v2", f"bytes={nbytes}", c)
            start = max(rk.ready, rk.host)
            end = start + 2_000 + nbytes // 25
            rk.w.memcpy("HtoD", nbytes, start, end, dev=rk.rank, stream=COMPUTE_STREAM, corr=c)
            rk.ready = end

    def finish_step(ntok: int) -> int:
        """D2H of the sampled tokens, then a stream sync (the time warp); returns rank 0's now."""
        for rk in rs:
            c = rk.w.next_corr()
            api(rk, "cuMemcpyDtoHAsync_v2", f"bytes={4 * ntok}", c)
            start = max(rk.ready, rk.host)
            end = start + 1_800
            rk.w.memcpy("DtoH", 4 * ntok, start, end, dev=rk.rank, stream=COMPUTE_STREAM, corr=c)
            rk.ready = end
            ts = rk.host
            target = max(rk.ready, ts + API_NS)
            if rk.ready > ts + 600:
                rk.w.sync("cuStreamSynchronize", ts + 600, rk.ready, wt_ns=rk.wall + 1_800)
            rk.w.api(
                "cuStreamSynchronize", ts, target, args=f"stream={COMPUTE_STREAM}", wt_ns=rk.wall
            )
            rk.host = target
            rk.wall += 3 * API_NS
            rk.host += 30_000 + int(rng.random() * 20_000)  # scheduler + detokenize
            rk.wall += 3 * 40_000
        return rs[0].host

    # one-time: weights upload and KV-cache zeroing
    copy_in(64 << 20)
    for rk in rs:
        c = rk.w.next_corr()
        api(rk, "cuMemsetD8Async", f"bytes={1 << 30}", c)
        start = max(rk.ready, rk.host)
        rk.w.memset(1 << 30, start, start + 400_000, dev=rk.rank, stream=COMPUTE_STREAM, corr=c)
        rk.ready = start + 400_000
    captured: dict[int, int] = {}  # decode batch size -> graph id

    while pending or running:
        now = rs[0].host
        arrived = [r for r in pending if r.arrival_ns <= now]
        if not arrived and not running:
            nxt = pending[0].arrival_ns
            for rk in rs:  # idle: the engine sleeps until the next request
                if nxt > rk.host:
                    rk.w.sync("nanosleep", rk.host, nxt, wt_ns=rk.wall)
                    rk.wall += 1_000_000
                    rk.host = nxt
            continue
        for r in arrived:
            pending.remove(r)
            rs[0].w.marker(
                "request_arrival",
                r.arrival_ns,
                {"req": r.rid, "prompt": r.prompt},
                tid=api_tid,
                wt_ns=rs[0].wall,
            )
        if arrived:  # prefill the new requests
            ntok = sum(r.prompt for r in arrived)
            copy_in(8 * ntok)
            forward(ntok, decode=False)
            t_done = finish_step(len(arrived))
            for r in arrived:
                r.done = 1
                rs[0].w.marker("first_token", t_done, {"req": r.rid}, wt_ns=rs[0].wall)
            running.extend(arrived)
        else:  # one decode step for every running request
            bs = len(running)
            copy_in(16 * bs)
            if graphs:
                if bs not in captured:
                    gid += 1
                    captured[bs] = gid
                    for rk in rs:
                        api(rk, "cuStreamBeginCapture_v2", f"stream={COMPUTE_STREAM}")
                        rk.w.graph(
                            "capture_begin",
                            gid,
                            rk.host,
                            rk.host,
                            dev=rk.rank,
                            stream=COMPUTE_STREAM,
                        )
                        rk.host += 400_000  # capture: python runs the model once more
                        api(rk, "cuStreamEndCapture", f"stream={COMPUTE_STREAM}")
                        rk.w.graph(
                            "capture_end",
                            gid,
                            rk.host,
                            rk.host,
                            dev=rk.rank,
                            stream=COMPUTE_STREAM,
                            nodes=layers * 14 + 3,
                        )
                        t0 = api(rk, "cuGraphInstantiateWithFlags", f"graph={gid}")
                        rk.w.graph(
                            "instantiate",
                            gid,
                            t0,
                            rk.host,
                            dev=rk.rank,
                            stream=COMPUTE_STREAM,
                            nodes=layers * 14 + 3,
                        )
                g = captured[bs]
                corr_of = {}
                starts = {}
                for rk in rs:
                    c = rk.w.next_corr()
                    corr_of[rk.rank] = c
                    api(rk, "cuGraphLaunch", f"graph={g}", c)
                    starts[rk.rank] = max(rk.ready, rk.host)
                forward(bs, decode=True, graph=g, corr_of=corr_of)
                for rk in rs:
                    rk.w.graph(
                        "launch",
                        g,
                        starts[rk.rank],
                        rk.ready,
                        dev=rk.rank,
                        stream=COMPUTE_STREAM,
                        nodes=layers * 14 + 3,
                    )
            else:
                forward(bs, decode=True)
            t_done = finish_step(bs)
            for r in list(running):
                r.done += 1
                rs[0].w.marker("token", t_done, {"req": r.rid}, wt_ns=rs[0].wall)
                if r.done >= r.output:
                    rs[0].w.marker(
                        "request_finish", t_done, {"req": r.rid, "output": r.done}, wt_ns=rs[0].wall
                    )
                    running.remove(r)
        step += 1

    end = max(rk.host for rk in rs)
    for rk in rs:
        unimpl = {"cuCtxSetCacheConfig": 1} if rk.rank == 0 else {}
        rk.w.end(
            end,
            wt_ns=rk.wall,
            overhead_ns=rk.wall // 7,
            unimpl=unimpl,
            missing={ATTN_DECODE: missing[rk.rank]} if missing[rk.rank] else {},
        )
    for rk in rs:
        counts["events"] = counts.get("events", 0) + rk.w.seq
    w.finish(
        manifest=write_manifest,
        command=["python", "serve.py", f"--tp={ranks}"],
        device=DEFAULT_PROFILE,
        num_gpus=ranks,
        predictor={"name": "table", "version": "synthetic-1"},
        seeds={"sampling": seed},
        host_speed=1.0,
        deterministic=True,
        start_time_ns=1_790_000_000_000_000_000,
        wall_duration_ns=max(rk.wall for rk in rs) + 50_000_000,
        exit_status=0,
    )
    counts.update(steps=step, requests=requests, ranks=ranks)
    return counts
