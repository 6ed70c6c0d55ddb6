/* revati profile shim: CUPTI activity records of kernels, copies and memsets as `kact`/`cpy`/`set` lines.
 *
 * Concurrent-kernel records (not the serialising KERNEL kind) carry the real start and end on the GPU,
 * the correlation id of the launching call and, for a kernel replayed from a CUDA graph, the graph and
 * node ids that inject.c's `gnode`/`gclone` lines resolve to the launch that created the node. */
#include <stdio.h>
#include <stdlib.h>

#include "profile.h"

#define BUF_BYTES (8u << 20)

/* the newest kernel record the headers know (CUDA 13 headers: version 10; it extends version 9) */
#if CUPTI_API_VERSION >= 130000
typedef CUpti_ActivityKernel10 rp_kernel_record;
#else
typedef CUpti_ActivityKernel9 rp_kernel_record;
#endif

static void CUPTIAPI buffer_requested(uint8_t **buffer, size_t *size, size_t *max_records) {
    *buffer = aligned_alloc(8, BUF_BYTES);
    *size = *buffer ? BUF_BYTES : 0;
    *max_records = 0;
}

static void put_kernel(rp_line *l, const rp_kernel_record *k) {
    rp_put(l, "{\"k\":\"kact\",\"name\":");
    rp_put_str(l, k->name ? k->name : "?");
    rp_put(l, ",\"corr\":"), rp_put_u64(l, k->correlationId);
    rp_put(l, ",\"start\":"), rp_put_u64(l, k->start);
    rp_put(l, ",\"end\":"), rp_put_u64(l, k->end);
    rp_put(l, ",\"dev\":"), rp_put_u64(l, k->deviceId);
    rp_put(l, ",\"stream\":"), rp_put_u64(l, k->streamId);
    rp_put(l, ",\"grid\":["), rp_put_i64(l, k->gridX), rp_put(l, ","), rp_put_i64(l, k->gridY);
    rp_put(l, ","), rp_put_i64(l, k->gridZ), rp_put(l, "],\"block\":["), rp_put_i64(l, k->blockX);
    rp_put(l, ","), rp_put_i64(l, k->blockY), rp_put(l, ","), rp_put_i64(l, k->blockZ);
    rp_put(l, "],\"smem\":"), rp_put_i64(l, k->dynamicSharedMemory);
    rp_put(l, ",\"ssmem\":"), rp_put_i64(l, k->staticSharedMemory);
    rp_put(l, ",\"regs\":"), rp_put_u64(l, k->registersPerThread);
    rp_put(l, ",\"graph\":"), rp_put_u64(l, k->graphId);
    rp_put(l, ",\"node\":"), rp_put_u64(l, k->graphNodeId);
    rp_put(l, ",\"cluster\":["), rp_put_u64(l, k->clusterX), rp_put(l, ","), rp_put_u64(l, k->clusterY);
    rp_put(l, ","), rp_put_u64(l, k->clusterZ), rp_put(l, "]}");
}

/* The fields copy and memset records share: correlation, device time, place, graph node. */
static void put_span(rp_line *l, uint32_t corr, uint64_t start, uint64_t end, uint32_t dev, uint32_t stream,
                     uint32_t graph, uint64_t node) {
    rp_put(l, ",\"corr\":"), rp_put_u64(l, corr);
    rp_put(l, ",\"start\":"), rp_put_u64(l, start);
    rp_put(l, ",\"end\":"), rp_put_u64(l, end);
    rp_put(l, ",\"dev\":"), rp_put_u64(l, dev);
    rp_put(l, ",\"stream\":"), rp_put_u64(l, stream);
    rp_put(l, ",\"graph\":"), rp_put_u64(l, graph);
    rp_put(l, ",\"node\":"), rp_put_u64(l, node), rp_put(l, "}");
}

static void put_memcpy(rp_line *l, const CUpti_ActivityMemcpy6 *m) {
    rp_put(l, "{\"k\":\"cpy\",\"kind\":"), rp_put_u64(l, m->copyKind);
    rp_put(l, ",\"bytes\":"), rp_put_u64(l, m->bytes);
    put_span(l, m->correlationId, m->start, m->end, m->deviceId, m->streamId, m->graphId, m->graphNodeId);
}

static void put_memset(rp_line *l, const CUpti_ActivityMemset4 *m) {
    rp_put(l, "{\"k\":\"set\",\"bytes\":"), rp_put_u64(l, m->bytes);
    put_span(l, m->correlationId, m->start, m->end, m->deviceId, m->streamId, m->graphId, m->graphNodeId);
}

static void CUPTIAPI buffer_completed(CUcontext ctx, uint32_t stream, uint8_t *buffer, size_t size, size_t valid) {
    CUpti_Activity *rec = NULL;
    char buf[8192];
    while (cuptiActivityGetNextRecord(buffer, valid, &rec) == CUPTI_SUCCESS) {
        rp_line l = {buf, buf + sizeof buf - 1};
        switch (rec->kind) {
        case CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL:
        case CUPTI_ACTIVITY_KIND_KERNEL:
            put_kernel(&l, (const rp_kernel_record *)rec);
            break;
        case CUPTI_ACTIVITY_KIND_MEMCPY:
            put_memcpy(&l, (const CUpti_ActivityMemcpy6 *)rec);
            break;
        case CUPTI_ACTIVITY_KIND_MEMSET:
            put_memset(&l, (const CUpti_ActivityMemset4 *)rec);
            break;
        default:
            continue;
        }
        if (rp_line_ok(&l)) rp_out_write(buf, (size_t)(l.p - buf));
    }
    size_t dropped = 0;
    if (cuptiActivityGetNumDroppedRecords(ctx, stream, &dropped) == CUPTI_SUCCESS && dropped) {
        int n = snprintf(buf, sizeof buf, "{\"k\":\"dropped\",\"n\":%zu}", dropped);
        rp_out_write(buf, (size_t)n);
    }
    free(buffer);
}

int rp_activity_start(void) {
    static const CUpti_ActivityKind kinds[] = {CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL, CUPTI_ACTIVITY_KIND_MEMCPY,
                                               CUPTI_ACTIVITY_KIND_MEMSET};
    int ok = cuptiActivityRegisterCallbacks(buffer_requested, buffer_completed) == CUPTI_SUCCESS;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; ++i)
        if (cuptiActivityEnable(kinds[i]) != CUPTI_SUCCESS) {
            fprintf(stderr, "[revati profile] cuptiActivityEnable(%d) failed\n", (int)kinds[i]);
            ok = 0;
        }
    return ok;
}

void rp_activity_flush(void) { cuptiActivityFlushAll(1); }
