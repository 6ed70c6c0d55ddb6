/* revati fatbin reader: kernel names and global symbol sizes from the images the runtime loads. */
#include "revati/fatbin.h"

#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "revati/log.h"

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
static int elf_runs_on(int arch, uint64_t flags, int dev) {
    if (flags & FLAG_ARCH_SPECIFIC) return arch == dev;
    return arch / 10 == dev / 10 && arch <= dev;
}

static int ptx_runs_on(int arch, uint64_t flags, int dev) {
    return (flags & FLAG_ARCH_SPECIFIC) ? arch == dev : arch <= dev;
}

/* ---- bounds-checked reads ---------------------------------------------------------------- */

static int in_bounds(size_t n, uint64_t off, uint64_t len) { return off <= n && len <= n - off; }
static uint16_t rd16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

/* The NUL-terminated string at off inside s, or NULL if it runs past the end. */
static const char *str_at(span s, uint64_t off) {
    if (off >= s.n) return NULL;
    const void *z = memchr(s.p + off, 0, s.n - off);
    return z ? (const char *)(s.p + off) : NULL;
}

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

static rv_image *img_new(void) { return calloc(1, sizeof(rv_image)); }

static int add_fn(rv_image *img, const char *name, const rv_func_info *info, uint32_t sym) {
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

static int add_global(rv_image *img, const char *name, uint64_t size) {
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

static int img_finish(rv_image *img) {
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
    for (int i = 0; i < img->nfn; ++i) free(img->fn[i]);
    for (int i = 0; i < img->nglob; ++i) free(img->glob[i].name);
    free(img->fn);
    free(img->fninfo);
    free(img->fnsym);
    free(img->fn_sorted);
    free(img->glob);
    free(img);
}

/* ---- ELF cubin ------------------------------------------------------------------------------ */

typedef struct {
    span e;
    const Elf64_Shdr *sh; /* not aligned in general: read through memcpy copies */
    size_t shnum;
    span shstr;
} elf_ctx;

static int shdr(const elf_ctx *c, size_t i, Elf64_Shdr *out) {
    if (i >= c->shnum) return -1;
    memcpy(out, (const uint8_t *)c->sh + i * sizeof(Elf64_Shdr), sizeof *out);
    return 0;
}

static span section_data(const elf_ctx *c, const Elf64_Shdr *s) {
    span r = {NULL, 0};
    if (s->sh_type == SHT_NOBITS || !in_bounds(c->e.n, s->sh_offset, s->sh_size)) return r;
    r.p = c->e.p + s->sh_offset;
    r.n = s->sh_size;
    return r;
}

static const char *section_name(const elf_ctx *c, const Elf64_Shdr *s) { return str_at(c->shstr, s->sh_name); }

/* Index of the section named prefix+name, or 0. */
static size_t find_section(const elf_ctx *c, const char *prefix, const char *name) {
    size_t pl = strlen(prefix);
    for (size_t i = 1; i < c->shnum; ++i) {
        Elf64_Shdr s;
        shdr(c, i, &s);
        const char *n = section_name(c, &s);
        if (n && !strncmp(n, prefix, pl) && !strcmp(n + pl, name)) return i;
    }
    return 0;
}

/* .nv.info.<kernel> attribute records: {u8 format, u8 attribute, u16 value-or-size, [data]}. */
#define EIFMT_HVAL 3
#define EIFMT_SVAL 4
#define EIATTR_CBANK_PARAM_SIZE 0x19
#define EIATTR_REQNTID 0x10
#define EIATTR_MAX_THREADS 0x05
#define EIATTR_FRAME_SIZE 0x11
#define EIATTR_REGCOUNT 0x2f

/* The module-wide .nv.info: per-kernel {symbol index, value} records for registers and frame size. */
static void read_module_info(const elf_ctx *c, rv_image *img) {
    for (size_t i = 1; i < c->shnum; ++i) {
        Elf64_Shdr s;
        shdr(c, i, &s);
        const char *n = section_name(c, &s);
        if (!n || strcmp(n, ".nv.info")) continue;
        span d = section_data(c, &s);
        size_t o = 0;
        while (d.p && o + 4 <= d.n) {
            uint8_t fmt = d.p[o], attr = d.p[o + 1];
            uint16_t v = rd16(d.p + o + 2);
            o += 4;
            if (fmt != EIFMT_SVAL) {
                if (fmt != 1 && fmt != 2 && fmt != EIFMT_HVAL) break;
                continue;
            }
            if (!in_bounds(d.n, o, v)) break;
            if (v == 8 && (attr == EIATTR_REGCOUNT || attr == EIATTR_FRAME_SIZE)) {
                uint32_t sym = rd32(d.p + o), val = rd32(d.p + o + 4);
                for (int f = 0; f < img->nfn; ++f) {
                    if (img->fnsym[f] != sym) continue;
                    if (attr == EIATTR_REGCOUNT) img->fninfo[f].regs = (int)val;
                    else img->fninfo[f].local_bytes = val;
                }
            }
            o += v;
        }
    }
}

static void read_nv_info(const elf_ctx *c, const char *name, rv_func_info *fi) {
    size_t idx = find_section(c, ".nv.info.", name);
    if (!idx) return;
    Elf64_Shdr s;
    shdr(c, idx, &s);
    span d = section_data(c, &s);
    size_t o = 0;
    while (d.p && o + 4 <= d.n) {
        uint8_t fmt = d.p[o], attr = d.p[o + 1];
        uint16_t v = rd16(d.p + o + 2);
        o += 4;
        if (fmt == EIFMT_HVAL) {
            if (attr == EIATTR_CBANK_PARAM_SIZE) fi->param_bytes = v;
        } else if (fmt == EIFMT_SVAL) {
            if (!in_bounds(d.n, o, v)) break;
            if ((attr == EIATTR_REQNTID || attr == EIATTR_MAX_THREADS) && v >= 12) {
                uint64_t t = (uint64_t)rd32(d.p + o) * rd32(d.p + o + 4) * rd32(d.p + o + 8);
                if (t > 0 && t <= 1024) fi->max_threads = (int)t;
            }
            o += v;
        } else if (fmt != 1 && fmt != 2) {
            break; /* unknown record format: the rest cannot be framed */
        }
    }
}

static void fill_func_info(const elf_ctx *c, const char *name, const Elf64_Shdr *text, rv_func_info *fi) {
    memset(fi, 0, sizeof *fi);
    fi->regs = (int)(text->sh_info >> 24); /* older cubins; .nv.info's REGCOUNT overrides it */
    fi->code_bytes = text->sh_size;
    size_t sm = find_section(c, ".nv.shared.", name);
    if (sm) {
        Elf64_Shdr s;
        shdr(c, sm, &s);
        fi->static_smem = s.sh_size;
    }
    size_t c0 = find_section(c, ".nv.constant0.", name);
    if (c0) {
        Elf64_Shdr s;
        shdr(c, c0, &s);
        fi->const0_bytes = s.sh_size;
    }
    read_nv_info(c, name, fi);
}

/* Kernels: STT_FUNC symbols marked STO_CUDA_ENTRY (or, for toolchains that do not mark them,
 * functions with their own .nv.info.<name> section). Globals: STT_OBJECT with a defined section
 * other than shared memory, with their st_size. */
static rv_image *parse_elf(span e, int sm) {
    if (e.n < sizeof(Elf64_Ehdr) || memcmp(e.p, ELFMAG, SELFMAG) != 0) return NULL;
    Elf64_Ehdr eh;
    memcpy(&eh, e.p, sizeof eh);
    if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB) return NULL;
    if (eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_shnum == 0) return NULL;
    if (!in_bounds(e.n, eh.e_shoff, (uint64_t)eh.e_shnum * sizeof(Elf64_Shdr))) return NULL;
    elf_ctx c = {e, (const Elf64_Shdr *)(e.p + eh.e_shoff), eh.e_shnum, {NULL, 0}};
    Elf64_Shdr s;
    if (shdr(&c, eh.e_shstrndx, &s) != 0) return NULL;
    c.shstr = section_data(&c, &s);

    rv_image *img = img_new();
    if (!img) return NULL;
    /* e_flags carry the SM: in bits 0-7 up to ELF ABI version 7, in bits 8-15 from version 8 on */
    int esm = eh.e_ident[EI_ABIVERSION] >= 8 ? (int)((eh.e_flags >> 8) & 0xff) : (int)(eh.e_flags & 0xff);
    img->sm = (esm >= 20 && esm < 256) ? esm : sm;
    img->compatible = elf_runs_on(img->sm, 0, sm); /* a bare cubin: sm is the device's here */
    /* sm_90 cubins fold the 1 KiB the system reserves per block into .nv.shared.<kernel>; the driver's
     * CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES leaves it out (checked on an H200) */
    int reserved_smem = 0;
    for (size_t i = 1; i < c.shnum; ++i) {
        shdr(&c, i, &s);
        const char *n = section_name(&c, &s);
        if (n && !strncmp(n, ".nv.shared.reserved.", 20)) reserved_smem = 1024;
    }
    int any_marked = 0;
    for (int pass = 0; pass < 2; ++pass) {
        if (pass == 1 && (any_marked || img->nfn)) break; /* the fallback pass is for unmarked ELFs */
        for (size_t si = 1; si < c.shnum; ++si) {
            shdr(&c, si, &s);
            if (s.sh_type != SHT_SYMTAB) continue;
            if (s.sh_entsize != sizeof(Elf64_Sym)) continue;
            span syms = section_data(&c, &s);
            Elf64_Shdr strh;
            if (!syms.p || shdr(&c, s.sh_link, &strh) != 0) continue;
            span strs = section_data(&c, &strh);
            size_t nsym = syms.n / sizeof(Elf64_Sym);
            for (size_t k = 1; k < nsym; ++k) {
                Elf64_Sym sym;
                memcpy(&sym, syms.p + k * sizeof sym, sizeof sym);
                int type = ELF64_ST_TYPE(sym.st_info);
                if (sym.st_shndx == SHN_UNDEF || sym.st_shndx >= SHN_LORESERVE) continue;
                const char *name = str_at(strs, sym.st_name);
                if (!name || !*name) continue;
                Elf64_Shdr sec;
                if (shdr(&c, sym.st_shndx, &sec) != 0) continue;
                if (type == STT_FUNC) {
                    int entry = (sym.st_other & STO_CUDA_ENTRY) != 0;
                    any_marked |= entry;
                    if (pass == 1) entry = find_section(&c, ".nv.info.", name) != 0;
                    if (!entry) continue;
                    rv_func_info fi;
                    fill_func_info(&c, name, &sec, &fi);
                    if (fi.static_smem >= (uint64_t)reserved_smem) fi.static_smem -= (uint64_t)reserved_smem;
                    if (add_fn(img, name, &fi, (uint32_t)k) != 0) goto fail;
                } else if (type == STT_OBJECT && pass == 0) {
                    const char *secname = section_name(&c, &sec);
                    if (secname && !strncmp(secname, ".nv.shared", 10)) continue;
                    if (add_global(img, name, sym.st_size) != 0) goto fail;
                }
            }
        }
    }
    read_module_info(&c, img);
    if (img_finish(img) != 0) goto fail;
    return img;
fail:
    rv_image_free(img);
    return NULL;
}

/* ---- PTX text (no ELF for this arch: the real driver would JIT it) -------------------------- */

static int is_ident(char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' ||
           ch == '$' || ch == '.';
}

static uint64_t ptx_type_bytes(const char *t, size_t n) {
    /* .b8 .u16 .s32 .f64 .pred ...: the digits give the bit width */
    if (n >= 2 && (t[0] == 'b' || t[0] == 'u' || t[0] == 's' || t[0] == 'f')) {
        uint64_t bits = strtoull(t + 1, NULL, 10);
        if (bits >= 8 && bits % 8 == 0) return bits / 8;
    }
    return 0;
}

/* `.entry name(` gives a kernel (`.maxntid`/`.reqntid` after it its bound); `.global|.const [.align N]
 * .type name[K]...;` gives a global; `.target sm_XX` the arch when the caller does not know it. */
static rv_image *parse_ptx(span t, int sm, int dev) {
    rv_image *img = img_new();
    if (!img) return NULL;
    img->sm = sm;
    img->from_ptx = 1;
    int arch_specific = 0;
    size_t i = 0;
    while (i < t.n) {
        size_t eol = i;
        while (eol < t.n && t.p[eol] != '\n' && t.p[eol] != 0) eol++;
        char line[4096];
        size_t len = eol - i < sizeof line - 1 ? eol - i : sizeof line - 1;
        memcpy(line, t.p + i, len);
        line[len] = 0;
        i = eol + 1;
        if (eol < t.n && t.p[eol] == 0) i = t.n;
        char *p = line;
        while (*p == ' ' || *p == '\t') p++;
        if (!strncmp(p, ".visible ", 9) || !strncmp(p, ".weak ", 6) || !strncmp(p, ".extern ", 8))
            p = strchr(p, ' ') + 1;
        while (*p == ' ' || *p == '\t') p++;
        if (!strncmp(p, ".target sm_", 11) && !sm) {
            char *q;
            long a = strtol(p + 11, &q, 10);
            if (a > 0 && a < 1000) img->sm = (int)a;
            arch_specific = *q == 'a';
        } else if ((!strncmp(p, ".maxntid ", 9) || !strncmp(p, ".reqntid ", 9)) && img->nfn > 0) {
            char *q = p + 9;
            long n = 1;
            for (int d = 0; d < 3 && *q; ++d) {
                long v = strtol(q, &q, 10);
                if (v > 0 && v <= 1024) n *= v;
                while (*q == ',' || *q == ' ') q++;
            }
            if (n > 0 && n <= 1024) img->fninfo[img->nfn - 1].max_threads = (int)n;
        } else if (!strncmp(p, ".entry ", 7)) {
            p += 7;
            while (*p == ' ') p++;
            char *q = p;
            while (is_ident(*q)) q++;
            if (q == p) continue;
            *q = 0;
            rv_func_info fi;
            memset(&fi, 0, sizeof fi);
            if (add_fn(img, p, &fi, 0) != 0) goto fail;
        } else if (!strncmp(p, ".global ", 8) || !strncmp(p, ".const ", 7)) {
            p = strchr(p, ' ') + 1;
            uint64_t elem = 0;
            char *name = NULL, *after = NULL;
            while (*p) {
                while (*p == ' ' || *p == '\t') p++;
                if (!*p || *p == ';' || *p == '=') break;
                char *w = p;
                while (*p && *p != ' ' && *p != '\t' && *p != ';' && *p != '[' && *p != '=') p++;
                size_t wl = (size_t)(p - w);
                if (wl == 0) break; /* a stray '[': not a declaration we understand */
                if (w[0] == '.' && wl > 1) {
                    uint64_t b = ptx_type_bytes(w + 1, wl - 1);
                    if (b) elem = b;
                    if (!strncmp(w, ".align", 6)) { /* skip the alignment value */
                        while (*p == ' ') p++;
                        while (*p >= '0' && *p <= '9') p++;
                    }
                } else if (wl) {
                    name = w;
                    after = p;
                    break;
                }
            }
            if (!name || !elem) continue;
            uint64_t count = 1;
            char *b = after;
            while (*b == '[') {
                uint64_t k = strtoull(b + 1, &b, 10);
                if (*b != ']') break;
                b++;
                count *= k ? k : 1;
            }
            *after = 0;
            if (add_global(img, name, elem * count) != 0) goto fail;
        }
    }
    img->compatible = img->sm > 0 && ptx_runs_on(img->sm, arch_specific ? FLAG_ARCH_SPECIFIC : 0, dev);
    if (img_finish(img) != 0) goto fail;
    return img;
fail:
    rv_image_free(img);
    return NULL;
}

static int looks_like_ptx(span t) {
    size_t n = t.n < 65536 ? t.n : 65536;
    for (size_t i = 0; i + 8 <= n; ++i)
        if (t.p[i] == '.' && (!memcmp(t.p + i, ".version", 8) || !memcmp(t.p + i, ".target ", 8))) return 1;
    return 0;
}

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

static uint8_t *zstd_inflate(span in, uint64_t want, size_t *out_n) {
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
static uint8_t *lz4_inflate(span in, uint64_t want, size_t *out_n) {
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
        buf = zstd_inflate(data, en->usize, &n);
        if (!buf) return NULL;
        data.p = buf;
        data.n = n;
    } else if (en->flags & FLAG_LZ4) {
        buf = lz4_inflate(data, en->usize, &n);
        if (!buf) return NULL;
        data.p = buf;
        data.n = n;
    }
    rv_image *img = NULL;
    if (en->kind == ENTRY_ELF) img = parse_elf(data, en->arch);
    else if (en->kind == ENTRY_PTX) img = parse_ptx(data, en->arch, 0);
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
    if (s.n >= SELFMAG && !memcmp(s.p, ELFMAG, SELFMAG)) return parse_elf(s, dev);
    if (s.n >= 16 && rd32(s.p) == WRAPPER_MAGIC && depth == 0) {
        /* a wrapper inside a buffer points elsewhere in memory: follow it as a pointer */
        const void *inner;
        memcpy(&inner, s.p + 8, sizeof inner);
        return rv_image_parse(inner, dev / 10, dev % 10);
    }
    if (looks_like_ptx(s)) return parse_ptx(s, 0, dev);
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
        return s.n ? parse_elf(s, dev) : NULL;
    }
    s.n = text_extent(p);
    return s.n && looks_like_ptx(s) ? parse_ptx(s, 0, dev) : NULL;
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
