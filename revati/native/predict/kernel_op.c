/* revati predictor core: kernel ops decoded again from recorded arguments (rv_pf_kernel_op_from_words). */
#include <string.h>

#include "revati/features.h"
#include "revati/predict.h"

size_t rv_pf_kernel_op_from_words(const char *name, const unsigned grid[3], const unsigned block[3],
                                  const uint64_t *words, int nwords, char *dst, size_t n) {
    if (!name || !words || nwords <= 0 || nwords > RV_FEAT_PARAMS_MAX / 8 || !dst || !n) return 0;
    uint16_t off = 0, size = (uint16_t)(nwords * 8);
    rv_feat_in in = {.name = name, .params = (const unsigned char *)words, .params_len = size, .nparams = 1,
                     .param_off = &off, .param_size = &size};
    memcpy(in.grid, grid, sizeof in.grid);
    memcpy(in.block, block, sizeof in.block);
    size_t len = rv_feat_kernel_op(&in, dst, n);
    if (len < n) dst[len] = 0;
    return len;
}
