/* revati driver: kernel and copy durations: the chosen predictor, its fallbacks and its provenance. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "revati/predict.h"

#define COPY_LATENCY_NS 1500ULL
#define D2D_LATENCY_NS 1000ULL
#define TABLE_BUCKETS 65536
#define HOST_SLOTS 1024

typedef struct trow {
    struct trow *next;
    char *name;
    unsigned grid[3], block[3];
    rv_vdur_ns dur;
} trow;

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static const char *g_name = "analytical";
static char g_version[32] = "1";
static trow **g_table;    /* a hand-written REVATI_KERNEL_TABLE (predictor table) */
static rv_model *g_model; /* a trained model (predictors table, roofline, xgb) */
static rv_model *g_host;  /* host-cost rows (the model's own, or REVATI_HOST_COSTS) */
static rv_pdev g_dev;     /* the run's device, for cross-device scaling */
static int g_xdev;        /* the model's device differs from the run's */
static int g_recorded;

static uint64_t hash_key(const char *name, const unsigned g[3], const unsigned b[3]) {
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = name; *p; ++p) h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    for (int i = 0; i < 3; ++i) h = (h ^ g[i]) * 1099511628211ULL, h = (h ^ b[i]) * 1099511628211ULL;
    return h;
}

static int parse3(const char *s, unsigned out[3]) {
    return sscanf(s, "%u,%u,%u", &out[0], &out[1], &out[2]) == 3;
}

/* REVATI_KERNEL_TABLE: lines "name\tgx,gy,gz\tbx,by,bz\tdur_ns"; '#' lines are comments. A file that
 * cannot be read is fatal: a run must never silently fall back to another predictor. */
static void load_kernel_table(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) rv_fatal("REVATI_KERNEL_TABLE=%s cannot be read", path);
    g_table = calloc(TABLE_BUCKETS, sizeof *g_table);
    char *line = NULL;
    size_t cap = 0;
    long n = 0, lineno = 0;
    while (getline(&line, &cap, f) > 0) {
        ++lineno;
        if (line[0] == '#' || line[0] == '\n') continue;
        char *name = strtok(line, "\t"), *gs = strtok(NULL, "\t"), *bs = strtok(NULL, "\t"), *ds = strtok(NULL, "\t\n");
        trow *r = calloc(1, sizeof *r);
        if (!name || !gs || !bs || !ds || !parse3(gs, r->grid) || !parse3(bs, r->block))
            rv_fatal("%s:%ld: expected name<TAB>gx,gy,gz<TAB>bx,by,bz<TAB>dur_ns", path, lineno);
        r->name = strdup(name);
        r->dur = strtoull(ds, NULL, 10);
        uint64_t h = hash_key(r->name, r->grid, r->block) % TABLE_BUCKETS;
        r->next = g_table[h];
        g_table[h] = r;
        ++n;
    }
    free(line);
    fclose(f);
    rv_info("kernel table %s: %ld rows", path, n);
}

static void pdev_from_conf(rv_pdev *d, const rv_devconf *c) {
    d->sm_count = c->sm_count, d->max_threads_per_sm = c->max_threads_per_sm, d->smem_per_sm = c->smem_per_sm;
    d->peak_bf16_tflops = c->peak_bf16_tflops, d->peak_fp16_tflops = c->peak_fp16_tflops;
    d->peak_fp32_tflops = c->peak_fp32_tflops, d->peak_fp8_tflops = c->peak_fp8_tflops;
    d->mem_bw_gbs = c->mem_bw_gbs;
}

static rv_model *load_model(const char *dir, const char *mode) {
    char err[512];
    rv_model *m = rv_model_load(dir, mode, getenv("REVATI_XGBOOST_LIB"), err, sizeof err);
    if (!m) rv_fatal("predictor %s: %s", mode, err);
    return m;
}

/* REVATI_PREDICTOR names the predictor (the launcher checked it); anything it needs that cannot be
 * read is fatal: a run never silently falls back to another predictor. */
static void init(void) {
    const char *name = getenv("REVATI_PREDICTOR"), *ver = getenv("REVATI_PREDICTOR_VERSION");
    const char *table = getenv("REVATI_KERNEL_TABLE"), *model = getenv("REVATI_MODEL");
    const char *host = getenv("REVATI_HOST_COSTS");
    if (ver && *ver) snprintf(g_version, sizeof g_version, "%s", ver);
    pdev_from_conf(&g_dev, rv_conf());
    if (table && *table) {
        load_kernel_table(table);
        g_name = "table";
    } else if (name && (!strcmp(name, "table") || !strcmp(name, "roofline") || !strcmp(name, "xgb"))) {
        if (!model || !*model) rv_fatal("predictor %s needs REVATI_MODEL (a model directory from revati train)", name);
        g_model = load_model(model, name);
        g_name = !strcmp(name, "table") ? "table" : !strcmp(name, "roofline") ? "roofline" : "xgb";
        g_xdev = strcmp(rv_model_device(g_model), rv_conf()->profile) != 0;
        rv_info("predictor %s: model %s (%s, data from %s%s)", g_name, model, rv_model_hash(g_model),
                rv_model_device(g_model), g_xdev ? ", scaled to this device" : "");
    } else if (name && !strcmp(name, "recorded")) {
        g_name = "recorded";
        g_recorded = 1;
    } else if (name && *name && strcmp(name, "analytical")) {
        rv_fatal("REVATI_PREDICTOR=%s is not a predictor (analytical, table, roofline, xgb, recorded)", name);
    }
    if (host && *host) g_host = !strcmp(host, model ? model : "") && g_model ? g_model : load_model(host, "roofline");
}

const char *rv_predictor_name(void) {
    pthread_once(&g_once, init);
    return g_name;
}
const char *rv_predictor_version(void) {
    pthread_once(&g_once, init);
    return g_version;
}
const char *rv_predictor_model_hash(void) {
    pthread_once(&g_once, init);
    return g_model ? rv_model_hash(g_model) : "";
}

static rv_vdur_ns analytical(const unsigned grid[3], const unsigned block[3], unsigned smem, const rv_devconf *c) {
    uint64_t blocks = (uint64_t)grid[0] * grid[1] * grid[2];
    uint64_t threads = (uint64_t)block[0] * block[1] * block[2];
    if (!threads) threads = 1;
    /* resident blocks per SM: limited by threads, shared memory and the 32-block cap */
    uint64_t per_sm = (uint64_t)c->max_threads_per_sm / threads;
    if (smem && c->smem_per_sm) {
        uint64_t by_smem = (uint64_t)c->smem_per_sm / smem;
        if (by_smem < per_sm) per_sm = by_smem;
    }
    if (per_sm > 32) per_sm = 32;
    if (per_sm < 1) per_sm = 1;
    uint64_t slots = per_sm * (uint64_t)(c->sm_count > 0 ? c->sm_count : 1);
    uint64_t waves = (blocks + slots - 1) / slots;
    if (!waves) waves = 1;
    return c->kernel_base_ns + waves * c->kernel_wave_ns;
}

/* Facts of a launch that are functions of what rv_pf_key hashes (the launch's sig: name, shape,
 * shared memory, args, op) and of the run's fixed devices, kept by that key as the model keeps its
 * predictions; a collision just replaces the slot. The cross-device factor costs two rooflines (the
 * op's JSON parsed twice; it also depends on the model's prediction, itself a function of the key),
 * the compute-bound test one; graph replays ask for the same launches over and over. */
enum { KEPT_SLOTS = 4096 };
typedef struct {
    uint64_t key;
    double v;
    int used;
} kept_slot;
typedef struct {
    kept_slot slot[KEPT_SLOTS];
    pthread_mutex_t mu;
} kept_table;
static kept_table g_xf = {.mu = PTHREAD_MUTEX_INITIALIZER}, g_cb = {.mu = PTHREAD_MUTEX_INITIALIZER};

static int kept_get(kept_table *t, uint64_t key, double *v) {
    kept_slot *s = &t->slot[key % KEPT_SLOTS];
    pthread_mutex_lock(&t->mu);
    int hit = s->used && s->key == key;
    if (hit) *v = s->v;
    pthread_mutex_unlock(&t->mu);
    return hit;
}

static double kept_put(kept_table *t, uint64_t key, double v) {
    kept_slot *s = &t->slot[key % KEPT_SLOTS];
    pthread_mutex_lock(&t->mu);
    s->key = key, s->v = v, s->used = 1;
    pthread_mutex_unlock(&t->mu);
    return v;
}

static double cross_factor(const rv_pkernel *pk, uint64_t key, double src_ns) {
    double f;
    if (kept_get(&g_xf, key, &f)) return f;
    return kept_put(&g_xf, key, rv_pf_cross_factor(pk, rv_model_pdev(g_model), &g_dev, src_ns));
}

static int compute_bound(const rv_pkernel *pk, uint64_t key) {
    double heavy;
    if (kept_get(&g_cb, key, &heavy)) return heavy != 0;
    return kept_put(&g_cb, key, rv_pf_compute_bound(pk, &g_dev)) != 0;
}

/* The launch as the predictor core sees it: with the features the launch path computed (kfeatures.c). */
static rv_pkernel pkernel(const rv_kernel_op *k) {
    rv_pkernel p = {k->f && k->f->name ? k->f->name : "", {k->grid[0], k->grid[1], k->grid[2]},
                    {k->block[0], k->block[1], k->block[2]}, k->smem, NULL, NULL, NULL};
    if (k->feat) {
        p.args = k->feat->args && k->feat->args[0] ? k->feat->args : NULL;
        p.op = k->feat->op && k->feat->op[0] ? k->feat->op : NULL;
        /* an all-zero sig stands for "no features" (a launch without a function) */
        p.sig = strcmp(k->feat->sig, "0000000000000000") ? k->feat->sig : NULL;
    }
    return p;
}

rv_pred rv_predict_kernel(const rv_kernel_op *k, unsigned long long stream, int dev) {
    pthread_once(&g_once, init);
    const rv_devconf *c = rv_conf();
    rv_pred p = {0, g_name, "analytical", "model", 0, 0};
    const char *name = k->f && k->f->name ? k->f->name : "";
    if (g_model) {
        rv_pkernel pk = pkernel(k);
        rv_pmres r = rv_model_predict(g_model, &pk);
        if (r.dur_ns > 0) {
            double d = r.dur_ns;
            uint64_t key = g_xdev || c->power_stretch > 0 ? rv_pf_key(&pk) : 0;
            if (g_xdev) d *= cross_factor(&pk, key, d), p.xdev = 1;
            p.dur = (rv_vdur_ns)llround(d > 1 ? d : 1);
            p.heavy = c->power_stretch > 0 && compute_bound(&pk, key); /* power.c stretches it */
            p.src = r.src, p.how = rv_how_name(r.how);
            return p;
        }
        rv_count_missing(name);
        p.how = "fallback";
    } else if (g_recorded) {
        int64_t d = rv_recorded_next(stream);
        if (d >= 0) {
            p.dur = (rv_vdur_ns)d, p.src = "recorded", p.how = "exact";
            return p;
        }
        rv_count_missing(name);
        p.how = "fallback";
    } else if (g_table) {
        uint64_t h = hash_key(name, k->grid, k->block) % TABLE_BUCKETS;
        for (trow *r = g_table[h]; r; r = r->next) {
            if (!memcmp(r->grid, k->grid, sizeof r->grid) && !memcmp(r->block, k->block, sizeof r->block) &&
                !strcmp(r->name, name)) {
                p.dur = r->dur, p.src = "table", p.how = "exact";
                return p;
            }
        }
        rv_count_missing(name);
        p.how = "fallback";
    }
    p.dur = analytical(k->grid, k->block, k->smem, c);
    return p;
}

rv_vdur_ns rv_predict_copy(const char *kind, uint64_t bytes, int dev) {
    const rv_devconf *c = rv_conf();
    double bw = c->h2d_bw_gbs;
    uint64_t lat = COPY_LATENCY_NS;
    if (!strcmp(kind, "DtoD")) bw = c->d2d_bw_gbs, lat = D2D_LATENCY_NS;
    else if (!strcmp(kind, "PtoP")) bw = c->nvlink_bw_gbs;
    else if (!strcmp(kind, "HtoH")) bw = c->h2d_bw_gbs * 2;
    if (bw <= 0) bw = 1;
    return lat + (rv_vdur_ns)((double)bytes / bw); /* GB/s == bytes/ns */
}

rv_vdur_ns rv_predict_memset(uint64_t bytes, int dev) {
    const rv_devconf *c = rv_conf();
    double bw = c->mem_bw_gbs > 0 ? c->mem_bw_gbs : 1;
    return D2D_LATENCY_NS + (rv_vdur_ns)((double)bytes / bw);
}

/* Host costs are cached per call-name pointer (__func__ strings live as long as the library). */
static struct {
    const char *call;
    rv_vdur_ns ns;
} g_hc[HOST_SLOTS];
static pthread_mutex_t g_hc_mu = PTHREAD_MUTEX_INITIALIZER;

rv_vdur_ns rv_host_cost(const char *call, uint64_t bytes) {
    pthread_once(&g_once, init);
    if (!g_host) return rv_conf()->api_host_ns;
    if (bytes) {
        double ns = rv_model_host_ns(g_host, call, bytes);
        return ns > 0 ? (rv_vdur_ns)llround(ns) : rv_conf()->api_host_ns;
    }
    size_t i = ((uintptr_t)call >> 3) % HOST_SLOTS;
    pthread_mutex_lock(&g_hc_mu);
    for (size_t j = 0; j < HOST_SLOTS; ++j) {
        size_t s = (i + j) % HOST_SLOTS;
        if (g_hc[s].call == call) {
            rv_vdur_ns ns = g_hc[s].ns;
            pthread_mutex_unlock(&g_hc_mu);
            return ns;
        }
        if (!g_hc[s].call) {
            double ns = rv_model_host_ns(g_host, call, 0);
            g_hc[s].call = call;
            g_hc[s].ns = ns > 0 ? (rv_vdur_ns)llround(ns) : rv_conf()->api_host_ns;
            rv_vdur_ns v = g_hc[s].ns;
            pthread_mutex_unlock(&g_hc_mu);
            return v;
        }
    }
    pthread_mutex_unlock(&g_hc_mu);
    double ns = rv_model_host_ns(g_host, call, 0);
    return ns > 0 ? (rv_vdur_ns)llround(ns) : rv_conf()->api_host_ns;
}
