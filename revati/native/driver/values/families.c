/* revati driver: kernel families computed on the host, from a kernel's mangled name and its parameters.
 *
 * Families (each also documented in docs/driver.md, "Values the host reads back"):
 *   at::native::vectorized_elementwise_kernel<V, F, array<char*,K>>(int N, F, data)   contiguous, no casts
 *   at::native::unrolled_elementwise_kernel<F, array<char*,K>, ..., LoadWith[out]Cast, StoreWith[out]Cast>
 *                                                                                       contiguous, with casts
 *   at::native::elementwise_kernel<128, U, lambda(int)>(int N, lambda)                  strided (OffsetCalculator)
 *   at::native::reduce_kernel<..., ReduceOp<T, ops, uint32 index, out>>(ReduceOp)       (reduce.c)
 *   arange, cub's inclusive scan (cumsum), index_select, gather, cat                      (shape.c)
 *   index_elementwise_kernel (x[idx], x[idx] = v), vectorized_gather_kernel (whole rows)  (index.c)
 *   cub's count and select over NonZeroOp, write_indices (nonzero, x[mask])               (nonzero.c)
 * with the functors of functors.c.
 * A launch is computed when its inputs hold no tainted bytes and it has at most REVATI_COMPUTE_MAX
 * elements; otherwise its outputs (known exactly here) are tainted with it as the producer. */
#include <stdlib.h>

#include "families.h"

static uint64_t g_max;

uint64_t rv_compute_max(void) {
    if (!g_max) g_max = rv_env_u64("REVATI_COMPUTE_MAX", 65536);
    return g_max;
}

int rv_range_ok(uint64_t p, uint64_t n) {
    rv_alloc a;
    return rv_alloc_find(p, &a) && p + n <= a.base + a.size;
}

int rv_range_tainted(uint64_t p, uint64_t n, rv_taint *t) { return n && rv_taint_find(p, p + n, 1, t); }

void rv_taint_output(const rv_kernel_op *k, uint64_t p, uint64_t n, uint64_t seq, uint64_t corr, uint32_t vocab,
                     uint32_t tok_size) {
    rv_taint t = {p, p + n, p, k->f, seq, corr, 1, vocab, tok_size};
    rv_taint_mark(&t);
}

int rv_range_token_ids(uint64_t p, uint64_t n, uint32_t tok_size) {
    rv_taint t;
    int any = 0;
    for (uint64_t at = p; at < p + n && rv_taint_find(at, p + n, 0, &t); at = t.end, any = 1)
        if (!t.exact || !t.vocab || (tok_size && t.tok_size != tok_size)) return 0;
    return any;
}

void rv_carry_flush(rv_carry *c) {
    if (c->n) rv_taint_copy(c->dst, c->src, c->n);
    c->n = 0;
}

int rv_carry_copy(rv_carry *c, uint64_t dst, uint64_t src, uint64_t n) {
    memmove((void *)dst, (const void *)src, (size_t)n);
    if (c->n && c->dst + c->n == dst && c->src + c->n == src) {
        c->n += n;
        return 1;
    }
    rv_carry_flush(c);
    c->dst = dst, c->src = src, c->n = n;
    return ++c->runs <= RV_CARRY_MAX_RUNS;
}

int rv_param_at(const rv_kernel_op *k, int i, uint32_t *size) {
    const rv_func *f = k->f;
    if (i >= f->nparams || (uint32_t)f->param_off[i] + f->param_size[i] > k->param_bytes) return -1;
    if (size) *size = f->param_size[i];
    return f->param_off[i];
}

/* Byte offset of element i of argument j (0 the output): contiguous (calc NULL) or by the OffsetCalculator. */
static uint64_t elem_off(const uint8_t *calc, int ndata, int64_t i, int j, int size) {
    return calc ? rv_calc_get(calc, ndata, (uint32_t)i, j) : (uint64_t)i * (uint64_t)size;
}

/* Run e over n elements: out = data[0] (type ot), inputs data[1..] (types it[]); laid out contiguously, or
 * (calc not NULL) as torch's OffsetCalculator<ndata> at calc says (byte strides, never negative, so the
 * last element ends each argument's extent). */
static int run(const rv_kernel_op *k, const efun *e, int64_t n, const uint64_t *data, int ndata, rv_dt ot,
               const rv_dt *it, const uint8_t *calc, uint64_t seq, uint64_t corr) {
    if (n < 0 || ndata != e->nin + 1 || !ot) return FAM_NO;
    if (!n) return FAM_COMPUTED;
    int osz = dt_size(ot), isz[3] = {0, 0, 0};
    uint64_t obytes = elem_off(calc, ndata, n - 1, 0, osz) + (uint64_t)osz;
    if (!rv_range_ok(data[0], obytes)) return FAM_NO;
    int tainted = (uint64_t)n > rv_compute_max();
    rv_taint in = {0};
    for (int j = 0; j < e->nin && !tainted; ++j) {
        if (!it[j]) return FAM_NO;
        isz[j] = dt_size(it[j]);
        uint64_t ib = elem_off(calc, ndata, n - 1, 1 + j, isz[j]) + (uint64_t)isz[j];
        if (!rv_range_ok(data[1 + j], ib)) return FAM_NO;
        tainted = rv_range_tainted(data[1 + j], ib, &in);
    }
    if (tainted) { /* a copy or cast of token ids is token ids */
        int ids = e->op == OP_COPY && in.vocab && !dt_float(ot);
        rv_taint_output(k, data[0], obytes, seq, corr, ids ? in.vocab : 0, ids ? (uint32_t)dt_size(ot) : 0);
        return FAM_TAINTED;
    }
    for (int64_t i = 0; i < n; ++i) {
        rv_val v[3] = {{0, 0, 0}, {0, 0, 0}, {0, 0, 0}};
        for (int j = 0; j < e->nin; ++j) {
            v[j] = dt_load(it[j], (const void *)(data[1 + j] + elem_off(calc, ndata, i, 1 + j, isz[j])));
            /* a cast on load: the functor sees its own argument type */
            if (dt_float(e->in[j]) && !v[j].isf) v[j] = rv_as_float(v[j]);
            if (!dt_float(e->in[j]) && v[j].isf) v[j] = (rv_val){(int64_t)v[j].f, 0, 0};
            if (e->in[j] == 'b') v[j].i = v[j].i != 0;
        }
        dt_store(ot, (void *)(data[0] + elem_off(calc, ndata, i, 0, osz)), rv_apply_functor(e, v[0], v[1], v[2]));
    }
    /* a strided output's gaps were not written by the kernel either: clear only a dense extent */
    if (!calc || obytes == (uint64_t)n * (uint64_t)osz) rv_taint_clear(data[0], data[0] + obytes);
    return FAM_COMPUTED;
}

#define VEC_PREFIX "_ZN2at6native29vectorized_elementwise_kernelILi"
#define UNR_PREFIX "_ZN2at6native27unrolled_elementwise_kernelI"
#define ARRAY_TAG "St5arrayIPcLm"

int rv_fam_elementwise(const rv_kernel_op *k, uint64_t seq, uint64_t corr) {
    const char *name = k->f->name;
    int vec = !strncmp(name, VEC_PREFIX, sizeof VEC_PREFIX - 1);
    if (!vec && strncmp(name, UNR_PREFIX, sizeof UNR_PREFIX - 1)) return FAM_NO;
    const char *s = vec ? name + sizeof VEC_PREFIX - 1 : name + sizeof UNR_PREFIX - 1;
    if (vec) {
        while (*s >= '0' && *s <= '9') ++s;
        if (*s++ != 'E') return FAM_NO;
    }
    const char *arr = strstr(s, ARRAY_TAG);
    if (!arr) return FAM_NO;
    int ndata = atoi(arr + sizeof ARRAY_TAG - 1);
    if (ndata < 1 || ndata > 4 || k->f->nparams != (vec ? 3 : 7)) return FAM_NO;
    uint32_t nsz, fsz, dsz;
    int on = rv_param_at(k, 0, &nsz), of = rv_param_at(k, 1, &fsz), od = rv_param_at(k, 2, &dsz);
    if (on < 0 || of < 0 || od < 0 || nsz != 4 || dsz != (uint32_t)ndata * 8) return FAM_NO;
    int32_t n;
    memcpy(&n, k->params + on, 4);
    uint64_t data[4];
    memcpy(data, k->params + od, dsz);
    efun e;
    if (!rv_parse_functor(s, arr, k->params + of, fsz, &e)) return FAM_NO;
    rv_dt it[3] = {e.in[0], e.in[1], e.in[2]}, ot = e.out;
    if (!vec && strstr(arr, "LoadWithCast")) { /* LoadWithCast<nin>{dtypes[nin], sizes[nin]}, StoreWithCast<1> */
        uint32_t lsz, ssz;
        int ol = rv_param_at(k, 5, &lsz), os = rv_param_at(k, 6, &ssz);
        if (ol < 0 || os < 0 || (int)lsz < e.nin || ssz < 1) return FAM_NO;
        for (int j = 0; j < e.nin; ++j)
            if (!(it[j] = dt_from_scalar_type(k->params[ol + j]))) return FAM_NO;
        if (!(ot = dt_from_scalar_type(k->params[os]))) return FAM_NO;
    }
    return run(k, &e, n, data, ndata, ot, it, NULL, seq, corr);
}

/* at::native::elementwise_kernel<128, U, lambda(int)>(int N, lambda): the non-contiguous launch of
 * gpu_kernel_impl_nocast<F> (closure {OffsetCalculator<K> oc; array<char*,K> data; F f}) and of
 * gpu_kernel_impl<F> (the same, then array<ScalarType,K> dtypes right after f: loads and stores cast). */
#define LEGACY_NOCAST "gpu_kernel_impl_nocastI"
#define LEGACY_CAST "gpu_kernel_implI"

int rv_fam_legacy(const rv_kernel_op *k, uint64_t seq, uint64_t corr) {
    const char *name = k->f->name, *s, *end = strstr(name, "RKT_EUliE_");
    int cast = 0;
    if ((s = strstr(name, LEGACY_NOCAST))) s += sizeof LEGACY_NOCAST - 1;
    else if ((s = strstr(name, LEGACY_CAST))) s += sizeof LEGACY_CAST - 1, cast = 1;
    uint32_t nsz, csz;
    int on = rv_param_at(k, 0, &nsz), oc = rv_param_at(k, 1, &csz);
    if (!s || !end || end < s || k->f->nparams != 2 || on < 0 || oc < 0 || nsz != 4) return FAM_NO;
    const uint8_t *c = k->params + oc;
    efun e;
    /* the functor's bytes follow the data pointers, whose count the functor's arity gives: parse its name
     * first (the bytes are re-read at the right place below) */
    if (!rv_parse_functor(s, end, c, csz, &e) || e.nin > 3) return FAM_NO;
    int ndata = e.nin + 1;
    uint32_t doff = (RV_CALC_BYTES(ndata) + 7) & ~7u, foff = doff + 8u * (uint32_t)ndata;
    if (foff > csz || (uint32_t)rd32u(c) > RV_MAX_DIMS || !rv_parse_functor(s, end, c + foff, csz - foff, &e))
        return FAM_NO;
    uint64_t data[4];
    memcpy(data, c + doff, 8u * (uint32_t)ndata);
    rv_dt it[3] = {e.in[0], e.in[1], e.in[2]}, ot = e.out;
    if (cast) { /* dtypes[K] right after f */
        if (!e.fbytes || foff + e.fbytes + (uint32_t)ndata > csz) return FAM_NO;
        const uint8_t *dt = c + foff + e.fbytes;
        if (!(ot = dt_from_scalar_type(dt[0]))) return FAM_NO;
        for (int j = 0; j < e.nin; ++j)
            if (!(it[j] = dt_from_scalar_type(dt[1 + j]))) return FAM_NO;
    }
    int32_t n;
    memcpy(&n, k->params + on, 4);
    return run(k, &e, n, data, ndata, ot, it, c, seq, corr);
}

/* The family a kernel's name belongs to, decided once per function. */
enum { KIND_NONE = -1, KIND_ELEMENTWISE = 1, KIND_REDUCE, KIND_LEGACY, KIND_ARANGE, KIND_CAT, KIND_INDEX_SELECT,
       KIND_GATHER, KIND_SCAN, KIND_INDEX, KIND_NONZERO, KIND_NO_WRITES };

#define STARTS(s, lit) (!strncmp((s), (lit), sizeof(lit) - 1))

static int classify(const char *name) {
    if (STARTS(name, VEC_PREFIX) || STARTS(name, UNR_PREFIX)) return KIND_ELEMENTWISE;
    if (STARTS(name, "_ZN2at6native18elementwise_kernelILi")) return KIND_LEGACY;
    if (STARTS(name, "_ZN2at6native34_scatter_gather_elementwise_kernel")) return KIND_GATHER;
    if (STARTS(name, "_ZN2at6native24index_elementwise_kernel")) return KIND_INDEX;
    if (STARTS(name, "_ZN2at6native24vectorized_gather_kernelILi")) return KIND_INDEX;
    if (STARTS(name, "_ZN2at6native25_assert_async_cuda_kernel")) return KIND_NO_WRITES; /* reads, asserts */
    if (STARTS(name, "_ZN14at_cuda_detail3cub6detail4scan16DeviceScanKernel")) return KIND_SCAN;
    if (strstr(name, "NonZeroOp") && (STARTS(name, "_ZN14at_cuda_detail3cub6detail6reduce28DeviceReduceSingleTileKernel") ||
                                      STARTS(name, "_ZN14at_cuda_detail3cub6detail6select23DeviceSelectSweepKernel")))
        return KIND_NONZERO;
    if (STARTS(name, "_ZN14at_cuda_detail3cub6detail4scan23DeviceCompactInitKernel")) return KIND_NONZERO;
    if (strstr(name, "_Nonzero_cu_") && strstr(name, "13write_indicesI")) return KIND_NONZERO;
    if (STARTS(name, "_ZN2at6native32tensor_kernel_scan_innermost_dim")) return KIND_SCAN;
    if (strstr(name, "elementwise_kernel_with_index") && strstr(name, "arange_cuda_out")) return KIND_ARANGE;
    if (!STARTS(name, "_ZN2at6native")) return KIND_NONE;
    if (strstr(name, "reduce_kernelILi")) return KIND_REDUCE;
    if (strstr(name, "CatArrayBatchedCopy")) return KIND_CAT;
    if (strstr(name, "indexSelect")) return KIND_INDEX_SELECT;
    return KIND_NONE;
}

int rv_values_compute(const rv_kernel_op *k, uint64_t seq, uint64_t corr) {
    rv_func *f = k->f;
    if (!f || !f->name || f->nparams < 0) return 0;
    if (!f->values_kind) f->values_kind = classify(f->name);
    int r = FAM_NO;
    switch (f->values_kind) {
    case KIND_ELEMENTWISE: r = rv_fam_elementwise(k, seq, corr); break;
    case KIND_REDUCE: r = rv_fam_reduce(k, seq, corr); break;
    case KIND_LEGACY: r = rv_fam_legacy(k, seq, corr); break;
    case KIND_ARANGE: r = rv_fam_arange(k, seq, corr); break;
    case KIND_SCAN: r = rv_fam_scan(k, seq, corr); break;
    case KIND_INDEX_SELECT: r = rv_fam_index_select(k, seq, corr); break;
    case KIND_GATHER: r = rv_fam_gather(k, seq, corr); break;
    case KIND_CAT: r = rv_fam_cat(k, seq, corr); break;
    case KIND_INDEX: r = rv_fam_index(k, seq, corr); break;
    case KIND_NONZERO: r = rv_fam_nonzero(k, seq, corr); break;
    case KIND_NO_WRITES: r = FAM_COMPUTED; break;
    case KIND_NONE: return 0;
    default: break;
    }
    if (rv_log_enabled(RV_LOG_DEBUG)) { /* the parameter bytes help to add a family: one line per 384 bytes */
        rv_debug("values: %s %s", r == FAM_COMPUTED ? "computed" : r == FAM_TAINTED ? "not computed (inputs)" : "unknown",
                 f->name);
        for (int i = 0; i < f->nparams; ++i)
            for (uint32_t b0 = 0; b0 < f->param_size[i]; b0 += 384) {
                char hex[2 * 384 + 1];
                uint32_t n = f->param_size[i] - b0 < 384 ? f->param_size[i] - b0 : 384;
                for (uint32_t b = 0; b < n; ++b) snprintf(hex + 2 * b, 3, "%02x", k->params[f->param_off[i] + b0 + b]);
                rv_debug("values:   param %d (%u bytes) +%u: %s", i, f->param_size[i], b0, hex);
            }
    }
    if (r == FAM_COMPUTED) rv_values_count_computed();
    return r != FAM_NO;
}
