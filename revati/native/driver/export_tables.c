/* The driver's private export tables: the UUID-keyed function tables behind cuGetExportTable.
 *
 * Layouts (UUIDs, slot counts, what each known slot does) come from public reverse engineering:
 * the ZLUDA project (vosen/ZLUDA: dark_api/src/lib.rs, zluda/src/impl/driver.rs) and the UUIDs the
 * CUDA 13.0 libraries carry. docs/export-tables.md has the full table. A slot revati does not know
 * is a counted stub that answers 0 (CUDA_SUCCESS) and warns once: never a NULL to jump through.
 */
#include "revati/export_tables.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "revati/devconf.h"
#include "revati/log.h"
#include "revati/trace.h"
#include "revati/vclock.h"

/* context.c's (driver/internal.h), referenced weakly: while it is not linked they resolve to NULL
 * and the slots that need a context answer CUDA_ERROR_NOT_INITIALIZED / INVALID_CONTEXT. */
struct rv_ctx;
extern struct rv_ctx *rv_ctx_current(void) __attribute__((weak));
extern struct rv_ctx *rv_ctx_primary(int dev) __attribute__((weak));

static CUcontext current_ctx(void) { return rv_ctx_current ? (CUcontext)rv_ctx_current() : NULL; }

/* device.c's visible-device mapping (CUDA_VISIBLE_DEVICES), referenced weakly like context.c's */
extern int rv_dev_count(void) __attribute__((weak));
extern int rv_dev_phys(int ordinal) __attribute__((weak));

static int visible_devices(void) { return rv_dev_count ? rv_dev_count() : rv_devconf_get()->count; }

/* ------------------------------------------------------------------------------------------------
 * Stub slots. Each (table, slot) gets its own function so the warning and the count name it. */

#define SLOT_STUB(tab, n)                                                                             \
    static CUresult tab##_stub_##n(void) {                                                            \
        rv_unimplemented("cuGetExportTable " #tab "[" #n "] (stub slot, answers 0)");                 \
        return CUDA_SUCCESS;                                                                          \
    }
#define STUBS4(tab, a, b, c, d) SLOT_STUB(tab, a) SLOT_STUB(tab, b) SLOT_STUB(tab, c) SLOT_STUB(tab, d)
#define STUBS_10(tab, t) STUBS4(tab, t##0, t##1, t##2, t##3) STUBS4(tab, t##4, t##5, t##6, t##7) \
    SLOT_STUB(tab, t##8) SLOT_STUB(tab, t##9)
#define STUB(tab, n) ((const void *)tab##_stub_##n)

/* ------------------------------------------------------------------------------------------------
 * CUDART_INTERFACE {6bd5fb6c-5bf4-e74a-8987-d93912fd9df9}: 13 slots (CUDA 13.1 has 13, 13.0 10). */

enum { FATBINC_MAGIC = 0x466243B1 };

/* The runtime's wrapper around an embedded fatbin (__fatbinwrap). */
typedef struct fatbinc_wrapper {
    uint32_t magic;
    uint32_t version;
    const void *fatbin;
    const void *filename_or_fatbins;
} fatbinc_wrapper;

static CUresult load_module(CUmodule *module, const void *image) {
    if (!module || !image) return CUDA_ERROR_INVALID_VALUE;
    return cuModuleLoadData(module, image);
}

static CUresult load_wrapped(CUmodule *module, const fatbinc_wrapper *w) {
    if (!w) return CUDA_ERROR_INVALID_VALUE;
    if (w->magic != FATBINC_MAGIC) {
        rv_warn("CUDART_INTERFACE: fatbin wrapper with magic 0x%08x (expected 0x%08x)", w->magic, FATBINC_MAGIC);
        return CUDA_ERROR_INVALID_IMAGE;
    }
    return load_module(module, w->fatbin);
}

// slot 1: load the module of a wrapped fatbin (cuModuleLoadData on its image)
static CUresult cudart_module_from_wrapper(CUmodule *module, const fatbinc_wrapper *w) {
    rv_enter();
    CUresult r = load_wrapped(module, w);
    rv_leave();
    return r;
}

// slot 2: the device's primary context, not retained (the runtime retains it itself)
static CUresult cudart_primary_context(CUcontext *pctx, CUdevice dev) {
    if (!pctx) return CUDA_ERROR_INVALID_VALUE;
    if (!rv_ctx_primary) {
        rv_unimplemented("rv_ctx_primary (context.c)");
        return CUDA_ERROR_NOT_INITIALIZED;
    }
    if (dev < 0 || dev >= visible_devices()) return CUDA_ERROR_INVALID_DEVICE;
    rv_enter();
    CUcontext ctx = (CUcontext)rv_ctx_primary((int)dev);
    rv_leave();
    if (!ctx) return CUDA_ERROR_INVALID_DEVICE;
    *pctx = ctx;
    return CUDA_SUCCESS;
}

// slot 6: as slot 1 with three more arguments; revati loads only the plain case
static CUresult cudart_module_from_wrapper_ex(CUmodule *module, const fatbinc_wrapper *w, void *a3, void *a4,
                                              unsigned a5) {
    if (a3 || a4 || a5) {
        rv_unimplemented("cuGetExportTable CUDART_INTERFACE[6] with extra arguments");
        return CUDA_ERROR_NOT_SUPPORTED;
    }
    return cudart_module_from_wrapper(module, w);
}

// slot 7: takes one word and returns nothing; no observable effect to model
static void cudart_slot7(size_t arg) { (void)arg; }

// slot 8: load the module of a bare fatbin header, with three more arguments as slot 6
static CUresult cudart_module_from_fatbin_ex(const void *fatbin, CUmodule *module, void *a3, void *a4,
                                             unsigned a5) {
    if (a3 || a4 || a5) {
        rv_unimplemented("cuGetExportTable CUDART_INTERFACE[8] with extra arguments");
        return CUDA_ERROR_NOT_SUPPORTED;
    }
    rv_enter();
    CUresult r = load_module(module, fatbin);
    rv_leave();
    return r;
}

// slot 12: the real driver loads the PTX compiler, libnvvm and tile IR here; nothing to load
static CUresult cudart_load_compilers(void) { return CUDA_SUCCESS; }

SLOT_STUB(cudart, 3)
SLOT_STUB(cudart, 4)
SLOT_STUB(cudart, 5)
SLOT_STUB(cudart, 9)
SLOT_STUB(cudart, 10)
SLOT_STUB(cudart, 11)

static const void *const CUDART_INTERFACE[13] = {
    (const void *)(uintptr_t)(13 * sizeof(void *)),
    (const void *)cudart_module_from_wrapper,
    (const void *)cudart_primary_context,
    STUB(cudart, 3),
    STUB(cudart, 4),
    STUB(cudart, 5),
    (const void *)cudart_module_from_wrapper_ex,
    (const void *)cudart_slot7,
    (const void *)cudart_module_from_fatbin_ex,
    STUB(cudart, 9),
    STUB(cudart, 10),
    STUB(cudart, 11),
    (const void *)cudart_load_compilers,
};

/* ------------------------------------------------------------------------------------------------
 * TOOLS_RUNTIME_CALLBACK_HOOKS {a094798c-2e74-2e74-93f2-0800200c0a66}: 7 slots. Slots 2 and 6 hand
 * the runtime two preallocated buffers of 32-bit words (1024 and 14 words) that tools fill; nobody
 * fills them here. The size answered is a count of words, not bytes: the runtime reads buffer 1 as
 * one word per runtime-API callback id (523 of them in CUDA 13.0, cupti_runtime_cbid.h) and calls
 * slot 1 before and slot 4 after each API call whose word is nonzero. Buffers of 1024 and 14 bytes
 * (as served until 2026-12) let it read past their end into whatever static data the linker placed
 * there: NCCL's teardown called the stub slots 1 and 4 as soon as that data was nonzero
 * (docs/export-tables.md). */

enum { HOOKS_BUF1_WORDS = 1024, HOOKS_BUF2_WORDS = 14 };
static uint32_t g_hooks_buf1[HOOKS_BUF1_WORDS];
static uint32_t g_hooks_buf2[HOOKS_BUF2_WORDS];

// slot 2: the first tools buffer (its size in 32-bit words)
static void hooks_buffer1(void **ptr, size_t *size) {
    if (ptr) *ptr = g_hooks_buf1;
    if (size) *size = HOOKS_BUF1_WORDS;
}

// slot 6: the second tools buffer (its size in 32-bit words)
static void hooks_buffer2(void **ptr, size_t *size) {
    if (ptr) *ptr = g_hooks_buf2;
    if (size) *size = HOOKS_BUF2_WORDS;
}

SLOT_STUB(hooks, 1)
SLOT_STUB(hooks, 3)
SLOT_STUB(hooks, 4)
SLOT_STUB(hooks, 5)

static const void *const TOOLS_RUNTIME_CALLBACK_HOOKS[7] = {
    (const void *)(uintptr_t)(7 * sizeof(void *)),
    STUB(hooks, 1),
    (const void *)hooks_buffer1,
    STUB(hooks, 3),
    STUB(hooks, 4),
    STUB(hooks, 5),
    (const void *)hooks_buffer2,
};

/* ------------------------------------------------------------------------------------------------
 * TOOLS_TLS {42d85a81-23f6-cb47-8298-f6e78a3aecdc}: 4 slots; slot 2 answers the thread's current
 * context (cuBLASLt's kernel registry depends on it). */

// slot 2: the calling thread's current context (NULL when none)
static CUresult tools_tls_current_context(CUcontext *pctx) {
    if (!pctx) return CUDA_ERROR_INVALID_VALUE;
    *pctx = current_ctx();
    return CUDA_SUCCESS;
}

SLOT_STUB(tools_tls, 1)
SLOT_STUB(tools_tls, 3)

static const void *const TOOLS_TLS[4] = {
    (const void *)(uintptr_t)(4 * sizeof(void *)),
    STUB(tools_tls, 1),
    (const void *)tools_tls_current_context,
    STUB(tools_tls, 3),
};

/* ------------------------------------------------------------------------------------------------
 * CONTEXT_LOCAL_STORAGE {c693336e-1121-df11-a8c3-68f355d89593}: no size word; put, delete, get, then
 * a NULL terminator. Each copy of the runtime keeps its per-context state here under its own key. */

typedef void (*cls_dtor)(CUcontext ctx, void *key, void *value);

typedef struct cls_entry {
    CUcontext ctx;
    void *key;
    void *value;
    cls_dtor dtor;
} cls_entry;

static pthread_rwlock_t g_cls_lock = PTHREAD_RWLOCK_INITIALIZER;
static cls_entry *g_cls;
static size_t g_cls_n, g_cls_cap;

static CUcontext cls_context(CUcontext ctx) {
    return ctx ? ctx : current_ctx();
}

static cls_entry *cls_find(CUcontext ctx, void *key) {
    for (size_t i = 0; i < g_cls_n; ++i)
        if (g_cls[i].ctx == ctx && g_cls[i].key == key) return &g_cls[i];
    return NULL;
}

// slot 0: store value under (ctx or the current context, key); dtor runs when the context dies
static CUresult cls_put(CUcontext ctx, void *key, void *value, cls_dtor dtor) {
    ctx = cls_context(ctx);
    if (!ctx) return CUDA_ERROR_INVALID_CONTEXT;
    CUresult r = CUDA_SUCCESS;
    pthread_rwlock_wrlock(&g_cls_lock);
    cls_entry *e = cls_find(ctx, key);
    if (!e) {
        if (g_cls_n == g_cls_cap) {
            size_t cap = g_cls_cap ? 2 * g_cls_cap : 32;
            cls_entry *grown = realloc(g_cls, cap * sizeof *grown);
            if (!grown) {
                r = CUDA_ERROR_OUT_OF_MEMORY;
                goto out;
            }
            g_cls = grown;
            g_cls_cap = cap;
        }
        e = &g_cls[g_cls_n++];
        e->ctx = ctx;
        e->key = key;
    }
    e->value = value;
    e->dtor = dtor;
out:
    pthread_rwlock_unlock(&g_cls_lock);
    return r;
}

// slot 1: forget (ctx or the current context, key) without running its destructor
static CUresult cls_delete(CUcontext ctx, void *key) {
    ctx = cls_context(ctx);
    if (!ctx) return CUDA_ERROR_INVALID_CONTEXT;
    pthread_rwlock_wrlock(&g_cls_lock);
    cls_entry *e = cls_find(ctx, key);
    if (e) *e = g_cls[--g_cls_n];
    pthread_rwlock_unlock(&g_cls_lock);
    return CUDA_SUCCESS;
}

// slot 2: the value under (ctx or the current context, key); CUDA_ERROR_INVALID_HANDLE if none
static CUresult cls_get(void **value, CUcontext ctx, void *key) {
    if (!value) return CUDA_ERROR_INVALID_VALUE;
    ctx = cls_context(ctx);
    if (!ctx) return CUDA_ERROR_INVALID_CONTEXT;
    pthread_rwlock_rdlock(&g_cls_lock);
    cls_entry *e = cls_find(ctx, key);
    CUresult r = e ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
    if (e) *value = e->value;
    pthread_rwlock_unlock(&g_cls_lock);
    return r;
}

void rv_cls_context_destroyed(CUcontext ctx) {
    /* take the entries out under the lock, run the destructors outside it (they may call back) */
    cls_entry *dead = NULL;
    size_t ndead = 0;
    pthread_rwlock_wrlock(&g_cls_lock);
    for (size_t i = 0; i < g_cls_n;) {
        if (g_cls[i].ctx != ctx) {
            ++i;
            continue;
        }
        cls_entry *grown = realloc(dead, (ndead + 1) * sizeof *grown);
        if (grown) {
            dead = grown;
            dead[ndead++] = g_cls[i];
        }
        g_cls[i] = g_cls[--g_cls_n];
    }
    pthread_rwlock_unlock(&g_cls_lock);
    for (size_t i = 0; i < ndead; ++i)
        if (dead[i].dtor) dead[i].dtor(dead[i].ctx, dead[i].key, dead[i].value);
    free(dead);
}

static const void *const CONTEXT_LOCAL_STORAGE[4] = {
    (const void *)cls_put,
    (const void *)cls_delete,
    (const void *)cls_get,
    NULL,
};

/* ------------------------------------------------------------------------------------------------
 * CONTEXT_CHECKS {263e8860-7cd2-6143-92f6-bbd5006dfa7e}: 4 slots. Slot 2 asks whether a context
 * wraps another (interop contexts); revati's never do. */

// slot 2: *wrapped = 0 (and *unwrapped left alone, as the real driver does for plain contexts)
static CUresult context_check_wrapped(CUcontext ctx, uint32_t *wrapped, CUcontext *unwrapped) {
    (void)ctx;
    (void)unwrapped;
    if (wrapped) *wrapped = 0;
    return CUDA_SUCCESS;
}

// slot 3: a global flag that is 0 on every driver observed
static uint32_t context_check_flag(void) { return 0; }

SLOT_STUB(ctx_checks, 1)

static const void *const CONTEXT_CHECKS[4] = {
    (const void *)(uintptr_t)(4 * sizeof(void *)),
    STUB(ctx_checks, 1),
    (const void *)context_check_wrapped,
    (const void *)context_check_flag,
};

/* ------------------------------------------------------------------------------------------------
 * INTEGRITY_CHECK {d4082055-bde6-704b-8d34-ba123c66e1f2}: 3 slots; slot 1 is the check. */

static CUresult integrity_check(uint32_t runtime_version, uint64_t unix_seconds, uint64_t out[2]);

SLOT_STUB(integrity, 2)

static const void *const INTEGRITY_CHECK[3] = {
    (const void *)(uintptr_t)(3 * sizeof(void *)),
    (const void *)integrity_check,
    STUB(integrity, 2),
};

int rv_integrity_devices(rv_integrity_device *devs, int max) {
    /* what device.c reports for each visible ordinal: the profile device's UUID, PCI
     * 0000:<base + profile index>:00.0 */
    const rv_devconf *c = rv_devconf_get();
    int count = visible_devices();
    int n = count < max ? count : max;
    for (int i = 0; i < n; ++i) {
        int phys = rv_dev_phys ? rv_dev_phys(i) : i;
        rv_dev_uuid(phys, devs[i].uuid);
        devs[i].pci_domain = 0;
        devs[i].pci_bus = c->pci_bus_base + phys;
        devs[i].pci_device = 0;
    }
    return n;
}

// slot 1: HMAC-MD2 of (driver version, runtime version, pid, thread, table addresses, time, devices)
static CUresult integrity_check(uint32_t runtime_version, uint64_t unix_seconds, uint64_t out[2]) {
    if (!out) return CUDA_ERROR_INVALID_VALUE;
    rv_enter();
    rv_integrity_input in = {
        .driver_version = RV_DRIVER_VERSION,
        .runtime_version = runtime_version,
        .pid = (uint32_t)getpid(),
        .thread = (uint32_t)(uintptr_t)pthread_self(),
        .cudart_table = (uint64_t)(uintptr_t)CUDART_INTERFACE,
        .integrity_table = (uint64_t)(uintptr_t)INTEGRITY_CHECK,
        .check_fn = (uint64_t)(uintptr_t)INTEGRITY_CHECK[1],
        .unix_seconds = unix_seconds,
    };
    rv_integrity_device devs[64];
    int n = rv_integrity_devices(devs, 64);
    rv_integrity_hash(&in, devs, n, out);
    rv_debug("integrity check: runtime %u, time %llu, %d device(s)", runtime_version,
             (unsigned long long)unix_seconds, n);
    rv_leave();
    return CUDA_SUCCESS;
}

/* ------------------------------------------------------------------------------------------------
 * TOOLS_CONTEXT {21318c60-9714-3248-8ca6-41ff7324c8f2}: asked for by cuBLAS, cuBLASLt, cuFFT, cuDNN.
 * The real driver serves a size word and 94 slots; slot 4 answers a context's unique id (as
 * cuCtxGetId). The others are stubs answering 0, which cuBLASLt accepts. */

// slot 4: the unique id of ctx (or of the current context)
static CUresult tools_ctx_id(CUcontext ctx, unsigned long long *id) {
    if (!id) return CUDA_ERROR_INVALID_VALUE;
    return cuCtxGetId(ctx, id);
}

SLOT_STUB(tools_ctx, 1)
SLOT_STUB(tools_ctx, 2)
SLOT_STUB(tools_ctx, 3)
SLOT_STUB(tools_ctx, 5)
SLOT_STUB(tools_ctx, 6)
SLOT_STUB(tools_ctx, 7)
SLOT_STUB(tools_ctx, 8)
SLOT_STUB(tools_ctx, 9)
STUBS_10(tools_ctx, 1)
STUBS_10(tools_ctx, 2)
STUBS_10(tools_ctx, 3)
STUBS_10(tools_ctx, 4)
STUBS_10(tools_ctx, 5)
STUBS_10(tools_ctx, 6)
STUBS_10(tools_ctx, 7)
STUBS_10(tools_ctx, 8)
STUBS4(tools_ctx, 90, 91, 92, 93)
SLOT_STUB(tools_ctx, 94)

#define ROW10(tab, t)                                                                                   \
    STUB(tab, t##0), STUB(tab, t##1), STUB(tab, t##2), STUB(tab, t##3), STUB(tab, t##4), STUB(tab, t##5), \
        STUB(tab, t##6), STUB(tab, t##7), STUB(tab, t##8), STUB(tab, t##9)

static const void *const TOOLS_CONTEXT[95] = {
    (const void *)(uintptr_t)(95 * sizeof(void *)),
    STUB(tools_ctx, 1),
    STUB(tools_ctx, 2),
    STUB(tools_ctx, 3),
    (const void *)tools_ctx_id,
    STUB(tools_ctx, 5),
    STUB(tools_ctx, 6),
    STUB(tools_ctx, 7),
    STUB(tools_ctx, 8),
    STUB(tools_ctx, 9),
    ROW10(tools_ctx, 1),
    ROW10(tools_ctx, 2),
    ROW10(tools_ctx, 3),
    ROW10(tools_ctx, 4),
    ROW10(tools_ctx, 5),
    ROW10(tools_ctx, 6),
    ROW10(tools_ctx, 7),
    ROW10(tools_ctx, 8),
    STUB(tools_ctx, 90),
    STUB(tools_ctx, 91),
    STUB(tools_ctx, 92),
    STUB(tools_ctx, 93),
    STUB(tools_ctx, 94),
};

/* ------------------------------------------------------------------------------------------------
 * {1734dc26-800d-4745-8726-c0f1e7dd8bca}: asked for by cuBLASLt, cuDNN, cuSPARSELt, NVRTC, CUPTI;
 * layout not public. It must exist (answering "not supported" breaks cuBLASLt): a size word, slots 4
 * and 13 (the TPC layout cuBLASLt reads and its release, sm_layout.c) and stubs answering 0. */

SLOT_STUB(t1734dc26, 1)
SLOT_STUB(t1734dc26, 2)
SLOT_STUB(t1734dc26, 3)
STUBS4(t1734dc26, 5, 6, 7, 8)
STUBS4(t1734dc26, 9, 10, 11, 12)
SLOT_STUB(t1734dc26, 14)
SLOT_STUB(t1734dc26, 15)
SLOT_STUB(t1734dc26, 16)

/* 17 words: the size the real driver (580.159.04, an H200) gives this table */
static const void *const T1734DC26[17] = {
    (const void *)(uintptr_t)(17 * sizeof(void *)),
    STUB(t1734dc26, 1),
    STUB(t1734dc26, 2),
    STUB(t1734dc26, 3),
    (const void *)rv_sm_layout_get,
    STUB(t1734dc26, 5),
    STUB(t1734dc26, 6),
    STUB(t1734dc26, 7),
    STUB(t1734dc26, 8),
    STUB(t1734dc26, 9),
    STUB(t1734dc26, 10),
    STUB(t1734dc26, 11),
    STUB(t1734dc26, 12),
    (const void *)rv_sm_layout_release,
    STUB(t1734dc26, 14),
    STUB(t1734dc26, 15),
    STUB(t1734dc26, 16),
};

/* ------------------------------------------------------------------------------------------------
 * Lookup. */

typedef struct table_entry {
    const char *name;
    unsigned char uuid[16];
    const void *const *table; /* NULL: known, deliberately answered "not supported" */
} table_entry;

static const table_entry TABLES[] = {
    {"CUDART_INTERFACE",
     {0x6b, 0xd5, 0xfb, 0x6c, 0x5b, 0xf4, 0xe7, 0x4a, 0x89, 0x87, 0xd9, 0x39, 0x12, 0xfd, 0x9d, 0xf9},
     CUDART_INTERFACE},
    {"TOOLS_RUNTIME_CALLBACK_HOOKS",
     {0xa0, 0x94, 0x79, 0x8c, 0x2e, 0x74, 0x2e, 0x74, 0x93, 0xf2, 0x08, 0x00, 0x20, 0x0c, 0x0a, 0x66},
     TOOLS_RUNTIME_CALLBACK_HOOKS},
    {"TOOLS_TLS",
     {0x42, 0xd8, 0x5a, 0x81, 0x23, 0xf6, 0xcb, 0x47, 0x82, 0x98, 0xf6, 0xe7, 0x8a, 0x3a, 0xec, 0xdc},
     TOOLS_TLS},
    {"CONTEXT_LOCAL_STORAGE",
     {0xc6, 0x93, 0x33, 0x6e, 0x11, 0x21, 0xdf, 0x11, 0xa8, 0xc3, 0x68, 0xf3, 0x55, 0xd8, 0x95, 0x93},
     CONTEXT_LOCAL_STORAGE},
    {"CONTEXT_CHECKS",
     {0x26, 0x3e, 0x88, 0x60, 0x7c, 0xd2, 0x61, 0x43, 0x92, 0xf6, 0xbb, 0xd5, 0x00, 0x6d, 0xfa, 0x7e},
     CONTEXT_CHECKS},
    {"INTEGRITY_CHECK",
     {0xd4, 0x08, 0x20, 0x55, 0xbd, 0xe6, 0x70, 0x4b, 0x8d, 0x34, 0xba, 0x12, 0x3c, 0x66, 0xe1, 0xf2},
     INTEGRITY_CHECK},
    {"TOOLS_CONTEXT",
     {0x21, 0x31, 0x8c, 0x60, 0x97, 0x14, 0x32, 0x48, 0x8c, 0xa6, 0x41, 0xff, 0x73, 0x24, 0xc8, 0xf2},
     TOOLS_CONTEXT},
    {"1734dc26",
     {0x17, 0x34, 0xdc, 0x26, 0x80, 0x0d, 0x47, 0x45, 0x87, 0x26, 0xc0, 0xf1, 0xe7, 0xdd, 0x8b, 0xca},
     T1734DC26},
    /* asked for by the runtime, cuBLAS, cuDNN, NCCL...; "not supported" is accepted */
    {"f8cff951",
     {0xf8, 0xcf, 0xf9, 0x51, 0x21, 0x46, 0x8b, 0x4e, 0xb9, 0xe2, 0xfb, 0x46, 0x9e, 0x7c, 0x0d, 0xd9},
     NULL},
    /* asked for by cuDNN, NVRTC, nvJitLink; "not supported" is accepted */
    {"da9151d3",
     {0xda, 0x91, 0x51, 0xd3, 0x3a, 0xe6, 0xcc, 0x41, 0xa5, 0xc0, 0x4f, 0x26, 0xd5, 0x33, 0xe3, 0x28},
     NULL},
};

enum { N_TABLES = sizeof TABLES / sizeof TABLES[0] };

/* one warning per unknown UUID (or known-declined table) */
static pthread_mutex_t g_seen_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned char g_seen[64][16];
static int g_nseen;

static int first_sight(const unsigned char uuid[16]) {
    int seen = 0;
    pthread_mutex_lock(&g_seen_lock);
    for (int i = 0; i < g_nseen && !seen; ++i) seen = !memcmp(g_seen[i], uuid, 16);
    int first = !seen && g_nseen < 64; /* past 64 distinct UUIDs, stay quiet rather than repeat */
    if (first) memcpy(g_seen[g_nseen++], uuid, 16);
    pthread_mutex_unlock(&g_seen_lock);
    return first;
}

static void uuid_text(const unsigned char u[16], char out[37]) {
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2],
             u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
}

CUresult rv_export_table(const void **ppExportTable, const CUuuid *pExportTableId) {
    if (!ppExportTable || !pExportTableId) return CUDA_ERROR_INVALID_VALUE;
    *ppExportTable = NULL;
    const unsigned char *id = (const unsigned char *)pExportTableId->bytes;
    for (int i = 0; i < N_TABLES; ++i) {
        if (memcmp(TABLES[i].uuid, id, 16)) continue;
        if (TABLES[i].table) {
            *ppExportTable = TABLES[i].table;
            rv_debug("cuGetExportTable %s -> %p", TABLES[i].name, (const void *)TABLES[i].table);
            return CUDA_SUCCESS;
        }
        if (first_sight(id)) rv_info("cuGetExportTable %s: answered not supported (as designed)", TABLES[i].name);
        return CUDA_ERROR_NOT_SUPPORTED;
    }
    if (first_sight(id)) {
        char text[37];
        uuid_text(id, text);
        rv_warn("cuGetExportTable: unknown table {%s}, answered not supported", text);
        char *name = malloc(64);
        if (name) {
            snprintf(name, 64, "cuGetExportTable {%s}", text);
            rv_unimplemented(name); /* keeps the pointer: the name lives as long as the process */
        }
    }
    return CUDA_ERROR_NOT_SUPPORTED;
}
