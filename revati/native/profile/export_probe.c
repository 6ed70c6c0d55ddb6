/* revati profile shim: what the real driver answers in private export-table slots that libraries call
 * and whose answers reach kernels (issue 16; docs/export-tables.md).
 *
 * `1734dc26`[4] is `CUresult (void **bytes, void **handle)`: cuBLASLt calls it once per process, uses
 * the byte array it gets to build the SM-order table in every nvjet kernel's parameters, then gives
 * both outputs back through slot 13, `CUresult (void *bytes, void *handle)`. CUPTI does not report
 * cuGetExportTable, so the shim asks once itself, at the first kernel launch (a context is current),
 * and writes the answer as a `q` line: the result, the first bytes of the array (read with
 * process_vm_readv, so an array shorter than the read never faults) and whether the handle is set
 * (its value when it is a small number rather than an address). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "profile.h"

#define PROBE_BYTES 256
#define CHUNK 16

typedef CUresult (*get_export_table_fn)(const void **, const CUuuid *);
typedef CUresult (*bytes_fn)(void **, void **);
typedef CUresult (*release_fn)(void *, void *);

static const unsigned char T1734DC26[16] = {0x17, 0x34, 0xdc, 0x26, 0x80, 0x0d, 0x47, 0x45,
                                            0x87, 0x26, 0xc0, 0xf1, 0xe7, 0xdd, 0x8b, 0xca};

/* bytes readable at p, up to cap, in CHUNK steps (a fault ends the read instead of killing us) */
static size_t read_self(const void *p, unsigned char *out, size_t cap) {
    struct iovec local[PROBE_BYTES / CHUNK], remote[PROBE_BYTES / CHUNK];
    size_t n = cap / CHUNK;
    for (size_t i = 0; i < n; ++i) {
        local[i].iov_base = out + i * CHUNK, local[i].iov_len = CHUNK;
        remote[i].iov_base = (char *)p + i * CHUNK, remote[i].iov_len = CHUNK;
    }
    ssize_t got = process_vm_readv(getpid(), local, n, remote, n, 0);
    return got > 0 ? (size_t)got : 0;
}

void rp_probe_export_tables(void) {
    void *h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_NOLOAD);
    get_export_table_fn get = h ? (get_export_table_fn)dlsym(h, "cuGetExportTable") : NULL;
    if (!get) return;
    const void *tbl = NULL;
    CUuuid id;
    memcpy(id.bytes, T1734DC26, sizeof id.bytes);
    rp_busy++;
    CUresult r = get(&tbl, &id);
    char buf[PROBE_BYTES * 2 + 256];
    if (r != CUDA_SUCCESS || !tbl) {
        rp_busy--;
        int n = snprintf(buf, sizeof buf, "{\"k\":\"q\",\"call\":\"cuGetExportTable\",\"res\":%d,"
                         "\"in\":{\"uuid\":\"1734dc26\"},\"out\":{}}", (int)r);
        rp_out_write(buf, (size_t)n);
        return;
    }
    const uint64_t *w = tbl;
    size_t words = w[0] / 8; /* sized table: word 0 is its size in bytes */
    void *bytes = NULL, *handle = NULL;
    CUresult r4 = words > 4 && w[4] ? ((bytes_fn)w[4])(&bytes, &handle) : CUDA_ERROR_NOT_SUPPORTED;
    unsigned char got[PROBE_BYTES];
    size_t n_got = r4 == CUDA_SUCCESS && bytes ? read_self(bytes, got, sizeof got) : 0;
    CUresult r13 = CUDA_ERROR_NOT_SUPPORTED;
    if (r4 == CUDA_SUCCESS && bytes && words > 13 && w[13]) r13 = ((release_fn)w[13])(bytes, handle);
    rp_busy--;
    char hex[PROBE_BYTES * 2 + 1];
    for (size_t i = 0; i < n_got; ++i) sprintf(hex + 2 * i, "%02x", got[i]);
    hex[2 * n_got] = 0;
    int n = snprintf(buf, sizeof buf, "{\"k\":\"q\",\"call\":\"cuGetExportTable 1734dc26[4]\",\"res\":%d,"
                     "\"in\":{\"table_words\":%zu},\"out\":{\"bytes\":\"%s\",\"read\":%zu,\"null\":%d,"
                     "\"handle_set\":%d,\"handle_small\":%lld,\"release_res\":%d}}", (int)r4, words, hex, n_got,
                     bytes == NULL, handle != NULL, (uintptr_t)handle < 65536 ? (long long)(uintptr_t)handle : -1LL,
                     (int)r13);
    if (n > 0 && (size_t)n < sizeof buf) rp_out_write(buf, (size_t)n);
}
