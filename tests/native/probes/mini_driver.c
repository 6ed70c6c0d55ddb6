/* A minimal libcuda.so.1 for testing the export tables alone: just enough driver (init, version,
 * devices, primary contexts) for the real CUDA runtime to initialize, plus revati's
 * export_tables.c and integrity.c linked in. Built by tests/native/test_export_tables.py; never
 * shipped. Every entry point the runtime resolves through cuGetProcAddress that is not here gets
 * a function answering CUDA_ERROR_NOT_SUPPORTED; MINI_TRACE=1 prints those names to stderr.
 *
 * MINI_DRIVER_VERSION overrides what cuDriverGetVersion reports (the hash keeps RV_DRIVER_VERSION),
 * so a test can show that the runtime's check depends on the driver version it was told.
 */
/* every ABI version under its exact name (cuDeviceGetUuid and cuDeviceGetUuid_v2, ...) */
#define __CUDA_API_VERSION_INTERNAL 1
#include <cuda.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "revati/devconf.h"
#include "revati/export_tables.h"

#define EXPORT __attribute__((visibility("default")))

struct rv_ctx {
    int dev;
    unsigned long long id;
    int refcount;
};

static struct rv_ctx g_primary[64];
static __thread struct rv_ctx *t_current;

static int trace_on(void) {
    const char *e = getenv("MINI_TRACE");
    return e && *e == '1';
}

#define TRACE(...)                                      \
    do {                                                \
        if (trace_on()) fprintf(stderr, "[mini] " __VA_ARGS__); \
    } while (0)

static int ndev(void) { return rv_devconf_get()->count; }

EXPORT struct rv_ctx *rv_ctx_current(void) { return t_current; }

EXPORT struct rv_ctx *rv_ctx_primary(int dev) {
    if (dev < 0 || dev >= ndev()) return NULL;
    g_primary[dev].dev = dev;
    g_primary[dev].id = (unsigned long long)dev + 1;
    return &g_primary[dev];
}

EXPORT CUresult cuInit(unsigned flags) {
    TRACE("cuInit(%u)\n", flags);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDriverGetVersion(int *v) {
    if (!v) return CUDA_ERROR_INVALID_VALUE;
    const char *e = getenv("MINI_DRIVER_VERSION");
    *v = e ? atoi(e) : RV_DRIVER_VERSION;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuGetExportTable(const void **pp, const CUuuid *id) {
    CUresult r = rv_export_table(pp, id);
    if (trace_on()) {
        const unsigned char *u = (const unsigned char *)id->bytes;
        fprintf(stderr, "[mini] cuGetExportTable %02x%02x%02x%02x -> %d\n", u[0], u[1], u[2], u[3], (int)r);
    }
    return r;
}

EXPORT CUresult cuDeviceGetCount(int *n) {
    if (!n) return CUDA_ERROR_INVALID_VALUE;
    *n = ndev();
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceGet(CUdevice *d, int ordinal) {
    if (!d || ordinal < 0 || ordinal >= ndev()) return CUDA_ERROR_INVALID_DEVICE;
    *d = ordinal;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceGetUuid(CUuuid *u, CUdevice d) {
    if (!u || d < 0 || d >= ndev()) return CUDA_ERROR_INVALID_VALUE;
    rv_dev_uuid(d, (unsigned char *)u->bytes);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceGetUuid_v2(CUuuid *u, CUdevice d) { return cuDeviceGetUuid(u, d); }

EXPORT CUresult cuDeviceGetName(char *name, int len, CUdevice d) {
    if (!name || len <= 0) return CUDA_ERROR_INVALID_VALUE;
    snprintf(name, (size_t)len, "%s", rv_devconf_get()->name);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice d) {
    if (!bytes) return CUDA_ERROR_INVALID_VALUE;
    *bytes = rv_devconf_get()->mem_bytes;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceGetAttribute(int *v, CUdevice_attribute a, CUdevice d) {
    if (!v || d < 0 || d >= ndev()) return CUDA_ERROR_INVALID_VALUE;
    const rv_devconf *c = rv_devconf_get();
    switch (a) {
    case CU_DEVICE_ATTRIBUTE_PCI_BUS_ID: *v = c->pci_bus_base + d; break;
    case CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID:
    case CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID: *v = 0; break;
    case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR: *v = c->cc_major; break;
    case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR: *v = c->cc_minor; break;
    case CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT: *v = c->sm_count; break;
    case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK: *v = 1024; break;
    case CU_DEVICE_ATTRIBUTE_WARP_SIZE: *v = 32; break;
    case CU_DEVICE_ATTRIBUTE_UNIFIED_ADDRESSING: *v = 1; break;
    default: *v = 0; break;
    }
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDevicePrimaryCtxRetain(CUcontext *pctx, CUdevice d) {
    struct rv_ctx *c = rv_ctx_primary(d);
    if (!pctx || !c) return CUDA_ERROR_INVALID_VALUE;
    c->refcount++;
    *pctx = (CUcontext)c;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDevicePrimaryCtxRelease_v2(CUdevice d) {
    struct rv_ctx *c = rv_ctx_primary(d);
    if (!c) return CUDA_ERROR_INVALID_DEVICE;
    if (c->refcount > 0 && --c->refcount == 0) rv_cls_context_destroyed((CUcontext)c);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDevicePrimaryCtxReset_v2(CUdevice d) {
    struct rv_ctx *c = rv_ctx_primary(d);
    if (!c) return CUDA_ERROR_INVALID_DEVICE;
    rv_cls_context_destroyed((CUcontext)c);
    c->refcount = 0;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDevicePrimaryCtxGetState(CUdevice d, unsigned *flags, int *active) {
    struct rv_ctx *c = rv_ctx_primary(d);
    if (!c) return CUDA_ERROR_INVALID_DEVICE;
    if (flags) *flags = 0;
    if (active) *active = c->refcount > 0;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDevicePrimaryCtxSetFlags_v2(CUdevice d, unsigned flags) { return CUDA_SUCCESS; }

EXPORT CUresult cuCtxGetCurrent(CUcontext *pctx) {
    if (!pctx) return CUDA_ERROR_INVALID_VALUE;
    *pctx = (CUcontext)t_current;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuCtxSetCurrent(CUcontext ctx) {
    t_current = (struct rv_ctx *)ctx;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuCtxGetDevice(CUdevice *d) {
    if (!d) return CUDA_ERROR_INVALID_VALUE;
    if (!t_current) return CUDA_ERROR_INVALID_CONTEXT;
    *d = t_current->dev;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuCtxGetId(CUcontext ctx, unsigned long long *id) {
    struct rv_ctx *c = ctx ? (struct rv_ctx *)ctx : t_current;
    if (!id) return CUDA_ERROR_INVALID_VALUE;
    if (!c) return CUDA_ERROR_INVALID_CONTEXT;
    *id = c->id;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuCtxSynchronize(void) { return CUDA_SUCCESS; }

/* The last image handed to cuModuleLoadData, for tests of the module slots. */
EXPORT const void *mini_last_image;

EXPORT CUresult cuModuleLoadData(CUmodule *m, const void *image) {
    TRACE("cuModuleLoadData(%p)\n", image);
    if (!m || !image) return CUDA_ERROR_INVALID_VALUE;
    mini_last_image = image;
    *m = (CUmodule)&mini_last_image;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuModuleGetLoadingMode(CUmoduleLoadingMode *mode) {
    if (!mode) return CUDA_ERROR_INVALID_VALUE;
    *mode = CU_MODULE_EAGER_LOADING;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuCtxPushCurrent_v2(CUcontext ctx) {
    t_current = (struct rv_ctx *)ctx; /* one level is enough for the runtime's first calls */
    return CUDA_SUCCESS;
}

EXPORT CUresult cuCtxPopCurrent_v2(CUcontext *pctx) {
    if (pctx) *pctx = (CUcontext)t_current;
    t_current = NULL;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuCtxGetFlags(unsigned *flags) {
    if (!flags) return CUDA_ERROR_INVALID_VALUE;
    *flags = 0;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuCtxGetApiVersion(CUcontext ctx, unsigned *v) {
    if (!v) return CUDA_ERROR_INVALID_VALUE;
    *v = 3020;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuCtxGetLimit(size_t *v, CUlimit limit) {
    if (!v) return CUDA_ERROR_INVALID_VALUE;
    *v = 0;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuCtxSetLimit(CUlimit limit, size_t v) { return CUDA_SUCCESS; }

EXPORT CUresult cuCtxGetStreamPriorityRange(int *least, int *greatest) {
    if (least) *least = 0;
    if (greatest) *greatest = -5;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuMemGetInfo_v2(size_t *free_bytes, size_t *total) {
    if (free_bytes) *free_bytes = rv_devconf_get()->mem_bytes / 2;
    if (total) *total = rv_devconf_get()->mem_bytes;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuMemFree_v2(CUdeviceptr p) { return p ? CUDA_ERROR_INVALID_VALUE : CUDA_SUCCESS; }

static void *self_handle(void) {
    static void *h;
    if (!h) {
        Dl_info info;
        if (dladdr((void *)cuInit, &info)) h = dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD);
    }
    return h;
}

/* The names above under their exact spelling, or the _v2 spelling the runtime may ask for. */
static void *lookup(const char *name) {
    void *h = self_handle();
    if (!h) return NULL;
    void *f = dlsym(h, name);
    if (!f) {
        char v2[128];
        snprintf(v2, sizeof v2, "%s_v2", name);
        f = dlsym(h, v2);
    }
    /* only this file's entry points: rv_ and libc symbols found through the handle do not count */
    if (f && strncmp(name, "cu", 2) != 0) f = NULL;
    return f;
}

/* Everything else the runtime resolves gets its own thunk (up to 1024 names) that answers not
 * supported when called and, with MINI_TRACE=1, names itself. */
enum { MAX_THUNKS = 1024 };
static const char *g_thunk_name[MAX_THUNKS];
static int g_nthunks;
static pthread_mutex_t g_thunk_lock = PTHREAD_MUTEX_INITIALIZER;

static void *const g_thunks[MAX_THUNKS];

static CUresult missing(void *self) {
    for (int i = 0; i < g_nthunks; ++i)
        if (g_thunks[i] == self) TRACE("called %s, which the mini driver lacks\n", g_thunk_name[i]);
    return CUDA_ERROR_NOT_SUPPORTED;
}

/* thunk_<n>: n is a base-4 spelling, unique per thunk; the position in g_thunks names it */
#define THUNK(i) static CUresult thunk_##i(void) { return missing((void *)thunk_##i); }
#define THUNK4(i) THUNK(i##0) THUNK(i##1) THUNK(i##2) THUNK(i##3)
#define THUNK16(i) THUNK4(i##0) THUNK4(i##1) THUNK4(i##2) THUNK4(i##3)
#define THUNK64(i) THUNK16(i##0) THUNK16(i##1) THUNK16(i##2) THUNK16(i##3)
#define THUNK256(i) THUNK64(i##0) THUNK64(i##1) THUNK64(i##2) THUNK64(i##3)
THUNK256(10) THUNK256(11) THUNK256(12) THUNK256(13)
#define REF(i) (void *)thunk_##i,
#define REF4(i) REF(i##0) REF(i##1) REF(i##2) REF(i##3)
#define REF16(i) REF4(i##0) REF4(i##1) REF4(i##2) REF4(i##3)
#define REF64(i) REF16(i##0) REF16(i##1) REF16(i##2) REF16(i##3)
#define REF256(i) REF64(i##0) REF64(i##1) REF64(i##2) REF64(i##3)
static void *const g_thunks[MAX_THUNKS] = {REF256(10) REF256(11) REF256(12) REF256(13)};

static void *thunk_for(const char *name) {
    void *f = NULL;
    pthread_mutex_lock(&g_thunk_lock);
    for (int i = 0; i < g_nthunks && !f; ++i)
        if (!strcmp(g_thunk_name[i], name)) f = g_thunks[i];
    if (!f && g_nthunks < MAX_THUNKS) {
        g_thunk_name[g_nthunks] = strdup(name);
        f = g_thunks[g_nthunks++];
    }
    pthread_mutex_unlock(&g_thunk_lock);
    return f;
}

EXPORT CUresult cuGetProcAddress_v2(const char *symbol, void **pfn, int version, cuuint64_t flags,
                                    CUdriverProcAddressQueryResult *status) {
    if (!symbol || !pfn) return CUDA_ERROR_INVALID_VALUE;
    *pfn = lookup(symbol);
    if (!*pfn) {
        TRACE("cuGetProcAddress(%s, %d): not here\n", symbol, version);
        *pfn = thunk_for(symbol);
    }
    if (status) *status = CU_GET_PROC_ADDRESS_SUCCESS;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuGetProcAddress(const char *symbol, void **pfn, int version, cuuint64_t flags) {
    return cuGetProcAddress_v2(symbol, pfn, version, flags, NULL);
}
