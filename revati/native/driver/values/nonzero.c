/* revati driver: torch's nonzero (the path of indexing by a bool mask, t[mask]) computed on the host.
 *
 * torch 2.14's nonzero counts, reads the count back, sizes its output, then selects, each with cub:
 *   DeviceReduceSingleTileKernel<..., transform_iterator<NonZeroOp<T>, const T*>, int*, ull, plus, int, ...>
 *       (iterator {const T* p; NonZeroOp}, int* out, ull num_items, plus, int init, identity):
 *       *out = init + the number of nonzero elements of p[0, num_items);
 *   DeviceCompactInitKernel<ScanTileState<int>, int*>(tile_state, int num_tiles, int* num_selected):
 *       *num_selected = 0 (the tile state is the select's own scratch);
 *   DeviceSelectSweepKernel<..., counting_iterator<long>, transform_iterator<NonZeroOp<T>, const T*>, long*,
 *       int*, ScanTileState, NullType, NullType, int, streaming_context_t<long, true>, ...>(long first, flags
 *       iterator, long* out, int* num_selected, tile_state, _, _, int num_items, int num_tiles, context
 *       {bool first_partition; bool last_partition; long total_num_items; long total_previous_num_items;
 *       long* d_num_selected_in; long* d_num_selected_out}, vsmem): out[j] = first + the j-th nonzero
 *       position, *num_selected = their count; one partition (first and last, nothing before) only.
 * A multi-dimensional nonzero then turns the linear positions into coordinates in place:
 *   write_indices<long>(long* inp, TensorDims<long> {long sizes[25]}, int ndim, long n, long* total, long
 *       fill): for index < n (and < *total when total is not null), flat = inp[index] and, for dim from
 *       ndim-1 down to 0, inp[index + dim * n] = flat / (the product of the sizes after dim) % sizes[dim];
 *       past *total, inp[index + dim * n] = fill for dim >= 1. */
#include <stdlib.h>

#include "families.h"

static uint64_t rd64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* The element type T of NonZeroOp<T> in the kernel's name (0 when not there). */
static rv_dt nonzero_type(const char *name) {
    const char *p = strstr(name, "NonZeroOpI");
    if (!p) return 0;
    p += 10;
    return dt_parse(&p);
}

static int is_nonzero(rv_dt t, uint64_t at) {
    rv_val v = dt_load(t, (const void *)at);
    return v.isf ? v.f != 0 : v.i != 0;
}

/* Taint n bytes at p, or what of them lies in p's allocation. */
static void taint_within(const rv_kernel_op *k, uint64_t p, uint64_t n, uint64_t seq, uint64_t corr) {
    rv_alloc a;
    if (!rv_alloc_find(p, &a)) return;
    rv_taint_output(k, p, p + n <= a.base + a.size ? n : a.base + a.size - p, seq, corr, 0, 0);
}

static int count_kernel(const rv_kernel_op *k, rv_dt t, uint64_t seq, uint64_t corr) {
    uint32_t s0, s1, s2, s4;
    int o0 = rv_param_at(k, 0, &s0), o1 = rv_param_at(k, 1, &s1), o2 = rv_param_at(k, 2, &s2),
        o4 = rv_param_at(k, 4, &s4);
    if (k->f->nparams != 6 || o0 < 0 || o1 < 0 || o2 < 0 || o4 < 0 || s0 != 16 || s1 != 8 || s2 != 8 || s4 != 4)
        return FAM_NO;
    uint64_t in = rd64(k->params + o0), out = rd64(k->params + o1), n = rd64(k->params + o2);
    uint64_t bytes = n * (uint64_t)dt_size(t);
    if (!rv_range_ok(out, 4) || !rv_range_ok(in, bytes)) return FAM_NO;
    if (n > rv_compute_max() || rv_range_tainted(in, bytes, NULL)) {
        rv_taint_output(k, out, 4, seq, corr, 0, 0);
        return FAM_TAINTED;
    }
    int32_t c = (int32_t)rd32u(k->params + o4);
    for (uint64_t i = 0; i < n; ++i) c += is_nonzero(t, in + i * (uint64_t)dt_size(t));
    memcpy((void *)out, &c, 4);
    rv_taint_clear(out, out + 4);
    return FAM_COMPUTED;
}

static int init_kernel(const rv_kernel_op *k) {
    uint32_t s2;
    int o2 = rv_param_at(k, 2, &s2);
    if (k->f->nparams != 3 || o2 < 0 || s2 != 8 || !strstr(k->f->name, "EEEPiEEvT_iT0_")) return FAM_NO; /* int* */
    uint64_t sel = rd64(k->params + o2);
    if (!rv_range_ok(sel, 4)) return FAM_NO;
    memset((void *)sel, 0, 4);
    rv_taint_clear(sel, sel + 4);
    return FAM_COMPUTED;
}

static int select_kernel(const rv_kernel_op *k, rv_dt t, uint64_t seq, uint64_t corr) {
    uint32_t s0, s1, s2, s3, s7, s9;
    int o0 = rv_param_at(k, 0, &s0), o1 = rv_param_at(k, 1, &s1), o2 = rv_param_at(k, 2, &s2),
        o3 = rv_param_at(k, 3, &s3), o7 = rv_param_at(k, 7, &s7), o9 = rv_param_at(k, 9, &s9);
    if (k->f->nparams != 11 || o0 < 0 || o1 < 0 || o2 < 0 || o3 < 0 || o7 < 0 || o9 < 0 || s0 != 8 || s1 != 16 ||
        s2 != 8 || s3 != 8 || s7 != 4 || s9 != 40)
        return FAM_NO;
    const uint8_t *ctx = k->params + o9;
    int32_t n;
    memcpy(&n, k->params + o7, 4);
    uint64_t first = rd64(k->params + o0), flags = rd64(k->params + o1), out = rd64(k->params + o2),
             sel = rd64(k->params + o3), bytes = (uint64_t)(n > 0 ? n : 0) * (uint64_t)dt_size(t);
    if (n < 0 || !ctx[0] || !ctx[1] || rd64(ctx + 16) || !rv_range_ok(sel, 4) || !rv_range_ok(flags, bytes))
        return FAM_NO;
    if ((uint64_t)n > rv_compute_max() || rv_range_tainted(flags, bytes, NULL)) {
        rv_taint_output(k, sel, 4, seq, corr, 0, 0);
        if (out) taint_within(k, out, (uint64_t)n * 8, seq, corr);
        return FAM_TAINTED;
    }
    int32_t c = 0;
    for (int32_t i = 0; i < n; ++i)
        if (is_nonzero(t, flags + (uint64_t)i * (uint64_t)dt_size(t))) ++c;
    if (c && !rv_range_ok(out, (uint64_t)c * 8)) return FAM_NO; /* an output sized from a stale count */
    c = 0;
    for (int32_t i = 0; i < n; ++i)
        if (is_nonzero(t, flags + (uint64_t)i * (uint64_t)dt_size(t))) {
            int64_t v = (int64_t)first + i;
            memcpy((void *)(out + (uint64_t)c++ * 8), &v, 8);
        }
    memcpy((void *)sel, &c, 4);
    rv_taint_clear(sel, sel + 4);
    if (c) rv_taint_clear(out, out + (uint64_t)c * 8);
    return FAM_COMPUTED;
}

static int write_indices_kernel(const rv_kernel_op *k, uint64_t seq, uint64_t corr) {
    uint32_t s0, s1, s2, s3, s4, s5;
    int o0 = rv_param_at(k, 0, &s0), o1 = rv_param_at(k, 1, &s1), o2 = rv_param_at(k, 2, &s2),
        o3 = rv_param_at(k, 3, &s3), o4 = rv_param_at(k, 4, &s4), o5 = rv_param_at(k, 5, &s5);
    if (k->f->nparams != 6 || o0 < 0 || o1 < 0 || o2 < 0 || o3 < 0 || o4 < 0 || o5 < 0 || s0 != 8 ||
        s1 != 8 * RV_MAX_DIMS || s2 != 4 || s3 != 8 || s4 != 8 || s5 != 8)
        return FAM_NO;
    uint64_t inp = rd64(k->params + o0), total = rd64(k->params + o4), fill = rd64(k->params + o5);
    int32_t ndim;
    int64_t n, sizes[RV_MAX_DIMS];
    memcpy(&ndim, k->params + o2, 4);
    memcpy(&n, k->params + o3, 8);
    memcpy(sizes, k->params + o1, sizeof sizes);
    if (ndim < 1 || ndim > RV_MAX_DIMS || n < 0) return FAM_NO;
    uint64_t bytes = (uint64_t)n * (uint64_t)ndim * 8;
    if (!n) return FAM_COMPUTED;
    if (!rv_range_ok(inp, bytes) || (total && !rv_range_ok(total, 8))) return FAM_NO;
    if ((uint64_t)n > rv_compute_max() || rv_range_tainted(inp, (uint64_t)n * 8, NULL) ||
        (total && rv_range_tainted(total, 8, NULL))) {
        rv_taint_output(k, inp, bytes, seq, corr, 0, 0);
        return FAM_TAINTED;
    }
    for (int d = 0; d < ndim; ++d)
        if (sizes[d] <= 0) return FAM_NO;
    int64_t lim = n;
    if (total) memcpy(&lim, (const void *)total, 8);
    for (int64_t i = 0; i < n; ++i) {
        int64_t *row = (int64_t *)inp + i, flat = row[0];
        if (i < lim) {
            for (int d = ndim - 1; d >= 0; --d) {
                row[d * n] = flat % sizes[d];
                flat /= sizes[d];
            }
        } else {
            for (int d = ndim - 1; d > 0; --d) memcpy(&row[d * n], &fill, 8);
        }
    }
    rv_taint_clear(inp, inp + bytes);
    return FAM_COMPUTED;
}

int rv_fam_nonzero(const rv_kernel_op *k, uint64_t seq, uint64_t corr) {
    const char *name = k->f->name;
    if (strstr(name, "13write_indicesI")) return write_indices_kernel(k, seq, corr);
    if (strstr(name, "DeviceCompactInitKernel")) return init_kernel(k);
    rv_dt t = nonzero_type(name);
    if (!t) return FAM_NO;
    if (strstr(name, "DeviceReduceSingleTileKernel")) return count_kernel(k, t, seq, corr);
    if (strstr(name, "DeviceSelectSweepKernel")) return select_kernel(k, t, seq, corr);
    return FAM_NO;
}
