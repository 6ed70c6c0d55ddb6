/* revati library-call context: the per-thread current op, its accessor, symbol lookup, JSON writer. */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "libcalls.h"

/* librevati.so's overhead bracket, when it is loaded (an emulated run); absent on a real GPU. */
extern void rv_enter(void) __attribute__((weak));
extern void rv_leave(void) __attribute__((weak));

static __thread char t_ctx[RV_FEAT_OP_MAX];
static __thread size_t t_len;

// revati_op_context: this thread's innermost interposed library call, as a JSON object, or NULL
RV_EXPORT const char *revati_op_context(void) { return t_len ? t_ctx : NULL; }

void rv_opctx_push(const char *json, size_t len, rv_opctx_saved *saved) {
    saved->len = t_len;
    memcpy(saved->text, t_ctx, t_len + 1);
    /* the outermost call wins: cuBLAS may or may not route a GEMM through its own cublasLtMatmul
     * (and then describes it transposed); what the program asked for is stable */
    if (t_len || !len || len >= sizeof t_ctx) return;
    memcpy(t_ctx, json, len);
    t_ctx[len] = 0;
    t_len = len;
}

void rv_opctx_pop(const rv_opctx_saved *saved) {
    memcpy(t_ctx, saved->text, saved->len + 1);
    t_len = saved->len;
}

void rv_libcalls_enter(void) {
    if (rv_enter) rv_enter();
}

void rv_libcalls_leave(void) {
    if (rv_leave) rv_leave();
}

void *rv_real_symbol(const char *name, const char *const *sonames) {
    void *p = dlsym(RTLD_NEXT, name);
    for (int i = 0; !p && sonames && sonames[i]; ++i) {
        /* a library loaded with RTLD_LOCAL is not in the global scope that RTLD_NEXT searches */
        void *h = dlopen(sonames[i], RTLD_LAZY | RTLD_NOLOAD);
        if (h) p = dlsym(h, name);
    }
    if (!p) fprintf(stderr, "[revati libcalls] %s: the real library's entry point is not loaded\n", name);
    return p;
}

void rv_obj_begin(rv_obj *o, const char *lib, const char *op) {
    o->full = 0;
    int n = snprintf(o->buf, sizeof o->buf, "{\"lib\":\"%s\",\"op\":\"%s\"", lib, op);
    o->len = n > 0 && (size_t)n < sizeof o->buf ? (size_t)n : 0;
    if (!o->len) o->full = 1;
}

static void obj_add(rv_obj *o, const char *fmt, ...) {
    if (o->full) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->buf + o->len, sizeof o->buf - o->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof o->buf - o->len - 1) o->full = 1; /* keep room for the brace */
    else o->len += (size_t)n;
}

void rv_obj_int(rv_obj *o, const char *key, long long v) { obj_add(o, ",\"%s\":%lld", key, v); }

/* Values are revati's own names (ASCII, no quotes): no escaping needed. */
void rv_obj_str(rv_obj *o, const char *key, const char *v) { obj_add(o, ",\"%s\":\"%s\"", key, v); }

size_t rv_obj_end(rv_obj *o) {
    obj_add(o, "}");
    return o->full ? 0 : o->len;
}
