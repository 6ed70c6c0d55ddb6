/* revati driver: torch's advanced indexing computed on the host (families.c dispatches here).
 *
 *   x[idx] (index), x[idx] = v (index_put_ without accumulate): index_elementwise_kernel<128, 4, lambda(int)>
 *   (int64 N, closure) of gpu_index_kernel<index_kernel_impl<OpaqueType<S>> / index_put_kernel_impl<...>>,
 *   closure {OffsetCalculator<3> oc (out, in, the index tensors); char* out_ptr; char* in_ptr; int64
 *   num_indices; char* index_ptrs[25]; int64 sizes[25]; int64 strides[25] (bytes); f}, read off torch
 *   2.14's launches. For element i, with offset = sum over the index tensors j of
 *   index_j[oc(i)[2]] (int64, wrapped when negative by sizes[j]) * strides[j]:
 *     index:     out[oc(i)[0]] = in[oc(i)[1] + offset]
 *     index_put: out[oc(i)[0] + offset] = in[oc(i)[1]]
 *   A bool mask reaches these kernels as the int64 indices of its nonzero elements (torch's nonzero).
 * and x[idx] along the first dimension of a tensor whose rows are whole vectors, torch's fast path:
 *   vectorized_gather_kernel<A, I>(char* out, char* inp, I* idx, int num_ind, int64 slice_size, int64
 *   ind_dim_size, int64 inp_stride, int64 out_stride, bool allow_neg_indices) (sizes and strides in bytes):
 *   slice j, slice_size bytes, is copied from inp + idx[j] * inp_stride to out + j * out_stride. */
#include <stdlib.h>

#include "families.h"

#define CLOSURE_BYTES 1240u
#define MAX_INDICES 25

static uint64_t rd64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

typedef struct {
    const uint8_t *calc;
    uint64_t out, in, idx[MAX_INDICES];
    int64_t size[MAX_INDICES], stride[MAX_INDICES];
    int nidx, put, sz;
} index_op;

/* The byte offset that element i's indices select; 0 when an index is out of bounds (the GPU asserts). */
static int index_offset(const index_op *o, uint32_t i, int64_t *off) {
    uint64_t at = rv_calc_get(o->calc, 3, i, 2);
    int64_t sum = 0;
    for (int j = 0; j < o->nidx; ++j) {
        int64_t v;
        memcpy(&v, (const void *)(o->idx[j] + at), 8);
        if (v < -o->size[j] || v >= o->size[j]) return 0;
        if (v < 0) v += o->size[j];
        sum += v * o->stride[j];
    }
    *off = sum;
    return 1;
}

/* The extent, in bytes from its pointer, that the indexed operand may span (its indexed dimensions at
 * their largest index); -1 when a stride is negative (not decoded). */
static int64_t indexed_span(const index_op *o) {
    int64_t span = 0;
    for (int j = 0; j < o->nidx; ++j) {
        if (o->stride[j] < 0 || o->size[j] < 0) return -1;
        span += (o->size[j] ? o->size[j] - 1 : 0) * o->stride[j];
    }
    return span;
}

static int vectorized_gather(const rv_kernel_op *k, uint64_t seq, uint64_t corr) {
    const char *p = k->f->name + sizeof "_ZN2at6native24vectorized_gather_kernelILi" - 1;
    while (*p >= '0' && *p <= '9') ++p;
    if (*p++ != 'E') return FAM_NO;
    rv_dt it = dt_parse(&p);
    uint32_t sz[9];
    int off[9];
    static const uint32_t want[9] = {8, 8, 8, 4, 8, 8, 8, 8, 1};
    if ((it != 'l' && it != 'i') || k->f->nparams != 9) return FAM_NO;
    for (int i = 0; i < 9; ++i)
        if ((off[i] = rv_param_at(k, i, &sz[i])) < 0 || sz[i] != want[i]) return FAM_NO;
#define P64(i) ((int64_t)rd64(k->params + off[i]))
    uint64_t out = (uint64_t)P64(0), inp = (uint64_t)P64(1), idx = (uint64_t)P64(2);
    int32_t nind;
    memcpy(&nind, k->params + off[3], 4);
    int64_t slice = P64(4), dim = P64(5), istride = P64(6), ostride = P64(7);
    int neg = k->params[off[8]] != 0, isz = dt_size(it);
#undef P64
    if (nind < 0 || slice < 0 || dim < 0 || istride < 0 || ostride < 0) return FAM_NO;
    if (!nind || !slice) return FAM_COMPUTED;
    uint64_t oext = (uint64_t)(nind - 1) * (uint64_t)ostride + (uint64_t)slice,
             iext = (uint64_t)(dim ? dim - 1 : 0) * (uint64_t)istride + (uint64_t)slice, xext = (uint64_t)nind * (uint64_t)isz;
    if (!rv_range_ok(out, oext) || !rv_range_ok(idx, xext) || (dim && !rv_range_ok(inp, iext))) return FAM_NO;
    int ids = rv_range_tainted(inp, iext, NULL);
    /* the element type is not in the name: the bound is REVATI_COMPUTE_MAX 8-byte elements */
    if ((uint64_t)nind * (uint64_t)slice > 8 * rv_compute_max() || rv_range_tainted(idx, xext, NULL) ||
        (ids && !rv_range_token_ids(inp, iext, 0))) {
        rv_taint_output(k, out, oext, seq, corr, 0, 0);
        return FAM_TAINTED;
    }
    for (int32_t j = 0; j < nind; ++j) { /* every index checked before anything is written */
        int64_t v = dt_load(it, (const void *)(idx + (uint64_t)j * (uint64_t)isz)).i;
        if (neg && v < 0) v += dim;
        if (v < 0 || v >= dim) return FAM_NO; /* the GPU asserts; leave it alone */
    }
    int dense = (uint64_t)ostride == (uint64_t)slice;
    rv_carry carry = {0};
    if (ids && dense) rv_taint_clear(out, out + oext); /* before the carried ids land */
    for (int32_t j = 0; j < nind; ++j) {
        int64_t v = dt_load(it, (const void *)(idx + (uint64_t)j * (uint64_t)isz)).i;
        if (neg && v < 0) v += dim;
        uint64_t d = out + (uint64_t)j * (uint64_t)ostride, s = inp + (uint64_t)v * (uint64_t)istride;
        if (!ids) {
            memmove((void *)d, (const void *)s, (size_t)slice);
            if (!dense) rv_taint_clear(d, d + (uint64_t)slice);
        } else if (!rv_carry_copy(&carry, d, s, (uint64_t)slice)) {
            rv_taint_output(k, out, oext, seq, corr, 0, 0);
            return FAM_TAINTED;
        }
    }
    if (ids) rv_carry_flush(&carry);
    else if (dense) rv_taint_clear(out, out + oext);
    return FAM_COMPUTED;
}

int rv_fam_index(const rv_kernel_op *k, uint64_t seq, uint64_t corr) {
    const char *name = k->f->name, *p;
    index_op o = {0};
    if (strstr(name, "vectorized_gather_kernel")) return vectorized_gather(k, seq, corr);
    if ((p = strstr(name, "gpu_index_kernelIZNS0_17index_kernel_implINS0_10OpaqueTypeILi"))) p += 61;
    else if ((p = strstr(name, "gpu_index_kernelIZNS0_21index_put_kernel_implINS0_10OpaqueTypeILi"))) p += 65, o.put = 1;
    else return FAM_NO;
    o.sz = atoi(p);
    uint32_t nsz, csz, base = (RV_CALC_BYTES(3) + 7) & ~7u;
    int on = rv_param_at(k, 0, &nsz), oc = rv_param_at(k, 1, &csz);
    if ((o.sz != 1 && o.sz != 2 && o.sz != 4 && o.sz != 8) || k->f->nparams != 2 || on < 0 || oc < 0 || nsz != 8 ||
        csz != CLOSURE_BYTES)
        return FAM_NO;
    const uint8_t *c = k->params + oc;
    int64_t n;
    memcpy(&n, k->params + on, 8);
    o.calc = c, o.out = rd64(c + base), o.in = rd64(c + base + 8);
    int64_t nidx = (int64_t)rd64(c + base + 16);
    if (n < 0 || n > INT32_MAX || rd32u(c) > RV_MAX_DIMS || nidx < 1 || nidx > MAX_INDICES) return FAM_NO;
    if (!n) return FAM_COMPUTED;
    o.nidx = (int)nidx;
    for (int j = 0; j < o.nidx; ++j) {
        o.idx[j] = rd64(c + base + 24 + 8 * (uint32_t)j);
        o.size[j] = (int64_t)rd64(c + base + 224 + 8 * (uint32_t)j);
        o.stride[j] = (int64_t)rd64(c + base + 424 + 8 * (uint32_t)j);
    }
    int64_t span = indexed_span(&o);
    uint32_t last = (uint32_t)n - 1;
    /* extents: the plain operand by the calculator, the indexed one by its indexed dimensions too */
    uint64_t oext = rv_calc_get(c, 3, last, 0) + (uint64_t)o.sz, iext = rv_calc_get(c, 3, last, 1) + (uint64_t)o.sz,
             xext = rv_calc_get(c, 3, last, 2) + 8;
    if (span < 0) return FAM_NO;
    if (o.put) oext += (uint64_t)span;
    else iext += (uint64_t)span;
    if (!rv_range_ok(o.out, oext) || !rv_range_ok(o.in, iext)) return FAM_NO;
    int ids = rv_range_tainted(o.in, iext, NULL); /* token ids only: carried (rv_carry_copy) */
    int tainted = (uint64_t)n > rv_compute_max() || (ids && !rv_range_token_ids(o.in, iext, (uint32_t)o.sz));
    for (int j = 0; j < o.nidx; ++j) {
        if (!rv_range_ok(o.idx[j], xext)) return FAM_NO;
        tainted = tainted || rv_range_tainted(o.idx[j], xext, NULL);
    }
    /* with unknown inputs, all the output may reach is tainted (an index_put's untouched elements too: a
     * conservative extent); computed, only the elements written are cleared unless they cover the extent */
    int dense = oext == (uint64_t)n * (uint64_t)o.sz;
    if (tainted) {
        rv_taint_output(k, o.out, oext, seq, corr, 0, 0);
        return FAM_TAINTED;
    }
    for (uint32_t i = 0; i <= last; ++i) { /* check every index before writing anything */
        int64_t off;
        if (!index_offset(&o, i, &off)) return FAM_NO;
    }
    rv_carry carry = {0};
    if (ids && dense) rv_taint_clear(o.out, o.out + oext); /* before the carried ids land */
    for (uint32_t i = 0; i <= last; ++i) {
        int64_t off;
        index_offset(&o, i, &off);
        uint64_t d = o.out + rv_calc_get(c, 3, i, 0), s = o.in + rv_calc_get(c, 3, i, 1);
        if (o.put) d += (uint64_t)off;
        else s += (uint64_t)off;
        if (ids) {
            if (!rv_carry_copy(&carry, d, s, (uint64_t)o.sz)) {
                rv_taint_output(k, o.out, oext, seq, corr, 0, 0);
                return FAM_TAINTED;
            }
            continue;
        }
        memmove((void *)d, (const void *)s, (size_t)o.sz);
        if (!dense) rv_taint_clear(d, d + (uint64_t)o.sz);
    }
    if (ids) rv_carry_flush(&carry);
    else if (dense) rv_taint_clear(o.out, o.out + oext);
    return FAM_COMPUTED;
}
