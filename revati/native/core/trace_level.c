/* revati trace levels: at the default level, pure queries (context, device, attribute, pointer,
 * error-string and status lookups) are counted per name and thread instead of written one line each
 * (the counts live with the writer, trace.c); REVATI_TRACE_LEVEL=verbose writes every call. */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "revati/trace_level.h"

int rv_trace_verbose(void) {
    static int v = -1;
    if (v < 0) {
        const char *s = getenv("REVATI_TRACE_LEVEL");
        v = s && !strcmp(s, "verbose");
    }
    return v;
}

/* Whether a call only reads state: it changes nothing the trace shows (no time, no device work, no
 * memory), so one line per call tells nothing a count does not. */
static int classify(const char *name) {
    static const char *const prefixes[] = {"cuGetErrorString", "cuGetErrorName", "cuDriverGetVersion",
                                           "cuGetProcAddress", "cuGetExportTable", "cuOccupancy",
                                           "cuDeviceCanAccessPeer", "cuDeviceTotalMem", "nvmlDeviceGet",
                                           "nvmlSystemGet", "nvmlDeviceValidate", NULL};
    for (int i = 0; prefixes[i]; ++i)
        if (!strncmp(name, prefixes[i], strlen(prefixes[i]))) return 1;
    if (strncmp(name, "cu", 2) != 0) return 0;
    /* cu<Family>Get..., cu<Family>Query, cuStreamIsCapturing: after the family name */
    const char *p = name + 2;
    while (*p >= 'A' && *p <= 'Z') { /* the family's first capital, then its lower-case letters */
        ++p;
        while (*p >= 'a' && *p <= 'z') ++p;
        if (!strncmp(p, "Get", 3) || !strncmp(p, "Query", 5) || !strncmp(p, "IsCapturing", 11)) return 1;
        if (!strncmp(p, "PrimaryCtxGetState", 18)) return 1;
        if (p - name > 12) break;
    }
    return 0;
}

/* names are string literals: their pointer is their identity, cached in an open-addressed table */
static struct { _Atomic(const char *) name; _Atomic int query; } g_kind[1024];

int rv_is_query(const char *name) {
    uintptr_t h = ((uintptr_t)name >> 3) * 0x9E3779B97F4A7C15ULL;
    for (int probe = 0; probe < 1024; ++probe) {
        size_t s = (size_t)((h >> 20) + (uintptr_t)probe) & 1023;
        const char *n = atomic_load_explicit(&g_kind[s].name, memory_order_acquire);
        if (n == name) return atomic_load_explicit(&g_kind[s].query, memory_order_relaxed);
        if (!n) {
            int q = classify(name);
            atomic_store_explicit(&g_kind[s].query, q, memory_order_relaxed);
            const char *expected = NULL;
            atomic_compare_exchange_strong(&g_kind[s].name, &expected, name);
            return q;
        }
    }
    return classify(name);
}
