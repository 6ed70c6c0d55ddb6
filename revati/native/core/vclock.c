/* revati virtual clock: one world clock for every process of a run, time jumps, overhead exclusion.
 *
 * vnow(process p) = (real - epoch - overhead_p - stall_p) * host_speed + charges_p + J
 *
 * epoch and J (the jump offset) live in the world's shared memory ($REVATI_RUN_DIR/clock.shm), so a
 * jump made by any process (a GPU sync, a sleep once the world is idle) moves every process's clock.
 * overhead_p (revati's own real time) and charges_p (modelled host costs) are per process: parallel
 * ranks must not subtract each other's overhead. In deterministic mode the first term is 0: real time
 * never reaches virtual time. stall_p (the CPU host clock, REVATI_HOST_CLOCK=cpu, the default) is the
 * real time the program's threads spent waiting for a core outside revati's brackets (stall.c): with
 * it, a loaded host's preemptions do not reach virtual time. docs/host-time.md explains the choices. */
#include "revati/vclock.h"

#include <dlfcn.h>
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
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "revati/hosttime.h"
#include "revati/log.h"
#include "revati/open_brackets.h"
#include "revati/runmode.h"
#include "revati/stall.h"

typedef int (*clock_gettime_fn)(clockid_t, struct timespec *);

static rv_world *g_world;
static clock_gettime_fn g_real_cgt;
static double g_speed = 1.0;
static int g_speed_one = 1;
static int g_det;
static uint64_t g_gap_ns = 100;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static _Atomic int g_ready;

static _Atomic uint64_t g_overhead; /* real ns spent inside rv_enter/rv_leave (this process) */
static _Atomic uint64_t g_charge;   /* modelled ns charged by this process */
static _Atomic uint64_t g_last;     /* last value returned: this process's clock never goes back */
static _Atomic uint64_t g_foreign;  /* others' overhead excluded while this process was idle */
static _Atomic uint64_t g_adopted;  /* others' charges adopted while this process was idle */
/* E, the idle lead: this process's clock is its own part plus max(J, E), J the world's jump term (no
 * longer moved). Idle jumps raise E: the world's (raise_world: every process to the target, each by
 * its own lead) and this process's own advance to its wait's deadline (hosttime/world.c). It lives in
 * the process's slot of the shared file, since other processes raise it; this copy is the value the
 * process starts with before it has a slot (a fork child's: its parent's). */
static _Atomic uint64_t g_lead_until;
static rv_charges *g_pub;           /* this process's slot for publishing its clock terms */
static int32_t g_pub_pid;

static uint64_t g_leak_ns; /* calibrated real cost of a bracket outside its two timestamps */
static uint64_t g_read_ns;   /* calibrated real cost of one clock read (what a program pays natively) */
static uint64_t g_read_charge; /* charged per interposed read: g_read_ns less the read's unexcluded cost */

static __thread int t_depth;
static __thread uint64_t t_entry_real;
static __thread uint64_t t_own_ns; /* real ns this thread spent in its brackets (revati_thread_overhead_ns) */
static __thread int t_own_work;    /* open rv_own_enter sections: no modelled charges in them */

/* The CPU host clock: a gap of host code (between a thread's brackets) or a bracket at least this long
 * reads the thread's run delay; shorter ones leave theirs to the next reading (a preemption makes the
 * gap it falls in at least a scheduler slice long, so it is not missed). */
#define STALL_MIN_GAP_NS 50000ULL
static int g_cpu_clock;                /* 1: stalls are excluded (REVATI_HOST_CLOCK=cpu, not deterministic) */
static _Atomic uint64_t g_stall;       /* real ns of stalls excluded (this process; part of g_overhead) */
static _Atomic uint64_t g_stall_upto;  /* real ns up to which this process's stalls are counted */
static __thread uint64_t t_leave_real; /* real ns when this thread last left a bracket (0: never) */

static uint64_t raw_mono(void) {
    struct timespec ts;
    syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts);
    return rv_ts_to_ns(&ts);
}

int rv_real_clock_gettime(clockid_t id, struct timespec *ts) {
    clock_gettime_fn f = g_real_cgt;
    if (f) return f(id, ts);
    return (int)syscall(SYS_clock_gettime, id, ts);
}

uint64_t rv_wall_ns(void) { return rv_deterministic() ? 0 : rv_real_ns(); }

uint64_t rv_real_ns(void) {
    clock_gettime_fn f = g_real_cgt;
    if (!f) return raw_mono();
    struct timespec ts;
    f(CLOCK_MONOTONIC, &ts);
    return rv_ts_to_ns(&ts);
}

static int64_t real_clock_ns(clockid_t id) {
    struct timespec ts;
    if (rv_real_clock_gettime(id, &ts) != 0) return 0;
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static double env_double(const char *name, double dflt, double lo) {
    const char *s = getenv(name);
    if (!s || !*s) return dflt;
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo) || v > 1e9) {
        /* not rv_fatal: that writes a trace line, which reads this clock (not initialised yet) */
        rv_error("%s=%s is not a valid number (>= %g); fix or unset it", name, s, lo);
        _exit(2);
    }
    return v;
}

static int pid_alive(int32_t pid) { return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM); }

static void world_fill(rv_world *w) {
    memset(w, 0, sizeof *w);
    if (g_det) {
        /* fixed bases: the same command shows the same clock values every run */
        w->epoch_real = 0;
        w->base_realtime = 1767225600LL * 1000000000LL; /* 2026-01-01T00:00:00Z */
        w->base_monotonic = 1000LL * 1000000000LL;
        w->base_boottime = 1000LL * 1000000000LL;
        w->base_tai = w->base_realtime + 37LL * 1000000000LL;
    } else {
        w->epoch_real = rv_real_ns();
        w->base_realtime = real_clock_ns(CLOCK_REALTIME);
        w->base_monotonic = (int64_t)w->epoch_real;
        w->base_boottime = real_clock_ns(CLOCK_BOOTTIME);
        w->base_tai = real_clock_ns(CLOCK_TAI);
    }
    w->version = RV_WORLD_VERSION;
    atomic_store(&w->jump, 0);
    w->magic = RV_WORLD_MAGIC;
}

static int world_has_live_proc(const rv_world *w) {
    for (int i = 0; i < RV_MAX_PROCS; ++i) {
        int32_t pid = atomic_load(&((rv_world *)w)->procs[i]);
        /* this pid itself counts: a member that exec'd (e.g. the last command of `bash -c`) */
        if (pid && (pid == getpid() || pid_alive(pid))) return 1;
    }
    return 0;
}

/* Map $REVATI_RUN_DIR/clock.shm, creating it under an flock if this is the run's first process (or
 * if every process of an earlier world in the same file is gone). */
static rv_world *map_world_file(const char *dir) {
    char path[4200];
    snprintf(path, sizeof path, "%s/clock.shm", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        rv_warn("cannot open %s (%s): this process keeps a clock of its own", path, strerror(errno));
        return NULL;
    }
    while (flock(fd, LOCK_EX) != 0 && errno == EINTR) {}
    struct stat st;
    int fresh = fstat(fd, &st) == 0 && st.st_size == 0;
    if (fresh && ftruncate(fd, (off_t)sizeof(rv_world)) != 0) {
        rv_warn("cannot size %s (%s): this process keeps a clock of its own", path, strerror(errno));
        close(fd);
        return NULL;
    }
    if (!fresh && st.st_size != (off_t)sizeof(rv_world)) {
        rv_error("%s has %lld bytes, not %zu: a clock from another revati version; use a fresh run directory",
                 path, (long long)st.st_size, sizeof(rv_world));
        _exit(2);
    }
    rv_world *w = mmap(NULL, sizeof(rv_world), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (w == MAP_FAILED) {
        rv_warn("cannot map %s (%s): this process keeps a clock of its own", path, strerror(errno));
        close(fd);
        return NULL;
    }
    if (fresh || w->magic != RV_WORLD_MAGIC || w->version != RV_WORLD_VERSION || !world_has_live_proc(w))
        world_fill(w);
    /* join the world while holding the lock, so a concurrent first process cannot reset it (a pid
     * that its parent registered at fork, or that exec'd, is there already) */
    int joined = 0;
    for (int i = 0; i < RV_MAX_PROCS && !joined; ++i) joined = atomic_load(&w->procs[i]) == (int32_t)getpid();
    for (int i = 0; i < RV_MAX_PROCS && !joined; ++i) {
        int32_t zero = 0;
        joined = atomic_compare_exchange_strong(&w->procs[i], &zero, (int32_t)getpid());
        if (joined) rv_raise_hi(&w->procs_hi, i + 1);
    }
    flock(fd, LOCK_UN);
    close(fd);
    return w;
}

static rv_charges *pub_slot(void);

/* Copy this process's clock terms to its slot in the world (others read them: rv_proc_clock). */
static void publish_terms(void) {
    rv_charges *p = pub_slot();
    if (!p) return;
    atomic_store_explicit(&p->ns, atomic_load(&g_charge), memory_order_relaxed);
    atomic_store_explicit(&p->adopted, atomic_load(&g_adopted), memory_order_relaxed);
    atomic_store_explicit(&p->overhead, atomic_load(&g_overhead), memory_order_relaxed);
    atomic_store_explicit(&p->foreign, atomic_load(&g_foreign), memory_order_relaxed);
}

static __attribute__((noinline)) void bracket_noop(void) {
    rv_enter();
    rv_leave();
}

/* The part of a bracket's own cost that falls outside its two timestamps (the first read's latency
 * before its sample, the second's after it, the bookkeeping) would reach virtual time on every
 * interposed call; measure it once and charge it to overhead at each outermost rv_leave. */
static void calibrate_leak(void) {
    uint64_t cal_start = rv_real_ns();
    void (*volatile f)(void) = bracket_noop;
    uint64_t best = UINT64_MAX;
    for (int round = 0; round < 5; ++round) {
        uint64_t o0 = atomic_load(&g_overhead), t0 = rv_real_ns();
        for (int i = 0; i < 400; ++i) f();
        uint64_t t1 = rv_real_ns(), o1 = atomic_load(&g_overhead);
        uint64_t per = (t1 - t0 > o1 - o0) ? ((t1 - t0) - (o1 - o0)) / 400 : 0;
        if (per < best) best = per;
    }
    g_leak_ns = best > 200 ? 200 : best;
    best = UINT64_MAX;
    for (int round = 0; round < 5; ++round) {
        uint64_t t0 = rv_real_ns();
        for (int i = 0; i < 400; ++i) rv_real_ns();
        uint64_t per = (rv_real_ns() - t0) / 401;
        if (per < best) best = per;
    }
    g_read_ns = best > 200 ? 200 : best;
    /* an interposed read (clock_gettime here is the interposer when librevati is preloaded, libc's
     * otherwise) leaves `per` ns outside its bracket; charging g_read_ns - per per read makes a read
     * cost the program what it costs natively */
    int (*volatile cgt)(clockid_t, struct timespec *) = clock_gettime;
    struct timespec ts;
    best = UINT64_MAX;
    for (int round = 0; round < 5; ++round) {
        uint64_t o0 = atomic_load(&g_overhead), t0 = rv_real_ns();
        for (int i = 0; i < 400; ++i) cgt(CLOCK_MONOTONIC, &ts);
        uint64_t t1 = rv_real_ns(), o1 = atomic_load(&g_overhead);
        uint64_t per = (t1 - t0 > o1 - o0) ? ((t1 - t0) - (o1 - o0)) / 400 : 0;
        if (per < best) best = per;
    }
    g_read_charge = best < g_read_ns ? g_read_ns - best : 0;
    /* the calibration itself is revati's time: none of it reaches the clock */
    atomic_store(&g_charge, 0);
    atomic_store(&g_overhead, rv_real_ns() - cal_start);
    atomic_store(&g_last, 0);
    publish_terms();
}

/* A fork child publishes its charges in a slot of its own (claimed at its first charge). */
static void pub_atfork_child(void) {
    if (g_pub) atomic_store(&g_lead_until, atomic_load(&g_pub->lead_until)); /* the parent's lead: the child's */
    g_pub = NULL;
    g_pub_pid = 0;
    rv_open_atfork_child();
    publish_terms(); /* the child's clock is the parent's: others can read it from now on */
}

/* The CPU host clock, in a process started by exec or spawn: real time since the world's epoch holds
 * what its parent excluded (the parent's stalls and overhead), so that would put it ahead of its
 * parent. It starts instead where the world's published high-water mark h is (its parent published
 * its now there when it started it) plus the CPU time it has used so far (its start-up). */
static inline uint64_t own_part(void);
static inline uint64_t jump_term(void);
static void union_add_plus(uint64_t a, uint64_t b, uint64_t extra);

static void start_after_parent(uint64_t h) {
    struct timespec ts;
    if (rv_real_clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0) return;
    uint64_t target = h + (uint64_t)((double)rv_ts_to_ns(&ts) * g_speed);
    uint64_t v = own_part() + jump_term();
    if (v <= target) return;
    uint64_t ns = (uint64_t)((double)(v - target) / g_speed);
    atomic_fetch_add(&g_foreign, ns); /* others' exclusions: published as foreign */
    /* the part since the parent started it, less its CPU time, was this process waiting for a core
     * while loading: a parent idle meanwhile (waiting for its output) excludes it through U (the
     * union skips what the parent's own brackets already counted) */
    uint64_t now = rv_real_ns(), cpu = rv_ts_to_ns(&ts);
    if (now > ns && now > cpu) union_add_plus(now - ns, now - cpu, 0);
}

static void init_once(void) {
    pthread_atfork(NULL, NULL, pub_atfork_child);
    g_real_cgt = (clock_gettime_fn)dlsym(RTLD_NEXT, "clock_gettime");
    g_det = rv_deterministic();
    g_speed = env_double("REVATI_HOST_SPEED", 1.0, 1e-6);
    g_speed_one = g_speed == 1.0;
    g_gap_ns = (uint64_t)env_double("REVATI_CPU_GAP_NS", 100.0, 0.0);
    const char *hc = getenv("REVATI_HOST_CLOCK");
    if (hc && *hc && strcmp(hc, "cpu") != 0 && strcmp(hc, "wall") != 0) {
        rv_error("REVATI_HOST_CLOCK=%s is neither cpu nor wall; fix or unset it", hc);
        _exit(2);
    }
    g_cpu_clock = !g_det && !(hc && strcmp(hc, "wall") == 0);
    const char *dir = getenv("REVATI_RUN_DIR");
    rv_world *w = dir && *dir ? map_world_file(dir) : NULL;
    if (!w) {
        /* a clock of this process (and of its fork children: the mapping is shared) */
        w = mmap(NULL, sizeof(rv_world), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (w == MAP_FAILED) rv_fatal("cannot map the virtual clock: %s", strerror(errno));
        world_fill(w);
        atomic_store(&w->procs[0], (int32_t)getpid());
        rv_raise_hi(&w->procs_hi, 1);
    }
    g_world = w;
    atomic_store(&g_ready, 1);
    if (!g_det) calibrate_leak();
    /* a process started by exec/spawn begins at the world's published high-water mark, so a child
     * never sees a time earlier than its parent did when it started it */
    uint64_t h = atomic_load(&w->high);
    if (g_cpu_clock && h) start_after_parent(h);
    uint64_t v = rv_vnow();
    if (h > v) atomic_fetch_add(&g_adopted, h - v);
    publish_terms();
}

static inline void ensure_init(void) {
    if (__builtin_expect(!atomic_load_explicit(&g_ready, memory_order_acquire), 0)) pthread_once(&g_once, init_once);
}

rv_world *rv_world_get(void) {
    ensure_init();
    return g_world;
}

double rv_host_speed(void) {
    ensure_init();
    return g_speed;
}

uint64_t rv_cpu_gap_ns(void) {
    ensure_init();
    return g_gap_ns;
}

uint64_t rv_overhead_ns(void) { return atomic_load(&g_overhead); }

/* This process's own part of the clock: run time since the epoch, less overhead, plus charges. The
 * overhead includes the part of other threads' open brackets that ran before this reading's instant
 * (open_brackets.h): it is added to g_overhead only when they end, and a reading that counted it
 * would stay, through the no-going-back clamp, after they did. */
/* This process's part of its clock as read at real instant `real` (without the world's jumps). */
static inline uint64_t own_part_at(uint64_t real) {
    uint64_t c = atomic_load_explicit(&g_charge, memory_order_relaxed) +
                 atomic_load_explicit(&g_adopted, memory_order_relaxed);
    if (g_det) return c;
    uint64_t base = g_world->epoch_real + atomic_load_explicit(&g_overhead, memory_order_relaxed) +
                    atomic_load_explicit(&g_foreign, memory_order_relaxed) +
                    atomic_load_explicit(&g_world->idle_real, memory_order_relaxed) + rv_open_part(real);
    if (real <= base) return c;
    uint64_t ran = real - base;
    return (g_speed_one ? ran : (uint64_t)((double)ran * g_speed)) + c;
}

/* ... as the calling thread reads it: frozen at its bracket's entry inside one */
static inline uint64_t own_part(void) { return own_part_at(t_depth > 0 ? t_entry_real : rv_real_ns()); }

/* The jump term of this process's clock: the world's J, or this process's idle lead E (above) while
 * J has not passed it. */
static inline uint64_t lead_until(void) {
    /* in the shared slot (the world's idle jumps raise it from other processes), else the value this
     * process started with (a fork child's, from its parent) */
    return g_pub ? atomic_load_explicit(&g_pub->lead_until, memory_order_acquire)
                 : atomic_load_explicit(&g_lead_until, memory_order_relaxed);
}

static inline uint64_t jump_term(void) {
    uint64_t j = atomic_load_explicit(&g_world->jump, memory_order_acquire);
    uint64_t e = lead_until();
    return e > j ? e : j;
}

static inline uint64_t clamp_last(uint64_t v) {
    uint64_t last = atomic_load_explicit(&g_last, memory_order_relaxed);
    while (v > last) {
        if (atomic_compare_exchange_weak_explicit(&g_last, &last, v, memory_order_relaxed, memory_order_relaxed))
            return v;
    }
    return last;
}

/* How much real time can still be excluded from this process's clock now without pulling it below
 * what the program has read (g_last): the clock as another thread would read it at this instant
 * (not the calling thread's frozen bracket entry), less g_last, in real ns. An exclusion made after
 * the fact (a hold's blocked time, measured at its wake-ups) may cover a stretch in which another
 * thread read the clock; pulled below that reading, the clock stood
 * still (the no-going-back clamp) until real time caught up, for seconds under load: every token of
 * a serving benchmark then arrived at one instant (docs/limitations.md). */
static uint64_t live_room(void) {
    if (g_det) return 0;
    uint64_t v = own_part_at(rv_real_ns()) + jump_term();
    uint64_t last = atomic_load_explicit(&g_last, memory_order_relaxed);
    uint64_t room = v > last ? v - last : 0;
    return g_speed_one ? room : (uint64_t)((double)room / g_speed);
}

rv_vtime_ns rv_vnow(void) {
    ensure_init();
    uint64_t v = own_part() + jump_term();
    return clamp_last(v);
}

void rv_vnow_reached(rv_vtime_ns t) {
    ensure_init();
    if (t != RV_VTIME_INVALID) clamp_last(t);
}

rv_vtime_ns rv_vnow_peek(void) {
    ensure_init();
    uint64_t v = own_part() + jump_term();
    uint64_t last = atomic_load_explicit(&g_last, memory_order_relaxed);
    return v > last ? v : last;
}

rv_vtime_ns rv_world_ref_live(void) {
    ensure_init();
    uint64_t j = atomic_load_explicit(&g_world->jump, memory_order_acquire);
    if (g_det) return j;
    uint64_t real = rv_real_ns();
    uint64_t base = g_world->epoch_real + atomic_load_explicit(&g_world->idle_real, memory_order_relaxed);
    uint64_t ran = real > base ? real - base : 0;
    return (g_speed_one ? ran : (uint64_t)((double)ran * g_speed)) + j;
}

void rv_publish_exit(void) {
    ensure_init();
    rv_charges *p = pub_slot();
    if (p) atomic_store(&p->exit_at, rv_vnow());
}

/* The charges slot process pid published, or NULL. */
static rv_charges *slot_of(int32_t pid) {
    rv_world *w = g_world;
    for (int i = 0, hi = rv_charges_hi(w); i < hi; ++i)
        if (atomic_load_explicit(&w->charges[i].pid, memory_order_relaxed) == pid) return &w->charges[i];
    return NULL;
}

int rv_proc_exit_at(int32_t pid, rv_vtime_ns *at) {
    ensure_init();
    rv_charges *c = slot_of(pid);
    uint64_t x = c ? atomic_load(&c->exit_at) : 0;
    if (!x) return 0;
    *at = x;
    return 1;
}

void rv_wake_at(rv_vtime_ns t) {
    ensure_init();
    uint64_t v = own_part() + jump_term();
    if (v > t)
        rv_exclude_foreign(UINT64_MAX / 4, t); /* capped at what lies above max(t, what was read) */
    else if (v < t)
        rv_adopt_charges(t - v);
}

void rv_exclude_idle(uint64_t from, uint64_t to) {
    ensure_init();
    if (g_det || to <= from) return;
    rv_world *w = g_world;
    uint32_t unlocked = 0;
    while (!atomic_compare_exchange_weak(&w->idle_lock, &unlocked, 1)) {
        unlocked = 0;
        sched_yield();
    }
    uint64_t upto = atomic_load(&w->idle_upto);
    if (from < upto) from = upto;
    if (to > from) {
        atomic_fetch_add(&w->idle_real, to - from);
        atomic_store(&w->idle_upto, to);
    }
    atomic_store(&w->idle_lock, 0);
}

/* This process's publication slot (claimed at first use; a fork child claims its own). */
static rv_charges *pub_slot(void) {
    if (__builtin_expect(g_pub != NULL, 1)) return g_pub;
    int32_t me = (int32_t)getpid();
    rv_world *w = g_world;
    int saved_errno = errno; /* a clock read must not change errno */
    for (int pass = 0; pass < 3; ++pass)
        for (int i = 0; i < RV_MAX_PROCS; ++i) {
            int32_t cur = atomic_load(&w->charges[i].pid);
            /* first pass: this pid's own slot (from before an exec: one slot per process, so that
             * others find this image's terms); second: a free slot; third: one whose process is gone */
            if (pass == 0 ? cur != me : pass == 1 ? cur != 0 : (cur == 0 || pid_alive(cur))) continue;
            if (atomic_compare_exchange_strong(&w->charges[i].pid, &cur, me)) {
                rv_charges *c = &w->charges[i];
                atomic_store(&c->ns, atomic_load(&g_charge));
                atomic_store(&c->adopted, atomic_load(&g_adopted));
                atomic_store(&c->overhead, atomic_load(&g_overhead));
                atomic_store(&c->foreign, atomic_load(&g_foreign));
                atomic_store(&c->sent_at, 0); /* a previous owner's sends are not this process's */
                atomic_store(&c->sends, 0);
                /* a fresh process (or a fork child) has one thread: the caller; pthread_create's
                 * interposer counts the others (hosttime/threads.c) */
                atomic_store(&c->threads, 1);
                atomic_store(&c->parked, 0);
                atomic_fetch_add(&c->pgen, 1);
                atomic_store(&c->checked, 0);
                atomic_store(&c->flags, 0);
                atomic_store(&c->exit_at, 0);
                atomic_store(&c->lead_until, atomic_load(&g_lead_until));
                rv_raise_hi(&w->charges_hi, i + 1);
                g_pub = c;
                g_pub_pid = me;
                errno = saved_errno;
                return g_pub;
            }
        }
    errno = saved_errno;
    return NULL;
}

static inline void charge(uint64_t d) {
    atomic_fetch_add_explicit(&g_charge, d, memory_order_relaxed);
    rv_charges *p = pub_slot();
    if (p) atomic_fetch_add_explicit(&p->ns, d, memory_order_relaxed);
}

void rv_vcharge(rv_vdur_ns d) {
    ensure_init();
    if (d && !t_own_work) charge(d);
}

void rv_vtick(void) {
    ensure_init();
    uint64_t d = g_det ? g_gap_ns : g_read_charge;
    if (d && !t_own_work) charge(d);
}

void rv_own_enter(void) {
    rv_enter();
    t_own_work++;
}

void rv_own_leave(void) {
    if (t_own_work > 0) t_own_work--;
    rv_leave();
}

rv_charges *rv_own_charges(void) {
    ensure_init();
    return pub_slot();
}

int rv_clock_ready(void) { return atomic_load_explicit(&g_ready, memory_order_acquire); }

void rv_adopt_charges(uint64_t ns) {
    if (!ns) return;
    uint64_t v = atomic_fetch_add_explicit(&g_adopted, ns, memory_order_relaxed) + ns;
    rv_charges *p = pub_slot();
    if (p) atomic_store_explicit(&p->adopted, v, memory_order_relaxed);
}

static void futex_wake_all(_Atomic uint32_t *word) {
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE, 0x7fffffff, NULL, NULL, 0);
}

static void (*_Atomic g_own_jump_hook)(void);

void rv_set_own_jump_hook(void (*fn)(void)) { atomic_store(&g_own_jump_hook, fn); }

enum jump_kind { JUMP_CHARGED, JUMP_WORLD, JUMP_IDLE };

/* Raise a process's idle lead (its slot's, or this process's own before it has one) to at least e. */
static void raise_lead(rv_charges *c, uint64_t e) {
    _Atomic uint64_t *at = c ? &c->lead_until : &g_lead_until;
    uint64_t cur = atomic_load(at);
    while (cur < e && !atomic_compare_exchange_weak(at, &cur, e)) {}
}

static uint64_t clock_nolead(rv_charges *c, rv_vtime_ns ref_now);

/* The world's idle jump to t (every thread of the world blocked in a wait): every process's clock to
 * t at least, each by its own lead (raised to t less its clock without the lead); a process already
 * past t stays where it is. Before, the jump raised J, which every clock adds: a process ahead of the
 * others by its own jumps (a GPU sync, the own advance) was carried as far past the target as it was
 * ahead, beyond the instant at which a process behind would send to it (an idle server, ahead by its
 * heartbeat's own advances, read a client's request 100-300 ms after it was sent:
 * tests/native/test_coord_idle_server.py). t also becomes the world's floor. */
static void raise_world(rv_vtime_ns t) {
    rv_world *w = g_world;
    uint64_t f = atomic_load(&w->floor);
    while (f < t && !atomic_compare_exchange_weak(&w->floor, &f, t)) {}
    uint64_t j = atomic_load(&w->jump);
    rv_vtime_ns ref = rv_world_ref_live();
    rv_charges *mine = pub_slot();
    uint64_t own = own_part();
    for (int i = 0, hi = rv_charges_hi(w); i < hi; ++i) {
        rv_charges *c = &w->charges[i];
        if (!atomic_load_explicit(&c->pid, memory_order_relaxed)) continue;
        uint64_t base = c == mine ? own + j : clock_nolead(c, ref); /* its clock without the lead */
        if (base < t) raise_lead(c, t - base + j);
    }
    if (!mine && own < t) raise_lead(NULL, t - own); /* no slot (the table full): its own copy */
}

static int jump(rv_vtime_ns t, rv_vtime_ns *from, enum jump_kind kind) {
    ensure_init();
    if (t == RV_VTIME_INVALID) return 0;
    rv_vtime_ns now = rv_vnow();
    *from = now;
    if (kind == JUMP_WORLD) {
        /* the others move even when this process is past t already */
        raise_world(t);
    } else if (t <= now) {
        return 0;
    } else if (kind == JUMP_IDLE) {
        /* this process only, by its lead: idle time, not work (no other process adopts it), and
         * absorbed by the world's later idle jumps until they pass it */
        raise_lead(pub_slot(), t - own_part());
    } else {
        /* this process only: the jump is charged (and published like a charge, so that a process
         * idle meanwhile adopts it); a GPU sync in one rank does not move the others */
        uint64_t cur = own_part() + jump_term();
        if (t > cur) charge(t - cur);
    }
    if (t > now) clamp_last(t);
    if (kind != JUMP_WORLD) {
        /* this process's sleeping threads look at their deadlines (the world's advance wakes the
         * waiters it makes due itself: hosttime/world.c) */
        void (*hook)(void) = atomic_load(&g_own_jump_hook);
        if (hook) hook();
    }
    atomic_fetch_add(&g_world->jumps_made, 1);
    atomic_fetch_add(&g_world->gen, 1);
    /* the count is raised before a waiter's futex reads gen, and read here after the bump */
    if (atomic_load(&g_world->gen_waiters)) futex_wake_all(&g_world->gen);
    return t > now;
}

int rv_vjump_to(rv_vtime_ns t, rv_vtime_ns *from) { return jump(t, from, JUMP_CHARGED); }

void rv_vreach_floor(rv_vtime_ns t) {
    ensure_init();
    uint64_t own = own_part();
    if (t != RV_VTIME_INVALID && t > own + jump_term()) raise_lead(pub_slot(), t - own);
}

int rv_vjump_idle(rv_vtime_ns t, rv_vtime_ns *from) { return jump(t, from, JUMP_IDLE); }

int rv_vjump_world(rv_vtime_ns t, rv_vtime_ns *from) { return jump(t, from, JUMP_WORLD); }

void rv_publish_high(void) {
    ensure_init();
    uint64_t v = rv_vnow();
    uint64_t h = atomic_load(&g_world->high);
    while (h < v && !atomic_compare_exchange_weak(&g_world->high, &h, v)) {}
}

int rv_clock_base(clockid_t id, int64_t *base) {
    ensure_init();
    switch (id) {
    case CLOCK_REALTIME:
    case CLOCK_REALTIME_COARSE:
        *base = g_world->base_realtime;
        return 0;
    case CLOCK_MONOTONIC:
    case CLOCK_MONOTONIC_RAW:
    case CLOCK_MONOTONIC_COARSE:
        *base = g_world->base_monotonic;
        return 0;
    case CLOCK_BOOTTIME:
        *base = g_world->base_boottime;
        return 0;
    case CLOCK_TAI:
        *base = g_world->base_tai;
        return 0;
    default:
        return -1; /* CPU-time clocks and alarm clocks stay real */
    }
}

static void commit_stall(uint64_t a, uint64_t b);

void rv_enter(void) {
    if (t_depth++ == 0) {
        ensure_init();
        t_entry_real = rv_real_ns();
        /* the gap of host code that ends here: the part of it that this thread spent waiting for a
         * core is not host time (read inside the bracket, so the reading's cost is overhead too) */
        if (g_cpu_clock) {
            if (!t_leave_real) {
                rv_stall_rebase(); /* the thread's first bracket: its first reading, and its slot */
            } else if (t_entry_real - t_leave_real >= STALL_MIN_GAP_NS) {
                uint64_t s = rv_stall_gap(t_entry_real - t_leave_real);
                if (s) commit_stall(t_entry_real - s, t_entry_real);
            }
            rv_stall_mark_gap(0);
        }
        if (!g_det) rv_open_begin(t_entry_real);
    }
}

/* Merge [a, b] into the world's overhead union U (what lies before the counted edge is not counted
 * again; intervals end nearly in order, so the union is close to exact); extra: real ns that belong
 * to the interval but fall outside it (a bracket's calibrated cost). */
static void union_add_plus(uint64_t a, uint64_t b, uint64_t extra) {
    rv_world *w = g_world;
    uint64_t upto = atomic_load_explicit(&w->ov_upto, memory_order_relaxed);
    while (b > upto) {
        uint64_t from = a > upto ? a : upto;
        if (atomic_compare_exchange_weak_explicit(&w->ov_upto, &upto, b, memory_order_relaxed,
                                                  memory_order_relaxed)) {
            /* plus the bracket's calibrated cost outside its timestamps, as in the overhead */
            atomic_fetch_add_explicit(&w->ov_union, b - from + extra, memory_order_relaxed);
            return;
        }
    }
}

static void union_add(uint64_t a, uint64_t b) { union_add_plus(a, b, g_leak_ns); }

/* Exclude the stall [a, b] (real ns) from this process's clock as overhead, once even when threads
 * of the process stalled at the same time (a union, as U), and from idle processes' clocks through U
 * (they were waiting for this one, which the load held back). */
static void commit_stall(uint64_t a, uint64_t b) {
    uint64_t upto = atomic_load_explicit(&g_stall_upto, memory_order_relaxed);
    while (b > upto) {
        uint64_t from = a > upto ? a : upto;
        if (atomic_compare_exchange_weak_explicit(&g_stall_upto, &upto, b, memory_order_relaxed,
                                                  memory_order_relaxed)) {
            uint64_t d = b - from;
            atomic_fetch_add_explicit(&g_stall, d, memory_order_relaxed);
            uint64_t v = atomic_fetch_add_explicit(&g_overhead, d, memory_order_relaxed) + d;
            if (g_pub) atomic_store_explicit(&g_pub->overhead, v, memory_order_relaxed);
            union_add_plus(from, b, 0);
            return;
        }
    }
}

void rv_stall_wait_enter(void) {
    if (g_cpu_clock) rv_stall_wait_begin();
}

void rv_stall_wait_leave(rv_vtime_ns deadline) {
    if (!g_cpu_clock) return;
    uint64_t s = rv_stall_wait_end();
    if (!s) return;
    /* not below what the program has read, nor below the deadline of a wait that reached it: the
     * wake's delay is excluded from the time after the deadline, not from the wait's length */
    uint64_t v = own_part() + jump_term();
    uint64_t floor = atomic_load(&g_last);
    if (deadline != RV_VTIME_INVALID && deadline <= v && deadline > floor) floor = deadline;
    uint64_t room = v > floor ? v - floor : 0;
    if (!g_speed_one) room = (uint64_t)((double)room / g_speed); /* in real ns, as the stall */
    if (s > room) s = room;
    if (s) {
        uint64_t now = rv_real_ns();
        commit_stall(now - s, now);
    }
}

void rv_stall_blocked_begin(void) {
    if (!g_cpu_clock || t_depth > 0 || !t_leave_real) return;
    uint64_t now = rv_real_ns();
    uint64_t s = rv_stall_gap(now > t_leave_real ? now - t_leave_real : 0);
    if (s) commit_stall(now - s, now);
}

void rv_stall_blocked_end(void) {
    if (g_cpu_clock) rv_stall_rebase();
}

int rv_stall_commit_others(void) {
    if (!g_cpu_clock) return 0;
    uint64_t now = rv_real_ns();
    uint64_t s = rv_stall_take_others(now);
    if (s) commit_stall(now - s, now);
    return s != 0;
}

void rv_leave(void) {
    if (t_depth <= 0) return;
    if (--t_depth == 0) {
        uint64_t end = rv_real_ns();
        if (g_cpu_clock && end - t_entry_real >= STALL_MIN_GAP_NS) {
            /* a long bracket: its run delay is overhead already, not the next gap's */
            rv_stall_rebase();
            end = rv_real_ns();
        }
        t_leave_real = end;
        if (g_cpu_clock) rv_stall_mark_gap(end);
        uint64_t d = end > t_entry_real ? end - t_entry_real : 0;
        t_own_ns += d + g_leak_ns;
        uint64_t v = atomic_fetch_add_explicit(&g_overhead, d + g_leak_ns, memory_order_relaxed) + d + g_leak_ns;
        if (g_pub) atomic_store_explicit(&g_pub->overhead, v, memory_order_relaxed);
        rv_open_end(); /* after the overhead grew: a reading in between counts the bracket twice, not never */
        if (!g_det && end > t_entry_real) union_add(t_entry_real, end);
    }
}

uint64_t rv_overhead_union_ns(void) {
    ensure_init();
    return atomic_load_explicit(&g_world->ov_union, memory_order_relaxed);
}

uint64_t rv_foreign_overhead_ns(void) { return atomic_load(&g_foreign); }

void rv_exclude_foreign(uint64_t ns, rv_vtime_ns floor) {
    if (g_det || !ns) return;
    uint64_t seen = atomic_load(&g_last);
    if (floor < seen) floor = seen;
    uint64_t v = own_part() + jump_term();
    uint64_t room = v > floor ? v - floor : 0;
    if (g_speed != 1.0) room = (uint64_t)((double)room / g_speed); /* in real ns, as the exclusion */
    if (ns > room) ns = room;
    if (!ns) return;
    uint64_t f = atomic_fetch_add_explicit(&g_foreign, ns, memory_order_relaxed) + ns;
    if (g_pub) atomic_store_explicit(&g_pub->foreign, f, memory_order_relaxed);
}

void rv_bracket_skip(uint64_t ns) {
    if (t_depth > 0) {
        t_entry_real += ns;
        rv_open_move(t_entry_real); /* also ends rv_bracket_blocked's pause */
    }
}

void rv_bracket_blocked(void) {
    if (t_depth > 0) rv_open_move(0);
}

uint64_t rv_exclude_own(uint64_t ns) {
    if (!ns) return 0;
    ensure_init();
    /* not below what the program has read: a stretch another thread read the clock in stays counted */
    uint64_t room = live_room();
    if (ns > room) ns = room;
    if (!ns) return 0;
    if (t_depth > 0) {
        /* the bracket's span will be measured from a later entry: the hold is not in the union; its
         * open slot stays as it is (a hold's stays paused, rv_bracket_blocked, until rv_bracket_skip) */
        t_entry_real += ns;
    }
    uint64_t v = atomic_fetch_add_explicit(&g_overhead, ns, memory_order_relaxed) + ns;
    if (g_pub) atomic_store_explicit(&g_pub->overhead, v, memory_order_relaxed);
    return ns;
}

/* A process's clock from its published terms, without its idle lead: its own part plus J. */
static uint64_t clock_nolead(rv_charges *c, rv_vtime_ns ref_now) {
    int64_t plus = (int64_t)(atomic_load_explicit(&c->ns, memory_order_relaxed) +
                             atomic_load_explicit(&c->adopted, memory_order_relaxed));
    int64_t minus = 0;
    if (!g_det) {
        uint64_t ex = atomic_load_explicit(&c->overhead, memory_order_relaxed) +
                      atomic_load_explicit(&c->foreign, memory_order_relaxed);
        minus = g_speed_one ? (int64_t)ex : (int64_t)((double)ex * g_speed);
    }
    int64_t v = (int64_t)ref_now + plus - minus;
    return v < 0 ? 0 : (uint64_t)v;
}

int rv_proc_clock(int32_t pid, rv_vtime_ns ref_now, rv_vtime_ns *clock) {
    ensure_init();
    rv_charges *c = slot_of(pid);
    if (!c) return 0;
    uint64_t v = clock_nolead(c, ref_now);
    /* its idle lead over the world's jump term */
    uint64_t e = atomic_load_explicit(&c->lead_until, memory_order_acquire),
             j = atomic_load_explicit(&g_world->jump, memory_order_acquire);
    *clock = v + (e > j ? e - j : 0);
    return 1;
}

void rv_leave_discard(void) {
    if (t_depth > 0 && --t_depth == 0) {
        rv_open_end();
        if (g_cpu_clock) {
            uint64_t end = rv_real_ns();
            if (end - t_entry_real >= STALL_MIN_GAP_NS) rv_stall_rebase();
            t_leave_real = end;
            rv_stall_mark_gap(end);
        }
    }
}

uint64_t rv_stall_ns(void) { return atomic_load(&g_stall); }

void rv_clock_terms_now(rv_clock_terms *t) {
    ensure_init();
    t->real = rv_real_ns();
    t->vnow = rv_vnow_peek();
    t->jump = atomic_load(&g_world->jump);
    t->idle = atomic_load(&g_world->idle_real);
    t->charges = atomic_load(&g_charge);
    t->adopted = atomic_load(&g_adopted);
    t->overhead = atomic_load(&g_overhead);
    t->stall = atomic_load(&g_stall);
    t->foreign = atomic_load(&g_foreign);
}

int rv_host_clock_cpu(void) {
    ensure_init();
    return g_cpu_clock;
}

// revati_stall_ns: real ns this process's threads waited for a core, excluded by the CPU host clock
RV_EXPORT unsigned long long revati_stall_ns(void) { return (unsigned long long)rv_stall_ns(); }

// revati_host_clock_cpu: 1 when the CPU host clock is on (REVATI_HOST_CLOCK=cpu, the default), else 0
RV_EXPORT int revati_host_clock_cpu(void) { return rv_host_clock_cpu(); }

// revati_leak_ns: the calibrated per-bracket cost charged to overhead besides the measured time
RV_EXPORT unsigned long long revati_leak_ns(void) { return (unsigned long long)g_leak_ns; }

// revati_read_ns: the calibrated native cost of one clock read, charged per interposed read
RV_EXPORT unsigned long long revati_read_ns(void) { return (unsigned long long)g_read_ns; }

// revati_read_charge_ns: what each interposed read charges (the native cost less what leaks)
RV_EXPORT unsigned long long revati_read_charge_ns(void) { return (unsigned long long)g_read_charge; }

// revati_foreign_overhead_ns: other processes' overhead excluded from this one while it waited
RV_EXPORT unsigned long long revati_foreign_overhead_ns(void) { return (unsigned long long)rv_foreign_overhead_ns(); }

// revati_overhead_ns: this process's real time excluded as revati's own (for tools/bench_overhead.py)
RV_EXPORT unsigned long long revati_overhead_ns(void) {
    return (unsigned long long)(rv_overhead_ns() - rv_stall_ns()); /* revati's own: stalls are not */
}

// revati_thread_overhead_ns: real ns the calling thread spent in revati's brackets (its own work,
// excluded from virtual time; a hold's blocked time is not in it): a thread's CPU time less this is
// the program's own CPU (tools/vllm_compare/step_log)
RV_EXPORT unsigned long long revati_thread_overhead_ns(void) { return (unsigned long long)t_own_ns; }

// revati_real_ns: real monotonic ns, never virtualised (for tests and tools)
RV_EXPORT unsigned long long revati_real_ns(void) { return (unsigned long long)rv_real_ns(); }
