/* revati host stalls: real time a thread spent runnable but not running (waiting for a core: preempted
 * by other processes on a loaded host, or woken late), from the kernel's per-thread run delay, the
 * second field of /proc/thread-self/schedstat. The CPU host clock (REVATI_HOST_CLOCK=cpu, the default)
 * excludes it from virtual time as it excludes revati's own overhead (vclock.c commits it), so the load
 * of other processes does not reach virtual time. docs/host-time.md, "The host clock", says why the
 * run delay and not the thread's CPU time. */
#include "revati/stall.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "revati/log.h"
#include "revati/runmode.h"

static __thread int t_fd = -1;     /* this thread's schedstat file (opened at its first reading) */
static __thread int t_fd_tid;      /* the thread it was opened for (a fork child's thread differs) */
static __thread uint64_t t_base;   /* run delay at the last reading */
static __thread int t_based;       /* t_base is this thread's */
static __thread int t_waiting;     /* inside the wait engine (rv_stall_wait_begin .. end) */
static __thread uint64_t t_pending; /* the last stall measured while waiting: the wake that ends it */

static pthread_key_t g_close_key;
static pthread_once_t g_key_once = PTHREAD_ONCE_INIT;
static _Atomic int g_broken; /* schedstat cannot be read here: warned once, stalls are not measured */

static void close_fd(void *p) {
    int fd = (int)(intptr_t)p - 1;
    if (fd >= 0) syscall(SYS_close, fd);
}

static void make_key(void) {
    if (pthread_key_create(&g_close_key, close_fd) != 0) g_close_key = (pthread_key_t)-1;
}

static int open_schedstat(void) {
    int fd = (int)syscall(SYS_openat, AT_FDCWD, "/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        char path[64];
        snprintf(path, sizeof path, "/proc/self/task/%d/schedstat", rv_tid());
        fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
    }
    return fd;
}

/* "cpu_ns run_delay_ns timeslices\n": the second number, or 0 if the text is not that. */
static int parse_delay(const char *s, uint64_t *out) {
    char *end;
    errno = 0;
    strtoull(s, &end, 10);
    if (errno || end == s || *end != ' ') return 0;
    const char *p = end + 1;
    uint64_t v = strtoull(p, &end, 10);
    if (errno || end == p || *end != ' ') return 0;
    *out = v;
    return 1;
}

/* This thread's run delay so far (ns); 0 when it cannot be read. The file stays open for the thread
 * (a read of an open file costs about 1 us here, an open 8 us); the program may have closed or reused
 * the descriptor, so a read that does not parse reopens once. */
static int read_delay(uint64_t *out) {
    if (atomic_load_explicit(&g_broken, memory_order_relaxed)) return 0;
    int saved = errno; /* the program's errno is not revati's to change */
    int tid = rv_tid();
    int ok = 0;
    for (int attempt = 0; attempt < 2 && !ok; ++attempt) {
        if (t_fd < 0 || t_fd_tid != tid) {
            if (t_fd >= 0 && t_fd_tid != tid) syscall(SYS_close, t_fd); /* inherited across fork */
            t_fd = open_schedstat();
            t_fd_tid = tid;
            t_based = 0;
            if (t_fd < 0) break;
            pthread_once(&g_key_once, make_key);
            if (g_close_key != (pthread_key_t)-1) pthread_setspecific(g_close_key, (void *)(intptr_t)(t_fd + 1));
        }
        char buf[96];
        long n = syscall(SYS_pread64, t_fd, buf, sizeof buf - 1, 0);
        if (n > 0) {
            buf[n] = 0;
            ok = parse_delay(buf, out);
        }
        if (!ok) t_fd = -1; /* not ours any more: the descriptor was closed or reused */
    }
    if (!ok && !atomic_exchange(&g_broken, 1))
        rv_warn("cannot read this thread's run delay (/proc/thread-self/schedstat): time a thread waits for a "
                "core is counted as host time (as --host-clock wall does)");
    errno = saved;
    return ok;
}

uint64_t rv_stall_gap(uint64_t gap_ns) {
    uint64_t rd;
    if (!read_delay(&rd)) return 0;
    uint64_t d = t_based && rd > t_base ? rd - t_base : 0;
    t_base = rd;
    t_based = 1;
    /* the run delay since the last reading includes small delays of short gaps and brackets before
     * this gap, which it stands for; never more than the gap itself */
    if (d > gap_ns) d = gap_ns;
    if (t_waiting) {
        t_pending = d; /* a waiter's slice: counts only if it is the one that ends the wait */
        return 0;
    }
    return d;
}

void rv_stall_rebase(void) {
    uint64_t rd;
    if (!read_delay(&rd)) return;
    t_base = rd;
    t_based = 1;
}

void rv_stall_wait_begin(void) {
    if (t_waiting++ == 0) t_pending = 0;
}

uint64_t rv_stall_wait_end(void) {
    if (t_waiting <= 0) return 0;
    if (--t_waiting > 0) return 0;
    uint64_t d = t_pending;
    t_pending = 0;
    return d;
}
