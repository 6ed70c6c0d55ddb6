/* revati fd-wait interposers: the timeouts of poll, ppoll, select, pselect and epoll_wait(s) run on
 * the virtual clock. A real event (a ready fd, a signal) always ends the wait at once; an infinite
 * timeout goes straight to libc. "Nothing arrived" (a zero timeout that finds nothing, a timeout that
 * expires) is answered only once no other process could still send before that instant (the
 * conservative hold, hold.c), then looked at again. */
#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "revati/hosttime.h"
#include "revati/vclock.h"

typedef int (*poll_fn)(struct pollfd *, nfds_t, int);
typedef int (*ppoll_fn)(struct pollfd *, nfds_t, const struct timespec *, const sigset_t *);
typedef int (*select_fn)(int, fd_set *, fd_set *, fd_set *, struct timeval *);
typedef int (*pselect_fn)(int, fd_set *, fd_set *, fd_set *, const struct timespec *, const sigset_t *);
typedef int (*epoll_wait_fn)(int, struct epoll_event *, int, int);
typedef int (*epoll_pwait_fn)(int, struct epoll_event *, int, int, const sigset_t *);
typedef int (*epoll_pwait2_fn)(int, struct epoll_event *, int, const struct timespec *, const sigset_t *);

#define REAL(name) static name##_fn real_##name; if (!real_##name) real_##name = (name##_fn)dlsym(RTLD_NEXT, #name)

static rv_vtime_ns deadline_after(uint64_t ns) {
    rv_enter();
    rv_vtick();
    rv_vtime_ns d = rv_vnow() + ns;
    rv_leave();
    return d;
}

static void begin(rv_wait *w, rv_vtime_ns deadline, const char *why) {
    w->idle = rv_idle_begin();
    rv_enter();
    rv_wait_begin_poll(w, deadline, why);
    w->idle_tracked = 1;
    rv_leave();
}

/* timed_out: the wait reached its deadline (the clock stays at or past it) */
static void end(rv_wait *w, int timed_out) {
    rv_enter();
    rv_wait_end(w);
    rv_leave();
    rv_idle_end(w->idle, timed_out ? w->deadline : 0);
}

/* An untimed wait goes straight to libc, published as parked (the fast advance); the idle
 * accounting still applies around it. */
#define UNTIMED(call)                                \
    do {                                             \
        rv_idle_token tok_ = rv_idle_begin();        \
        rv_park park_;                               \
        rv_park_begin(&park_, "untimed wait");       \
        int r_ = (call);                             \
        int e_ = errno;                              \
        rv_park_end(&park_);                         \
        rv_idle_end(tok_, 0);                        \
        errno = e_;                                  \
        return r_;                                   \
    } while (0)

static uint64_t remaining(rv_vtime_ns deadline) {
    rv_enter();
    rv_vtime_ns now = rv_vnow();
    rv_leave();
    return deadline > now ? deadline - now : 0;
}

static const struct timespec k_zero = {0, 0};

/* A wait that found an fd ready: data may have come from another process (messages.c). */
static int found(int r) {
    if (r > 0) rv_msg_received();
    return r;
}

/* A zero-timeout look found nothing at the caller's now: 1 if it had to wait for other processes
 * (then look again: what they sent meanwhile was sent before now). */
static int hold_now(const char *why) {
    rv_enter();
    rv_vtime_ns now = rv_vnow_peek();
    rv_leave();
    return rv_hold_until(now, why);
}

/* A timed wait reached its deadline with nothing ready: the same, at the deadline (the wait leaves
 * the waiter table first: the hold registers this thread itself). */
static void hold_at_timeout(rv_wait *w) {
    rv_enter();
    rv_wait_end(w);
    rv_leave();
    if (!w->inert) rv_hold_until(w->deadline, w->why); /* an inert poll acts on nothing it saw */
}

/* A zero-timeout call: if it finds nothing, hold, and look once more if the hold waited. */
#define ZERO_TIMEOUT(call, why)                  \
    do {                                         \
        int r_ = (call);                         \
        if (r_ != 0 || !hold_now(why)) return r_; \
        return (call);                           \
    } while (0)

/* poll and ppoll share this loop: real ppoll in slices until an fd is ready or the deadline passes */
static int vpoll(struct pollfd *fds, nfds_t n, rv_vtime_ns deadline, const sigset_t *mask, const char *why) {
    REAL(ppoll);
    int r = real_ppoll(fds, n, &k_zero, mask);
    if (r != 0) return r;
    rv_wait w;
    begin(&w, deadline, why);
    for (;;) {
        uint64_t slice;
        int st = rv_wait_step(&w, &slice);
        if (st > 0) {
            hold_at_timeout(&w);
            r = real_ppoll(fds, n, &k_zero, mask); /* a last look: an event that came meanwhile wins */
            break;
        }
        if (st < 0) {
            r = -1;
            errno = EINTR;
            break;
        }
        struct timespec ts;
        rv_ns_to_ts(slice, &ts);
        r = real_ppoll(fds, n, &ts, mask);
        if (r != 0) break;
    }
    end(&w, r == 0);
    return r;
}

static int poll_impl(struct pollfd *fds, nfds_t n, int timeout_ms) {
    if (timeout_ms <= 0) {
        REAL(poll);
        if (timeout_ms < 0) UNTIMED(real_poll(fds, n, timeout_ms));
        ZERO_TIMEOUT(real_poll(fds, n, 0), "poll");
    }
    return vpoll(fds, n, deadline_after((uint64_t)timeout_ms * 1000000ULL), NULL, "poll");
}

// __poll_chk: the fortified poll
RV_EXPORT int __poll_chk(struct pollfd *fds, nfds_t n, int timeout_ms, size_t fdslen) {
    (void)fdslen;
    return poll(fds, n, timeout_ms);
}

static int ppoll_impl(struct pollfd *fds, nfds_t n, const struct timespec *tmo, const sigset_t *mask) {
    if (!tmo || (tmo->tv_sec == 0 && tmo->tv_nsec == 0)) {
        REAL(ppoll);
        if (!tmo) UNTIMED(real_ppoll(fds, n, tmo, mask));
        ZERO_TIMEOUT(real_ppoll(fds, n, tmo, mask), "ppoll");
    }
    if (tmo->tv_sec < 0 || tmo->tv_nsec < 0 || tmo->tv_nsec >= 1000000000L) {
        errno = EINVAL;
        return -1;
    }
    return vpoll(fds, n, deadline_after(rv_ts_to_ns(tmo)), mask, "ppoll");
}

/* select's fd sets are inputs and outputs: a second look at them starts from a copy of the inputs */
typedef struct {
    fd_set *sets[3];
    fd_set copy[3];
} fdset_copy;

static void fdsets_save(fdset_copy *c, fd_set *rd, fd_set *wr, fd_set *ex) {
    c->sets[0] = rd, c->sets[1] = wr, c->sets[2] = ex;
    for (int i = 0; i < 3; i++)
        if (c->sets[i]) memcpy(&c->copy[i], c->sets[i], sizeof(fd_set));
}

static void fdsets_restore(const fdset_copy *c) {
    for (int i = 0; i < 3; i++)
        if (c->sets[i]) memcpy(c->sets[i], &c->copy[i], sizeof(fd_set));
}

/* select and pselect: the fd sets are inputs and outputs, so each slice starts from a copy */
static int vselect(int nfds, fd_set *rd, fd_set *wr, fd_set *ex, rv_vtime_ns deadline, const sigset_t *mask,
                   const char *why) {
    REAL(pselect);
    fdset_copy c;
    fdsets_save(&c, rd, wr, ex);
    int r = real_pselect(nfds, rd, wr, ex, &k_zero, mask);
    if (r != 0) return r;
    rv_wait w;
    begin(&w, deadline, why);
    for (;;) {
        fdsets_restore(&c);
        uint64_t slice;
        int st = rv_wait_step(&w, &slice);
        if (st > 0) {
            hold_at_timeout(&w);
            r = real_pselect(nfds, rd, wr, ex, &k_zero, mask);
            break;
        }
        if (st < 0) {
            r = -1;
            errno = EINTR;
            break;
        }
        struct timespec ts;
        rv_ns_to_ts(slice, &ts);
        r = real_pselect(nfds, rd, wr, ex, &ts, mask);
        if (r != 0) break;
    }
    end(&w, r == 0);
    return r;
}

/* select/pselect with a zero timeout: the sets are outputs too, so a second look starts from a copy */
static int zero_select(int nfds, fd_set *rd, fd_set *wr, fd_set *ex, const sigset_t *mask, const char *why) {
    REAL(pselect);
    fdset_copy c;
    fdsets_save(&c, rd, wr, ex);
    int r = real_pselect(nfds, rd, wr, ex, &k_zero, mask);
    if (r != 0 || !hold_now(why)) return r;
    fdsets_restore(&c);
    return real_pselect(nfds, rd, wr, ex, &k_zero, mask);
}

static int select_impl(int nfds, fd_set *rd, fd_set *wr, fd_set *ex, struct timeval *tv) {
    if (!tv || (tv->tv_sec == 0 && tv->tv_usec == 0)) {
        REAL(select);
        if (!tv) UNTIMED(real_select(nfds, rd, wr, ex, tv));
        return zero_select(nfds, rd, wr, ex, NULL, "select");
    }
    if (tv->tv_sec < 0 || tv->tv_usec < 0 || tv->tv_usec >= 1000000) {
        errno = EINVAL;
        return -1;
    }
    rv_vtime_ns deadline = deadline_after((uint64_t)tv->tv_sec * 1000000000ULL + (uint64_t)tv->tv_usec * 1000ULL);
    int r = vselect(nfds, rd, wr, ex, deadline, NULL, "select");
    uint64_t left = remaining(deadline);
    tv->tv_sec = (time_t)(left / 1000000000ULL);
    tv->tv_usec = (suseconds_t)((left % 1000000000ULL) / 1000);
    return r;
}

static int pselect_impl(int nfds, fd_set *rd, fd_set *wr, fd_set *ex, const struct timespec *tmo,
                      const sigset_t *mask) {
    if (!tmo || (tmo->tv_sec == 0 && tmo->tv_nsec == 0)) {
        REAL(pselect);
        if (!tmo) UNTIMED(real_pselect(nfds, rd, wr, ex, tmo, mask));
        return zero_select(nfds, rd, wr, ex, mask, "pselect");
    }
    if (tmo->tv_sec < 0 || tmo->tv_nsec < 0 || tmo->tv_nsec >= 1000000000L) {
        errno = EINVAL;
        return -1;
    }
    return vselect(nfds, rd, wr, ex, deadline_after(rv_ts_to_ns(tmo)), mask, "pselect");
}

/* epoll: real waits with nanosecond slices through epoll_pwait2 (Linux 5.11); older kernels get
 * millisecond slices through epoll_pwait. */
static int real_epoll_slice(int ep, struct epoll_event *ev, int max, const struct timespec *ts, const sigset_t *mask) {
    static int no_pwait2;
    if (!no_pwait2) {
        long r = syscall(SYS_epoll_pwait2, ep, ev, max, ts, mask, (size_t)(_NSIG / 8));
        if (r >= 0 || errno != ENOSYS) return (int)r;
        no_pwait2 = 1;
    }
    REAL(epoll_pwait);
    int ms = !ts ? -1 : (int)(ts->tv_sec * 1000 + (ts->tv_nsec + 999999) / 1000000);
    return real_epoll_pwait(ep, ev, max, ms, mask);
}

static int vepoll(int ep, struct epoll_event *ev, int max, rv_vtime_ns deadline, const sigset_t *mask, const char *why) {
    int r = real_epoll_slice(ep, ev, max, &k_zero, mask);
    if (r != 0) return r;
    rv_wait w;
    begin(&w, deadline, why);
    for (;;) {
        uint64_t slice;
        int st = rv_wait_step(&w, &slice);
        if (st > 0) {
            hold_at_timeout(&w);
            r = real_epoll_slice(ep, ev, max, &k_zero, mask);
            break;
        }
        if (st < 0) {
            r = -1;
            errno = EINTR;
            break;
        }
        struct timespec ts;
        rv_ns_to_ts(slice, &ts);
        r = real_epoll_slice(ep, ev, max, &ts, mask);
        if (r != 0) break;
    }
    end(&w, r == 0);
    return r;
}

static int epoll_wait_impl(int ep, struct epoll_event *ev, int max, int timeout_ms) {
    if (timeout_ms <= 0) {
        REAL(epoll_wait);
        if (timeout_ms < 0) UNTIMED(real_epoll_wait(ep, ev, max, timeout_ms));
        ZERO_TIMEOUT(real_epoll_wait(ep, ev, max, 0), "epoll_wait");
    }
    return vepoll(ep, ev, max, deadline_after((uint64_t)timeout_ms * 1000000ULL), NULL, "epoll_wait");
}

static int epoll_pwait_impl(int ep, struct epoll_event *ev, int max, int timeout_ms, const sigset_t *mask) {
    if (timeout_ms <= 0) {
        REAL(epoll_pwait);
        if (timeout_ms < 0) UNTIMED(real_epoll_pwait(ep, ev, max, timeout_ms, mask));
        ZERO_TIMEOUT(real_epoll_pwait(ep, ev, max, 0, mask), "epoll_pwait");
    }
    return vepoll(ep, ev, max, deadline_after((uint64_t)timeout_ms * 1000000ULL), mask, "epoll_pwait");
}

static int epoll_pwait2_impl(int ep, struct epoll_event *ev, int max, const struct timespec *tmo, const sigset_t *mask) {
    if (!tmo) UNTIMED(real_epoll_slice(ep, ev, max, tmo, mask));
    if (tmo->tv_sec == 0 && tmo->tv_nsec == 0) ZERO_TIMEOUT(real_epoll_slice(ep, ev, max, tmo, mask), "epoll_pwait2");
    if (tmo->tv_sec < 0 || tmo->tv_nsec < 0 || tmo->tv_nsec >= 1000000000L) {
        errno = EINVAL;
        return -1;
    }
    return vepoll(ep, ev, max, deadline_after(rv_ts_to_ns(tmo)), mask, "epoll_pwait2");
}

/* ---- the interposers: each wait, then the message check when it found an fd ready ---------- */

// poll: the millisecond timeout is virtual
RV_EXPORT int poll(struct pollfd *fds, nfds_t n, int timeout_ms) {
    return found(poll_impl(fds, n, timeout_ms));
}

// ppoll: the timespec timeout is virtual (the caller's timespec is not modified, as in glibc)
RV_EXPORT int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *tmo, const sigset_t *mask) {
    return found(ppoll_impl(fds, n, tmo, mask));
}

// select: the timeval timeout is virtual; as on Linux, it is updated to the time left
RV_EXPORT int select(int nfds, fd_set *rd, fd_set *wr, fd_set *ex, struct timeval *tv) {
    return found(select_impl(nfds, rd, wr, ex, tv));
}

// pselect: the timespec timeout is virtual
RV_EXPORT int pselect(int nfds, fd_set *rd, fd_set *wr, fd_set *ex, const struct timespec *tmo,
                       const sigset_t *mask) {
    return found(pselect_impl(nfds, rd, wr, ex, tmo, mask));
}

// epoll_wait: the millisecond timeout is virtual (asyncio's default loop waits here)
RV_EXPORT int epoll_wait(int ep, struct epoll_event *ev, int max, int timeout_ms) {
    return found(epoll_wait_impl(ep, ev, max, timeout_ms));
}

// epoll_pwait: as epoll_wait, with a signal mask
RV_EXPORT int epoll_pwait(int ep, struct epoll_event *ev, int max, int timeout_ms, const sigset_t *mask) {
    return found(epoll_pwait_impl(ep, ev, max, timeout_ms, mask));
}

// epoll_pwait2: the timespec timeout is virtual
RV_EXPORT int epoll_pwait2(int ep, struct epoll_event *ev, int max, const struct timespec *tmo, const sigset_t *mask) {
    return found(epoll_pwait2_impl(ep, ev, max, tmo, mask));
}
