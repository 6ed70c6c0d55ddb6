/* revati kernel features: which 8-byte values are written as null (shared by features.c and cache.c,
 * so that the memo classifies bytes exactly as the writer does). */
#ifndef REVATI_FEATURES_MASK_H
#define REVATI_FEATURES_MASK_H

#include "revati/features.h"

/* The upper user address range of x86-64 and aarch64 Linux processes, where PIE heaps, mmap regions
 * and stacks live: such a value is a host address or stack bytes left in padding. It differs from
 * run to run and says nothing about the work (no size or count a kernel takes comes near 9e13). The
 * rule lives here, not in a caller's callback, so the stand-in and the profile shim agree. */
#define RV_FEAT_HOST_LO 0x550000000000ULL
#define RV_FEAT_HOST_HI 0x800000000000ULL

static inline int rv_feat_masked(const rv_feat_in *in, uint64_t v) {
    if (v >= RV_FEAT_HOST_LO && v < RV_FEAT_HOST_HI) return 1;
    return in->is_devptr && in->is_devptr(v, in->user);
}

#endif
