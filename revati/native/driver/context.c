/* revati driver: primary contexts, created contexts and the per-thread context stack. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define STACK_MAX 64

static rv_ctx g_primary[RV_MAX_DEVICES];
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned long long g_next_id = 1;
static __thread rv_ctx *t_stack[STACK_MAX];
static __thread int t_depth;

static void ctx_init(rv_ctx *c, int dev, int primary) {
    c->dev = dev;
    c->primary = primary;
    c->id = __atomic_fetch_add(&g_next_id, 1, __ATOMIC_RELAXED);
    c->limits[CU_LIMIT_STACK_SIZE] = 1024;
    c->limits[CU_LIMIT_PRINTF_FIFO_SIZE] = 1048576;
    c->limits[CU_LIMIT_MALLOC_HEAP_SIZE] = 8388608;
    c->limits[CU_LIMIT_DEV_RUNTIME_SYNC_DEPTH] = 2;
    c->limits[CU_LIMIT_DEV_RUNTIME_PENDING_LAUNCH_COUNT] = 2048;
    c->limits[CU_LIMIT_MAX_L2_FETCH_GRANULARITY] = 32;
    c->limits[CU_LIMIT_PERSISTING_L2_CACHE_SIZE] = 0;
}

rv_ctx *rv_ctx_primary(int dev) {
    if (dev < 0 || dev >= RV_MAX_DEVICES) return NULL;
    rv_ctx *c = &g_primary[dev];
    if (!c->id) {
        pthread_mutex_lock(&g_mu);
        if (!c->id) ctx_init(c, dev, 1);
        pthread_mutex_unlock(&g_mu);
    }
    return c;
}

int rv_ctx_valid(CUcontext c) {
    rv_ctx *x = (rv_ctx *)c;
    if (!x) return 0;
    if (x >= g_primary && x < g_primary + RV_MAX_DEVICES) return 1;
    return x->id != 0 && !x->primary;
}

rv_ctx *rv_ctx_current(void) { return t_depth > 0 ? t_stack[t_depth - 1] : NULL; }

rv_ctx *rv_ctx_current_or_primary(void) {
    rv_ctx *c = rv_ctx_current();
    return c ? c : rv_ctx_primary(0);
}

#define NEED_INIT() \
    if (!rv_initialized()) API_RETURN(CUDA_ERROR_NOT_INITIALIZED)

// cuDevicePrimaryCtxRetain: one primary context per device, reference counted
RV_EXPORT CUresult cuDevicePrimaryCtxRetain(CUcontext *pctx, CUdevice dev) {
    API_ENTER();
    NEED_INIT();
    if (!pctx) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    if (!rv_dev_valid(dev)) API_RETURN(CUDA_ERROR_INVALID_DEVICE);
    rv_ctx *c = rv_ctx_primary(dev);
    pthread_mutex_lock(&g_mu);
    c->refcount++;
    c->active = 1;
    pthread_mutex_unlock(&g_mu);
    *pctx = (CUcontext)c;
    API_RETURN(CUDA_SUCCESS);
}

// cuDevicePrimaryCtxRelease_v2: drops a reference; the context stays usable (state is kept)
RV_EXPORT CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev) {
    API_ENTER();
    NEED_INIT();
    if (!rv_dev_valid(dev)) API_RETURN(CUDA_ERROR_INVALID_DEVICE);
    rv_ctx *c = rv_ctx_primary(dev);
    pthread_mutex_lock(&g_mu);
    if (c->refcount > 0 && --c->refcount == 0) c->active = 0;
    pthread_mutex_unlock(&g_mu);
    API_RETURN(CUDA_SUCCESS);
}
RV_ALIAS(cuDevicePrimaryCtxRelease, cuDevicePrimaryCtxRelease_v2);

// cuDevicePrimaryCtxReset_v2: marks the primary context inactive (allocations are kept)
RV_EXPORT CUresult cuDevicePrimaryCtxReset_v2(CUdevice dev) {
    API_ENTER();
    NEED_INIT();
    if (!rv_dev_valid(dev)) API_RETURN(CUDA_ERROR_INVALID_DEVICE);
    rv_ctx *c = rv_ctx_primary(dev);
    c->active = 0;
    c->refcount = 0;
    rv_cls_context_destroyed((CUcontext)c);
    API_RETURN(CUDA_SUCCESS);
}
RV_ALIAS(cuDevicePrimaryCtxReset, cuDevicePrimaryCtxReset_v2);

// cuDevicePrimaryCtxSetFlags_v2: flags are remembered and reported
RV_EXPORT CUresult cuDevicePrimaryCtxSetFlags_v2(CUdevice dev, unsigned int flags) {
    API_ENTER();
    NEED_INIT();
    if (!rv_dev_valid(dev)) API_RETURN(CUDA_ERROR_INVALID_DEVICE);
    rv_ctx_primary(dev)->flags = flags;
    API_RETURN(CUDA_SUCCESS);
}
RV_ALIAS(cuDevicePrimaryCtxSetFlags, cuDevicePrimaryCtxSetFlags_v2);

// cuDevicePrimaryCtxGetState: flags and whether it is retained
RV_EXPORT CUresult cuDevicePrimaryCtxGetState(CUdevice dev, unsigned int *flags, int *active) {
    API_ENTER();
    NEED_INIT();
    if (!rv_dev_valid(dev)) API_RETURN(CUDA_ERROR_INVALID_DEVICE);
    if (!flags || !active) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    rv_ctx *c = rv_ctx_primary(dev);
    *flags = c->flags;
    *active = c->active;
    API_RETURN(CUDA_SUCCESS);
}

static CUresult ctx_create(CUcontext *pctx, unsigned flags, CUdevice dev) {
    if (!rv_initialized()) return CUDA_ERROR_NOT_INITIALIZED;
    if (!pctx) return CUDA_ERROR_INVALID_VALUE;
    if (!rv_dev_valid(dev)) return CUDA_ERROR_INVALID_DEVICE;
    rv_ctx *c = calloc(1, sizeof *c);
    if (!c) return CUDA_ERROR_OUT_OF_MEMORY;
    ctx_init(c, dev, 0);
    c->flags = flags;
    c->refcount = 1;
    c->active = 1;
    if (t_depth >= STACK_MAX) {
        free(c);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    t_stack[t_depth++] = c;
    *pctx = (CUcontext)c;
    return CUDA_SUCCESS;
}

// cuCtxCreate_v2: a new context on dev, pushed on the thread's stack
RV_EXPORT CUresult cuCtxCreate_v2(CUcontext *pctx, unsigned int flags, CUdevice dev) {
    API_ENTER();
    API_RETURN(ctx_create(pctx, flags, dev));
}

// cuCtxCreate_v3: as cuCtxCreate_v2; execution affinity is ignored
RV_EXPORT CUresult cuCtxCreate_v3(CUcontext *pctx, CUexecAffinityParam *paramsArray, int numParams,
                                  unsigned int flags, CUdevice dev) {
    API_ENTER();
    API_RETURN(ctx_create(pctx, flags, dev));
}

// cuCtxCreate_v4: as cuCtxCreate_v2; creation parameters are ignored
RV_EXPORT CUresult cuCtxCreate_v4(CUcontext *pctx, CUctxCreateParams *ctxCreateParams, unsigned int flags,
                                  CUdevice dev) {
    API_ENTER();
    API_RETURN(ctx_create(pctx, flags, dev));
}

// cuCtxDestroy_v2: a created context is removed from this thread's stack (never freed: handles stay valid)
RV_EXPORT CUresult cuCtxDestroy_v2(CUcontext ctx) {
    API_ENTER();
    rv_ctx *c = (rv_ctx *)ctx;
    if (!rv_ctx_valid(ctx) || c->primary) API_RETURN(CUDA_ERROR_INVALID_CONTEXT);
    for (int i = 0; i < t_depth; ++i) {
        if (t_stack[i] == c) {
            memmove(&t_stack[i], &t_stack[i + 1], (size_t)(t_depth - i - 1) * sizeof t_stack[0]);
            --t_depth;
            --i;
        }
    }
    c->active = 0;
    rv_cls_context_destroyed(ctx);
    API_RETURN(CUDA_SUCCESS);
}

// cuCtxPushCurrent_v2: push on the thread's stack
RV_EXPORT CUresult cuCtxPushCurrent_v2(CUcontext ctx) {
    API_ENTER();
    if (!rv_ctx_valid(ctx)) API_RETURN(CUDA_ERROR_INVALID_CONTEXT);
    if (t_depth >= STACK_MAX) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    t_stack[t_depth++] = (rv_ctx *)ctx;
    API_RETURN(CUDA_SUCCESS);
}

// cuCtxPopCurrent_v2: pop the thread's stack
RV_EXPORT CUresult cuCtxPopCurrent_v2(CUcontext *pctx) {
    API_ENTER();
    if (t_depth == 0) API_RETURN(CUDA_ERROR_INVALID_CONTEXT);
    rv_ctx *c = t_stack[--t_depth];
    if (pctx) *pctx = (CUcontext)c;
    API_RETURN(CUDA_SUCCESS);
}

// cuCtxSetCurrent: replace the top of the stack (NULL pops it)
RV_EXPORT CUresult cuCtxSetCurrent(CUcontext ctx) {
    API_ENTER();
    if (ctx && !rv_ctx_valid(ctx)) API_RETURN(CUDA_ERROR_INVALID_CONTEXT);
    if (!ctx) {
        if (t_depth > 0) --t_depth;
    } else if (t_depth == 0) {
        t_stack[t_depth++] = (rv_ctx *)ctx;
    } else {
        t_stack[t_depth - 1] = (rv_ctx *)ctx;
    }
    API_RETURN(CUDA_SUCCESS);
}

// cuCtxGetCurrent: top of the thread's stack, NULL when empty
RV_EXPORT CUresult cuCtxGetCurrent(CUcontext *pctx) {
    API_ENTER();
    if (!pctx) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    *pctx = (CUcontext)rv_ctx_current();
    API_RETURN(CUDA_SUCCESS);
}

// cuCtxGetDevice: the current context's device
RV_EXPORT CUresult cuCtxGetDevice(CUdevice *device) {
    API_ENTER();
    rv_ctx *c = rv_ctx_current();
    if (!c) API_RETURN(CUDA_ERROR_INVALID_CONTEXT);
    if (!device) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    *device = c->dev;
    API_RETURN(CUDA_SUCCESS);
}

// cuCtxGetDevice_v2: the given (or current) context's device
RV_EXPORT CUresult cuCtxGetDevice_v2(CUdevice *device, CUcontext ctx) {
    API_ENTER();
    rv_ctx *c = ctx ? (rv_ctx *)ctx : rv_ctx_current();
    if (!c || !rv_ctx_valid((CUcontext)c)) API_RETURN(CUDA_ERROR_INVALID_CONTEXT);
    if (!device) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    *device = c->dev;
    API_RETURN(CUDA_SUCCESS);
}

// cuCtxGetFlags: the flags the context was created or set with
RV_EXPORT CUresult cuCtxGetFlags(unsigned int *flags) {
    API_ENTER();
    rv_ctx *c = rv_ctx_current();
    if (!c) API_RETURN(CUDA_ERROR_INVALID_CONTEXT);
    if (!flags) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    *flags = c->flags;
    API_RETURN(CUDA_SUCCESS);
}

// cuCtxSetFlags: remembered
RV_EXPORT CUresult cuCtxSetFlags(unsigned int flags) {
    API_ENTER();
    rv_ctx *c = rv_ctx_current();
    if (!c) API_RETURN(CUDA_ERROR_INVALID_CONTEXT);
    c->flags = flags;
    API_RETURN(CUDA_SUCCESS);
}

// cuCtxGetId: a process-unique id per context
RV_EXPORT CUresult cuCtxGetId(CUcontext ctx, unsigned long long *ctxId) {
    API_ENTER();
    rv_ctx *c = ctx ? (rv_ctx *)ctx : rv_ctx_current();
    if (!c) API_RETURN(CUDA_ERROR_INVALID_CONTEXT);
    if (!ctxId) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    *ctxId = c->id;
    API_RETURN(CUDA_SUCCESS);
}

// cuCtxGetApiVersion: contexts report the 3020 context ABI, as the real driver does
RV_EXPORT CUresult cuCtxGetApiVersion(CUcontext ctx, unsigned int *version) {
    API_ENTER();
    if (!version) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    *version = 3020;
    API_RETURN(CUDA_SUCCESS);
}

// cuCtxSynchronize: the host jumps to the completion of all work of the current device
RV_EXPORT CUresult cuCtxSynchronize(void) {
    API_ENTER();
    rv_ctx *c = rv_ctx_current_or_primary();
    rv_vadvance_to(rv_device_ready(c->dev), "cuCtxSynchronize");
    API_RETURN(CUDA_SUCCESS);
}

// cuCtxSynchronize_v2: as cuCtxSynchronize for the given context
RV_EXPORT CUresult cuCtxSynchronize_v2(CUcontext ctx) {
    API_ENTER();
    rv_ctx *c = ctx ? (rv_ctx *)ctx : rv_ctx_current_or_primary();
    rv_vadvance_to(rv_device_ready(c->dev), "cuCtxSynchronize");
    API_RETURN(CUDA_SUCCESS);
}

// cuCtxGetLimit: remembered values, the sm_90 defaults initially
RV_EXPORT CUresult cuCtxGetLimit(size_t *pvalue, CUlimit limit) {
    API_ENTER();
    if (!pvalue || (unsigned)limit >= 16) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    *pvalue = rv_ctx_current_or_primary()->limits[limit];
    API_RETURN(CUDA_SUCCESS);
}

// cuCtxSetLimit: remembered
RV_EXPORT CUresult cuCtxSetLimit(CUlimit limit, size_t value) {
    API_ENTER();
    if ((unsigned)limit >= 16) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    rv_ctx_current_or_primary()->limits[limit] = value;
    API_RETURN(CUDA_SUCCESS);
}

// cuCtxGetCacheConfig: no preference
RV_EXPORT CUresult cuCtxGetCacheConfig(CUfunc_cache *pconfig) {
    API_ENTER();
    if (!pconfig) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    *pconfig = CU_FUNC_CACHE_PREFER_NONE;
    API_RETURN(CUDA_SUCCESS);
}

// cuCtxSetCacheConfig: accepted; no effect on timing
RV_EXPORT CUresult cuCtxSetCacheConfig(CUfunc_cache config) {
    API_ENTER();
    API_RETURN(CUDA_SUCCESS);
}

// cuCtxGetStreamPriorityRange: sm_90 range, least 0 greatest -5
RV_EXPORT CUresult cuCtxGetStreamPriorityRange(int *leastPriority, int *greatestPriority) {
    API_ENTER();
    if (leastPriority) *leastPriority = 0;
    if (greatestPriority) *greatestPriority = -5;
    API_RETURN(CUDA_SUCCESS);
}

// cuCtxResetPersistingL2Cache: nothing persists
RV_EXPORT CUresult cuCtxResetPersistingL2Cache(void) {
    API_ENTER();
    API_RETURN(CUDA_SUCCESS);
}

// cuCtxEnablePeerAccess: always possible between distinct devices
RV_EXPORT CUresult cuCtxEnablePeerAccess(CUcontext peerContext, unsigned int Flags) {
    API_ENTER();
    if (!rv_ctx_valid(peerContext)) API_RETURN(CUDA_ERROR_INVALID_CONTEXT);
    API_RETURN(CUDA_SUCCESS);
}

// cuCtxDisablePeerAccess: accepted
RV_EXPORT CUresult cuCtxDisablePeerAccess(CUcontext peerContext) {
    API_ENTER();
    API_RETURN(CUDA_SUCCESS);
}

// cuCtxGetExecAffinity: the whole device
RV_EXPORT CUresult cuCtxGetExecAffinity(CUexecAffinityParam *pExecAffinity, CUexecAffinityType type) {
    API_ENTER();
    if (!pExecAffinity) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    pExecAffinity->type = type;
    pExecAffinity->param.smCount.val = (unsigned)rv_conf()->sm_count;
    API_RETURN(CUDA_SUCCESS);
}

// cuCtxGetSharedMemConfig: four-byte banks (the only sm_90 mode)
RV_EXPORT CUresult cuCtxGetSharedMemConfig(CUsharedconfig *pConfig) {
    API_ENTER();
    if (!pConfig) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    *pConfig = CU_SHARED_MEM_CONFIG_FOUR_BYTE_BANK_SIZE;
    API_RETURN(CUDA_SUCCESS);
}

// cuCtxSetSharedMemConfig: accepted; no effect on sm_90
RV_EXPORT CUresult cuCtxSetSharedMemConfig(CUsharedconfig config) {
    API_ENTER();
    API_RETURN(CUDA_SUCCESS);
}
