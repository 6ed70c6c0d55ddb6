/* world_clocks: print a run's shared clock state while it runs (or after): the reference clock, each
 * process's clock from its published terms, and the waiters (a hold's target, a timed wait's
 * deadline). For runs that stop advancing: which process is behind, which one holds, for what.
 *
 *   cc -O1 -std=gnu11 -I revati/native/include tools/world_clocks.c -o world_clocks
 *   ./world_clocks RUN_DIR/clock.shm [HOST_SPEED] [holds]
 *
 * HOST_SPEED: the run's host speed (manifest.json's host_speed; default 1). "holds": print only the
 * waiters that hold. It maps the file read-only and loads nothing of revati's, so it does not join
 * the world. Clocks are computed as a process of the run computes another's (rv_proc_clock):
 * reference + charges + adopted - (overhead + foreign) x host speed, where the reference is the
 * real time since the epoch less the world's idle time, times the host speed, plus the world's
 * jumps. A process inside a hold or a long bracket reads ahead of its own frozen clock (its hold's
 * target is its clock then). Used for the SGLang TP2 analysis (docs/sglang.md, "Not yet"). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "revati/hosttime.h"

static void thread_name(int pid, int tid, char *out, size_t n) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task/%d/comm", pid, tid);
    out[0] = 0;
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(out, n, "(gone)");
        return;
    }
    if (fgets(out, (int)n, f)) out[strcspn(out, "\n")] = 0;
    fclose(f);
}

static double secs(uint64_t ns) { return ns == RV_VTIME_INVALID ? -1.0 : (double)ns / 1e9; }

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s RUN_DIR/clock.shm [HOST_SPEED] [holds]\n", argv[0]);
        return 2;
    }
    double speed = argc > 2 ? atof(argv[2]) : 1.0;
    int holds_only = argc > 3 && strcmp(argv[3], "holds") == 0;
    if (!(speed > 0)) {
        fprintf(stderr, "world_clocks: host speed %s is not a positive number\n", argv[2]);
        return 2;
    }
    int fd = open(argv[1], O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || (size_t)st.st_size < sizeof(rv_world)) {
        fprintf(stderr, "world_clocks: %s is not a run's clock file\n", argv[1]);
        return 1;
    }
    rv_world *w = mmap(NULL, sizeof(rv_world), PROT_READ, MAP_SHARED, fd, 0);
    if (w == MAP_FAILED || w->magic != RV_WORLD_MAGIC || w->version != RV_WORLD_VERSION) {
        fprintf(stderr, "world_clocks: %s: not a clock file of this revati (version %u, this tool's %u)\n",
                argv[1], w == MAP_FAILED ? 0u : w->version, RV_WORLD_VERSION);
        return 1;
    }
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t real = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
    uint64_t ran = real > w->epoch_real + w->idle_real ? real - w->epoch_real - w->idle_real : 0;
    int64_t ref = (int64_t)((double)ran * speed) + (int64_t)w->jump;
    printf("reference %.6f s  floor %.6f s  jumps %llu (fast %llu, /proc %llu, own %u)  idle %.3f s\n",
           (double)ref / 1e9, secs(w->floor), (unsigned long long)w->jumps_made, (unsigned long long)w->fast_jumps,
           (unsigned long long)w->slow_jumps, (unsigned)w->own_advances, secs(w->idle_real));
    int hi = w->charges_hi < RV_MAX_PROCS ? w->charges_hi : RV_MAX_PROCS;
    for (int i = 0; i < hi && !holds_only; ++i) {
        rv_charges *c = &w->charges[i];
        if (!c->pid) continue;
        char name[40];
        thread_name(c->pid, c->pid, name, sizeof name);
        /* its idle lead over the world's jump term (the idle jumps' and its own advances') */
        uint64_t lead = c->lead_until > w->jump ? c->lead_until - w->jump : 0;
        int64_t clock = ref + (int64_t)(c->ns + c->adopted + lead) - (int64_t)((double)(c->overhead + c->foreign) * speed);
        printf("process %7d %-16s clock %12.6f  charges %.3f adopted %.3f lead %.3f overhead %.3f foreign %.3f  "
               "threads %d parked %d%s\n",
               (int)c->pid, name, (double)clock / 1e9, secs(c->ns), secs(c->adopted), secs(lead), secs(c->overhead),
               secs(c->foreign), (int)c->threads, (int)c->parked, c->exit_at ? "  exited" : "");
    }
    int wh = w->waiters_hi < RV_MAX_WAITERS ? w->waiters_hi : RV_MAX_WAITERS;
    for (int i = 0; i < wh; ++i) {
        rv_waiter *x = &w->waiters[i];
        if (!x->pid || (holds_only && !x->hold)) continue;
        char name[40];
        thread_name(x->pid, x->tid, name, sizeof name);
        if (x->hold)
            printf("hold    %7d/%-7d %-16s target %.6f (its own clock)\n", (int)x->pid, (int)x->tid, name,
                   secs(x->target));
        else
            printf("wait    %7d/%-7d %-16s deadline %.6f (its own clock; -1: none)  parked %u\n", (int)x->pid,
                   (int)x->tid, name, secs(x->deadline), x->parked);
    }
    return 0;
}
