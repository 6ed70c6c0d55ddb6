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
/* A parameter's bytes: its offset in k->params, or -1 when k has fewer parameters or a bad layout. */
int rv_param_at(const rv_kernel_op *k, int i, uint32_t *size);

int rv_fam_elementwise(const rv_kernel_op *k, uint64_t seq, uint64_t corr);
int rv_fam_reduce(const rv_kernel_op *k, uint64_t seq, uint64_t corr);

#endif
