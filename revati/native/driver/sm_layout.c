/* Export-table `1734dc26` slots 4 and 13: the GPU's TPC layout, which cuBLASLt reads (issue 16).
 *
 * Slot 4 is `CUresult (void **bytes, void **handle)`: *bytes gets one byte per TPC (two SMs), the GPC
 * that TPC sits in, in the driver's TPC order. cuBLASLt calls it once per process, takes the first
 * sm_count / 2 bytes, and orders the clusters of its nvjet GEMM kernels GPC by GPC from them: the
 * 128-byte table it builds is one of every nvjet kernel's parameters. Slot 13,
 * `CUresult (void *bytes, void *handle)`, gives both back. With *bytes NULL (the stand-in's first
 * answer) cuBLASLt falls back to the identity order 0..127, which a real card never gives.
 *
 * The layout is the profile's `tpc_gpc` (one real card's answer: floorsweeping differs from chip to
 * chip); a profile without one answers NULL, as before, and counts the slot as not implemented for
 * that device. docs/export-tables.md has the evidence. */
#include <pthread.h>
#include <stdlib.h>

#include "revati/devconf.h"
#include "revati/export_tables.h"
#include "revati/trace.h"

enum { MAX_TPCS = 128 };

static unsigned char layout[MAX_TPCS];
static int layout_len;
static pthread_once_t layout_once = PTHREAD_ONCE_INIT;

static void parse_layout(void) {
    for (const char *p = rv_devconf_get()->tpc_gpc; *p && layout_len < MAX_TPCS;) {
        char *end;
        long gpc = strtol(p, &end, 10);
        if (end == p || gpc < 0 || gpc > 255) break;
        layout[layout_len++] = (unsigned char)gpc;
        p = *end == ',' ? end + 1 : end;
    }
}

// 1734dc26[4]: the TPC -> GPC bytes of the profile; NULL when the profile has no layout
CUresult rv_sm_layout_get(void **bytes, void **handle) {
    if (!bytes || !handle) return CUDA_ERROR_INVALID_VALUE;
    pthread_once(&layout_once, parse_layout);
    if (!layout_len) rv_unimplemented("cuGetExportTable 1734dc26[4] (no tpc_gpc in the profile: answers NULL)");
    *bytes = layout_len ? (void *)layout : NULL;
    *handle = NULL;
    return CUDA_SUCCESS;
}

// 1734dc26[13]: give back what slot 4 answered (a static array here: nothing to free)
CUresult rv_sm_layout_release(void *bytes, void *handle) {
    (void)bytes, (void)handle;
    return CUDA_SUCCESS;
}
