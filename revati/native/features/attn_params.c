/* revati kernel features: attention shapes decoded from the parameters of kernels that carry them.
 *
 * PyTorch's memory-efficient attention (fmha_cutlassF_*, AttentionKernel<...>::Params, one struct
 * parameter) and cuDNN's generated SDPA forward kernels (cudnn_generated_fort_native_sdpa_*, whose
 * first parameter is a struct of 32-bit dimensions) are decoded here, so a launch carries its batch,
 * heads, head dim, query and key lengths (and causal where the struct says it) whether or not a
 * library call was seen: the real-GPU profile shim and the stand-in then describe them alike.
 *
 * The offsets were read off launches of known shapes (torch 2.11 on an H200 and 2.14.1 under the
 * stand-in agree on both structs); a struct is only trusted when it agrees with the launch grid (or,
 * for cuDNN, with its own GQA ratio), otherwise the kernel gets no op from here.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "revati/features.h"

static int i32(const unsigned char *p, size_t off) {
    int v;
    memcpy(&v, p + off, sizeof v);
    return v;
}

/* The struct parameter `idx` of at least `need` bytes, or NULL. */
static const unsigned char *param(const rv_feat_in *in, int idx, size_t need) {
    if (in->nparams <= idx || !in->params || in->param_size[idx] < need ||
        (size_t)in->param_off[idx] + in->param_size[idx] > in->params_len)
        return NULL;
    return in->params + in->param_off[idx];
}

/* AttentionKernel::Params: int32 fields at these byte offsets; custom_mask_type is one byte
 * (0 none, 1 causal from the top left, 2 causal from the bottom right). */
enum {
    ME_HEAD_DIM = 96, ME_HEAD_DIM_V = 100, ME_NUM_Q = 104, ME_NUM_K = 108, ME_MASK_TYPE = 116,
    ME_BATCHES = 192, ME_HEADS = 196, ME_MIN_SIZE = 200,
};

/* fmha_cutlassF_<dtype>_<aligned|notaligned>_<queries per block>x<keys per block>_...: the grid is
 * (ceil(num_queries / queries per block), heads, batches). */
static size_t mem_efficient(const rv_feat_in *in, char *dst, size_t n) {
    const char *t = strstr(in->name, "aligned_");
    const unsigned char *p = param(in, 0, ME_MIN_SIZE);
    if (!t || !p) return 0;
    int qpb = 0;
    if (sscanf(t + strlen("aligned_"), "%d", &qpb) != 1 || qpb <= 0) return 0;
    int d = i32(p, ME_HEAD_DIM), dv = i32(p, ME_HEAD_DIM_V), sq = i32(p, ME_NUM_Q), sk = i32(p, ME_NUM_K);
    int b = i32(p, ME_BATCHES), h = i32(p, ME_HEADS), mask = p[ME_MASK_TYPE];
    if (d <= 0 || d > 1024 || dv <= 0 || dv > 1024 || sq <= 0 || sk <= 0 || b <= 0 || h <= 0 || mask > 2) return 0;
    if (in->grid[1] != (unsigned)h || in->grid[2] != (unsigned)b || in->grid[0] != (unsigned)((sq + qpb - 1) / qpb))
        return 0;
    const char *dt = strstr(in->name, "_bf16_") ? "bf16" : strstr(in->name, "_f16_") ? "f16" : "f32";
    int w = snprintf(dst, n,
                     "{\"lib\":\"mem_efficient\",\"op\":\"attention_fwd\",\"batch\":%d,\"heads\":%d,\"head_dim\":%d,"
                     "\"head_dim_v\":%d,\"seqlen_q\":%d,\"seqlen_k\":%d,\"causal\":%d,\"dtype\":\"%s\"}",
                     b, h, d, dv, sq, sk, mask != 0, dt);
    return w > 0 && (size_t)w < n ? (size_t)w : 0;
}

/* cuDNN's causal mask: a scalar parameter after the first holding float -inf (0xff800000), the value
 * masked scores get. A causal launch of a shape carries it, a non-causal one of the same kernel and shape
 * does not (one parameter fewer): on the H200 every cuDNN SDPA prefill launch timed faster than the full
 * square's FLOPs allow had it, the non-causal sweep cases had not. Recorded args give scalars as 8-byte
 * values (their size is not kept), so an 8-byte parameter whose upper half is zero counts too. */
static int cudnn_causal(const rv_feat_in *in) {
    for (int i = 1; i < in->nparams; ++i) {
        size_t off = in->param_off[i], sz = in->param_size[i];
        if ((sz != 4 && sz != 8) || off + sz > in->params_len) continue;
        uint32_t lo, hi = 0;
        memcpy(&lo, in->params + off, 4);
        if (sz == 8) memcpy(&hi, in->params + off + 4, 4);
        if (lo == 0xff800000u && hi == 0) return 1;
    }
    return 0;
}

/* cuDNN SDPA forward: the first parameter starts {batch, heads, heads_k, heads_v, seqlen_q, seqlen_k,
 * head_dim, head_dim_v, gqa flags} as int32, the flags' low 16 bits being heads / heads_k; causal from
 * the -inf scalar (cudnn_causal). */
static size_t cudnn_sdpa(const rv_feat_in *in, char *dst, size_t n) {
    const unsigned char *p = param(in, 0, 36);
    if (!p) return 0;
    int b = i32(p, 0), h = i32(p, 4), hk = i32(p, 8), hv = i32(p, 12), sq = i32(p, 16), sk = i32(p, 20);
    int d = i32(p, 24), dv = i32(p, 28), ratio = i32(p, 32) & 0xffff;
    if (b <= 0 || h <= 0 || hk <= 0 || hv <= 0 || h % hk || ratio != h / hk || sq <= 0 || sk <= 0 || d <= 0 ||
        d > 1024 || dv <= 0 || dv > 1024)
        return 0;
    int w = snprintf(dst, n,
                     "{\"lib\":\"cudnn\",\"op\":\"sdpa_fwd\",\"batch\":%d,\"heads\":%d,\"heads_kv\":%d,\"head_dim\":%d,"
                     "\"seqlen_q\":%d,\"seqlen_k\":%d,\"causal\":%d,\"from\":\"params\"}",
                     b, h, hk, d, sq, sk, cudnn_causal(in));
    return w > 0 && (size_t)w < n ? (size_t)w : 0;
}

/* FlashAttention-3's Hopper forward (vLLM's _vllm_fa3_C: cutlass::device_kernel<flash::enable_sm90_or_later<
 * flash::FlashAttnFwdSm90<CollectiveMainloopFwdSm90<stages, cluster, tile, hdim_v, element, accum, Sm90,
 * Is_causal, ...>, ...>>>), one Params struct read as int32 words: the mainloop's shape_Q {total query
 * tokens, head_dim, heads, 1} at words 2-5; the paged cache's shape {page size, head_dim, kv heads,
 * pages} within words 20-40; {head_dim, kv heads, sequences} and, 39 words later, the longest KV
 * length. Read off vLLM 0.24 on an H200 and vLLM 0.33 under the stand-in, whose layouts agree (the
 * kernel names differ by one template flag). The per-sequence lengths live in device memory, so a
 * batch is described as `batch` sequences of total_q / batch queries against the longest KV length
 * (exact for decode batches of one length; an upper bound for mixed ones). */
static size_t fa3_fwd(const rv_feat_in *in, char *dst, size_t n) {
    const unsigned char *p = param(in, 0, 110 * 4);
    if (!p) return 0;
    int tq = i32(p, 8), d = i32(p, 12), h = i32(p, 16), one = i32(p, 20), hk = 0, b = 0, kmax = 0;
    if (tq <= 0 || d < 32 || d > 512 || h <= 0 || one != 1) return 0;
    for (int i = 20; i < 40 && !hk; ++i) {
        int page = i32(p, 4 * i), dd = i32(p, 4 * (i + 1)), k = i32(p, 4 * (i + 2));
        if (page > 0 && page <= 4096 && !(page & (page - 1)) && dd == d && k > 0 && h % k == 0) hk = k;
    }
    for (int i = 45; i < 70 && hk && !b; ++i)
        if (i32(p, 4 * (i - 2)) == d && i32(p, 4 * (i - 1)) == hk && i32(p, 4 * i) > 0 && i32(p, 4 * i) <= tq &&
            i32(p, 4 * (i + 39)) > 0)
            b = i32(p, 4 * i), kmax = i32(p, 4 * (i + 39));
    if (!b) return 0;
    const char *t = strstr(in->name, "NS_4arch4Sm90ELb");
    int causal = t ? t[strlen("NS_4arch4Sm90ELb")] == '1' : 0;
    int w = snprintf(dst, n,
                     "{\"lib\":\"fa3\",\"op\":\"attention_fwd_varlen\",\"batch\":%d,\"heads\":%d,\"heads_kv\":%d,"
                     "\"head_dim\":%d,\"seqlen_q\":%d,\"seqlen_k\":%d,\"total_q\":%d,\"causal\":%d}",
                     b, h, hk, d, (tq + b - 1) / b, kmax, tq, causal);
    return w > 0 && (size_t)w < n ? (size_t)w : 0;
}

size_t rv_feat_attn_params_op(const rv_feat_in *in, char *dst, size_t n) {
    if (strstr(in->name, "FlashAttnFwdSm90") && strstr(in->name, "flash20enable_sm90_or_later")) return fa3_fwd(in, dst, n);
    if (strstr(in->name, "fmha_cutlassF_") && strstr(in->name, "AttentionKernel")) return mem_efficient(in, dst, n);
    if (!strncmp(in->name, "cudnn_generated_fort_native_sdpa", 32)) return cudnn_sdpa(in, dst, n);
    return 0;
}
