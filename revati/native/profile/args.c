/* revati profile shim: a launch's parameters, decoded with the real driver's layout, device pointers masked.
 *
 * The texts (`args`, `op`, `sig`) come from the shared features unit (native/features, the same code the
 * stand-in runs); what it needs from the real driver is found here: the layout from cuFuncGetParamInfo
 * (cuKernelGetParamInfo for library kernels), whether a word points into device memory from
 * cuPointerGetAttributes (the ranges it names kept in a small cache), and the library call in flight
 * from librevati_libcalls.so when it is preloaded. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "profile.h"
#include "revati/features.h"

#define MAX_PARAMS 256
#define LAYOUT_SLOTS 4096 /* open-addressed cache of function layouts */
#define RANGE_SLOTS 256   /* direct-mapped cache of device allocation ranges */

typedef struct {
    CUfunction f;
    int n; /* -1: the driver could not say */
    uint16_t *off, *size;
    char *name;
} layout;

static layout layouts[LAYOUT_SLOTS];
static pthread_mutex_t layout_mu = PTHREAD_MUTEX_INITIALIZER;

typedef struct {
    uint64_t start, end;
} range;
static range ranges[RANGE_SLOTS];
static pthread_mutex_t range_mu = PTHREAD_MUTEX_INITIALIZER;

static int param_info(CUfunction f, size_t i, size_t *off, size_t *size) {
    if (rp_drv.FuncGetParamInfo && rp_drv.FuncGetParamInfo(f, i, off, size) == CUDA_SUCCESS) return 1;
    if (rp_drv.KernelGetParamInfo && rp_drv.KernelGetParamInfo((CUkernel)f, i, off, size) == CUDA_SUCCESS) return 1;
    return 0;
}

static const char *lookup_name(CUfunction f) {
    const char *name = NULL;
    if (rp_drv.FuncGetName && rp_drv.FuncGetName(&name, f) == CUDA_SUCCESS && name) return name;
    name = NULL;
    if (rp_drv.KernelGetName && rp_drv.KernelGetName(&name, (CUkernel)f) == CUDA_SUCCESS && name) return name;
    return "?";
}

/* the layout of f, computed once (the caller holds no lock; this takes layout_mu) */
static layout *get_layout(CUfunction f) {
    size_t h = ((uintptr_t)f >> 4) * 0x9E3779B97F4A7C15ull >> 52;
    pthread_mutex_lock(&layout_mu);
    for (size_t k = 0; k < LAYOUT_SLOTS; ++k) {
        layout *e = &layouts[(h + k) % LAYOUT_SLOTS];
        if (e->f == f) {
            pthread_mutex_unlock(&layout_mu);
            return e;
        }
        if (e->f) continue;
        uint16_t off[MAX_PARAMS], size[MAX_PARAMS];
        int n = 0;
        rp_busy++;
        for (; n < MAX_PARAMS; ++n) {
            size_t o = 0, s = 0;
            if (!param_info(f, (size_t)n, &o, &s)) break;
            off[n] = (uint16_t)o, size[n] = (uint16_t)s;
        }
        e->name = strdup(lookup_name(f));
        rp_busy--;
        e->n = n;
        e->off = malloc(sizeof(uint16_t) * (size_t)(n ? n : 1));
        e->size = malloc(sizeof(uint16_t) * (size_t)(n ? n : 1));
        if (n) memcpy(e->off, off, sizeof(uint16_t) * (size_t)n), memcpy(e->size, size, sizeof(uint16_t) * (size_t)n);
        e->f = f;
        pthread_mutex_unlock(&layout_mu);
        return e;
    }
    pthread_mutex_unlock(&layout_mu);
    return NULL; /* cache full: the launch is written without args */
}

const char *rp_func_name(CUfunction f) {
    layout *e = get_layout(f);
    return e && e->name ? e->name : "?";
}

/* does v point into device memory? */
static int is_device_ptr(uint64_t v) {
    if (v < (1ull << 32) || v >= (1ull << 57)) return 0; /* not a user-space address the GPU maps */
    size_t slot = (v >> 21) % RANGE_SLOTS;
    pthread_mutex_lock(&range_mu);
    range r = ranges[slot];
    pthread_mutex_unlock(&range_mu);
    if (v >= r.start && v < r.end) return 1;
    if (!rp_drv.PointerGetAttributes) return 0;
    CUpointer_attribute attrs[3] = {CU_POINTER_ATTRIBUTE_MEMORY_TYPE, CU_POINTER_ATTRIBUTE_RANGE_START_ADDR,
                                    CU_POINTER_ATTRIBUTE_RANGE_SIZE};
    unsigned int mtype = 0;
    CUdeviceptr start = 0;
    size_t size = 0;
    void *data[3] = {&mtype, &start, &size};
    rp_busy++;
    CUresult res = rp_drv.PointerGetAttributes(3, attrs, data, (CUdeviceptr)v);
    rp_busy--;
    if (res != CUDA_SUCCESS || (mtype != CU_MEMORYTYPE_DEVICE && mtype != CU_MEMORYTYPE_UNIFIED)) return 0;
    if (size && start <= v) {
        pthread_mutex_lock(&range_mu);
        ranges[slot] = (range){start, start + size};
        pthread_mutex_unlock(&range_mu);
    }
    return 1;
}

static int is_devptr_cb(uint64_t v, void *user) { return is_device_ptr(v); }

typedef const char *(*op_context_fn)(void);
static op_context_fn op_context;
static pthread_once_t op_once = PTHREAD_ONCE_INIT;
/* librevati_libcalls.so (preloaded by `revati profile`) keeps the library call in flight */
static void find_op_context(void) { op_context = (op_context_fn)dlsym(RTLD_DEFAULT, "revati_op_context"); }

/* per thread: the packed parameter buffer and the feature texts (about 200 KB, on first launch) */
typedef struct {
    unsigned char params[RV_FEAT_PARAMS_MAX];
    rv_feat_out out;
    char line[RV_FEAT_ARGS_MAX + RV_FEAT_OP_MAX + 1024];
} feat_tls;
static pthread_key_t feat_key;
static pthread_once_t feat_key_once = PTHREAD_ONCE_INIT;
static void make_key(void) { pthread_key_create(&feat_key, free); }

static feat_tls *tls(void) {
    pthread_once(&feat_key_once, make_key);
    feat_tls *t = pthread_getspecific(feat_key);
    if (!t && (t = calloc(1, sizeof *t))) pthread_setspecific(feat_key, t);
    return t;
}

char *rp_launch_line(size_t *cap) {
    feat_tls *t = tls();
    *cap = t ? sizeof t->line : 0;
    return t ? t->line : NULL;
}

const rv_feat_out *rp_features(CUfunction f, const char *name, const unsigned grid[3], const unsigned block[3],
                               unsigned smem, void **kernel_params, void **extra) {
    pthread_once(&op_once, find_op_context);
    feat_tls *t = tls();
    if (!t) return NULL;
    layout *e = f ? get_layout(f) : NULL;
    const unsigned char *buffer = NULL; /* CU_LAUNCH_PARAM_BUFFER_POINTER: params packed at their offsets */
    size_t buffer_len = 0;
    for (void **x = extra; !kernel_params && x && *x != CU_LAUNCH_PARAM_END; x += 2) {
        if (*x == CU_LAUNCH_PARAM_BUFFER_POINTER) buffer = (const unsigned char *)x[1];
        if (*x == CU_LAUNCH_PARAM_BUFFER_SIZE && x[1]) buffer_len = *(const size_t *)x[1];
    }
    int n = e ? e->n : -1;
    size_t len = 0;
    if (n >= 0 && kernel_params) { /* an array of pointers: pack each value at its offset */
        for (int i = 0; i < n; ++i) {
            size_t end = (size_t)e->off[i] + e->size[i];
            if (end > sizeof t->params || !kernel_params[i]) continue;
            memcpy(t->params + e->off[i], kernel_params[i], e->size[i]);
            if (end > len) len = end;
        }
    } else if (n >= 0 && buffer) {
        len = buffer_len < sizeof t->params ? buffer_len : sizeof t->params;
        memcpy(t->params, buffer, len);
    } else {
        n = -1;
    }
    const char *op = op_context ? op_context() : NULL;
    rv_feat_in in = {
        .name = name,
        .grid = {grid[0], grid[1], grid[2]},
        .block = {block[0], block[1], block[2]},
        .smem = smem,
        .params = t->params,
        .params_len = len,
        .nparams = n,
        .param_off = e ? e->off : NULL,
        .param_size = e ? e->size : NULL,
        .is_devptr = is_devptr_cb,
        .user = NULL,
        .op_json = op,
    };
    rp_busy++; /* is_devptr asks the driver */
    rv_features(&in, &t->out);
    rp_busy--;
    return &t->out;
}
