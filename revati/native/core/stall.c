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

/* Each thread that reads its run delay publishes its reading in a slot of this process's table, so
 * that a waiter whose deadline comes can take the stall another thread of its process has accrued in
 * its current gap of host code (rv_stall_take_others) instead of counting it as host time: the
 * thread's own reading comes only at its next bracket, too late for a wait that thread would end. */
#define STALL_SLOTS 1024
#define NO_BASE UINT64_MAX
typedef struct stall_slot {
    _Atomic int32_t tid;        /* 0: free */
    _Atomic int fd;             /* the thread's schedstat file (-1: none) */
    _Atomic uint64_t base;      /* run delay at the last reading, by the thread or a waiter (NO_BASE: none) */
    _Atomic uint64_t gap_start; /* real ns when the thread left its last bracket; 0 inside one */
    _Atomic int waiting;        /* inside the wait engine: its slices' delays are its own bookkeeping */
} stall_slot;
static stall_slot g_slots[STALL_SLOTS];
static _Atomic int g_slots_used; /* slots below this index may be taken */

static __thread int t_fd = -1;     /* this thread's schedstat file (opened at its first reading) */
static __thread int t_fd_tid;      /* the thread it was opened for (a fork child's thread differs) */
static __thread stall_slot *t_slot; /* this thread's slot (NULL: none; the table was full) */
static __thread int t_waiting;     /* inside the wait engine (rv_stall_wait_begin .. end) */
static __thread uint64_t t_pending; /* the last stall measured while waiting: the wake that ends it */

static pthread_key_t g_close_key;
static pthread_once_t g_key_once = PTHREAD_ONCE_INIT;
static _Atomic int g_broken; /* schedstat cannot be read here: warned once, stalls are not measured */

static void free_slot(stall_slot *sl) {
    if (!sl) return;
    atomic_store(&sl->fd, -1);
    atomic_store(&sl->tid, 0);
}

/* Thread exit: the slot is freed before its descriptor is closed (a waiter reads it by number). */
static void close_fd(void *p) {
    int fd = (int)(intptr_t)p - 1;
    free_slot(t_slot);
    t_slot = NULL;
    if (fd >= 0) syscall(SYS_close, fd);
}

static stall_slot *claim_slot(int tid, int fd, uint64_t base) {
    for (int i = 0; i < STALL_SLOTS; ++i) {
        int32_t zero = 0;
        if (atomic_load_explicit(&g_slots[i].tid, memory_order_relaxed) != 0) continue;
        if (!atomic_compare_exchange_strong(&g_slots[i].tid, &zero, -1)) continue;
        stall_slot *sl = &g_slots[i];
        atomic_store(&sl->base, base);
        atomic_store(&sl->gap_start, 0);
        atomic_store(&sl->waiting, t_waiting > 0);
        atomic_store(&sl->fd, fd);
        atomic_store(&sl->tid, tid);
        int used = atomic_load(&g_slots_used);
        while (i + 1 > used && !atomic_compare_exchange_weak(&g_slots_used, &used, i + 1)) {
        }
        return sl;
    }
    return NULL;
}

/* A fork child has one thread: the parent's slots (and their descriptors, the parent's threads'
 * files) are not its own. */
static void at_fork_child(void) {
    int used = atomic_load(&g_slots_used);
    for (int i = 0; i < used; ++i) {
        int fd = atomic_load(&g_slots[i].fd);
        if (atomic_load(&g_slots[i].tid) != 0 && fd >= 0) syscall(SYS_close, fd);
        atomic_store(&g_slots[i].fd, -1);
        atomic_store(&g_slots[i].tid, 0);
    }
    atomic_store(&g_slots_used, 0);
    t_fd = -1; /* closed above: not to be closed again at this thread's exit */
    t_slot = NULL;
    if (g_close_key != (pthread_key_t)-1) pthread_setspecific(g_close_key, NULL);
}

static void make_key(void) {
    if (pthread_key_create(&g_close_key, close_fd) != 0) g_close_key = (pthread_key_t)-1;
    pthread_atfork(NULL, NULL, at_fork_child);
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
            if (t_fd_tid != tid) t_slot = NULL;                        /* ... so was the slot pointer */
            t_fd = open_schedstat();
            t_fd_tid = tid;
            if (t_fd < 0) break;
            pthread_once(&g_key_once, make_key);
            if (g_close_key != (pthread_key_t)-1) pthread_setspecific(g_close_key, (void *)(intptr_t)(t_fd + 1));
            if (t_slot) {
                atomic_store(&t_slot->base, NO_BASE);
                atomic_store(&t_slot->fd, t_fd);
            } else {
                t_slot = claim_slot(tid, t_fd, NO_BASE);
            }
        }
        char buf[96];
        long n = syscall(SYS_pread64, t_fd, buf, sizeof buf - 1, 0);
        if (n > 0) {
            buf[n] = 0;
            ok = parse_delay(buf, out);
        }
        if (!ok) { /* not ours any more: the descriptor was closed or reused */
            t_fd = -1;
            if (t_slot) atomic_store(&t_slot->fd, -1);
        }
    }
    if (!ok && !atomic_exchange(&g_broken, 1))
        rv_warn("cannot read this thread's run delay (/proc/thread-self/schedstat): time a thread waits for a "
                "core is counted as host time (as --host-clock wall does)");
    errno = saved;
    return ok;
}

/* A new reading: the delay since the previous one (by this thread or, in its gap, by a waiter that
 * took it), exchanged so that no delay is counted twice. */
static uint64_t take_since_base(uint64_t rd) {
    if (!t_slot) return 0; /* the table is full: this thread's stalls are not measured */
    uint64_t old = atomic_exchange(&t_slot->base, rd);
    return old != NO_BASE && rd > old ? rd - old : 0;
}

uint64_t rv_stall_gap(uint64_t gap_ns) {
    uint64_t rd;
    if (!read_delay(&rd)) return 0;
    uint64_t d = take_since_base(rd);
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
    if (read_delay(&rd) && t_slot) atomic_store(&t_slot->base, rd);
}

void rv_stall_mark_gap(uint64_t start_real) {
    if (t_slot) atomic_store_explicit(&t_slot->gap_start, start_real, memory_order_relaxed);
}

void rv_stall_wait_begin(void) {
    if (t_waiting++ == 0) {
        t_pending = 0;
        if (t_slot) atomic_store(&t_slot->waiting, 1);
    }
}

uint64_t rv_stall_wait_end(void) {
    if (t_waiting <= 0) return 0;
    if (--t_waiting > 0) return 0;
    if (t_slot) atomic_store(&t_slot->waiting, 0);
    uint64_t d = t_pending;
    t_pending = 0;
    return d;
}

uint64_t rv_stall_take_others(uint64_t now_real) {
    int me = rv_tid(), used = atomic_load(&g_slots_used);
    uint64_t most = 0;
    for (int i = 0; i < used; ++i) {
        stall_slot *sl = &g_slots[i];
        int32_t tid = atomic_load_explicit(&sl->tid, memory_order_acquire);
        if (tid <= 0 || tid == me || atomic_load(&sl->waiting)) continue;
        uint64_t gap = atomic_load(&sl->gap_start);
        int fd = atomic_load(&sl->fd);
        if (!gap || fd < 0 || gap >= now_real) continue; /* inside a bracket: its time is overhead already */
        char buf[96];
        long n = syscall(SYS_pread64, fd, buf, sizeof buf - 1, 0);
        uint64_t rd, old = atomic_load(&sl->base);
        if (n <= 0) continue;
        buf[n] = 0;
        /* the slot may have changed hands meanwhile (the thread exited, its descriptor was reused) */
        if (!parse_delay(buf, &rd) || atomic_load(&sl->tid) != tid || old == NO_BASE || rd <= old) continue;
        if (!atomic_compare_exchange_strong(&sl->base, &old, rd)) continue; /* the thread took it itself */
        uint64_t d = rd - old;
        if (d > now_real - gap) d = now_real - gap;
        if (d > most) most = d;
    }
    return most;
}
