/* revati fatbin reader: compressed entries (zstd through dlopen, the older LZ4 block format). */
#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "fatbin_internal.h"
#include "revati/log.h"

/* ---- decompression ----------------------------------------------------------------------- */

typedef size_t (*zstd_decompress_fn)(void *, size_t, const void *, size_t);
typedef unsigned long long (*zstd_content_size_fn)(const void *, size_t);
typedef unsigned (*zstd_is_error_fn)(size_t);
static struct {
    zstd_decompress_fn decompress;
    zstd_content_size_fn content_size;
    zstd_is_error_fn is_error;
} g_zstd;
static pthread_once_t g_zstd_once = PTHREAD_ONCE_INIT;

static void zstd_load(void) {
    /* zstd headers are not installed: the three entry points are declared above with their ABI */
    void *h = dlopen("libzstd.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        rv_warn("libzstd.so.1 not found (%s): compressed fatbin entries give no kernel names or global "
                "sizes; install libzstd1", dlerror());
        return;
    }
    g_zstd.decompress = (zstd_decompress_fn)dlsym(h, "ZSTD_decompress");
    g_zstd.content_size = (zstd_content_size_fn)dlsym(h, "ZSTD_getFrameContentSize");
    g_zstd.is_error = (zstd_is_error_fn)dlsym(h, "ZSTD_isError");
    if (!g_zstd.decompress || !g_zstd.content_size || !g_zstd.is_error) {
        rv_warn("libzstd.so.1 lacks ZSTD_decompress/ZSTD_getFrameContentSize/ZSTD_isError");
        g_zstd.decompress = NULL;
    }
}

uint8_t *rv_fb_zstd_inflate(span in, uint64_t want, size_t *out_n) {
    pthread_once(&g_zstd_once, zstd_load);
    if (!g_zstd.decompress) return NULL;
    unsigned long long fcs = g_zstd.content_size(in.p, in.n);
    if (fcs < (0ULL - 2)) { /* a known size: it wins over the entry header's */
        if (want && fcs != want) rv_debug("fatbin: zstd frame says %llu bytes, entry %llu", fcs, (unsigned long long)want);
        want = fcs;
    }
    if (!want || want > MAX_UNCOMPRESSED) return NULL;
    uint8_t *out = malloc(want);
    if (!out) return NULL;
    size_t r = g_zstd.decompress(out, want, in.p, in.n);
    if (g_zstd.is_error(r)) {
        free(out);
        return NULL;
    }
    *out_n = r;
    return out;
}

/* LZ4 block format: tokens of (literal length, match length) nibbles, 255-extended, 2-byte offsets. */
uint8_t *rv_fb_lz4_inflate(span in, uint64_t want, size_t *out_n) {
    if (!want || want > MAX_UNCOMPRESSED) return NULL;
    uint8_t *out = malloc(want);
    if (!out) return NULL;
    size_t i = 0, o = 0;
    while (i < in.n) {
        uint8_t tok = in.p[i++];
        size_t lit = tok >> 4;
        if (lit == 15) {
            uint8_t b;
            do {
                if (i >= in.n) goto bad;
                b = in.p[i++];
                lit += b;
            } while (b == 255);
        }
        if (!in_bounds(in.n, i, lit) || !in_bounds(want, o, lit)) goto bad;
        memcpy(out + o, in.p + i, lit);
        i += lit;
        o += lit;
        if (i >= in.n || o >= want) break; /* the last sequence has literals only */
        if (i + 2 > in.n) goto bad;
        size_t off = (size_t)in.p[i] | ((size_t)in.p[i + 1] << 8);
        i += 2;
        size_t m = tok & 15;
        if (m == 15) {
            uint8_t b;
            do {
                if (i >= in.n) goto bad;
                b = in.p[i++];
                m += b;
            } while (b == 255);
        }
        m += 4;
        if (off == 0 || off > o || !in_bounds(want, o, m)) goto bad;
        for (size_t k = 0; k < m; ++k, ++o) out[o] = out[o - off]; /* overlapping copies repeat */
    }
    *out_n = o;
    return out;
bad:
    free(out);
    return NULL;
}
