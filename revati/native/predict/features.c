/* revati predictor core: kernel family and the numeric feature vector (schema RV_PF_SCHEMA). */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "revati/predict.h"

static const char *const FAMILY_NAMES[RV_FAM_N] = {"other", "gemm", "attention", "elementwise", "reduce", "comm"};

const char *rv_pf_family_name(int fam) { return fam >= 0 && fam < RV_FAM_N ? FAMILY_NAMES[fam] : "other"; }

static int has_any(const char *s, const char *const *words) {
    for (; *words; ++words)
        if (strcasestr(s, *words)) return 1;
    return 0;
}

/* The value text after "key": in a flat JSON object, or NULL. Keys are matched whole. */
static const char *json_value(const char *obj, const char *key) {
    if (!obj) return NULL;
    size_t n = strlen(key);
    for (const char *p = strchr(obj, '"'); p; p = strchr(p + 1, '"')) {
        if (!strncmp(p + 1, key, n) && p[n + 1] == '"') {
            const char *v = p + n + 2;
            while (*v == ' ') ++v;
            if (*v != ':') continue;
            ++v;
            while (*v == ' ') ++v;
            return v;
        }
    }
    return NULL;
}

static double json_num(const char *obj, const char *key) {
    const char *v = json_value(obj, key);
    if (!v) return NAN;
    if (!strncmp(v, "true", 4)) return 1;
    if (!strncmp(v, "false", 5)) return 0;
    char *end;
    double x = strtod(v, &end);
    return end == v ? NAN : x;
}

static double json_num2(const char *obj, const char *a, const char *b) {
    double x = json_num(obj, a);
    return isnan(x) ? json_num(obj, b) : x;
}

static int json_str_is(const char *obj, const char *key, const char *const *words) {
    const char *v = json_value(obj, key);
    if (!v || *v != '"') return 0;
    const char *end = strchr(v + 1, '"');
    if (!end) return 0;
    char tmp[64];
    size_t n = (size_t)(end - v - 1) < sizeof tmp - 1 ? (size_t)(end - v - 1) : sizeof tmp - 1;
    memcpy(tmp, v + 1, n);
    tmp[n] = 0;
    return has_any(tmp, words);
}

static const char *const W_GEMM[] = {"gemm", "nvjet", "cutlass", "xmma", "cublas", "matmul", "gemv", NULL};
static const char *const W_ATTN[] = {"flash", "fmha", "attention", "sdpa", "attn", NULL};
static const char *const W_COMM[] = {"nccl", NULL};
/* Inductor's generated Triton kernels say their kind in their prefix: triton_poi_ (pointwise),
 * triton_red_ and triton_per_ (looped and persistent reductions) */
static const char *const W_REDUCE[] = {"reduce", "reduction", "softmax", "norm", "argmax", "topk", "scan",
                                       "triton_red_", "triton_per_", NULL};
static const char *const W_ELEM[] = {"elementwise", "vectorized", "copy", "fill", "cat", "index", "gather",
                                     "scatter", "embedding", "rotary", "transpose", "triton_poi_", NULL};
static const char *const W_LIB_GEMM[] = {"cublas", NULL};
static const char *const W_OP_ATTN[] = {"attention", "sdpa", "flash", NULL};

// the family by the words of name and op, uncached
static int family_of(const char *name, const char *op) {
    if (op && *op) {
        if (json_str_is(op, "lib", W_COMM)) return RV_FAM_COMM;
        if (json_str_is(op, "lib", W_LIB_GEMM)) return RV_FAM_GEMM;
        /* an attention call's helper kernels (cuDNN's split-KV reduction) are classified by their name */
        if ((json_str_is(op, "op", W_OP_ATTN) || json_str_is(op, "lib", W_OP_ATTN)) && (!name || has_any(name, W_ATTN)))
            return RV_FAM_ATTENTION;
    }
    if (!name) return RV_FAM_OTHER;
    if (has_any(name, W_COMM)) return RV_FAM_COMM;
    if (has_any(name, W_ATTN)) return RV_FAM_ATTENTION;
    if (has_any(name, W_GEMM)) return RV_FAM_GEMM;
    if (has_any(name, W_REDUCE)) return RV_FAM_REDUCE;
    if (has_any(name, W_ELEM)) return RV_FAM_ELEMENTWISE;
    return RV_FAM_OTHER;
}

/* The family is a function of the two strings alone, and each prediction asks for it up to three
 * times (features, and the roofline of the cross-device factor on both devices) with the same ones:
 * a few dozen case-insensitive word searches through a mangled name of hundreds of characters, most
 * of a graph replay's prediction time. So answers are kept, keyed by the strings' contents (a hash
 * to find the entry, the kept copies compared in full to accept it). */
enum { FAM_CACHE = 512 };
typedef struct fam_entry {
    uint64_t h;
    char *name, *op; /* copies; NULL for a NULL argument */
    int fam, used;
} fam_entry;
static fam_entry g_fam[FAM_CACHE];
static pthread_mutex_t g_fam_mu = PTHREAD_MUTEX_INITIALIZER;

static uint64_t str_hash(uint64_t h, const char *s) {
    if (!s) return (h ^ 0xff) * 1099511628211ULL;
    for (; *s; ++s) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return (h ^ 0xfe) * 1099511628211ULL;
}

static int same(const char *a, const char *b) { return a == b || (a && b && !strcmp(a, b)); }

// rv_pf_family: the op's library first (the launch came from a known library call), else the name
int rv_pf_family(const char *name, const char *op) {
    uint64_t h = str_hash(str_hash(1469598103934665603ULL, name), op);
    fam_entry *e = &g_fam[h % FAM_CACHE];
    pthread_mutex_lock(&g_fam_mu);
    int hit = e->used && e->h == h && same(e->name, name) && same(e->op, op);
    int fam = hit ? e->fam : -1;
    pthread_mutex_unlock(&g_fam_mu);
    if (hit) return fam;
    fam = family_of(name, op);
    char *n = name ? strdup(name) : NULL, *o = op ? strdup(op) : NULL;
    if ((name && !n) || (op && !o)) { /* out of memory: answer without keeping it */
        free(n);
        free(o);
        return fam;
    }
    pthread_mutex_lock(&g_fam_mu);
    char *old_n = e->name, *old_o = e->op;
    e->h = h, e->name = n, e->op = o, e->fam = fam, e->used = 1;
    pthread_mutex_unlock(&g_fam_mu);
    free(old_n);
    free(old_o);
    return fam;
}

static double dtype_bytes(const char *op) {
    static const char *const B1[] = {"fp8", "e4m3", "e5m2", "int8", NULL};
    static const char *const B4[] = {"fp32", "f32", "float", "tf32", NULL};
    if (json_str_is(op, "dtype", B1)) return 1;
    if (json_str_is(op, "dtype", B4)) return 4;
    return 2; /* bf16/fp16: what LLM serving runs in */
}

/* The first top-level non-null scalar argument in [1, 2^35): an element-count proxy (no tensor on a
 * GPU of today has 2^35 elements; randperm passes 2^36 - 1 as a mask). The first, not the largest:
 * later scalars are often float constants seen as integers (1.0f is 1065353216, an eps of 1e-5f is
 * 925353388), while torch's elementwise, norm and reduce kernels lead with the count. */
static double first_scalar_arg(const char *args) {
    if (!args || *args != '[') return NAN;
    int depth = 0;
    for (const char *p = args; *p; ++p) {
        if (*p == '[') ++depth;
        else if (*p == ']') --depth;
        else if (depth == 1 && *p >= '0' && *p <= '9' && (p[-1] == '[' || p[-1] == ',' || p[-1] == ' ')) {
            char *end;
            double x = strtod(p, &end);
            if (x >= 1 && x < 34359738368.0) return x;
            p = end - 1;
        }
    }
    return NAN;
}

static double lg(double x) { return isnan(x) ? NAN : log2(x + 1); }

/* The integer after `tag` in s (a mangled template argument, "...ILi8E..."), or 0. */
static long tmpl_int(const char *s, const char *tag) {
    const char *t = s ? strstr(s, tag) : NULL;
    return t ? strtol(t + strlen(tag), NULL, 10) : 0;
}

/* The i-th top-level entry of an args list when it is a list: its first word's text, or NULL. */
static const char *nth_list(const char *args, int i) {
    if (!args || *args != '[') return NULL;
    int depth = 0, idx = 0;
    for (const char *p = args; *p; ++p) {
        if (*p == '[') {
            if (++depth == 2 && idx == i) return p + 1;
        } else if (*p == ']') {
            --depth;
        } else if (*p == ',' && depth == 1) {
            ++idx;
        }
    }
    return NULL;
}

/* torch's CatArrayBatchedCopy[_vectorized]<OpaqueType<B>, IndexType, Dims, ...>(out, inputs,
 * TensorSizeStride<IndexType, 4> os, dim, dimStride): the output's element count is the product of
 * os.tensorSize[0..Dims) (IndexType j: 32-bit sizes packed two to a word; m: one per word). Sets the
 * element size B too. NaN when the name or the arguments do not fit. */
static double cat_elems(const char *name, const char *args, double *dt) {
    const char *t = strstr(name, "OpaqueTypeILj");
    if (!t) return NAN;
    char *end;
    long bytes = strtol(t + strlen("OpaqueTypeILj"), &end, 10);
    if (strncmp(end, "EEE", 3) || (end[3] != 'j' && end[3] != 'm')) return NAN;
    int wide = end[3] == 'm';
    long dims = strncmp(end + 4, "Li", 2) ? 0 : strtol(end + 6, NULL, 10);
    if (dims < 1 || dims > 4 || bytes < 1 || bytes > 16) return NAN;
    const char *p = nth_list(args, 2);
    if (!p) return NAN;
    double n = 1;
    for (long i = 0; i < (wide ? dims : (dims + 1) / 2); ++i) {
        if (!strncmp(p, "null", 4)) return NAN;
        unsigned long long w = strtoull(p, &end, 10);
        if (end == p) return NAN;
        if (wide) n *= (double)w;
        else n *= (double)(w & 0xffffffffULL) * (2 * i + 1 < dims ? (double)(w >> 32) : 1);
        p = *end == ',' ? end + 1 : end;
    }
    *dt = (double)bytes;
    return n >= 1 ? n : NAN;
}

/* torch's vectorized_layer_norm_kernel<T, T_ACC, rms>(int N, T_ACC eps, X, ...) (layer_norm and
 * rms_norm): one block per row of N elements, grid.x rows. Its leading scalar is the row length, not
 * the element count: the count is N x rows, and rows and N are its two dimensions (a row is one
 * block's serial work: inside a model, up to a wave of rows, the time grows with N alone). NaN when
 * the name or the arguments do not fit. */
static double layer_norm_elems(const rv_pkernel *k, double dims[4], double *dt) {
    const char *t = k->name ? strstr(k->name, "vectorized_layer_norm_kernelI") : NULL;
    if (!t) return NAN;
    double n = first_scalar_arg(k->args);
    double rows = (double)k->grid[0] * k->grid[1] * k->grid[2];
    if (isnan(n) || rows < 1) return NAN;
    dims[0] = rows, dims[1] = n;
    if (t[strlen("vectorized_layer_norm_kernelI")] == 'f') *dt = 4; /* <float, ...>; else Half or BFloat16 */
    return n * rows;
}

/* flops, bytes and dtype size of a launch; NaN where unknown. */
static void work(const rv_pkernel *k, int fam, double *flops, double *bytes, double *dt, double dims[4],
                 double *causal, double *elems, double *vec) {
    const char *op = k->op && *k->op ? k->op : NULL;
    *flops = *bytes = *causal = *vec = NAN;
    dims[0] = dims[1] = dims[2] = dims[3] = NAN;
    *dt = op ? dtype_bytes(op) : 2;
    *elems = NAN;
    if (!op && k->name && strstr(k->name, "CatArrayBatchedCopy")) *elems = cat_elems(k->name, k->args, dt);
    if (isnan(*elems)) *elems = layer_norm_elems(k, dims, dt);
    if (isnan(*elems)) *elems = first_scalar_arg(k->args);
    long v = k->name ? tmpl_int(k->name, "vectorized_elementwise_kernelILi") : 0;
    if (v > 0 && v <= 16) {
        *vec = (double)v;
        if (!op) *dt = v >= 16 ? 1 : 16.0 / (double)v > 8 ? 8 : 16.0 / (double)v; /* 16-byte vectors */
    }
    if (fam == RV_FAM_GEMM && op) {
        double m = json_num(op, "m"), n = json_num(op, "n"), kk = json_num(op, "k"), b = json_num(op, "batch");
        if (isnan(b) || b < 1) b = 1;
        dims[0] = m, dims[1] = n, dims[2] = kk, dims[3] = b;
        if (!isnan(m) && !isnan(n) && !isnan(kk)) {
            *flops = 2 * m * n * kk * b;
            *bytes = (m * kk + kk * n + m * n) * b * *dt;
        }
    } else if (fam == RV_FAM_ATTENTION && op) {
        double b = json_num2(op, "b", "batch"), h = json_num2(op, "h", "heads"), d = json_num2(op, "d", "head_dim");
        double sq = json_num2(op, "sq", "seqlen_q"), sk = json_num2(op, "sk", "seqlen_k");
        double hk = json_num(op, "heads_kv"), c = json_num(op, "causal");
        if (isnan(hk) || hk < 1) hk = h;
        *causal = isnan(c) ? 0 : c;
        dims[0] = b * h, dims[1] = sq, dims[2] = sk, dims[3] = d;
        double splits = json_num(op, "splits");
        static const char *const W_COMBINE[] = {"combine", NULL};
        if (json_str_is(op, "op", W_COMBINE) && splits >= 1 && !isnan(b) && !isnan(h) && !isnan(d) && !isnan(sq)) {
            /* split-KV combine: reads each split's fp32 partial output and log-sum-exp, writes the output */
            dims[2] = splits;
            *flops = 2 * splits * b * h * sq * d;
            *bytes = b * h * sq * (splits * (d + 1) * 4 + d * *dt);
        } else if (!isnan(b) && !isnan(h) && !isnan(d) && !isnan(sq) && !isnan(sk)) {
            double pairs = sq * sk;
            if (*causal > 0 && sq > 1) pairs = sq * sk - sq * (sq - 1) / 2; /* lower triangle, ragged end */
            *flops = 4 * b * h * d * pairs;
            *bytes = b * d * (2 * h * sq + 2 * hk * sk) * *dt; /* Q and O per query head, K and V per KV head */
        }
    } else if (fam == RV_FAM_COMM && op) {
        *bytes = json_num(op, "bytes");
    } else if (fam == RV_FAM_ELEMENTWISE || fam == RV_FAM_REDUCE) {
        double e = *elems;
        if (isnan(e)) e = (double)k->grid[0] * k->grid[1] * k->grid[2] * k->block[0] * k->block[1] * k->block[2];
        *flops = e;
        *bytes = e * *dt * (fam == RV_FAM_ELEMENTWISE ? 3 : 1); /* two reads and a write; one read */
    }
}

static double peak_flops_per_ns(const rv_pdev *d, double dt, int fam) {
    double tf = dt == 1 ? d->peak_fp8_tflops : dt == 4 ? d->peak_fp32_tflops : d->peak_bf16_tflops;
    if (fam == RV_FAM_ELEMENTWISE || fam == RV_FAM_REDUCE) tf = d->peak_fp32_tflops;
    return tf > 0 ? tf * 1e3 : 1; /* TFLOP/s == 1e3 flop/ns */
}

static double roofline(double flops, double bytes, double dt, int fam, const rv_pdev *d) {
    double t = 0;
    if (!isnan(flops)) t = flops / peak_flops_per_ns(d, dt, fam);
    if (!isnan(bytes) && d->mem_bw_gbs > 0 && bytes / d->mem_bw_gbs > t) t = bytes / d->mem_bw_gbs; /* GB/s == B/ns */
    return t;
}

int rv_pf_compute_bound(const rv_pkernel *k, const rv_pdev *d) {
    double flops, bytes, dt, dims[4], causal, elems, vec;
    int fam = rv_pf_family(k->name, k->op);
    if (fam != RV_FAM_GEMM && fam != RV_FAM_ATTENTION) return 0;
    work(k, fam, &flops, &bytes, &dt, dims, &causal, &elems, &vec);
    if (isnan(flops) || isnan(bytes) || d->mem_bw_gbs <= 0) return 0;
    return flops / peak_flops_per_ns(d, dt, fam) > bytes / d->mem_bw_gbs;
}

double rv_pf_roofline_ns(const rv_pkernel *k, const rv_pdev *d) {
    double flops, bytes, dt, dims[4], causal, elems, vec;
    int fam = rv_pf_family(k->name, k->op);
    work(k, fam, &flops, &bytes, &dt, dims, &causal, &elems, &vec);
    return roofline(flops, bytes, dt, fam, d);
}

// rv_pf_features: the vector every trained model of schema RV_PF_SCHEMA reads
void rv_pf_features(const rv_pkernel *k, const rv_pdev *d, double out[RV_PF_N]) {
    double flops, bytes, dt, dims[4], causal, elems, vec;
    int fam = rv_pf_family(k->name, k->op);
    work(k, fam, &flops, &bytes, &dt, dims, &causal, &elems, &vec);
    double blocks = (double)k->grid[0] * k->grid[1] * k->grid[2];
    double threads = (double)k->block[0] * k->block[1] * k->block[2];
    if (threads < 1) threads = 1;
    double per_sm = d->max_threads_per_sm > 0 ? floor(d->max_threads_per_sm / threads) : 1;
    if (k->smem && d->smem_per_sm > 0 && floor((double)d->smem_per_sm / k->smem) < per_sm)
        per_sm = floor((double)d->smem_per_sm / k->smem);
    if (per_sm > 32) per_sm = 32;
    if (per_sm < 1) per_sm = 1;
    double roof = roofline(flops, bytes, dt, fam, d);
    out[RV_PF_FAMILY] = fam;
    out[RV_PF_LOG_FLOPS] = lg(flops);
    out[RV_PF_LOG_BYTES] = lg(bytes);
    out[RV_PF_LOG_ROOF_NS] = roof > 0 ? lg(roof) : NAN;
    out[RV_PF_WAVES] = blocks / (per_sm * (d->sm_count > 0 ? d->sm_count : 1));
    out[RV_PF_LOG_BLOCKS] = lg(blocks);
    out[RV_PF_THREADS] = threads;
    out[RV_PF_SMEM] = k->smem / 1024.0;
    for (int i = 0; i < 4; ++i) out[RV_PF_LOG_D0 + i] = lg(dims[i]);
    out[RV_PF_DTYPE_BYTES] = dt;
    out[RV_PF_CAUSAL] = causal;
    out[RV_PF_LOG_ELEMS] = lg(elems);
    out[RV_PF_LOG_THREADS_TOTAL] = lg(blocks * threads);
    out[RV_PF_VEC] = vec;
    out[RV_PF_LOG_ELEMS_PER_THREAD] = isnan(elems) || blocks * threads < 1 ? NAN : log2(elems / (blocks * threads));
}

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 1099511628211ULL;
    return h;
}

uint64_t rv_pf_key(const rv_pkernel *k) {
    if (k->sig && strlen(k->sig) == 16) {
        char *end;
        uint64_t v = strtoull(k->sig, &end, 16);
        if (*end == 0) return v;
    }
    uint64_t h = 1469598103934665603ULL;
    if (k->name) h = fnv(h, k->name, strlen(k->name));
    h = fnv(h, k->grid, sizeof k->grid);
    h = fnv(h, k->block, sizeof k->block);
    h = fnv(h, &k->smem, sizeof k->smem);
    if (k->args) h = fnv(h, k->args, strlen(k->args));
    if (k->op) h = fnv(h, k->op, strlen(k->op));
    return h;
}

double rv_pf_cross_factor(const rv_pkernel *k, const rv_pdev *from, const rv_pdev *to, double src_ns) {
    double a = rv_pf_roofline_ns(k, from), b = rv_pf_roofline_ns(k, to);
    int fam = rv_pf_family(k->name, k->op);
    if (a > 0 && b > 0) {
        if (src_ns <= a) return b / a;
        /* A GEMM's shortfall from its roofline is its tiling's efficiency, which the same kernel keeps
         * on a card of the same SMs: all but a launch's fixed latency scales with the roofline. Other
         * launches fall short for latency and caching, which do not move: only their roofline time
         * is replaced (docs/predictors.md, "What-if devices"). */
        if (fam == RV_FAM_GEMM) {
            double fixed = src_ns < RV_PF_GEMM_FIXED_NS ? src_ns : RV_PF_GEMM_FIXED_NS;
            return (fixed + (src_ns - fixed) * b / a) / src_ns;
        }
        return (src_ns - a + b) / src_ns;
    }
    if (fam == RV_FAM_GEMM || fam == RV_FAM_ATTENTION)
        return to->peak_bf16_tflops > 0 ? from->peak_bf16_tflops / to->peak_bf16_tflops : 1;
    if (fam == RV_FAM_COMM) return 1;
    return to->mem_bw_gbs > 0 ? from->mem_bw_gbs / to->mem_bw_gbs : 1;
}
