/* revati profile shim: the CUPTI injection entry point and the driver-API callback.
 *
 * Every driver call passes through untouched; around it the callback writes an `api` line (name,
 * correlation id, CUPTI timestamps taken at the end of the enter callback and the start of the exit
 * callback, so the shim's own work stays outside the measured host cost, and the byte count of copies
 * and memsets); launches add a `launch` line with their decoded parameters; graph kernel nodes are tied
 * to the launch (or cuGraphAddKernelNode) that made them and their clones to the original, so kernels
 * replayed from a graph find their features. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "profile.h"
#include "term.h"
#include "revati/features.h"


rp_driver rp_drv;
__thread int rp_busy;
static __thread uint32_t cur_launch_corr; /* the launch in flight on this thread, for graph nodes */
static CUpti_SubscriberHandle subscriber;
static int started;
static int export_probed; /* the export-table probe ran (once per process, at the first launch) */

static void check(CUptiResult r, const char *what) {
    if (r == CUPTI_SUCCESS) return;
    const char *msg = "?";
    cuptiGetResultString(r, &msg);
    fprintf(stderr, "[revati profile] %s failed: %s\n", what, msg);
}

static void resolve_driver(void) {
    void *h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_NOLOAD);
    if (!h) h = dlopen("libcuda.so.1", RTLD_NOW);
    if (!h) return;
    rp_drv.FuncGetParamInfo = (__typeof__(rp_drv.FuncGetParamInfo))dlsym(h, "cuFuncGetParamInfo");
    rp_drv.KernelGetParamInfo = (__typeof__(rp_drv.KernelGetParamInfo))dlsym(h, "cuKernelGetParamInfo");
    rp_drv.FuncGetName = (__typeof__(rp_drv.FuncGetName))dlsym(h, "cuFuncGetName");
    rp_drv.KernelGetName = (__typeof__(rp_drv.KernelGetName))dlsym(h, "cuKernelGetName");
    rp_drv.PointerGetAttributes = (__typeof__(rp_drv.PointerGetAttributes))dlsym(h, "cuPointerGetAttributes");
}

/* bytes a copy or memset call moves (0 for every other call) */
static uint64_t call_bytes(CUpti_CallbackId id, const void *p) {
#define BYTES(name, field)                    \
    case CUPTI_DRIVER_TRACE_CBID_##name:      \
        return (uint64_t)((const name##_params *)p)->field;
#define ELEMS(name, width)                    \
    case CUPTI_DRIVER_TRACE_CBID_##name:      \
        return (uint64_t)((const name##_params *)p)->N * (width);
    switch (id) {
        BYTES(cuMemcpy, ByteCount)
        BYTES(cuMemcpyAsync, ByteCount)
        BYTES(cuMemcpy_ptds, ByteCount)
        BYTES(cuMemcpyAsync_ptsz, ByteCount)
        BYTES(cuMemcpyHtoD_v2, ByteCount)
        BYTES(cuMemcpyDtoH_v2, ByteCount)
        BYTES(cuMemcpyDtoD_v2, ByteCount)
        BYTES(cuMemcpyHtoDAsync_v2, ByteCount)
        BYTES(cuMemcpyDtoHAsync_v2, ByteCount)
        BYTES(cuMemcpyDtoDAsync_v2, ByteCount)
        BYTES(cuMemcpyHtoD_v2_ptds, ByteCount)
        BYTES(cuMemcpyDtoH_v2_ptds, ByteCount)
        BYTES(cuMemcpyDtoD_v2_ptds, ByteCount)
        BYTES(cuMemcpyHtoDAsync_v2_ptsz, ByteCount)
        BYTES(cuMemcpyDtoHAsync_v2_ptsz, ByteCount)
        BYTES(cuMemcpyDtoDAsync_v2_ptsz, ByteCount)
        BYTES(cuMemcpyPeerAsync, ByteCount)
        BYTES(cuMemAlloc_v2, bytesize)
        BYTES(cuMemAllocAsync, bytesize)
        BYTES(cuMemHostAlloc, bytesize)
        BYTES(cuMemAllocHost_v2, bytesize)
        ELEMS(cuMemsetD8_v2, 1)
        ELEMS(cuMemsetD16_v2, 2)
        ELEMS(cuMemsetD32_v2, 4)
        ELEMS(cuMemsetD8Async, 1)
        ELEMS(cuMemsetD16Async, 2)
        ELEMS(cuMemsetD32Async, 4)
        ELEMS(cuMemsetD8Async_ptsz, 1)
        ELEMS(cuMemsetD16Async_ptsz, 2)
        ELEMS(cuMemsetD32Async_ptsz, 4)
    default:
        return 0;
    }
#undef BYTES
#undef ELEMS
}

static void put_dims(rp_line *l, const char *key, unsigned x, unsigned y, unsigned z) {
    rp_put(l, key);
    rp_put_u64(l, x), rp_put(l, ","), rp_put_u64(l, y), rp_put(l, ","), rp_put_u64(l, z), rp_put(l, "]");
}

/* a `launch` line: what the kernel event's features are made of */
static void write_launch(uint32_t corr, CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                         unsigned by, unsigned bz, unsigned smem, const CUlaunchConfig *cfg, void **params,
                         void **extra, int node) {
    size_t cap = 0;
    char *buf = rp_launch_line(&cap);
    if (!buf) return;
    rp_line l = {buf, buf + cap - 1};
    rp_put(&l, "{\"k\":\"launch\",\"corr\":");
    rp_put_u64(&l, corr);
    rp_put(&l, ",\"node_add\":");
    rp_put_u64(&l, (uint64_t)node);
    rp_put(&l, ",\"fname\":");
    rp_put_str(&l, f ? rp_func_name(f) : "?");
    put_dims(&l, ",\"grid\":[", gx, gy, gz);
    put_dims(&l, ",\"block\":[", bx, by, bz);
    rp_put(&l, ",\"smem\":");
    rp_put_u64(&l, smem);
    for (unsigned i = 0; cfg && i < cfg->numAttrs; ++i) {
        const CUlaunchAttribute *a = &cfg->attrs[i];
        if (a->id == CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION)
            put_dims(&l, ",\"cluster\":[", a->value.clusterDim.x, a->value.clusterDim.y, a->value.clusterDim.z);
        else if (a->id == CU_LAUNCH_ATTRIBUTE_COOPERATIVE && a->value.cooperative)
            rp_put(&l, ",\"coop\":1");
    }
    const char *name = f ? rp_func_name(f) : "?";
    unsigned grid[3] = {gx, gy, gz}, block[3] = {bx, by, bz};
    const rv_feat_out *ft = rp_features(f, name, grid, block, smem, params, extra);
    if (ft && ft->args_len) rp_put(&l, ",\"args\":"), rp_put(&l, ft->args);
    if (ft && ft->op_len) rp_put(&l, ",\"op\":"), rp_put(&l, ft->op);
    if (ft) rp_put(&l, ",\"sig\":\""), rp_put(&l, ft->sig), rp_put(&l, "\"");
    if (!rp_line_ok(&l)) { /* a huge struct parameter: keep the line valid without its features */
        l.p = buf;
        rp_put(&l, "{\"k\":\"launch\",\"corr\":");
        rp_put_u64(&l, corr);
        rp_put(&l, ",\"fname\":");
        rp_put_str(&l, name);
        rp_put(&l, ",\"truncated\":1");
    }
    rp_put(&l, "}");
    rp_out_write(buf, (size_t)(l.p - buf));
}

static void on_launch_enter(CUpti_CallbackId id, const CUpti_CallbackData *cb) {
    const void *p = cb->functionParams;
    uint32_t corr = cb->correlationId;
    switch (id) {
    case CUPTI_DRIVER_TRACE_CBID_cuLaunchKernel:
    case CUPTI_DRIVER_TRACE_CBID_cuLaunchKernel_ptsz: {
        const cuLaunchKernel_params *a = p; /* the _ptsz params have the same layout */
        write_launch(corr, a->f, a->gridDimX, a->gridDimY, a->gridDimZ, a->blockDimX, a->blockDimY, a->blockDimZ,
                     a->sharedMemBytes, NULL, a->kernelParams, a->extra, 0);
        break;
    }
    case CUPTI_DRIVER_TRACE_CBID_cuLaunchCooperativeKernel:
    case CUPTI_DRIVER_TRACE_CBID_cuLaunchCooperativeKernel_ptsz: {
        const cuLaunchCooperativeKernel_params *a = p;
        write_launch(corr, a->f, a->gridDimX, a->gridDimY, a->gridDimZ, a->blockDimX, a->blockDimY, a->blockDimZ,
                     a->sharedMemBytes, NULL, a->kernelParams, NULL, 0);
        break;
    }
    case CUPTI_DRIVER_TRACE_CBID_cuLaunchKernelEx:
    case CUPTI_DRIVER_TRACE_CBID_cuLaunchKernelEx_ptsz: {
        const cuLaunchKernelEx_params *a = p;
        const CUlaunchConfig *c = a->config;
        if (c)
            write_launch(corr, a->f, c->gridDimX, c->gridDimY, c->gridDimZ, c->blockDimX, c->blockDimY, c->blockDimZ,
                         c->sharedMemBytes, c, a->kernelParams, a->extra, 0);
        break;
    }
    case CUPTI_DRIVER_TRACE_CBID_cuGraphAddKernelNode_v2: {
        const cuGraphAddKernelNode_v2_params *a = p;
        const CUDA_KERNEL_NODE_PARAMS *n = a->nodeParams;
        if (n)
            write_launch(corr, n->func ? n->func : (CUfunction)n->kern, n->gridDimX, n->gridDimY, n->gridDimZ,
                         n->blockDimX, n->blockDimY, n->blockDimZ, n->sharedMemBytes, NULL, n->kernelParams,
                         n->extra, 1);
        break;
    }
    default:
        return;
    }
    cur_launch_corr = corr;
}

static void on_graph_node(CUpti_CallbackId id, const CUpti_ResourceData *rd) {
    const CUpti_GraphData *g = (const CUpti_GraphData *)rd->resourceDescriptor;
    if (!g || g->nodeType != CU_GRAPH_NODE_TYPE_KERNEL) return;
    uint64_t node = 0, orig = 0;
    if (cuptiGetGraphNodeId(g->node, &node) != CUPTI_SUCCESS) return;
    char buf[160];
    int n;
    if (id == CUPTI_CBID_RESOURCE_GRAPHNODE_CREATED) {
        if (!cur_launch_corr) return; /* a node made by some other call (not a launch): no features */
        n = snprintf(buf, sizeof buf, "{\"k\":\"gnode\",\"node\":%llu,\"corr\":%u}", (unsigned long long)node,
                     cur_launch_corr);
    } else {
        if (!g->originalNode || cuptiGetGraphNodeId(g->originalNode, &orig) != CUPTI_SUCCESS) return;
        n = snprintf(buf, sizeof buf, "{\"k\":\"gclone\",\"node\":%llu,\"orig\":%llu}", (unsigned long long)node,
                     (unsigned long long)orig);
    }
    rp_out_write(buf, (size_t)n);
}

static void CUPTIAPI on_callback(void *user, CUpti_CallbackDomain domain, CUpti_CallbackId id, const void *data) {
    if (rp_busy) return; /* the shim's own driver calls */
    if (domain == CUPTI_CB_DOMAIN_RESOURCE) {
        if (id == CUPTI_CBID_RESOURCE_GRAPHNODE_CREATED || id == CUPTI_CBID_RESOURCE_GRAPHNODE_CLONED)
            on_graph_node(id, (const CUpti_ResourceData *)data);
        return;
    }
    if (domain != CUPTI_CB_DOMAIN_DRIVER_API) return;
    const CUpti_CallbackData *cb = data;
    if (cb->callbackSite == CUPTI_API_ENTER) {
        on_launch_enter(id, cb);
        uint64_t t0 = 0;
        cuptiGetTimestamp(&t0); /* last thing before the real call */
        *cb->correlationData = t0;
        return;
    }
    uint64_t t1 = 0;
    cuptiGetTimestamp(&t1); /* first thing after the real call */
    uint64_t t0 = *cb->correlationData;
    cur_launch_corr = 0;
    char buf[256];
    rp_line l = {buf, buf + sizeof buf - 1};
    rp_put(&l, "{\"k\":\"api\",\"name\":");
    rp_put_str(&l, cb->functionName);
    rp_put(&l, ",\"corr\":");
    rp_put_u64(&l, cb->correlationId);
    rp_put(&l, ",\"t0\":");
    rp_put_u64(&l, t0);
    rp_put(&l, ",\"t1\":");
    rp_put_u64(&l, t1);
    rp_put(&l, ",\"tid\":");
    rp_put_i64(&l, (int64_t)syscall(SYS_gettid));
    rp_put(&l, ",\"res\":");
    rp_put_i64(&l, cb->functionReturnValue ? *(const int *)cb->functionReturnValue : 0);
    uint64_t b = call_bytes(id, cb->functionParams);
    if (b) rp_put(&l, ",\"bytes\":"), rp_put_u64(&l, b);
    rp_put(&l, "}");
    rp_out_write(buf, (size_t)(l.p - buf));
    rp_query_exit(id, cb);
    if ((id == CUPTI_DRIVER_TRACE_CBID_cuLaunchKernel || id == CUPTI_DRIVER_TRACE_CBID_cuLaunchKernel_ptsz ||
         id == CUPTI_DRIVER_TRACE_CBID_cuLaunchKernelEx || id == CUPTI_DRIVER_TRACE_CBID_cuLaunchKernelEx_ptsz) &&
        !__atomic_exchange_n(&export_probed, 1, __ATOMIC_ACQ_REL)) {
        const char *off = getenv("REVATI_PROFILE_NO_EXPORT_PROBE"); /* =1: leave the slots alone */
        if (!off || strcmp(off, "1") != 0) rp_probe_export_tables();
    }
}

static void at_exit(void) {
    if (!started) return;
    rp_activity_flush();
    rp_out_close();
}

/* SIGTERM (term.c): the same records, the stream flushed but left open (other threads run on) */
static void at_term(void) {
    if (!started) return;
    rp_activity_flush();
    rp_out_flush();
}

/* InitializeInjection: called by the real driver inside cuInit when CUDA_INJECTION64_PATH names us */
__attribute__((visibility("default"))) int InitializeInjection(void) {
    if (started) return 1;
    started = 1;
    resolve_driver();
    check(cuptiSubscribe(&subscriber, on_callback, NULL), "cuptiSubscribe");
    check(cuptiEnableDomain(1, subscriber, CUPTI_CB_DOMAIN_DRIVER_API), "cuptiEnableDomain(driver)");
    check(cuptiEnableCallback(1, subscriber, CUPTI_CB_DOMAIN_RESOURCE, CUPTI_CBID_RESOURCE_GRAPHNODE_CREATED),
          "cuptiEnableCallback(node created)");
    check(cuptiEnableCallback(1, subscriber, CUPTI_CB_DOMAIN_RESOURCE, CUPTI_CBID_RESOURCE_GRAPHNODE_CLONED),
          "cuptiEnableCallback(node cloned)");
    /* REVATI_PROFILE_HOST_ONLY=1: no activity records (no kernel times), so that CUPTI's own tracing
     * work stays out of the host cost measured around each call */
    const char *host_only = getenv("REVATI_PROFILE_HOST_ONLY");
    if (!host_only || strcmp(host_only, "1") != 0) rp_activity_start();
    atexit(at_exit);
    /* REVATI_PROFILE_NO_SIGTERM=1 leaves SIGTERM alone */
    const char *no_term = getenv("REVATI_PROFILE_NO_SIGTERM");
    if (!no_term || strcmp(no_term, "1") != 0) rp_term_install(at_term);
    char buf[256];
    uint32_t ver = 0;
    cuptiGetVersion(&ver);
    int n = snprintf(buf, sizeof buf, "{\"k\":\"start\",\"pid\":%d,\"cupti_api\":%u,\"header_api\":%d,\"host_only\":%d}",
                     (int)getpid(), ver, CUPTI_API_VERSION, host_only && !strcmp(host_only, "1"));
    rp_out_write(buf, (size_t)n);
    return 1;
}
