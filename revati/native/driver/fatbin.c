/* revati fatbin reader: kernel names and global symbol sizes from the images the runtime loads.
 * This file: the fatbin container, the choice of code object, the entry points and the image; the
 * ELF, PTX and decompression parts are fatbin_elf.c, fatbin_ptx.c and fatbin_inflate.c. */
#include <elf.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fatbin_internal.h"
#include "revati/log.h"

/* Whether [p, p+n) is mapped in this process: images come as bare pointers from third-party
 * libraries, so a header's sizes are checked against the address space before anything is read. */
static int mapped(const void *p, size_t n) {
    static long page;
    if (!page) page = sysconf(_SC_PAGESIZE);
    uintptr_t a = (uintptr_t)p & ~(uintptr_t)(page - 1);
    uintptr_t end = (uintptr_t)p + n;
    if (end < (uintptr_t)p) return 0;
    unsigned char vec[256];
    while (a < end) {
        size_t pages = (end - a + (uintptr_t)page - 1) / (uintptr_t)page;
        if (pages > sizeof vec) pages = sizeof vec;
        if (mincore((void *)a, pages * (size_t)page, vec) != 0) return 0;
        a += pages * (uintptr_t)page;
    }
    return 1;
}

/* ---- image building ------------------------------------------------------------------------ */

rv_image *rv_fb_img_new(void) { return calloc(1, sizeof(rv_image)); }

int rv_fb_add_fn(rv_image *img, const char *name, const rv_func_info *info, uint32_t sym) {
    if (img->nfn == img->fn_cap) {
        int cap = img->fn_cap ? img->fn_cap * 2 : 16;
        char **fn = realloc(img->fn, (size_t)cap * sizeof *fn);
        if (!fn) return -1;
        img->fn = fn;
        rv_func_info *fi = realloc(img->fninfo, (size_t)cap * sizeof *fi);
        if (!fi) return -1;
        img->fninfo = fi;
        uint32_t *fs = realloc(img->fnsym, (size_t)cap * sizeof *fs);
        if (!fs) return -1;
        img->fnsym = fs;
        img->fn_cap = cap;
    }
    char *d = strdup(name);
    if (!d) return -1;
    img->fn[img->nfn] = d;
    img->fninfo[img->nfn] = *info;
    img->fnsym[img->nfn] = sym;
    img->nfn++;
    return 0;
}

int rv_fb_add_global(rv_image *img, const char *name, uint64_t size) {
    if (img->nglob == img->glob_cap) {
        int cap = img->glob_cap ? img->glob_cap * 2 : 16;
        rv_global *g = realloc(img->glob, (size_t)cap * sizeof *g);
        if (!g) return -1;
        img->glob = g;
        img->glob_cap = cap;
    }
    char *d = strdup(name);
    if (!d) return -1;
    img->glob[img->nglob].name = d;
    img->glob[img->nglob].size = size;
    img->nglob++;
    return 0;
}

static int cmp_named(const void *a, const void *b) {
    return strcmp(((const rv_named *)a)->name, ((const rv_named *)b)->name);
}
static int cmp_glob(const void *a, const void *b) {
    return strcmp(((const rv_global *)a)->name, ((const rv_global *)b)->name);
}

/* CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK: the launch bound, further limited by the register file
 * (64 K registers, allocated per thread in 8s and per warp group of 4; matches an H200 on 1,139 of
 * 1,140 kernels of cuBLAS, cuBLASLt, cuDNN, NCCL and torch). */
static int max_threads_per_block(const rv_func_info *fi) {
    int limit = fi->max_threads > 0 && fi->max_threads < 1024 ? fi->max_threads : 1024;
    if (fi->regs <= 0 || fi->regs > 255) return limit; /* 255 is the ISA maximum: else a corrupt count */
    int per_thread = (fi->regs + 7) / 8 * 8;
    int warps = 65536 / (per_thread * 32) / 4 * 4;
    return warps * 32 < limit ? warps * 32 : limit;
}

int rv_fb_img_finish(rv_image *img) {
    for (int i = 0; i < img->nfn; ++i) img->fninfo[i].max_threads_per_block = max_threads_per_block(&img->fninfo[i]);
    if (img->nglob > 1) qsort(img->glob, (size_t)img->nglob, sizeof *img->glob, cmp_glob);
    if (img->nfn > 0) {
        img->fn_sorted = malloc((size_t)img->nfn * sizeof *img->fn_sorted);
        if (!img->fn_sorted) return -1;
        for (int i = 0; i < img->nfn; ++i) {
            img->fn_sorted[i].name = img->fn[i];
            img->fn_sorted[i].idx = i;
        }
        qsort(img->fn_sorted, (size_t)img->nfn, sizeof *img->fn_sorted, cmp_named);
    }
    return 0;
}

void rv_image_free(rv_image *img) {
    if (!img) return;
    for (int i = 0; i < img->nfn; ++i) {
        free(img->fn[i]);
        free(img->fninfo[i].param_off);
        free(img->fninfo[i].param_size);
    }
    for (int i = 0; i < img->nglob; ++i) free(img->glob[i].name);
    free(img->fn);
    free(img->fninfo);
    free(img->fnsym);
    free(img->fn_sorted);
    free(img->glob);
    free(img);
}

/* ---- fatbin container --------------------------------------------------------------------- */

typedef struct {
    int kind, arch, score;
    uint64_t flags, usize;
    span payload;
} fb_entry;

/* Which code object a real driver would run on arch dev (major*10+minor); higher is better. Foreign
 * code (which the real driver refuses with CUDA_ERROR_NO_BINARY_FOR_GPU) still gives names, and the
 * image is marked incompatible. */
static int entry_score(int kind, int arch, uint64_t flags, int dev) {
    int dist = arch > dev ? arch - dev : dev - arch;
    if (kind == ENTRY_ELF) {
        if (elf_runs_on(arch, flags, dev)) return arch == dev && (flags & FLAG_ARCH_SPECIFIC) ? 4000 : 3000 + arch;
        return 1000 - dist;
    }
    if (ptx_runs_on(arch, flags, dev)) return 2000 + arch;
    return 0 - dist;
}

#define SCORE_COMPATIBLE 2000

static int cmp_entry(const void *a, const void *b) {
    int x = ((const fb_entry *)a)->score, y = ((const fb_entry *)b)->score;
    return (x < y) - (x > y);
}

static rv_image *parse_entry(const fb_entry *en) {
    span data = en->payload;
    uint8_t *buf = NULL;
    size_t n = 0;
    int zstd_magic = data.n >= 4 && rd32(data.p) == ZSTD_FRAME_MAGIC;
    if ((en->flags & FLAG_ZSTD) || zstd_magic) {
        buf = rv_fb_zstd_inflate(data, en->usize, &n);
        if (!buf) return NULL;
        data.p = buf;
        data.n = n;
    } else if (en->flags & FLAG_LZ4) {
        buf = rv_fb_lz4_inflate(data, en->usize, &n);
        if (!buf) return NULL;
        data.p = buf;
        data.n = n;
    }
    rv_image *img = NULL;
    if (en->kind == ENTRY_ELF) img = rv_fb_parse_elf(data, en->arch);
    else if (en->kind == ENTRY_PTX) img = rv_fb_parse_ptx(data, en->arch, 0);
    free(buf);
    if (img) {
        img->sm = en->arch; /* the entry header's arch; the ELF's e_flags say the same */
        img->compatible = en->score >= SCORE_COMPATIBLE;
    }
    return img;
}

static rv_image *parse_fatbin(span s, int dev) {
    if (s.n < 16 || rd32(s.p) != FATBIN_MAGIC) return NULL;
    uint16_t hs = rd16(s.p + 6);
    uint64_t body = rd64(s.p + 8);
    if (hs < 16 || !in_bounds(s.n, hs, body)) return NULL;
    uint64_t end = hs + body;
    fb_entry *ents = NULL;
    int n = 0, cap = 0;
    uint64_t off = hs;
    while (off + ENTRY_MIN_HEADER <= end && n < MAX_ENTRIES) {
        const uint8_t *h = s.p + off;
        uint32_t ehs = rd32(h + 4);
        uint64_t psize = rd64(h + 8);
        if (ehs < ENTRY_MIN_HEADER || !in_bounds(end, off, ehs) || !in_bounds(end, off + ehs, psize)) break;
        fb_entry e;
        e.kind = rd16(h);
        uint32_t arch = rd32(h + 0x1c);
        e.arch = arch < 1000 ? (int)arch : 0; /* keeps scores in range for a corrupt header */
        e.flags = rd64(h + 0x28);
        e.usize = rd64(h + 0x38);
        uint32_t csize = rd32(h + 0x10);
        e.payload.p = h + ehs;
        e.payload.n = (csize && csize <= psize) ? csize : psize;
        e.score = entry_score(e.kind, e.arch, e.flags, dev);
        if (e.kind == ENTRY_ELF || e.kind == ENTRY_PTX) {
            if (n == cap) {
                cap = cap ? cap * 2 : 16;
                fb_entry *ne = realloc(ents, (size_t)cap * sizeof *ne);
                if (!ne) break;
                ents = ne;
            }
            ents[n++] = e;
        }
        off += ehs + psize;
    }
    if (n > 1) qsort(ents, (size_t)n, sizeof *ents, cmp_entry);
    rv_image *img = NULL;
    for (int i = 0; i < n && !img; ++i) img = parse_entry(&ents[i]);
    free(ents);
    return img;
}

/* ---- entry points ------------------------------------------------------------------------- */

static rv_image *parse_span(span s, int dev, int depth) {
    if (s.n >= 4 && rd32(s.p) == FATBIN_MAGIC) return parse_fatbin(s, dev);
    if (s.n >= SELFMAG && !memcmp(s.p, ELFMAG, SELFMAG)) return rv_fb_parse_elf(s, dev);
    if (s.n >= 16 && rd32(s.p) == WRAPPER_MAGIC && depth == 0) {
        /* a wrapper inside a buffer points elsewhere in memory: follow it as a pointer */
        const void *inner;
        memcpy(&inner, s.p + 8, sizeof inner);
        return rv_image_parse(inner, dev / 10, dev % 10);
    }
    if (rv_fb_looks_like_ptx(s)) return rv_fb_parse_ptx(s, 0, dev);
    return NULL;
}

/* The extent of an ELF whose header is at p: the furthest byte any header or section names. */
static size_t elf_extent(const uint8_t *p) {
    if (!mapped(p, sizeof(Elf64_Ehdr))) return 0;
    Elf64_Ehdr eh;
    memcpy(&eh, p, sizeof eh);
    if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_shentsize != sizeof(Elf64_Shdr)) return 0;
    uint64_t tab = (uint64_t)eh.e_shnum * sizeof(Elf64_Shdr);
    if (eh.e_shoff > MAX_IMAGE_BYTES || tab > MAX_IMAGE_BYTES) return 0;
    uint64_t ext = eh.e_shoff + tab;
    if (!mapped(p + eh.e_shoff, tab)) return 0;
    for (unsigned i = 0; i < eh.e_shnum; ++i) {
        Elf64_Shdr s;
        memcpy(&s, p + eh.e_shoff + i * sizeof s, sizeof s);
        if (s.sh_type == SHT_NOBITS) continue;
        if (s.sh_offset > MAX_IMAGE_BYTES || s.sh_size > MAX_IMAGE_BYTES) return 0;
        if (s.sh_offset + s.sh_size > ext) ext = s.sh_offset + s.sh_size;
    }
    return mapped(p, ext) ? (size_t)ext : 0;
}

/* Length of NUL-terminated text at p, walking mapped pages; 0 if unmapped or too long. */
static size_t text_extent(const uint8_t *p) {
    long page = sysconf(_SC_PAGESIZE);
    size_t n = 0;
    while (n < MAX_PTX_BYTES) {
        size_t chunk = (size_t)page - (((uintptr_t)p + n) & (uintptr_t)(page - 1));
        if (!mapped(p + n, chunk)) return 0;
        const void *z = memchr(p + n, 0, chunk);
        if (z) return (size_t)((const uint8_t *)z - p);
        n += chunk;
    }
    return 0;
}

rv_image *rv_image_parse(const void *image, int sm_major, int sm_minor) {
    const uint8_t *p = image;
    int dev = sm_major * 10 + sm_minor;
    if (!p || !mapped(p, 16)) return NULL;
    uint32_t magic = rd32(p);
    if (magic == WRAPPER_MAGIC) {
        /* {int magic; int version; const void *fatbin; const void *filename_or_fatbins} */
        if (!mapped(p, 24)) return NULL;
        const uint8_t *inner;
        memcpy(&inner, p + 8, sizeof inner);
        if (!inner || !mapped(inner, 16) || rd32(inner) != FATBIN_MAGIC) return NULL;
        p = inner;
        magic = FATBIN_MAGIC;
    }
    span s = {p, 0};
    if (magic == FATBIN_MAGIC) {
        uint64_t total = (uint64_t)rd16(p + 6) + rd64(p + 8);
        if (total > MAX_IMAGE_BYTES || !mapped(p, total)) return NULL;
        s.n = total;
        return parse_fatbin(s, dev);
    }
    if (!memcmp(p, ELFMAG, SELFMAG)) {
        s.n = elf_extent(p);
        return s.n ? rv_fb_parse_elf(s, dev) : NULL;
    }
    s.n = text_extent(p);
    return s.n && rv_fb_looks_like_ptx(s) ? rv_fb_parse_ptx(s, 0, dev) : NULL;
}

rv_image *rv_image_parse_buffer(const void *data, size_t size, int sm_major, int sm_minor) {
    if (!data) return NULL;
    span s = {data, size};
    return parse_span(s, sm_major * 10 + sm_minor, 0);
}

rv_image *rv_image_parse_file(const char *path, int sm_major, int sm_minor) {
    if (!path) return NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    struct stat st;
    rv_image *img = NULL;
    if (fstat(fd, &st) == 0 && st.st_size > 0 && (uint64_t)st.st_size <= MAX_IMAGE_BYTES) {
        void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m != MAP_FAILED) {
            img = rv_image_parse_buffer(m, (size_t)st.st_size, sm_major, sm_minor);
            munmap(m, (size_t)st.st_size);
        }
    }
    close(fd);
    return img;
}

int rv_image_function_count(const rv_image *img) { return img ? img->nfn : 0; }

const char *rv_image_function_name(const rv_image *img, int i) {
    return (img && i >= 0 && i < img->nfn) ? img->fn[i] : NULL;
}

int rv_image_find_function(const rv_image *img, const char *name) {
    if (!img || !name) return -1;
    int lo = 0, hi = img->nfn - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcmp(img->fn_sorted[mid].name, name);
        if (!c) return img->fn_sorted[mid].idx;
        if (c < 0) lo = mid + 1;
        else hi = mid - 1;
    }
    return -1;
}

int rv_image_function_info(const rv_image *img, int i, rv_func_info *out) {
    if (!img || !out || i < 0 || i >= img->nfn) return 0;
    *out = img->fninfo[i];
    return 1;
}

int rv_image_global(const rv_image *img, const char *name, uint64_t *size) {
    if (!img || !name) return 0;
    int lo = 0, hi = img->nglob - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcmp(img->glob[mid].name, name);
        if (!c) {
            if (size) *size = img->glob[mid].size;
            return 1;
        }
        if (c < 0) lo = mid + 1;
        else hi = mid - 1;
    }
    return 0;
}

int rv_image_global_count(const rv_image *img) { return img ? img->nglob : 0; }

const char *rv_image_global_name(const rv_image *img, int i, uint64_t *size) {
    if (!img || i < 0 || i >= img->nglob) return NULL;
    if (size) *size = img->glob[i].size;
    return img->glob[i].name;
}

int rv_image_sm(const rv_image *img) { return img ? img->sm : 0; }

int rv_image_from_ptx(const rv_image *img) { return img ? img->from_ptx : 0; }

int rv_image_compatible(const rv_image *img) { return img ? img->compatible : 0; }
