/* revati driver: cuGetProcAddress over the generated (name, ABI version) table. */
#include <string.h>

#include "internal.h"
#include "proc_table.h"

/* First row whose name is >= name (rows are sorted by name, then version). */
static int lower_bound(const char *name) {
    int lo = 0, hi = rv_proc_table_len;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (strcmp(rv_proc_table[mid].name, name) < 0) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* The symbol for (name, version, flags): the newest ABI not newer than the caller's version; the
 * per-thread flavour when asked for and it exists. */
static CUresult lookup(const char *symbol, void **pfn, int version, cuuint64_t flags,
                       CUdriverProcAddressQueryResult *status) {
    if (!symbol || !pfn) return CUDA_ERROR_INVALID_VALUE;
    *pfn = NULL;
    int want_pt = (flags & CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM) != 0;
    int i = lower_bound(symbol), any = 0, has_pt = 0;
    for (int j = i; j < rv_proc_table_len && !strcmp(rv_proc_table[j].name, symbol); ++j) has_pt |= rv_proc_table[j].per_thread;
    const rv_proc_entry *best = NULL;
    for (int j = i; j < rv_proc_table_len && !strcmp(rv_proc_table[j].name, symbol); ++j) {
        const rv_proc_entry *e = &rv_proc_table[j];
        any = 1;
        if (e->per_thread != (want_pt && has_pt)) continue;
        if (e->version <= version && (!best || e->version >= best->version)) best = e;
    }
    if (!best) {
        if (status) *status = any ? CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT : CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
        return CUDA_ERROR_NOT_FOUND;
    }
    if (status) *status = CU_GET_PROC_ADDRESS_SUCCESS;
    *pfn = best->fn;
    return CUDA_SUCCESS;
}

// cuGetProcAddress_v2: newest entry with ABI version <= cudaVersion; unknown names -> CUDA_ERROR_NOT_FOUND + status
RV_EXPORT CUresult cuGetProcAddress_v2(const char *symbol, void **pfn, int cudaVersion, cuuint64_t flags,
                                       CUdriverProcAddressQueryResult *symbolStatus) {
    API_ENTER();
    API_ARGS("%.100s@%d/%llu", symbol ? symbol : "(null)", cudaVersion, (unsigned long long)flags);
    API_RETURN(lookup(symbol, pfn, cudaVersion, flags, symbolStatus));
}

// cuGetProcAddress: as cuGetProcAddress_v2 without the status out-parameter
RV_EXPORT CUresult cuGetProcAddress(const char *symbol, void **pfn, int cudaVersion, cuuint64_t flags) {
    API_ENTER();
    API_ARGS("%.100s@%d/%llu", symbol ? symbol : "(null)", cudaVersion, (unsigned long long)flags);
    API_RETURN(lookup(symbol, pfn, cudaVersion, flags, NULL));
}
