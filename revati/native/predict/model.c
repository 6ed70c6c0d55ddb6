/* revati predictor core: a trained model directory (model.tsv + XGBoost files) and its evaluation chain. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "revati/predict.h"
#include "trees.h"
#include "xgb.h"

#define SIG_BUCKETS 65536
#define CACHE_SLOTS 65536 /* power of two; a full cache stops caching, it never evicts */
#define SEEN_SLOTS 65536  /* power of two: signatures seen once, overwritten on collision */
#define MAX_CURVE 64

typedef struct sigrow {
    struct sigrow *next;
    uint64_t sig;
    double dur;
} sigrow;

typedef struct shaperow { /* a profiled launch shape: exact by (name, grid, block, smem), else interpolated */
    struct shaperow *next_shape, *next_name;
    char *name;
    unsigned grid[3], block[3], smem;
    double dur, x; /* x: log2 roofline ns, else log2 total threads (the interpolation axis) */
    int exact;     /* 1: the profile had no signatures, so (name, grid, block, smem) identifies a launch */
} shaperow;

typedef struct hostrow {
    struct hostrow *next;
    char *call;
    double bytes, ns;
} hostrow;

typedef struct curve { /* log2(dur / roofline) over log2(roofline ns), piecewise linear */
    int n;
    double x[MAX_CURVE], y[MAX_CURVE];
} curve;

typedef struct cslot {
    uint64_t key;
    double dur;
    int how, used;
    const char *src;
} cslot;

struct rv_model {
    int mode; /* 0 table, 1 roofline, 2 xgb */
    char hash[17], device[64];
    rv_pdev pdev;
    sigrow **sigs;
    shaperow **shapes, **names;
    hostrow *hosts;
    curve curves[RV_FAM_N];
    curve tcurves[RV_FAM_N]; /* launches without FLOPs/bytes: log2(dur) over log2(total threads) */
    rv_xgb *xgb;
    void *boosters[RV_FAM_N];  /* libxgboost boosters (REVATI_XGB_ENGINE=libxgboost) */
    rv_trees *trees[RV_FAM_N]; /* the same boosters walked natively (the default) */
    int xgb_needs_roof[RV_FAM_N]; /* trained only on launches with known FLOPs/bytes */
    pthread_mutex_t lock;
    /* Two caches (rv_model_predict): by the launch's key (its sig) for launches that repeat, and by
     * what the chain reads (features, shape, an exact signature row) for launches whose parameter
     * values change at every call (FA3's Params), which the first would miss every time. A key
     * enters the first only when seen twice (`seen`), so unique signatures do not fill it. */
    cslot *cache, *fcache;
    uint64_t *seen;
    long cached, fcached;
    unsigned long long hits, fhits, misses;
};

static uint64_t hstr(const char *s) {
    uint64_t h = 1469598103934665603ULL;
    for (; *s; ++s) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static uint64_t hshape(const char *name, const unsigned g[3], const unsigned b[3], unsigned smem) {
    uint64_t h = hstr(name);
    for (int i = 0; i < 3; ++i) h = (h ^ g[i]) * 1099511628211ULL, h = (h ^ b[i]) * 1099511628211ULL;
    return (h ^ smem) * 1099511628211ULL;
}

static int fail(char *err, int errlen, const char *path, long line, const char *what) {
    snprintf(err, (size_t)errlen, "%s:%ld: %s", path, line, what);
    return -1;
}

/* A driver call's name without its ABI suffixes (_v2, _v3, _ptsz, _ptds): the profile and the
 * stand-in may name the same call by different versions. */
static void call_base(const char *call, char *out, size_t n) {
    snprintf(out, n, "%s", call);
    for (int again = 1; again;) {
        again = 0;
        size_t len = strlen(out);
        if (len > 5 && (!strcmp(out + len - 5, "_ptsz") || !strcmp(out + len - 5, "_ptds"))) out[len - 5] = 0, again = 1;
        char *u = strrchr(out, '_');
        if (u && u[1] == 'v' && u[2] >= '0' && u[2] <= '9' && strspn(u + 2, "0123456789") == strlen(u + 2)) *u = 0, again = 1;
    }
}

static int parse_line(rv_model *m, char *line, const char *dir, const char *path, long ln, char *err, int errlen) {
    char *f[24];
    int n = 0;
    for (char *save, *t = strtok_r(line, "\t\n", &save); t && n < 24; t = strtok_r(NULL, "\t\n", &save)) f[n++] = t;
    if (!n || f[0][0] == '#') return 0;
    if (!strcmp(f[0], "revati-model")) return n == 2 && !strcmp(f[1], "1") ? 0 : fail(err, errlen, path, ln, "not a revati model file of format 1");
    if (!strcmp(f[0], "schema")) {
        if (n != 2 || atoi(f[1]) != RV_PF_SCHEMA) return fail(err, errlen, path, ln, "feature schema differs from this build's (retrain with revati train)");
        return 0;
    }
    if (!strcmp(f[0], "hash") && n == 2) return snprintf(m->hash, sizeof m->hash, "%.16s", f[1]), 0;
    if (!strcmp(f[0], "device") && n == 2) return snprintf(m->device, sizeof m->device, "%s", f[1]), 0;
    if (!strcmp(f[0], "pdev") && n == 9) {
        rv_pdev *p = &m->pdev;
        p->sm_count = atoi(f[1]), p->max_threads_per_sm = atoi(f[2]), p->smem_per_sm = atoi(f[3]);
        p->peak_bf16_tflops = atof(f[4]), p->peak_fp16_tflops = atof(f[5]), p->peak_fp32_tflops = atof(f[6]);
        p->peak_fp8_tflops = atof(f[7]), p->mem_bw_gbs = atof(f[8]);
        return 0;
    }
    if (!strcmp(f[0], "sig") && n == 3) {
        sigrow *r = calloc(1, sizeof *r);
        r->sig = strtoull(f[1], NULL, 16), r->dur = atof(f[2]);
        uint64_t h = r->sig % SIG_BUCKETS;
        r->next = m->sigs[h], m->sigs[h] = r;
        return 0;
    }
    if (!strcmp(f[0], "shape") && n == 8) {
        shaperow *r = calloc(1, sizeof *r);
        if (sscanf(f[2], "%u,%u,%u", &r->grid[0], &r->grid[1], &r->grid[2]) != 3 ||
            sscanf(f[3], "%u,%u,%u", &r->block[0], &r->block[1], &r->block[2]) != 3)
            return free(r), fail(err, errlen, path, ln, "shape row: expected gx,gy,gz and bx,by,bz");
        r->name = strdup(f[1]), r->smem = (unsigned)atoi(f[4]), r->dur = atof(f[5]);
        r->x = !strcmp(f[6], "nan") ? NAN : atof(f[6]);
        r->exact = atoi(f[7]);
        uint64_t h = hshape(r->name, r->grid, r->block, r->smem) % SIG_BUCKETS, hn = hstr(r->name) % SIG_BUCKETS;
        r->next_shape = m->shapes[h], m->shapes[h] = r;
        r->next_name = m->names[hn], m->names[hn] = r;
        return 0;
    }
    if ((!strcmp(f[0], "curve") || !strcmp(f[0], "tcurve")) && n >= 3) {
        int fam = atoi(f[1]), pts = (n - 2) / 2;
        if (fam < 0 || fam >= RV_FAM_N || pts > MAX_CURVE || (n - 2) % 2) return fail(err, errlen, path, ln, "bad curve row");
        curve *c = f[0][0] == 't' ? &m->tcurves[fam] : &m->curves[fam];
        c->n = pts;
        for (int i = 0; i < pts; ++i) c->x[i] = atof(f[2 + 2 * i]), c->y[i] = atof(f[3 + 2 * i]);
        return 0;
    }
    if (!strcmp(f[0], "xgb") && n == 4) {
        int fam = atoi(f[1]);
        if (fam >= 0 && fam < RV_FAM_N) m->xgb_needs_roof[fam] = atoi(f[3]);
        if (fam < 0 || fam >= RV_FAM_N) return fail(err, errlen, path, ln, "bad xgb row");
        if (m->mode != 2) return 0;
        char file[4096];
        snprintf(file, sizeof file, "%s/%s", dir, f[2]);
        if (m->xgb) {
            m->boosters[fam] = rv_xgb_load(m->xgb, file, err, errlen);
            return m->boosters[fam] ? 0 : -1;
        }
        char *dot = strrchr(file, '.');
        if (dot && (size_t)(dot - file) + 7 < sizeof file) strcpy(dot, ".trees");
        m->trees[fam] = rv_trees_load(file, err, errlen);
        return m->trees[fam] ? 0 : -1;
    }
    if (!strcmp(f[0], "host") && n == 4) {
        hostrow *r = calloc(1, sizeof *r);
        char base[256];
        call_base(f[1], base, sizeof base);
        r->call = strdup(base), r->bytes = atof(f[2]), r->ns = atof(f[3]);
        r->next = m->hosts, m->hosts = r;
        return 0;
    }
    return fail(err, errlen, path, ln, "unknown or malformed row");
}

rv_model *rv_model_load(const char *dir, const char *mode, const char *xgb_lib, char *err, int errlen) {
    int md = !strcmp(mode, "table") ? 0 : !strcmp(mode, "roofline") ? 1 : !strcmp(mode, "xgb") ? 2 : -1;
    if (md < 0) {
        snprintf(err, (size_t)errlen, "unknown model predictor %s (table, roofline, xgb)", mode);
        return NULL;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/model.tsv", dir);
    FILE *fp = fopen(path, "r");
    if (!fp) {
        snprintf(err, (size_t)errlen, "model %s cannot be read", path);
        return NULL;
    }
    rv_model *m = calloc(1, sizeof *m);
    m->mode = md;
    m->sigs = calloc(SIG_BUCKETS, sizeof *m->sigs);
    m->shapes = calloc(SIG_BUCKETS, sizeof *m->shapes);
    m->names = calloc(SIG_BUCKETS, sizeof *m->names);
    m->cache = calloc(CACHE_SLOTS, sizeof *m->cache);
    m->fcache = calloc(CACHE_SLOTS, sizeof *m->fcache);
    m->seen = calloc(SEEN_SLOTS, sizeof *m->seen);
    pthread_mutex_init(&m->lock, NULL);
    const char *engine = getenv("REVATI_XGB_ENGINE");
    if (md == 2 && engine && !strcmp(engine, "libxgboost") && !(m->xgb = rv_xgb_open(xgb_lib, err, errlen))) goto bad;
    char *line = NULL;
    size_t cap = 0;
    long ln = 0;
    while (getline(&line, &cap, fp) > 0)
        if (parse_line(m, line, dir, path, ++ln, err, errlen)) {
            free(line);
            goto bad;
        }
    free(line);
    fclose(fp);
    if (!m->pdev.sm_count) {
        snprintf(err, (size_t)errlen, "%s: no pdev row (the profiled device)", path);
        rv_model_free(m);
        return NULL;
    }
    return m;
bad:
    fclose(fp);
    rv_model_free(m);
    return NULL;
}

void rv_model_free(rv_model *m) {
    if (!m) return;
    /* rows are few and live as long as the process; only the top-level tables are released */
    free(m->sigs), free(m->shapes), free(m->names), free(m->cache), free(m->fcache), free(m->seen);
    free(m);
}

const char *rv_model_hash(const rv_model *m) { return m->hash; }
const char *rv_model_device(const rv_model *m) { return m->device; }
const rv_pdev *rv_model_pdev(const rv_model *m) { return &m->pdev; }

const char *rv_how_name(int how) {
    static const char *const N[] = {"exact", "interpolated", "model", "fallback"};
    return how >= 0 && how <= RV_HOW_FALLBACK ? N[how] : "?";
}

static double curve_at(const curve *c, double x) {
    if (x <= c->x[0]) return c->y[0];
    for (int i = 1; i < c->n; ++i)
        if (x <= c->x[i]) return c->y[i - 1] + (c->y[i] - c->y[i - 1]) * (x - c->x[i - 1]) / (c->x[i] - c->x[i - 1]);
    return c->y[c->n - 1];
}

/* Roofline with the family's fitted efficiency: dur = roof * 2^curve(log2 roof). */
static double by_curve(const rv_model *m, const double f[RV_PF_N]) {
    const curve *c = &m->curves[(int)f[RV_PF_FAMILY]];
    if (isnan(f[RV_PF_LOG_ROOF_NS])) { /* no FLOPs/bytes: time over the launch's thread count */
        const curve *t = &m->tcurves[(int)f[RV_PF_FAMILY]];
        return t->n && !isnan(f[RV_PF_LOG_THREADS_TOTAL]) ? exp2(curve_at(t, f[RV_PF_LOG_THREADS_TOTAL])) : -1;
    }
    if (!c->n) return -1;
    double roof = exp2(f[RV_PF_LOG_ROOF_NS]) - 1;
    return roof * exp2(curve_at(c, f[RV_PF_LOG_ROOF_NS]));
}

/* Same-name rows: log-linear between the nearest below and above on the interpolation axis; above
 * the largest the time grows with the work, below the smallest it stays (launch-latency bound). */
static double by_neighbours(const rv_model *m, const rv_pkernel *k, double x) {
    const shaperow *lo = NULL, *hi = NULL;
    for (const shaperow *r = m->names[hstr(k->name) % SIG_BUCKETS]; r; r = r->next_name) {
        if (strcmp(r->name, k->name) || isnan(r->x)) continue;
        if (r->x <= x && (!lo || r->x > lo->x)) lo = r;
        if (r->x >= x && (!hi || r->x < hi->x)) hi = r;
    }
    if (lo && hi) {
        if (hi->x == lo->x) return lo->dur;
        double t = (x - lo->x) / (hi->x - lo->x);
        return exp2(log2(lo->dur) + t * (log2(hi->dur) - log2(lo->dur)));
    }
    if (lo) return lo->dur * exp2(x - lo->x);
    if (hi) return hi->dur;
    return -1;
}

/* The profile's own rows: the exact signature (or, for profiles without signatures, the exact
 * launch shape), else same-kernel neighbours. */
static const sigrow *sig_row(const rv_model *m, const rv_pkernel *k) {
    if (!k->sig) return NULL;
    uint64_t sig = rv_pf_key(k);
    for (const sigrow *s = m->sigs[sig % SIG_BUCKETS]; s; s = s->next)
        if (s->sig == sig) return s;
    return NULL;
}

static rv_pmres by_table(const rv_model *m, const rv_pkernel *k, const double f[RV_PF_N]) {
    const sigrow *exact = sig_row(m, k);
    if (exact) return (rv_pmres){exact->dur, RV_HOW_EXACT, "table"};
    const char *name = k->name ? k->name : "";
    for (shaperow *s = m->shapes[hshape(name, k->grid, k->block, k->smem) % SIG_BUCKETS]; s; s = s->next_shape)
        if (s->exact && !memcmp(s->grid, k->grid, sizeof s->grid) && !memcmp(s->block, k->block, sizeof s->block) &&
            s->smem == k->smem && !strcmp(s->name, name))
            return (rv_pmres){s->dur, RV_HOW_EXACT, "table"};
    double x = !isnan(f[RV_PF_LOG_ROOF_NS]) ? f[RV_PF_LOG_ROOF_NS] : f[RV_PF_LOG_THREADS_TOTAL];
    double d = by_neighbours(m, k, x);
    return (rv_pmres){d, RV_HOW_INTERPOLATED, "table"};
}

/* What an xgb model scales: the roofline time for the families whose FLOPs and bytes come from the
 * library call (gemm, attention, comm), so the model learns an efficiency that carries over to unseen
 * sizes; 1 ns elsewhere (the model learns log2 of the duration): an element count guessed from the
 * arguments is too unreliable a base (a wrong guess would scale the prediction with it). */
double rv_xgb_base_ns(const double f[RV_PF_N]) {
    int fam = (int)f[RV_PF_FAMILY];
    if ((fam != RV_FAM_GEMM && fam != RV_FAM_ATTENTION && fam != RV_FAM_COMM) || isnan(f[RV_PF_LOG_ROOF_NS])) return 1;
    double base = exp2(f[RV_PF_LOG_ROOF_NS]) - 1;
    return base < 1 ? 1 : base;
}

static rv_pmres by_xgb(rv_model *m, const double f[RV_PF_N]) {
    int fam = (int)f[RV_PF_FAMILY];
    if ((!m->trees[fam] && !m->boosters[fam]) || (m->xgb_needs_roof[fam] && isnan(f[RV_PF_LOG_ROOF_NS])))
        return (rv_pmres){-1, RV_HOW_MODEL, "xgb"};
    float row[RV_PF_N];
    for (int i = 0; i < RV_PF_N; ++i) row[i] = (float)f[i];
    double y;
    int rc = 0;
    if (m->trees[fam]) {
        y = rv_trees_predict(m->trees[fam], row, RV_PF_N);
    } else {
        pthread_mutex_lock(&m->lock);
        rc = rv_xgb_predict(m->xgb, m->boosters[fam], row, RV_PF_N, &y);
        pthread_mutex_unlock(&m->lock);
    }
    return (rv_pmres){rc ? -1 : rv_xgb_base_ns(f) * exp2(y), RV_HOW_MODEL, "xgb"};
}

/* The chains (docs/predictors.md): table: table -> curve; roofline: curve -> table; xgb: exact
 * signature -> xgb -> curve -> table. Whatever answers after the first link is marked fallback. */
static rv_pmres predict_features(rv_model *m, const rv_pkernel *k, const double f[RV_PF_N]) {
    rv_pmres r = {-1, RV_HOW_FALLBACK, "none"};
    if (m->mode == 0 && (r = by_table(m, k, f)).dur_ns > 0) return r;
    /* xgb: a launch the profile measured exactly keeps its measurement; the model times the rest */
    const sigrow *exact = m->mode == 2 ? sig_row(m, k) : NULL;
    if (exact) return (rv_pmres){exact->dur, RV_HOW_EXACT, "table"};
    if (m->mode == 2 && (r = by_xgb(m, f)).dur_ns > 0) return r;
    double d = by_curve(m, f);
    if (d > 0) return (rv_pmres){d, m->mode == 1 ? RV_HOW_MODEL : RV_HOW_FALLBACK, "roofline"};
    if (m->mode != 0 && (r = by_table(m, k, f)).dur_ns > 0) {
        if (r.how != RV_HOW_EXACT) r.how = RV_HOW_FALLBACK;
        return r;
    }
    return (rv_pmres){-1, RV_HOW_FALLBACK, "none"};
}

rv_pmres rv_model_predict_uncached(rv_model *m, const rv_pkernel *k) {
    double f[RV_PF_N];
    rv_pf_features(k, &m->pdev, f);
    return predict_features(m, k, f);
}

static size_t slot_of(uint64_t key) { return (size_t)(key * 0x9E3779B97F4A7C15ULL >> 48) & (CACHE_SLOTS - 1); }

/* Looks key up in tab (the caller holds the lock). */
static int cache_get(const cslot *tab, uint64_t key, rv_pmres *r) {
    size_t i = slot_of(key);
    for (size_t j = 0; j < 16; ++j) {
        const cslot *c = &tab[(i + j) & (CACHE_SLOTS - 1)];
        if (!c->used) return 0;
        if (c->key == key) {
            *r = (rv_pmres){c->dur, c->how, c->src};
            return 1;
        }
    }
    return 0;
}

static void cache_put(cslot *tab, long *count, uint64_t key, rv_pmres r) {
    size_t i = slot_of(key);
    for (size_t j = 0; j < 16; ++j) {
        cslot *c = &tab[(i + j) & (CACHE_SLOTS - 1)];
        if (c->used && c->key != key) continue;
        if (!c->used) c->used = 1, c->key = key, c->dur = r.dur_ns, c->how = r.how, c->src = r.src, ++*count;
        return;
    }
}

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    for (const unsigned char *b = p; n--; ++b) h = (h ^ *b) * 1099511628211ULL;
    return h;
}

/* Everything predict_features reads: the feature vector (xgb, curves, the neighbours' axis), the
 * launch shape and name (the table's exact shapes and neighbours) and the signature when the model
 * holds a measurement of it (the exact link); not the parameter values the features leave out. */
static uint64_t features_key(const rv_model *m, const rv_pkernel *k, const double f[RV_PF_N]) {
    uint64_t h = fnv(1469598103934665603ULL, f, RV_PF_N * sizeof *f);
    h = fnv(h, k->name ? k->name : "", k->name ? strlen(k->name) + 1 : 1);
    h = fnv(h, k->grid, sizeof k->grid), h = fnv(h, k->block, sizeof k->block), h = fnv(h, &k->smem, sizeof k->smem);
    const sigrow *exact = sig_row(m, k);
    uint64_t sig = exact ? exact->sig : 0;
    return fnv(h, &sig, sizeof sig);
}

rv_pmres rv_model_predict(rv_model *m, const rv_pkernel *k) {
    uint64_t key = rv_pf_key(k);
    rv_pmres r;
    pthread_mutex_lock(&m->lock);
    if (cache_get(m->cache, key, &r)) {
        ++m->hits;
        pthread_mutex_unlock(&m->lock);
        return r;
    }
    uint64_t *seen = &m->seen[key & (SEEN_SLOTS - 1)];
    int admit = *seen == key; /* the second time this key comes: it repeats, keep it */
    if (!admit) *seen = key;
    pthread_mutex_unlock(&m->lock);
    double f[RV_PF_N];
    rv_pf_features(k, &m->pdev, f);
    uint64_t fkey = features_key(m, k, f);
    pthread_mutex_lock(&m->lock);
    int hit = cache_get(m->fcache, fkey, &r);
    pthread_mutex_unlock(&m->lock);
    if (!hit) r = predict_features(m, k, f);
    pthread_mutex_lock(&m->lock);
    if (hit) ++m->fhits;
    else ++m->misses, cache_put(m->fcache, &m->fcached, fkey, r);
    if (admit) cache_put(m->cache, &m->cached, key, r);
    pthread_mutex_unlock(&m->lock);
    return r;
}

void rv_model_cache_stats(rv_model *m, unsigned long long out[3]) {
    pthread_mutex_lock(&m->lock);
    out[0] = m->hits, out[1] = m->fhits, out[2] = m->misses;
    pthread_mutex_unlock(&m->lock);
}

double rv_model_host_ns(const rv_model *m, const char *call, uint64_t bytes) {
    const hostrow *lo = NULL, *hi = NULL;
    char base[256];
    call_base(call, base, sizeof base);
    for (const hostrow *r = m->hosts; r; r = r->next) {
        if (strcmp(r->call, base)) continue;
        if (r->bytes <= (double)bytes && (!lo || r->bytes > lo->bytes)) lo = r;
        if (r->bytes >= (double)bytes && (!hi || r->bytes < hi->bytes)) hi = r;
    }
    if (lo && hi && hi->bytes > lo->bytes)
        return lo->ns + (hi->ns - lo->ns) * ((double)bytes - lo->bytes) / (hi->bytes - lo->bytes);
    if (lo) return lo->ns;
    if (hi) return hi->ns;
    return -1;
}
