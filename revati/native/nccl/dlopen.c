/* revati NCCL interposer: NCCL opened by dlopen. A program that dlopens NCCL and calls it through the
 * handle (vLLM's pynccl: ctypes.CDLL) would bypass the wrappers: lookups through a handle find the
 * library's own definitions first. So dlopen of a file named libnccl.so* loads NCCL, then answers
 * with the handle of librevati_nccl.so, a library with no code whose dependencies are librevati.so
 * (the wrappers) and then libnccl.so.2 (matched by soname to the NCCL just loaded): dlsym on that
 * handle finds revati's wrapper where there is one and NCCL's definition for everything else. Every
 * other dlopen goes on to libc's as a sibling call, so that the loader sees the program's own caller
 * (whose RUNPATH and namespace a dlopen of a bare name depends on), and so does a query with
 * RTLD_NOLOAD (how revati's wrappers find the real NCCL: answering it with the shim would make a
 * wrapper call itself). docs/coordination.md. */
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "revati/log.h"
#include "revati/types.h"

typedef void *(*dlopen_fn)(const char *, int);
static dlopen_fn g_real_dlopen;

#define SHIM_NAME "librevati_nccl.so"

static __attribute__((noinline)) int names_nccl(const char *path) {
    if (!path) return 0;
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    return strncmp(b, "libnccl.so", 10) == 0;
}

/* The shim beside this library (librevati.so's folder). */
static int shim_path(char *out, size_t n) {
    Dl_info info;
    if (!dladdr((void *)names_nccl, &info) || !info.dli_fname) return 0;
    const char *slash = strrchr(info.dli_fname, '/');
    if (!slash) return snprintf(out, n, "%s", SHIM_NAME) < (int)n;
    return snprintf(out, n, "%.*s/%s", (int)(slash - info.dli_fname), info.dli_fname, SHIM_NAME) < (int)n;
}

static __attribute__((noinline)) void *open_nccl(const char *path, int flags) {
    void *nccl = g_real_dlopen(path, flags);
    if (!nccl) return NULL;
    void *by_soname = g_real_dlopen("libnccl.so.2", RTLD_LAZY | RTLD_NOLOAD);
    if (by_soname) dlclose(by_soname);
    if (by_soname != nccl) {
        rv_warn("%s is not NCCL's libnccl.so.2: calls through its handle bypass revati's rendezvous", path);
        return nccl;
    }
    char shim[PATH_MAX];
    void *h = shim_path(shim, sizeof shim) ? g_real_dlopen(shim, flags) : NULL;
    if (!h) {
        rv_warn("cannot load %s (%s): NCCL calls through the handle of %s bypass revati's rendezvous", SHIM_NAME,
                dlerror(), path);
        return nccl;
    }
    rv_debug("dlopen(%s): NCCL's handle is %s's (revati's wrappers first)", path, SHIM_NAME);
    return h; /* NCCL stays loaded: the shim depends on it */
}

// dlopen: a library named libnccl.so* is answered with a handle whose lookups find revati's NCCL
// wrappers first (see above); every other library is opened by libc's dlopen, unchanged
RV_EXPORT void *dlopen(const char *path, int flags) {
    if (!g_real_dlopen) g_real_dlopen = (dlopen_fn)dlsym(RTLD_NEXT, "dlopen");
    /* RTLD_NOLOAD asks whether a library is loaded (revati's own wrappers find NCCL so): unchanged */
    if (__builtin_expect(names_nccl(path), 0) && !(flags & RTLD_NOLOAD)) {
        void *h = open_nccl(path, flags);
        if (h) return h;
    }
    return g_real_dlopen(path, flags); /* a sibling call: the loader sees the program's caller */
}
