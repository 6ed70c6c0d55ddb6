/* revati kernel features: args, op and signature of one launch (contract in revati/features.h). */
#include "revati/features.h"

#include <string.h>

#include "mask.h"

typedef struct wbuf {
    char *p, *end; /* end: the last byte, kept for the NUL */
} wbuf;

static void put_s(wbuf *w, const char *s, size_t n) {
    size_t room = (size_t)(w->end - w->p);
    if (n > room) n = room;
    memcpy(w->p, s, n);
    w->p += n;
}

static void put_c(wbuf *w, char c) {
    if (w->p < w->end) *w->p++ = c;
}

static const char DIGITS2[] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839404142434445464748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899";

/* Decimal text of v into the end of tmp[24]; returns where it starts (two digits per division). */
static char *u64_text(uint64_t v, char *end) {
    char *p = end;
    while (v >= 100) {
        unsigned r = (unsigned)(v % 100);
        v /= 100;
        p -= 2;
        memcpy(p, DIGITS2 + 2 * r, 2);
    }
    if (v >= 10) {
        p -= 2;
        memcpy(p, DIGITS2 + 2 * v, 2);
    } else {
        *--p = (char)('0' + v);
    }
    return p;
}

static void put_u64(wbuf *w, uint64_t v) {
    if (v < 10 && w->p < w->end) { /* the common case: 0 and small flags */
        *w->p++ = (char)('0' + v);
        return;
    }
    char tmp[24], *s = u64_text(v, tmp + sizeof tmp);
    put_s(w, s, (size_t)(tmp + sizeof tmp - s));
}

uint64_t rv_fnv1a(uint64_t h, const void *data, size_t n) {
    const unsigned char *p = data;
    for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

/* Little-endian value of n <= 8 bytes (x86-64 and aarch64 hosts are little-endian, as is the GPU). */
static uint64_t load_le(const unsigned char *p, size_t n) {
    uint64_t v = 0;
    memcpy(&v, p, n);
    return v;
}

static void put_word(wbuf *w, uint64_t v, int may_point, const rv_feat_in *in) {
    if (may_point && rv_feat_masked(in, v)) put_s(w, "null", 4);
    else put_u64(w, v);
}

/* One parameter: a scalar (<= 8 bytes) or a list of 8-byte words (structs). Parameters reaching past
 * the buffer are written as null: their bytes are unknown. */
static void put_param(wbuf *w, const rv_feat_in *in, size_t off, size_t size) {
    if (!in->params || off + size > in->params_len || size == 0) {
        put_s(w, "null", 4);
        return;
    }
    const unsigned char *p = in->params + off;
    if (size <= 8) {
        put_word(w, load_le(p, size), size == 8, in);
        return;
    }
    put_c(w, '[');
    for (size_t i = 0; i < size;) {
        if (i) put_c(w, ',');
        if (in->is_tensormap && (off + i) % 64 == 0 && i + 128 <= size && in->is_tensormap(p + i, in->user)) {
            put_s(w, "null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null", 79);
            i += 128;
            continue;
        }
        size_t n = size - i < 8 ? size - i : 8;
        put_word(w, load_le(p + i, n), n == 8, in);
        i += 8;
    }
    put_c(w, ']');
}

static size_t write_args(const rv_feat_in *in, char *dst, size_t cap) {
    if (in->nparams < 0 || cap < 2) {
        dst[0] = 0;
        return 0;
    }
    wbuf w = {dst, dst + cap - 1};
    put_c(&w, '[');
    for (int i = 0; i < in->nparams; ++i) {
        if (i) put_c(&w, ',');
        put_param(&w, in, in->param_off[i], in->param_size[i]);
    }
    put_c(&w, ']');
    *w.p = 0;
    return (size_t)(w.p - dst);
}

static uint64_t hash_u(uint64_t h, uint64_t v, char sep) {
    char tmp[25], *s = u64_text(v, tmp + sizeof tmp);
    *--s = sep;
    return rv_fnv1a(h, s, (size_t)(tmp + sizeof tmp - s));
}

/* op: the kernel's own shape first, else the library-call context. */
static void put_op(const rv_feat_in *in, rv_feat_out *out) {
    size_t on = rv_feat_kernel_op(in, out->op, sizeof out->op, &out->mem_read);
    if (!on && in->op_json && in->op_json[0]) {
        on = strlen(in->op_json);
        if (on >= sizeof out->op) on = 0; /* never a cut-off object: an unusable context is dropped */
        memcpy(out->op, in->op_json, on);
    }
    out->op[on] = 0;
    out->op_len = on;
}

static void put_sig(uint64_t h_args, rv_feat_out *out) {
    uint64_t h = rv_fnv1a(h_args, out->op, out->op_len);
    static const char hex[] = "0123456789abcdef";
    for (int i = 15; i >= 0; --i, h >>= 4) out->sig[i] = hex[h & 15];
    out->sig[16] = 0;
}

int rv_features(const rv_feat_in *in, rv_feat_out *out) {
    if (!in || !in->name || !out) return -1;
    out->args_len = write_args(in, out->args, sizeof out->args);
    put_op(in, out);
    /* "name|gx,gy,gz|bx,by,bz|smem|args|op" */
    uint64_t h = in->name_fnv ? in->name_fnv : rv_fnv1a(RV_FNV_OFFSET, in->name, strlen(in->name));
    for (int i = 0; i < 3; ++i) h = hash_u(h, in->grid[i], i ? ',' : '|');
    for (int i = 0; i < 3; ++i) h = hash_u(h, in->block[i], i ? ',' : '|');
    h = hash_u(h, in->smem, '|');
    h = rv_fnv1a(h, "|", 1);
    h = rv_fnv1a(h, out->args, out->args_len);
    out->h_args = h = rv_fnv1a(h, "|", 1);
    put_sig(h, out);
    return 0;
}

int rv_features_op(const rv_feat_in *in, uint64_t h_args, rv_feat_out *out) {
    if (!in || !in->name || !out) return -1;
    put_op(in, out);
    out->h_args = h_args;
    put_sig(h_args, out);
    return 0;
}
