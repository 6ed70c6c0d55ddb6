/* revati fatbin reader: kernel names, bounds and globals from PTX text. */
#include <stdlib.h>
#include <string.h>

#include "fatbin_internal.h"

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
rv_image *rv_fb_parse_ptx(span t, int sm, int dev) {
    rv_image *img = rv_fb_img_new();
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
            fi.nparams = -1; /* PTX gives parameter types, not the cubin's layout: left unknown */
            if (rv_fb_add_fn(img, p, &fi, 0) != 0) goto fail;
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
            if (rv_fb_add_global(img, name, elem * count) != 0) goto fail;
        }
    }
    img->compatible = img->sm > 0 && ptx_runs_on(img->sm, arch_specific ? FLAG_ARCH_SPECIFIC : 0, dev);
    if (rv_fb_img_finish(img) != 0) goto fail;
    return img;
fail:
    rv_image_free(img);
    return NULL;
}

int rv_fb_looks_like_ptx(span t) {
    size_t n = t.n < 65536 ? t.n : 65536;
    for (size_t i = 0; i + 8 <= n; ++i)
        if (t.p[i] == '.' && (!memcmp(t.p + i, ".version", 8) || !memcmp(t.p + i, ".target ", 8))) return 1;
    return 0;
}
