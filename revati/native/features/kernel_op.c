/* revati kernel features: the op object of kernels revati decodes from their own parameters.
 *
 * torch's flash-attention forward kernels (pytorch_flash::flash_fwd_kernel, flash_fwd_splitkv_kernel,
 * flash_fwd_splitkv_combine_kernel) take one parameter, a Flash_fwd_params struct. Its field offsets
 * below were established for torch 2.14.1 (index_t is int64_t) by launching SDPA calls of known
 * shapes under the stand-in and reading the struct (docs/trace-format.md says how to redo it for
 * another torch). The struct is only trusted when its fields agree with each other; otherwise the
 * fields are searched for by their consistency (another torch's layout), and failing that the shape
 * comes from the kernel's name (head dim, causal) and grid (batch, heads).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "revati/features.h"

/* Flash_fwd_params (torch 2.14.1): int32 fields at these byte offsets. */
enum {
    FP_H = 96,
    FP_H_K = 100,
    FP_H_RATIO = 104,
    FP_B = 176,
    FP_SEQLEN_Q = 180,
    FP_SEQLEN_K = 184,
    FP_D = 192,
    FP_SEQLEN_Q_ROUNDED = 196,
    FP_SEQLEN_K_ROUNDED = 200,
    FP_D_ROUNDED = 204,
    FP_WINDOW_LEFT = 388,
    FP_WINDOW_RIGHT = 392,
    FP_IS_BF16 = 440, /* bool */
    FP_IS_CAUSAL = 441, /* bool */
    FP_NUM_SPLITS = 444, /* split-KV kernels: the grid's y of flash_fwd_splitkv_kernel (H200 dataset) */
    FP_MIN_SIZE = 448,
};

static int i32_at(const unsigned char *p, size_t off) {
    int v;
    memcpy(&v, p + off, sizeof v);
    return v;
}

typedef struct flash_shape {
    int b, h, h_k, sq, sk, d, causal, bf16, window_left, window_right, splits;
} flash_shape;

/* Read the struct; 1 when its fields are consistent (so the layout is the one above). */
static int flash_from_params(const rv_feat_in *in, flash_shape *s) {
    if (in->nparams != 1 || !in->params || in->param_size[0] < FP_MIN_SIZE ||
        (size_t)in->param_off[0] + in->param_size[0] > in->params_len)
        return 0;
    const unsigned char *p = in->params + in->param_off[0];
    s->h = i32_at(p, FP_H);
    s->h_k = i32_at(p, FP_H_K);
    s->b = i32_at(p, FP_B);
    s->sq = i32_at(p, FP_SEQLEN_Q);
    s->sk = i32_at(p, FP_SEQLEN_K);
    s->d = i32_at(p, FP_D);
    int ratio = i32_at(p, FP_H_RATIO), sqr = i32_at(p, FP_SEQLEN_Q_ROUNDED), skr = i32_at(p, FP_SEQLEN_K_ROUNDED);
    int dr = i32_at(p, FP_D_ROUNDED);
    s->window_left = i32_at(p, FP_WINDOW_LEFT);
    s->window_right = i32_at(p, FP_WINDOW_RIGHT);
    s->bf16 = p[FP_IS_BF16];
    s->causal = p[FP_IS_CAUSAL];
    s->splits = i32_at(p, FP_NUM_SPLITS);
    if (s->h <= 0 || s->h_k <= 0 || s->h % s->h_k || ratio != s->h / s->h_k) return 0;
    if (s->b <= 0 || s->sq <= 0 || s->sk <= 0 || s->d <= 0 || s->d > 1024) return 0;
    if (sqr < s->sq || skr < s->sk || dr < s->d || s->bf16 > 1 || s->causal > 1) return 0;
    return 1;
}

static int round_up(int v, int m) { return (v + m - 1) / m * m; }

/* Another torch's Flash_fwd_params may place the fields elsewhere: find the dimension block by its
 * own consistency ({b, seqlen_q, seqlen_k, [seqlen_knew,] d, seqlen_q_rounded, seqlen_k_rounded,
 * d_rounded}, the lengths rounded to 128) and, before it, {h, h_k, h / h_k}. Causal comes from the
 * name. 1 when both were found. */
static int flash_scan(const rv_feat_in *in, flash_shape *s) {
    if (in->nparams != 1 || !in->params || in->param_size[0] < 64 ||
        (size_t)in->param_off[0] + in->param_size[0] > in->params_len)
        return 0;
    const unsigned char *p = in->params + in->param_off[0];
    size_t n = in->param_size[0];
    for (size_t off = 0; off + 32 <= n; off += 4) {
        int v[8];
        memcpy(v, p + off, sizeof v);
        for (int knew = 1; knew >= 0; --knew) {
            int b = v[0], sq = v[1], sk = v[2], d = v[3 + knew], sqr = v[4 + knew], skr = v[5 + knew];
            int dr = v[6 + knew];
            if (b < 1 || sq < 1 || sk < 1 || d < 8 || d > 1024 || sqr != round_up(sq, 128) ||
                skr != round_up(sk, 128) || dr < d || dr - d >= 64 || dr % 8)
                continue;
            for (size_t end = off; end >= 12; end -= 4) { /* the nearest {h, h_k, ratio} before */
                int hv[3];
                memcpy(hv, p + end - 12, sizeof hv);
                if (hv[0] >= 1 && hv[1] >= 1 && hv[0] % hv[1] == 0 && hv[2] == hv[0] / hv[1]) {
                    *s = (flash_shape){b, hv[0], hv[1], sq, sk, d, -1, -1, 0, 0, 0};
                    return 1;
                }
            }
        }
    }
    return 0;
}

/* The first template integer after "Flash_fwd_kernel_traitsILi" (kHeadDim), or 0. */
static int name_head_dim(const char *name) {
    const char *t = strstr(name, "Flash_fwd_kernel_traitsILi");
    return t ? atoi(t + strlen("Flash_fwd_kernel_traitsILi")) : 0;
}

/* flash_fwd_kernel<Traits, Is_dropout, Is_causal, ...>: the second bool after the traits. */
static int name_causal(const char *name) {
    const char *t = strstr(name, "EELb");
    if (!t) return -1;
    t = strstr(t + 4, "ELb");
    return t ? t[3] == '1' : -1;
}

size_t rv_feat_kernel_op(const rv_feat_in *in, char *dst, size_t n, int *mem_read) {
    const char *name = in->name;
    int mr = 0;
    if (mem_read) *mem_read = 0;
    if (!strstr(name, "pytorch_flash")) {
        size_t w = rv_feat_attn_params_op(in, dst, n, &mr);
        if (mem_read) *mem_read = mr;
        return w;
    }
    const char *op;
    if (strstr(name, "flash_fwd_splitkv_combine_kernel")) op = "attention_fwd_combine";
    else if (strstr(name, "flash_fwd_splitkv_kernel")) op = "attention_fwd_splitkv";
    else if (strstr(name, "flash_fwd_kernel")) op = "attention_fwd";
    else return 0;
    flash_shape s;
    int w;
    if (flash_from_params(in, &s)) {
        /* split-KV kernels also say how many splits (the combine kernel's work is splits x the output) */
        char splits[32] = "";
        if (strcmp(op, "attention_fwd") && s.splits >= 1 && s.splits <= 1024)
            snprintf(splits, sizeof splits, ",\"splits\":%d", s.splits);
        w = snprintf(dst, n,
                     "{\"lib\":\"flash\",\"op\":\"%s\",\"batch\":%d,\"heads\":%d,\"heads_kv\":%d,\"head_dim\":%d,"
                     "\"seqlen_q\":%d,\"seqlen_k\":%d,\"causal\":%d,\"window\":[%d,%d],\"dtype\":\"%s\"%s}",
                     op, s.b, s.h, s.h_k, s.d, s.sq, s.sk, s.causal, s.window_left, s.window_right,
                     s.bf16 ? "bf16" : "f16", splits);
    } else if (flash_scan(in, &s)) {
        w = snprintf(dst, n,
                     "{\"lib\":\"flash\",\"op\":\"%s\",\"batch\":%d,\"heads\":%d,\"heads_kv\":%d,\"head_dim\":%d,"
                     "\"seqlen_q\":%d,\"seqlen_k\":%d,\"causal\":%d,\"from\":\"scan\"}",
                     op, s.b, s.h, s.h_k, s.d, s.sq, s.sk, name_causal(name));
    } else {
        /* flash_fwd_kernel's grid is (query blocks, batch, heads); the others' say less */
        int d = name_head_dim(name), causal = name_causal(name);
        if (!strcmp(op, "attention_fwd"))
            w = snprintf(dst, n, "{\"lib\":\"flash\",\"op\":\"%s\",\"batch\":%u,\"heads\":%u,\"head_dim\":%d,\"causal\":%d,"
                         "\"from\":\"name\"}", op, in->grid[1], in->grid[2], d, causal);
        else
            w = snprintf(dst, n, "{\"lib\":\"flash\",\"op\":\"%s\",\"head_dim\":%d,\"from\":\"name\"}", op, d);
    }
    return w > 0 && (size_t)w < n ? (size_t)w : 0;
}
