/* revati fatbin reader internals, shared by driver/fatbin*.c (not an interface of the driver). */
#ifndef REVATI_DRIVER_FATBIN_INTERNAL_H
#define REVATI_DRIVER_FATBIN_INTERNAL_H

#include <stdint.h>
#include <string.h>

#include "revati/fatbin.h"

/* Layouts (see docs/fatbin.md): the wrapper the host compiler emits in .nvFatBinSegment, the fatbin
 * container in .nv_fatbin, and its entries (one per code object: an ELF cubin or PTX text per arch). */
#define WRAPPER_MAGIC 0x466243b1u
#define FATBIN_MAGIC 0xba55ed50u
#define ENTRY_PTX 1
#define ENTRY_ELF 2
#define ENTRY_MIN_HEADER 64
#define FLAG_LZ4 0x2000ull         /* older CUDA: LZ4 block format */
#define FLAG_ZSTD 0x8000ull        /* CUDA 12.8+ / 13 wheels: one zstd frame */
#define FLAG_ARCH_SPECIFIC 0x100000ull /* sm_90a: runs on exactly this arch */
#define FLAG_FAMILY 0x200000ull    /* sm_100f: runs on this arch family */
#define ZSTD_FRAME_MAGIC 0xfd2fb528u
#define STO_CUDA_ENTRY 0x10        /* st_other bit of a kernel entry symbol */

/* Caps that keep a corrupt header from making us allocate or scan absurd amounts. */
#define MAX_IMAGE_BYTES (8ull << 30)
#define MAX_UNCOMPRESSED (2ull << 30)
#define MAX_PTX_BYTES (512ull << 20)
#define MAX_ENTRIES 4096

typedef struct {
    const uint8_t *p;
    size_t n;
} span;

typedef struct {
    char *name;
    uint64_t size;
} rv_global;

typedef struct {
    const char *name;
    int idx;
} rv_named;

struct rv_image {
    int sm;              /* arch of the code object read (major*10+minor), 0 if unknown */
    int from_ptx;        /* names came from PTX text, not an ELF symbol table */
    int compatible;      /* the real driver could load this code object on the device */
    int nfn, nglob;
    char **fn;           /* kernel names, in symbol-table order */
    rv_func_info *fninfo;
    uint32_t *fnsym;     /* symbol-table index of each kernel (ELF only) */
    rv_named *fn_sorted; /* (name, index) sorted by name, for lookups */
    rv_global *glob;     /* sorted by name */
    int fn_cap, glob_cap;
};

/* SASS runs only within its major version on the same or a newer minor (arch-specific sm_90a only
 * on exactly sm_90); PTX is JIT-compiled for any newer arch. */
static inline int elf_runs_on(int arch, uint64_t flags, int dev) {
    if (flags & FLAG_ARCH_SPECIFIC) return arch == dev;
    return arch / 10 == dev / 10 && arch <= dev;
}

static inline int ptx_runs_on(int arch, uint64_t flags, int dev) {
    return (flags & FLAG_ARCH_SPECIFIC) ? arch == dev : arch <= dev;
}

/* ---- bounds-checked reads ---------------------------------------------------------------- */

static inline int in_bounds(size_t n, uint64_t off, uint64_t len) { return off <= n && len <= n - off; }
static inline uint16_t rd16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static inline uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

/* The NUL-terminated string at off inside s, or NULL if it runs past the end. */
static inline const char *str_at(span s, uint64_t off) {
    if (off >= s.n) return NULL;
    const void *z = memchr(s.p + off, 0, s.n - off);
    return z ? (const char *)(s.p + off) : NULL;
}

/* Image building (fatbin.c): 0 on success, -1 when out of memory. */
rv_image *rv_fb_img_new(void);
int rv_fb_add_fn(rv_image *img, const char *name, const rv_func_info *info, uint32_t sym);
int rv_fb_add_global(rv_image *img, const char *name, uint64_t size);
int rv_fb_img_finish(rv_image *img);

/* An ELF cubin (fatbin_elf.c); sm is the device's for a bare cubin, the entry's inside a fatbin. */
rv_image *rv_fb_parse_elf(span e, int sm);
/* PTX text (fatbin_ptx.c): sm as the entry says (0: from .target), dev the device's arch. */
rv_image *rv_fb_parse_ptx(span t, int sm, int dev);
int rv_fb_looks_like_ptx(span t);
/* Decompression (fatbin_inflate.c): a malloc'ed buffer of *out_n bytes, or NULL. */
uint8_t *rv_fb_zstd_inflate(span in, uint64_t want, size_t *out_n);
uint8_t *rv_fb_lz4_inflate(span in, uint64_t want, size_t *out_n);

#endif
