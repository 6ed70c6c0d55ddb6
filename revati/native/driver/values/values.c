/* revati driver: value tracking hooks: which device bytes a kernel that did not run may have written, and
 * the host reads of such bytes (`value-read` events). See docs/driver.md, "Values the host reads back". */
#include <stdlib.h>

#include "values.h"

static int g_on = -1, g_stats;
static uint64_t g_span;
static _Atomic uint64_t g_kseq, g_stat_ns, g_stat_calls, g_stat_computed;

int rv_values_on(void) {
    if (g_on < 0) {
        g_span = rv_env_u64("REVATI_TAINT_SPAN", 4096);
        g_stats = rv_env_u64("REVATI_VALUES_STATS", 0) != 0;
        g_on = (int)rv_env_u64("REVATI_VALUES", 1) != 0;
    }
    return g_on;
}

/* For tools/bench_values.py (REVATI_VALUES_STATS=1): real ns spent in value tracking over how many
 * kernels, and how many were computed. */
RV_API void rv_values_stats(uint64_t *ns, uint64_t *kernels, uint64_t *computed) {
    *ns = g_stat_ns, *kernels = g_stat_calls, *computed = g_stat_computed;
}

static int cmp_ptr(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* FlashAttention's kernels (namespace flash: the split scheduler's prepare_varlen_num_blocks, the forward,
 * its combine) receive the sequence lengths with their outputs and only read them. Their guessed taint
 * never replaces a range's existing taint, so a length buffer left stale by another kernel that did not
 * run stays marked as such (kfeatures.c reads the lengths and takes FlashAttention's own taint as none). */
int rv_values_flash_kernel(const char *name) {
    return name && (!strncmp(name, "_ZN5flash", 9) || !strncmp(name, "_ZN7cutlass13device_kernelIN5flash", 34));
}

/* The words of a parameter buffer that point into device (or mapped host) memory, as (pointer, limit of
 * its allocation) pairs sorted by pointer; their number. */
static int pointer_words(const rv_kernel_op *k, uint64_t pair[][2]) {
    int n = 0;
    for (uint32_t o = 0; o + 8 <= k->param_bytes && n < RV_VALUES_MAX_PTRS; o += 8) {
        uint64_t w;
        memcpy(&w, k->params + o, 8);
        rv_alloc a;
        if (w < 4096 || !rv_alloc_find(w, &a)) continue;
        pair[n][0] = w, pair[n][1] = a.base + a.size;
        ++n;
    }
    if (n > 1) qsort(pair, (size_t)n, sizeof pair[0], cmp_ptr);
    return n;
}

/* Each pointer word may be written, over a guessed extent (REVATI_TAINT_SPAN bytes, within its
 * allocation, and short of the next pointer the kernel received: tensors passed together do not
 * overlap, and each keeps its own origin). */
static void taint_words(const rv_kernel_op *k, const uint64_t pair[][2], int n, uint64_t seq, uint64_t corr) {
    int reader = rv_values_flash_kernel(k->f->name);
    for (int i = 0; i < n; ++i) {
        uint64_t p = pair[i][0];
        if (i + 1 < n && pair[i + 1][0] == p) continue;
        uint64_t end = p + g_span;
        if (end > pair[i][1]) end = pair[i][1];
        if (i + 1 < n && pair[i + 1][0] < end) end = pair[i + 1][0];
        if (reader && rv_taint_find(p, end, 0, NULL)) continue; /* keep the stale bytes' real producer */
        rv_taint t = {p, end, p, k->f, seq, corr, 0, 0, 0};
        rv_taint_mark_guess(&t);
    }
}

/* The pointer words of k: a graph node's memo holds them from an earlier replay while no allocation
 * has been added or removed since (its parameter buffer is its own and does not change). */
static void taint_pointers(const rv_kernel_op *k, uint64_t seq, uint64_t corr, rv_values_memo *m) {
    uint64_t gen = m ? rv_alloc_gen() : 0; /* read before the lookups it vouches for */
    if (m && m->filled && m->gen == gen) {
        taint_words(k, (const uint64_t(*)[2])m->pl, m->n, seq, corr);
        return;
    }
    uint64_t local[RV_VALUES_MAX_PTRS][2];
    int n = pointer_words(k, local);
    taint_words(k, (const uint64_t(*)[2])local, n, seq, corr);
    if (!m) return;
    uint64_t(*pl)[2] = n ? realloc(m->pl, (size_t)n * sizeof *pl) : m->pl;
    if (n && !pl) return; /* out of memory: no memo, looked up again next time */
    if (n) memcpy(pl, local, (size_t)n * sizeof *pl);
    m->pl = pl, m->n = n, m->gen = gen, m->filled = 1;
}

void rv_values_memo_reset(rv_values_memo *m) {
    free(m->pl);
    memset(m, 0, sizeof *m);
}

static void warn_unknown_params(const rv_func *f) {
    static _Atomic int warned;
    if (!__atomic_exchange_n(&warned, 1, __ATOMIC_RELAXED))
        rv_warn("kernel %s: parameter layout unknown; the bytes it writes are not tracked (values it produces "
                "are read back unreported)", f && f->name ? f->name : "?");
}

// not an entry point: every executed kernel passes here (rv_launch_now, cuGraphLaunch)
void rv_values_count_computed(void) { __atomic_add_fetch(&g_stat_computed, 1, __ATOMIC_RELAXED); }

/* ---- host runners: code outside the driver that computes launches it tagged when they were captured
 * (Triton's, through revati.integrations.triton_host, which runs them in Triton's interpreter) ---- */

static int (*g_runner)(uint64_t tag);
static __thread uint64_t t_next_tag;

/* The runner the driver calls at each graph replay of a tagged launch, before the launch's outputs are
 * tainted: 1 when it computed them (and supplied their bytes), else 0 (the launch is tracked as any). */
RV_API void revati_values_set_replay_runner(int (*runner)(uint64_t tag)) { g_runner = runner; }
/* Tag this thread's next kernel launch (one being captured into a graph) for the runner. */
RV_API void revati_values_tag_next_launch(uint64_t tag) { t_next_tag = tag; }

uint64_t rv_values_take_tag(void) {
    uint64_t t = t_next_tag;
    t_next_tag = 0;
    return t;
}

static void track(const rv_kernel_op *k, uint64_t corr, rv_values_memo *m) {
    uint64_t seq = __atomic_add_fetch(&g_kseq, 1, __ATOMIC_RELAXED);
    if (k->host_tag && g_runner && g_runner(k->host_tag) == 1) { /* the runner computed it */
        rv_values_count_computed();
        return;
    }
    if (!k->params) {
        warn_unknown_params(k->f);
        return;
    }
    if (rv_values_compute(k, seq, corr)) return;
    taint_pointers(k, seq, corr, m);
}

void rv_values_kernel(int dev, const rv_kernel_op *k, uint64_t corr) { rv_values_kernel_memo(dev, k, corr, NULL); }

void rv_values_kernel_memo(int dev, const rv_kernel_op *k, uint64_t corr, rv_values_memo *m) {
    if (!rv_values_on()) return;
    if (!g_stats) {
        track(k, corr, m);
        return;
    }
    uint64_t t0 = rv_real_ns();
    track(k, corr, m);
    __atomic_add_fetch(&g_stat_ns, rv_real_ns() - t0, __ATOMIC_RELAXED);
    __atomic_add_fetch(&g_stat_calls, 1, __ATOMIC_RELAXED);
}

static void emit_read(const rv_taint *t, uint64_t addr, uint64_t n, int dev, const char *site, const char *policy,
                      int certain) {
    if (!rv_tracing()) return;
    rv_trace_emit("value-read",
                  "\"ts_ns\":%llu,\"dev\":%d,\"addr\":%llu,\"bytes\":%llu,\"producer\":\"%s\",\"producer_seq\":%llu,"
                  "\"producer_corr\":%llu,\"site\":\"%s\",\"policy\":\"%s\",\"certain\":%d",
                  (unsigned long long)rv_vnow(), dev, (unsigned long long)addr, (unsigned long long)n,
                  t->producer && t->producer->json_name ? t->producer->json_name : "?", (unsigned long long)t->seq,
                  (unsigned long long)t->corr, site, policy, certain ? 1 : 0);
}

/* The token policy over every tainted range of a read (token ids carried through cat or an index
 * may lie in several, between known elements): its name when every range took it, else "stale". */
static const char *apply_tokens(rv_taint t, uint64_t src, uint64_t dst, uint64_t n) {
    const char *policy = NULL, *p;
    for (;;) {
        if (!rv_tokens_apply(&t, src, (void *)dst, n, &p)) policy = "stale";
        else if (!policy) policy = p;
        if (t.end >= src + n || !rv_taint_find(t.end, src + n, 1, &t)) break;
    }
    return policy;
}

void rv_values_copy(const char *kind, uint64_t dst, uint64_t src, uint64_t n, int dev, const char *site) {
    if (!rv_values_on() || !n) return;
    if (kind[0] == 'H') { /* HtoD, HtoH: the destination now holds the host's values */
        rv_taint_clear(dst, dst + n);
    } else if (!strcmp(kind, "DtoH")) {
        rv_taint t;
        int certain = rv_taint_find(src, src + n, 1, &t);
        if (!certain && !rv_taint_find(src, src + n, 0, &t)) return;
        const char *policy = "stale";
        if (certain) policy = apply_tokens(t, src, dst, n);
        emit_read(&t, src, n, dev, site, policy, certain);
    } else { /* DtoD, PtoP */
        rv_taint_copy(dst, src, n);
    }
}

void rv_values_clear(uint64_t dst, uint64_t n) {
    if (rv_values_on() && n) rv_taint_clear(dst, dst + n);
}

/* For tests and tools: the number of tainted ranges now. */
RV_API int rv_values_tainted_ranges(void) { return rv_taint_count(); }

/* ---- the values API for code that writes device bytes itself (engine plugins; revati.values) ---- */

/* The caller wrote known values into [ptr, ptr+len) (a plugin supplying what a kernel that did not run
 * would have produced): their taint is cleared, so host reads of them are no longer value reads, and a
 * `value-supply` event names who supplied them. Returns 1 when some of the bytes were tainted, 0 when
 * none were, -1 when the range is not inside one device allocation (nothing done). */
static int supply(uint64_t ptr, uint64_t len, const char *by) {
    rv_alloc a;
    if (!len || !rv_alloc_find(ptr, &a) || ptr + len > a.base + a.size) return -1;
    if (!rv_values_on()) return 0;
    rv_taint t;
    int was = rv_taint_find(ptr, ptr + len, 1, &t); /* as a read would count it (certain) */
    rv_taint_clear(ptr, ptr + len);
    if (rv_tracing()) {
        char who[128];
        rv_json_escape(who, sizeof who, by && *by ? by : "?");
        rv_trace_emit("value-supply",
                      "\"ts_ns\":%llu,\"dev\":%d,\"addr\":%llu,\"bytes\":%llu,\"by\":\"%s\",\"replaced\":\"%s\"",
                      (unsigned long long)rv_vnow(), a.dev, (unsigned long long)ptr, (unsigned long long)len, who,
                      was && t.producer && t.producer->json_name ? t.producer->json_name : "");
    }
    return was;
}
RV_API int revati_values_supply(uint64_t ptr, uint64_t len, const char *by) {
    rv_enter(); /* revati's own time, not the program's */
    int r = supply(ptr, len, by);
    rv_leave();
    return r;
}

/* Whether any byte of [ptr, ptr+len) was last written by a kernel that did not run (1), none (0), or
 * the range is not device memory (-1). */
RV_API int revati_values_tainted(uint64_t ptr, uint64_t len) {
    rv_alloc a;
    rv_enter();
    int r = !len || !rv_alloc_find(ptr, &a) || ptr + len > a.base + a.size ? -1
          : rv_values_on() && rv_taint_find(ptr, ptr + len, 1, NULL);
    rv_leave();
    return r;
}
