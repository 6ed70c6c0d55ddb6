/* revati virtual clock (first version: one clock per process; the host-time work extends it). */
#include "revati/vclock.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "revati/trace.h"

static _Atomic uint64_t g_epoch_real;   /* real ns at the virtual epoch */
static _Atomic uint64_t g_overhead;     /* real ns spent inside rv_enter/rv_leave */
static _Atomic uint64_t g_jumps;        /* virtual ns added by jumps and charges */
static double g_speed = -1.0;

static __thread int t_depth;
static __thread uint64_t t_entry_real;

uint64_t rv_real_ns(void) {
    struct timespec ts;
    /* the raw syscall: libc's clock_gettime may be interposed by revati itself */
    syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void init_once(void) {
    if (atomic_load(&g_epoch_real)) return;
    uint64_t now = rv_real_ns();
    uint64_t zero = 0;
    atomic_compare_exchange_strong(&g_epoch_real, &zero, now);
    if (g_speed < 0) {
        const char *s = getenv("REVATI_HOST_SPEED");
        double v = s && *s ? strtod(s, NULL) : 1.0;
        g_speed = v > 0 ? v : 1.0;
    }
}

uint64_t rv_overhead_ns(void) { return atomic_load(&g_overhead); }

rv_vtime_ns rv_vnow(void) {
    init_once();
    uint64_t real = t_depth > 0 ? t_entry_real : rv_real_ns();
    uint64_t epoch = atomic_load(&g_epoch_real);
    uint64_t over = atomic_load(&g_overhead);
    uint64_t ran = real > epoch + over ? real - epoch - over : 0;
    return (rv_vtime_ns)((double)ran * g_speed) + atomic_load(&g_jumps);
}

void rv_vcharge(rv_vdur_ns d) { atomic_fetch_add(&g_jumps, d); }

void rv_vadvance_to(rv_vtime_ns t, const char *why) {
    rv_vtime_ns now = rv_vnow();
    if (t <= now) return;
    atomic_fetch_add(&g_jumps, t - now);
    rv_trace_emit("sync", "\"why\":\"%s\",\"ts_ns\":%llu,\"end_ns\":%llu,\"wt_ns\":%llu", why,
                  (unsigned long long)now, (unsigned long long)t, (unsigned long long)rv_real_ns());
}

void rv_enter(void) {
    if (t_depth++ == 0) {
        init_once();
        t_entry_real = rv_real_ns();
    }
}

void rv_leave(void) {
    if (t_depth <= 0) return;
    if (--t_depth == 0) atomic_fetch_add(&g_overhead, rv_real_ns() - t_entry_real);
}
