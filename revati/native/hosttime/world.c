/* revati world: which processes share the clock, which threads wait, whether anything runs, and the
 * wait engine every interposed wait uses (time advances to the earliest deadline once the world is
 * idle). docs/host-time.md describes the rules. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "revati/hosttime.h"
#include "revati/log.h"
#include "revati/stall.h"
#include "revati/trace.h"
#include "revati/vclock.h"
#include "threads.h"
#include "world_scan.h"

#define SLICE_MIN_NS 50000ULL     /* first real slice of a wait while the world runs */
#define SLICE_MAX_NS 250000ULL    /* slices double up to this: a deadline crossed by another process's
                                     jump is noticed within it (sleeps: at once, by futex) */
#define SLICE_CONFIRM_NS 100000ULL /* real pause between the two idle observations */
#define SLICE_BEHIND_MAX_NS 20000000ULL /* slices of a waiter that another waiter's deadline precedes */
#define SLICE_BEHIND_SHARE 8            /* ... grow to at most this share of the real time left */

struct linux_dirent64 {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

/* Real time let pass after a jump before the waiter returns (revati's own time, excluded): code that
 * caches a clock reading against the TSC (libzmq's clock_t re-reads the clock only once the TSC has
 * moved ~0.2 ms) would otherwise keep the pre-jump reading and wait its timeout a second time. */
static long g_settle_ns = -1;

static void settle_after_jump(void) {
    if (g_settle_ns < 0) {
        const char *s = getenv("REVATI_JUMP_SETTLE_NS");
        long v = s && *s ? atol(s) : 300000;
        g_settle_ns = v < 0 ? 0 : v;
    }
    if (!g_settle_ns) return;
    struct timespec ts = {0, g_settle_ns % 1000000000L};
    ts.tv_sec = g_settle_ns / 1000000000L;
    syscall(SYS_nanosleep, &ts, NULL);
}

static __thread int t_slot_hint = -1;
static __thread uint64_t t_wait_ns;    /* real ns this thread spent in the engine's waits (begin to end) */
static __thread uint64_t t_wait_steps; /* its wait steps: one per real slice it woke from */

/* ---- inert timed waits ---------------------------------------------------------------------------
 *
 * A thread that waits on fds or sleeps with a timeout, times out, does nothing any other thread could
 * see (no write to a socket, pipe or eventfd, no connect, no condition signal: rv_world_event) and
 * waits again the same way (the same call, a timeout of the same length) is
 * polling: gloo's TCP loops wait 10 ms at a time for as long as the process lives. From its third such
 * wait on, its wait is inert: its timeout makes no other process wait for it (a hold, or another
 * process's own advance, would otherwise stop at every one of its deadlines: vLLM's engine has six
 * such loops, a deadline every 1.7 ms of virtual time, and a 380 ms prefill step's GPU sync crawled
 * through them), it does not advance its own process, and its timeout holds for nothing (what it saw
 * arrive or not by then makes it do nothing). It still ends at its deadline, or at once on its event;
 * a later timeout of the same poll may come late in virtual time (when its process's clock passes the
 * deadline by a jump), as a busy host's scheduler may wake a thread late. Condition, semaphore, mutex
 * and futex waits never are (rv_wait_begin, not rv_wait_begin_poll): their timeout may itself be the
 * action, with no event to show it (a thread waiting for the GIL asks its holder to drop it when its
 * 5 ms wait times out; classified inert, a vLLM front end's GIL waits came late and an iteration
 * started 60-200 ms late in virtual time). REVATI_INERT=0 turns this off; deterministic mode never
 * uses it. */
static __thread uint64_t t_events_caused; /* world events this thread caused (rv_world_event) */
static __thread struct {
    int timed_out;   /* this thread's last timed wait (not a hold) reached its deadline */
    uint64_t length; /* ... its length, its call, and the events this thread had caused then */
    const char *why;
    uint64_t events;
    unsigned streak; /* timed waits in a row that repeated the one before after a timeout, quietly */
} t_inert;
static __thread int t_in_hold; /* a hold's own wait (rv_hold_until) is no wait of the program's */
#define INERT_STREAK 2

static int inert_enabled(void) {
    static int on = -1;
    return !rv_deterministic() && rv_env_switch("REVATI_INERT", &on);
}

void rv_hold_scope(int on) { t_in_hold = on; }

/* REVATI_INERT_SLICES=0: an inert poll behind another waiter still looks at its deadline every eighth
 * of the real time left (for measuring what the long slices save) */
static int inert_long_slices(void) {
    static int on = -1;
    return rv_env_switch("REVATI_INERT_SLICES", &on);
}

static _Atomic uint64_t g_inert_waits; /* inert waits begun in this process (revati_inert_waits) */

// revati_inert_waits: how many inert timed waits this process has begun (for tests and tools)
RV_EXPORT unsigned long long revati_inert_waits(void) { return (unsigned long long)atomic_load(&g_inert_waits); }

/* Whether a wait of length `length` and call `why` beginning now is inert: a poll (an fd wait or a
 * sleep) that repeats this thread's last timed wait after its quiet timeout, the third in a row. */
static int inert_begin(uint64_t length, const char *why, int poll) {
    if (t_in_hold) return 0;
    uint64_t d = length > t_inert.length ? length - t_inert.length : t_inert.length - length;
    if (t_inert.timed_out && t_inert.why == why && t_inert.events == t_events_caused && d <= t_inert.length / 16)
        t_inert.streak++;
    else
        t_inert.streak = 0;
    t_inert.timed_out = 0;
    if (!poll || t_inert.streak < INERT_STREAK || !inert_enabled()) return 0;
    atomic_fetch_add_explicit(&g_inert_waits, 1, memory_order_relaxed);
    if (t_inert.streak == INERT_STREAK && rv_log_enabled(RV_LOG_INFO)) {
        char comm[32] = "?";
        rv_read_proc_line("/proc/thread-self/comm", comm, sizeof comm);
        rv_info("inert: thread %d (%s) polls (%s, %.3f ms a wait): its timeouts hold nobody from now on",
                (int)rv_tid(), comm, why, (double)length / 1e6);
    }
    return 1;
}

static void inert_end(rv_wait *wt) {
    if (t_in_hold || wt->noted) return;
    wt->noted = 1;
    if (!wt->timed_out) {
        t_inert.timed_out = 0;
        t_inert.streak = 0;
        return;
    }
    t_inert.timed_out = 1;
    t_inert.length = wt->length;
    t_inert.why = wt->why;
    t_inert.events = t_events_caused;
}
#define LONG_WAIT_NS 1000000000ULL /* REVATI_LOG=info explains timeouts of waits this long */

static void unpark_slot(rv_world *w, int slot, int32_t pid);

/* Waiter slots in use are below this (slots are taken lowest first). */
static inline int waiters_hi(rv_world *w) {
    int hi = atomic_load_explicit(&w->waiters_hi, memory_order_acquire);
    return hi < 0 ? 0 : hi > RV_MAX_WAITERS ? RV_MAX_WAITERS : hi;
}
static _Atomic int g_last_busy_pid; /* where the last scan found a running thread: checked first */
static _Atomic int g_last_busy_tid;

void rv_world_register_self(void) { rv_world_register_pid((int32_t)getpid()); }

/* The slot of world process pid in w->procs, or -1 when it is not in the world. */
static int proc_slot(rv_world *w, int32_t pid) {
    for (int i = 0, hi_ = rv_procs_hi(w); i < hi_; ++i)
        if (atomic_load(&w->procs[i]) == pid) return i;
    return -1;
}

void rv_world_register_pid(int32_t me) {
    if (me <= 0) return;
    rv_world *w = rv_world_get();
    if (proc_slot(w, me) >= 0) return;
    for (int i = 0; i < RV_MAX_PROCS; ++i) {
        int32_t zero = 0;
        if (atomic_compare_exchange_strong(&w->procs[i], &zero, me)) {
            rv_raise_hi(&w->procs_hi, i + 1);
            /* the parent (after fork) and the child (at fork) may both register it: keep one */
            for (int j = 0; j < i; ++j)
                if (atomic_load(&w->procs[j]) == me) {
                    int32_t v = me;
                    atomic_compare_exchange_strong(&w->procs[i], &v, 0);
                    break;
                }
            return;
        }
    }
}

static void own_jumped(void);

static void at_fork_child(void) {
    t_slot_hint = -1;
    rv_world_register_self();
}

__attribute__((constructor)) static void world_load(void) {
    rv_world_register_self();
    pthread_atfork(NULL, NULL, at_fork_child);
    rv_set_own_jump_hook(own_jumped);
}

/* The process stays in the world past this point: exit handlers, other libraries' destructors and
 * other threads may still run host code (an interpreter's teardown, after its trace's end line). It
 * leaves when the kernel shows it gone (proc_runs). */
__attribute__((destructor)) static void world_unload(void) {
    rv_publish_high();
    rv_publish_exit(); /* a parent waiting for this process wakes at this instant (procs.c) */
}

/* ---- the idle test ---------------------------------------------------------------------------- */

void rv_collect_waiters(rv_world *w, waiter_set *s) {
    s->n = 0;
    s->events = atomic_load_explicit(&w->events, memory_order_acquire);
    s->events_rule = 1;
    int hi = waiters_hi(w);
    for (int i = 0; i < hi; ++i) {
        int32_t pid = atomic_load_explicit(&w->waiters[i].pid, memory_order_relaxed);
        if (!pid) continue;
        s->pid[s->n] = pid;
        s->tid[s->n] = atomic_load_explicit(&w->waiters[i].tid, memory_order_relaxed);
        s->blocking[s->n] = (uint8_t)atomic_load_explicit(&w->waiters[i].blocking, memory_order_relaxed);
        s->deadline[s->n] = atomic_load_explicit(&w->waiters[i].deadline, memory_order_relaxed);
        s->target[s->n] = atomic_load_explicit(&w->waiters[i].hold, memory_order_relaxed)
                              ? atomic_load_explicit(&w->waiters[i].target, memory_order_relaxed)
                              : RV_VTIME_INVALID;
        s->events_seen[s->n] = atomic_load_explicit(&w->waiters[i].events_seen, memory_order_relaxed);
        s->inert[s->n] = (uint8_t)atomic_load_explicit(&w->waiters[i].inert, memory_order_relaxed);
        s->slot[s->n] = i;
        s->n++;
    }
}

/* 0: not a registered waiter; 1: a waiter in its real blocking call, or doing its checks after an
 * event of the world (a message, an eventfd write, a condition signal) came since its last real call
 * began; 2: a waiter doing its checks otherwise, or a hold (rv_hold_until). A 1 is decided by the
 * kernel's state of the thread; a 2 does not run the program.
 * - A hold: only revati's own futex or its slice's end wakes it, so a hold the kernel shows runnable
 *   was not woken by the program. Counted as running, the holds of two processes behind each other's
 *   targets kept each other waiting (each looked runnable at its slice's end, more often the busier
 *   the host): vLLM's serving run stopped advancing on a loaded host.
 * - A waiter in its checks after an event: the event may be its own (its real call returned with it,
 *   or would at once): it is about to run the program. Counted as bookkeeping, a libzmq I/O thread
 *   that its main thread had just handed a message (an eventfd write), caught in its checks (held off
 *   its core on a loaded host), let the world advance to a long poll's deadline: the message reached
 *   the other process only after it, seconds late in virtual time. */
static int is_waiter(const waiter_set *s, int32_t pid, int32_t tid) {
    for (int i = 0; i < s->n; ++i)
        if (s->tid[i] == tid && s->pid[i] == pid) {
            if (s->target[i] != RV_VTIME_INVALID) return 2;
            return s->blocking[i] || (s->events_rule && s->events_seen[i] != s->events) ? 1 : 2;
        }
    return 0;
}

void rv_world_event(void) {
    t_events_caused++;
    if (rv_clock_ready()) atomic_fetch_add_explicit(&rv_world_get()->events, 1, memory_order_release);
}

/* The scheduler state letter of a thread ('R' running or runnable, 'S' sleeping, 'D' disk wait,
 * 'T'/'t' stopped, 'Z' zombie), or 0 if it is gone. */
static char thread_state(int taskfd, const char *tid) {
    char path[48];
    snprintf(path, sizeof path, "%s/stat", tid);
    int fd = openat(taskfd, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    char buf[512];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return 0;
    buf[n] = 0;
    char *p = strrchr(buf, ')'); /* the command name may contain ')' */
    if (!p || p[1] != ' ') return 0;
    return p[2];
}

static int state_runs(char c) { return c == 'R' || c == 'D' || c == 'W'; }

static void forget_proc(rv_world *w, int i, int32_t pid) {
    int32_t v = pid;
    atomic_compare_exchange_strong(&w->procs[i], &v, 0);
    for (int k = 0; k < RV_MAX_WAITERS; ++k) {
        if (atomic_load(&w->waiters[k].pid) != pid) continue;
        atomic_store(&w->waiters[k].deadline, RV_VTIME_INVALID);
        int32_t p = pid;
        atomic_compare_exchange_strong(&w->waiters[k].pid, &p, 0);
    }
}

/* Whether any thread of process pid, other than the registered waiters, runs. */
int rv_proc_runs(rv_world *w, int idx, int32_t pid, const waiter_set *ws) {
    char path[48];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        if (errno == ENOENT) forget_proc(w, idx, pid); /* the process is gone: reclaim its slots */
        return 0;
    }
    /* the thread that ran last time is likely still running: look at it first */
    int hint_tid = atomic_load_explicit(&g_last_busy_tid, memory_order_relaxed);
    if (atomic_load_explicit(&g_last_busy_pid, memory_order_relaxed) == pid && hint_tid &&
        is_waiter(ws, pid, hint_tid) != 2) {
        char t[16];
        snprintf(t, sizeof t, "%d", hint_tid);
        if (state_runs(thread_state(dfd, t))) {
            close(dfd);
            return 1;
        }
    }
    char buf[4096];
    int runs = 0, leader_gone = 0, others = 0;
    for (;;) {
        long n = syscall(SYS_getdents64, dfd, buf, sizeof buf);
        if (n <= 0) break;
        for (long off = 0; off < n && !runs;) {
            struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + off);
            off += d->d_reclen;
            if (d->d_name[0] < '0' || d->d_name[0] > '9') continue;
            int32_t tid = (int32_t)atoi(d->d_name);
            if (tid == rv_tid() && pid == rv_pid()) continue;
            /* a waiter doing its checks is revati's bookkeeping, not the program running; a waiter in
             * its real call that the kernel shows runnable was just woken, maybe by a real event that
             * it has not handled yet: it runs */
            if (is_waiter(ws, pid, tid) == 2) continue;
            char c = thread_state(dfd, d->d_name);
            if (tid == pid && (c == 'Z' || c == 'X')) {
                /* a zombie leader: the process has exited, or only its main thread has (pthread_exit
                 * in main) while others still run: decided once all threads are seen */
                leader_gone = 1;
                continue;
            }
            if (c && c != 'Z' && c != 'X') others++;
            if (state_runs(c)) {
                atomic_store_explicit(&g_last_busy_pid, pid, memory_order_relaxed);
                atomic_store_explicit(&g_last_busy_tid, tid, memory_order_relaxed);
                runs = 1;
            }
        }
        if (runs) break;
    }
    close(dfd);
    if (!runs && leader_gone && !others) forget_proc(w, idx, pid);
    return runs;
}

rv_vtime_ns rv_clock_cache_get(rv_clock_cache *cc, int32_t pid, int ref_if_missing) {
    for (int i = 0; i < cc->n; ++i)
        if (cc->pid[i] == pid) return cc->clock[i];
    if (cc->n == 0) cc->ref = rv_world_ref_live();
    rv_vtime_ns c;
    if (pid == (int32_t)rv_pid())
        c = rv_vnow_peek();
    else if (!rv_proc_clock(pid, cc->ref, &c))
        c = ref_if_missing ? cc->ref : 0;
    if (cc->n < RV_MAX_PROCS) {
        cc->pid[cc->n] = pid;
        cc->clock[cc->n] = c;
        cc->n++;
    }
    return c;
}

/* Whether a waiter's deadline (on its owner's clock) has come. */
static int owner_due(rv_clock_cache *oc, int32_t pid, rv_vtime_ns own) {
    /* an owner with no published terms yet: its waits count as not due */
    return own != RV_VTIME_INVALID && own <= rv_clock_cache_get(oc, pid, 0);
}

/* A waiter whose deadline has passed is about to return: it runs (if its thread still exists; the
 * slot of a thread that is gone, e.g. cancelled inside a wait, is reclaimed). */
static int due_waiter_runs(rv_world *w, const waiter_set *ws) {
    int32_t me = (int32_t)rv_tid();
    rv_clock_cache oc;
    oc.n = 0;
    for (int i = 0; i < ws->n; ++i) {
        if (ws->pid[i] <= 0 || ws->tid[i] == me || !owner_due(&oc, ws->pid[i], ws->deadline[i])) continue;
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/task/%d", (int)ws->pid[i], (int)ws->tid[i]);
        if (access(path, F_OK) == 0) return 1;
        rv_waiter *s = &w->waiters[ws->slot[i]];
        int32_t pid = ws->pid[i];
        if (atomic_load(&s->tid) == ws->tid[i]) {
            atomic_store(&s->deadline, RV_VTIME_INVALID);
            atomic_compare_exchange_strong(&s->pid, &pid, 0);
        }
    }
    return 0;
}

#define BUSY_REUSE_NS 200000ULL

static int scan_idle_uncached(rv_world *w);

/* Only "busy" answers are shared (a fresh one is as good as a scan for deciding to wait a slice
 * more); "idle" is always looked at anew, since it leads to a jump. */
static _Atomic uint64_t g_scan_cost; /* real ns of this process's last scan */

static int scan_idle(rv_world *w) {
    uint64_t real = rv_real_ns();
    /* reuse a recent "busy" for 200 us, or 5x what a scan costs here (hundreds of threads) */
    uint64_t reuse = 5 * atomic_load_explicit(&g_scan_cost, memory_order_relaxed);
    if (reuse < BUSY_REUSE_NS) reuse = BUSY_REUSE_NS;
    if (real - atomic_load_explicit(&w->busy_seen_real, memory_order_relaxed) < reuse) return 0;
    int idle = scan_idle_uncached(w);
    uint64_t end = rv_real_ns();
    atomic_store_explicit(&g_scan_cost, end - real, memory_order_relaxed);
    if (!idle) atomic_store_explicit(&w->busy_seen_real, end, memory_order_relaxed);
    return idle;
}

static int scan_idle_uncached(rv_world *w) {
    static __thread waiter_set *ws;
    if (!ws) ws = malloc(sizeof *ws);
    if (!ws) return 0;
    rv_collect_waiters(w, ws);
    if (due_waiter_runs(w, ws)) return 0;
    /* the process where something ran last time first */
    int32_t busy = atomic_load_explicit(&g_last_busy_pid, memory_order_relaxed);
    int bi = busy ? proc_slot(w, busy) : -1;
    if (bi >= 0 && rv_proc_runs(w, bi, busy, ws)) return 0;
    for (int i = 0, hi_ = rv_procs_hi(w); i < hi_; ++i) {
        int32_t pid = atomic_load_explicit(&w->procs[i], memory_order_relaxed);
        if (!pid || pid == busy) continue;
        if (rv_proc_runs(w, i, pid, ws)) return 0;
    }
    return 1;
}

int32_t rv_last_busy_tid(void) { return atomic_load_explicit(&g_last_busy_tid, memory_order_relaxed); }

int rv_world_idle(void) {
    rv_enter();
    int idle = scan_idle(rv_world_get());
    rv_leave();
    return idle;
}

/* ---- others' overhead while this process waits ------------------------------------------------ */

/* Whether a thread of this process other than the caller is running (or runnable). A thread that
 * holds (rv_hold_until) is not: only revati's futex or its slice's end wakes it, and between slices
 * it runs revati's look at the others, not the program. Counted, a TP worker's gloo and NCCL
 * watchdog threads, which hold at every timeout, made the process "run" whenever one of them was
 * caught at a slice's end (the busier the host, the more often): its holds' real time stayed in its
 * clock. A positive answer (with the thread found) is shared by the process's threads for
 * OWN_RUN_REUSE_NS: the dozens of holding threads of such a process each asked at every slice, each
 * reading every thread's state, which is what kept them runnable. */
#define OWN_RUN_REUSE_NS 200000ULL
static _Atomic uint64_t g_own_run_real; /* real ns of the last positive answer */
static _Atomic int32_t g_own_run_tid;   /* ... and the thread found running then */

/* The threads of this process that hold now (at most n of them). */
static int own_holders(rv_world *w, int32_t *tids, int n) {
    int32_t me = (int32_t)rv_pid();
    int hi = waiters_hi(w), k = 0;
    for (int i = 0; i < hi && k < n; ++i) {
        rv_waiter *s = &w->waiters[i];
        if (atomic_load_explicit(&s->pid, memory_order_relaxed) != me) continue;
        if (!atomic_load_explicit(&s->hold, memory_order_relaxed)) continue;
        tids[k++] = atomic_load_explicit(&s->tid, memory_order_relaxed);
    }
    return k;
}

int rv_own_others_run(void) {
    int me = rv_tid();
    uint64_t now = rv_real_ns(), at = atomic_load_explicit(&g_own_run_real, memory_order_acquire);
    if (at && now - at < OWN_RUN_REUSE_NS && atomic_load_explicit(&g_own_run_tid, memory_order_relaxed) != me)
        return 1;
    /* the caller is the process's only thread besides revati's own (which never run the program):
     * one fstat of a kept descriptor instead of a scan of /proc/self/task (an open, its listing and a
     * close: tens of microseconds on a VM, at every wait's end in a world of several processes) */
    if (rv_program_threads() == 1) return 0;
    int dfd = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return 1;
    int32_t holders[64];
    int nh = own_holders(rv_world_get(), holders, 64);
    int runs = 0;
    char buf[4096];
    long n;
    while (!runs && (n = syscall(SYS_getdents64, dfd, buf, sizeof buf)) > 0)
        for (long off = 0; off < n && !runs;) {
            struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + off);
            off += d->d_reclen;
            if (d->d_name[0] < '0' || d->d_name[0] > '9') continue;
            int tid = atoi(d->d_name), held = 0;
            if (tid == me) continue;
            for (int k = 0; k < nh && !held; ++k) held = holders[k] == tid;
            if (held || !state_runs(thread_state(dfd, d->d_name))) continue;
            runs = 1;
            atomic_store_explicit(&g_own_run_tid, tid, memory_order_relaxed);
            atomic_store_explicit(&g_own_run_real, rv_real_ns(), memory_order_release);
        }
    close(dfd);
    return runs;
}

// revati_own_others_run: whether a thread of this process other than the caller runs, as the
// exclusion of blocked time sees it (holding threads do not) (for tests and tools)
RV_EXPORT int revati_own_others_run(void) {
    rv_enter();
    int r = rv_own_others_run();
    rv_leave();
    return r;
}

/* Each thread's snapshot of the world's published charges at the start of its idle wait. */
typedef struct charge_snap {
    int n; /* slots below rv_charges_hi at the snapshot: those above were claimed since */
    int32_t pid[RV_MAX_PROCS];
    uint64_t ns[RV_MAX_PROCS];
} charge_snap;
static __thread charge_snap *t_snap;
static __thread int t_snap_depth;

rv_idle_token rv_idle_begin(void) {
    rv_enter();
    rv_idle_token t = {rv_overhead_union_ns(), rv_overhead_ns(), 1};
    if (t_snap_depth++ == 0) {
        if (!t_snap) t_snap = malloc(sizeof *t_snap);
        if (t_snap) {
            rv_world *w = rv_world_get();
            t_snap->n = rv_charges_hi(w);
            for (int i = 0; i < t_snap->n; ++i) {
                t_snap->pid[i] = atomic_load_explicit(&w->charges[i].pid, memory_order_relaxed);
                t_snap->ns[i] = atomic_load_explicit(&w->charges[i].ns, memory_order_relaxed);
            }
        }
    } else {
        t.ok = 2; /* a nested wait (in a signal handler): the outer one accounts */
    }
    rv_leave();
    return t;
}

/* What this process has adopted of each other process's charges: the value of its slot's charges
 * up to which some thread's idle wait already adopted their growth. Threads wait in parallel (an API
 * server's event loop and its message threads), each from its own snapshot; without this, each one
 * whose wait ended adopted the same growth again, and the process ran ahead of the one it waited for
 * by a multiple of it. Under g_adopt_lock (a spinlock: taken only for a scan of the slots). */
static int32_t g_adopt_pid[RV_MAX_PROCS];
static uint64_t g_adopt_ns[RV_MAX_PROCS];
static atomic_flag g_adopt_lock = ATOMIC_FLAG_INIT;

/* The largest growth of one other process's charges since the later of this thread's snapshot and
 * what the process has adopted; claim: it is adopted now (the process's marks move to the present). */
static uint64_t charge_growth(int claim) {
    rv_world *w = rv_world_get();
    int32_t me = (int32_t)rv_pid();
    uint64_t best = 0;
    while (atomic_flag_test_and_set_explicit(&g_adopt_lock, memory_order_acquire)) sched_yield();
    for (int i = 0, hi_ = rv_charges_hi(w); i < hi_; ++i) {
        int32_t pid = atomic_load_explicit(&w->charges[i].pid, memory_order_relaxed);
        if (!pid || pid == me) continue;
        /* a slot claimed during the wait started from 0 then */
        uint64_t base = i < t_snap->n && pid == t_snap->pid[i] ? t_snap->ns[i] : 0;
        if (pid == g_adopt_pid[i] && g_adopt_ns[i] > base) base = g_adopt_ns[i];
        uint64_t ns = atomic_load_explicit(&w->charges[i].ns, memory_order_relaxed);
        if (ns > base && ns - base > best) best = ns - base;
        if (claim) g_adopt_pid[i] = pid, g_adopt_ns[i] = ns > base ? ns : base;
    }
    atomic_flag_clear_explicit(&g_adopt_lock, memory_order_release);
    return best;
}

void rv_idle_end(rv_idle_token t, rv_vtime_ns floor) {
    if (t.ok == 2) return;
    t_snap_depth--;
    rv_enter();
    /* the union also holds this process's own brackets, already excluded from its clock */
    uint64_t du = rv_overhead_union_ns() - t.union_ns, dself = rv_overhead_ns() - t.own_ns;
    uint64_t foreign = du > dself && !rv_deterministic() ? du - dself : 0;
    /* others' modelled charges: the largest growth of any one process (parallel processes charged
     * in parallel) not yet adopted by this process; this process's own slot is not counted */
    /* a wait that timed out (floor: its deadline) ends at its deadline: nothing came from the others,
     * so their charges meanwhile ran beside it (adopted, a 50 ms sleep would end later by them) */
    uint64_t best = t_snap && !floor ? charge_growth(0) : 0;
    /* only a process that was idle: no other thread of it runs now (checked only when there is
     * something to apply: a scan of /proc/self/task per wait would cost more than the wait) */
    if ((foreign || best) && !rv_own_others_run()) {
        if (foreign) rv_exclude_foreign(foreign, floor);
        if (best) rv_adopt_charges(charge_growth(1));
    }
    rv_leave();
}

/* A sleep or fd wait at its deadline: the other processes' overhead (revati's own time and their
 * waits for a core, the union U) that accrued since the wait began, or since the last such look, is
 * excluded now if no other thread of this process runs, as rv_idle_end does when a wait ends; the
 * token starts again from here. Without it a wait that times out counts the others' overhead as
 * time passing, since rv_idle_end never pulls it below its deadline: vLLM's API server, timing out
 * 10 s polls while its engine core started, ran 116 s ahead of it (docs/vllm.md, "TP2"). Whether
 * anything was excluded. */
static int settle_foreign(rv_idle_token *t) {
    if (t->ok != 1 || rv_deterministic()) return 0;
    uint64_t u = rv_overhead_union_ns(), own = rv_overhead_ns();
    uint64_t du = u - t->union_ns, dself = own - t->own_ns;
    if (du <= dself || rv_own_others_run()) return 0;
    uint64_t before = rv_foreign_overhead_ns();
    rv_exclude_foreign(du - dself, 0);
    t->union_ns = u;
    t->own_ns = own;
    return rv_foreign_overhead_ns() != before;
}

/* ---- the wait engine -------------------------------------------------------------------------- */

/* A slot of the waiter table for this thread (lowest free first, so that scans stop at waiters_hi);
 * -1 when the table is full. */
static int claim_slot(rv_world *w, int32_t me, int32_t tid, rv_vtime_ns deadline) {
    int start = t_slot_hint >= 0 ? t_slot_hint : 0;
    for (int k = 0; k < RV_MAX_WAITERS; ++k) {
        int i = (start + k) % RV_MAX_WAITERS;
        int32_t zero = 0;
        if (atomic_load_explicit(&w->waiters[i].pid, memory_order_relaxed) != 0) continue;
        /* tid and deadline first (a scanner may read the slot as soon as pid is set) */
        if (atomic_compare_exchange_strong(&w->waiters[i].pid, &zero, -1)) {
            atomic_store(&w->waiters[i].tid, tid);
            atomic_store(&w->waiters[i].blocking, 0);
            atomic_store(&w->waiters[i].hold, 0);
            atomic_store(&w->waiters[i].inert, 0);
            atomic_store(&w->waiters[i].parked, 0);
            atomic_store(&w->waiters[i].verify, 1);
            /* the wait's caller looked before it began (its real call with no timeout) */
            atomic_store(&w->waiters[i].events_seen, atomic_load(&w->events));
            atomic_store(&w->waiters[i].deadline, deadline);
            int32_t hi = atomic_load(&w->waiters_hi);
            while (hi < i + 1 && !atomic_compare_exchange_weak(&w->waiters_hi, &hi, i + 1)) {}
            atomic_store(&w->waiters[i].pid, me);
            t_slot_hint = i;
            return i;
        }
    }
    return -1;
}

static void wait_begin(rv_wait *wt, rv_vtime_ns deadline, const char *why, int poll);

void rv_wait_begin(rv_wait *wt, rv_vtime_ns deadline, const char *why) { wait_begin(wt, deadline, why, 0); }

void rv_wait_begin_poll(rv_wait *wt, rv_vtime_ns deadline, const char *why) { wait_begin(wt, deadline, why, 1); }

static void wait_begin(rv_wait *wt, rv_vtime_ns deadline, const char *why, int poll) {
    rv_world *w = rv_world_get();
    rv_stall_wait_enter(); /* the CPU host clock: a waiter's slices are not the program's stalls */
    wt->deadline = deadline;
    wt->slice_ns = SLICE_MIN_NS;
    wt->why = why;
    wt->idle_seen = 0;
    wt->gen_seen = atomic_load(&w->gen);
    wt->signals = rv_signals_handled();
    wt->real_start = rv_real_ns();
    wt->step_real = wt->real_start;
    wt->idle_since = wt->real_start;
    wt->progress = 0;
    wt->progress_real = 0;
    rv_vtime_ns now = rv_vnow_peek();
    wt->length = deadline > now ? deadline - now : 0;
    wt->idle_tracked = 0;
    wt->start.real = 0;
    if (wt->length >= LONG_WAIT_NS && rv_log_enabled(RV_LOG_INFO)) rv_clock_terms_now(&wt->start);
    wt->slot = -1;
    int32_t me = (int32_t)rv_pid(), tid = (int32_t)rv_tid();
    wt->sleeper = 0;
    wt->fast_look = 0;
    wt->looked = 0;
    wt->own_look_real = 0;
    wt->jumps0 = atomic_load(&w->jumps_made);
    wt->timed_out = 0;
    wt->noted = 0;
    wt->inert = inert_begin(wt->length, why, poll);
    wt->slot = claim_slot(w, me, tid, deadline);
    if (wt->slot >= 0) atomic_store(&w->waiters[wt->slot].inert, (uint32_t)wt->inert);
}

void rv_wait_end(rv_wait *wt) {
    rv_stall_wait_leave(wt->deadline); /* ... but the wake that ends the wait is */
    t_wait_ns += rv_real_ns() - wt->real_start;
    inert_end(wt);
    if (wt->slot < 0) return;
    rv_world *w = rv_world_get();
    unpark_slot(w, wt->slot, (int32_t)rv_pid());
    rv_waiter *s = &w->waiters[wt->slot];
    atomic_store(&s->blocking, 0);
    atomic_store(&s->hold, 0);
    atomic_store(&s->inert, 0);
    atomic_store(&s->deadline, RV_VTIME_INVALID);
    atomic_store(&s->tid, 0);
    atomic_store(&s->pid, 0);
    atomic_fetch_add(&w->activity, 1);
    wt->slot = -1;
}

/* Whether another registered waiter's deadline comes before mine (deadlines on their owners' clocks,
 * which are instants of one virtual time; of equal ones, the waiter of the lower slot comes first: one
 * of them keeps looking). */
static int behind_another(rv_world *w, int my_slot, rv_vtime_ns mine) {
    int hi = waiters_hi(w);
    for (int i = 0; i < hi; ++i) {
        if (i == my_slot || !atomic_load_explicit(&w->waiters[i].pid, memory_order_relaxed)) continue;
        rv_vtime_ns d = atomic_load_explicit(&w->waiters[i].deadline, memory_order_relaxed);
        if (d < mine || (d == mine && i < my_slot)) return 1;
    }
    return 0;
}

/* The earliest deadline of a waiter not yet due on its owner's clock (RV_VTIME_INVALID if none); waiters
 * already due count as running (the world is not idle while they exist). */
static rv_vtime_ns earliest_deadline(rv_world *w) {
    rv_vtime_ns best = RV_VTIME_INVALID;
    rv_clock_cache oc;
    oc.n = 0;
    int hi = waiters_hi(w);
    for (int i = 0; i < hi; ++i) {
        int32_t pid = atomic_load_explicit(&w->waiters[i].pid, memory_order_relaxed);
        if (pid <= 0) continue;
        rv_vtime_ns d = atomic_load_explicit(&w->waiters[i].deadline, memory_order_relaxed);
        if (d < best && !owner_due(&oc, pid, d)) best = d;
    }
    return best;
}

#define DET_ORDER_BACKSTOP_NS 10000000000ULL
#define DET_STUCK_NS 5000000000ULL /* deterministic mode: real time without progress before a wait may
                                      expire in real time */

/* Deterministic mode: what could still bring this wait's deadline in virtual time, summed: the
 * world's jumps, this process's charges, and the charges of every other process whose clock is
 * behind the deadline (in deterministic mode a clock is the reference plus its charges). While the
 * sum moves, the world progresses in virtual time towards the deadline (or towards a block, which
 * makes it idle), deterministically; a process already past the deadline that keeps charging (a spin
 * that reads the clock) does not count, nor does real time. */
static uint64_t det_progress(rv_world *w, rv_vtime_ns deadline) {
    rv_vtime_ns ref = rv_world_ref_live();
    int32_t me = (int32_t)rv_pid();
    uint64_t sum = atomic_load_explicit(&w->jump, memory_order_relaxed) + atomic_load_explicit(&w->floor, memory_order_relaxed);
    for (int i = 0, hi_ = rv_charges_hi(w); i < hi_; ++i) {
        rv_charges *c = &w->charges[i];
        int32_t pid = atomic_load_explicit(&c->pid, memory_order_relaxed);
        if (!pid) continue;
        uint64_t ns = atomic_load_explicit(&c->ns, memory_order_relaxed) +
                      atomic_load_explicit(&c->adopted, memory_order_relaxed) +
                      atomic_load_explicit(&c->lead_until, memory_order_relaxed);
        if (pid != me && ref + ns >= deadline) continue;
        sum += ns;
    }
    return sum;
}

/* Deterministic mode: whether a wait has gone DET_STUCK_NS of real time (and at least its own
 * length) without the world progressing towards its deadline: only then may it expire in real time
 * (a thread that spins without charging anything, e.g. on a flag this waiter's side must set, would
 * otherwise hang it). Real time that the program's own host code takes (torch's start-up, NCCL's
 * set-up) is not progress: while it runs, the world either charges (progress) or blocks (idle). */
static int det_stuck(rv_world *w, rv_wait *wt, uint64_t real_now) {
    uint64_t prog = det_progress(w, wt->deadline);
    if (prog != wt->progress || !wt->progress_real) {
        wt->progress = prog;
        wt->progress_real = real_now;
    }
    uint64_t need = wt->length > DET_STUCK_NS ? wt->length : DET_STUCK_NS;
    return real_now - wt->progress_real >= need;
}

/* Deterministic mode, a wait past its length in real time: it expires only once no other waiter of
 * the world has an earlier deadline (those expire first, by the same rule), so that a long wait of
 * one thread (torch's watchdog) expiring in real time does not carry its process past the earlier
 * deadline of another (a 50 ms sleep), in whatever order real time ran them. A waiter that never
 * steps (its process stopped) holds the order for at most DET_ORDER_BACKSTOP_NS (10 s) more. */
static int det_expiry_turn(rv_world *w, const rv_wait *wt) {
    if (rv_real_ns() - wt->real_start >= wt->length + DET_ORDER_BACKSTOP_NS) return 1;
    rv_vtime_ns first = earliest_deadline(w);
    return first == RV_VTIME_INVALID || wt->deadline <= first;
}


/* fn(ctx, dfd, tid) for each thread of the /proc task directory dfd. */
static void for_each_task(int dfd, void (*fn)(void *, int, const char *), void *ctx) {
    char buf[4096];
    long n;
    while ((n = syscall(SYS_getdents64, dfd, buf, sizeof buf)) > 0)
        for (long off = 0; off < n;) {
            struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + off);
            off += d->d_reclen;
            if (d->d_name[0] >= '0' && d->d_name[0] <= '9') fn(ctx, dfd, d->d_name);
        }
}

void rv_read_proc_line(const char *path, char *buf, size_t n) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    ssize_t k = read(fd, buf, n - 1);
    close(fd);
    if (k <= 0) return;
    buf[k] = 0;
    char *nl = strchr(buf, '\n');
    if (nl) *nl = 0;
}

/* A thread's command name and kernel state, for diagnostics ("?" when it is gone). */
static void describe_thread(int32_t pid, int32_t tid, char *out, size_t n) {
    char path[64], comm[32] = "?", sc[64] = "?";
    snprintf(path, sizeof path, "/proc/%d/task/%d/comm", (int)pid, (int)tid);
    rv_read_proc_line(path, comm, sizeof comm);
    snprintf(path, sizeof path, "/proc/%d/task/%d/syscall", (int)pid, (int)tid);
    rv_read_proc_line(path, sc, sizeof sc);
    char *sp = strchr(sc, ' '); /* the call's number only */
    if (sp) *sp = 0;
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    char st = 0;
    int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        char t[16];
        snprintf(t, sizeof t, "%d", (int)tid);
        st = thread_state(dfd, t);
        close(dfd);
    }
    snprintf(out, n, "%d/%d (%s, state %c, syscall %s)", (int)pid, (int)tid, comm, st ? st : '?', sc);
}

/* The level the world dump below writes at: debug at every jump, info for a long one (explain_long_jump). */
static __thread int t_dump_level = RV_LOG_DEBUG;
#define dump_line(...) rv_log_at(t_dump_level, __FILE__, __LINE__, __VA_ARGS__)

static void debug_thread(void *pid, int dfd, const char *tid) {
    (void)dfd;
    char desc[160];
    describe_thread(*(int32_t *)pid, (int32_t)atoi(tid), desc, sizeof desc);
    dump_line("  thread %s", desc);
}

/* REVATI_LOG=debug: children of world process pid that are not in the world (a static binary, a
 * child that cleared its environment): they run unseen by the idle test. */
static void debug_outside_children(rv_world *w, int32_t pid) {
    char path[64], kids[512] = "";
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)pid, (int)pid);
    rv_read_proc_line(path, kids, sizeof kids);
    for (char *p = kids; *p;) {
        int32_t kid = (int32_t)strtol(p, &p, 10);
        if (kid <= 0) break;
        if (proc_slot(w, kid) >= 0) continue;
        char desc[160];
        describe_thread(kid, kid, desc, sizeof desc);
        dump_line("  child of %d outside the world: %s", (int)pid, desc);
    }
}

/* REVATI_LOG=debug: the waiters and every world thread's state at a jump. */
static void debug_dump(rv_world *w, rv_vtime_ns now, rv_vtime_ns target) {
    dump_line("jump %llu -> %llu", (unsigned long long)now, (unsigned long long)target);
    for (int i = 0; i < RV_MAX_WAITERS; ++i) {
        int32_t pid = atomic_load(&w->waiters[i].pid);
        if (!pid) continue;
        dump_line("  waiter pid %d tid %d deadline %llu blocking %u parked %u hold %u", (int)pid,
                  (int)atomic_load(&w->waiters[i].tid), (unsigned long long)atomic_load(&w->waiters[i].deadline),
                  (unsigned)atomic_load(&w->waiters[i].blocking), (unsigned)atomic_load(&w->waiters[i].parked),
                  (unsigned)atomic_load(&w->waiters[i].hold));
    }
    rv_clock_cache oc;
    oc.n = 0;
    for (int i = 0, hi_ = rv_procs_hi(w); i < hi_; ++i) {
        int32_t pid = atomic_load(&w->procs[i]);
        if (!pid) continue;
        dump_line("  process %d, clock %llu", (int)pid, (unsigned long long)rv_clock_cache_get(&oc, pid, 1));
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
        int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0) continue;
        for_each_task(dfd, debug_thread, &pid);
        close(dfd);
        debug_outside_children(w, pid);
    }
}


/* REVATI_LOG=info: a wait that expires in real time in deterministic mode, and the thread the idle
 * test last found running (what kept the world from being idle). */
static void explain_real_expiry(rv_world *w, const rv_wait *wt) {
    (void)scan_idle_uncached(w);
    char me[160], busy[160];
    describe_thread((int32_t)getpid(), (int32_t)rv_tid(), me, sizeof me);
    describe_thread(atomic_load(&g_last_busy_pid), atomic_load(&g_last_busy_tid), busy, sizeof busy);
    rv_info("deterministic: %s of %llu ns by %s expired in real time after %llu ns; running: %s", wt->why,
            (unsigned long long)wt->length, me, (unsigned long long)(rv_real_ns() - wt->real_start), busy);
}

static double secs(uint64_t a, uint64_t b) { return ((double)a - (double)b) / 1e9; }

static void info_thread(void *unused, int dfd, const char *tid) {
    (void)unused;
    (void)dfd;
    char desc[160], path[96], sched[96] = "?";
    describe_thread((int32_t)getpid(), (int32_t)atoi(tid), desc, sizeof desc);
    snprintf(path, sizeof path, "/proc/self/task/%s/schedstat", tid);
    rv_read_proc_line(path, sched, sizeof sched);
    rv_info("  thread %s, schedstat (cpu ns, run delay ns, slices) %s", desc, sched);
}

/* REVATI_LOG=info: a wait of at least LONG_WAIT_NS that reached its deadline, with what moved this
 * process's clock meanwhile (which term of vnow's formula) and the state of each of its threads (a
 * thread that the waiter waits for, runnable but not running, or blocked in some call). */
static void explain_long_timeout(const rv_wait *wt) {
    if (!wt->start.real) return;
    rv_clock_terms e;
    rv_clock_terms_now(&e);
    const rv_clock_terms *b = &wt->start;
    char me[160];
    describe_thread((int32_t)getpid(), (int32_t)rv_tid(), me, sizeof me);
    rv_info("%s of %.3f s by %s reached its deadline after %.3f s of real time; the clock moved %+.3f s: world "
            "jumps %+.3f, own charges and jumps %+.3f, adopted (messages, idle waits) %+.3f, own overhead "
            "%+.3f (of it stalls %+.3f), others' overhead excluded %+.3f, world idle %+.3f",
            wt->why, (double)wt->length / 1e9, me, secs(e.real, b->real), secs(e.vnow, b->vnow), secs(e.jump, b->jump),
            secs(e.charges, b->charges), secs(e.adopted, b->adopted), secs(e.overhead, b->overhead),
            secs(e.stall, b->stall), secs(e.foreign, b->foreign), secs(e.idle, b->idle));
    int dfd = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return;
    for_each_task(dfd, info_thread, NULL);
    close(dfd);
}

/* REVATI_LOG=info: a jump of LONG_WAIT_NS or more names its path (the world's fast or /proc advance,
 * the own advance, the world's floor reached) and the waiter it serves: the clock terms of
 * explain_long_timeout cannot tell these apart (each raises a process's lead). */
static void explain_long_jump(const char *path, rv_vtime_ns target, const char *why) {
    if (!rv_log_enabled(RV_LOG_INFO)) return;
    rv_vtime_ns now = rv_vnow_peek();
    if (target == RV_VTIME_INVALID || target < now + LONG_WAIT_NS) return;
    rv_info("%s: %+.3f s to %llu for a %s of thread %d; the world:", path, (double)(target - now) / 1e9,
            (unsigned long long)target, why ? why : "?", (int)rv_tid());
    t_dump_level = RV_LOG_INFO;
    debug_dump(rv_world_get(), now, target);
    t_dump_level = RV_LOG_DEBUG;
}

/* A world advance to target: the world dumped at REVATI_LOG=debug, or explained when long at info. */
static void explain_jump(const char *path, rv_vtime_ns target, const char *why) {
    if (!rv_log_enabled(RV_LOG_DEBUG)) {
        explain_long_jump(path, target, why);
        return;
    }
    rv_debug("%s for a %s of thread %d", path, why ? why : "?", (int)rv_tid());
    debug_dump(rv_world_get(), rv_vnow_peek(), target);
}

/* ---- the fast advance -------------------------------------------------------------------------- */

/* Every thread that enters a wait revati sees parks: it publishes in the shared file that it is
 * blocked (its waiter slot's `parked`, counted in its process's `parked`), and unparks when the wait
 * ends. A process is full when all its threads are parked: its count of threads (pthread_create's
 * interposer, threads.c) equals its parked count, and the kernel's thread count, read when its last
 * thread parked, agrees (a thread made otherwise, e.g. a raw clone, makes them disagree). When every
 * process of the world is full, the world advances at once to the earliest deadline, without /proc
 * scans or pauses, and wakes exactly the waiters due then. Otherwise the /proc path below decides.
 * docs/coordination.md ("The fast advance") gives the argument. On by default; REVATI_FAST_ADVANCE=0
 * turns it off (every advance by the /proc path). */

static int g_fast = -1;

static int fast_on(void) { return rv_env_switch("REVATI_FAST_ADVANCE", &g_fast); }

/* The published slot of world process pid (procs index i: a hint is kept per index). */
static _Atomic int16_t g_charges_hint[RV_MAX_PROCS];

static rv_charges *charges_of(rv_world *w, int i, int32_t pid) {
    int h = (i >= 0 ? atomic_load_explicit(&g_charges_hint[i], memory_order_relaxed) : 0) - 1;
    if (h >= 0 && atomic_load_explicit(&w->charges[h].pid, memory_order_relaxed) == pid) return &w->charges[h];
    for (int k = 0, hi_ = rv_charges_hi(w); k < hi_; ++k)
        if (atomic_load_explicit(&w->charges[k].pid, memory_order_relaxed) == pid) {
            if (i >= 0) atomic_store_explicit(&g_charges_hint[i], (int16_t)(k + 1), memory_order_relaxed);
            return &w->charges[k];
        }
    return NULL;
}

/* Every thread of the process parked, as its counts say, checked against the kernel's count at the
 * current generation; *gen: that generation. */
static int proc_full(rv_charges *c, uint32_t *gen) {
    int32_t th = atomic_load(&c->threads);
    if (th <= 0 || atomic_load(&c->parked) != th) return 0;
    uint64_t ck = atomic_load(&c->checked);
    *gen = atomic_load(&c->pgen);
    return (uint32_t)(ck >> 32) == *gen && (int32_t)(uint32_t)ck == th;
}

/* The process became full (its last thread parked, the caller): read the kernel's count of its
 * threads. */
static void check_full(rv_charges *c) {
    uint32_t gen = atomic_load(&c->pgen);
    if (rv_zmq_loaded())
        atomic_fetch_or(&c->flags, RV_PROC_ZMQ);
    else
        atomic_fetch_and(&c->flags, ~RV_PROC_ZMQ);
    int n = rv_program_threads(); /* revati's own threads never park */
    if (n > 0) atomic_store(&c->checked, (uint64_t)gen << 32 | (uint32_t)n);
}

/* Publish this thread's wait as blocked (idempotent). verify: a real event may end it. */
static void park_slot(rv_world *w, int slot, int verify) {
    if (slot < 0 || !fast_on() || rv_thread_is_own()) return;
    rv_waiter *s = &w->waiters[slot];
    atomic_store(&s->verify, (uint32_t)verify);
    if (atomic_exchange(&s->parked, 1)) return;
    rv_charges *c = rv_own_charges();
    if (!c) {
        atomic_store(&s->parked, 0);
        return;
    }
    int32_t p = atomic_fetch_add(&c->parked, 1) + 1;
    if (p == atomic_load(&c->threads)) check_full(c);
}

/* The wait in slot is over, or an advance made it due (then the advancer unparks it on its owner's
 * behalf, so that no second advance can pass it before it runs). */
static void unpark_slot(rv_world *w, int slot, int32_t pid) {
    rv_waiter *s = &w->waiters[slot];
    if (!atomic_exchange(&s->parked, 0)) return;
    rv_charges *c = pid == (int32_t)rv_pid() ? rv_own_charges() : charges_of(w, -1, pid);
    if (!c) return;
    atomic_fetch_add(&c->pgen, 1);
    atomic_fetch_sub(&c->parked, 1);
}

void rv_wait_park(rv_wait *wt, int verify) { park_slot(rv_world_get(), wt->slot, verify); }

/* A counted thread ends (threads.c): a wait it never left (cancelled inside it) is unparked. */
void rv_world_thread_ends(void) {
    int slot = t_slot_hint;
    if (slot < 0) return;
    rv_world *w = rv_world_get();
    rv_waiter *s = &w->waiters[slot];
    if (atomic_load(&s->tid) != (int32_t)rv_tid() || atomic_load(&s->pid) != (int32_t)rv_pid()) return;
    unpark_slot(w, slot, (int32_t)rv_pid());
}

/* Whether the kernel shows thread tid of pid running or runnable (or gone: 0). */
static int thread_runs(int32_t pid, int32_t tid) {
    char path[48];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return 0;
    char t[16];
    snprintf(t, sizeof t, "%d", (int)tid);
    int r = state_runs(thread_state(dfd, t));
    close(dfd);
    return r;
}

/* Whether every process of the world is full, no parked waiter is due (about to run) other than
 * the caller's, no waiter whose wait a real event ends was woken by one, and no signal was sent
 * since the last advance; then the advance epoch is claimed and *target is the earliest deadline of
 * a waiter not yet due (0 and nothing claimed otherwise, or when no wait has a deadline). */
static int fast_idle(rv_world *w, int my_slot, rv_vtime_ns *target, uint32_t *sigs,
                     uint64_t *gens_sum, uint32_t *epoch_seen, int claim) {
    uint32_t epoch = atomic_load(&w->adv_epoch);
    *epoch_seen = epoch;
    *sigs = atomic_load(&w->signals_sent);
    if (*sigs != atomic_load(&w->signals_seen)) {
        rv_debug("fast: a signal was sent since the last advance");
        return 0;
    }
    /* scratch on the stack, not thread-local: librevati's TLS is static (initial-exec), and 4 KB
     * more of it made a dlopen of the library fail ("cannot allocate memory in static TLS block") */
    uint32_t gens[RV_MAX_PROCS];
    int32_t pids[RV_MAX_PROCS];
    int n = 0;
    for (int i = 0, hi_ = rv_procs_hi(w); i < hi_; ++i) {
        int32_t pid = atomic_load_explicit(&w->procs[i], memory_order_relaxed);
        if (!pid) continue;
        rv_charges *c = charges_of(w, i, pid);
        if (!c || !proc_full(c, &gens[n])) {
            if (c)
                rv_debug("fast: process %d not full (threads %d parked %d checked %llx gen %u)", (int)pid,
                         (int)atomic_load(&c->threads), (int)atomic_load(&c->parked),
                         (unsigned long long)atomic_load(&c->checked), (unsigned)atomic_load(&c->pgen));
            return 0;
        }
        pids[n++] = pid;
    }
    /* every thread is parked: no program code runs; what could still run is a waiter that a real
     * event woke before its waker parked (the kernel shows it runnable) or one that is due */
    rv_vtime_ns best = RV_VTIME_INVALID;
    rv_clock_cache oc;
    oc.n = 0;
    int hi = waiters_hi(w);
    for (int k = 0; k < hi; ++k) {
        rv_waiter *s = &w->waiters[k];
        int32_t pid = atomic_load(&s->pid);
        if (!pid) continue;
        if (pid < 0 || !atomic_load(&s->parked)) return 0; /* a thread entering or leaving a wait */
        rv_vtime_ns d = atomic_load(&s->deadline);
        if (d != RV_VTIME_INVALID) {
            if (!owner_due(&oc, pid, d)) {
                if (d < best) best = d;
            } else if (k != my_slot) {
                return 0; /* due: about to run */
            }
        }
        if (k != my_slot && atomic_load(&s->verify) && thread_runs(pid, atomic_load(&s->tid))) return 0;
    }
    if (best == RV_VTIME_INVALID) return 0;
    /* nothing moved meanwhile: no thread unparked (its process's generation), no process joined */
    int m = 0;
    for (int i = 0, hi_ = rv_procs_hi(w); i < hi_; ++i) {
        int32_t pid = atomic_load_explicit(&w->procs[i], memory_order_relaxed);
        if (!pid) continue;
        rv_charges *c = charges_of(w, i, pid);
        uint32_t g;
        if (m >= n || pids[m] != pid || !c || !proc_full(c, &g) || g != gens[m]) return 0;
        m++;
    }
    if (m != n) return 0;
    uint64_t sum = 0;
    for (int i = 0; i < n; ++i) sum += gens[i];
    *gens_sum = sum;
    if (claim && !atomic_compare_exchange_strong(&w->adv_epoch, &epoch, epoch + 1)) return 0;
    *target = best;
    return 1;
}

/* Wake a parked sleep: bump its word, and make the futex call only if it is in its real wait (the
 * advancer's own wait, or one between slices, is not: it reads the bumped word before it blocks
 * again, so its wait returns at once). Its blocking flag is set before its futex reads the word,
 * and read here after the bump (both sequentially consistent): one of the two sees the other. */
static void wake_sleep(rv_waiter *s) {
    atomic_fetch_add(&s->wake, 1);
    if (atomic_load(&s->blocking)) rv_real_futex((uint32_t *)&s->wake, FUTEX_WAKE, 1, NULL, NULL, 0);
}

/* After an advance to target: the waiters due are unparked on their owners' behalf, and sleeps
 * among them woken through their own futex words (the others notice at their slice's end). */
static void wake_due(rv_world *w, rv_vtime_ns target) {
    int hi = waiters_hi(w);
    for (int k = 0; k < hi; ++k) {
        rv_waiter *s = &w->waiters[k];
        int32_t pid = atomic_load(&s->pid);
        if (pid <= 0 || atomic_load(&s->deadline) > target) continue;
        if (!atomic_load(&s->parked)) continue;
        unpark_slot(w, k, pid);
        if (!atomic_load(&s->verify)) wake_sleep(s);
    }
}

static void wake_due_now(rv_vtime_ns target) { wake_due(rv_world_get(), target); }

/* A jump of this process's own clock: its parked sleeps look at their deadlines again. */
static void own_jumped(void) {
    rv_world *w = rv_world_get();
    int32_t me = (int32_t)rv_pid();
    int hi = waiters_hi(w);
    for (int k = 0; k < hi; ++k) {
        rv_waiter *s = &w->waiters[k];
        if (atomic_load_explicit(&s->pid, memory_order_relaxed) != me || atomic_load(&s->verify)) continue;
        wake_sleep(s);
    }
}

static int any_zmq(rv_world *w) {
    for (int k = 0, hi_ = rv_charges_hi(w); k < hi_; ++k)
        if (atomic_load_explicit(&w->charges[k].pid, memory_order_relaxed) &&
            (atomic_load_explicit(&w->charges[k].flags, memory_order_relaxed) & RV_PROC_ZMQ))
            return 1;
    return 0;
}

/* Inside a bracket, the caller parked in slot: if the world is idle by the fast rule, advance it to
 * the earliest deadline and wake the waiters due. since: real ns from which the world has been idle (the
 * caller's check began). Returns 1 when it advanced. */

/* wt: a wait that a real event ends (fast_look: its own event may have come, from a thread that ran
 * and parked before this look; only its real call can tell): the first idle look lets the real call
 * look once, with no timeout (returns -1), and the advance is made at the next step, if the real call
 * found nothing and nothing of the world moved meanwhile (the same generations, the same epoch).
 * NULL: a sleep or a hold, which only a deadline or a signal ends. */
static int fast_advance(rv_world *w, int slot, uint64_t since, const char *why,
                        rv_wait *wt) {
    if (slot < 0 || !fast_on()) return 0;
    /* the look's and the jump's costs, counted for tools/bench_coord.py, in real time: a read of the
     * thread's CPU clock is a system call that took the runqueue lock (about 1 us each on this VM,
     * three per advance) */
    uint64_t cpu_since = rv_real_ns();
    rv_vtime_ns target;
    uint32_t sigs, epoch;
    uint64_t gens;
    if (wt) {
        int again = wt->fast_look;
        wt->fast_look = 0;
        if (!fast_idle(w, slot, &target, &sigs, &gens, &epoch, 0)) return 0;
        if (!again || gens != wt->fast_gens || epoch != wt->fast_epoch) {
            wt->fast_look = 1;
            wt->fast_gens = gens;
            wt->fast_epoch = epoch;
            return -1;
        }
        if (!atomic_compare_exchange_strong(&w->adv_epoch, &epoch, epoch + 1)) return 0;
    } else if (!fast_idle(w, slot, &target, &sigs, &gens, &epoch, 1)) {
        return 0;
    }
    if (any_zmq(w)) {
        settle_after_jump(); /* libzmq's clock cache (above) */
        /* the world may have moved during the pause (a sleep that expired in real time, its thread
         * running again): no advance on this look */
        rv_vtime_ns t2;
        uint32_t s2, e2;
        uint64_t g2;
        if (!fast_idle(w, slot, &t2, &s2, &g2, &e2, 0) || g2 != gens || t2 != target) return 0;
    }
    rv_leave_discard(); /* the world was idle: excluded from every clock below, not as overhead here */
    uint64_t t1 = rv_real_ns();
    rv_exclude_idle(since, t1);
    explain_jump("fast advance of the world", target, why);
    atomic_store(&w->wake_real, t1);
    atomic_store(&w->wake_target, target);
    uint64_t cpu_look = rv_real_ns();
    rv_vadvance_world(target, why, wake_due_now);
    atomic_store(&w->signals_seen, sigs);
    atomic_fetch_add(&w->fast_ns, cpu_look - cpu_since);
    atomic_fetch_add(&w->fast_wake_ns, rv_real_ns() - cpu_look);
    atomic_fetch_add(&w->fast_jumps, 1);
    rv_enter();
    return 1;
}

void rv_park_begin(rv_park *p, const char *why) {
    (void)why;
    p->slot = -1;
    if (!t_in_hold) t_inert.timed_out = 0; /* an untimed wait between two timed ones: not a poll loop */
    if (!fast_on() || !rv_clock_ready()) return;
    rv_enter();
    rv_world *w = rv_world_get();
    p->slot = claim_slot(w, (int32_t)rv_pid(), (int32_t)rv_tid(), RV_VTIME_INVALID);
    if (p->slot >= 0) {
        atomic_store(&w->waiters[p->slot].blocking, 1);
        /* no advance from here: the wait's own event may be there already (only the real call can
         * tell); the timed waiters' next steps advance the world if it is idle */
        park_slot(w, p->slot, 1);
    }
    rv_leave();
}

void rv_park_end(rv_park *p) {
    if (p->slot < 0) return;
    rv_enter();
    rv_world *w = rv_world_get();
    unpark_slot(w, p->slot, (int32_t)rv_pid());
    rv_waiter *s = &w->waiters[p->slot];
    atomic_store(&s->blocking, 0);
    atomic_store(&s->deadline, RV_VTIME_INVALID);
    atomic_store(&s->tid, 0);
    atomic_store(&s->pid, 0);
    atomic_fetch_add(&w->activity, 1);
    rv_leave();
}

void rv_world_advances(uint64_t *fast, uint64_t *slow, uint64_t *fast_ns, uint64_t *wake_ns) {
    rv_world *w = rv_world_get();
    *fast = atomic_load(&w->fast_jumps);
    *slow = atomic_load(&w->slow_jumps);
    *fast_ns = atomic_load(&w->fast_ns);
    *wake_ns = atomic_load(&w->fast_wake_ns);
}

void rv_signal_sending(void) {
    if (rv_clock_ready()) atomic_fetch_add(&rv_world_get()->signals_sent, 1);
}

// revati_advances: the world's idle advances so far by the fast path and by the /proc path, and the
// real ns the fast ones took to look and to jump and wake the due waiters (for tests and tools)
RV_EXPORT void revati_advances(unsigned long long *fast, unsigned long long *slow, unsigned long long *look_ns,
                               unsigned long long *wake_ns) {
    uint64_t f, s, ns, wk;
    rv_world_advances(&f, &s, &ns, &wk);
    *fast = f;
    *slow = s;
    *look_ns = ns;
    *wake_ns = wk;
}

static void set_blocking(rv_wait *wt, uint32_t v) {
    if (wt->slot < 0) return;
    rv_world *w = rv_world_get();
    /* the real call begins: the events until now are ones it sees */
    if (v) atomic_store(&w->waiters[wt->slot].events_seen, atomic_load(&w->events));
    atomic_store(&w->waiters[wt->slot].blocking, v);
}

/* Whether an event of the world came since this waiter's last real call began: its own may be
 * among them (only the real call can tell), so it does not advance the world on this look. */
static int events_since_call(rv_world *w, const rv_wait *wt) {
    return wt->slot >= 0 && atomic_load(&w->events) != atomic_load(&w->waiters[wt->slot].events_seen);
}

/* Whether a signal that the caller's mask lets through is pending (it arrived during the checks,
 * while signals were blocked). */
static int signal_waiting(const sigset_t *callers_mask) {
    sigset_t pend;
    if (sigpending(&pend) != 0) return 0;
    return (rv_sigset_bits(&pend) & ~rv_sigset_bits(callers_mask)) != 0;
}

#define MAIN_THREAD_HOLD_NS 200000000ULL /* at most this long for the main thread to take its signal */

/* Leave a process-directed signal to the main thread, as the kernel would natively. Unblocking
 * signals (the end of every step) makes the kernel re-check this thread for the process's pending
 * signals, so a thread in an interposed wait took, at the end of a step, a SIGTERM the kernel had
 * queued for the main thread and woken it for, before the main thread was scheduled: Python's C-level
 * handler then ran on this thread and the main thread, parked in an untimed lock wait (vLLM's
 * engine in Queue.get), never ran the Python handler. While such a signal is pending, this thread
 * keeps its signals blocked and waits (briefly, in real time) until the main thread has taken it.
 * Returns whether it waited: the main thread ran meanwhile, so that time is not revati's. */
static int leave_to_main_thread(const sigset_t *callers_mask) {
    sigset_t theirs, pend;
    if (!rv_signals_for_main_thread(callers_mask, &theirs)) return 0;
    rv_bracket_blocked(); /* the main thread runs meanwhile: its readings must not exclude this wait */
    uint64_t t0 = rv_real_ns();
    for (;;) {
        struct timespec ts = {0, 20000};
        syscall(SYS_nanosleep, &ts, NULL);
        if (sigpending(&pend) != 0 || !(rv_sigset_bits(&theirs) & rv_sigset_bits(&pend))) break;
        if (rv_real_ns() - t0 > MAIN_THREAD_HOLD_NS) {
            rv_debug("the main thread did not take its signal within %llu ms: this thread takes it",
                     MAIN_THREAD_HOLD_NS / 1000000ULL);
            break;
        }
    }
    return 1;
}

/* End a step: a signal that arrived during the checks ends the wait as it would have ended the real
 * call (signals are blocked during the checks, so none is handled where no call could report it);
 * restoring the mask runs its handler. discard: the checks ran while the world ran. */
static int step_done(rv_wait *wt, int r, int discard, const sigset_t *old) {
    /* the deadline is reached: the program's clock never reads below it again (the exclusions made
     * after the check, at the wait's end or by other processes, are floored there) */
    if (r == 1) {
        rv_vnow_reached(wt->deadline);
        wt->timed_out = 1;
    }
    if (leave_to_main_thread(old)) discard = 1;
    rv_signals_main_check_end();
    if (r == 0 && signal_waiting(old)) {
        rv_debug("signal pending after the checks: the wait ends");
        r = -1;
    }
    wt->signals = rv_signals_handled(); /* a handler that runs from here on ends the wait */
    if (r == 0) {
        set_blocking(wt, 1);
        wt->looked = 1; /* the real call looks next; back here, it found nothing */
    }
    pthread_sigmask(SIG_SETMASK, old, NULL);
    if (discard)
        rv_leave_discard();
    else
        rv_leave();
    return r;
}

/* Real ns this thread's wait checks, and its holds' looks, spin before they decide
 * (revati_checks_spin_ns: tests hold a thread in its checks, as a host that keeps it off its core
 * does). */
static __thread uint64_t t_checks_spin_ns;

// revati_checks_spin_ns: the calling thread's wait checks and hold looks spin this many real ns before
// they decide, as a thread held off its core in them (for tests)
RV_EXPORT void revati_checks_spin_ns(unsigned long long ns) { t_checks_spin_ns = ns; }

/* Real ns an own advance of this thread spins between its first reading of rule 3 and rule 4
 * (revati_own_spin_ns: tests open that window as a host that keeps the thread off its core there
 * does). */
static __thread uint64_t t_own_spin_ns;

// revati_own_spin_ns: the calling thread's own advances spin this many real ns between their look at
// the process's other threads and their look at the other processes (for tests)
RV_EXPORT void revati_own_spin_ns(unsigned long long ns) { t_own_spin_ns = ns; }

/* Spin until t0 (0: now) + ns; no clock is read when ns is 0 (the hooks above, unset). */
static void spin_from(uint64_t t0, uint64_t ns) {
    if (!ns) return;
    if (!t0) t0 = rv_real_ns();
    while (rv_real_ns() - t0 < ns) {}
}

void rv_checks_spin(uint64_t t0) { spin_from(t0, t_checks_spin_ns); }

/* The /proc path's pause before its jump (settle_after_jump), then whether the world stayed as the
 * idle test saw it: no waiter left a wait and no event came meanwhile. Before, the jump's target was
 * taken after the pause, from the deadlines left then: a sleep that had expired in real time during
 * it (its process's clock runs while another of its threads is in a bracket) was gone from them, its
 * thread ran again (it handed its I/O thread a message), and the world jumped to a 5 s poll's
 * deadline past it. */
static int settled_unmoved(rv_world *w, const rv_wait *wt, uint32_t act) {
    settle_after_jump();
    if (atomic_load(&w->activity) == act && !events_since_call(w, wt)) return 1;
    rv_debug("the world moved during the pause before a jump: no jump on this look");
    return 0;
}

/* ---- the own advance of a blocked process ------------------------------------------------------
 *
 * A timed wait whose process does nothing else (every other thread of it waits: in a wait revati sees,
 * in a hold, or blocked in the kernel) is reached by a jump of its own process, as a GPU sync's held
 * jump is, once no other process could act before its deadline (hold.c's test), even while the world
 * runs. Before, such a wait was reached only by the world's idle jump (never, while any process of the
 * world ran) or by its process's clock in real time, which stands still while a thread of the process
 * holds (the hold's real time is excluded) and moves only by others' time it adopts: SGLang's TP2 rank 1,
 * idle in gloo's broadcast with its gloo loops at their 10 ms timeouts, held rank 0's hold at the
 * rate-32 warm-up for minutes (docs/coordination.md, "The own advance"). Only the process's earliest
 * wait, its holds' targets included, advances it (a later one would pass the earlier deadline), and
 * a wait that a real event can end only after its real call has looked and no event of the world
 * came since that call began (its own event may be among them). */
#define OWN_LOOK_MIN_NS 20000ULL /* one look per wait per this much real time */

static int own_earliest(rv_world *w, const rv_wait *wt) {
    int32_t me = (int32_t)rv_pid();
    int hi = waiters_hi(w);
    for (int i = 0; i < hi; ++i) {
        if (i == wt->slot) continue;
        rv_waiter *s = &w->waiters[i];
        if (atomic_load_explicit(&s->pid, memory_order_relaxed) != me) continue;
        /* a hold counts at its target, where its thread acts again (a GPU sync's jump returns, a
         * "nothing arrived" hold looks once more at what reached it meanwhile): passing it, the jump
         * would answer for that thread (set aside here, a rank's NCCL watchdog could carry the rank
         * past its main thread's sync hold: test_coord_own_hold.py) */
        rv_vtime_ns d = atomic_load_explicit(&s->deadline, memory_order_relaxed);
        if (d == RV_VTIME_INVALID) continue; /* an untimed wait: only an event ends it */
        if (atomic_load_explicit(&s->inert, memory_order_relaxed)) continue; /* passed, it does nothing */
        if (d < wt->deadline || (d == wt->deadline && i < wt->slot)) return 0;
    }
    return 1;
}

/* The own advance is on unless REVATI_OWN_ADVANCE=0 (read once). It was opt-in for a while: with the
 * world's idle jumps moving every process by one amount, a process it had put ahead was carried past
 * the others' sends (docs/coordination.md, "Idle jumps move each process to the target"). */
static int own_advance_enabled(void) {
    static int on = -1;
    return rv_env_switch("REVATI_OWN_ADVANCE", &on);
}

static int own_advance(rv_world *w, rv_wait *wt) {
    if (wt->slot < 0 || wt->deadline == RV_VTIME_INVALID || wt->inert || !rv_holds_enabled() ||
        !own_advance_enabled())
        return 0;
    if (!wt->sleeper && (!wt->looked || events_since_call(w, wt))) return 0;
    uint64_t real = rv_real_ns();
    if (wt->own_look_real && real - wt->own_look_real < OWN_LOOK_MIN_NS) return 0;
    wt->own_look_real = real;
    /* rules 2 and 1 decide only as read after rule 3 (the reading above, and rule 1 here, are early
     * exits before the scans): a thread that rule 3 finds not running has counted the event of its
     * last write (counted right after the write) and registered the target of a hold it is in. Read
     * only before, a reply written by another thread between the first reading of rule 2 and rule 3
     * (that thread back in its poll by then) was seen by neither */
    if (rv_own_others_run()) return 0;
    if (!own_earliest(w, wt)) return 0;
    spin_from(0, t_own_spin_ns);
    if (rv_laggard_before_strict(wt->deadline)) return 0;
    /* rule 3 once more, after rule 4's scans of the other processes: a thread of this process that the
     * kernel woke meanwhile (a peer's connect or message reached a thread whose poll revati does not
     * see, e.g. the TCPStore server's libuv loop) runs before the deadline. Read only before rule 4,
     * the TCPStore master jumped to its poll's 600 s timeout in 3 or 4 of 481 2-rank start-ups, its
     * server thread found running right after the jump (REVATI_LOG=info; test_coord_own_woken.py) */
    if (rv_own_others_run()) return 0;
    if (!own_earliest(w, wt) || (!wt->sleeper && events_since_call(w, wt))) return 0;
    /* nothing can reach this process before its deadline: it jumps there (its other threads wait).
     * From the jump on, this thread is about to run the program: it shows so first (unparked, and its
     * state the kernel's), since a parked waiter in its checks reads as not running, and its deadline,
     * registered before the jump, as not due: a process that looked in between (woken by this very
     * jump) saw nothing that could act before its own deadline and jumped past this one (an idle
     * server read a request 100-300 ms after it was sent: test_coord_idle_server.py) */
    unpark_slot(w, wt->slot, (int32_t)rv_pid());
    atomic_store(&w->waiters[wt->slot].blocking, 1);
    explain_long_jump("own advance of this process", wt->deadline, wt->why);
    rv_vadvance_unheld(wt->deadline, wt->why);
    atomic_fetch_add(&w->own_advances, 1);
    return 1;
}

int rv_wait_step(rv_wait *wt, uint64_t *real_slice_ns) {
    rv_world *w = rv_world_get();
    uint64_t t0 = rv_real_ns();
    ++t_wait_steps;
    rv_enter();
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    rv_signals_main_check_begin(&old);
    set_blocking(wt, 0);
    rv_checks_spin(t0);
    if (wt->slot >= 0) wt->wake_seen = atomic_load(&w->waiters[wt->slot].wake);
    uint64_t prev_step = wt->step_real;
    wt->step_real = t0;
    rv_vtime_ns now = rv_vnow_peek();
    /* the others' overhead first: it may pull this clock below the deadline, but not below a world's
     * idle jump that reached it (next), which left no process behind it; settled after that jump, a
     * wait the jump had made due parked again, and the world advanced once more to the same deadline
     * (tools/bench_coord.py: 1.7 advances per sleep at 4 processes, 0.99 now) */
    if (now >= wt->deadline && wt->idle_tracked && settle_foreign(&wt->idle)) now = rv_vnow_peek();
    if (now < wt->deadline && wt->deadline <= atomic_load(&w->floor)) {
        /* the world's idle jump reached this deadline: it raised this process's clock from its
         * published terms, which may lag its own by a bracket still open; the wait is due (quietly:
         * the jump woke whom it made due; a jump of its own here would wake every waiter on the
         * world's word again) */
        explain_long_jump("the world's floor reached", wt->deadline, wt->why);
        rv_vreach_floor(wt->deadline);
        now = rv_vnow_peek();
    }
    if (now >= wt->deadline && rv_stall_commit_others()) {
        /* another thread of this process that waited for a core in its current stretch of host code
         * (this thread's deadline may be its to beat: the input thread that sets the event that vLLM's
         * engine core waits 10 s for) has not read its run delay yet: natively it would have run, so
         * that time is not the process's; excluded, the deadline may not have come yet */
        now = rv_vnow_peek();
    }
    if (now >= wt->deadline) {
        /* woken by another waiter's idle jump to this very deadline: the real time until this
         * thread noticed (at most a slice) was dead time for the whole world; but no more of it
         * than this clock's lead over the deadline, since the wait ends here: what the others'
         * overhead excluded meanwhile (settle_foreign) overlaps it, and excluding both pulled the
         * clock below the deadline after the wait had seen it reached (a 1 ms sleep read short) */
        uint64_t wake_real = atomic_load(&w->wake_real);
        if (atomic_load(&w->wake_target) == wt->deadline && wake_real >= prev_step && t0 > wake_real) {
            uint64_t lead = now - wt->deadline;
            if (rv_host_speed() != 1.0) lead = (uint64_t)((double)lead / rv_host_speed()); /* real ns */
            rv_exclude_idle(t0 - wake_real > lead ? t0 - lead : wake_real, t0);
        }
        explain_long_timeout(wt);
        return step_done(wt, 1, 0, &old);
    }
    if (rv_signals_handled() != wt->signals) {
        /* a handler ran since the last slice began (e.g. the signal came as the slice timed out):
         * natively the one long wait would have been interrupted */
        rv_debug("a signal handler ran during the wait: it ends");
        return step_done(wt, -1, 0, &old);
    }
    uint32_t gen = atomic_load(&w->gen);
    uint32_t act = atomic_load(&w->activity);
    if (wt->slot >= 0 && fast_on()) {
        /* publish this thread as blocked; if every thread of the world now is, advance at once */
        park_slot(w, wt->slot, !wt->sleeper);
        int f = signal_waiting(&old)
                    ? 0
                    : fast_advance(w, wt->slot, t0, wt->why, wt->sleeper ? NULL : wt);
        if (f < 0) {
            /* let the real call look for this wait's own event once, at once */
            wt->gen_seen = gen;
            *real_slice_ns = 1;
            return step_done(wt, 0, 1, &old);
        }
        if (f > 0) {
            wt->idle_seen = 0;
            if (rv_vnow_peek() >= wt->deadline) return step_done(wt, 1, 1, &old);
            /* another waiter was due first: it runs; this one blocks again */
            wt->gen_seen = atomic_load(&w->gen);
            wt->slice_ns = SLICE_MIN_NS;
            *real_slice_ns = SLICE_MAX_NS;
            return step_done(wt, 0, 1, &old);
        }
    }
    if (scan_idle(w)) {
        /* two idle observations in a row, separated by a short real wait (which releases the
         * mutex of a condition wait, so that threads blocked on it get to run) and with no waiter
         * leaving in between, before the clock jumps */
        if (wt->idle_seen && act == wt->activity && !signal_waiting(&old) && !events_since_call(w, wt) &&
            atomic_compare_exchange_strong(&w->adv_epoch, &wt->epoch, wt->epoch + 1) &&
            settled_unmoved(w, wt, act)) {
            /* the world has been idle since the first observation: that real time (checks, the
             * pause between them, the settle) is excluded from every clock, not from this
             * process's alone; the bracket is dropped so that it is not excluded twice here */
            rv_leave_discard();
            uint64_t t1 = rv_real_ns();
            rv_exclude_idle(wt->idle_since, t1);
            rv_vtime_ns target = earliest_deadline(w); /* an instant of virtual time */
            if (wt->deadline < target) target = wt->deadline;
            explain_jump("advance of the world (/proc path)", target, wt->why);
            atomic_store(&w->wake_real, t1);
            atomic_store(&w->wake_target, target);
            rv_vadvance_world(target, wt->why, wake_due_now);
            atomic_store(&w->signals_seen, wt->sigs);
            atomic_fetch_add(&w->slow_jumps, 1);
            rv_enter();
            wt->idle_seen = 0;
            if (rv_vnow_peek() >= wt->deadline) {
                explain_long_timeout(wt);
                return step_done(wt, 1, 1, &old);
            }
            /* another waiter was due first: it returns; look again shortly */
            gen = atomic_load(&w->gen);
            act = atomic_load(&w->activity);
        } else {
            wt->idle_seen = 1;
            wt->activity = act;
            wt->idle_since = t0;
            wt->epoch = atomic_load(&w->adv_epoch);
            wt->sigs = atomic_load(&w->signals_sent);
        }
        wt->gen_seen = gen;
        wt->slice_ns = SLICE_MIN_NS;
        *real_slice_ns = SLICE_CONFIRM_NS;
        return step_done(wt, 0, 1, &old); /* idle time is excluded world-wide once confirmed */
    }
    wt->idle_seen = 0;
    wt->gen_seen = gen;
    if (own_advance(w, wt)) {
        explain_long_timeout(wt);
        return step_done(wt, 1, 1, &old);
    }
    if (rv_deterministic() && det_stuck(w, wt, rv_real_ns()) && det_expiry_turn(w, wt)) {
        /* deterministic mode: other threads keep running without charging time (a busy loop that
         * never reads the clock, e.g. spinning on a flag that this waiter's side must set, with the
         * GIL): let the wait expire after its length in real time, as natively, rather than hang */
        static _Atomic int warned;
        if (rv_log_enabled(RV_LOG_INFO)) explain_real_expiry(w, wt);
        if (!atomic_exchange(&warned, 1))
            rv_warn("deterministic mode: a %s expired in real time while other threads ran without reading "
                    "the clock; virtual times may differ between runs",
                    wt->why);
        rv_vadvance_unheld(wt->deadline, wt->why);
        return step_done(wt, 1, 0, &old);
    }
    uint64_t slice = wt->slice_ns;
    uint64_t left = UINT64_MAX;
    if (!rv_deterministic()) /* the deadline may arrive in real time while the world runs */
        left = (uint64_t)((double)(wt->deadline - now) / rv_host_speed()) + 1;
    uint64_t cap = SLICE_MAX_NS;
    if (!rv_deterministic() && wt->slot >= 0 && left / SLICE_BEHIND_SHARE > cap &&
        behind_another(w, wt->slot, wt->deadline)) {
        /* another waiter's deadline comes first: if the world goes idle, that waiter jumps to it, and
         * this one is not due before then, so it need not look for idleness every 250 us (each look
         * costs a wake-up and a bracket, CPU taken from the threads that run: with a few waiters on
         * a small host, a large share of it). What it must still notice is its own deadline carried
         * past by a jump of its own process (a GPU sync), which no futex announces to a condition, fd
         * or semaphore wait: its slices grow to an eighth of the real time left, the most it can be
         * late by then, and 20 ms. Not in deterministic mode, where the clock moves by charges alone,
         * so that noticing later would end the wait later in virtual time. */
        cap = left / SLICE_BEHIND_SHARE < SLICE_BEHIND_MAX_NS ? left / SLICE_BEHIND_SHARE : SLICE_BEHIND_MAX_NS;
        /* an inert poll noticing its deadline late changes nothing (its timeout does nothing; that
         * is what made it inert), so it need not notice its own process's jumps either: one slice to
         * its deadline in real time, at most 20 ms (gloo's loops behind one another took eight
         * slices of 1.25 ms for each 10 ms wait, each a wake-up, a stall reading and a signal
         * check: ~5,600 wake-ups a second in vLLM's engine on top of its decode steps) */
        if (wt->inert && inert_long_slices()) cap = SLICE_BEHIND_MAX_NS;
        /* and it takes that slice at once: the short first slices that double are for the earliest
         * waiter, which looks for the world going idle; a waiter behind it doubling from 50 us took
         * five extra wake-ups for each of its waits (gloo's six TCP loops wait 10 ms at a time, over
         * and over: ~1,850 wake-ups a second each in vLLM's engine) */
        slice = cap;
    }
    wt->slice_ns = slice * 2 > cap ? cap : slice * 2;
    if (left < slice) slice = left;
    *real_slice_ns = slice;
    return step_done(wt, 0, 1, &old); /* the world runs: this check ran in parallel with it */
}

long rv_gen_wait(rv_world *w, uint32_t seen, const struct timespec *ts) {
    atomic_fetch_add(&w->gen_waiters, 1);
    long r = rv_real_futex((uint32_t *)&w->gen, FUTEX_WAIT, seen, ts, NULL, 0);
    int e = errno;
    atomic_fetch_sub(&w->gen_waiters, 1);
    errno = e;
    return r;
}

int rv_wait_sleep(rv_wait *wt, uint64_t slice_ns) {
    rv_world *w = rv_world_get();
    struct timespec ts;
    rv_ns_to_ts(slice_ns, &ts);
    /* a parked sleep waits on its own word (an advance wakes exactly the sleeps it makes due; a jump
     * of this process's clock, all of its sleeps); otherwise on the world's jump word */
    long r = wt->slot >= 0 && fast_on()
                 ? rv_real_futex((uint32_t *)&w->waiters[wt->slot].wake, FUTEX_WAIT, wt->wake_seen, &ts, NULL, 0)
                 : rv_gen_wait(w, wt->gen_seen, &ts);
    if (r < 0 && errno == EINTR) {
        rv_debug("sleep interrupted by a signal");
        return -1;
    }
    return 0;
}

// revati_thread_waits: real ns the calling thread spent in timed waits of the wait engine (sleeps, timed
// condition/semaphore/mutex/futex/fd waits, from their start to their end) and how many wait steps
// (checks between real slices) they took (tools/vllm_compare/step_log: where a step's host time goes)
RV_EXPORT void revati_thread_waits(unsigned long long *wait_ns, unsigned long long *steps) {
    *wait_ns = t_wait_ns;
    *steps = t_wait_steps;
}

// revati_world_idle: whether no thread of the world runs (for tests and tools)
RV_EXPORT int revati_world_idle(void) { return rv_world_idle(); }
