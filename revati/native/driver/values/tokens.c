/* revati driver: the sampled-token policy for token ids the host reads from kernels that did not run. */
#include "values.h"

int rv_tokens_apply(const rv_taint *t, void *dst, uint64_t n, const char **policy) {
    *policy = "stale";
    return 0;
}
