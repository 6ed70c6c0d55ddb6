/* revati fatbin reader: an ELF cubin's kernels, their attributes and its globals. */
#include <elf.h>
#include <stdlib.h>
#include <string.h>

#include "fatbin_internal.h"

/* ---- ELF cubin ------------------------------------------------------------------------------ */

typedef struct {
    span e;
    const Elf64_Shdr *sh; /* not aligned in general: read through memcpy copies */
    size_t shnum;
    span shstr;
    rv_named *by_name;    /* sections sorted by name: per-kernel lookups must not scan them all */
    size_t nnamed;
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

static int cmp_named(const void *a, const void *b) {
    return strcmp(((const rv_named *)a)->name, ((const rv_named *)b)->name);
}

/* The by-name index of the sections (NULL when out of memory: lookups then find nothing). */
static void index_sections(elf_ctx *c) {
    c->by_name = malloc(c->shnum * sizeof *c->by_name);
    c->nnamed = 0;
    if (!c->by_name) return;
    for (size_t i = 1; i < c->shnum; ++i) {
        Elf64_Shdr s;
        shdr(c, i, &s);
        const char *n = section_name(c, &s);
        if (n && *n) c->by_name[c->nnamed++] = (rv_named){n, (int)i};
    }
    qsort(c->by_name, c->nnamed, sizeof *c->by_name, cmp_named);
}

/* Index of the section named prefix+name, or 0. */
static size_t find_section(const elf_ctx *c, const char *prefix, const char *name) {
    size_t pl = strlen(prefix), nl = strlen(name);
    char small[512], *key = pl + nl < sizeof small ? small : malloc(pl + nl + 1);
    if (!key || !c->by_name) return 0;
    memcpy(key, prefix, pl);
    memcpy(key + pl, name, nl + 1);
    rv_named want = {key, 0};
    const rv_named *hit = bsearch(&want, c->by_name, c->nnamed, sizeof *c->by_name, cmp_named);
    if (key != small) free(key);
    return hit ? (size_t)hit->idx : 0;
}

/* .nv.info.<kernel> attribute records: {u8 format, u8 attribute, u16 value-or-size, [data]}. */
#define EIFMT_HVAL 3
#define EIFMT_SVAL 4
#define EIATTR_CBANK_PARAM_SIZE 0x19
#define EIATTR_KPARAM_INFO 0x17
#define EIATTR_REQNTID 0x10
#define EIATTR_MAX_THREADS 0x05
#define EIATTR_FRAME_SIZE 0x11
#define EIATTR_REGCOUNT 0x2f

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* The module-wide .nv.info: per-kernel {symbol index, value} records for registers and frame size. */
static void read_module_info(const elf_ctx *c, rv_image *img) {
    /* (symbol index << 32 | kernel index), sorted: records name kernels by symbol */
    uint64_t *by_sym = malloc((size_t)(img->nfn ? img->nfn : 1) * sizeof *by_sym);
    if (!by_sym) return;
    for (int f = 0; f < img->nfn; ++f) by_sym[f] = (uint64_t)img->fnsym[f] << 32 | (uint32_t)f;
    qsort(by_sym, (size_t)img->nfn, sizeof *by_sym, cmp_u64);
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
                size_t lo = 0, hi = (size_t)img->nfn; /* first entry with this symbol */
                while (lo < hi) {
                    size_t mid = lo + (hi - lo) / 2;
                    if ((by_sym[mid] >> 32) < sym) lo = mid + 1;
                    else hi = mid;
                }
                for (; lo < (size_t)img->nfn && (by_sym[lo] >> 32) == sym; ++lo) {
                    int f = (int)(uint32_t)by_sym[lo];
                    if (attr == EIATTR_REGCOUNT) img->fninfo[f].regs = (int)val;
                    else img->fninfo[f].local_bytes = val;
                }
            }
            o += v;
        }
    }
    free(by_sym);
}

/* EIATTR_KPARAM_INFO data (12 bytes, one record per parameter, in no set order):
 * {u32 index (0), u16 ordinal, u16 offset, u32 flags}; flags bits 18-31 hold the size in bytes
 * (bits 0-7 the pointee's log2 alignment, 8-11 the space, 12-16 the constant bank). */
#define KPARAM_BYTES 12
#define KPARAM_MAX 4096

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* The layout from n records at rec[] (ordinal << 16 | offset, sizes by the same index):
 * sorted by ordinal; -1 (unknown) when ordinals repeat or leave a gap. */
static void set_params(rv_func_info *fi, uint32_t *key, const uint16_t *size_by_ord, int n) {
    qsort(key, (size_t)n, sizeof *key, cmp_u32);
    for (int i = 0; i < n; ++i)
        if ((int)(key[i] >> 16) != i) return;
    fi->param_off = malloc((size_t)(n ? n : 1) * sizeof *fi->param_off);
    fi->param_size = malloc((size_t)(n ? n : 1) * sizeof *fi->param_size);
    if (!fi->param_off || !fi->param_size) {
        free(fi->param_off), free(fi->param_size);
        fi->param_off = fi->param_size = NULL;
        return;
    }
    for (int i = 0; i < n; ++i) {
        fi->param_off[i] = (uint16_t)key[i];
        fi->param_size[i] = size_by_ord[i];
    }
    fi->nparams = n;
}

static void read_nv_info(const elf_ctx *c, const char *name, rv_func_info *fi) {
    size_t idx = find_section(c, ".nv.info.", name);
    if (!idx) return;
    Elf64_Shdr s;
    shdr(c, idx, &s);
    span d = section_data(c, &s);
    size_t o = 0;
    uint32_t key[KPARAM_MAX];
    uint16_t size_by_ord[KPARAM_MAX];
    int nkp = 0, kp_bad = 0;
    while (d.p && o + 4 <= d.n) {
        uint8_t fmt = d.p[o], attr = d.p[o + 1];
        uint16_t v = rd16(d.p + o + 2);
        o += 4;
        if (fmt == EIFMT_HVAL) {
            if (attr == EIATTR_CBANK_PARAM_SIZE) fi->param_bytes = v;
        } else if (fmt == EIFMT_SVAL) {
            if (!in_bounds(d.n, o, v)) break;
            if (attr == EIATTR_KPARAM_INFO) {
                uint32_t ord = rd16(d.p + o + 4), off = rd16(d.p + o + 6), sz = rd32(d.p + o + 8) >> 18;
                if (v < KPARAM_BYTES || ord >= KPARAM_MAX || nkp == KPARAM_MAX) kp_bad = 1;
                else key[nkp++] = ord << 16 | off, size_by_ord[ord] = (uint16_t)sz;
            } else if ((attr == EIATTR_REQNTID || attr == EIATTR_MAX_THREADS) && v >= 12) {
                uint64_t t = (uint64_t)rd32(d.p + o) * rd32(d.p + o + 4) * rd32(d.p + o + 8);
                if (t > 0 && t <= 1024) fi->max_threads = (int)t;
            }
            o += v;
        } else if (fmt != 1 && fmt != 2) {
            break; /* unknown record format: the rest cannot be framed */
        }
    }
    fi->nparams = -1;
    if (!kp_bad && (nkp || !fi->param_bytes)) set_params(fi, key, size_by_ord, nkp);
}

static void fill_func_info(const elf_ctx *c, const char *name, const Elf64_Shdr *text, rv_func_info *fi) {
    memset(fi, 0, sizeof *fi);
    fi->nparams = -1;
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
rv_image *rv_fb_parse_elf(span e, int sm) {
    if (e.n < sizeof(Elf64_Ehdr) || memcmp(e.p, ELFMAG, SELFMAG) != 0) return NULL;
    Elf64_Ehdr eh;
    memcpy(&eh, e.p, sizeof eh);
    if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB) return NULL;
    if (eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_shnum == 0) return NULL;
    if (!in_bounds(e.n, eh.e_shoff, (uint64_t)eh.e_shnum * sizeof(Elf64_Shdr))) return NULL;
    elf_ctx c = {e, (const Elf64_Shdr *)(e.p + eh.e_shoff), eh.e_shnum, {NULL, 0}, NULL, 0};
    Elf64_Shdr s;
    if (shdr(&c, eh.e_shstrndx, &s) != 0) return NULL;
    c.shstr = section_data(&c, &s);

    rv_image *img = rv_fb_img_new();
    if (!img) return NULL;
    index_sections(&c);
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
                    if (rv_fb_add_fn(img, name, &fi, (uint32_t)k) != 0) {
                        free(fi.param_off), free(fi.param_size);
                        goto fail;
                    }
                } else if (type == STT_OBJECT && pass == 0) {
                    const char *secname = section_name(&c, &sec);
                    if (secname && !strncmp(secname, ".nv.shared", 10)) continue;
                    if (rv_fb_add_global(img, name, sym.st_size) != 0) goto fail;
                }
            }
        }
    }
    read_module_info(&c, img);
    free(c.by_name);
    if (rv_fb_img_finish(img) != 0) {
        rv_image_free(img);
        return NULL;
    }
    return img;
fail:
    free(c.by_name);
    rv_image_free(img);
    return NULL;
}
