/* revati driver: the sampled-token policy for token ids the host reads from kernels that did not run.
 *
 * REVATI_TOKEN_POLICY (`revati record --token-policy`): "uniform" (default): ids drawn uniformly from [0, vocab) less the excluded ids,
 * from a seeded stream (REVATI_SEED, `revati record --seed`, default 0), so a run is repeatable; "fixed:ID": always ID;
 * "stale": leave the bytes as they were. REVATI_TOKEN_EXCLUDE (`--token-exclude`): comma-separated ids never drawn (EOS,
 * padding, other special tokens), so stop checks behave as under a fixed-length benchmark.
 * vocab comes from the producing family: an argmax/argmin over N entries yields ids in [0, N). */
#include <stdlib.h>

#include "values.h"

#define MAX_EXCLUDE 64

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static int g_mode; /* 0 stale, 1 uniform, 2 fixed */
static int64_t g_fixed;
static uint64_t g_state;
static int64_t g_excl[MAX_EXCLUDE];
static int g_nexcl;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;

static void init(void) {
    const char *p = getenv("REVATI_TOKEN_POLICY");
    g_mode = 1;
    if (p && *p) {
        if (!strcmp(p, "stale")) g_mode = 0;
        else if (!strcmp(p, "uniform")) g_mode = 1;
        else if (!strncmp(p, "fixed:", 6) && p[6]) {
            char *end;
            g_fixed = strtoll(p + 6, &end, 10);
            if (*end || g_fixed < 0) rv_fatal("REVATI_TOKEN_POLICY=%s: the id after fixed: must be a non-negative integer", p);
            g_mode = 2;
        } else {
            rv_fatal("REVATI_TOKEN_POLICY=%s: expected uniform, fixed:ID or stale", p);
        }
    }
    g_state = rv_env_u64("REVATI_SEED", 0) ^ 0x9e3779b97f4a7c15ULL;
    const char *x = getenv("REVATI_TOKEN_EXCLUDE");
    while (x && *x && g_nexcl < MAX_EXCLUDE) {
        char *end;
        long long v = strtoll(x, &end, 10);
        if (end == x || v < 0) rv_fatal("REVATI_TOKEN_EXCLUDE=%s: expected comma-separated non-negative ids", getenv("REVATI_TOKEN_EXCLUDE"));
        g_excl[g_nexcl++] = v;
        x = *end == ',' ? end + 1 : end;
        if (*end && *end != ',') rv_fatal("REVATI_TOKEN_EXCLUDE: unexpected '%c'", *end);
    }
}

/* splitmix64: a small, seeded, well-mixed stream (the caller holds g_mu) */
static uint64_t next_u64(void) {
    uint64_t z = (g_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int excluded(int64_t id) {
    for (int i = 0; i < g_nexcl; ++i)
        if (g_excl[i] == id) return 1;
    return 0;
}

static int64_t draw(uint32_t vocab) {
    if (g_mode == 2) return g_fixed;
    for (int tries = 0; tries < 64; ++tries) {
        int64_t id = (int64_t)(next_u64() % vocab);
        if (!excluded(id)) return id;
    }
    return 0;
}

int rv_tokens_apply(const rv_taint *t, uint64_t src, void *dst, uint64_t n, const char **policy) {
    pthread_once(&g_once, init);
    *policy = "stale";
    if (!g_mode || !t->vocab || (t->tok_size != 4 && t->tok_size != 8)) return 0;
    uint64_t lo = src > t->start ? src : t->start, hi = src + n < t->end ? src + n : t->end;
    uint64_t first = t->start + (lo - t->start + t->tok_size - 1) / t->tok_size * t->tok_size;
    pthread_mutex_lock(&g_mu);
    for (uint64_t a = first; a + t->tok_size <= hi; a += t->tok_size) {
        int64_t id = draw(t->vocab);
        int32_t id32 = (int32_t)id;
        const void *v = t->tok_size == 8 ? (const void *)&id : (const void *)&id32;
        memcpy((void *)a, v, t->tok_size);                        /* the device bytes */
        memcpy((uint8_t *)dst + (a - src), v, t->tok_size);        /* the host's copy */
    }
    pthread_mutex_unlock(&g_mu);
    rv_taint_clear(first, hi);
    *policy = g_mode == 2 ? "token-fixed" : "token-uniform";
    return 1;
}
