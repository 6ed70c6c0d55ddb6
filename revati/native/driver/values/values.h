/* revati driver: values the host reads back (taint of device bytes, host-executed kernels, token policy). */
#ifndef REVATI_DRIVER_VALUES_H
#define REVATI_DRIVER_VALUES_H

#include "../internal.h"

/* ---- hooks called by the launch, graph and copy paths ---- */

/* A kernel runs (a launch or a graph replay's node): computed on the host when its family is known
 * (values/families.c), else every device range it may write is tainted with it as the producer. */
void rv_values_kernel(int dev, const rv_kernel_op *k, uint64_t corr);
/* At most this many pointer words of a parameter buffer are tainted. */
#define RV_VALUES_MAX_PTRS 128
/* What a graph node's tracking looks up once and reuses at its replays: its parameter words that point
 * into allocations (valid while rv_alloc_gen() is gen). Zeroed: empty. */
typedef struct rv_values_memo {
    uint64_t gen;
    uint64_t (*pl)[2]; /* (pointer, limit of its allocation), sorted by pointer */
    int n, filled;
} rv_values_memo;
/* rv_values_kernel for a graph node whose parameter buffer stays the same between calls, with its memo. */
void rv_values_kernel_memo(int dev, const rv_kernel_op *k, uint64_t corr, rv_values_memo *m);
/* Empty the memo (its node's launch changed, or the node goes away). */
void rv_values_memo_reset(rv_values_memo *m);
/* A copy of n bytes from src to dst of kind HtoD/DtoH/DtoD/PtoP/HtoH happened; site is the API name.
 * HtoD clears the destination's taint, DtoD/PtoP carry the source's taint over, DtoH of tainted bytes
 * is a value read (a `value-read` event; the token policy may write the bytes the host receives). */
void rv_values_copy(const char *kind, uint64_t dst, uint64_t src, uint64_t n, int dev, const char *site);
/* A memset or a freed allocation: the range holds known values (or none) again. */
void rv_values_clear(uint64_t dst, uint64_t n);
/* The tag a host runner gave this thread's next launch (revati_values_tag_next_launch), cleared: a
 * captured launch keeps it, and its graph replays ask the runner to compute it (0: none). */
uint64_t rv_values_take_tag(void);
/* Whether a kernel is one of FlashAttention's (namespace flash), whose taint over the buffers it only
 * reads (sequence lengths) never replaces another producer's. */
int rv_values_flash_kernel(const char *name);
/* Whether value tracking is on (REVATI_VALUES, default 1). */
int rv_values_on(void);
/* Count a kernel computed on the host (for rv_values_stats). */
void rv_values_count_computed(void);

/* ---- taint map (values/taint.c): device ranges last written by a kernel that did not run ---- */

typedef struct rv_taint {
    uint64_t start, end;  /* [start, end) */
    uint64_t origin;      /* the pointer the producer received (a tensor's start) */
    const rv_func *producer;
    uint64_t seq;         /* the producer's kernel ordinal in this process */
    uint64_t corr;        /* the producer launch's correlation id */
    int exact;            /* the producer's output extent is known (a family), not guessed */
    uint32_t vocab;       /* token ids in [0, vocab) (an argmax over vocab entries, or a copy of one); 0: not ids */
    uint32_t tok_size;    /* bytes per token id (4 or 8) */
} rv_taint;

void rv_taint_mark(const rv_taint *t);
/* Mark a guessed extent: as rv_taint_mark, but ended before any marked range that belongs to another
 * tensor (whose origin lies inside the guess past its start), so that tensor keeps its own taint. */
void rv_taint_mark_guess(const rv_taint *t);
void rv_taint_clear(uint64_t start, uint64_t end);
/* The first tainted range overlapping [start, end): 1 and *out, else 0. With strong set, only a range
 * that is exact, or whose producer received a pointer inside [start, end), counts: a guessed extent
 * that merely reaches into the range from a neighbouring tensor does not. */
int rv_taint_find(uint64_t start, uint64_t end, int strong, rv_taint *out);
/* Copy the taint of [src, src+n) onto [dst, dst+n) (the destination's own taint is replaced). */
void rv_taint_copy(uint64_t dst, uint64_t src, uint64_t n);
/* Number of tainted ranges (tests, benchmarks). */
int rv_taint_count(void);

/* ---- host execution (values/families.c) ---- */

/* Compute k on the host into device memory when its family is known and its inputs are readable:
 * 1 (outputs written; their taint cleared or carried from tainted inputs), 0 (not computed). */
int rv_values_compute(const rv_kernel_op *k, uint64_t seq, uint64_t corr);

/* ---- sampled tokens (values/tokens.c) ---- */

/* The host reads n bytes at device address src (into host dst) that t says are token ids: under the
 * token policy (REVATI_TOKEN_POLICY) the ids are drawn, written to both the device bytes and the host
 * copy, and the device range's taint cleared (later reads see the same ids). *policy names what was
 * done ("stale" when nothing was); returns 1 when ids were written. */
int rv_tokens_apply(const rv_taint *t, uint64_t src, void *dst, uint64_t n, const char **policy);

#endif
