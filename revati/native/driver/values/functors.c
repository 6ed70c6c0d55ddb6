/* revati driver: the functors of torch's elementwise kernels, decoded from the mangled name and the
 * functor's bytes, and applied to one element (families.c runs them over a launch's elements).
 *
 * FillFunctor<T>; BinaryFunctor/AUnaryFunctor/BUnaryFunctor over BitwiseAnd/Or/Xor, Mul, CompareEq,
 * Compare (ge/gt/le/lt) and the lambdas of logical_and/or/xor_kernel_cuda; CUDAFunctor_add,
 * CUDAFunctorOnSelf_add; and the lambdas of bitwise_not_kernel_cuda, logical_not_kernel_cuda,
 * direct_copy_kernel_cuda, bfloat16/float16_copy_kernel_cuda, compare_scalar_kernel, where_kernel_impl
 * (cond ? a : b), masked_fill_kernel (closure {scalar_t value}), launch_clamp_scalar (closure {ClampLimits
 * minmax; opmath lim0; opmath lim1}), and remainder/div_trunc/div_floor as Binary/BUnaryFunctor lambdas. */
#include <math.h>

#include "families.h"

/* The opmath type of t (what torch computes a scalar operand in). */
static rv_dt opmath(rv_dt t) { return t == 'H' || t == 'B' ? 'f' : t; }

/* The inner functor of Binary/AUnary/BUnaryFunctor: op, comparison, and the functor's own size. */
static int parse_inner(const char *p, const uint8_t *fb, efun *e, int *inner_size) {
    *inner_size = 1;
    const char *q;
    if ((q = strstr(p, "BitwiseAndFunctor")) && q - p < 40) return e->op = OP_AND, 1;
    if ((q = strstr(p, "BitwiseOrFunctor")) && q - p < 40) return e->op = OP_OR, 1;
    if ((q = strstr(p, "BitwiseXorFunctor")) && q - p < 40) return e->op = OP_XOR, 1;
    if ((q = strstr(p, "MulFunctor")) && q - p < 60) return e->op = OP_MUL, 1;
    if ((q = strstr(p, "logical_and_kernel_cuda")) && q - p < 40) return e->op = OP_LAND, 1;
    if ((q = strstr(p, "remainder_kernel_cuda")) && q - p < 40) return e->op = OP_REM, 1;
    if ((q = strstr(p, "div_trunc_kernel_cuda")) && q - p < 60) return e->op = OP_DIV_TRUNC, 1;
    if ((q = strstr(p, "div_floor_kernel_cuda")) && q - p < 60) return e->op = OP_DIV_FLOOR, 1;
    if ((q = strstr(p, "logical_or_kernel_cuda")) && q - p < 40) return e->op = OP_LOR, 1;
    if ((q = strstr(p, "logical_xor_kernel_cuda")) && q - p < 40) return e->op = OP_LXOR, 1;
    if ((q = strstr(p, "CompareEqFunctor")) && q - p < 120) { /* {EqOpType op_}: 0 eq, 1 ne */
        int32_t op;
        memcpy(&op, fb, 4);
        *inner_size = 4;
        e->op = OP_CMP, e->cmp = op ? CMP_NE : CMP_EQ;
        return op == 0 || op == 1;
    }
    if ((q = strstr(p, "CompareFunctor")) && q - p < 120) { /* {OpType op}: GE, GT, LE, LT */
        int32_t op;
        memcpy(&op, fb, 4);
        *inner_size = 4;
        e->op = OP_CMP, e->cmp = CMP_GE + op;
        return op >= 0 && op <= 3;
    }
    return 0;
}

/* The lambda's argument types: the type codes after the last "EUl" before end, up to 'E'. */
static int lambda_args(const char *s, const char *end, rv_dt *types, int cap) {
    const char *p = NULL;
    for (const char *q = s; (q = strstr(q, "EUl")) && q < end; ++q) p = q + 3;
    if (!p) return -1;
    int n = 0;
    while (p < end && *p != 'E' && n < cap) {
        rv_dt t = dt_parse(&p);
        if (!t) return -1;
        types[n++] = t;
    }
    return n;
}

/* Decode functor F (name text [s, end), bytes fb of fsize) into e; 0 when not a known family. */
int rv_parse_functor(const char *s, const char *end, const uint8_t *fb, uint32_t fsize, efun *e) {
    memset(e, 0, sizeof *e);
    const char *p;
    if (!strncmp(s, "NS0_11FillFunctorI", 18)) {
        p = s + 18;
        rv_dt t = dt_parse(&p);
        if (!t || (uint32_t)dt_size(t) > fsize) return 0;
        e->op = OP_FILL, e->out = t, e->scalar = dt_load(t, fb), e->fbytes = (uint32_t)dt_size(t);
        return 1;
    }
    int kind = !strncmp(s, "NS0_13BinaryFunctorI", 20) ? 0 : !strncmp(s, "NS0_13AUnaryFunctorI", 20) ? 1
             : !strncmp(s, "NS0_13BUnaryFunctorI", 20) ? 2 : -1;
    if (kind >= 0) {
        p = s + 20;
        rv_dt a = dt_parse(&p), b = dt_parse(&p), r = dt_parse(&p);
        int inner = 1;
        if (!a || !b || !r || !parse_inner(p, fb, e, &inner)) return 0;
        e->out = r;
        if (kind == 0) {
            e->nin = 2, e->in[0] = a, e->in[1] = b, e->fbytes = (uint32_t)inner;
            return 1;
        }
        rv_dt st = opmath(kind == 1 ? a : b); /* {inner f; opmath scalar} */
        uint32_t sz = (uint32_t)dt_size(st), off = (uint32_t)((inner + sz - 1) / sz * sz);
        if (off + sz > fsize) return 0;
        e->nin = 1, e->in[0] = kind == 1 ? b : a, e->in[1] = st;
        e->scalar = dt_load(st, fb + off), e->scalar_side = kind, e->fbytes = off + sz;
        return 1;
    }
    if (!strncmp(s, "NS0_15CUDAFunctor_addI", 22) || !strncmp(s, "NS0_21CUDAFunctorOnSelf_addI", 28)) {
        int self = s[4] == '2';
        p = s + (self ? 28 : 22);
        rv_dt t = dt_parse(&p), st = opmath(t);
        uint32_t sz = (uint32_t)dt_size(st);
        if (!t || (self ? 2 : 1) * sz > fsize) return 0;
        e->in[0] = e->in[1] = e->out = t, e->fbytes = (self ? 2 : 1) * sz;
        if (self) { /* {opmath other_; opmath alpha_}: self + alpha * other */
            rv_val other = dt_load(st, fb), alpha = dt_load(st, fb + sz);
            e->op = OP_SELF_ADD, e->nin = 1;
            e->scalar = alpha.isf ? (rv_val){0, other.f * alpha.f, 1} : (rv_val){other.i * alpha.i, 0, 0};
        } else { /* {opmath alpha}: a + alpha * b */
            e->op = OP_ADD, e->nin = 2, e->scalar = dt_load(st, fb);
        }
        return 1;
    }
    rv_dt args[4];
    int na = lambda_args(s, end, args, 4);
    e->fbytes = 1; /* the lambdas below capture nothing, but for compare_scalar and masked_fill */
    if ((p = strstr(s, "bitwise_not_kernel_cuda")) && p < end && na == 1) {
        e->op = OP_NOT, e->nin = 1, e->in[0] = e->out = args[0];
        return 1;
    }
    if ((p = strstr(s, "logical_not_kernel_cuda")) && p < end && na == 1) { /* into bool (torch's own output) */
        e->op = OP_LNOT, e->nin = 1, e->in[0] = args[0], e->out = 'b';
        return 1;
    }
    if ((p = strstr(s, "where_kernel_impl")) && p < end && na == 3 && args[0] == 'b' && args[1] == args[2]) {
        e->op = OP_WHERE, e->nin = 3, e->in[0] = 'b', e->in[1] = e->in[2] = e->out = args[1];
        return 1;
    }
    if ((p = strstr(s, "masked_fill_kernel")) && p < end && na == 2 && args[1] == 'b' &&
        (uint32_t)dt_size(args[0]) <= fsize) { /* closure {scalar_t value}: mask ? value : self */
        e->op = OP_MASKED_FILL, e->nin = 2, e->in[0] = e->out = args[0], e->in[1] = 'b';
        e->scalar = dt_load(args[0], fb), e->fbytes = (uint32_t)dt_size(args[0]);
        return 1;
    }
    if ((p = strstr(s, "direct_copy_kernel_cuda")) && p < end && na == 1) {
        e->op = OP_COPY, e->nin = 1, e->in[0] = e->out = args[0];
        return 1;
    }
    if ((p = strstr(s, "bfloat16_copy_kernel_cuda")) && p < end && na == 1 && args[0] == 'f') {
        e->op = OP_COPY, e->nin = 1, e->in[0] = 'f', e->out = 'B';
        return 1;
    }
    if ((p = strstr(s, "float16_copy_kernel_cuda")) && p < end && na == 1 && args[0] == 'f') {
        e->op = OP_COPY, e->nin = 1, e->in[0] = 'f', e->out = 'H';
        return 1;
    }
    if ((p = strstr(s, "launch_clamp_scalar")) && p < end && na == 1) {
        /* closure {ClampLimits minmax (Min, Max, MinMax); opmath lim0; opmath lim1} (torch 2.14's launches) */
        rv_dt st = opmath(args[0]);
        uint32_t sz = (uint32_t)dt_size(st), off = sz > 4 ? sz : 4;
        int32_t mode;
        memcpy(&mode, fb, 4);
        if (mode < 0 || mode > 2 || off + 2 * sz > fsize) return 0;
        e->op = OP_CLAMP, e->mode = mode, e->nin = 1, e->in[0] = e->out = args[0];
        e->scalar = dt_load(st, fb + off), e->scalar2 = dt_load(st, fb + off + sz), e->fbytes = off + 2 * sz;
        return 1;
    }
    if ((p = strstr(s, "compare_scalar_kernelI")) && p < end && na == 1 && dt_size(args[0]) == 8 && fsize >= 16) {
        /* closure {OpType op (GE, GT, LE, LT); scalar_t rhs at 8; ...} (read off torch 2.14's launches) */
        int32_t op;
        memcpy(&op, fb, 4);
        if (op < 0 || op > 3) return 0;
        e->op = OP_CMP, e->cmp = CMP_GE + op, e->nin = 1, e->in[0] = args[0], e->in[1] = args[0], e->out = 'b';
        e->scalar = dt_load(args[0], fb + 8), e->scalar_side = 2, e->fbytes = 0; /* its full size is not known */
        return 1;
    }
    return 0;
}

rv_val rv_as_float(rv_val v) { return v.isf ? v : (rv_val){0, (double)v.i, 1}; }
static int truth(rv_val v) { return v.isf ? v.f != 0 : v.i != 0; }

rv_val rv_apply_functor(const efun *e, rv_val a, rv_val b, rv_val c) {
    if (e->scalar_side == 1) b = a, a = e->scalar;
    else if (e->scalar_side == 2) b = e->scalar;
    int fl = a.isf || b.isf || (e->op == OP_SELF_ADD && e->scalar.isf);
    switch (e->op) {
    case OP_FILL: return e->scalar;
    case OP_COPY: return a;
    case OP_NOT: return e->in[0] == 'b' ? (rv_val){!a.i, 0, 0} : (rv_val){~a.i, 0, 0};
    case OP_LNOT: return (rv_val){!truth(a), 0, 0};
    case OP_LAND: return (rv_val){truth(a) && truth(b), 0, 0};
    case OP_LOR: return (rv_val){truth(a) || truth(b), 0, 0};
    case OP_LXOR: return (rv_val){truth(a) != truth(b), 0, 0};
    case OP_WHERE: return a.i ? b : c;
    case OP_MASKED_FILL: return b.i ? e->scalar : a;
    case OP_CLAMP: {
        if (a.isf) { /* NaN propagates */
            double x = a.f;
            if (x != x) return a;
            if (e->mode != 1 && x < rv_as_float(e->scalar).f) x = rv_as_float(e->scalar).f;
            if (e->mode != 0 && x > rv_as_float(e->scalar2).f) x = rv_as_float(e->scalar2).f;
            return (rv_val){0, x, 1};
        }
        int64_t x = a.i;
        if (e->mode != 1 && x < e->scalar.i) x = e->scalar.i;
        if (e->mode != 0 && x > e->scalar2.i) x = e->scalar2.i;
        return (rv_val){x, 0, 0};
    }
    case OP_REM: /* Python's modulo: the sign of the divisor */
        if (fl) {
            double x = rv_as_float(a).f, y = rv_as_float(b).f, r = fmod(x, y);
            return (rv_val){0, r != 0 && (r < 0) != (y < 0) ? r + y : r, 1};
        } else {
            if (!b.i) return (rv_val){0, 0, 0};
            int64_t r = a.i % b.i;
            return (rv_val){r != 0 && (r < 0) != (b.i < 0) ? r + b.i : r, 0, 0};
        }
    case OP_DIV_TRUNC:
        if (fl) return (rv_val){0, trunc(rv_as_float(a).f / rv_as_float(b).f), 1};
        return (rv_val){b.i ? a.i / b.i : 0, 0, 0};
    case OP_DIV_FLOOR:
        if (fl) return (rv_val){0, floor(rv_as_float(a).f / rv_as_float(b).f), 1};
        if (!b.i) return (rv_val){0, 0, 0};
        return (rv_val){a.i / b.i - ((a.i % b.i != 0) && ((a.i < 0) != (b.i < 0))), 0, 0};
    case OP_AND: return (rv_val){a.i & b.i, 0, 0};
    case OP_OR: return (rv_val){a.i | b.i, 0, 0};
    case OP_XOR: return (rv_val){a.i ^ b.i, 0, 0};
    case OP_MUL: return fl ? (rv_val){0, rv_as_float(a).f * rv_as_float(b).f, 1} : (rv_val){a.i * b.i, 0, 0};
    case OP_ADD: return fl ? (rv_val){0, rv_as_float(a).f + rv_as_float(e->scalar).f * rv_as_float(b).f, 1}
                           : (rv_val){a.i + e->scalar.i * b.i, 0, 0};
    case OP_SELF_ADD: return fl ? (rv_val){0, rv_as_float(a).f + rv_as_float(e->scalar).f, 1} : (rv_val){a.i + e->scalar.i, 0, 0};
    case OP_CMP: {
        int c;
        if (fl) {
            double x = rv_as_float(a).f, y = rv_as_float(b).f;
            c = e->cmp == CMP_EQ ? x == y : e->cmp == CMP_NE ? x != y : e->cmp == CMP_GE ? x >= y
              : e->cmp == CMP_GT ? x > y : e->cmp == CMP_LE ? x <= y : x < y;
        } else {
            int64_t x = a.i, y = b.i;
            c = e->cmp == CMP_EQ ? x == y : e->cmp == CMP_NE ? x != y : e->cmp == CMP_GE ? x >= y
              : e->cmp == CMP_GT ? x > y : e->cmp == CMP_LE ? x <= y : x < y;
        }
        return (rv_val){c, 0, 0};
    }
    default: return (rv_val){0, 0, 0};
    }
}

