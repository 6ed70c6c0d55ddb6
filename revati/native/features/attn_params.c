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
 * kernel names differ by one template flag).
 *
 * The longest KV length is only a bound: in CUDA-graph decode vLLM passes max_model_len, and the kernel
 * reads each sequence's length from device memory (seqused_k, or the differences of cu_seqlens_k). With
 * a reader of device memory (the stand-in) those lengths are read at every launch and graph replay and
 * the batch described by them (fa3_kv_lengths); without one (the profile shim), or when they cannot
 * be read, as `batch` sequences of total_q / batch queries against the bound (exact for batches of
 * one length, as is the text written when the lengths read say the same). */
enum { FA3_MAX_SEQS = 4096 };

typedef struct fa3_kv {
    int n;         /* sequences with keys */
    long long sum; /* keys over all sequences */
    int max;
} fa3_kv;

static uint64_t u64_at(const unsigned char *p, size_t word) {
    uint64_t v;
    memcpy(&v, p + 8 * word, 8);
    return v;
}

/* The mainloop's sequence pointers follow {window_size_right, num_splits} as 8-byte words: kv_batch_idx,
 * cu_seqlens_q, cu_seqlens_k, cu_seqlens_k_new, seqused_q, seqused_k, leftpad_k, seqlens_rotary, S_aux,
 * then {cp_world_size, cp_rank} (flash-attention's hopper/mainloop_fwd_sm90_tma_gmma_ws.hpp, after the
 * TMA descriptors; word 236 of the 336 in vLLM 0.24's decode kernel). Found by that shape: window
 * sizes >= -1, num_splits in [0, 1024], nine words each null or a device pointer (cu_seqlens_q
 * set: vLLM's varlen call), then a world size in [1, 1024] above its rank. Returns the index of the
 * {window_size_right, num_splits} word, or 0. */
static size_t fa3_seq_ptrs(const rv_feat_in *in, const unsigned char *p, size_t words) {
    if (!in->is_devptr) return 0;
    for (size_t j = 64; j + 11 <= words; ++j) {
        int wl = i32(p, 8 * j - 4), wr = i32(p, 8 * j), splits = i32(p, 8 * j + 4);
        int cp = i32(p, 8 * (j + 10)), rank = i32(p, 8 * (j + 10) + 4);
        if (wl < -1 || wr < -1 || splits < 0 || splits > 1024 || cp < 1 || cp > 1024 ||
            rank < 0 || rank >= cp || !u64_at(p, j + 2))
            continue;
        int ok = 1;
        for (size_t i = j + 1; ok && i <= j + 9; ++i) {
            uint64_t v = u64_at(p, i);
            ok = v == 0 || in->is_devptr(v, in->user);
        }
        if (ok) return j;
    }
    return 0;
}

/* The KV length of each of the b sequences, from seqused_k or else cu_seqlens_k's differences, each in
 * [0, kmax]: 1 and *kv, or 0 when there are no such pointers or their memory cannot be read. */
static int fa3_kv_lengths(const rv_feat_in *in, const unsigned char *p, size_t words, int b, int kmax, fa3_kv *kv) {
    size_t j = fa3_seq_ptrs(in, p, words);
    if (!j || b > FA3_MAX_SEQS) return 0;
    uint64_t cu_k = u64_at(p, j + 3), used_k = u64_at(p, j + 6);
    int32_t len[FA3_MAX_SEQS + 1];
    if (used_k) {
        if (!in->read_dev(used_k, len, sizeof(int32_t) * (size_t)b, in->user)) return 0;
    } else if (cu_k) {
        if (!in->read_dev(cu_k, len, sizeof(int32_t) * (size_t)(b + 1), in->user)) return 0;
        for (int i = 0; i < b; ++i) len[i] = len[i + 1] - len[i];
    } else {
        return 0;
    }
    fa3_kv r = {0, 0, 0};
    for (int i = 0; i < b; ++i) {
        if (len[i] < 0 || len[i] > kmax) return 0;
        r.n += len[i] > 0, r.sum += len[i];
        if (len[i] > r.max) r.max = len[i];
    }
    *kv = r;
    return 1;
}

static size_t fa3_fwd(const rv_feat_in *in, char *dst, size_t n, int *mem_read) {
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
    fa3_kv kv = {b, (long long)b * kmax, kmax};
    int w;
    if (in->read_dev) {
        int got = fa3_kv_lengths(in, p, in->param_size[0] / 8, b, kmax, &kv);
        *mem_read = got && kv.n > 0 ? 1 : -1;
        if (*mem_read < 0) kv = (fa3_kv){b, (long long)b * kmax, kmax};
    }
    if (kv.n == b && kv.max == kmax && kv.sum == (long long)b * kmax) /* the parameters' own description */
        w = snprintf(dst, n,
                     "{\"lib\":\"fa3\",\"op\":\"attention_fwd_varlen\",\"batch\":%d,\"heads\":%d,\"heads_kv\":%d,"
                     "\"head_dim\":%d,\"seqlen_q\":%d,\"seqlen_k\":%d,\"total_q\":%d,\"causal\":%d}",
                     b, h, hk, d, (tq + b - 1) / b, kmax, tq, causal);
    else /* the lengths read: seqlen_k their mean, so that batch x seqlen_k is the keys read */
        w = snprintf(dst, n,
                     "{\"lib\":\"fa3\",\"op\":\"attention_fwd_varlen\",\"batch\":%d,\"heads\":%d,\"heads_kv\":%d,"
                     "\"head_dim\":%d,\"seqlen_q\":%d,\"seqlen_k\":%lld,\"total_q\":%d,\"causal\":%d,"
                     "\"total_k\":%lld,\"max_k\":%d,\"kv\":\"memory\"}",
                     kv.n, h, hk, d, (tq + kv.n - 1) / kv.n, (kv.sum + kv.n / 2) / kv.n, tq, causal, kv.sum, kv.max);
    return w > 0 && (size_t)w < n ? (size_t)w : 0;
}

size_t rv_feat_attn_params_op(const rv_feat_in *in, char *dst, size_t n, int *mem_read) {
    *mem_read = 0;
    if (strstr(in->name, "FlashAttnFwdSm90") && strstr(in->name, "flash20enable_sm90_or_later"))
        return fa3_fwd(in, dst, n, mem_read);
    if (strstr(in->name, "fmha_cutlassF_") && strstr(in->name, "AttentionKernel")) return mem_efficient(in, dst, n);
    if (!strncmp(in->name, "cudnn_generated_fort_native_sdpa", 32)) return cudnn_sdpa(in, dst, n);
    return 0;
}
