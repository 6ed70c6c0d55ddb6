/* revati driver: each launch's features (args, op, sig) from native/features, with the stand-in's facts:
 * the parameter layout of rv_func, its device address ranges, the library-call context that the
 * preloaded librevati_libcalls.so keeps (found with dlsym, so the driver works without it), and device
 * memory for the kernels whose work it sets (FlashAttention-3's KV lengths: read at every launch and,
 * through rv_kfeat_replay, at every graph replay; a launch described without them is counted). */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "revati/features.h"
#include "values/values.h"

typedef const char *(*op_context_fn)(void);

static op_context_fn g_op_context;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void find_op_context(void) { g_op_context = (op_context_fn)dlsym(RTLD_DEFAULT, "revati_op_context"); }

/* Masked here: device addresses, and pinned or registered host memory (a kernel may read it through
 * unified addressing). The feature unit itself masks the upper user address range (host addresses,
 * stack bytes in padding), the same on a real GPU. */
static int is_devptr(uint64_t v, void *user) {
    if (rv_dev_addr(v)) return 1;
    if (v < 0x10000ULL || !rv_host_alloc_may_hold(v)) return 0;
    rv_alloc a;
    return rv_alloc_find(v, &a) && a.kind == RV_MEM_HOST;
}
static int is_tensormap(const unsigned char *p, void *user) { return rv_tensormap_is_ours(p); }

/* FlashAttention's own kernels receive the lengths and only read them; their taint (values.c) lies only
 * where no other producer's did, so it does not make the lengths stale. */
static int flash_reader(const rv_taint *t) {
    return !t->exact && t->producer && rv_values_flash_kernel(t->producer->name);
}

/* Device memory (host-backed here) as the program left it: within one allocation, and not written by
 * a kernel that did not run (tainted bytes hold stale values; FlashAttention's readers aside). */
static int read_dev(uint64_t addr, void *dst, size_t n, void *user) {
    rv_alloc a;
    rv_taint t;
    if (!n || !rv_alloc_find(addr, &a) || a.kind == RV_MEM_HOST || addr + n > a.base + a.size) return 0;
    for (uint64_t at = addr; rv_values_on() && at < addr + n && rv_taint_find(at, addr + n, 1, &t); at = t.end)
        if (!flash_reader(&t)) return 0;
    memcpy(dst, (const void *)(uintptr_t)addr, n);
    return 1;
}

static _Atomic uint64_t g_mem_read, g_mem_fallback;

/* For tests and tools: launches (and replays) whose op was read from device memory, and those that fell
 * back to their parameters' bound. */
RV_API void rv_kfeat_mem_stats(uint64_t *read, uint64_t *fallback) {
    *read = g_mem_read, *fallback = g_mem_fallback;
}

static void count_mem(int mem_read, const rv_kernel_op *k) {
    const char *name = k->f->name;
    if (mem_read > 0) {
        g_mem_read++;
    } else if (mem_read < 0) {
        uint64_t n = ++g_mem_fallback;
        if (rv_log_enabled(RV_LOG_DEBUG)) /* the parameter bytes show a changed layout: one line per 384 */
            for (uint32_t b0 = 0; k->params && b0 < k->param_bytes; b0 += 384) {
                char hex[2 * 384 + 1];
                uint32_t m = k->param_bytes - b0 < 384 ? k->param_bytes - b0 : 384;
                for (uint32_t b = 0; b < m; ++b) snprintf(hex + 2 * b, 3, "%02x", k->params[b0 + b]);
                rv_debug("kv bound: params +%u: %s", b0, hex);
            }
        if ((n & (n - 1)) == 0) /* the 1st, 2nd, 4th, 8th... */
            rv_warn("%llu launch(es) described by their parameters' KV bound: the KV lengths in device memory "
                    "could not be read (unmapped, or written by a kernel that did not run); last: %.80s",
                    (unsigned long long)n, name);
    }
}

#define NAME_CACHE 256

/* Per thread: the feature buffers (about 170 KB, allocated on a thread's first launch), the view, and
 * the memo of recent launches, and the hash of recent kernels' names (the signature's prefix: hashing
 * a 200-character name is most of the cost of a small kernel's features). */
typedef struct tls_feat {
    rv_feat_out out;
    rv_kfeat view;
    rv_feat_cache *memo;
    struct {
        const rv_func *f;
        uint64_t h;
    } names[NAME_CACHE];
} tls_feat;

static uint64_t name_hash(tls_feat *t, const rv_func *f) {
    size_t slot = ((uintptr_t)f >> 4) % NAME_CACHE;
    if (t->names[slot].f != f) {
        t->names[slot].f = f;
        t->names[slot].h = rv_fnv1a(RV_FNV_OFFSET, f->name, strlen(f->name));
    }
    return t->names[slot].h;
}

static pthread_key_t g_key;
static pthread_once_t g_key_once = PTHREAD_ONCE_INIT;
static void tls_free(void *p) {
    tls_feat *t = p;
    rv_feat_cache_free(t->memo);
    free(t);
}
static void make_key(void) { pthread_key_create(&g_key, tls_free); }

static tls_feat *tls(void) {
    pthread_once(&g_key_once, make_key);
    tls_feat *t = pthread_getspecific(g_key);
    if (!t && (t = calloc(1, sizeof *t))) {
        t->memo = rv_feat_cache_new(); /* NULL: every launch computed afresh */
        pthread_setspecific(g_key, t);
    }
    return t;
}

static rv_feat_in feat_in(tls_feat *t, const rv_kernel_op *k, const char *op_json) {
    const rv_func *f = k->f;
    int known = k->params && f->nparams >= 0;
    return (rv_feat_in){
        .name = f->name,
        .grid = {k->grid[0], k->grid[1], k->grid[2]},
        .block = {k->block[0], k->block[1], k->block[2]},
        .smem = k->smem,
        .params = k->params,
        .params_len = k->param_bytes,
        .nparams = known ? f->nparams : -1,
        .param_off = f->param_off,
        .param_size = f->param_size,
        .is_devptr = is_devptr,
        .user = NULL,
        .op_json = op_json,
        .name_fnv = name_hash(t, f),
        .is_tensormap = is_tensormap,
        .read_dev = read_dev,
    };
}

static const rv_kfeat *view(tls_feat *t, const rv_kernel_op *k, const char *args) {
    count_mem(t->out.mem_read, k);
    t->view.args = args;
    t->view.op = t->out.op;
    memcpy(t->view.sig, t->out.sig, sizeof t->view.sig);
    t->view.reads_mem = t->out.mem_read != 0;
    t->view.h_args = t->out.h_args;
    return &t->view;
}

static const rv_kfeat none = {"", "", "0000000000000000", 0, 0};

const rv_kfeat *rv_kfeat_now(const rv_kernel_op *k, const char *keep_op) {
    tls_feat *t = tls();
    if (!t || !k->f) return &none;
    pthread_once(&g_once, find_op_context);
    const char *op = g_op_context ? g_op_context() : NULL;
    rv_feat_in in = feat_in(t, k, op && op[0] ? op : keep_op);
    rv_features_cached(t->memo, &in, &t->out);
    return view(t, k, t->out.args);
}

/* The node's parameters are its own copy, so its args text is the captured one: only op and sig are new. */
const rv_kfeat *rv_kfeat_replay(const rv_kernel_op *k) {
    tls_feat *t = tls();
    if (!t || !k->f || !k->feat) return k->feat ? k->feat : &none;
    rv_feat_in in = feat_in(t, k, k->feat->op[0] ? k->feat->op : NULL);
    rv_features_op(&in, k->feat->h_args, &t->out);
    return view(t, k, k->feat->args);
}

const rv_kfeat *rv_kfeat_keep(const rv_kfeat *f) {
    if (!f) return NULL;
    size_t na = strlen(f->args) + 1, no = strlen(f->op) + 1;
    rv_kfeat *c = malloc(sizeof *c + na + no);
    if (!c) return NULL;
    char *a = (char *)(c + 1), *o = a + na;
    memcpy(a, f->args, na);
    memcpy(o, f->op, no);
    c->args = a, c->op = o;
    memcpy(c->sig, f->sig, sizeof c->sig);
    c->reads_mem = f->reads_mem, c->h_args = f->h_args;
    return c;
}
