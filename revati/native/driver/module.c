/* revati driver: modules, libraries, kernels and functions: names from the lookups, globals from the image. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "revati/fatbin.h"

#define MODULE_MAGIC 0x52564d44u
#define FUNC_BUCKETS 8192
#define FALLBACK_GLOBAL_BYTES (1ULL << 20)

struct rv_module {
    uint32_t magic;
    int library;      /* created by cuLibraryLoad* (a CUlibrary) */
    rv_image *img;    /* NULL when the image could not be read */
    rv_module *lib_module; /* a library's module (cuLibraryGetModule), itself */
};

typedef struct fentry {
    struct fentry *next;
    const void *owner;
    rv_func *f;
} fentry;

typedef struct gentry {
    struct gentry *next;
    const void *owner;
    char *name;
    uint64_t ptr, size;
} gentry;

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static fentry *g_funcs[FUNC_BUCKETS];
static gentry *g_globals[FUNC_BUCKETS];

static uint64_t hkey(const void *owner, const char *name) {
    uint64_t h = 1469598103934665603ULL ^ (uint64_t)owner;
    for (const char *p = name; *p; ++p) h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    return h % FUNC_BUCKETS;
}

rv_func *rv_func_from(const void *handle) {
    rv_func *f = (rv_func *)handle;
    return f && f->magic == RV_FUNC_MAGIC ? f : NULL;
}

static rv_module *module_from(const void *h) {
    rv_module *m = (rv_module *)h;
    return m && m->magic == MODULE_MAGIC ? m : NULL;
}

/* The one rv_func for (owner, name): handles must be stable across lookups. */
static rv_func *func_get(rv_module *m, const char *name) {
    uint64_t h = hkey(m, name);
    pthread_mutex_lock(&g_mu);
    for (fentry *e = g_funcs[h]; e; e = e->next) {
        if (e->owner == m && !strcmp(e->f->name, name)) {
            pthread_mutex_unlock(&g_mu);
            return e->f;
        }
    }
    rv_func *f = calloc(1, sizeof *f);
    fentry *e = calloc(1, sizeof *e);
    size_t jn = strlen(name) * 6 + 1;
    f->magic = RV_FUNC_MAGIC;
    f->name = strdup(name);
    f->json_name = malloc(jn);
    rv_json_escape(f->json_name, jn, name);
    f->mod = m;
    f->max_dyn_smem = 49152;
    rv_func_info fi;
    int idx = m->img ? rv_image_find_function(m->img, name) : -1;
    rv_func_set_layout(f, idx >= 0 && rv_image_function_info(m->img, idx, &fi) ? &fi : NULL);
    e->owner = m;
    e->f = f;
    e->next = g_funcs[h];
    g_funcs[h] = e;
    pthread_mutex_unlock(&g_mu);
    return f;
}

static rv_module *module_new(rv_image *img, int library) {
    rv_module *m = calloc(1, sizeof *m);
    m->magic = MODULE_MAGIC;
    m->library = library;
    m->img = img;
    m->lib_module = m;
    return m;
}

static rv_image *parse(const void *image) {
    const rv_devconf *c = rv_conf();
    rv_image *img = image ? rv_image_parse(image, c->cc_major, c->cc_minor) : NULL;
    if (!img) rv_debug("image %p: not readable; kernel names come from lookups only", image);
    return img;
}

// cuModuleLoadData: the image is parsed for its symbol table; nothing is loaded on a device
RV_EXPORT CUresult cuModuleLoadData(CUmodule *module, const void *image) {
    API_ENTER();
    if (!module || !image) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    *module = (CUmodule)module_new(parse(image), 0);
    API_RETURN(CUDA_SUCCESS);
}

// cuModuleLoadDataEx: as cuModuleLoadData; JIT options are ignored
RV_EXPORT CUresult cuModuleLoadDataEx(CUmodule *module, const void *image, unsigned int numOptions,
                                      CUjit_option *options, void **optionValues) {
    API_ENTER();
    if (!module || !image) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    *module = (CUmodule)module_new(parse(image), 0);
    API_RETURN(CUDA_SUCCESS);
}

// cuModuleLoadFatBinary: as cuModuleLoadData
RV_EXPORT CUresult cuModuleLoadFatBinary(CUmodule *module, const void *fatCubin) {
    API_ENTER();
    if (!module || !fatCubin) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    *module = (CUmodule)module_new(parse(fatCubin), 0);
    API_RETURN(CUDA_SUCCESS);
}

// cuModuleLoad: the file is parsed; a missing file is CUDA_ERROR_FILE_NOT_FOUND
RV_EXPORT CUresult cuModuleLoad(CUmodule *module, const char *fname) {
    API_ENTER();
    if (!module || !fname) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    FILE *f = fopen(fname, "rb");
    if (!f) API_RETURN(CUDA_ERROR_FILE_NOT_FOUND);
    fclose(f);
    const rv_devconf *c = rv_conf();
    *module = (CUmodule)module_new(rv_image_parse_file(fname, c->cc_major, c->cc_minor), 0);
    API_RETURN(CUDA_SUCCESS);
}

// cuModuleUnload: the handle is poisoned; functions stay valid for traces already written
RV_EXPORT CUresult cuModuleUnload(CUmodule hmod) {
    API_ENTER();
    rv_module *m = module_from(hmod);
    if (!m || m->library) API_RETURN(CUDA_ERROR_INVALID_HANDLE);
    m->magic = 0;
    API_RETURN(CUDA_SUCCESS);
}

// cuModuleGetLoadingMode: lazy, as CUDA 13 defaults to
RV_EXPORT CUresult cuModuleGetLoadingMode(CUmoduleLoadingMode *mode) {
    API_ENTER();
    if (!mode) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    *mode = CU_MODULE_LAZY_LOADING;
    API_RETURN(CUDA_SUCCESS);
}

/* Whether the image lists name. A name the image lacks is still served (logged at debug level): the
 * caller got it from the same binary, and refusing it on a reader gap would stop the program. */
static int image_has(rv_module *m, const char *name) {
    if (!m->img) return 1; /* unreadable image: trust the caller */
    int n = rv_image_function_count(m->img);
    if (n == 0) return 1;
    for (int i = 0; i < n; ++i)
        if (!strcmp(rv_image_function_name(m->img, i), name)) return 1;
    rv_debug("kernel %s: not among the image's %d entry functions; served anyway", name, n);
    return 1;
}

// cuModuleGetFunction: the kernel name comes from this lookup; names absent from a readable image are not found
RV_EXPORT CUresult cuModuleGetFunction(CUfunction *hfunc, CUmodule hmod, const char *name) {
    API_ENTER();
    rv_module *m = module_from(hmod);
    if (!m) API_RETURN(CUDA_ERROR_INVALID_HANDLE);
    if (!hfunc || !name) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    if (!image_has(m, name)) API_RETURN(CUDA_ERROR_NOT_FOUND);
    *hfunc = (CUfunction)func_get(m, name);
    API_RETURN(CUDA_SUCCESS);
}

// cuModuleGetFunctionCount: entry functions of the image
RV_EXPORT CUresult cuModuleGetFunctionCount(unsigned int *count, CUmodule mod) {
    API_ENTER();
    rv_module *m = module_from(mod);
    if (!m || !count) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    *count = m->img ? (unsigned)rv_image_function_count(m->img) : 0;
    API_RETURN(CUDA_SUCCESS);
}

// cuModuleEnumerateFunctions: handles for the image's entry functions
RV_EXPORT CUresult cuModuleEnumerateFunctions(CUfunction *functions, unsigned int numFunctions, CUmodule mod) {
    API_ENTER();
    rv_module *m = module_from(mod);
    if (!m || !functions) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    int n = m->img ? rv_image_function_count(m->img) : 0;
    for (unsigned i = 0; i < numFunctions && (int)i < n; ++i)
        functions[i] = (CUfunction)func_get(m, rv_image_function_name(m->img, (int)i));
    API_RETURN(CUDA_SUCCESS);
}

/* A global variable: device memory of its true size, allocated once per (module, name). */
static CUresult global_get(rv_module *m, const char *name, CUdeviceptr *dptr, size_t *bytes) {
    uint64_t h = hkey(m, name);
    pthread_mutex_lock(&g_mu);
    gentry *g = g_globals[h];
    while (g && !(g->owner == m && !strcmp(g->name, name))) g = g->next;
    if (!g) {
        uint64_t size = 0;
        if (!m->img || !rv_image_global(m->img, name, &size)) {
            /* a reader gap must not stop the program: a generous size, and a warning to check it */
            size = FALLBACK_GLOBAL_BYTES;
            rv_warn("global %s: %s; assuming %llu bytes", name, m->img ? "not in the image's symbol table" : "image unreadable",
                    (unsigned long long)size);
        }
        int dev = rv_ctx_current_or_primary()->dev;
        uint64_t p = rv_va_reserve(dev, size ? size : 1, 256, 0);
        if (!p) {
            pthread_mutex_unlock(&g_mu);
            return CUDA_ERROR_OUT_OF_MEMORY;
        }
        rv_alloc a = {.base = p, .size = size ? size : 1, .dev = dev, .kind = RV_MEM_DEVICE};
        rv_alloc_add(&a);
        g = calloc(1, sizeof *g);
        g->owner = m;
        g->name = strdup(name);
        g->ptr = p;
        g->size = size;
        g->next = g_globals[h];
        g_globals[h] = g;
    }
    pthread_mutex_unlock(&g_mu);
    if (dptr) *dptr = g->ptr;
    if (bytes) *bytes = g->size;
    return CUDA_SUCCESS;
}

// cuModuleGetGlobal_v2: address and true size of a global (sizes from the image's symbol table)
RV_EXPORT CUresult cuModuleGetGlobal_v2(CUdeviceptr *dptr, size_t *bytes, CUmodule hmod, const char *name) {
    API_ENTER();
    rv_module *m = module_from(hmod);
    if (!m) API_RETURN(CUDA_ERROR_INVALID_HANDLE);
    if (!name) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    API_ARGS("%.140s", name);
    API_RETURN(global_get(m, name, dptr, bytes));
}

/* ---- libraries and kernels ---- */

static CUresult library_load(CUlibrary *library, rv_image *img) {
    if (!library) return CUDA_ERROR_INVALID_VALUE;
    *library = (CUlibrary)module_new(img, 1);
    return CUDA_SUCCESS;
}

// cuLibraryLoadData: the image is parsed for its symbol table
RV_EXPORT CUresult cuLibraryLoadData(CUlibrary *library, const void *code, CUjit_option *jitOptions,
                                     void **jitOptionsValues, unsigned int numJitOptions,
                                     CUlibraryOption *libraryOptions, void **libraryOptionValues,
                                     unsigned int numLibraryOptions) {
    API_ENTER();
    if (!code) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    API_RETURN(library_load(library, parse(code)));
}

// cuLibraryLoadFromFile: as cuLibraryLoadData from a file
RV_EXPORT CUresult cuLibraryLoadFromFile(CUlibrary *library, const char *fileName, CUjit_option *jitOptions,
                                         void **jitOptionsValues, unsigned int numJitOptions,
                                         CUlibraryOption *libraryOptions, void **libraryOptionValues,
                                         unsigned int numLibraryOptions) {
    API_ENTER();
    if (!fileName) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    FILE *f = fopen(fileName, "rb");
    if (!f) API_RETURN(CUDA_ERROR_FILE_NOT_FOUND);
    fclose(f);
    const rv_devconf *c = rv_conf();
    API_RETURN(library_load(library, rv_image_parse_file(fileName, c->cc_major, c->cc_minor)));
}

// cuLibraryUnload: the handle is poisoned
RV_EXPORT CUresult cuLibraryUnload(CUlibrary library) {
    API_ENTER();
    rv_module *m = module_from(library);
    if (!m || !m->library) API_RETURN(CUDA_ERROR_INVALID_HANDLE);
    m->magic = 0;
    API_RETURN(CUDA_SUCCESS);
}

// cuLibraryGetKernel: the kernel name comes from this lookup
RV_EXPORT CUresult cuLibraryGetKernel(CUkernel *pKernel, CUlibrary library, const char *name) {
    API_ENTER();
    rv_module *m = module_from(library);
    if (!m) API_RETURN(CUDA_ERROR_INVALID_HANDLE);
    if (!pKernel || !name) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    if (!image_has(m, name)) API_RETURN(CUDA_ERROR_NOT_FOUND);
    *pKernel = (CUkernel)func_get(m, name);
    API_RETURN(CUDA_SUCCESS);
}

// cuLibraryGetKernelCount: entry functions of the image
RV_EXPORT CUresult cuLibraryGetKernelCount(unsigned int *count, CUlibrary lib) {
    API_ENTER();
    rv_module *m = module_from(lib);
    if (!m || !count) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    *count = m->img ? (unsigned)rv_image_function_count(m->img) : 0;
    API_RETURN(CUDA_SUCCESS);
}

// cuLibraryEnumerateKernels: handles for the image's entry functions
RV_EXPORT CUresult cuLibraryEnumerateKernels(CUkernel *kernels, unsigned int numKernels, CUlibrary lib) {
    API_ENTER();
    rv_module *m = module_from(lib);
    if (!m || !kernels) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    int n = m->img ? rv_image_function_count(m->img) : 0;
    for (unsigned i = 0; i < numKernels && (int)i < n; ++i)
        kernels[i] = (CUkernel)func_get(m, rv_image_function_name(m->img, (int)i));
    API_RETURN(CUDA_SUCCESS);
}

// cuLibraryGetModule: a library is its own module
RV_EXPORT CUresult cuLibraryGetModule(CUmodule *pMod, CUlibrary library) {
    API_ENTER();
    rv_module *m = module_from(library);
    if (!m || !pMod) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    *pMod = (CUmodule)m;
    API_RETURN(CUDA_SUCCESS);
}

// cuLibraryGetGlobal: as cuModuleGetGlobal_v2
RV_EXPORT CUresult cuLibraryGetGlobal(CUdeviceptr *dptr, size_t *bytes, CUlibrary library, const char *name) {
    API_ENTER();
    rv_module *m = module_from(library);
    if (!m) API_RETURN(CUDA_ERROR_INVALID_HANDLE);
    if (!name) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    API_ARGS("%.140s", name);
    API_RETURN(global_get(m, name, dptr, bytes));
}

// cuLibraryGetManaged: managed globals are globals here
RV_EXPORT CUresult cuLibraryGetManaged(CUdeviceptr *dptr, size_t *bytes, CUlibrary library, const char *name) {
    API_ENTER();
    rv_module *m = module_from(library);
    if (!m || !name) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    API_RETURN(global_get(m, name, dptr, bytes));
}

// cuKernelGetFunction: a kernel and its function are one object
RV_EXPORT CUresult cuKernelGetFunction(CUfunction *pFunc, CUkernel kernel) {
    API_ENTER();
    rv_func *f = rv_func_from(kernel);
    if (!f) API_RETURN(CUDA_ERROR_INVALID_HANDLE);
    if (!pFunc) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    *pFunc = (CUfunction)f;
    API_RETURN(CUDA_SUCCESS);
}

// cuKernelGetLibrary: the library the kernel came from
RV_EXPORT CUresult cuKernelGetLibrary(CUlibrary *pLib, CUkernel kernel) {
    API_ENTER();
    rv_func *f = rv_func_from(kernel);
    if (!f || !pLib) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    *pLib = (CUlibrary)f->mod;
    API_RETURN(CUDA_SUCCESS);
}

// cuKernelGetName: the name it was looked up by
RV_EXPORT CUresult cuKernelGetName(const char **name, CUkernel hfunc) {
    API_ENTER();
    rv_func *f = rv_func_from(hfunc);
    if (!f || !name) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    *name = f->name;
    API_RETURN(CUDA_SUCCESS);
}

// cuFuncGetName: the name it was looked up by
RV_EXPORT CUresult cuFuncGetName(const char **name, CUfunction hfunc) {
    API_ENTER();
    rv_func *f = rv_func_from(hfunc);
    if (!f || !name) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    *name = f->name;
    API_RETURN(CUDA_SUCCESS);
}

// cuFuncGetModule: the module (or library) it came from
RV_EXPORT CUresult cuFuncGetModule(CUmodule *hmod, CUfunction hfunc) {
    API_ENTER();
    rv_func *f = rv_func_from(hfunc);
    if (!f || !hmod) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    *hmod = (CUmodule)f->mod;
    API_RETURN(CUDA_SUCCESS);
}

// cuFuncIsLoaded: always loaded
RV_EXPORT CUresult cuFuncIsLoaded(CUfunctionLoadingState *state, CUfunction function) {
    API_ENTER();
    if (!state) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    *state = CU_FUNCTION_LOADING_STATE_LOADED;
    API_RETURN(CUDA_SUCCESS);
}

// cuFuncLoad: nothing to load
RV_EXPORT CUresult cuFuncLoad(CUfunction function) {
    API_ENTER();
    API_RETURN(rv_func_from(function) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE);
}

static CUresult func_attr(int *pi, CUfunction_attribute attrib, rv_func *f) {
    if (!pi || !f) return CUDA_ERROR_INVALID_VALUE;
    const rv_devconf *c = rv_conf();
    switch (attrib) {
    case CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK: *pi = 1024; break;
    case CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES: *pi = f->static_smem; break;
    case CU_FUNC_ATTRIBUTE_CONST_SIZE_BYTES: *pi = 0; break;
    case CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES: *pi = 0; break;
    case CU_FUNC_ATTRIBUTE_NUM_REGS: *pi = 32; break;
    case CU_FUNC_ATTRIBUTE_PTX_VERSION:
    case CU_FUNC_ATTRIBUTE_BINARY_VERSION: *pi = c->cc_major * 10 + c->cc_minor; break;
    case CU_FUNC_ATTRIBUTE_CACHE_MODE_CA: *pi = 0; break;
    case CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES: *pi = f->max_dyn_smem; break;
    case CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT: *pi = -1; break;
    case CU_FUNC_ATTRIBUTE_CLUSTER_SIZE_MUST_BE_SET: *pi = 0; break;
    case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_WIDTH:
    case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_HEIGHT:
    case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_DEPTH: *pi = 0; break;
    case CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED: *pi = c->cc_major >= 9; break;
    case CU_FUNC_ATTRIBUTE_CLUSTER_SCHEDULING_POLICY_PREFERENCE: *pi = 0; break;
    default: return CUDA_ERROR_INVALID_VALUE;
    }
    return CUDA_SUCCESS;
}

// cuFuncGetAttribute: sm_90 values (1024 threads, 32 registers, what cuFuncSetAttribute set)
RV_EXPORT CUresult cuFuncGetAttribute(int *pi, CUfunction_attribute attrib, CUfunction hfunc) {
    API_ENTER();
    rv_func *f = rv_func_from(hfunc);
    if (!f) API_RETURN(CUDA_ERROR_INVALID_HANDLE);
    API_RETURN(func_attr(pi, attrib, f));
}

static CUresult func_set(rv_func *f, CUfunction_attribute attrib, int value) {
    if (!f) return CUDA_ERROR_INVALID_HANDLE;
    if (attrib == CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES) {
        if (value < 0 || value > rv_conf()->smem_per_block_optin) return CUDA_ERROR_INVALID_VALUE;
        f->max_dyn_smem = value;
    }
    return CUDA_SUCCESS;
}

// cuFuncSetAttribute: max dynamic shared memory is remembered (bounded by the opt-in limit)
RV_EXPORT CUresult cuFuncSetAttribute(CUfunction hfunc, CUfunction_attribute attrib, int value) {
    API_ENTER();
    API_RETURN(func_set(rv_func_from(hfunc), attrib, value));
}

// cuKernelGetAttribute: as cuFuncGetAttribute
RV_EXPORT CUresult cuKernelGetAttribute(int *pi, CUfunction_attribute attrib, CUkernel kernel, CUdevice dev) {
    API_ENTER();
    rv_func *f = rv_func_from(kernel);
    if (!f) API_RETURN(CUDA_ERROR_INVALID_HANDLE);
    API_RETURN(func_attr(pi, attrib, f));
}

// cuKernelSetAttribute: as cuFuncSetAttribute
RV_EXPORT CUresult cuKernelSetAttribute(CUfunction_attribute attrib, int val, CUkernel kernel, CUdevice dev) {
    API_ENTER();
    API_RETURN(func_set(rv_func_from(kernel), attrib, val));
}

// cuFuncSetCacheConfig: accepted; no timing effect
RV_EXPORT CUresult cuFuncSetCacheConfig(CUfunction hfunc, CUfunc_cache config) {
    API_ENTER();
    API_RETURN(CUDA_SUCCESS);
}

// cuKernelSetCacheConfig: accepted; no timing effect
RV_EXPORT CUresult cuKernelSetCacheConfig(CUkernel kernel, CUfunc_cache config, CUdevice dev) {
    API_ENTER();
    API_RETURN(CUDA_SUCCESS);
}

// cuFuncSetSharedMemConfig: accepted; no timing effect
RV_EXPORT CUresult cuFuncSetSharedMemConfig(CUfunction hfunc, CUsharedconfig config) {
    API_ENTER();
    API_RETURN(CUDA_SUCCESS);
}

/* The parameter layout of the first loaded kernel named name, for tests and tools that hold no handle:
 * nparams (offsets and sizes of up to cap of them written), -1 when the image does not say, -2 when no
 * kernel of that name has been looked up. */
RV_API int rv_kernel_layout(const char *name, uint16_t *off, uint16_t *size, int cap) {
    int r = -2;
    pthread_mutex_lock(&g_mu);
    for (int b = 0; b < FUNC_BUCKETS && r == -2; ++b)
        for (fentry *e = g_funcs[b]; e && r == -2; e = e->next) {
            if (strcmp(e->f->name, name)) continue;
            r = e->f->nparams;
            for (int i = 0; i < r && i < cap; ++i) off[i] = e->f->param_off[i], size[i] = e->f->param_size[i];
        }
    pthread_mutex_unlock(&g_mu);
    return r;
}

/* The kernels looked up so far (up to cap names and their nparams as rv_kernel_layout says); the count. */
RV_API int rv_kernels_loaded(const char **names, int *nparams, int cap) {
    int n = 0;
    pthread_mutex_lock(&g_mu);
    for (int b = 0; b < FUNC_BUCKETS; ++b)
        for (fentry *e = g_funcs[b]; e; e = e->next, ++n)
            if (n < cap) names[n] = e->f->name, nparams[n] = e->f->nparams;
    pthread_mutex_unlock(&g_mu);
    return n;
}
