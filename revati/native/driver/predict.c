/* revati driver: kernel and copy duration predictors (analytical, and table with analytical fallback). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define COPY_LATENCY_NS 1500ULL
#define D2D_LATENCY_NS 1000ULL
#define TABLE_BUCKETS 65536

typedef struct trow {
    struct trow *next;
    char *name;
    unsigned grid[3], block[3];
    rv_vdur_ns dur;
} trow;

static trow **g_table; /* NULL: analytical only */
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static const char *g_name = "analytical";

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
static void load_table(void) {
    const char *path = getenv("REVATI_KERNEL_TABLE");
    if (!path || !*path) return;
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
    g_name = "table";
    rv_info("kernel table %s: %ld rows", path, n);
}

const char *rv_predictor_name(void) {
    pthread_once(&g_once, load_table);
    return g_name;
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

rv_pred rv_predict_kernel(const rv_func *f, const unsigned grid[3], const unsigned block[3], unsigned smem, int dev) {
    pthread_once(&g_once, load_table);
    const rv_devconf *c = rv_conf();
    rv_pred p = {0, g_name, "analytical"};
    if (g_table) {
        const char *name = f && f->name ? f->name : "";
        uint64_t h = hash_key(name, grid, block) % TABLE_BUCKETS;
        for (trow *r = g_table[h]; r; r = r->next) {
            if (!memcmp(r->grid, grid, sizeof r->grid) && !memcmp(r->block, block, sizeof r->block) && !strcmp(r->name, name)) {
                p.dur = r->dur;
                p.src = "table";
                return p;
            }
        }
        rv_count_missing(name);
    }
    p.dur = analytical(grid, block, smem, c);
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
