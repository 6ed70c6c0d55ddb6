/* revati driver: the taint map, a sorted array of disjoint device ranges and the kernel that last wrote each.
 * The array holds pointers to the ranges (kept in a pool): a range inserted or removed in the middle
 * moves the pointers after it, 8 bytes each, not the 64-byte ranges (a CUDA-graph replay of vLLM's
 * decode step marks thousands of ranges in a map of thousands: the moves were 7% of its engine's
 * thread, memmove under rv_taint_mark). */
#include <stdlib.h>

#include "values.h"

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static rv_taint **g_r; /* sorted by start, disjoint */
static int g_n, g_cap;

/* The pool: ranges handed out and returned (a free list threaded through the producer field). */
static rv_taint *g_free;

static rv_taint *node_new(const rv_taint *v) {
    rv_taint *t = g_free;
    if (t) {
        g_free = (rv_taint *)(uintptr_t)t->producer;
    } else {
        /* a block at a time; blocks are never returned (the map lives as long as the process) */
        enum { BLOCK = 256 };
        rv_taint *b = malloc(BLOCK * sizeof *b);
        if (!b) return NULL;
        for (int i = 1; i < BLOCK - 1; ++i) b[i].producer = (const rv_func *)(uintptr_t)&b[i + 1];
        b[BLOCK - 1].producer = NULL;
        g_free = &b[1];
        t = &b[0];
    }
    *t = *v;
    return t;
}

static void node_free(rv_taint *t) {
    t->producer = (const rv_func *)(uintptr_t)g_free;
    g_free = t;
}

/* Index of the first range whose end is past p. */
static int first_after(uint64_t p) {
    int lo = 0, hi = g_n;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (g_r[mid]->end <= p) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

static int grow(int extra) {
    if (g_n + extra <= g_cap) return 1;
    int cap = g_cap ? g_cap * 2 : 256;
    while (cap < g_n + extra) cap *= 2;
    rv_taint **r = realloc(g_r, (size_t)cap * sizeof *r);
    if (!r) return 0;
    g_r = r, g_cap = cap;
    return 1;
}

/* Remove [start, end) from the map (splitting ranges that straddle it); returns the insertion index. */
static int cut(uint64_t start, uint64_t end) {
    int i = first_after(start);
    if (i < g_n && g_r[i]->start < start && g_r[i]->end > end) { /* one range holds the cut: split it */
        if (!grow(1)) return i;
        rv_taint *right = node_new(g_r[i]);
        if (!right) return i;
        memmove(&g_r[i + 2], &g_r[i + 1], (size_t)(g_n - i - 1) * sizeof *g_r);
        g_r[i + 1] = right;
        g_r[i]->end = start;
        right->start = end;
        g_n++;
        return i + 1;
    }
    if (i < g_n && g_r[i]->start < start) g_r[i++]->end = start;
    int j = i;
    while (j < g_n && g_r[j]->end <= end) node_free(g_r[j++]); /* wholly inside: dropped */
    if (j < g_n && g_r[j]->start < end) g_r[j]->start = end;
    if (j > i) {
        memmove(&g_r[i], &g_r[j], (size_t)(g_n - j) * sizeof *g_r);
        g_n -= j - i;
    }
    return i;
}

static void mark(const rv_taint *t, int guess) {
    if (t->end <= t->start) return;
    pthread_mutex_lock(&g_mu);
    int i = first_after(t->start);
    rv_taint v;
    if (guess) {
        /* a guessed extent stops where another tensor's marked range begins (its origin lies past the
         * guess's start): it must not replace that tensor's own taint, which a later supply of the
         * guess's own tensor would then cut away with it */
        uint64_t end = t->end;
        for (int j = i; j < g_n && g_r[j]->start < end; ++j)
            if (g_r[j]->origin > t->start && g_r[j]->origin < end) end = g_r[j]->origin;
        v = *t;
        v.end = end;
        t = &v;
    }
    if (i < g_n && g_r[i]->start == t->start && g_r[i]->end == t->end) { /* the same tensor again: the hot path */
        *g_r[i] = *t;
    } else {
        i = cut(t->start, t->end);
        rv_taint *node = grow(1) ? node_new(t) : NULL;
        if (node) {
            memmove(&g_r[i + 1], &g_r[i], (size_t)(g_n - i) * sizeof *g_r);
            g_r[i] = node;
            g_n++;
        }
    }
    pthread_mutex_unlock(&g_mu);
}

void rv_taint_mark(const rv_taint *t) { mark(t, 0); }

void rv_taint_mark_guess(const rv_taint *t) { mark(t, 1); }

void rv_taint_clear(uint64_t start, uint64_t end) {
    if (end <= start) return;
    pthread_mutex_lock(&g_mu);
    if (g_n) cut(start, end);
    pthread_mutex_unlock(&g_mu);
}

int rv_taint_find(uint64_t start, uint64_t end, int strong, rv_taint *out) {
    int hit = 0;
    pthread_mutex_lock(&g_mu);
    for (int i = g_n ? first_after(start) : 0; i < g_n && g_r[i]->start < end && !hit; ++i) {
        const rv_taint *t = g_r[i];
        if (strong && !t->exact && !(t->origin >= start && t->origin < end)) continue;
        if (out) *out = *t;
        hit = 1;
    }
    pthread_mutex_unlock(&g_mu);
    return hit;
}

void rv_taint_copy(uint64_t dst, uint64_t src, uint64_t n) {
    if (!n) return;
    /* snapshot the source's ranges first: source and destination may overlap */
    rv_taint local[16], *tmp = local;
    int m = 0, cap = 16;
    pthread_mutex_lock(&g_mu);
    for (int i = g_n ? first_after(src) : 0; i < g_n && g_r[i]->start < src + n; ++i) {
        if (m == cap) {
            rv_taint *t = malloc((size_t)cap * 2 * sizeof *t);
            if (!t) break;
            memcpy(t, tmp, (size_t)m * sizeof *t);
            if (tmp != local) free(tmp);
            tmp = t, cap *= 2;
        }
        tmp[m++] = *g_r[i];
    }
    pthread_mutex_unlock(&g_mu);
    rv_taint_clear(dst, dst + n);
    for (int i = 0; i < m; ++i) {
        rv_taint t = tmp[i];
        uint64_t s = t.start < src ? src : t.start, e = t.end > src + n ? src + n : t.end;
        t.start = dst + (s - src), t.end = dst + (e - src);
        t.origin = t.origin == s ? t.start : t.origin; /* a whole tensor moved: its copy is one too */
        rv_taint_mark(&t);
    }
    if (tmp != local) free(tmp);
}

int rv_taint_count(void) {
    pthread_mutex_lock(&g_mu);
    int n = g_n;
    pthread_mutex_unlock(&g_mu);
    return n;
}
