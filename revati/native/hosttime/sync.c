/* revati thread-synchronisation interposers: timed condition, semaphore and mutex waits, and timed
 * futex waits made through syscall(2), take their deadlines on the virtual clock (they were computed
 * from the interposed clock_gettime), so each is translated to a virtual deadline and waited for in
 * real slices. */
#include <dlfcn.h>
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>

#include "revati/hosttime.h"
#include "revati/vclock.h"
#include "world_scan.h"

typedef int (*cond_timedwait_fn)(pthread_cond_t *, pthread_mutex_t *, const struct timespec *);
typedef int (*cond_clockwait_fn)(pthread_cond_t *, pthread_mutex_t *, clockid_t, const struct timespec *);
typedef int (*sem_clockwait_fn)(sem_t *, clockid_t, const struct timespec *);
typedef int (*sem_timedwait_fn)(sem_t *, const struct timespec *);
typedef int (*mutex_clocklock_fn)(pthread_mutex_t *, clockid_t, const struct timespec *);

static cond_clockwait_fn real_cond_clockwait;
static sem_clockwait_fn real_sem_clockwait;
static mutex_clocklock_fn real_mutex_clocklock;

static void resolve(void) {
    if (real_cond_clockwait) return;
    real_sem_clockwait = (sem_clockwait_fn)dlsym(RTLD_NEXT, "sem_clockwait");
    real_mutex_clocklock = (mutex_clocklock_fn)dlsym(RTLD_NEXT, "pthread_mutex_clocklock");
    real_cond_clockwait = (cond_clockwait_fn)dlsym(RTLD_NEXT, "pthread_cond_clockwait");
}

/* The virtual deadline of an absolute time on clock id, or -1 if the clock is not virtualised. */
static int64_t to_virtual(clockid_t id, const struct timespec *abs) {
    int64_t base;
    if (rv_clock_base(id, &base) != 0) return -1;
    int64_t t = (int64_t)rv_ts_to_ns(abs) - base;
    return t < 0 ? 0 : t;
}

/* A real absolute CLOCK_MONOTONIC time slice ns from now. */
static struct timespec real_after(uint64_t ns) {
    struct timespec now;
    rv_real_clock_gettime(CLOCK_MONOTONIC, &now);
    rv_ns_to_ts(rv_ts_to_ns(&now) + ns, &now);
    return now;
}

static int bad_ts(const struct timespec *ts) { return !ts || ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000L; }

/* glibc keeps a condition variable's clock in bit 1 of __wrefs (set by pthread_condattr_setclock). */
static clockid_t cond_clock(pthread_cond_t *c) {
    return (__atomic_load_n(&c->__data.__wrefs, __ATOMIC_RELAXED) & 2) ? CLOCK_MONOTONIC : CLOCK_REALTIME;
}

/* Threads waiting in pthread_mutex_lock, counted per mutex (by a hash of its address, like the
 * condition signals below: a collision only costs a few rounds of let_contenders_in). glibc's lock
 * word cannot tell: it stays at 2 ("locked, with waiters") after a condition wait reacquires the
 * mutex, whoever waits. */
#define CONTEND_SLOTS 4096
static _Atomic uint32_t g_contenders[CONTEND_SLOTS];
static _Atomic uint64_t g_contend_rounds; /* rounds let_contenders_in waited (tests) */

static _Atomic uint32_t *contenders(const pthread_mutex_t *m) {
    uint64_t h = ((uintptr_t)m >> 3) * 0x9E3779B97F4A7C15ULL;
    return &g_contenders[h >> 52]; /* the top 12 bits: CONTEND_SLOTS entries */
}

typedef int (*mutex_lock_fn)(pthread_mutex_t *);

// pthread_mutex_lock: a call that finds the mutex taken is counted as a contender while it waits
RV_EXPORT int pthread_mutex_lock(pthread_mutex_t *m) {
    static mutex_lock_fn real;
    if (!real) real = (mutex_lock_fn)dlsym(RTLD_NEXT, "pthread_mutex_lock");
    if (__atomic_load_n(&m->__data.__lock, __ATOMIC_RELAXED) == 0) return real(m);
    _Atomic uint32_t *n = contenders(m);
    atomic_fetch_add(n, 1);
    int rc = real(m);
    atomic_fetch_sub(n, 1);
    return rc;
}

// revati_contend_rounds: extra condition waits made so far to let a mutex contender in (tests)
RV_EXPORT unsigned long long revati_contend_rounds(void) { return atomic_load(&g_contend_rounds); }

/* After a slice, this thread holds the mutex again for its next step. If another thread waits for
 * the mutex (in pthread_mutex_lock, counted above), it was woken when the slice released it but
 * may not have run yet: on a loaded host this thread's reacquisitions then starve it for the whole
 * wait (torch's watchdog holds its work-list mutex so while the main thread waits to enqueue an
 * all-reduce). Wait a little more on the condition (which releases the mutex, and keeps a signal sent
 * meanwhile) until nobody waits for the mutex, at most CONTEND_ROUNDS times. */
#define CONTEND_ROUNDS 20
#define CONTEND_WAIT_NS 200000LL
static int let_contenders_in(pthread_cond_t *c, pthread_mutex_t *m) {
    int rc = ETIMEDOUT;
    for (int k = 0; k < CONTEND_ROUNDS && atomic_load(contenders(m)) > 0; ++k) {
        atomic_fetch_add(&g_contend_rounds, 1);
        struct timespec ts = real_after(CONTEND_WAIT_NS);
        rc = real_cond_clockwait(c, m, CLOCK_MONOTONIC, &ts);
        if (rc != ETIMEDOUT) break;
    }
    return rc;
}

/* Signals and broadcasts, counted per condition variable (by a hash of its address: a collision
 * only costs a spurious wakeup). A slice that times out may have lost a wakeup: glibc returns
 * ETIMEDOUT from a wait whose futex timed out even when a signal came before it cancelled its
 * waiting (the signal is then passed to another waiter, and lost when there is none), and a signal
 * sent after releasing the mutex finds no waiter while this thread is between two slices. Natively
 * the caller re-checks its predicate after ETIMEDOUT; between slices nobody would, so a slice that
 * ends after a signal of its condition returns as a wakeup (callers accept spurious ones). Lost, the
 * waiter slept to its deadline: gloo's connect (a 30 min timeout) hung vLLM's TP2 start-up. */
#define SIGNAL_SLOTS 4096
static _Atomic uint32_t g_signals[SIGNAL_SLOTS];

static _Atomic uint32_t *signal_count(const pthread_cond_t *c) {
    uint64_t h = ((uintptr_t)c >> 3) * 0x9E3779B97F4A7C15ULL;
    return &g_signals[h >> 52]; /* the top 12 bits: SIGNAL_SLOTS entries */
}

typedef int (*cond_signal_fn)(pthread_cond_t *);

static cond_signal_fn next_cond_fn(const char *name) {
    /* the current symbol version (libstdc++'s notify_one and notify_all link to it) */
    cond_signal_fn f = (cond_signal_fn)dlvsym(RTLD_NEXT, name, "GLIBC_2.3.2");
    return f ? f : (cond_signal_fn)dlsym(RTLD_NEXT, name);
}

// pthread_cond_signal: counted (a waiter between two slices sees it), then glibc's
RV_EXPORT int pthread_cond_signal(pthread_cond_t *c) {
    static cond_signal_fn real;
    if (!real) real = next_cond_fn("pthread_cond_signal");
    atomic_fetch_add(signal_count(c), 1);
    rv_world_event();
    return real(c);
}

// pthread_cond_broadcast: counted, then glibc's
RV_EXPORT int pthread_cond_broadcast(pthread_cond_t *c) {
    static cond_signal_fn real;
    if (!real) real = next_cond_fn("pthread_cond_broadcast");
    atomic_fetch_add(signal_count(c), 1);
    rv_world_event();
    return real(c);
}

/* A condition wait until virtual deadline d. The mutex is held between slices; a slice woken, or
 * timed out after a signal of c since the wait began, returns 0 (a wakeup) at once. */
static int vcond_wait(pthread_cond_t *c, pthread_mutex_t *m, int64_t d, const char *why) {
    uint32_t signals = atomic_load(signal_count(c));
    rv_wait w;
    rv_enter();
    rv_vtick();
    rv_wait_begin(&w, (rv_vtime_ns)d, why);
    rv_leave();
    int rc;
    for (;;) {
        uint64_t slice;
        int st = rv_wait_step(&w, &slice);
        if (st > 0) {
            rc = ETIMEDOUT;
            break;
        }
        if (st < 0) {
            rc = 0; /* a signal: a spurious wakeup, which callers must accept */
            break;
        }
        struct timespec ts = real_after(slice);
        rc = real_cond_clockwait(c, m, CLOCK_MONOTONIC, &ts);
        if (rc == ETIMEDOUT) rc = let_contenders_in(c, m);
        if (rc == ETIMEDOUT && atomic_load(signal_count(c)) != signals) rc = 0;
        if (rc != ETIMEDOUT) break;
    }
    rv_enter();
    rv_wait_end(&w);
    rv_leave();
    return rc;
}

typedef int (*cond_wait_fn)(pthread_cond_t *, pthread_mutex_t *);

// pthread_cond_wait: untimed; the thread is published as parked meanwhile (the fast advance)
RV_EXPORT int pthread_cond_wait(pthread_cond_t *restrict c, pthread_mutex_t *restrict m) {
    static cond_wait_fn real;
    if (!real) {
        real = (cond_wait_fn)dlvsym(RTLD_NEXT, "pthread_cond_wait", "GLIBC_2.3.2");
        if (!real) real = (cond_wait_fn)dlsym(RTLD_NEXT, "pthread_cond_wait");
    }
    rv_park p;
    rv_park_begin(&p, "pthread_cond_wait");
    int rc = real(c, m);
    rv_park_end(&p);
    return rc;
}

typedef int (*sem_wait_fn)(sem_t *);

// sem_wait: untimed (Python's lock acquire without a timeout); parked meanwhile
RV_EXPORT int sem_wait(sem_t *s) {
    static sem_wait_fn real;
    if (!real) real = (sem_wait_fn)dlsym(RTLD_NEXT, "sem_wait");
    if (sem_trywait(s) == 0) return 0;
    rv_park p;
    rv_park_begin(&p, "sem_wait");
    int rc = real(s);
    int e = errno;
    rv_park_end(&p);
    errno = e;
    return rc;
}

// pthread_cond_timedwait: abstime is on the condition's clock, which reads virtual time
RV_EXPORT int pthread_cond_timedwait(pthread_cond_t *restrict c, pthread_mutex_t *restrict m,
                                     const struct timespec *restrict abstime) {
    resolve();
    if (bad_ts(abstime)) return EINVAL;
    return vcond_wait(c, m, to_virtual(cond_clock(c), abstime), "pthread_cond_timedwait");
}

// pthread_cond_clockwait: abstime on clock id (virtual unless a CPU-time clock, which is invalid here)
RV_EXPORT int pthread_cond_clockwait(pthread_cond_t *restrict c, pthread_mutex_t *restrict m, clockid_t id,
                                     const struct timespec *restrict abstime) {
    resolve();
    if (bad_ts(abstime)) return EINVAL;
    int64_t d = to_virtual(id, abstime);
    if (d < 0) return real_cond_clockwait(c, m, id, abstime);
    return vcond_wait(c, m, d, "pthread_cond_clockwait");
}

/* A semaphore wait until virtual deadline d (a post is never lost: the count stays). */
static int vsem_wait(sem_t *s, int64_t d, const char *why) {
    if (sem_trywait(s) == 0) return 0;
    if (errno != EAGAIN) return -1;
    rv_wait w;
    rv_enter();
    rv_vtick();
    rv_wait_begin(&w, (rv_vtime_ns)d, why);
    rv_leave();
    int rc, err = 0;
    for (;;) {
        uint64_t slice;
        int st = rv_wait_step(&w, &slice);
        if (st > 0) {
            rc = sem_trywait(s);
            err = rc ? (errno == EAGAIN ? ETIMEDOUT : errno) : 0;
            break;
        }
        if (st < 0) {
            rc = -1;
            err = EINTR;
            break;
        }
        struct timespec ts = real_after(slice);
        rc = real_sem_clockwait(s, CLOCK_MONOTONIC, &ts);
        if (rc == 0) break;
        if (errno != ETIMEDOUT) {
            err = errno;
            break;
        }
    }
    rv_enter();
    rv_wait_end(&w);
    rv_leave();
    if (rc) errno = err;
    return rc ? -1 : 0;
}

// sem_timedwait: abstime on CLOCK_REALTIME (virtual)
RV_EXPORT int sem_timedwait(sem_t *restrict s, const struct timespec *restrict abstime) {
    resolve();
    if (bad_ts(abstime)) {
        errno = EINVAL;
        return -1;
    }
    return vsem_wait(s, to_virtual(CLOCK_REALTIME, abstime), "sem_timedwait");
}

// sem_clockwait: abstime on clock id (Python's lock acquire with a timeout waits here)
RV_EXPORT int sem_clockwait(sem_t *restrict s, clockid_t id, const struct timespec *restrict abstime) {
    resolve();
    if (bad_ts(abstime)) {
        errno = EINVAL;
        return -1;
    }
    int64_t d = to_virtual(id, abstime);
    if (d < 0) return real_sem_clockwait(s, id, abstime);
    return vsem_wait(s, d, "sem_clockwait");
}

/* A timed mutex lock until virtual deadline d. */
static int vmutex_lock(pthread_mutex_t *m, int64_t d, const char *why) {
    int rc = pthread_mutex_trylock(m);
    if (rc != EBUSY) return rc;
    rv_wait w;
    rv_enter();
    rv_vtick();
    rv_wait_begin(&w, (rv_vtime_ns)d, why);
    rv_leave();
    for (;;) {
        uint64_t slice;
        int st = rv_wait_step(&w, &slice);
        if (st > 0) {
            rc = pthread_mutex_trylock(m);
            if (rc == EBUSY) rc = ETIMEDOUT;
            break;
        }
        if (st < 0) continue; /* a mutex wait is not interrupted by signals */
        struct timespec ts = real_after(slice);
        rc = real_mutex_clocklock(m, CLOCK_MONOTONIC, &ts);
        if (rc != ETIMEDOUT) break;
    }
    rv_enter();
    rv_wait_end(&w);
    rv_leave();
    return rc;
}

// pthread_mutex_timedlock: abstime on CLOCK_REALTIME (virtual)
RV_EXPORT int pthread_mutex_timedlock(pthread_mutex_t *restrict m, const struct timespec *restrict abstime) {
    resolve();
    if (bad_ts(abstime)) return EINVAL;
    return vmutex_lock(m, to_virtual(CLOCK_REALTIME, abstime), "pthread_mutex_timedlock");
}

// pthread_mutex_clocklock: abstime on clock id
RV_EXPORT int pthread_mutex_clocklock(pthread_mutex_t *restrict m, clockid_t id, const struct timespec *restrict abstime) {
    resolve();
    if (bad_ts(abstime)) return EINVAL;
    int64_t d = to_virtual(id, abstime);
    if (d < 0) return real_mutex_clocklock(m, id, abstime);
    return vmutex_lock(m, d, "pthread_mutex_clocklock");
}

/* syscall(2) itself: only timed futex waits are revati's; everything else, and revati's own futex
 * waits (rv_real_futex), go to libc's syscall. */
typedef long (*syscall_fn)(long, ...);
static syscall_fn real_syscall;

static syscall_fn libc_syscall(void) {
    if (!real_syscall) real_syscall = (syscall_fn)dlsym(RTLD_NEXT, "syscall");
    return real_syscall;
}

long rv_real_futex(uint32_t *uaddr, int op, uint32_t val, const struct timespec *timeout, uint32_t *uaddr2,
                   uint32_t val3) {
    return libc_syscall()(SYS_futex, uaddr, op, val, timeout, uaddr2, val3);
}

/* A futex wait until virtual deadline d: real FUTEX_WAIT_BITSET slices on CLOCK_MONOTONIC (the
 * caller's private flag and bitset kept). As the kernel's: 0 when woken (or spuriously), -1 with
 * errno EAGAIN when the word no longer holds val, EINTR on a signal, ETIMEDOUT at the deadline. */
static long vfutex_wait(uint32_t *uaddr, int op, uint32_t val, uint32_t bitset, int64_t d) {
    int slice_op = FUTEX_WAIT_BITSET | (op & FUTEX_PRIVATE_FLAG);
    rv_wait w;
    rv_enter();
    rv_vtick();
    rv_wait_begin(&w, (rv_vtime_ns)d, "futex");
    rv_leave();
    long rc;
    int err = 0;
    for (;;) {
        uint64_t slice;
        int st = rv_wait_step(&w, &slice);
        if (st != 0) {
            rc = -1;
            err = st > 0 ? ETIMEDOUT : EINTR;
            break;
        }
        struct timespec ts = real_after(slice);
        rc = rv_real_futex(uaddr, slice_op, val, &ts, NULL, bitset);
        if (rc == 0) break;
        err = errno;
        if (err != ETIMEDOUT) break;
    }
    rv_enter();
    rv_wait_end(&w);
    rv_leave();
    if (rc) errno = err;
    return rc;
}

/* The virtual deadline of a futex wait's timeout, or -1 when it is not revati's to wait for:
 * FUTEX_WAIT's is relative, FUTEX_WAIT_BITSET's absolute on CLOCK_MONOTONIC, or on CLOCK_REALTIME
 * with FUTEX_CLOCK_REALTIME. */
static int64_t futex_deadline(int op, const struct timespec *t) {
    int cmd = op & FUTEX_CMD_MASK;
    if (!t || (cmd != FUTEX_WAIT && cmd != FUTEX_WAIT_BITSET)) return -1;
    clockid_t id = (op & FUTEX_CLOCK_REALTIME) ? CLOCK_REALTIME : CLOCK_MONOTONIC;
    if (cmd == FUTEX_WAIT_BITSET) return to_virtual(id, t);
    int64_t base;
    if (rv_clock_base(id, &base) != 0) return -1;
    rv_enter();
    rv_vtick();
    int64_t d = (int64_t)(rv_vnow() + rv_ts_to_ns(t));
    rv_leave();
    return d;
}

// syscall: a timed FUTEX_WAIT or FUTEX_WAIT_BITSET (libstdc++'s std::future::wait_for and timed
// atomic waits; torch's wait for its NCCL abort) waits in virtual time; all else is libc's
RV_EXPORT long syscall(long nr, ...) {
    va_list ap;
    va_start(ap, nr);
    long a[6];
    for (int i = 0; i < 6; i++) a[i] = va_arg(ap, long);
    va_end(ap);
    int op = (int)a[1], cmd = op & FUTEX_CMD_MASK;
    /* the fourth argument is a timeout only for these (FUTEX_WAKE_OP, FUTEX_REQUEUE: a count) */
    if (nr == SYS_futex && a[3] && (cmd == FUTEX_WAIT || cmd == FUTEX_WAIT_BITSET)) {
        const struct timespec *t = (const struct timespec *)a[3];
        if (bad_ts(t)) {
            errno = EINVAL;
            return -1;
        }
        int64_t d = futex_deadline(op, t);
        if (d >= 0) {
            uint32_t bitset = cmd == FUTEX_WAIT_BITSET ? (uint32_t)a[5] : FUTEX_BITSET_MATCH_ANY;
            return vfutex_wait((uint32_t *)a[0], op, (uint32_t)a[2], bitset, d);
        }
    }
    return libc_syscall()(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}
