/* revati driver: shared pieces of the host-executed kernel families (families.c, reduce.c). */
#ifndef REVATI_DRIVER_VALUES_FAMILIES_H
#define REVATI_DRIVER_VALUES_FAMILIES_H

#include "dtype.h"
#include "values.h"

/* What a family did with a launch. */
enum { FAM_NO = 0, FAM_COMPUTED = 1, FAM_TAINTED = 2 };

/* Elements a launch may have for host execution (REVATI_COMPUTE_MAX, default 65536). */
uint64_t rv_compute_max(void);
/* Whether [p, p+n) lies inside one device allocation (so host loads and stores are safe). */
int rv_range_ok(uint64_t p, uint64_t n);
/* Whether [p, p+n) holds bytes a kernel that did not run wrote (*t: which, when t is not NULL). */
int rv_range_tainted(uint64_t p, uint64_t n, rv_taint *t);
/* Taint [p, p+n) exactly, with k as the producer; vocab/tok_size tag token ids (0: none). */
void rv_taint_output(const rv_kernel_op *k, uint64_t p, uint64_t n, uint64_t seq, uint64_t corr, uint32_t vocab,
                     uint32_t tok_size);
/* Token ids through element copies (cat, index_select, gather, index): a family whose copied input holds
 * no tainted bytes but exact token ids of its element size still runs, copying the known elements and
 * carrying each copied id's taint (its vocab) to where it lands; a host read then draws ids for those
 * elements only. rv_range_token_ids: whether [p, p+n) is tainted only so (and at all); tok_size 0: ids
 * of any size (a copy of whole rows). */
int rv_range_token_ids(uint64_t p, uint64_t n, uint32_t tok_size);
#define RV_CARRY_MAX_RUNS 4096
typedef struct {
    uint64_t dst, src, n; /* the pending run */
    int runs;
} rv_carry;
/* Copy n bytes src -> dst, their taint carried along (adjacent copies join one run); 0 past
 * RV_CARRY_MAX_RUNS runs (the caller taints its whole output instead). rv_carry_flush carries the last. */
int rv_carry_copy(rv_carry *c, uint64_t dst, uint64_t src, uint64_t n);
void rv_carry_flush(rv_carry *c);
/* A parameter's bytes: its offset in k->params, or -1 when k has fewer parameters or a bad layout. */
int rv_param_at(const rv_kernel_op *k, int i, uint32_t *size);

/* torch's OffsetCalculator<nargs>: {int dims; IntDivider sizes[25] (12 bytes, divisor first);
 * uint32 strides[25][nargs]} with byte strides. */
#define RV_MAX_DIMS 25
#define RV_CALC_BYTES(nargs) (4 + RV_MAX_DIMS * 12 + RV_MAX_DIMS * (nargs) * 4)

static inline uint32_t rd32u(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }

/* Byte offset of linear index idx for argument arg of the OffsetCalculator<nargs> at c. */
static inline uint64_t rv_calc_get(const uint8_t *c, int nargs, uint32_t idx, int arg) {
    int dims = (int)rd32u(c);
    uint64_t off = 0;
    for (int d = 0; d < dims && d < RV_MAX_DIMS; ++d) {
        uint32_t div = rd32u(c + 4 + d * 12);
        if (!div) return off;
        uint32_t q = idx / div, r = idx % div;
        off += (uint64_t)r * rd32u(c + 4 + RV_MAX_DIMS * 12 + (d * nargs + arg) * 4);
        idx = q;
    }
    return off;
}

/* ---- elementwise functors (functors.c) ---- */

enum { OP_FILL = 1, OP_COPY, OP_NOT, OP_AND, OP_OR, OP_XOR, OP_MUL, OP_ADD, OP_SELF_ADD, OP_CMP, OP_LNOT, OP_LAND,
       OP_LOR, OP_LXOR, OP_WHERE, OP_MASKED_FILL, OP_CLAMP, OP_REM, OP_DIV_TRUNC, OP_DIV_FLOOR };
enum { CMP_EQ, CMP_NE, CMP_GE, CMP_GT, CMP_LE, CMP_LT };

typedef struct {
    int op, nin, cmp;
    rv_dt in[3], out;  /* the functor's argument and result types */
    rv_val scalar;     /* fill value, alpha, a scalar operand, or clamp's lower limit */
    rv_val scalar2;    /* clamp's upper limit */
    int mode;          /* clamp: 0 min only, 1 max only, 2 both (ClampLimits) */
    int scalar_side;   /* 0: none, 1: scalar is the left operand (AUnary), 2: the right (BUnary) */
    uint32_t fbytes;   /* sizeof the functor (0: not known) */
} efun;

/* Decode functor F (its name text [s, end), its bytes fb of fsize) into e; 0 when not a known functor. */
int rv_parse_functor(const char *s, const char *end, const uint8_t *fb, uint32_t fsize, efun *e);
/* e applied to its arguments (a, b, c as many as e->nin; cast to the functor's types by the caller). */
rv_val rv_apply_functor(const efun *e, rv_val a, rv_val b, rv_val c);
rv_val rv_as_float(rv_val v);

/* ---- families ---- */

int rv_fam_elementwise(const rv_kernel_op *k, uint64_t seq, uint64_t corr);
int rv_fam_reduce(const rv_kernel_op *k, uint64_t seq, uint64_t corr);
int rv_fam_legacy(const rv_kernel_op *k, uint64_t seq, uint64_t corr);
int rv_fam_arange(const rv_kernel_op *k, uint64_t seq, uint64_t corr);
int rv_fam_scan(const rv_kernel_op *k, uint64_t seq, uint64_t corr);
int rv_fam_index_select(const rv_kernel_op *k, uint64_t seq, uint64_t corr);
int rv_fam_gather(const rv_kernel_op *k, uint64_t seq, uint64_t corr);
int rv_fam_cat(const rv_kernel_op *k, uint64_t seq, uint64_t corr);
int rv_fam_index(const rv_kernel_op *k, uint64_t seq, uint64_t corr);
int rv_fam_nonzero(const rv_kernel_op *k, uint64_t seq, uint64_t corr);

#endif
