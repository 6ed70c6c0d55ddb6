/* revati predictor core: kernel ops and signatures computed again from recorded arguments. */
#include <stdio.h>
#include <string.h>

#include "revati/features.h"
#include "revati/predict.h"

size_t rv_pf_kernel_op_from_params(const char *name, const unsigned grid[3], const unsigned block[3],
                                   const uint64_t *words, const uint16_t *off, const uint16_t *size, int nparams,
                                   char *dst, size_t n) {
    if (!name || !words || nparams <= 0 || !off || !size || !dst || !n) return 0;
    size_t len = 0;
    for (int i = 0; i < nparams; ++i)
        if ((size_t)off[i] + size[i] > len) len = (size_t)off[i] + size[i];
    if (len == 0 || len > RV_FEAT_PARAMS_MAX) return 0;
    rv_feat_in in = {.name = name, .params = (const unsigned char *)words, .params_len = len, .nparams = nparams,
                     .param_off = off, .param_size = size};
    memcpy(in.grid, grid, sizeof in.grid);
    memcpy(in.block, block, sizeof in.block);
    size_t w = rv_feat_kernel_op(&in, dst, n, NULL);
    if (w < n) dst[w] = 0;
    return w;
}

size_t rv_pf_kernel_op_from_words(const char *name, const unsigned grid[3], const unsigned block[3],
                                  const uint64_t *words, int nwords, char *dst, size_t n) {
    if (nwords <= 0 || nwords > RV_FEAT_PARAMS_MAX / 8) return 0;
    uint16_t off = 0, size = (uint16_t)(nwords * 8);
    return rv_pf_kernel_op_from_params(name, grid, block, words, &off, &size, 1, dst, n);
}

static uint64_t hash_u(uint64_t h, unsigned long long v, char sep) {
    char tmp[32];
    int w = snprintf(tmp, sizeof tmp, "%c%llu", sep, v);
    return rv_fnv1a(h, tmp, (size_t)w);
}

void rv_pf_sig(const char *name, const unsigned grid[3], const unsigned block[3], unsigned smem, const char *args,
               const char *op, char out[17]) {
    /* the features unit's "name|gx,gy,gz|bx,by,bz|smem|args|op" (features.c) */
    uint64_t h = rv_fnv1a(RV_FNV_OFFSET, name, strlen(name));
    for (int i = 0; i < 3; ++i) h = hash_u(h, grid[i], i ? ',' : '|');
    for (int i = 0; i < 3; ++i) h = hash_u(h, block[i], i ? ',' : '|');
    h = hash_u(h, smem, '|');
    h = rv_fnv1a(h, "|", 1);
    if (args) h = rv_fnv1a(h, args, strlen(args));
    h = rv_fnv1a(h, "|", 1);
    if (op) h = rv_fnv1a(h, op, strlen(op));
    static const char hex[] = "0123456789abcdef";
    for (int i = 15; i >= 0; --i, h >>= 4) out[i] = hex[h & 15];
    out[16] = 0;
}
