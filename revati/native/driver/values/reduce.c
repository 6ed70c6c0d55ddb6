/* revati driver: at::native::reduce_kernel computed on the host (max/min, sum, all/any, argmax/argmin).
 *
 * The kernel's one parameter is a ReduceOp<scalar_t, ops_t, uint32_t, out_scalar_t> (ATen/native/cuda/
 * Reduce.cuh), laid out as: ops, ident (arg_t), ReduceConfig (16 ints: element_size_bytes, num_inputs,
 * num_outputs, ...), input_calc (OffsetCalculator<1>), output_calc (OffsetCalculator<2>), src, dst[2],
 * acc_buf, cta_buf, semaphores, base_idx, accumulate, final_output, noutputs. An OffsetCalculator<N> is
 * {int dims; IntDivider sizes[25] (12 bytes each, divisor first); uint32 strides[25][N]} with byte
 * strides. Output o is at dst[0] + output_calc(o)[0]; its inputs at src + output_calc(o)[1] +
 * input_calc(i)[0] for i < num_inputs. The layout is checked against the parameter's size (the fixed
 * tail puts src 64 bytes before the end), so a torch build that changes it is left alone. */
#include "families.h"

#define CALC1_BYTES RV_CALC_BYTES(1)
#define CALC2_BYTES RV_CALC_BYTES(2)
#define CONFIG_BYTES 64

enum { R_MAX = 1, R_MIN, R_SUM, R_ALL, R_ANY, R_ARGMAX, R_ARGMIN };

static uint64_t rd64u(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

int rv_fam_reduce(const rv_kernel_op *k, uint64_t seq, uint64_t corr) {
    const char *p = strstr(k->f->name, "reduce_kernelILi");
    if (!p || k->f->nparams != 1 || !(p = strstr(p, "ReduceOpI"))) return FAM_NO;
    p += 9;
    rv_dt t = dt_parse(&p), acc = t;
    if (!t) return FAM_NO;
    int op = 0, ident_size, ident_align;
    const char *q;
    if (!strncmp(p, "NS0_14func_wrapper_tI", 21)) {
        q = p + 21;
        acc = dt_parse(&q);
        if (!acc) return FAM_NO;
        if (!strncmp(q, "NS0_13MaxNanFunctorI", 20)) op = R_MAX;
        else if (!strncmp(q, "NS0_13MinNanFunctorI", 20)) op = R_MIN;
        else if (strstr(q, "sum_functorI") == q + 6 || !strncmp(q, "ZNS0_11sum_functorI", 19)) op = R_SUM;
        else if (!strncmp(q, "ZZZNS0_15and_kernel_cuda", 24)) op = R_ALL;
        else if (!strncmp(q, "ZZZNS0_14or_kernel_cuda", 23)) op = R_ANY;
        ident_size = ident_align = dt_size(acc);
    } else if (!strncmp(p, "NS0_9ArgMaxOpsI", 15) || !strncmp(p, "NS0_9ArgMinOpsI", 15)) {
        op = p[9] == 'a' ? R_ARGMAX : R_ARGMIN; /* ArgMax / ArgMin */
        acc = dt_float(t) ? (t == 'd' ? 'd' : 'f') : t;
        ident_size = 16, ident_align = 8; /* pair<acc, int64> */
    }
    if (!op || !(q = strstr(p, "EEj"))) return FAM_NO; /* uint32 index only */
    q += 3;
    rv_dt out = dt_parse(&q);
    if (!out) return FAM_NO;
    uint32_t P = k->f->param_size[0];
    if (P != k->param_bytes || P < 64) return FAM_NO;
    const uint8_t *b = k->params;
    uint32_t ident_off = (uint32_t)((1 + ident_align - 1) / ident_align * ident_align);
    uint32_t cfg = (ident_off + (uint32_t)ident_size + 3) & ~3u, in_calc = cfg + CONFIG_BYTES;
    uint32_t out_calc = in_calc + CALC1_BYTES, src_off = (out_calc + CALC2_BYTES + 7) & ~7u;
    if (src_off != P - 64) return FAM_NO; /* not the layout this file knows */
    uint32_t ninputs = rd32u(b + cfg + 4), noutputs = rd32u(b + cfg + 8);
    uint64_t src = rd64u(b + src_off), dst = rd64u(b + src_off + 8);
    int accumulate = b[P - 8], final_output = b[P - 7], nout = (int)rd32u(b + P - 4);
    if (!ninputs || !noutputs || nout != 1 || accumulate || !final_output) return FAM_NO;
    int osz = dt_size(out), isz = dt_size(t);
    rv_debug("values: reduce op %d, %u inputs, %u outputs, dims %u/%u", op, ninputs, noutputs, rd32u(b + in_calc),
             rd32u(b + out_calc));
    /* the output and input extents (offsets grow with the index in torch's calculators) */
    uint64_t out_last = rv_calc_get(b + out_calc, 2, noutputs - 1, 0), in_last =
        rv_calc_get(b + out_calc, 2, noutputs - 1, 1) + rv_calc_get(b + in_calc, 1, ninputs - 1, 0);
    if (!rv_range_ok(dst, out_last + (uint64_t)osz)) return FAM_NO;
    if ((uint64_t)ninputs * noutputs > rv_compute_max() || !rv_range_ok(src, in_last + (uint64_t)isz) ||
        rv_range_tainted(src, in_last + (uint64_t)isz, NULL)) {
        /* an argmax/argmin's result is an index into its ninputs entries: token ids when that is a vocabulary */
        int ids = (op == R_ARGMAX || op == R_ARGMIN) && !dt_float(out);
        rv_taint_output(k, dst, out_last + (uint64_t)osz, seq, corr, ids ? ninputs : 0, ids ? (uint32_t)osz : 0);
        return FAM_TAINTED;
    }
    for (uint32_t o = 0; o < noutputs; ++o) {
        uint64_t base = src + rv_calc_get(b + out_calc, 2, o, 1);
        rv_val best = {0, 0, dt_float(acc)};
        int64_t best_i = 0;
        if (op == R_ALL) best.i = 1;
        for (uint32_t i = 0; i < ninputs; ++i) {
            rv_val v = dt_load(t, (const void *)(base + rv_calc_get(b + in_calc, 1, i, 0)));
            if (dt_float(acc) && !v.isf) v = (rv_val){0, (double)v.i, 1};
            double x = v.isf ? v.f : (double)v.i, y = best.isf ? best.f : (double)best.i;
            switch (op) {
            case R_MAX: case R_ARGMAX:
                if (i == 0 || x > y || x != x) best = v, best_i = i; /* NaN wins, first index on ties */
                break;
            case R_MIN: case R_ARGMIN:
                if (i == 0 || x < y || x != x) best = v, best_i = i;
                break;
            case R_SUM:
                if (best.isf) best.f += x;
                else best.i += v.i;
                break;
            case R_ALL: best.i = best.i && (v.isf ? v.f != 0 : v.i != 0); break;
            case R_ANY: best.i = best.i || (v.isf ? v.f != 0 : v.i != 0); break;
            }
            if ((op == R_MAX || op == R_MIN || op == R_ARGMAX || op == R_ARGMIN) && best.isf && best.f != best.f) break;
        }
        rv_val r = op == R_ARGMAX || op == R_ARGMIN ? (rv_val){best_i, 0, 0} : best;
        dt_store(out, (void *)(dst + rv_calc_get(b + out_calc, 2, o, 0)), r);
    }
    rv_taint_clear(dst, dst + out_last + (uint64_t)osz);
    return FAM_COMPUTED;
}
