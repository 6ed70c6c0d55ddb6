/* revati kernel features: a per-thread memo of rv_features, keyed on the launch with pointers masked.
 *
 * Most launches repeat an earlier one exactly once device pointers are masked (the same elementwise
 * kernel over the same element count, the same GEMM); formatting and hashing their args text again
 * is the costly part (a 1 KB parameter struct is ~2.5 KB of text). The memo classifies the parameter
 * bytes with the same rules as the writer (features.c: 8-byte device pointers, tensor maps), keeps a
 * masked copy as the key, and answers repeats by copying the stored texts. Hits are verified byte for
 * byte, so the output is always exactly what rv_features would write. A kernel whose op was read from
 * device memory (mem_read) keeps its slot but is computed afresh on every hit: the memory may have changed.
 */
#include <stdlib.h>
#include <string.h>

#include "mask.h"

#define SLOTS 1024

typedef struct entry {
    uint64_t key;
    const char *name;
    const uint16_t *off;
    unsigned dims[7];
    int nparams;
    size_t plen;
    unsigned char *masked; /* plen masked bytes, then plen / 8 + 1 mask flags */
    char *op_in;           /* the op context it was computed with ("" for none) */
    char *args;
    size_t args_len;
    char *op;
    size_t op_len;
    char sig[17];
    int mem; /* its op depended on device memory: computed afresh each time */
    uint64_t h_args;
} entry;

struct rv_feat_cache {
    entry slots[SLOTS];
    unsigned char *scratch;
    size_t scratch_cap;
};

rv_feat_cache *rv_feat_cache_new(void) { return calloc(1, sizeof(rv_feat_cache)); }

static void entry_clear(entry *e) {
    free(e->masked), free(e->op_in), free(e->args), free(e->op);
    memset(e, 0, sizeof *e);
}

void rv_feat_cache_free(rv_feat_cache *c) {
    if (!c) return;
    for (int i = 0; i < SLOTS; ++i) entry_clear(&c->slots[i]);
    free(c->scratch);
    free(c);
}

static uint64_t mix(uint64_t h, uint64_t v) {
    h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    return h * 0xff51afd7ed558ccdULL;
}

/* Zero n masked bytes at `at` and mark them (masked words are 8 apart, so at / 8 is theirs alone): a
 * masked pointer (null) must not look like a zero value (0), nor a tensor map like 16 pointers. */
static void mask_word(unsigned char *m, unsigned char *flags, size_t at, size_t n) {
    memset(m + at, 0, n);
    flags[at / 8] = n == 8 ? 1 : 2;
}

/* Masked copy of the parameter bytes (same rules as features.c put_param); returns 0 on no room. */
static int mask_params(rv_feat_cache *c, const rv_feat_in *in, size_t *len) {
    size_t plen = in->params && in->nparams > 0 ? in->params_len : 0;
    size_t need = plen + plen / 8 + 1;
    if (need > c->scratch_cap) {
        unsigned char *p = realloc(c->scratch, need);
        if (!p) return 0;
        c->scratch = p, c->scratch_cap = need;
    }
    unsigned char *m = c->scratch, *flags = m + plen;
    if (plen) memcpy(m, in->params, plen);
    memset(flags, 0, plen / 8 + 1);
    for (int i = 0; plen && i < in->nparams; ++i) {
        size_t off = in->param_off[i], size = in->param_size[i];
        if (off + size > plen || size == 0) continue;
        uint64_t v;
        if (size <= 8) {
            if (size < 8) continue;
            memcpy(&v, in->params + off, 8);
            if (rv_feat_masked(in, v)) mask_word(m, flags, off, 8);
            continue;
        }
        for (size_t j = 0; j < size;) {
            if (in->is_tensormap && (off + j) % 64 == 0 && j + 128 <= size && in->is_tensormap(in->params + off + j, in->user)) {
                mask_word(m, flags, off + j, 128);
                j += 128;
                continue;
            }
            if (size - j >= 8) {
                memcpy(&v, in->params + off + j, 8);
                if (rv_feat_masked(in, v)) mask_word(m, flags, off + j, 8);
            }
            j += 8;
        }
    }
    *len = need;
    return 1;
}

static char *dup_n(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (d) memcpy(d, s, n), d[n] = 0;
    return d;
}

/* Kernels whose op is decoded from bytes the mask may hide (the memory-efficient attention struct's
 * causal flag shares a word with uninitialised padding): never memoised. Mangled names start
 * "_Z<length>", so the test is a few byte compares. */
static int reads_masked_bytes(const char *name) {
    if (name[0] != '_' || name[1] != 'Z') return 0;
    const char *p = name + 2;
    while (*p >= '0' && *p <= '9') ++p;
    return !strncmp(p, "fmha_cutlassF", 13);
}

int rv_features_cached(rv_feat_cache *c, const rv_feat_in *in, rv_feat_out *out) {
    if (!c || !in || !in->name || reads_masked_bytes(in->name)) return rv_features(in, out);
    size_t mlen;
    if (!mask_params(c, in, &mlen)) return rv_features(in, out);
    const char *op_in = in->op_json ? in->op_json : "";
    unsigned dims[7] = {in->grid[0], in->grid[1], in->grid[2], in->block[0], in->block[1], in->block[2], in->smem};
    uint64_t h = mix((uint64_t)(uintptr_t)in->name, (uint64_t)in->nparams);
    for (int i = 0; i < 7; ++i) h = mix(h, dims[i]);
    size_t words = mlen / 8;
    for (size_t i = 0; i < words; ++i) {
        uint64_t v;
        memcpy(&v, c->scratch + 8 * i, 8);
        h = mix(h, v);
    }
    for (size_t i = words * 8; i < mlen; ++i) h = mix(h, c->scratch[i]);
    for (const char *p = op_in; *p; ++p) h = mix(h, (unsigned char)*p);
    entry *e = &c->slots[h % SLOTS];
    if (e->masked && e->key == h && e->name == in->name && e->off == in->param_off && e->nparams == in->nparams &&
        e->plen == mlen && !memcmp(e->dims, dims, sizeof dims) && !memcmp(e->masked, c->scratch, mlen) &&
        !strcmp(e->op_in, op_in)) {
        if (e->mem) return rv_features(in, out);
        out->mem_read = 0;
        memcpy(out->args, e->args, e->args_len + 1), out->args_len = e->args_len;
        memcpy(out->op, e->op, e->op_len + 1), out->op_len = e->op_len;
        memcpy(out->sig, e->sig, sizeof out->sig);
        out->h_args = e->h_args;
        return 0;
    }
    int r = rv_features(in, out);
    if (r != 0) return r;
    entry_clear(e);
    e->masked = malloc(mlen ? mlen : 1);
    e->op_in = dup_n(op_in, strlen(op_in));
    e->args = dup_n(out->args, out->args_len);
    e->op = dup_n(out->op, out->op_len);
    if (!e->masked || !e->op_in || !e->args || !e->op) {
        entry_clear(e);
        return 0;
    }
    memcpy(e->masked, c->scratch, mlen);
    e->key = h, e->name = in->name, e->off = in->param_off, e->nparams = in->nparams, e->plen = mlen;
    memcpy(e->dims, dims, sizeof dims);
    e->args_len = out->args_len, e->op_len = out->op_len;
    memcpy(e->sig, out->sig, sizeof e->sig);
    e->mem = out->mem_read != 0;
    e->h_args = out->h_args;
    return 0;
}
