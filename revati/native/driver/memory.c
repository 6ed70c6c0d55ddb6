/* revati driver: device memory (a lazily committed host reservation), host memory, copies, memsets. */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

/* Each device owns one MAP_NORESERVE region of address space, reserved on first use. Device pointers
 * are host addresses inside it: pages the program never touches (weights, KV cache) cost nothing;
 * pages it copies into keep their values. */
#define REGION_BYTES (1ULL << 40)
#define MIN_ALIGN 512ULL
#define PAGE_ALIGN (2ULL << 20)

static struct region {
    uint64_t base, size, bump;
} g_region[RV_MAX_DEVICES];
static pthread_mutex_t g_va_mu = PTHREAD_MUTEX_INITIALIZER;

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
        void *p = mmap(NULL, size + PAGE_ALIGN, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED) continue;
        r->base = align_up((uint64_t)p, PAGE_ALIGN);
        r->size = size;
        r->bump = r->base;
        rv_debug("device %d: %llu GiB of address space at 0x%llx", dev, (unsigned long long)(size >> 30),
                 (unsigned long long)r->base);
        return 1;
    }
    rv_error("device %d: cannot reserve address space (%s)", dev, strerror(errno));
    return 0;
}

static void free_push(uint64_t base, uint64_t size);

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

void rv_alloc_add(const rv_alloc *a) {
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
    if (v == UINT64_MAX) {
        const char *s = getenv("REVATI_MATERIALIZE_MAX");
        v = s && *s ? strtoull(s, NULL, 0) : (64ULL << 20);
    }
    return v;
}

static uint64_t free_bytes(int dev) {
    const rv_devconf *c = rv_conf();
    uint64_t used = rv_mem_used(dev) + c->reserved_bytes;
    return used >= c->mem_bytes ? 0 : c->mem_bytes - used;
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
    *total = rv_conf()->mem_bytes;
    API_ARGS("free=%zu total=%zu", *free, *total);
    API_RETURN(CUDA_SUCCESS);
}

// cuMemGetAddressRange_v2: the allocation containing dptr
RV_EXPORT CUresult cuMemGetAddressRange_v2(CUdeviceptr *pbase, size_t *psize, CUdeviceptr dptr) {
    API_ENTER();
    rv_alloc a;
    if (!rv_alloc_find(dptr, &a) || a.kind == RV_MEM_HOST) API_RETURN(CUDA_ERROR_NOT_FOUND);
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

/* ---- copies and memsets ---- */

static int is_device(uint64_t p, int *dev) {
    rv_alloc a;
    if (!rv_alloc_find(p, &a) || a.kind == RV_MEM_HOST) return 0;
    if (dev) *dev = a.dev;
    return 1;
}

/* A device range is valid when an allocation (or VMM mapping) covers it. */
static int device_range_ok(uint64_t p, size_t n) {
    rv_alloc a;
    if (!rv_alloc_find(p, &a) || a.kind == RV_MEM_HOST) return 0;
    return p + n <= a.base + a.size;
}

static CUresult do_copy(const char *why, uint64_t dst, uint64_t src, size_t n, CUstream hs, int async,
                        const char *kind, uint64_t corr) {
    if (n == 0) return CUDA_SUCCESS;
    int ddev = -1, sdev = -1;
    int dd = is_device(dst, &ddev), sd = is_device(src, &sdev);
    if (!kind) kind = dd && sd ? (ddev != sdev ? "PtoP" : "DtoD") : dd ? "HtoD" : sd ? "DtoH" : "HtoH";
    if (!strcmp(kind, "DtoD") && dd && sd && ddev != sdev) kind = "PtoP"; /* across devices: NVLink */
    if (!strcmp(kind, "HtoD") || !strcmp(kind, "DtoD") || !strcmp(kind, "PtoP"))
        if (!device_range_ok(dst, n)) return CUDA_ERROR_INVALID_VALUE;
    if (!strcmp(kind, "DtoH") || !strcmp(kind, "DtoD") || !strcmp(kind, "PtoP"))
        if (!device_range_ok(src, n)) return CUDA_ERROR_INVALID_VALUE;
    if (!dst || !src) return CUDA_ERROR_INVALID_VALUE;
    rv_stream *s = rv_stream_resolve(hs);
    if (!s) return CUDA_ERROR_INVALID_HANDLE;
    if (s->capture) {
        if (!async) return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
        return rv_graph_capture_copy(s, kind, n) ? CUDA_SUCCESS : CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
    }
    if (n <= rv_materialize_max()) memmove((void *)dst, (const void *)src, n);
    rv_vtime_ns end = rv_copy_now(s, kind, n, corr, 0);
    if (!async) rv_vadvance_to(end, why);
    return CUDA_SUCCESS;
}

#define COPY(res, dst, src, n, stream, async, kind) \
    do {                                             \
        rv__call.corr = rv_next_corr();              \
        API_ARGS("bytes=%zu", (size_t)(n));          \
        res = do_copy(rv__call.name, (uint64_t)(dst), (uint64_t)(src), (n), (stream), (async), (kind), rv__call.corr); \
    } while (0)

// cuMemcpyHtoD_v2: blocking: the host jumps to the copy's end
RV_EXPORT CUresult cuMemcpyHtoD_v2(CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount) {
    API_ENTER();
    CUresult r;
    COPY(r, dstDevice, srcHost, ByteCount, NULL, 0, "HtoD");
    API_RETURN(r);
}
RV_ALIAS(cuMemcpyHtoD_v2_ptds, cuMemcpyHtoD_v2);

// cuMemcpyDtoH_v2: blocking: the host jumps to the copy's end
RV_EXPORT CUresult cuMemcpyDtoH_v2(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount) {
    API_ENTER();
    CUresult r;
    COPY(r, dstHost, srcDevice, ByteCount, NULL, 0, "DtoH");
    API_RETURN(r);
}
RV_ALIAS(cuMemcpyDtoH_v2_ptds, cuMemcpyDtoH_v2);

// cuMemcpyDtoD_v2: blocking on the legacy stream
RV_EXPORT CUresult cuMemcpyDtoD_v2(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount) {
    API_ENTER();
    CUresult r;
    COPY(r, dstDevice, srcDevice, ByteCount, NULL, 0, "DtoD");
    API_RETURN(r);
}
RV_ALIAS(cuMemcpyDtoD_v2_ptds, cuMemcpyDtoD_v2);

// cuMemcpyHtoDAsync_v2: enqueued on the stream; values are copied at once
RV_EXPORT CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount, CUstream hStream) {
    API_ENTER();
    CUresult r;
    COPY(r, dstDevice, srcHost, ByteCount, hStream, 1, "HtoD");
    API_RETURN(r);
}
RV_ALIAS(cuMemcpyHtoDAsync_v2_ptsz, cuMemcpyHtoDAsync_v2);

// cuMemcpyDtoHAsync_v2: enqueued on the stream; values are copied at once
RV_EXPORT CUresult cuMemcpyDtoHAsync_v2(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount, CUstream hStream) {
    API_ENTER();
    CUresult r;
    COPY(r, dstHost, srcDevice, ByteCount, hStream, 1, "DtoH");
    API_RETURN(r);
}
RV_ALIAS(cuMemcpyDtoHAsync_v2_ptsz, cuMemcpyDtoHAsync_v2);

// cuMemcpyDtoDAsync_v2: enqueued on the stream
RV_EXPORT CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount, CUstream hStream) {
    API_ENTER();
    CUresult r;
    COPY(r, dstDevice, srcDevice, ByteCount, hStream, 1, "DtoD");
    API_RETURN(r);
}
RV_ALIAS(cuMemcpyDtoDAsync_v2_ptsz, cuMemcpyDtoDAsync_v2);

// cuMemcpy: unified addressing: the direction comes from the pointers
RV_EXPORT CUresult cuMemcpy(CUdeviceptr dst, CUdeviceptr src, size_t ByteCount) {
    API_ENTER();
    CUresult r;
    COPY(r, dst, src, ByteCount, NULL, 0, NULL);
    API_RETURN(r);
}
RV_ALIAS(cuMemcpy_ptds, cuMemcpy);

// cuMemcpyAsync: unified addressing, enqueued on the stream
RV_EXPORT CUresult cuMemcpyAsync(CUdeviceptr dst, CUdeviceptr src, size_t ByteCount, CUstream hStream) {
    API_ENTER();
    CUresult r;
    COPY(r, dst, src, ByteCount, hStream, 1, NULL);
    API_RETURN(r);
}
RV_ALIAS(cuMemcpyAsync_ptsz, cuMemcpyAsync);

// cuMemcpyPeer: device to device across devices, charged at the interconnect bandwidth
RV_EXPORT CUresult cuMemcpyPeer(CUdeviceptr dstDevice, CUcontext dstContext, CUdeviceptr srcDevice,
                                CUcontext srcContext, size_t ByteCount) {
    API_ENTER();
    CUresult r;
    COPY(r, dstDevice, srcDevice, ByteCount, NULL, 0, NULL);
    API_RETURN(r);
}
RV_ALIAS(cuMemcpyPeer_ptds, cuMemcpyPeer);

// cuMemcpyPeerAsync: as cuMemcpyPeer, enqueued on the stream
RV_EXPORT CUresult cuMemcpyPeerAsync(CUdeviceptr dstDevice, CUcontext dstContext, CUdeviceptr srcDevice,
                                     CUcontext srcContext, size_t ByteCount, CUstream hStream) {
    API_ENTER();
    CUresult r;
    COPY(r, dstDevice, srcDevice, ByteCount, hStream, 1, NULL);
    API_RETURN(r);
}
RV_ALIAS(cuMemcpyPeerAsync_ptsz, cuMemcpyPeerAsync);

static uint64_t copy2d_ptr(CUmemorytype t, const void *host, CUdeviceptr dev) {
    return t == CU_MEMORYTYPE_HOST ? (uint64_t)host : (uint64_t)dev;
}

static CUresult copy2d(const char *why, const CUDA_MEMCPY2D *p, CUstream hs, int async, uint64_t corr) {
    if (!p || p->srcMemoryType == CU_MEMORYTYPE_ARRAY || p->dstMemoryType == CU_MEMORYTYPE_ARRAY)
        return CUDA_ERROR_NOT_SUPPORTED;
    uint64_t s = copy2d_ptr(p->srcMemoryType, p->srcHost, p->srcDevice) + p->srcY * p->srcPitch + p->srcXInBytes;
    uint64_t d = copy2d_ptr(p->dstMemoryType, p->dstHost, p->dstDevice) + p->dstY * p->dstPitch + p->dstXInBytes;
    size_t total = p->WidthInBytes * p->Height;
    int sdev = p->srcMemoryType != CU_MEMORYTYPE_HOST && is_device(s, NULL);
    int ddev = p->dstMemoryType != CU_MEMORYTYPE_HOST && is_device(d, NULL);
    const char *kind = sdev && ddev ? "DtoD" : ddev ? "HtoD" : sdev ? "DtoH" : "HtoH";
    rv_stream *st = rv_stream_resolve(hs);
    if (!st) return CUDA_ERROR_INVALID_HANDLE;
    if (st->capture) return rv_graph_capture_copy(st, kind, total) ? CUDA_SUCCESS : CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
    if (total <= rv_materialize_max())
        for (size_t y = 0; y < p->Height; ++y)
            memmove((void *)(d + y * p->dstPitch), (const void *)(s + y * p->srcPitch), p->WidthInBytes);
    rv_vtime_ns end = rv_copy_now(st, kind, total, corr, 0);
    if (!async) rv_vadvance_to(end, why);
    return CUDA_SUCCESS;
}

// cuMemcpy2D_v2: row by row on the host mirror; charged as one copy of width*height bytes
RV_EXPORT CUresult cuMemcpy2D_v2(const CUDA_MEMCPY2D *pCopy) {
    API_ENTER();
    rv__call.corr = rv_next_corr();
    API_RETURN(copy2d(rv__call.name, pCopy, NULL, 0, rv__call.corr));
}
RV_ALIAS(cuMemcpy2D_v2_ptds, cuMemcpy2D_v2);
RV_ALIAS(cuMemcpy2DUnaligned_v2, cuMemcpy2D_v2);
RV_ALIAS(cuMemcpy2DUnaligned_v2_ptds, cuMemcpy2D_v2);

// cuMemcpy2DAsync_v2: as cuMemcpy2D_v2, enqueued on the stream
RV_EXPORT CUresult cuMemcpy2DAsync_v2(const CUDA_MEMCPY2D *pCopy, CUstream hStream) {
    API_ENTER();
    rv__call.corr = rv_next_corr();
    API_RETURN(copy2d(rv__call.name, pCopy, hStream, 1, rv__call.corr));
}
RV_ALIAS(cuMemcpy2DAsync_v2_ptsz, cuMemcpy2DAsync_v2);

static CUresult do_memset(const char *why, uint64_t dst, size_t pitch, size_t width, size_t height,
                          unsigned value, int elem, CUstream hs, int async, uint64_t corr) {
    size_t bytes = width * (size_t)elem;
    if (!pitch) pitch = bytes;
    if (!device_range_ok(dst, pitch * (height - 1) + bytes)) return CUDA_ERROR_INVALID_VALUE;
    rv_stream *s = rv_stream_resolve(hs);
    if (!s) return CUDA_ERROR_INVALID_HANDLE;
    uint64_t total = (uint64_t)bytes * height;
    if (s->capture) return rv_graph_capture_copy(s, NULL, total) ? CUDA_SUCCESS : CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
    if (total <= rv_materialize_max() || value == 0) {
        for (size_t y = 0; y < height; ++y) {
            uint8_t *row = (uint8_t *)(dst + y * pitch);
            if (elem == 1 || value == 0) {
                /* zeroing whole pages gives them back instead of committing them */
                if (value == 0 && bytes >= (1 << 20)) {
                    uint64_t a = align_up((uint64_t)row, 4096), e = ((uint64_t)row + bytes) & ~4095ULL;
                    memset(row, 0, a - (uint64_t)row);
                    rv_mem_discard(a, e - a);
                    memset((void *)e, 0, (uint64_t)row + bytes - e);
                } else if (total <= rv_materialize_max()) {
                    memset(row, (int)(value & 0xff), bytes);
                }
            } else if (elem == 2) {
                for (size_t i = 0; i < width; ++i) ((uint16_t *)row)[i] = (uint16_t)value;
            } else {
                for (size_t i = 0; i < width; ++i) ((uint32_t *)row)[i] = value;
            }
        }
    }
    rv_vtime_ns end = rv_copy_now(s, NULL, total, corr, 0);
    if (!async) rv_vadvance_to(end, why);
    return CUDA_SUCCESS;
}

#define MEMSET(dst, pitch, w, h, v, elem, stream, async)                                          \
    do {                                                                                          \
        rv__call.corr = rv_next_corr();                                                           \
        API_ARGS("bytes=%zu", (size_t)(w) * (size_t)(h) * (elem));                                 \
        API_RETURN(do_memset(rv__call.name, dst, pitch, w, h, v, elem, stream, async, rv__call.corr)); \
    } while (0)

// cuMemsetD8_v2: performed on the host mirror (up to REVATI_MATERIALIZE_MAX); blocking
RV_EXPORT CUresult cuMemsetD8_v2(CUdeviceptr dstDevice, unsigned char uc, size_t N) {
    API_ENTER();
    MEMSET(dstDevice, 0, N, 1, uc, 1, NULL, 0);
}
RV_ALIAS(cuMemsetD8_v2_ptds, cuMemsetD8_v2);

// cuMemsetD16_v2: as cuMemsetD8_v2 with 16-bit elements
RV_EXPORT CUresult cuMemsetD16_v2(CUdeviceptr dstDevice, unsigned short us, size_t N) {
    API_ENTER();
    MEMSET(dstDevice, 0, N, 1, us, 2, NULL, 0);
}
RV_ALIAS(cuMemsetD16_v2_ptds, cuMemsetD16_v2);

// cuMemsetD32_v2: as cuMemsetD8_v2 with 32-bit elements
RV_EXPORT CUresult cuMemsetD32_v2(CUdeviceptr dstDevice, unsigned int ui, size_t N) {
    API_ENTER();
    MEMSET(dstDevice, 0, N, 1, ui, 4, NULL, 0);
}
RV_ALIAS(cuMemsetD32_v2_ptds, cuMemsetD32_v2);

// cuMemsetD8Async: enqueued on the stream
RV_EXPORT CUresult cuMemsetD8Async(CUdeviceptr dstDevice, unsigned char uc, size_t N, CUstream hStream) {
    API_ENTER();
    MEMSET(dstDevice, 0, N, 1, uc, 1, hStream, 1);
}
RV_ALIAS(cuMemsetD8Async_ptsz, cuMemsetD8Async);

// cuMemsetD16Async: enqueued on the stream
RV_EXPORT CUresult cuMemsetD16Async(CUdeviceptr dstDevice, unsigned short us, size_t N, CUstream hStream) {
    API_ENTER();
    MEMSET(dstDevice, 0, N, 1, us, 2, hStream, 1);
}
RV_ALIAS(cuMemsetD16Async_ptsz, cuMemsetD16Async);

// cuMemsetD32Async: enqueued on the stream
RV_EXPORT CUresult cuMemsetD32Async(CUdeviceptr dstDevice, unsigned int ui, size_t N, CUstream hStream) {
    API_ENTER();
    MEMSET(dstDevice, 0, N, 1, ui, 4, hStream, 1);
}
RV_ALIAS(cuMemsetD32Async_ptsz, cuMemsetD32Async);

// cuMemsetD2D8_v2: pitched rows; blocking
RV_EXPORT CUresult cuMemsetD2D8_v2(CUdeviceptr dstDevice, size_t dstPitch, unsigned char uc, size_t Width, size_t Height) {
    API_ENTER();
    MEMSET(dstDevice, dstPitch, Width, Height, uc, 1, NULL, 0);
}
RV_ALIAS(cuMemsetD2D8_v2_ptds, cuMemsetD2D8_v2);

// cuMemsetD2D16_v2: pitched rows of 16-bit elements; blocking
RV_EXPORT CUresult cuMemsetD2D16_v2(CUdeviceptr dstDevice, size_t dstPitch, unsigned short us, size_t Width, size_t Height) {
    API_ENTER();
    MEMSET(dstDevice, dstPitch, Width, Height, us, 2, NULL, 0);
}
RV_ALIAS(cuMemsetD2D16_v2_ptds, cuMemsetD2D16_v2);

// cuMemsetD2D16Async: pitched rows of 16-bit elements, enqueued on the stream
RV_EXPORT CUresult cuMemsetD2D16Async(CUdeviceptr dstDevice, size_t dstPitch, unsigned short us, size_t Width,
                                      size_t Height, CUstream hStream) {
    API_ENTER();
    MEMSET(dstDevice, dstPitch, Width, Height, us, 2, hStream, 1);
}
RV_ALIAS(cuMemsetD2D16Async_ptsz, cuMemsetD2D16Async);

// cuMemsetD2D32_v2: pitched rows of 32-bit elements; blocking
RV_EXPORT CUresult cuMemsetD2D32_v2(CUdeviceptr dstDevice, size_t dstPitch, unsigned int ui, size_t Width, size_t Height) {
    API_ENTER();
    MEMSET(dstDevice, dstPitch, Width, Height, ui, 4, NULL, 0);
}
RV_ALIAS(cuMemsetD2D32_v2_ptds, cuMemsetD2D32_v2);

// cuMemsetD2D8Async: pitched rows, enqueued on the stream
RV_EXPORT CUresult cuMemsetD2D8Async(CUdeviceptr dstDevice, size_t dstPitch, unsigned char uc, size_t Width,
                                     size_t Height, CUstream hStream) {
    API_ENTER();
    MEMSET(dstDevice, dstPitch, Width, Height, uc, 1, hStream, 1);
}
RV_ALIAS(cuMemsetD2D8Async_ptsz, cuMemsetD2D8Async);

// cuMemsetD2D32Async: pitched rows of 32-bit elements, enqueued on the stream
RV_EXPORT CUresult cuMemsetD2D32Async(CUdeviceptr dstDevice, size_t dstPitch, unsigned int ui, size_t Width,
                                      size_t Height, CUstream hStream) {
    API_ENTER();
    MEMSET(dstDevice, dstPitch, Width, Height, ui, 4, hStream, 1);
}
RV_ALIAS(cuMemsetD2D32Async_ptsz, cuMemsetD2D32Async);

/* ---- pointer attributes ---- */

static CUresult pointer_attr(void *data, CUpointer_attribute attr, CUdeviceptr ptr, int strict) {
    rv_alloc a;
    int known = rv_alloc_find(ptr, &a);
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

/* ---- inter-process handles ----
 * A handle names (pid, device, base, size). Processes do not share pages here: another process opening
 * the handle gets its own range of the same size (values written by one side are not seen by the
 * other; device kernels never run, so only host-written metadata could differ). The same process gets
 * the original address back. */

#define IPC_MAGIC 0x52564950u

typedef struct ipc_mem {
    uint32_t magic;
    int32_t pid, dev;
    uint64_t base, size;
} ipc_mem;

// cuIpcGetMemHandle: a handle naming this process's allocation
RV_EXPORT CUresult cuIpcGetMemHandle(CUipcMemHandle *pHandle, CUdeviceptr dptr) {
    API_ENTER();
    rv_alloc a;
    if (!pHandle || !rv_alloc_find(dptr, &a) || a.kind == RV_MEM_HOST) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    memset(pHandle, 0, sizeof *pHandle);
    ipc_mem m = {IPC_MAGIC, (int32_t)getpid(), a.dev, a.base, a.size};
    memcpy(pHandle->reserved, &m, sizeof m);
    API_RETURN(CUDA_SUCCESS);
}

// cuIpcOpenMemHandle_v2: own process: the original address; another process: a private range of the same size
RV_EXPORT CUresult cuIpcOpenMemHandle_v2(CUdeviceptr *pdptr, CUipcMemHandle handle, unsigned int Flags) {
    API_ENTER();
    ipc_mem m;
    memcpy(&m, handle.reserved, sizeof m);
    if (!pdptr || m.magic != IPC_MAGIC || !m.size) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    if (m.pid == (int32_t)getpid()) {
        *pdptr = (CUdeviceptr)m.base;
        API_RETURN(CUDA_SUCCESS);
    }
    int dev = m.dev >= 0 && m.dev < rv_dev_count() ? m.dev : 0;
    uint64_t p = rv_va_reserve(dev, m.size, PAGE_ALIGN, 0);
    if (!p) API_RETURN(CUDA_ERROR_OUT_OF_MEMORY);
    rv_alloc a = {.base = p, .size = m.size, .dev = dev, .kind = RV_MEM_DEVICE, .flags = 0x40000000u};
    rv_alloc_add(&a);
    *pdptr = (CUdeviceptr)p;
    API_RETURN(CUDA_SUCCESS);
}
RV_ALIAS(cuIpcOpenMemHandle, cuIpcOpenMemHandle_v2);

// cuIpcCloseMemHandle: a range opened from another process is released (own allocations stay)
RV_EXPORT CUresult cuIpcCloseMemHandle(CUdeviceptr dptr) {
    API_ENTER();
    rv_alloc a;
    if (!rv_alloc_find(dptr, &a)) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    if (a.flags & 0x40000000u) {
        rv_alloc_remove(a.base, NULL);
        rv_mem_discard(a.base, a.size);
        rv_va_release(a.base, a.size);
    }
    API_RETURN(CUDA_SUCCESS);
}
