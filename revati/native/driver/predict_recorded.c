/* revati driver: the recorded predictor: an earlier run's durations by process, stream and launch order. */
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"

/* $REVATI_RECORDED/proc-<n>.tsv (written by revati replay from the recorded run): one line per kernel
 * of process n in launch order, "stream<TAB>dur_ns". Each stream replays its own sequence. */
typedef struct rstream {
    unsigned long long id;
    int64_t *dur;
    size_t n, cap, next;
} rstream;

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static rstream *g_streams;
static size_t g_nstreams;

static rstream *find(unsigned long long id, int add) {
    for (size_t i = 0; i < g_nstreams; ++i)
        if (g_streams[i].id == id) return &g_streams[i];
    if (!add) return NULL;
    g_streams = realloc(g_streams, (g_nstreams + 1) * sizeof *g_streams);
    rstream *s = &g_streams[g_nstreams++];
    *s = (rstream){id, NULL, 0, 0, 0};
    return s;
}

static void load(void) {
    const char *dir = getenv("REVATI_RECORDED");
    if (!dir || !*dir) rv_fatal("predictor recorded needs REVATI_RECORDED (set by revati replay)");
    int proc = rv_trace_proc_id();
    if (proc < 0) rv_fatal("predictor recorded needs a trace (REVATI_RUN_DIR) to know which process this is");
    char path[4200];
    snprintf(path, sizeof path, "%s/proc-%d.tsv", dir, proc);
    FILE *f = fopen(path, "r");
    if (!f) {
        rv_warn("recorded run has no process %d (%s): its kernels fall back to analytical", proc, path);
        return;
    }
    unsigned long long stream;
    long long dur;
    long lineno = 0;
    int got;
    while ((got = fscanf(f, "%llu\t%lld\n", &stream, &dur)) == 2) {
        ++lineno;
        rstream *s = find(stream, 1);
        if (s->n == s->cap) s->cap = s->cap ? 2 * s->cap : 256, s->dur = realloc(s->dur, s->cap * sizeof *s->dur);
        s->dur[s->n++] = dur;
    }
    if (got != EOF) rv_fatal("%s:%ld: expected stream<TAB>dur_ns", path, lineno + 1);
    fclose(f);
}

int64_t rv_recorded_next(unsigned long long stream) {
    pthread_once(&g_once, load);
    pthread_mutex_lock(&g_mu);
    rstream *s = find(stream, 0);
    int64_t d = s && s->next < s->n ? s->dur[s->next++] : -1;
    pthread_mutex_unlock(&g_mu);
    return d;
}
