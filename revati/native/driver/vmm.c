/* revati driver: virtual memory management (physical handles, address reservations, mappings). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define GRANULARITY (2ULL << 20)
#define HANDLE_MAGIC 0x52564d48u

typedef struct phys {
    uint32_t magic;
    int refs;   /* 1 for the handle + 1 per mapping */
    uint64_t size;
    int dev;
    int fd;       /* memfd backing a shareable allocation (POSIX file descriptor handles), else -1 */
    int imported; /* from another process's handle: not charged here */
    CUmemAllocationProp prop;
} phys;

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;

static phys *phys_from(CUmemGenericAllocationHandle h) {
    phys *p = (phys *)(uintptr_t)h;
    return p && p->magic == HANDLE_MAGIC ? p : NULL;
}

static void phys_unref(phys *p) {
    pthread_mutex_lock(&g_mu);
    int last = --p->refs == 0;
    pthread_mutex_unlock(&g_mu);
    if (last) {
        if (!p->imported) rv_mem_account(p->dev, -(int64_t)p->size);
        if (p->fd >= 0) close(p->fd);
        p->magic = 0;
        free(p);
    }
}

// cuMemGetAllocationGranularity: 2 MiB, minimum and recommended (0 would break NCCL)
RV_EXPORT CUresult cuMemGetAllocationGranularity(size_t *granularity, const CUmemAllocationProp *prop,
                                                 CUmemAllocationGranularity_flags option) {
    API_ENTER();
    if (!granularity || !prop) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    *granularity = GRANULARITY;
    API_RETURN(CUDA_SUCCESS);
}

// cuMemCreate: a physical allocation: charged to the device's used memory, no address yet
RV_EXPORT CUresult cuMemCreate(CUmemGenericAllocationHandle *handle, size_t size, const CUmemAllocationProp *prop,
                               unsigned long long flags) {
    API_ENTER();
    API_ARGS("bytes=%zu", size);
    if (!handle || !prop || !size || size % GRANULARITY) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    int dev = prop->location.type == CU_MEM_LOCATION_TYPE_DEVICE ? prop->location.id : 0;
    if (!rv_dev_valid(dev)) API_RETURN(CUDA_ERROR_INVALID_DEVICE);
    const rv_devconf *c = rv_conf();
    if (rv_mem_used(dev) + c->context_bytes + size > rv_devconf_cuda_total(c)) API_RETURN(CUDA_ERROR_OUT_OF_MEMORY);
    phys *p = calloc(1, sizeof *p);
    if (!p) API_RETURN(CUDA_ERROR_OUT_OF_MEMORY);
    p->magic = HANDLE_MAGIC;
    p->refs = 1;
    p->size = size;
    p->dev = dev;
    p->prop = *prop;
    p->fd = -1;
    if (prop->requestedHandleTypes & CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR) {
        /* it may be exported: back it with a memfd now, so every mapping of it is shared */
        p->fd = rv_shm_create(dev, size);
        if (p->fd < 0) {
            free(p);
            API_RETURN(CUDA_ERROR_OUT_OF_MEMORY);
        }
    }
    rv_mem_account(dev, (int64_t)size);
    *handle = (CUmemGenericAllocationHandle)(uintptr_t)p;
    API_RETURN(CUDA_SUCCESS);
}

// cuMemRelease: drops the handle; memory is freed when its last mapping goes
RV_EXPORT CUresult cuMemRelease(CUmemGenericAllocationHandle handle) {
    API_ENTER();
    phys *p = phys_from(handle);
    if (!p) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    phys_unref(p);
    API_RETURN(CUDA_SUCCESS);
}

// cuMemAddressReserve: address space only (in the current device's region), never charged
RV_EXPORT CUresult cuMemAddressReserve(CUdeviceptr *ptr, size_t size, size_t alignment, CUdeviceptr addr,
                                       unsigned long long flags) {
    API_ENTER();
    API_ARGS("bytes=%zu", size);
    if (!ptr || !size || size % GRANULARITY) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    int dev = rv_ctx_current_or_primary()->dev;
    uint64_t p = rv_va_reserve(dev, size, alignment > GRANULARITY ? alignment : GRANULARITY, addr);
    if (!p) API_RETURN(CUDA_ERROR_OUT_OF_MEMORY);
    rv_alloc a = {.base = p, .size = size, .dev = dev, .kind = RV_MEM_RESERVED};
    rv_alloc_add(&a);
    *ptr = (CUdeviceptr)p;
    API_RETURN(CUDA_SUCCESS);
}

// cuMemAddressFree: the range returns to the region's free list
RV_EXPORT CUresult cuMemAddressFree(CUdeviceptr ptr, size_t size) {
    API_ENTER();
    rv_alloc a;
    if (!rv_alloc_find(ptr, &a) || a.base != ptr || a.kind != RV_MEM_RESERVED) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    rv_alloc_remove(ptr, NULL);
    rv_mem_discard(a.base, a.size);
    rv_va_release(a.base, a.size);
    API_RETURN(CUDA_SUCCESS);
}

/* Mappings live in a side list keyed by address (the registry keeps one entry per base address,
 * which the reservation owns). */
typedef struct mapping {
    struct mapping *next;
    uint64_t base, size;
    phys *p;
} mapping;
static mapping *g_maps;

// cuMemMap: a physical allocation appears at [ptr, ptr+size) inside a reservation; pages commit on touch
RV_EXPORT CUresult cuMemMap(CUdeviceptr ptr, size_t size, size_t offset, CUmemGenericAllocationHandle handle,
                            unsigned long long flags) {
    API_ENTER();
    API_ARGS("ptr=0x%llx bytes=%zu", (unsigned long long)ptr, size);
    phys *p = phys_from(handle);
    rv_alloc r;
    if (!p || !size || offset + size > p->size) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    if (!rv_alloc_find(ptr, &r) || r.kind != RV_MEM_RESERVED || ptr + size > r.base + r.size)
        API_RETURN(CUDA_ERROR_INVALID_VALUE);
    mapping *m = calloc(1, sizeof *m);
    m->base = ptr;
    m->size = size;
    m->p = p;
    if (p->fd >= 0 && rv_shm_map_at(ptr, size, p->fd, offset) != 0) {
        free(m);
        API_RETURN(CUDA_ERROR_OUT_OF_MEMORY);
    }
    pthread_mutex_lock(&g_mu);
    p->refs++;
    m->next = g_maps;
    g_maps = m;
    pthread_mutex_unlock(&g_mu);
    API_RETURN(CUDA_SUCCESS);
}

// cuMemUnmap: mappings inside the range go; their pages return to the OS
RV_EXPORT CUresult cuMemUnmap(CUdeviceptr ptr, size_t size) {
    API_ENTER();
    pthread_mutex_lock(&g_mu);
    mapping **pp = &g_maps, *gone = NULL;
    while (*pp) {
        mapping *m = *pp;
        if (m->base >= ptr && m->base + m->size <= ptr + size) {
            *pp = m->next;
            m->next = gone;
            gone = m;
        } else {
            pp = &m->next;
        }
    }
    pthread_mutex_unlock(&g_mu);
    while (gone) {
        mapping *m = gone;
        gone = m->next;
        if (m->p->fd >= 0)
            rv_shm_unmap_at(m->base, m->size);
        else
            rv_mem_discard(m->base, m->size);
        phys_unref(m->p);
        free(m);
    }
    API_RETURN(CUDA_SUCCESS);
}

// cuMemSetAccess: every device may access every mapping
RV_EXPORT CUresult cuMemSetAccess(CUdeviceptr ptr, size_t size, const CUmemAccessDesc *desc, size_t count) {
    API_ENTER();
    if (!desc || !count) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    API_RETURN(rv_alloc_find(ptr, NULL) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE);
}

// cuMemGetAccess: read-write for every device
RV_EXPORT CUresult cuMemGetAccess(unsigned long long *flags, const CUmemLocation *location, CUdeviceptr ptr) {
    API_ENTER();
    if (!flags) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    *flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
    API_RETURN(CUDA_SUCCESS);
}

static mapping *find_mapping(uint64_t addr) {
    for (mapping *m = g_maps; m; m = m->next)
        if (addr >= m->base && addr < m->base + m->size) return m;
    return NULL;
}

int rv_vmm_mapping(uint64_t addr, uint64_t *base, uint64_t *size) {
    pthread_mutex_lock(&g_mu);
    mapping *m = find_mapping(addr);
    if (m) *base = m->base, *size = m->size;
    pthread_mutex_unlock(&g_mu);
    return m != NULL;
}

// cuMemRetainAllocationHandle: the handle mapped at addr, with one more reference
RV_EXPORT CUresult cuMemRetainAllocationHandle(CUmemGenericAllocationHandle *handle, void *addr) {
    API_ENTER();
    if (!handle) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    pthread_mutex_lock(&g_mu);
    mapping *m = find_mapping((uint64_t)addr);
    if (m) m->p->refs++;
    pthread_mutex_unlock(&g_mu);
    if (!m) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    *handle = (CUmemGenericAllocationHandle)(uintptr_t)m->p;
    API_RETURN(CUDA_SUCCESS);
}

// cuMemGetAllocationPropertiesFromHandle: the properties given to cuMemCreate
RV_EXPORT CUresult cuMemGetAllocationPropertiesFromHandle(CUmemAllocationProp *prop, CUmemGenericAllocationHandle handle) {
    API_ENTER();
    phys *p = phys_from(handle);
    if (!p || !prop) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    *prop = p->prop;
    API_RETURN(CUDA_SUCCESS);
}

// cuMemExportToShareableHandle: a POSIX file descriptor (a dup of the allocation's memfd; the caller owns it)
RV_EXPORT CUresult cuMemExportToShareableHandle(void *shareableHandle, CUmemGenericAllocationHandle handle,
                                                CUmemAllocationHandleType handleType, unsigned long long flags) {
    API_ENTER();
    phys *p = phys_from(handle);
    if (!p || !shareableHandle) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    API_ARGS("type=%d bytes=%llu", (int)handleType, (unsigned long long)p->size);
    /* only the type requested at creation (CUDA answers the same for others); fabric handles are not
     * offered (the device attribute says unsupported) */
    if (handleType != CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR || p->fd < 0) API_RETURN(CUDA_ERROR_NOT_SUPPORTED);
    int fd = dup(p->fd);
    if (fd < 0) API_RETURN(CUDA_ERROR_OUT_OF_MEMORY);
    *(int *)shareableHandle = fd;
    API_RETURN(CUDA_SUCCESS);
}

// cuMemImportFromShareableHandle: a handle on the same memory as the exporter's (mapped MAP_SHARED)
RV_EXPORT CUresult cuMemImportFromShareableHandle(CUmemGenericAllocationHandle *handle, void *osHandle,
                                                  CUmemAllocationHandleType shHandleType) {
    API_ENTER();
    if (!handle || shHandleType != CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    int src = (int)(intptr_t)osHandle;
    int dev = rv_shm_dev_of(src);
    uint64_t size = rv_shm_size(src);
    API_ARGS("fd=%d bytes=%llu", src, (unsigned long long)size);
    if (dev < 0 || !size) API_RETURN(CUDA_ERROR_INVALID_VALUE); /* not a handle this driver exported */
    phys *p = calloc(1, sizeof *p);
    if (!p) API_RETURN(CUDA_ERROR_OUT_OF_MEMORY);
    p->fd = dup(src); /* the caller may close its descriptor */
    if (p->fd < 0) {
        free(p);
        API_RETURN(CUDA_ERROR_OUT_OF_MEMORY);
    }
    p->magic = HANDLE_MAGIC;
    p->refs = 1;
    p->size = size;
    p->dev = dev;
    p->imported = 1;
    p->prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
    p->prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
    p->prop.location.id = dev;
    p->prop.requestedHandleTypes = CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR;
    *handle = (CUmemGenericAllocationHandle)(uintptr_t)p;
    API_RETURN(CUDA_SUCCESS);
}
