/* revati driver: torch's shape and index kernels computed on the host (families.c dispatches here).
 *
 *   arange:       elementwise_kernel_with_index<int, lambda(long)>(int N, closure {acc start; acc step}, T* out);
 *                 T from the dispatch lambda's ordinal (AT_DISPATCH_ALL_TYPES_AND2(Half, BFloat16): Byte,
 *                 Char, Int, Long, Short, Double, Float, Half, BFloat16), acc = int64, double or float.
 *   cumsum:       cub's DeviceScanKernel<policy_hub<..., plus<T>>, const T*, T*, ScanTileState, plus, NullType>
 *                 (in, out, tile_state, int start_tile, op, init, uint32 num_items): an inclusive sum;
 *                 and torch's tensor_kernel_scan_innermost_dim<T, plus<T>>(T* out, const T* in, uint32
 *                 num_rows, uint32 row_size, uint32, T init, op): an inclusive sum along each row.
 *   index_select: indexSelectSmallIndex/LargeIndex<T, IndicesType, IndexType, ...>(TensorInfo dst, src,
 *                 indices, int dstSelectDim, int srcSelectDim, [IndexType totalSize,] IndexType innerSize,
 *                 int64 srcSelectDimSize); TensorInfo<T, I> = {T* data; I sizes[25]; I strides[25]; int dims}
 *                 with element strides, the selected dimension's size set to 1.
 *   gather, cat:  below, with their layouts.
 * Each is computed when its inputs hold no tainted bytes and are within REVATI_COMPUTE_MAX elements;
 * otherwise its output extent (known exactly) is tainted with it as the producer. */
#include <stdio.h>
#include <stdlib.h>

#include "families.h"

static uint64_t rd64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* ---- arange ---------------------------------------------------------------------------------- */

int rv_fam_arange(const rv_kernel_op *k, uint64_t seq, uint64_t corr) {
    static const char types[] = "hailsdfHB";
    const char *p = strstr(k->f->name, "arange_cuda_out"), *q;
    if (!p || !(q = strstr(p, "clEvENKUlvE")) || k->f->nparams != 3) return FAM_NO;
    q += 11;
    int ord = *q == '_' ? 0 : atoi(q) + 1;
    if (ord < 0 || ord >= (int)sizeof types - 1) return FAM_NO;
    rv_dt t = types[ord], acc = t == 'd' ? 'd' : dt_float(t) ? 'f' : 'l';
    uint32_t nsz, csz, dsz;
    int on = rv_param_at(k, 0, &nsz), oc = rv_param_at(k, 1, &csz), od = rv_param_at(k, 2, &dsz);
    int asz = dt_size(acc), tsz = dt_size(t);
    if (on < 0 || oc < 0 || od < 0 || nsz != 4 || dsz != 8 || csz < 2u * (uint32_t)asz) return FAM_NO;
    int32_t n;
    memcpy(&n, k->params + on, 4);
    uint64_t out = rd64(k->params + od), bytes = (uint64_t)(n > 0 ? n : 0) * (uint64_t)tsz;
    if (n < 0 || !rv_range_ok(out, bytes)) return FAM_NO;
    if ((uint64_t)n > rv_compute_max()) {
        rv_taint_output(k, out, bytes, seq, corr, 0, 0);
        return FAM_TAINTED;
    }
    rv_val start = dt_load(acc, k->params + oc), step = dt_load(acc, k->params + oc + asz);
    for (int32_t i = 0; i < n; ++i) {
        rv_val v = {start.i + (int64_t)i * step.i, 0, 0};
        if (acc == 'f') v = (rv_val){0, (double)((float)start.f + (float)i * (float)step.f), 1};
        else if (acc == 'd') v = (rv_val){0, start.f + (double)i * step.f, 1};
        dt_store(t, (void *)(out + (uint64_t)i * (uint64_t)tsz), v);
    }
    rv_taint_clear(out, out + bytes);
    return FAM_COMPUTED;
}

/* ---- cumsum (cub inclusive scan) -------------------------------------------------------------- */

/* An inclusive sum of rows x n elements of type t from in to out (contiguous rows). */
static int scan_rows(const rv_kernel_op *k, rv_dt t, uint64_t in, uint64_t out, uint64_t rows, uint64_t n,
                     rv_val init, uint64_t seq, uint64_t corr) {
    int sz = dt_size(t);
    uint64_t bytes = rows * n * (uint64_t)sz;
    if (!rv_range_ok(out, bytes) || !rv_range_ok(in, bytes)) return FAM_NO;
    if (rows * n > rv_compute_max() || rv_range_tainted(in, bytes, NULL)) {
        rv_taint_output(k, out, bytes, seq, corr, 0, 0);
        return FAM_TAINTED;
    }
    for (uint64_t i = 0; i < rows * n; ++i) {
        if (i % n == 0) init.isf = dt_float(t), init.i = i ? 0 : init.i, init.f = i ? 0 : init.f;
        rv_val v = dt_load(t, (const void *)(in + i * (uint64_t)sz));
        if (init.isf) init.f = t == 'd' ? init.f + v.f : (double)((float)init.f + (float)v.f);
        else init.i += v.i;
        dt_store(t, (void *)(out + i * (uint64_t)sz), init);
    }
    rv_taint_clear(out, out + bytes);
    return FAM_COMPUTED;
}

int rv_fam_scan(const rv_kernel_op *k, uint64_t seq, uint64_t corr) {
    const char *name = k->f->name, *p;
    uint32_t s0, s1, s2, s3, s5;
    if ((p = strstr(name, "tensor_kernel_scan_innermost_dimI"))) { /* (out, in, num_rows, row_size, _, init, op) */
        p += 33;
        rv_dt t = dt_parse(&p);
        if (!t || strncmp(p, "St4plusI", 8) || k->f->nparams != 7) return FAM_NO;
        int oo = rv_param_at(k, 0, &s0), oi = rv_param_at(k, 1, &s1), orow = rv_param_at(k, 2, &s2),
            on = rv_param_at(k, 3, &s3), oinit = rv_param_at(k, 5, &s5);
        if (oo < 0 || oi < 0 || orow < 0 || on < 0 || oinit < 0 || s0 != 8 || s1 != 8 || s2 != 4 || s3 != 4 ||
            s5 != (uint32_t)dt_size(t))
            return FAM_NO;
        rv_val init = dt_load(t, k->params + oinit);
        if (init.isf ? init.f != 0 : init.i != 0) return FAM_NO; /* a sum starts at 0 */
        return scan_rows(k, t, rd64(k->params + oi), rd64(k->params + oo), rd32u(k->params + orow),
                         rd32u(k->params + on), init, seq, corr);
    }
    const char *q = strstr(name, "EPK");
    if (!(p = strstr(name, "St4plusI")) || !q || !strstr(name, "8NullTypeE") || k->f->nparams != 7) return FAM_NO;
    p += 8, q += 3;
    rv_dt t = dt_parse(&p), ti = dt_parse(&q);
    if (!t || ti != t || *q++ != 'P') return FAM_NO;
    if (dt_parse(&q) != t) return FAM_NO;
    uint32_t s6;
    int oi = rv_param_at(k, 0, &s0), oo = rv_param_at(k, 1, &s1), os = rv_param_at(k, 3, &s3),
        on = rv_param_at(k, 6, &s6);
    if (oi < 0 || oo < 0 || os < 0 || on < 0 || s0 != 8 || s1 != 8 || s3 != 4 || s6 != 4) return FAM_NO;
    if (rd32u(k->params + os) != 0) return FAM_NO; /* a later part of a split scan */
    return scan_rows(k, t, rd64(k->params + oi), rd64(k->params + oo), 1, rd32u(k->params + on),
                     (rv_val){0, 0, dt_float(t)}, seq, corr);
}

/* ---- index_select ------------------------------------------------------------------------------ */

typedef struct {
    uint64_t data;
    uint64_t sizes[RV_MAX_DIMS], strides[RV_MAX_DIMS];
    int dims;
} tinfo;

/* A TensorInfo<T, I> parameter (index type of isz bytes); 0 when its size or dims do not fit. */
static int tinfo_read(const rv_kernel_op *k, int i, int isz, tinfo *t) {
    uint32_t size;
    int o = rv_param_at(k, i, &size);
    uint32_t need = 8u + 2u * RV_MAX_DIMS * (uint32_t)isz + 4u;
    if (o < 0 || size < need || size > need + 8) return 0;
    const uint8_t *b = k->params + o;
    t->data = rd64(b);
    for (int d = 0; d < RV_MAX_DIMS; ++d) {
        t->sizes[d] = isz == 4 ? rd32u(b + 8 + 4 * d) : rd64(b + 8 + 8 * d);
        t->strides[d] = isz == 4 ? rd32u(b + 8 + 100 + 4 * d) : rd64(b + 8 + 200 + 8 * d);
    }
    memcpy(&t->dims, b + 8 + 2 * RV_MAX_DIMS * isz, 4);
    return t->dims >= 1 && t->dims <= RV_MAX_DIMS;
}

/* IndexToOffset: the element offset of linear index li. */
static uint64_t tinfo_off(const tinfo *t, uint64_t li) {
    uint64_t off = 0;
    for (int d = t->dims - 1; d >= 0; --d) {
        if (!t->sizes[d]) return off;
        off += li % t->sizes[d] * t->strides[d];
        li /= t->sizes[d];
    }
    return off;
}

/* The element count and the last element's offset (+1) of t: its extent in elements. */
static uint64_t tinfo_numel(const tinfo *t) {
    uint64_t n = 1;
    for (int d = 0; d < t->dims; ++d) n *= t->sizes[d];
    return n;
}
static uint64_t tinfo_extent(const tinfo *t) {
    uint64_t e = 1;
    for (int d = 0; d < t->dims; ++d)
        if (t->sizes[d]) e += (t->sizes[d] - 1) * t->strides[d];
    return e;
}

int rv_fam_index_select(const rv_kernel_op *k, uint64_t seq, uint64_t corr) {
    const char *p = strstr(k->f->name, "indexSelect");
    if (!p) return FAM_NO;
    int large = !strncmp(p, "indexSelectLargeIndexI", 22);
    if (!large && strncmp(p, "indexSelectSmallIndexI", 22)) return FAM_NO;
    p += 22;
    rv_dt t = dt_parse(&p), it = dt_parse(&p), xt = dt_parse(&p);
    if (!t || (it != 'l' && it != 'i') || (xt != 'j' && xt != 'm') || k->f->nparams != (large ? 8 : 7)) return FAM_NO;
    int xsz = dt_size(xt), tsz = dt_size(t), isz = dt_size(it);
    tinfo dst, src, idx;
    if (!tinfo_read(k, 0, xsz, &dst) || !tinfo_read(k, 1, xsz, &src) || !tinfo_read(k, 2, xsz, &idx)) return FAM_NO;
    uint32_t s3, s4, s5;
    int o3 = rv_param_at(k, 3, &s3), o4 = rv_param_at(k, 4, &s4), o5 = rv_param_at(k, large ? 6 : 5, &s5);
    if (o3 < 0 || o4 < 0 || o5 < 0 || s3 != 4 || s4 != 4 || s5 != (uint32_t)xsz) return FAM_NO;
    int dsel = (int)rd32u(k->params + o3), ssel = (int)rd32u(k->params + o4);
    uint64_t inner = xsz == 4 ? rd32u(k->params + o5) : rd64(k->params + o5), nidx = tinfo_numel(&idx);
    if (dsel < 0 || dsel >= dst.dims || ssel < 0 || ssel >= src.dims) return FAM_NO;
    uint64_t dbytes = (tinfo_extent(&dst) + (nidx ? nidx - 1 : 0) * dst.strides[dsel]) * (uint64_t)tsz;
    uint64_t ibytes = tinfo_extent(&idx) * (uint64_t)isz;
    if (!rv_range_ok(dst.data, dbytes) || !rv_range_ok(idx.data, ibytes)) return FAM_NO;
    if (nidx * inner > rv_compute_max() || rv_range_tainted(idx.data, ibytes, NULL)) {
        rv_taint_output(k, dst.data, dbytes, seq, corr, 0, 0);
        return FAM_TAINTED;
    }
    uint64_t srows = 0; /* the largest index read: the source extent */
    for (uint64_t j = 0; j < nidx; ++j) {
        rv_val v = dt_load(it, (const void *)(idx.data + tinfo_off(&idx, j) * (uint64_t)isz));
        if (v.i < 0) return FAM_NO;
        if ((uint64_t)v.i > srows) srows = (uint64_t)v.i;
    }
    uint64_t sbytes = (tinfo_extent(&src) + srows * src.strides[ssel]) * (uint64_t)tsz;
    if (!rv_range_ok(src.data, sbytes)) return FAM_NO;
    int ids = rv_range_tainted(src.data, sbytes, NULL);
    if (ids && !rv_range_token_ids(src.data, sbytes, (uint32_t)tsz)) {
        rv_taint_output(k, dst.data, dbytes, seq, corr, 0, 0);
        return FAM_TAINTED;
    }
    rv_carry carry = {0};
    if (ids) rv_taint_clear(dst.data, dst.data + dbytes); /* before the carried ids land */
    for (uint64_t j = 0; j < nidx; ++j) {
        uint64_t si = (uint64_t)dt_load(it, (const void *)(idx.data + tinfo_off(&idx, j) * (uint64_t)isz)).i;
        for (uint64_t e = 0; e < inner; ++e) {
            uint64_t d = tinfo_off(&dst, e) + j * dst.strides[dsel], s = tinfo_off(&src, e) + si * src.strides[ssel];
            uint64_t da = dst.data + d * (uint64_t)tsz, sa = src.data + s * (uint64_t)tsz;
            if (!ids) memcpy((void *)da, (const void *)sa, (size_t)tsz);
            else if (!rv_carry_copy(&carry, da, sa, (uint64_t)tsz)) {
                rv_taint_output(k, dst.data, dbytes, seq, corr, 0, 0);
                return FAM_TAINTED;
            }
        }
    }
    if (ids) rv_carry_flush(&carry);
    else rv_taint_clear(dst.data, dst.data + dbytes);
    return FAM_COMPUTED;
}

/* ---- gather ------------------------------------------------------------------------------------ */

/* _scatter_gather_elementwise_kernel<128, 8, lambda(int)>(int N, closure) of
 * _cuda_scatter_gather_internal_kernel<false (gather), OpaqueType<S>, long>::operator()<TensorAssign>:
 * closure {OffsetCalculator<3> oc (self, src, index); char* index_ptr; int64 index_size; TensorAssign f;
 * char* self_ptr; int64 index_stride; int64 numel; char* src_ptr} (captures in order of first use):
 * self[oc(i)[0]] = src[oc(i)[1] + index[oc(i)[2]] * index_stride elements]. */
int rv_fam_gather(const rv_kernel_op *k, uint64_t seq, uint64_t corr) {
    const char *p = strstr(k->f->name, "_cuda_scatter_gather_internal_kernelILb0ENS0_10OpaqueTypeILi");
    if (!p || !strstr(p, "TensorAssign") || k->f->nparams != 2) return FAM_NO;
    int sz = atoi(p + 60);
    uint32_t nsz, csz, base = (RV_CALC_BYTES(3) + 7) & ~7u;
    int on = rv_param_at(k, 0, &nsz), oc = rv_param_at(k, 1, &csz);
    if ((sz != 1 && sz != 2 && sz != 4 && sz != 8) || on < 0 || oc < 0 || nsz != 4 || csz != base + 56) return FAM_NO;
    const uint8_t *c = k->params + oc;
    int32_t n;
    memcpy(&n, k->params + on, 4);
    uint64_t index = rd64(c + base), index_size = rd64(c + base + 8), self = rd64(c + base + 24),
             stride = rd64(c + base + 32), src = rd64(c + base + 48);
    if (n <= 0 || rd32u(c) > RV_MAX_DIMS) return n == 0 ? FAM_COMPUTED : FAM_NO;
    uint64_t obytes = rv_calc_get(c, 3, (uint32_t)n - 1, 0) + (uint64_t)sz,
             ibytes = rv_calc_get(c, 3, (uint32_t)n - 1, 2) + 8,
             sbytes = rv_calc_get(c, 3, (uint32_t)n - 1, 1) + ((index_size ? index_size - 1 : 0) * stride + 1) * (uint64_t)sz;
    if (!rv_range_ok(self, obytes) || !rv_range_ok(index, ibytes) || !rv_range_ok(src, sbytes)) return FAM_NO;
    int ids = rv_range_tainted(src, sbytes, NULL);
    if ((uint64_t)n > rv_compute_max() || rv_range_tainted(index, ibytes, NULL) ||
        (ids && !rv_range_token_ids(src, sbytes, (uint32_t)sz))) {
        rv_taint_output(k, self, obytes, seq, corr, 0, 0);
        return FAM_TAINTED;
    }
    for (int32_t i = 0; i < n; ++i) {
        int64_t idx;
        memcpy(&idx, (const void *)(index + rv_calc_get(c, 3, (uint32_t)i, 2)), 8);
        if (idx < 0 || (uint64_t)idx >= index_size) return FAM_NO; /* the GPU asserts; leave it alone */
    }
    int dense = obytes == (uint64_t)n * (uint64_t)sz;
    rv_carry carry = {0};
    if (ids && dense) rv_taint_clear(self, self + obytes); /* before the carried ids land */
    for (int32_t i = 0; i < n; ++i) {
        int64_t idx;
        memcpy(&idx, (const void *)(index + rv_calc_get(c, 3, (uint32_t)i, 2)), 8);
        uint64_t s = src + rv_calc_get(c, 3, (uint32_t)i, 1) + (uint64_t)idx * stride * (uint64_t)sz,
                 d = self + rv_calc_get(c, 3, (uint32_t)i, 0);
        if (!ids) memcpy((void *)d, (const void *)s, (size_t)sz);
        else if (!rv_carry_copy(&carry, d, s, (uint64_t)sz)) {
            rv_taint_output(k, self, obytes, seq, corr, 0, 0);
            return FAM_TAINTED;
        }
    }
    if (ids) rv_carry_flush(&carry);
    else if (dense) rv_taint_clear(self, self + obytes);
    return FAM_COMPUTED;
}

/* ---- cat ---------------------------------------------------------------------------------------- */

/* CatArrayBatchedCopy*_contig<OpaqueType<S>, IndexType, Dims, B, 1, ...>(T* out, CatArrInputTensorMetadata
 * {T* input[B]; I offset[B]; I dimSize[B]; I nElements[B]; bool isContiguous[B]; TensorSizeStride<I, 4>
 * tensorStride[1]}, TensorSizeStride<I, 4> os {I sizes[4]; I strides[4]}, int concatDim, I dimStride), one
 * input per gridDim.y: input i's element l goes to out + offset[i] * dimStride + CatArrIndexToOffset(l).
 * CatArrayBatchedCopy<OpaqueType<S>, I, Dims, B, N>, the same parameters, is the kernel of non-contiguous
 * inputs: an input whose isContiguous is false reads its element l at CatArrIndexToOffset(l) by its own
 * sizes and strides, tensorStride[N > 1 ? i : 0] (element strides, its size along concatDim = dimSize[i]).
 * CatArrayBatchedCopy_vectorized<..., alignment A, elems_per_vec E>(char* out, the same metadata, os,
 * concatDim, I trailingSize) moves units of A bytes: os counts units, and input i's offset, dimSize and
 * nElements (in elements) become offset * trailingSize / E, dimSize * trailingSize / E, nElements / E. */

/* CatArrIndexToOffset: the offset (in units) of linear index l of a tensor of `dims` sizes and strides whose
 * size along cdim is dsz; 0 when a size is 0. Strides are unsigned, so the last l has the largest offset. */
static int cat_offset(const uint64_t *size, const uint64_t *stride, int dims, int cdim, uint64_t dsz, uint64_t l,
                      uint64_t *eo) {
    uint64_t off = 0;
    for (int d = dims - 1; d >= 1; --d) {
        uint64_t cur = d == cdim ? dsz : size[d];
        if (!cur) return 0;
        off += l % cur * stride[d];
        l /= cur;
    }
    *eo = off + l * stride[0];
    return 1;
}

typedef struct {
    uint64_t ptr, off, dsz, nel, ext; /* ext: the bytes it spans */
    int contig, ids;                  /* ids: tainted by token ids only (carried, rv_carry_copy) */
    uint64_t size[4], stride[4];
} cat_input;

int rv_fam_cat(const rv_kernel_op *k, uint64_t seq, uint64_t corr) {
    const char *p = strstr(k->f->name, "CatArrayBatchedCopy"), *q;
    if (!p || k->f->nparams != 5) return FAM_NO;
    int vec = 0, strided = 0;
    if ((q = strstr(p, "_contigINS1_10OpaqueTypeILj"))) q += 27;
    else if ((q = strstr(p, "_vectorizedINS1_10OpaqueTypeILj"))) q += 31, vec = 1;
    else if (!strncmp(p + 19, "INS1_10OpaqueTypeILj", 20)) q = p + 39, strided = 1;
    else return FAM_NO;
    int sz = atoi(q);
    while (*q >= '0' && *q <= '9') ++q;
    if (strncmp(q, "EEE", 3)) return FAM_NO;
    q += 3;
    rv_dt xt = dt_parse(&q);
    int dims, batch, nstride = 1, align = 0, epv = 1;
    if (xt != 'j' && xt != 'm') return FAM_NO;
    if (vec ? sscanf(q, "Li%dELi%dELi%dELi%dELi%dE", &dims, &batch, &nstride, &align, &epv) != 5
            : sscanf(q, "Li%dELi%dELi%dE", &dims, &batch, &nstride) < 2)
        return FAM_NO;
    if (dims < 1 || dims > 4 || batch < 1 || batch > 128 || nstride < 1 || nstride > batch || epv < 1 ||
        (vec && align != sz * epv))
        return FAM_NO;
    uint32_t xs = (uint32_t)dt_size(xt), s0, s1, s2, s3, s4, B = (uint32_t)batch;
    int o0 = rv_param_at(k, 0, &s0), o1 = rv_param_at(k, 1, &s1), o2 = rv_param_at(k, 2, &s2),
        o3 = rv_param_at(k, 3, &s3), o4 = rv_param_at(k, 4, &s4);
    uint32_t off_at = 8 * B, dim_at = off_at + xs * B, nel_at = dim_at + xs * B, contig_at = nel_at + xs * B,
             ts_at = (contig_at + B + xs - 1) / xs * xs, meta = strided ? ts_at + (uint32_t)nstride * 8 * xs : contig_at + B;
    if (o0 < 0 || o1 < 0 || o2 < 0 || o3 < 0 || o4 < 0 || s0 != 8 || s1 < meta || s2 != 8 * xs || s3 != 4 || s4 != xs ||
        k->grid[1] > B)
        return FAM_NO;
    const uint8_t *m = k->params + o1, *os = k->params + o2;
#define XR(b) (xs == 4 ? (uint64_t)rd32u(b) : rd64(b))
    /* unit: the bytes one index moves (an element, or a vector of epv elements) */
    uint64_t out = rd64(k->params + o0), last = XR(k->params + o4), size[4], stride[4], unit = (uint64_t)sz * (uint64_t)epv;
    int cdim = (int)rd32u(k->params + o3);
    for (int d = 0; d < 4; ++d) size[d] = XR(os + xs * (uint32_t)d), stride[d] = XR(os + xs * (uint32_t)(4 + d));
    if (cdim < 0 || cdim >= dims) return FAM_NO;
    uint64_t oext = 1, total = 0;
    for (int d = 0; d < dims; ++d) oext += (size[d] ? size[d] - 1 : 0) * stride[d];
    uint64_t obytes = oext * unit;
    if (!rv_range_ok(out, obytes)) return FAM_NO;
    cat_input in[128]; /* batch <= 128: torch's CAT_ARRAY_BATCH_SIZE */
    int tainted = 0, ids = 0;
    for (uint32_t i = 0; i < k->grid[1]; ++i) {
        cat_input *c = &in[i];
        c->ptr = rd64(m + 8 * i), c->off = XR(m + off_at + xs * i), c->dsz = XR(m + dim_at + xs * i);
        c->nel = XR(m + nel_at + xs * i), c->contig = !strided || m[contig_at + i];
        c->ext = c->nel * (uint64_t)sz;
        if (!c->contig) {
            const uint8_t *ts = m + ts_at + 8 * xs * (uint32_t)(nstride > 1 ? i : 0);
            uint64_t eo;
            for (int d = 0; d < 4; ++d) c->size[d] = XR(ts + xs * (uint32_t)d), c->stride[d] = XR(ts + xs * (uint32_t)(4 + d));
            if (c->nel && !cat_offset(c->size, c->stride, dims, cdim, c->dsz, c->nel - 1, &eo)) return FAM_NO;
            c->ext = c->nel ? (eo + 1) * (uint64_t)sz : 0;
        }
        if (!rv_range_ok(c->ptr, c->ext)) return FAM_NO;
        c->ids = rv_range_tainted(c->ptr, c->ext, NULL);
        if (c->ids && !rv_range_token_ids(c->ptr, c->ext, (uint32_t)sz)) tainted = 1;
        ids |= c->ids;
        total += c->nel;
    }
    if (tainted || total > rv_compute_max()) {
        rv_taint_output(k, out, obytes, seq, corr, 0, 0);
        return FAM_TAINTED;
    }
    rv_carry carry = {0};
    if (ids) rv_taint_clear(out, out + obytes); /* before the carried ids land */
    for (uint32_t i = 0; i < k->grid[1]; ++i) {
        const cat_input *c = &in[i];
        uint64_t nel = c->nel, dsz = c->dsz, base;
        if (vec) { /* units of epv elements; last is trailingSize */
            if (nel % (uint64_t)epv || (c->off * last) % (uint64_t)epv || (dsz * last) % (uint64_t)epv) return FAM_NO;
            nel /= (uint64_t)epv, base = c->off * last / (uint64_t)epv, dsz = dsz * last / (uint64_t)epv;
        } else { /* last is dimStride */
            base = c->off * last;
        }
        for (uint64_t l = 0; l < nel; ++l) {
            uint64_t eo, from = l;
            if (!cat_offset(size, stride, dims, cdim, dsz, l, &eo)) return FAM_NO;
            if (!c->contig) cat_offset(c->size, c->stride, dims, cdim, dsz, l, &from);
            uint64_t at = (base + eo) * unit;
            if (at + unit > obytes) return FAM_NO;
            if (!c->ids) memcpy((void *)(out + at), (const void *)(c->ptr + from * unit), (size_t)unit);
            else if (!rv_carry_copy(&carry, out + at, c->ptr + from * unit, unit)) goto too_many_runs;
        }
    }
#undef XR
    if (ids) rv_carry_flush(&carry);
    else rv_taint_clear(out, out + obytes);
    return FAM_COMPUTED;
too_many_runs:
    rv_taint_output(k, out, obytes, seq, corr, 0, 0);
    return FAM_TAINTED;
}
