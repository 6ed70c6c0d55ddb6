/* revati driver: kernel families computed on the host, from a kernel's mangled name and its parameters.
 *
 * Families (each also documented in docs/driver.md, "Values the host reads back"):
 *   at::native::vectorized_elementwise_kernel<V, F, array<char*,K>>(int N, F, data)   contiguous, no casts
 *   at::native::unrolled_elementwise_kernel<F, array<char*,K>, ..., LoadWith[out]Cast, StoreWith[out]Cast>
 *                                                                                       contiguous, with casts
 *   at::native::reduce_kernel<..., ReduceOp<T, ops, uint32 index, out>>(ReduceOp)       (reduce.c)
 * with functors F: FillFunctor<T>, BinaryFunctor/AUnaryFunctor/BUnaryFunctor over BitwiseAnd/Or/Xor,
 * Mul, CompareEq and Compare (ge/gt/le/lt), CUDAFunctor_add, CUDAFunctorOnSelf_add, and the lambdas of
 * bitwise_not_kernel_cuda, direct_copy_kernel_cuda, bfloat16/float16_copy_kernel_cuda (copies and casts)
 * and compare_scalar_kernel.
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

int rv_param_at(const rv_kernel_op *k, int i, uint32_t *size) {
    const rv_func *f = k->f;
    if (i >= f->nparams || (uint32_t)f->param_off[i] + f->param_size[i] > k->param_bytes) return -1;
    if (size) *size = f->param_size[i];
    return f->param_off[i];
}

/* ---- functors ---------------------------------------------------------------------------- */

enum { OP_FILL = 1, OP_COPY, OP_NOT, OP_AND, OP_OR, OP_XOR, OP_MUL, OP_ADD, OP_SELF_ADD, OP_CMP };
enum { CMP_EQ, CMP_NE, CMP_GE, CMP_GT, CMP_LE, CMP_LT };

typedef struct {
    int op, nin, cmp;
    rv_dt in[2], out;  /* the functor's argument and result types */
    rv_val scalar;     /* fill value, alpha, or a scalar operand */
    int scalar_side;   /* 0: none, 1: scalar is the left operand (AUnary), 2: the right (BUnary) */
} efun;

/* The opmath type of t (what torch computes a scalar operand in). */
static rv_dt opmath(rv_dt t) { return t == 'H' || t == 'B' ? 'f' : t; }

static const char *after(const char *s, const char *pat) {
    const char *p = strstr(s, pat);
    return p ? p + strlen(pat) : NULL;
}

/* The inner functor of Binary/AUnary/BUnaryFunctor: op, comparison, and the functor's own size. */
static int parse_inner(const char *p, const uint8_t *fb, efun *e, int *inner_size) {
    *inner_size = 1;
    const char *q;
    if ((q = strstr(p, "BitwiseAndFunctor")) && q - p < 40) return e->op = OP_AND, 1;
    if ((q = strstr(p, "BitwiseOrFunctor")) && q - p < 40) return e->op = OP_OR, 1;
    if ((q = strstr(p, "BitwiseXorFunctor")) && q - p < 40) return e->op = OP_XOR, 1;
    if ((q = strstr(p, "MulFunctor")) && q - p < 60) return e->op = OP_MUL, 1;
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
static int parse_functor(const char *s, const char *end, const uint8_t *fb, uint32_t fsize, efun *e) {
    memset(e, 0, sizeof *e);
    const char *p;
    if (!strncmp(s, "NS0_11FillFunctorI", 18)) {
        p = s + 18;
        rv_dt t = dt_parse(&p);
        if (!t || (uint32_t)dt_size(t) > fsize) return 0;
        e->op = OP_FILL, e->out = t, e->scalar = dt_load(t, fb);
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
            e->nin = 2, e->in[0] = a, e->in[1] = b;
            return 1;
        }
        rv_dt st = opmath(kind == 1 ? a : b); /* {inner f; opmath scalar} */
        uint32_t sz = (uint32_t)dt_size(st), off = (uint32_t)((inner + sz - 1) / sz * sz);
        if (off + sz > fsize) return 0;
        e->nin = 1, e->in[0] = kind == 1 ? b : a, e->in[1] = st;
        e->scalar = dt_load(st, fb + off), e->scalar_side = kind;
        return 1;
    }
    if (!strncmp(s, "NS0_15CUDAFunctor_addI", 22) || !strncmp(s, "NS0_21CUDAFunctorOnSelf_addI", 28)) {
        int self = s[4] == '2';
        p = s + (self ? 28 : 22);
        rv_dt t = dt_parse(&p), st = opmath(t);
        uint32_t sz = (uint32_t)dt_size(st);
        if (!t || (self ? 2 : 1) * sz > fsize) return 0;
        e->in[0] = e->in[1] = e->out = t;
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
    if ((p = strstr(s, "bitwise_not_kernel_cuda")) && p < end && na == 1) {
        e->op = OP_NOT, e->nin = 1, e->in[0] = e->out = args[0];
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
    if ((p = strstr(s, "compare_scalar_kernelI")) && p < end && na == 1 && dt_size(args[0]) == 8 && fsize >= 16) {
        /* closure {OpType op (GE, GT, LE, LT); scalar_t rhs at 8; ...} (read off torch 2.14's launches) */
        int32_t op;
        memcpy(&op, fb, 4);
        if (op < 0 || op > 3) return 0;
        e->op = OP_CMP, e->cmp = CMP_GE + op, e->nin = 1, e->in[0] = args[0], e->in[1] = args[0], e->out = 'b';
        e->scalar = dt_load(args[0], fb + 8), e->scalar_side = 2;
        return 1;
    }
    return 0;
}

static rv_val as_float(rv_val v) { return v.isf ? v : (rv_val){0, (double)v.i, 1}; }

static rv_val apply(const efun *e, rv_val a, rv_val b) {
    if (e->scalar_side == 1) b = a, a = e->scalar;
    else if (e->scalar_side == 2) b = e->scalar;
    int fl = a.isf || b.isf || (e->op == OP_SELF_ADD && e->scalar.isf);
    switch (e->op) {
    case OP_FILL: return e->scalar;
    case OP_COPY: return a;
    case OP_NOT: return e->in[0] == 'b' ? (rv_val){!a.i, 0, 0} : (rv_val){~a.i, 0, 0};
    case OP_AND: return (rv_val){a.i & b.i, 0, 0};
    case OP_OR: return (rv_val){a.i | b.i, 0, 0};
    case OP_XOR: return (rv_val){a.i ^ b.i, 0, 0};
    case OP_MUL: return fl ? (rv_val){0, as_float(a).f * as_float(b).f, 1} : (rv_val){a.i * b.i, 0, 0};
    case OP_ADD: return fl ? (rv_val){0, as_float(a).f + as_float(e->scalar).f * as_float(b).f, 1}
                           : (rv_val){a.i + e->scalar.i * b.i, 0, 0};
    case OP_SELF_ADD: return fl ? (rv_val){0, as_float(a).f + as_float(e->scalar).f, 1} : (rv_val){a.i + e->scalar.i, 0, 0};
    case OP_CMP: {
        int c;
        if (fl) {
            double x = as_float(a).f, y = as_float(b).f;
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

/* Run e over n contiguous elements: out = data[0] (type ot), inputs data[1..] (types it[]). */
static int run(const rv_kernel_op *k, const efun *e, int64_t n, uint64_t *data, int ndata, rv_dt ot, const rv_dt *it,
               uint64_t seq, uint64_t corr) {
    if (n < 0 || ndata != e->nin + 1 || !ot) return FAM_NO;
    uint64_t obytes = (uint64_t)n * (uint64_t)dt_size(ot);
    if (!rv_range_ok(data[0], obytes)) return FAM_NO;
    int tainted = (uint64_t)n > rv_compute_max();
    rv_taint in = {0};
    for (int j = 0; j < e->nin && !tainted; ++j) {
        uint64_t ib = (uint64_t)n * (uint64_t)dt_size(it[j]);
        if (!it[j] || !rv_range_ok(data[1 + j], ib)) return FAM_NO;
        tainted = rv_range_tainted(data[1 + j], ib, &in);
    }
    if (tainted) { /* a copy or cast of token ids is token ids */
        int ids = e->op == OP_COPY && in.vocab && !dt_float(ot);
        rv_taint_output(k, data[0], obytes, seq, corr, ids ? in.vocab : 0, ids ? (uint32_t)dt_size(ot) : 0);
        return FAM_TAINTED;
    }
    int osz = dt_size(ot), s0 = e->nin > 0 ? dt_size(it[0]) : 0, s1 = e->nin > 1 ? dt_size(it[1]) : 0;
    for (int64_t i = 0; i < n; ++i) {
        rv_val a = {0, 0, 0}, b = {0, 0, 0};
        if (e->nin > 0) a = dt_load(it[0], (const void *)(data[1] + (uint64_t)i * s0));
        if (e->nin > 1) b = dt_load(it[1], (const void *)(data[2] + (uint64_t)i * s1));
        /* a cast on load: the functor sees its own argument type */
        if (e->nin > 0 && dt_float(e->in[0]) && !a.isf) a = as_float(a);
        if (e->nin > 0 && !dt_float(e->in[0]) && a.isf) a = (rv_val){(int64_t)a.f, 0, 0};
        if (e->nin > 1 && dt_float(e->in[1]) && !b.isf) b = as_float(b);
        if (e->nin > 1 && !dt_float(e->in[1]) && b.isf) b = (rv_val){(int64_t)b.f, 0, 0};
        if (e->in[0] == 'b' && e->nin > 0) a.i = a.i != 0;
        dt_store(ot, (void *)(data[0] + (uint64_t)i * osz), apply(e, a, b));
    }
    rv_taint_clear(data[0], data[0] + obytes);
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
    if (ndata < 1 || ndata > 3 || k->f->nparams != (vec ? 3 : 7)) return FAM_NO;
    uint32_t nsz, fsz, dsz;
    int on = rv_param_at(k, 0, &nsz), of = rv_param_at(k, 1, &fsz), od = rv_param_at(k, 2, &dsz);
    if (on < 0 || of < 0 || od < 0 || nsz != 4 || dsz != (uint32_t)ndata * 8) return FAM_NO;
    int32_t n;
    memcpy(&n, k->params + on, 4);
    uint64_t data[3];
    memcpy(data, k->params + od, dsz);
    efun e;
    if (!parse_functor(s, arr, k->params + of, fsz, &e)) return FAM_NO;
    rv_dt it[2] = {e.in[0], e.in[1]}, ot = e.out;
    if (!vec && strstr(arr, "LoadWithCast")) { /* LoadWithCast<nin>{dtypes[nin], sizes[nin]}, StoreWithCast<1> */
        uint32_t lsz, ssz;
        int ol = rv_param_at(k, 5, &lsz), os = rv_param_at(k, 6, &ssz);
        if (ol < 0 || os < 0 || (int)lsz < e.nin || ssz < 1) return FAM_NO;
        for (int j = 0; j < e.nin; ++j)
            if (!(it[j] = dt_from_scalar_type(k->params[ol + j]))) return FAM_NO;
        if (!(ot = dt_from_scalar_type(k->params[os]))) return FAM_NO;
    }
    return run(k, &e, n, data, ndata, ot, it, seq, corr);
}

int rv_values_compute(const rv_kernel_op *k, uint64_t seq, uint64_t corr) {
    if (!k->f || !k->f->name || k->f->nparams < 0 || strncmp(k->f->name, "_ZN2at6native", 13)) return 0;
    int r = rv_fam_elementwise(k, seq, corr);
    if (r == FAM_NO) r = rv_fam_reduce(k, seq, corr);
    if (rv_log_enabled(RV_LOG_DEBUG)) { /* the parameter bytes help to add a family */
        char hex[2 * 96 + 1];
        uint32_t n = k->param_bytes < 96 ? k->param_bytes : 96;
        for (uint32_t i = 0; i < n; ++i) snprintf(hex + 2 * i, 3, "%02x", k->params[i]);
        hex[2 * n] = 0;
        rv_debug("values: %s %s [%s]", r == FAM_COMPUTED ? "computed" : r == FAM_TAINTED ? "not computed (inputs)" : "unknown",
                 k->f->name, hex);
    }
    if (r == FAM_COMPUTED) rv_values_count_computed();
    return r != FAM_NO;
}
