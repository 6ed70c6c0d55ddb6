/* revati driver: device memory (a lazily committed host reservation), host memory, copies, memsets. */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"
#include "values/values.h"

/* Each device owns one MAP_NORESERVE region of address space, reserved on first use. Device pointers
 * are host addresses inside it: pages the program never touches (weights, KV cache) cost nothing;
 * pages it copies into keep their values. */
#define REGION_BYTES (4ULL << 40) /* 4 TiB: room for torch expandable segments and graph pools */
#define MIN_ALIGN 512ULL
#define PAGE_ALIGN (2ULL << 20)
/* Regions sit at fixed addresses when free (device d at REGION_HINT + d * REGION_BYTES, below where
 * Linux puts libraries and above the heap), so device pointers are the same from run to run whatever
 * the address-space randomisation: deterministic traces and diffs need that. */
#define REGION_HINT 0x100000000000ULL /* 16 TiB */
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

static struct region {
    uint64_t base, size, bump;
} g_region[RV_MAX_DEVICES];
static pthread_mutex_t g_va_mu = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int g_regions_hi; /* 1 + the highest device whose region is set */

typedef struct span {
    uint64_t base, size;
} span;
static span *g_free; /* released address ranges, reused first-fit */
static int g_nfree, g_capfree;

static pthread_rwlock_t g_reg_mu = PTHREAD_RWLOCK_INITIALIZER;
static rv_alloc *g_reg; /* live allocations sorted by base */
static int g_nreg, g_capreg;

static _Atomic int64_t g_used[RV_MAX_DEVICES];
static _Atomic unsigned long long g_alloc_id = 1;

static uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }

static int region_init(int dev) {
    struct region *r = &g_region[dev];
    if (r->base) return 1;
    for (uint64_t size = REGION_BYTES; size >= (1ULL << 34); size >>= 1) {
        void *want = (void *)(REGION_HINT + (uint64_t)dev * (REGION_BYTES + PAGE_ALIGN));
        void *p = mmap(want, size + PAGE_ALIGN, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
        if (p != MAP_FAILED && p != want) { /* a kernel that took the flag as a hint only */
            munmap(p, size + PAGE_ALIGN);
            p = MAP_FAILED;
        }
        if (p == MAP_FAILED)
            p = mmap(NULL, size + PAGE_ALIGN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                     -1, 0);
        if (p == MAP_FAILED) continue;
        r->size = size;
        r->bump = align_up((uint64_t)p, PAGE_ALIGN);
        r->base = r->bump;
        int hi = atomic_load(&g_regions_hi);
        while (hi < dev + 1 && !atomic_compare_exchange_weak(&g_regions_hi, &hi, dev + 1)) {
        }
        rv_debug("device %d: %llu GiB of address space at 0x%llx", dev, (unsigned long long)(size >> 30),
                 (unsigned long long)r->base);
        return 1;
    }
    rv_error("device %d: cannot reserve address space (%s)", dev, strerror(errno));
    return 0;
}

static void free_push(uint64_t base, uint64_t size);

/* Regions are set once and never move: readers need no lock (one still being set up reads as absent). */
int rv_dev_addr(uint64_t v) {
    int n = atomic_load_explicit(&g_regions_hi, memory_order_acquire);
    for (int d = 0; d < n; ++d) {
        const struct region *r = &g_region[d];
        if (r->base && v >= r->base && v < r->base + r->size) return 1;
    }
    return 0;
}

uint64_t rv_va_reserve(int dev, uint64_t size, uint64_t align, uint64_t hint) {
    if (dev < 0 || dev >= RV_MAX_DEVICES || size == 0) return 0;
    if (align < MIN_ALIGN) align = MIN_ALIGN;
    pthread_mutex_lock(&g_va_mu);
    uint64_t out = 0;
    if (region_init(dev)) {
        struct region *r = &g_region[dev];
        for (int i = 0; i < g_nfree && !out; ++i) {
            span *f = &g_free[i];
            if (f->base < r->base || f->base >= r->base + r->size) continue;
            uint64_t a = align_up(f->base, align);
            if (a + size <= f->base + f->size) {
                uint64_t tail = f->base + f->size - (a + size);
                uint64_t head = a - f->base;
                out = a;
                if (head) {
                    f->size = head;
                    if (tail) free_push(a + size, tail);
                } else if (tail) {
                    f->base = a + size;
                    f->size = tail;
                } else {
                    g_free[i] = g_free[--g_nfree];
                }
            }
        }
        if (!out) {
            uint64_t a = align_up(r->bump, align);
            if (a + size <= r->base + r->size) {
                out = a;
                r->bump = a + size;
            }
        }
    }
    pthread_mutex_unlock(&g_va_mu);
    return out;
}

/* The caller holds g_va_mu. */
static void free_push(uint64_t base, uint64_t size) {
    if (g_nfree == g_capfree) {
        int cap = g_capfree ? g_capfree * 2 : 64;
        span *n = realloc(g_free, (size_t)cap * sizeof *n);
        if (!n) return; /* the range is leaked: address space, not memory */
        g_free = n;
        g_capfree = cap;
    }
    g_free[g_nfree++] = (span){base, size};
}

void rv_va_release(uint64_t base, uint64_t size) {
    pthread_mutex_lock(&g_va_mu);
    free_push(base, size);
    pthread_mutex_unlock(&g_va_mu);
}

void rv_mem_discard(uint64_t base, uint64_t size) {
    uint64_t a = align_up(base, 4096), e = (base + size) & ~4095ULL;
    if (e > a) madvise((void *)a, e - a, MADV_DONTNEED);
    rv_values_clear(base, size); /* zeros (or nothing): no kernel's output any more */
}

static int reg_lower_bound(uint64_t base) {
    int lo = 0, hi = g_nreg;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (g_reg[mid].base < base) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* The span of all host (pinned/registered) allocations ever made: a cheap first test for
 * rv_host_alloc_may_hold, asked for many parameter words per launch. */
static _Atomic uint64_t g_host_lo = UINT64_MAX, g_host_hi;

static _Atomic uint64_t g_reg_gen; /* bumped at every change of the registry */

uint64_t rv_alloc_gen(void) { return atomic_load_explicit(&g_reg_gen, memory_order_acquire); }

int rv_host_alloc_may_hold(uint64_t v) { return v >= atomic_load(&g_host_lo) && v < atomic_load(&g_host_hi); }

void rv_alloc_add(const rv_alloc *a) {
    if (a->kind == RV_MEM_HOST) {
        uint64_t lo = atomic_load(&g_host_lo), hi = atomic_load(&g_host_hi), end = a->base + a->size;
        while (a->base < lo && !atomic_compare_exchange_weak(&g_host_lo, &lo, a->base)) {
        }
        while (end > hi && !atomic_compare_exchange_weak(&g_host_hi, &hi, end)) {
        }
    }
    pthread_rwlock_wrlock(&g_reg_mu);
    if (g_nreg == g_capreg) {
        int cap = g_capreg ? g_capreg * 2 : 256;
        rv_alloc *n = realloc(g_reg, (size_t)cap * sizeof *n);
        if (!n) rv_fatal("out of host memory for the allocation registry");
        g_reg = n;
        g_capreg = cap;
    }
    int i = reg_lower_bound(a->base);
    memmove(&g_reg[i + 1], &g_reg[i], (size_t)(g_nreg - i) * sizeof *g_reg);
    g_reg[i] = *a;
    if (!g_reg[i].id) g_reg[i].id = atomic_fetch_add(&g_alloc_id, 1);
    g_nreg++;
    atomic_fetch_add_explicit(&g_reg_gen, 1, memory_order_release);
    pthread_rwlock_unlock(&g_reg_mu);
}

int rv_alloc_remove(uint64_t base, rv_alloc *out) {
    pthread_rwlock_wrlock(&g_reg_mu);
    int i = reg_lower_bound(base);
    int ok = i < g_nreg && g_reg[i].base == base;
    if (ok) {
        if (out) *out = g_reg[i];
        memmove(&g_reg[i], &g_reg[i + 1], (size_t)(g_nreg - i - 1) * sizeof *g_reg);
        g_nreg--;
        atomic_fetch_add_explicit(&g_reg_gen, 1, memory_order_release);
    }
    pthread_rwlock_unlock(&g_reg_mu);
    return ok;
}

int rv_alloc_find(uint64_t ptr, rv_alloc *out) {
    pthread_rwlock_rdlock(&g_reg_mu);
    int i = reg_lower_bound(ptr + 1) - 1; /* last allocation with base <= ptr */
    int ok = i >= 0 && ptr < g_reg[i].base + g_reg[i].size;
    if (ok && out) *out = g_reg[i];
    pthread_rwlock_unlock(&g_reg_mu);
    return ok;
}

void rv_mem_account(int dev, int64_t delta) {
    if (dev >= 0 && dev < RV_MAX_DEVICES) atomic_fetch_add(&g_used[dev], delta);
}

uint64_t rv_mem_used(int dev) {
    int64_t v = dev >= 0 && dev < RV_MAX_DEVICES ? atomic_load(&g_used[dev]) : 0;
    return v > 0 ? (uint64_t)v : 0;
}

uint64_t rv_materialize_max(void) {
    static uint64_t v = UINT64_MAX;
    if (v == UINT64_MAX) v = rv_env_u64("REVATI_MATERIALIZE_MAX", 64ULL << 20);
    return v;
}

static uint64_t free_bytes(int dev) {
    const rv_devconf *c = rv_conf();
    uint64_t used = rv_mem_used(dev) + c->context_bytes, total = rv_devconf_cuda_total(c);
    return used >= total ? 0 : total - used;
}

static CUresult dev_alloc(CUdeviceptr *dptr, size_t bytesize, int kind) { return rv_dev_alloc(dptr, bytesize, kind, NULL); }

CUresult rv_dev_alloc(CUdeviceptr *dptr, size_t bytesize, int kind, void *pool) {
    if (!dptr) return CUDA_ERROR_INVALID_VALUE;
    if (bytesize == 0) return CUDA_ERROR_INVALID_VALUE;
    rv_ctx *ctx = rv_ctx_current_or_primary();
    /* the real allocator hands out 2 MiB pages for large requests and 512-byte slots for small ones */
    uint64_t charged = bytesize >= PAGE_ALIGN ? align_up(bytesize, PAGE_ALIGN) : align_up(bytesize, MIN_ALIGN);
    if (charged > free_bytes(ctx->dev)) return CUDA_ERROR_OUT_OF_MEMORY;
    uint64_t p = rv_va_reserve(ctx->dev, charged, bytesize >= PAGE_ALIGN ? PAGE_ALIGN : MIN_ALIGN, 0);
    if (!p) return CUDA_ERROR_OUT_OF_MEMORY;
    rv_alloc a = {.base = p, .size = charged, .dev = ctx->dev, .kind = kind, .handle = pool};
    rv_alloc_add(&a);
    rv_mem_account(ctx->dev, (int64_t)charged);
    *dptr = (CUdeviceptr)p;
    return CUDA_SUCCESS;
}

static CUresult dev_free(CUdeviceptr dptr) { return rv_dev_free(dptr, NULL); }

CUresult rv_dev_free(CUdeviceptr dptr, rv_alloc *freed) {
    if (!dptr) return CUDA_SUCCESS;
    rv_alloc a;
    if (!rv_alloc_find(dptr, &a) || a.base != dptr || a.kind != RV_MEM_DEVICE) return CUDA_ERROR_INVALID_VALUE;
    if (freed) *freed = a;
    rv_alloc_remove(a.base, NULL);
    rv_mem_discard(a.base, a.size);
    rv_mem_account(a.dev, -(int64_t)a.size);
    rv_va_release(a.base, a.size);
    return CUDA_SUCCESS;
}

// cuMemAlloc_v2: unique aligned addresses in the device's reservation; OOM when the profile is full
RV_EXPORT CUresult cuMemAlloc_v2(CUdeviceptr *dptr, size_t bytesize) {
    API_ENTER();
    rv__call.bytes = bytesize;
    API_ARGS("bytes=%zu", bytesize);
    CUresult r = dev_alloc(dptr, bytesize, RV_MEM_DEVICE);
    if (r == CUDA_SUCCESS) API_ARGS("bytes=%zu ptr=0x%llx", bytesize, (unsigned long long)*dptr);
    API_RETURN(r);
}

// cuMemAllocPitch_v2: rows padded to 512 bytes
RV_EXPORT CUresult cuMemAllocPitch_v2(CUdeviceptr *dptr, size_t *pPitch, size_t WidthInBytes, size_t Height,
                                      unsigned int ElementSizeBytes) {
    API_ENTER();
    if (!pPitch) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    *pPitch = align_up(WidthInBytes, 512);
    API_RETURN(dev_alloc(dptr, *pPitch * Height, RV_MEM_DEVICE));
}

// cuMemAllocManaged: managed memory behaves as device memory that the host may also touch
RV_EXPORT CUresult cuMemAllocManaged(CUdeviceptr *dptr, size_t bytesize, unsigned int flags) {
    API_ENTER();
    API_RETURN(dev_alloc(dptr, bytesize, RV_MEM_DEVICE));
}

// cuMemFree_v2: synchronizes like the real one (host jumps to the device's idle time); pages go back to the OS
RV_EXPORT CUresult cuMemFree_v2(CUdeviceptr dptr) {
    API_ENTER();
    API_ARGS("ptr=0x%llx", (unsigned long long)dptr);
    rv_alloc a;
    if (dptr && rv_alloc_find(dptr, &a) && a.kind == RV_MEM_DEVICE) rv_vadvance_to(rv_device_ready(a.dev), "cuMemFree_v2");
    API_RETURN(dev_free(dptr));
}

// cuMemGetInfo_v2: free = total - reserved - allocated on the current device
RV_EXPORT CUresult cuMemGetInfo_v2(size_t *free, size_t *total) {
    API_ENTER();
    if (!free || !total) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    rv_ctx *ctx = rv_ctx_current_or_primary();
    *free = free_bytes(ctx->dev);
    *total = rv_devconf_cuda_total(rv_conf());
    API_ARGS("free=%zu total=%zu", *free, *total);
    API_RETURN(CUDA_SUCCESS);
}

// cuMemGetAddressRange_v2: the allocation containing dptr
RV_EXPORT CUresult cuMemGetAddressRange_v2(CUdeviceptr *pbase, size_t *psize, CUdeviceptr dptr) {
    API_ENTER();
    rv_alloc a;
    if (!rv_alloc_find(dptr, &a) || a.kind == RV_MEM_HOST) API_RETURN(CUDA_ERROR_NOT_FOUND);
    /* in a VMM reservation, the range is the mapping (unmapped addresses are not allocations) */
    if (a.kind == RV_MEM_RESERVED && !rv_vmm_mapping(dptr, &a.base, &a.size)) API_RETURN(CUDA_ERROR_NOT_FOUND);
    if (pbase) *pbase = a.base;
    if (psize) *psize = a.size;
    API_RETURN(CUDA_SUCCESS);
}

static CUresult host_alloc(void **pp, size_t bytesize, unsigned flags) {
    if (!pp) return CUDA_ERROR_INVALID_VALUE;
    void *p = NULL;
    /* pinned host memory is ordinary host memory here; page-aligned like the real driver's */
    if (posix_memalign(&p, 4096, bytesize ? bytesize : 1)) return CUDA_ERROR_OUT_OF_MEMORY;
    rv_alloc a = {.base = (uint64_t)p, .size = bytesize ? bytesize : 1, .dev = -1, .kind = RV_MEM_HOST,
                  .flags = flags};
    rv_alloc_add(&a);
    *pp = p;
    return CUDA_SUCCESS;
}

// cuMemAllocHost_v2: page-locked host memory is malloc'd memory
RV_EXPORT CUresult cuMemAllocHost_v2(void **pp, size_t bytesize) {
    API_ENTER();
    API_RETURN(host_alloc(pp, bytesize, 0));
}

// cuMemHostAlloc: as cuMemAllocHost_v2, flags remembered
RV_EXPORT CUresult cuMemHostAlloc(void **pp, size_t bytesize, unsigned int Flags) {
    API_ENTER();
    API_RETURN(host_alloc(pp, bytesize, Flags));
}

// cuMemFreeHost: frees what cuMemHostAlloc/cuMemAllocHost returned
RV_EXPORT CUresult cuMemFreeHost(void *p) {
    API_ENTER();
    rv_alloc a;
    if (!p) API_RETURN(CUDA_SUCCESS);
    if (!rv_alloc_find((uint64_t)p, &a) || a.base != (uint64_t)p || a.kind != RV_MEM_HOST)
        API_RETURN(CUDA_ERROR_INVALID_VALUE);
    rv_alloc_remove(a.base, NULL);
    free(p);
    API_RETURN(CUDA_SUCCESS);
}

// cuMemHostRegister_v2: the range becomes "pinned" (known to pointer queries); nothing is locked
RV_EXPORT CUresult cuMemHostRegister_v2(void *p, size_t bytesize, unsigned int Flags) {
    API_ENTER();
    if (!p || !bytesize) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    if (rv_alloc_find((uint64_t)p, NULL)) API_RETURN(CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED);
    rv_alloc a = {.base = (uint64_t)p, .size = bytesize, .dev = -1, .kind = RV_MEM_HOST, .flags = Flags | 0x80000000u};
    rv_alloc_add(&a);
    API_RETURN(CUDA_SUCCESS);
}
RV_ALIAS(cuMemHostRegister, cuMemHostRegister_v2);

// cuMemHostUnregister: forgets a registered range
RV_EXPORT CUresult cuMemHostUnregister(void *p) {
    API_ENTER();
    rv_alloc a;
    if (!rv_alloc_find((uint64_t)p, &a) || a.base != (uint64_t)p || !(a.flags & 0x80000000u))
        API_RETURN(CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED);
    rv_alloc_remove(a.base, NULL);
    API_RETURN(CUDA_SUCCESS);
}

// cuMemHostGetDevicePointer_v2: unified addressing: the device address is the host address
RV_EXPORT CUresult cuMemHostGetDevicePointer_v2(CUdeviceptr *pdptr, void *p, unsigned int Flags) {
    API_ENTER();
    rv_alloc a;
    if (!pdptr || !rv_alloc_find((uint64_t)p, &a) || a.kind != RV_MEM_HOST) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    *pdptr = (CUdeviceptr)p;
    API_RETURN(CUDA_SUCCESS);
}

// cuMemHostGetFlags: the flags given at allocation
RV_EXPORT CUresult cuMemHostGetFlags(unsigned int *pFlags, void *p) {
    API_ENTER();
    rv_alloc a;
    if (!pFlags || !rv_alloc_find((uint64_t)p, &a) || a.kind != RV_MEM_HOST) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    *pFlags = a.flags & 0x7fffffffu;
    API_RETURN(CUDA_SUCCESS);
}

/* ---- pointer attributes ---- */

static CUresult pointer_attr(void *data, CUpointer_attribute attr, CUdeviceptr ptr, int strict) {
    rv_alloc a;
    int known = rv_alloc_find(ptr, &a);
    if (known && a.kind == RV_MEM_RESERVED) known = rv_vmm_mapping(ptr, &a.base, &a.size);
    if (!known && strict) return CUDA_ERROR_INVALID_VALUE;
    if (!known) memset(&a, 0, sizeof a);
    int device = known && a.kind != RV_MEM_HOST;
    int dev = device ? a.dev : (rv_ctx_current_or_primary()->dev);
    switch (attr) {
    case CU_POINTER_ATTRIBUTE_CONTEXT: *(CUcontext *)data = known ? (CUcontext)rv_ctx_primary(dev) : NULL; break;
    case CU_POINTER_ATTRIBUTE_MEMORY_TYPE:
        *(unsigned *)data = !known ? 0 : device ? CU_MEMORYTYPE_DEVICE : CU_MEMORYTYPE_HOST;
        break;
    case CU_POINTER_ATTRIBUTE_DEVICE_POINTER: *(CUdeviceptr *)data = known ? ptr : 0; break;
    case CU_POINTER_ATTRIBUTE_HOST_POINTER: *(void **)data = known && !device ? (void *)ptr : NULL; break;
    case CU_POINTER_ATTRIBUTE_SYNC_MEMOPS: *(int *)data = 1; break;
    case CU_POINTER_ATTRIBUTE_BUFFER_ID: *(unsigned long long *)data = known ? a.id : 0; break;
    case CU_POINTER_ATTRIBUTE_IS_MANAGED: *(int *)data = 0; break;
    case CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL: *(int *)data = known ? dev : -1; break;
    case CU_POINTER_ATTRIBUTE_IS_LEGACY_CUDA_IPC_CAPABLE: *(int *)data = device && a.kind == RV_MEM_DEVICE; break;
    case CU_POINTER_ATTRIBUTE_RANGE_START_ADDR: *(void **)data = known ? (void *)a.base : NULL; break;
    case CU_POINTER_ATTRIBUTE_RANGE_SIZE: *(size_t *)data = known ? a.size : 0; break;
    case CU_POINTER_ATTRIBUTE_MAPPED: *(int *)data = known; break;
    case CU_POINTER_ATTRIBUTE_ALLOWED_HANDLE_TYPES: *(unsigned long long *)data = device ? 1 : 0; break;
    case CU_POINTER_ATTRIBUTE_IS_GPU_DIRECT_RDMA_CAPABLE: *(int *)data = device; break;
    case CU_POINTER_ATTRIBUTE_ACCESS_FLAGS: *(int *)data = known ? CU_POINTER_ATTRIBUTE_ACCESS_FLAG_READWRITE : 0; break;
    case CU_POINTER_ATTRIBUTE_MEMPOOL_HANDLE: *(void **)data = NULL; break;
    case CU_POINTER_ATTRIBUTE_MAPPING_SIZE: *(size_t *)data = known ? a.size : 0; break;
    case CU_POINTER_ATTRIBUTE_MAPPING_BASE_ADDR: *(void **)data = known ? (void *)a.base : NULL; break;
    case CU_POINTER_ATTRIBUTE_MEMORY_BLOCK_ID: *(unsigned long long *)data = known ? a.id : 0; break;
    default: return CUDA_ERROR_INVALID_VALUE;
    }
    return CUDA_SUCCESS;
}

// cuPointerGetAttribute: from the allocation registry; unknown pointers are invalid
RV_EXPORT CUresult cuPointerGetAttribute(void *data, CUpointer_attribute attribute, CUdeviceptr ptr) {
    API_ENTER();
    if (!data) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    API_RETURN(pointer_attr(data, attribute, ptr, 1));
}

// cuPointerGetAttributes: unknown pointers succeed with empty values, as the real driver does
RV_EXPORT CUresult cuPointerGetAttributes(unsigned int numAttributes, CUpointer_attribute *attributes, void **data,
                                          CUdeviceptr ptr) {
    API_ENTER();
    if (!attributes || !data) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    for (unsigned i = 0; i < numAttributes; ++i) {
        if (!data[i]) continue;
        CUresult r = pointer_attr(data[i], attributes[i], ptr, 0);
        if (r != CUDA_SUCCESS) API_RETURN(r);
    }
    API_RETURN(CUDA_SUCCESS);
}

// cuPointerSetAttribute: SYNC_MEMOPS accepted (all copies are ordered here)
RV_EXPORT CUresult cuPointerSetAttribute(const void *value, CUpointer_attribute attribute, CUdeviceptr ptr) {
    API_ENTER();
    API_RETURN(attribute == CU_POINTER_ATTRIBUTE_SYNC_MEMOPS ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE);
}

// cuMemAdvise_v2: advice has no effect on timing
RV_EXPORT CUresult cuMemAdvise_v2(CUdeviceptr devPtr, size_t count, CUmem_advise advice, CUmemLocation location) {
    API_ENTER();
    API_RETURN(CUDA_SUCCESS);
}

// cuMemPrefetchAsync_v2: nothing to migrate
RV_EXPORT CUresult cuMemPrefetchAsync_v2(CUdeviceptr devPtr, size_t count, CUmemLocation location, unsigned int flags,
                                         CUstream hStream) {
    API_ENTER();
    API_RETURN(CUDA_SUCCESS);
}
RV_ALIAS(cuMemPrefetchAsync_v2_ptsz, cuMemPrefetchAsync_v2);
