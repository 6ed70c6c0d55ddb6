/* revati driver: the stream-ordered memory allocator (memory pools), served from the device reservation. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define POOL_MAGIC 0x5256504cu

typedef struct rv_pool {
    uint32_t magic;
    int dev;
    CUmemPoolProps props;
    uint64_t used, used_high, threshold;
    int reuse[3];
} rv_pool;

static rv_pool g_default[RV_MAX_DEVICES];
static rv_pool *g_current[RV_MAX_DEVICES];
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;

static rv_pool *default_pool(int dev) {
    rv_pool *p = &g_default[dev];
    pthread_mutex_lock(&g_mu);
    if (!p->magic) {
        p->magic = POOL_MAGIC;
        p->dev = dev;
        p->props.allocType = CU_MEM_ALLOCATION_TYPE_PINNED;
        p->props.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
        p->props.location.id = dev;
        p->reuse[0] = p->reuse[1] = p->reuse[2] = 1;
    }
    pthread_mutex_unlock(&g_mu);
    return p;
}

static rv_pool *current_pool(int dev) { return g_current[dev] ? g_current[dev] : default_pool(dev); }

static rv_pool *pool_from(CUmemoryPool h) {
    rv_pool *p = (rv_pool *)h;
    return p && p->magic == POOL_MAGIC ? p : NULL;
}

static CUresult pool_alloc(CUdeviceptr *dptr, size_t bytesize, rv_pool *p) {
    if (!p) return CUDA_ERROR_INVALID_VALUE;
    CUresult r = rv_dev_alloc(dptr, bytesize, RV_MEM_DEVICE, p);
    if (r != CUDA_SUCCESS) return r;
    rv_alloc a;
    rv_alloc_find(*dptr, &a);
    pthread_mutex_lock(&g_mu);
    p->used += a.size;
    if (p->used > p->used_high) p->used_high = p->used;
    pthread_mutex_unlock(&g_mu);
    return CUDA_SUCCESS;
}

// cuDeviceGetDefaultMemPool: one default pool per device
RV_EXPORT CUresult cuDeviceGetDefaultMemPool(CUmemoryPool *pool_out, CUdevice dev) {
    API_ENTER();
    if (!pool_out) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    if (!rv_dev_valid(dev)) API_RETURN(CUDA_ERROR_INVALID_DEVICE);
    *pool_out = (CUmemoryPool)default_pool(dev);
    API_RETURN(CUDA_SUCCESS);
}

// cuDeviceGetMemPool: the pool cuMemAllocAsync uses on dev
RV_EXPORT CUresult cuDeviceGetMemPool(CUmemoryPool *pool, CUdevice dev) {
    API_ENTER();
    if (!pool) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    if (!rv_dev_valid(dev)) API_RETURN(CUDA_ERROR_INVALID_DEVICE);
    *pool = (CUmemoryPool)current_pool(dev);
    API_RETURN(CUDA_SUCCESS);
}

// cuDeviceSetMemPool: replaces the pool cuMemAllocAsync uses on dev
RV_EXPORT CUresult cuDeviceSetMemPool(CUdevice dev, CUmemoryPool pool) {
    API_ENTER();
    rv_pool *p = pool_from(pool);
    if (!rv_dev_valid(dev)) API_RETURN(CUDA_ERROR_INVALID_DEVICE);
    if (!p || p->dev != dev) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    g_current[dev] = p;
    API_RETURN(CUDA_SUCCESS);
}

// cuMemPoolCreate: a device pool (host-located pools are not modelled)
RV_EXPORT CUresult cuMemPoolCreate(CUmemoryPool *pool, const CUmemPoolProps *poolProps) {
    API_ENTER();
    if (!pool || !poolProps) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    if (poolProps->location.type != CU_MEM_LOCATION_TYPE_DEVICE) API_RETURN(CUDA_ERROR_NOT_SUPPORTED);
    if (!rv_dev_valid(poolProps->location.id)) API_RETURN(CUDA_ERROR_INVALID_DEVICE);
    rv_pool *p = calloc(1, sizeof *p);
    if (!p) API_RETURN(CUDA_ERROR_OUT_OF_MEMORY);
    p->magic = POOL_MAGIC;
    p->dev = poolProps->location.id;
    p->props = *poolProps;
    p->reuse[0] = p->reuse[1] = p->reuse[2] = 1;
    *pool = (CUmemoryPool)p;
    API_RETURN(CUDA_SUCCESS);
}

// cuMemPoolDestroy: a created pool is poisoned (default pools cannot be destroyed)
RV_EXPORT CUresult cuMemPoolDestroy(CUmemoryPool pool) {
    API_ENTER();
    rv_pool *p = pool_from(pool);
    if (!p || (p >= g_default && p < g_default + RV_MAX_DEVICES)) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    if (g_current[p->dev] == p) g_current[p->dev] = NULL;
    p->magic = 0;
    API_RETURN(CUDA_SUCCESS);
}

// cuMemAllocAsync: from the device's current pool, at once (device work never reads the values)
RV_EXPORT CUresult cuMemAllocAsync(CUdeviceptr *dptr, size_t bytesize, CUstream hStream) {
    API_ENTER();
    API_ARGS("bytes=%zu", bytesize);
    rv_stream *s = rv_stream_resolve(hStream);
    if (!s) API_RETURN(CUDA_ERROR_INVALID_HANDLE);
    API_RETURN(pool_alloc(dptr, bytesize, current_pool(s->dev)));
}
RV_ALIAS(cuMemAllocAsync_ptsz, cuMemAllocAsync);

// cuMemAllocFromPoolAsync: from the given pool, at once
RV_EXPORT CUresult cuMemAllocFromPoolAsync(CUdeviceptr *dptr, size_t bytesize, CUmemoryPool pool, CUstream hStream) {
    API_ENTER();
    API_ARGS("bytes=%zu", bytesize);
    API_RETURN(pool_alloc(dptr, bytesize, pool_from(pool)));
}
RV_ALIAS(cuMemAllocFromPoolAsync_ptsz, cuMemAllocFromPoolAsync);

// cuMemFreeAsync: freed at once; the pool's usage drops
RV_EXPORT CUresult cuMemFreeAsync(CUdeviceptr dptr, CUstream hStream) {
    API_ENTER();
    rv_alloc a;
    CUresult r = rv_dev_free(dptr, &a);
    if (r == CUDA_SUCCESS && dptr && pool_from(a.handle)) {
        rv_pool *p = a.handle;
        pthread_mutex_lock(&g_mu);
        p->used = p->used >= a.size ? p->used - a.size : 0;
        pthread_mutex_unlock(&g_mu);
    }
    API_RETURN(r);
}
RV_ALIAS(cuMemFreeAsync_ptsz, cuMemFreeAsync);

// cuMemPoolTrimTo: nothing is cached beyond what is in use
RV_EXPORT CUresult cuMemPoolTrimTo(CUmemoryPool pool, size_t minBytesToKeep) {
    API_ENTER();
    API_RETURN(pool_from(pool) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE);
}

// cuMemPoolSetAttribute: reuse flags and the release threshold are remembered; high-water marks reset
RV_EXPORT CUresult cuMemPoolSetAttribute(CUmemoryPool pool, CUmemPool_attribute attr, void *value) {
    API_ENTER();
    rv_pool *p = pool_from(pool);
    if (!p || !value) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    switch (attr) {
    case CU_MEMPOOL_ATTR_REUSE_FOLLOW_EVENT_DEPENDENCIES:
    case CU_MEMPOOL_ATTR_REUSE_ALLOW_OPPORTUNISTIC:
    case CU_MEMPOOL_ATTR_REUSE_ALLOW_INTERNAL_DEPENDENCIES: p->reuse[attr - 1] = *(int *)value; break;
    case CU_MEMPOOL_ATTR_RELEASE_THRESHOLD: p->threshold = *(cuuint64_t *)value; break;
    case CU_MEMPOOL_ATTR_RESERVED_MEM_HIGH:
    case CU_MEMPOOL_ATTR_USED_MEM_HIGH: p->used_high = p->used; break;
    default: API_RETURN(CUDA_ERROR_INVALID_VALUE);
    }
    API_RETURN(CUDA_SUCCESS);
}

// cuMemPoolGetAttribute: reserved == used (nothing is cached), and their high-water marks
RV_EXPORT CUresult cuMemPoolGetAttribute(CUmemoryPool pool, CUmemPool_attribute attr, void *value) {
    API_ENTER();
    rv_pool *p = pool_from(pool);
    if (!p || !value) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    switch (attr) {
    case CU_MEMPOOL_ATTR_REUSE_FOLLOW_EVENT_DEPENDENCIES:
    case CU_MEMPOOL_ATTR_REUSE_ALLOW_OPPORTUNISTIC:
    case CU_MEMPOOL_ATTR_REUSE_ALLOW_INTERNAL_DEPENDENCIES: *(int *)value = p->reuse[attr - 1]; break;
    case CU_MEMPOOL_ATTR_RELEASE_THRESHOLD: *(cuuint64_t *)value = p->threshold; break;
    case CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT:
    case CU_MEMPOOL_ATTR_USED_MEM_CURRENT: *(cuuint64_t *)value = p->used; break;
    case CU_MEMPOOL_ATTR_RESERVED_MEM_HIGH:
    case CU_MEMPOOL_ATTR_USED_MEM_HIGH: *(cuuint64_t *)value = p->used_high; break;
    default: API_RETURN(CUDA_ERROR_INVALID_VALUE);
    }
    API_RETURN(CUDA_SUCCESS);
}

// cuMemPoolSetAccess: every device may access every pool
RV_EXPORT CUresult cuMemPoolSetAccess(CUmemoryPool pool, const CUmemAccessDesc *map, size_t count) {
    API_ENTER();
    API_RETURN(pool_from(pool) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE);
}

// cuMemPoolGetAccess: read-write
RV_EXPORT CUresult cuMemPoolGetAccess(CUmemAccess_flags *flags, CUmemoryPool memPool, CUmemLocation *location) {
    API_ENTER();
    if (!flags || !pool_from(memPool)) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    *flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
    API_RETURN(CUDA_SUCCESS);
}

// cuDeviceGetGraphMemAttribute: graph memory nodes are not modelled: no graph memory in use
RV_EXPORT CUresult cuDeviceGetGraphMemAttribute(CUdevice device, CUgraphMem_attribute attr, void *value) {
    API_ENTER();
    if (!rv_dev_valid(device)) API_RETURN(CUDA_ERROR_INVALID_DEVICE);
    if (!value) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    *(cuuint64_t *)value = 0;
    API_RETURN(CUDA_SUCCESS);
}

// cuDeviceSetGraphMemAttribute: resetting the high-water marks is accepted
RV_EXPORT CUresult cuDeviceSetGraphMemAttribute(CUdevice device, CUgraphMem_attribute attr, void *value) {
    API_ENTER();
    API_RETURN(rv_dev_valid(device) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_DEVICE);
}

// cuDeviceGraphMemTrim: nothing to trim
RV_EXPORT CUresult cuDeviceGraphMemTrim(CUdevice device) {
    API_ENTER();
    API_RETURN(rv_dev_valid(device) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_DEVICE);
}
